"""VL-LTR settings checked against the reference (ChangyaoTian/VL-LTR): stage 1's learned
logit scale is not capped (models/pretrain.py), the LGR head's init is LGR._init_weights
(models/finetune.py: Linear trunc_normal std 0.02, bias 0; LayerNorm (1, 0); W_q = W_k = I) and
the slow attention lr covers W_q, W_k and their LayerNorms (optim_factory.py, text_lr)."""
import json
import math

import pytest
import torch
from ltr_testing import REPO
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from torch import nn

import ltr_plugins  # noqa: F401
from ltr_plugins.core import LanguageGuidedClassifier
from ltr_plugins.core.vlltr import CLASS_TEXTS_FORMAT


def _pretrain_head(tmp_path, **kwargs):
    from mmpretrain.registry import MODELS
    names = ['a', 'b', 'c']
    texts = tmp_path / 'texts.json'
    texts.write_text(json.dumps(dict(format=CLASS_TEXTS_FORMAT, templates=['a {}.'],
                                     classes={n: {} for n in names})))
    return MODELS.build(dict(type='VLLTRPretrainHead', num_classes=3, in_channels=8,
                             embed_dim=6, class_texts=str(texts), classes=names,
                             text_encoder=dict(type='random', dim=10, width=8), **kwargs))


def test_stage1_logit_scale_is_not_capped_by_default(tmp_path):
    head = _pretrain_head(tmp_path)
    assert head.logit_scale.item() == pytest.approx(math.log(1 / 0.07))
    with torch.no_grad():
        head.logit_scale.fill_(5.0)          # exp(5) = 148 > CLIP's cap of 100
    assert head.scale().item() == pytest.approx(5.0)
    head.scale().backward()
    assert head.logit_scale.grad.item() == pytest.approx(1.0)   # no clamp: gradient passes
    capped = _pretrain_head(tmp_path, max_logit_scale=math.log(100))
    with torch.no_grad():
        capped.logit_scale.fill_(5.0)
    assert capped.scale().item() == pytest.approx(math.log(100))


def test_lgr_init_as_the_reference():
    torch.manual_seed(0)
    lgr = LanguageGuidedClassifier(torch.randn(50, 3, 64), logit_scale=2.0, hidden_ratio=4)
    first, second = lgr.visual[0], lgr.visual[2]
    for layer in (first, second):
        w = layer.weight.detach()
        assert w.std().item() == pytest.approx(0.02, rel=0.05)
        assert w.mean().abs().item() < 2e-3
        assert torch.count_nonzero(layer.bias) == 0
    # not PyTorch's default nn.Linear init (uniform +-1/sqrt(fan_in) = +-0.125 for 64 inputs)
    assert first.weight.abs().max().item() < 0.125
    for norm in (lgr.query_norm, lgr.key_norm):
        assert torch.equal(norm.weight, torch.ones(64)) and torch.count_nonzero(norm.bias) == 0
    assert torch.equal(lgr.query.weight, torch.eye(64)) and torch.equal(lgr.key.weight,
                                                                        torch.eye(64))


@pytest.mark.parametrize('path', [
    'configs/vlltr/resnet50_vlltr-lgr-m64_4xb128-30e_imagenet-lt.py',
    'configs/vlltr/resnet152_vlltr-lgr-m64_4xb128-10e_places-lt.py',
    'configs/vlltr/demo/convnet_vlltr-lgr-m8_1xb64-15e_demo-cls.py',
])
def test_lgr_slow_lr_covers_the_attention_layernorms(path):
    cfg = Config.fromfile(str(REPO / path))
    model = nn.Module()
    model.head = nn.Module()
    model.head.lgr = LanguageGuidedClassifier(torch.randn(4, 2, 8), logit_scale=2.0)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    base = cfg.optim_wrapper.optimizer.lr
    lr_of = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            lr_of[id(p)] = group['lr']
    for name, p in model.named_parameters():
        slow = any(k in name for k in ('.query.', '.key.', '.query_norm.', '.key_norm.'))
        assert lr_of[id(p)] == pytest.approx(base * (0.01 if slow else 1.0)), name
