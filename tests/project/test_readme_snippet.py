"""The README's "Use it from your own project" config works as printed: read out of README.md,
loaded with mmengine's ``Config`` (the ``mmdet::`` base resolved, ``custom_imports`` importing
ltr_plugins) and built through mmdet's registry, it is mmdet's LVIS v1 Mask R-CNN with our IIF
box head on the 1203 LVIS classes and the ``raw`` IIF weights of the LVIS v1 training counts."""
import csv
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ltr_testing import REPO

SECTION = '## Use it from your own project'
LVIS_V1_TRAIN_IMAGES = 100_170  # images of lvis_v1_train.json (not the sum of image_count)


def readme_config() -> str:
    """The one python block of the README section ``SECTION``, verbatim."""
    text = (REPO / 'README.md').read_text(encoding='utf-8')
    assert SECTION in text, f'README.md lost its "{SECTION}" section'
    section = text.split(SECTION, 1)[1].split('\n## ', 1)[0]
    blocks = re.findall(r'```python\n(.*?)```', section, flags=re.S)
    assert len(blocks) == 1, f'expected one python block under "{SECTION}", got {len(blocks)}'
    return blocks[0]


def lvis_v1_raw_weights() -> list:
    """ln(N / n_c) per LVIS v1 category in id order, from the packaged category table."""
    path = REPO / 'ltr_plugins' / 'data' / 'lvis_v1_categories.csv'
    with open(path, newline='', encoding='utf-8') as f:
        rows = sorted(csv.DictReader(f), key=lambda row: int(row['id']))
    return [math.log(LVIS_V1_TRAIN_IMAGES / int(row['image_count'])) for row in rows]


def test_readme_snippet_is_a_plain_mmdet_config():
    code = readme_config()
    assert "_base_ = 'mmdet::lvis/" in code
    assert "custom_imports = dict(imports=['ltr_plugins'], allow_failed_imports=False)" in code
    assert not re.search(r'^\s*(import|from)\s', code, flags=re.M), \
        'the snippet must not need Python imports: custom_imports loads the plugin'


# Runs in a fresh interpreter, so that only the config's custom_imports can register ltr_plugins.
_BUILD = """
import sys
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
assert 'ltr_plugins' not in sys.modules
cfg = Config.fromfile(sys.argv[1])
assert 'ltr_plugins' in sys.modules, 'custom_imports did not import ltr_plugins'
with DefaultScope.overwrite_default_scope(cfg.default_scope):
    model = MODELS.build(cfg.model)
head = model.roi_head.bbox_head.eval()
# the evaluators keep the base's annotation file and metrics, with our numpy-2 LVIS metric
from mmdet.registry import HOOKS, METRICS
for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
    assert evaluator.type == 'LongTailLVISMetric', evaluator
    assert evaluator.ann_file.endswith('annotations/lvis_v1_val.json'), evaluator
    assert set(evaluator.metric) == {'bbox', 'segm'}, evaluator
assert METRICS.get(cfg.val_evaluator.type).__module__ == 'ltr_plugins.mmdet.metrics'
assert [HOOKS.get(h.type).__name__ for h in cfg.custom_hooks] == ['CheckpointFixesHook']
torch.manual_seed(0)
rois = torch.randn(5, head.in_channels, *head.roi_feat_size)
with torch.no_grad():
    adjusted, deltas = head(rois)
    plain, plain_deltas = Shared2FCBBoxHead.forward(head, rois)
torch.save(dict(scope=cfg.default_scope, model=type(model).__name__,
                head=type(head).__module__ + '.' + type(head).__qualname__,
                num_classes=head.num_classes, mask_classes=model.roi_head.mask_head.num_classes,
                weights=head.iif.weights, adjusted=adjusted, plain=plain, deltas=deltas,
                plain_deltas=plain_deltas), sys.argv[2])
"""


@pytest.fixture(scope='module')
def built(tmp_path_factory) -> dict:
    """What the README snippet builds (mmdet scope, fresh interpreter): model and head types,
    class counts, the head's IIF weights and its outputs next to the stock head's."""
    mmdet = pytest.importorskip('mmdet')
    import torch
    name = re.search(r"mmdet::lvis/([\w.-]+\.py)", readme_config()).group(1)
    base = Path(mmdet.__file__).parent / '.mim' / 'configs' / 'lvis' / name
    assert base.is_file(), f'mmdet {mmdet.__version__} has no configs/lvis/{name}'

    work = tmp_path_factory.mktemp('your_project')
    cfg_file, out = work / 'my_config.py', work / 'built.pt'
    cfg_file.write_text(readme_config(), encoding='utf-8')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONSTARTUP'}
    proc = subprocess.run([sys.executable, '-c', _BUILD, str(cfg_file), str(out)], cwd=work,
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return torch.load(out)


def test_readme_snippet_builds_our_iif_head(built):
    import torch
    assert built['scope'] == 'mmdet' and built['model'] == 'MaskRCNN'
    assert built['head'] == 'ltr_plugins.mmdet.heads.IIFShared2FCBBoxHead', built['head']
    assert built['num_classes'] == 1203 and built['mask_classes'] == 1203

    # IIF weights: raw ln(N / n_c) of the LVIS v1 counts (range known: 3.93 ... 11.51), and
    # exactly 1.0 for mmdet's trailing background logit
    weights = built['weights']
    assert weights.shape == (1204, )
    expected = torch.tensor(lvis_v1_raw_weights() + [1.0], dtype=torch.float64)
    torch.testing.assert_close(weights.double(), expected, rtol=1e-6, atol=0)
    assert round(weights[:-1].min().item(), 2) == 3.93
    assert round(weights[:-1].max().item(), 2) == 11.51

    # the forward applies them: IIF logits = weights * the stock head's logits, boxes unchanged
    torch.testing.assert_close(built['adjusted'], built['plain'] * weights)
    torch.testing.assert_close(built['deltas'], built['plain_deltas'])
