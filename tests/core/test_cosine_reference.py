"""The cosine classifiers of the configs that follow a reference: the IIF reference's CosNorm
classifier (squashing, fixed s = 16 / learned s = p² from p = 5) and mmdet's ``NormedLinear``
(learned bias, normal(0, 0.01) weights, bias 0) in the LVIS configs. Values are computed by
hand from the formulas of the reference code (kostas1515/iif classification/resnet_cifar.py
``CosNorm_Classifier``; mmdet ``NormedLinear``)."""
import pytest
import torch
from ltr_testing import REPO
from mmengine.config import Config
from mmengine.registry import DefaultScope

import ltr_plugins  # noqa: F401
from ltr_plugins.core import CosineClassifier


def _reference_cosnorm(x, weight, scale):
    """CosNorm_Classifier.forward of the IIF reference, written out: ex = |x|/(1+|x|) * x/|x|,
    ew = w/|w|, logits = scale * ex @ ew^T (float64)."""
    x, weight = x.double(), weight.double()
    norm_x = torch.norm(x, 2, 1, keepdim=True)
    ex = (norm_x / (1 + norm_x)) * (x / norm_x)
    ew = weight / torch.norm(weight, 2, 1, keepdim=True)
    return torch.mm(scale * ex, ew.t())


def test_squashed_cosine_logits_by_hand():
    torch.manual_seed(0)
    m = CosineClassifier(5, 3, scale=16.0, squash=True)
    x = torch.randn(4, 5) * torch.tensor([[0.1], [1.0], [3.0], [30.0]])  # |x| from ~0.2 to ~70
    out = m(x).double()
    # one entry fully by hand: s * |x| / (1 + |x|) * cos(x, w)
    nx, nw = x[2].double().norm(), m.weight[1].detach().double().norm()
    cos = (x[2].double() @ m.weight[1].detach().double()) / (nx * nw)
    assert out[2, 1].item() == pytest.approx((16 * nx / (1 + nx) * cos).item(), rel=1e-5)
    torch.testing.assert_close(out, _reference_cosnorm(x, m.weight.detach(), 16.0),
                               rtol=1e-5, atol=1e-6)
    # squashing matters: the plain cosine differs, most for small |x|
    plain = CosineClassifier(5, 3, scale=16.0)
    plain.weight.data.copy_(m.weight.data)
    assert not torch.allclose(plain(x), m(x), rtol=1e-3)


def test_learned_square_scale_as_the_reference():
    torch.manual_seed(0)
    m = CosineClassifier(6, 4, scale=25.0, learnable_scale=True, scale_param='sqrt', squash=True)
    params = dict(m.named_parameters())
    assert set(params) == {'weight', 'scale_sqrt'}     # no bias, as CosNorm_Classifier
    assert params['scale_sqrt'].item() == pytest.approx(5.0)   # the reference's Parameter(5.0)
    assert m.scale.item() == pytest.approx(25.0)
    x = torch.randn(3, 6)
    torch.testing.assert_close(m(x).double(), _reference_cosnorm(x, m.weight.detach(), 25.0),
                               rtol=1e-5, atol=1e-6)
    # gradient: d(sum y)/dp = 2 p * sum(ex @ ew^T)
    m(x).sum().backward()
    expected = 2 * 5.0 * _reference_cosnorm(x, m.weight.detach(), 1.0).sum().item()
    assert m.scale_sqrt.grad is not None
    assert m.scale_sqrt.grad.item() == pytest.approx(expected, rel=1e-4)
    # one SGD step moves p, and s = p² follows
    with torch.no_grad():
        m.scale_sqrt -= 0.1
    assert m.scale.item() == pytest.approx(4.9 ** 2, rel=1e-6)
    with pytest.raises(ValueError, match='scale_param'):
        CosineClassifier(6, 4, learnable_scale=True, scale_param='exp')


def _head(path):
    cfg = Config.fromfile(str(REPO / path))
    from mmengine.registry import MODELS
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        if cfg.default_scope == 'mmdet':
            # a 1 x 1 RoI only shrinks the first shared FC (12544 -> 256 inputs, for speed);
            # fc_cls / fc_reg and every init setting stay the config's
            cfg.model.roi_head.bbox_head.roi_feat_size = 1
            return MODELS.build(cfg.model.roi_head.bbox_head)
        return MODELS.build(cfg.model.head)


def test_imagenet_and_places_cosine_iif_configs_follow_the_reference():
    inet = _head('configs/iif/resnet50_cosine-s16_iif-smooth_4xb128-90e_imagenet-lt.py').fc
    assert inet.squash and not inet.learnable_scale and inet.scale == 16.0 and inet.bias is None
    places = _head('configs/iif/resnet152_cosine-s16_iif-smooth_4xb128-30e_places-lt.py').fc
    assert places.squash and places.learnable_scale and places.scale_param == 'sqrt'
    assert places.scale_sqrt.item() == pytest.approx(5.0) and places.bias is None


LVIS_COSINE = [
    'configs/cosine/mask-rcnn_r50_fpn_cosine-t20_sample1e-3_1x_lvis-v1.py',
    'configs/iif/mask-rcnn_r50_fpn_iif-raw_cosine-t8_1x_lvis-v1.py',
    'configs/iif/'
    'mask-rcnn_r50_fpn_iif-base10-obj_cosine-t8_cosine-mask-t20_sample1e-3_2x_lvis-v1.py',
    'configs/camc/mask-rcnn_r50_fpn_camc_cosine-t20_sample1e-3_1x_lvis-v1.py',
    'configs/camc/mask-rcnn_r50_fpn_camc_iif-raw_cosine-t8_1x_lvis-v1.py',
]


@pytest.mark.parametrize('path', LVIS_COSINE)
def test_lvis_cosine_classifier_is_normed_linear(path):
    """mmdet's NormedLinear is an nn.Linear (bias=True) initialised normal(0, 0.01) / bias 0 by
    the bbox head's default init_cfg; after init the class rows must differ (a constant init
    makes every cosine row identical: every class gets the same logit)."""
    torch.manual_seed(0)
    head = _head(path)
    head.init_weights()
    fc = head.fc_cls
    assert isinstance(fc, CosineClassifier)
    assert fc.bias is not None and fc.bias.shape == (1204,)
    assert torch.count_nonzero(fc.bias) == 0
    assert fc.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert fc.weight.mean().abs().item() < 1e-3
    rows = torch.nn.functional.normalize(fc.weight.detach(), dim=1)
    assert (rows @ rows.t()).fill_diagonal_(0).abs().max().item() < 0.5   # rows not identical
    # the regression layer keeps mmdet's Normal(0.001) default as well
    assert head.fc_reg.weight.std().item() == pytest.approx(0.001, rel=0.05)
