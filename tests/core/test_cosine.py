"""Cosine classifier / conv against the direct formula, invariances and low-precision safety."""
import math

import pytest
import torch

from ltr_plugins.core import CosineClassifier, CosineConv2d, cosine_logits


def _direct(x, w, s, b=None, squash=False):
    """y = s * (x/|x|) . (w/|w|)^T (+ b), in float64, written out explicitly."""
    x, w = x.double(), w.double()
    xn = x.norm(dim=-1, keepdim=True)
    xu = x / xn
    if squash:
        xu = xu * xn / (1 + xn)
    y = s * xu @ (w / w.norm(dim=-1, keepdim=True)).T
    return y if b is None else y + b.double()


def _close(y, ref):
    """float32 result vs float64 reference, at float32 accuracy."""
    torch.testing.assert_close(y.double(), ref, rtol=1e-5, atol=1e-5)


def test_cosine_logits_match_formula():
    torch.manual_seed(0)
    x, w = torch.randn(6, 5), torch.randn(4, 5)
    _close(cosine_logits(x, w, 7.5), _direct(x, w, 7.5))
    # all outputs are s * cos, so bounded by s
    assert cosine_logits(x, w, 7.5).abs().max() <= 7.5 + 1e-5


def test_classifier_matches_formula_with_bias_and_batch_dims():
    torch.manual_seed(0)
    m = CosineClassifier(5, 3, scale=10.0, bias=True)
    with torch.no_grad():
        m.bias.copy_(torch.tensor([0.5, -1.0, 2.0]))
    x = torch.randn(2, 4, 5)
    _close(m(x), _direct(x, m.weight.detach(), 10.0, m.bias.detach()))
    assert m(x).shape == (2, 4, 3)
    assert 'scale=10' in repr(m) and 'bias=True' in repr(m)


def test_squash_matches_formula():
    torch.manual_seed(0)
    m = CosineClassifier(5, 3, scale=16.0, squash=True)
    x = torch.randn(6, 5) * torch.tensor([[0.1], [1.0], [3.0], [10.0], [0.01], [100.0]])
    _close(m(x), _direct(x, m.weight.detach(), 16.0, squash=True))
    # squashing keeps magnitude information: a short vector gives smaller logits
    plain = CosineClassifier(5, 3, scale=16.0)
    plain.load_state_dict(m.state_dict())
    assert (m(x[:1]).abs() < plain(x[:1]).abs()).all()


def test_invariant_to_positive_rescaling():
    torch.manual_seed(0)
    m = CosineClassifier(8, 4, scale=16.0)
    x = torch.randn(3, 8)
    ref = m(x)
    torch.testing.assert_close(m(x * torch.tensor([[0.01], [5.0], [300.0]])), ref)
    with torch.no_grad():
        m.weight.mul_(torch.tensor([[0.1], [2.0], [50.0], [1e-3]]))
    torch.testing.assert_close(m(x), ref)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize('squash', [False, True])
def test_zero_input_and_zero_weight_rows_are_finite(dtype, squash):
    m = CosineClassifier(4, 3, scale=16.0, squash=squash)
    with torch.no_grad():
        m.weight[1].zero_()
    x = torch.zeros(2, 4, dtype=dtype)
    x[1] = torch.tensor([1.0, -2.0, 0.5, 3.0])
    x.requires_grad_(True)
    y = m(x)
    assert y.dtype == dtype
    assert torch.isfinite(y).all()
    assert (y[0] == 0).all()          # zero input -> zero logits
    assert (y[:, 1] == 0).all()       # zero weight row -> zero logits
    y.float().sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(m.weight.grad).all()
    assert (x.grad[0] == 0).all()


def test_fp16_large_inputs_do_not_overflow():
    # |x|^2 of these fp16 vectors overflows fp16 (max 65504); norms are taken in float32
    x = torch.full((2, 64), 200.0, dtype=torch.float16)
    w = torch.randn(3, 64)
    y = cosine_logits(x, w, 16.0)
    assert y.dtype == torch.float16 and torch.isfinite(y).all()
    torch.testing.assert_close(y.double(), _direct(x.float(), w, 16.0), atol=2e-2, rtol=1e-2)


def test_learnable_scale_stays_positive():
    m = CosineClassifier(4, 3, scale=2.0, learnable_scale=True)
    assert isinstance(m.scale, torch.Tensor) and m.scale.item() == pytest.approx(2.0)
    assert any(n == 'log_scale' for n, _ in m.named_parameters())
    opt = torch.optim.SGD([m.log_scale], lr=1.0)
    torch.manual_seed(0)
    x = torch.randn(5, 4)
    m(x).abs().sum().backward()   # minimising this pushes the scale towards 0
    # the same SGD step on s itself (d/ds = sum |cos|) would make s negative
    assert 1.0 * (_direct(x, m.weight.detach(), 1.0).abs().sum().item()) > 2.0
    opt.step()
    assert 0 < m.scale.item() < 2.0
    _close(m(x), _direct(x, m.weight.detach(), m.scale.item()))
    with pytest.raises(ValueError, match='positive'):
        CosineClassifier(4, 3, scale=0.0)


def test_weight_init_options():
    torch.manual_seed(0)
    m = CosineClassifier(400, 50)
    assert m.weight.abs().max() <= 1 / math.sqrt(400)
    n = CosineClassifier(400, 50, init_std=0.01)
    assert n.weight.std().item() == pytest.approx(0.01, rel=0.05)


@pytest.mark.parametrize('squash', [False, True])
def test_conv_equals_per_pixel_classifier(squash):
    torch.manual_seed(0)
    conv = CosineConv2d(6, 4, scale=20.0, bias=True, squash=squash)
    with torch.no_grad():
        conv.bias.copy_(torch.randn(4))
    lin = CosineClassifier(6, 4, scale=20.0, bias=True, squash=squash)
    with torch.no_grad():
        lin.weight.copy_(conv.weight.view(4, 6))
        lin.bias.copy_(conv.bias)
    x = torch.randn(2, 6, 5, 3)
    x[0, :, 1, 1] = 0  # a zero pixel
    y = conv(x)
    assert y.shape == (2, 4, 5, 3)
    ref = lin(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    torch.testing.assert_close(y, ref)
    direct = _direct(x.permute(0, 2, 3, 1).reshape(-1, 6), conv.weight.detach().view(4, 6),
                     20.0, conv.bias.detach(), squash).view(2, 5, 3, 4).permute(0, 3, 1, 2)
    _close(y[1], direct[1])
    assert torch.isfinite(y).all() and (y[0, :, 1, 1] == conv.bias).all()


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_conv_low_precision_zero_input(dtype):
    conv = CosineConv2d(3, 2, kernel_size=3, padding=1, learnable_scale=True)
    x = torch.zeros(1, 3, 4, 4, dtype=dtype, requires_grad=True)
    y = conv(x)
    assert y.dtype == dtype and y.shape == (1, 2, 4, 4) and torch.isfinite(y).all()
    y.float().sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(conv.log_scale.grad).all()


def test_conv_filters_normalised_over_whole_kernel():
    torch.manual_seed(0)
    conv = CosineConv2d(2, 1, kernel_size=3, bias=False, scale=1.0)
    x = torch.randn(1, 2, 3, 3)
    # reference: per-pixel unit input, unit filter over (C, kh, kw), one valid position
    xu = x / x.norm(dim=1, keepdim=True)
    wu = conv.weight / conv.weight.norm()
    torch.testing.assert_close(conv(x).flatten(), (xu * wu).sum().reshape(1))
