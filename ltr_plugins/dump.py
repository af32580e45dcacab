"""``tools/test.py --out`` (prediction / metrics files) and remote checkpoints, as in mmdet's and
mmpretrain's own ``tools/test.py``.

- ``--out FILE.pkl``: every test image's prediction is pickled by a dump metric appended to the
  test evaluator: mmdet's ``DumpDetResults`` (masks as RLE, ground truth removed; mmdet 3.3
  ``tools/test.py`` lines 137-142) for ``default_scope='mmdet'``, mmengine's ``DumpResults``
  for mmpretrain (mmpretrain 1.2 ``tools/test.py`` lines 181-183). ``--out-item metrics``
  (mmpretrain's option) writes the metrics dict instead (``mmengine.dump``; the format follows
  the suffix: ``.pkl``, ``.json``, ``.yaml``).
- Checkpoints given as ``http://`` / ``https://`` URLs (and mmengine's other remote schemes)
  are loaded by mmengine's ``CheckpointLoader`` (downloaded once into
  ``$TORCH_HOME/hub/checkpoints``); only a local path is checked for existence up front.
"""
from __future__ import annotations

import os.path as osp
import re
from typing import Any, Dict, Optional

#: mmengine's remote checkpoint schemes (``mmengine/runner/checkpoint.py``: http(s), pavi,
#: s3 / petrel, modelzoo / torchvision / open-mmlab / mmcls model zoos; 0.10.7 lines 351-511)
_REMOTE = re.compile(r'^(https?://|pavi://|(\S+:)?s3://|(\S+:)?petrel://|modelzoo://|'
                     r'torchvision://|open-mmlab://|openmmlab://|mmcls://)')

OUT_ITEMS = ('pred', 'metrics')
PICKLE_SUFFIXES = ('.pkl', '.pickle')


def is_remote_checkpoint(checkpoint: str) -> bool:
    """Whether ``checkpoint`` names a file mmengine downloads (a URL or a model-zoo name)."""
    return bool(_REMOTE.match(str(checkpoint)))


def check_checkpoint_path(checkpoint: str) -> None:
    """Raise ``FileNotFoundError`` for a local checkpoint path that does not exist; URLs and
    mmengine's other remote schemes are left to its ``CheckpointLoader``."""
    if not is_remote_checkpoint(checkpoint) and not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist (a local file or an '
                                'http(s):// URL is expected)')


def check_out_args(out: Optional[str], out_item: Optional[str]) -> None:
    """Validate ``--out`` / ``--out-item`` before anything is built (clear errors).

    Raises:
        ValueError: ``--out-item`` without ``--out``; an unknown item; predictions to a file
            that is not ``.pkl`` / ``.pickle``.
    """
    if out is None:
        if out_item is not None:
            raise ValueError('--out-item needs --out FILE (the file to write)')
        return
    if out_item not in (None, ) + OUT_ITEMS:
        raise ValueError(f'--out-item must be one of {OUT_ITEMS}, got {out_item!r}')
    if out_item in (None, 'pred') and not str(out).endswith(PICKLE_SUFFIXES):
        raise ValueError(f'--out {out}: predictions are dumped as a pickle; the file name must '
                         f'end with {" or ".join(PICKLE_SUFFIXES)}')


def add_dump_results(runner, out: str) -> Any:
    """Append the metric that pickles every test prediction to ``out`` to the runner's test
    evaluator (after the real metrics, so they see the predictions first). Returns it.

    Each pickled item is one test image's data sample as a dict: mmdet ``img_id``,
    ``img_path``, ``ori_shape``, ``pred_instances`` (``bboxes`` ``(N, 4)`` xyxy, ``scores``
    ``(N,)``, ``labels`` ``(N,)``, ``masks`` as N RLE dicts); mmpretrain ``pred_score``
    ``(C,)``, ``pred_label`` ``(1,)``, ``gt_label``, ``img_path``.
    """
    scope = runner.cfg.get('default_scope')
    if scope == 'mmdet':
        from mmdet.evaluation import DumpDetResults as Dump
    else:
        from mmengine.evaluator import DumpResults as Dump
    metric = Dump(out_file_path=out)
    runner.test_evaluator.metrics.append(metric)
    return metric


def dump_metrics(metrics: Dict[str, Any], out: str) -> None:
    """Write the metrics dict to ``out`` (``--out-item metrics``; format from the suffix)."""
    import mmengine
    mmengine.dump(metrics, out)
