"""Mixed precision: bf16 autocast on CPU through tools/train.py --amp."""

import pytest
import torch
from ltr_testing import logged_losses, run_tool

import ltr_plugins  # noqa: F401


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
    losses = logged_losses(tmp_path)
    assert losses and all(torch.isfinite(torch.tensor(losses)))
    cfg = sorted(tmp_path.glob('*/vis_data/config.py'))[-1].read_text()
    assert "type='AutocastOptimWrapper'" in cfg and "dtype='bfloat16'" in cfg


def test_mmcv_cpu_ops_run_under_bf16_autocast():
    """mmcv's float32-only CPU nms / RoIAlign accept bf16 inputs after the compat patch and
    agree with their float32 results; gradients reach the bf16 features. (tools/train.py
    patches them when it trains under autocast; ``import ltr_plugins`` does not.)"""
    from mmcv.ops import RoIAlign, nms

    from ltr_plugins.compat import patch_mmcv_cpu_ops_for_autocast
    assert patch_mmcv_cpu_ops_for_autocast()
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(30, 2, generator=g) * 50
    boxes = torch.cat([xy, xy + 5 + torch.rand(30, 2, generator=g) * 20], 1)
    scores = torch.rand(30, generator=g)
    _, keep32 = nms(boxes, scores, 0.5)
    _, keep16 = nms(boxes.bfloat16(), scores.bfloat16(), 0.5)
    # bf16 rounding may only reorder near-equal scores: the kept sets agree
    assert set(keep16.tolist()) == set(keep32.tolist())

    layer = RoIAlign(output_size=7, spatial_scale=0.5, sampling_ratio=2)
    feats = torch.randn(1, 8, 40, 40, generator=g)
    rois = torch.cat([torch.zeros(30, 1), boxes], 1)
    x = feats.bfloat16().requires_grad_()
    out = layer(x, rois.bfloat16())
    assert out.dtype == torch.bfloat16
    # = the float32 op on the same (bf16-rounded) inputs, rounded to bf16
    ref = layer(x.detach().float(), rois.bfloat16().float())
    assert torch.equal(out, ref.bfloat16())
    out.float().sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.bfloat16 and x.grad.abs().sum() > 0


def test_train_detection_with_amp_on_cpu(tiny_data, tmp_path):
    run_tool(['tools/train.py', 'tests/configs/mask_rcnn_tiny.py', '--work-dir', tmp_path,
              '--amp', '--cfg-options', 'train_cfg.max_epochs=1'])
    losses = logged_losses(tmp_path)
    assert losses and all(torch.isfinite(torch.tensor(losses)))
    cfg = sorted(tmp_path.glob('*/vis_data/config.py'))[-1].read_text()
    assert "type='AutocastOptimWrapper'" in cfg
