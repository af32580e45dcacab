"""Fixtures shared by every test folder. Plain helpers are in ``ltr_testing.py``."""
from pathlib import Path

import pytest
from ltr_testing import REPO, TINY_ROOT, run_tool


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """In-process Runners set mmengine's global default scope (e.g. 'mmpretrain'), which then
    redirects every later registry build: drop the scopes a test created, so tests do not depend
    on their order."""
    try:
        from mmengine.registry import DefaultScope
    except ImportError:
        yield
        return
    before = list(DefaultScope._instance_dict)
    yield
    for name in list(DefaultScope._instance_dict):
        if name not in before:
            del DefaultScope._instance_dict[name]


@pytest.fixture(scope='session')
def tiny_data() -> Path:
    """The `tiny` embedded preset under data/tiny (idempotent; seconds)."""
    from ltr_plugins.datasets.generator import generate
    generate(TINY_ROOT, preset='tiny', seed=0)
    return TINY_ROOT


@pytest.fixture(scope='session')
def demo_data() -> Path:
    """The `demo` embedded preset under data/demo (idempotent; ~10 s the first time)."""
    from ltr_plugins.datasets.generator import generate
    generate(REPO / 'data' / 'demo', preset='demo', seed=0)
    return REPO / 'data' / 'demo'


@pytest.fixture(scope='session')
def vlltr_stage1(tiny_data, tmp_path_factory):
    """Tiny VL-LTR stage-1 run (mmpretrain, random text tower) and its AnSS anchors (M = 4):
    (config, checkpoint, anchor file); the mmpretrain and mmdet LGR runs start from it."""
    work = tmp_path_factory.mktemp('vlltr_stage1')
    cfg = 'tests/configs/convnet_vlltr_pretrain_tiny.py'
    run_tool(['tools/train.py', cfg, '--work-dir', work, '--cfg-options',
              'train_cfg.max_epochs=1', 'train_cfg.val_interval=1'])
    ckpt = work / 'epoch_1.pth'
    anchors = work / 'anchors.safetensors'
    run_tool(['tools/vlltr/select_anchor_sentences.py', cfg, ckpt, '--out', anchors,
              '--num-anchors', '4'])
    return cfg, ckpt, anchors
