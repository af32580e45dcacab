"""Distributed helpers: single-process behaviour and a real 2-process gloo run."""
import pytest
import torch
from ltr_testing import run_gloo

from ltr_plugins.core.distributed import all_gather_with_grad, all_reduce_class_sums


def test_single_process_is_identity():
    sums, counts = torch.randn(3, 4), torch.tensor([1., 0., 2.])
    s, c = all_reduce_class_sums(sums, counts)
    assert torch.equal(s, sums) and torch.equal(c, counts)
    x = torch.randn(2, 3, requires_grad=True)
    assert all_gather_with_grad(x) is x
    with pytest.raises(ValueError, match='classes'):
        all_reduce_class_sums(torch.zeros(3, 4), torch.zeros(2))


def _worker(rank):
    # rank r holds samples of class 0 (r + 1 of them, value r) and class 2 (value 10)
    feats = torch.full((rank + 1, 2), float(rank))
    sums = torch.zeros(3, 2)
    sums[0] = feats.sum(0)
    sums[2] = 10.0
    counts = torch.tensor([rank + 1.0, 0.0, 1.0])
    s, c = all_reduce_class_sums(sums, counts)
    x = torch.full((2, 1), float(rank + 1), requires_grad=True)
    g = all_gather_with_grad(x)
    # loss on each rank: sum(weights * gathered); global gradient for x = sum over ranks
    w = torch.tensor([[1.], [2.], [3.], [4.]]) * (rank + 1)
    (w * g).sum().backward()
    # under a loss scaler (GradScaler multiplies the loss by S) the custom backward must
    # pass the scale on: x's gradient is S times the plain one
    x_scaled = x.detach().clone().requires_grad_()
    torch.amp.GradScaler('cpu', init_scale=65536.0).scale(
        (w * all_gather_with_grad(x_scaled)).sum()).backward()
    return (s, c, g.detach(), x.grad, x_scaled.grad)


def test_two_process_gloo():
    results = run_gloo(_worker)
    for rank in range(2):
        s, c, g, grad, scaled_grad = results[rank]
        # class 0: rank0 one sample of 0, rank1 two samples of 1 -> sum 2, count 3, mean 2/3
        assert torch.allclose(s[0], torch.tensor([2., 2.]))
        assert torch.equal(c, torch.tensor([3., 0., 2.]))
        assert torch.allclose(s[0] / c[0], torch.tensor([2 / 3, 2 / 3]))  # not mean of means
        assert torch.equal(g[:, 0], torch.tensor([1., 1., 2., 2.]))
        # d/dx of sum_r sum(w_r * g): weights summed over ranks (1x + 2x = 3x), own slice
        expected = torch.tensor([[1.], [2.], [3.], [4.]]) * 3
        assert torch.equal(grad, expected[2 * rank:2 * rank + 2])
        assert torch.equal(scaled_grad, 65536.0 * expected[2 * rank:2 * rank + 2])
