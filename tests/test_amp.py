"""Mixed precision: bf16 autocast on CPU through tools/train.py --amp."""
import json

import pytest
import torch

import ltr_plugins  # noqa: F401
from conftest import run_tool


def test_autocast_wrapper_runs_forward_in_bf16():
    from mmengine.optim import OptimWrapper  # noqa: F401
    from ltr_plugins.optim import AutocastOptimWrapper
    model = torch.nn.Linear(4, 3)
    wrapper = AutocastOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16
    assert model(torch.randn(2, 4)).dtype == torch.float32  # only inside the context
    with pytest.raises(ValueError, match="'bfloat16' or 'float16'"):
        AutocastOptimWrapper(dtype='int8', optimizer=torch.optim.SGD(model.parameters(), 0.1))


def test_train_with_amp_on_cpu(tiny_data, tmp_path):
    run_tool(['tools/train.py', 'tests/configs/convnet_tiny.py', '--work-dir', tmp_path,
              '--amp', '--cfg-options', 'train_cfg.max_epochs=1'])
    log = sorted(tmp_path.glob('*/vis_data/scalars.json'))[-1]
    losses = [json.loads(ln)['loss'] for ln in log.read_text().splitlines() if 'loss' in ln]
    assert losses and all(torch.isfinite(torch.tensor(losses)))
    cfg = sorted(tmp_path.glob('*/vis_data/config.py'))[-1].read_text()
    assert "type='AutocastOptimWrapper'" in cfg and "dtype='bfloat16'" in cfg
