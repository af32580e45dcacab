"""Publish a training checkpoint for inference (``tools/publish_model.py``), as mmdet's
``tools/model_converters/publish_model.py``: keep ``meta`` (with ``dataset_meta``: the class
names the Inferencers show) and ``state_dict``, drop the training state, append the first 8
hex digits of the file's sha256 to its name.

Why this package has its own: since torch 2.6 ``torch.load`` defaults to ``weights_only=True``,
and a checkpoint written by mmengine's runner holds the message hub's ``HistoryBuffer`` objects
(and optimizer / scheduler state), so ``mmdet.apis.DetInferencer``,
``mmpretrain.apis.ImageClassificationInferencer`` and mmdet's own publish tool (all through a
bare ``torch.load``) refuse it. The training checkpoint is read here with the allow-listed
unpickler of :func:`ltr_plugins.compat.safe_torch_load` (no arbitrary code), and the published
file is checked to load with ``torch.load(..., weights_only=True)``.
"""
from __future__ import annotations

import hashlib
import io
import logging
from typing import Sequence

import torch

SAVE_KEYS = ('meta', 'state_dict')


def publish_checkpoint(in_file: str, out_file: str, save_keys: Sequence[str] = SAVE_KEYS,
                       add_hash: bool = True) -> str:
    """Write the inference part of ``in_file`` to ``out_file`` and return the written path.

    Args:
        in_file: a checkpoint of ``tools/train.py`` (or any mmengine runner).
        out_file: where to write it; with ``add_hash`` the name becomes
            ``<out_file without .pth>-<sha256[:8]>.pth`` (mmdet's naming).
        save_keys: top-level keys kept (mmdet's default: ``meta``, ``state_dict``).
        add_hash: append the hash to the file name.

    Raises:
        KeyError: ``in_file`` has no ``state_dict``.
        ValueError: what is kept does not load with ``weights_only=True`` (the message names
            the offending object); nothing is left at ``out_file`` then.
    """
    from .compat import safe_torch_load
    from .fileio import atomic_write_bytes
    checkpoint = safe_torch_load(in_file, map_location='cpu')
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        raise KeyError(f'{in_file}: no "state_dict" in the checkpoint (keys: '
                       f'{sorted(checkpoint) if isinstance(checkpoint, dict) else "none"})')
    kept = {k: v for k, v in checkpoint.items() if k in save_keys}
    dataset_meta = kept.get('meta', {}).get('dataset_meta')
    if not dataset_meta or 'classes' not in dataset_meta:
        from mmengine.logging import print_log
        print_log(f'{in_file}: meta.dataset_meta.classes is missing; inferencers will fall '
                  'back to their default (COCO / ImageNet) class names', logger='current',
                  level=logging.WARNING)
    buffer = io.BytesIO()
    torch.save(kept, buffer)
    data = buffer.getvalue()
    try:
        torch.load(io.BytesIO(data), map_location='cpu', weights_only=True)
    except Exception as e:  # noqa: BLE001  (torch raises UnpicklingError / RuntimeError)
        lines = str(e).splitlines()
        reason = next((line.strip() for line in lines if 'Unsupported global' in line),
                      lines[-1] if lines else repr(e))
        raise ValueError(f'{in_file}: the kept keys {list(kept)} do not load with '
                         f'torch.load(weights_only=True): {reason}') from e
    if add_hash:
        stem = out_file[:-4] if out_file.endswith('.pth') else out_file
        out_file = f'{stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth'
    atomic_write_bytes(out_file, data)
    return out_file
