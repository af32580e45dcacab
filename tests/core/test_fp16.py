"""fp16 / loss scaling: every custom gradient path follows the incoming gradient, so that
``torch.amp.GradScaler`` (scale, then unscale) leaves the update unchanged. Run on CPU with the
real GradScaler (no GPU here). The mmdet heads at LVIS size: tests/mmdet/test_fp16_det.py."""
import numpy as np
import pytest
import torch

from ltr_plugins.core import (CAMCalibration, CosineClassifier, DiscCentroidsLoss,
                              IIFLogitAdjustment, MetaEmbedding)

SCALE = 65536.0  # GradScaler's initial scale


def _step(params, loss_fn, scaler=None, lr=0.5):
    """One SGD step on ``loss_fn()``; returns the parameter updates (new - old)."""
    opt = torch.optim.SGD(params, lr=lr)
    before = [p.detach().clone() for p in params]
    loss = loss_fn()
    if scaler is None:
        loss.backward()
        opt.step()
    else:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        assert scaler.get_scale() == SCALE  # no inf / nan: the step was taken
    return [p.detach() - b for p, b in zip(params, before)]


def _scaler():
    return torch.amp.GradScaler('cpu', init_scale=SCALE)


def _centroid_setup(loss_weight, margin=10.0, seed=0):
    torch.manual_seed(seed)
    proj = torch.nn.Linear(16, 8)
    loss_mod = DiscCentroidsLoss(5, 8, margin=margin, loss_weight=loss_weight)
    with torch.no_grad():
        loss_mod.centroids.mul_(0.1)
    x, y = torch.randn(32, 16), torch.randint(0, 5, (32,))
    return proj, loss_mod, x, y


@pytest.mark.parametrize('autocast', [None, torch.float16, torch.bfloat16])
def test_oltr_centroids_move_the_same_with_and_without_grad_scaler(autocast):
    """Before the fix the scaler divided the (unscaled) centroid gradient by 65536: the memory
    moved 2.35e-3 in fp32 and 7.5e-9 under the scaler."""
    updates = []
    for scaler in (None, _scaler()):
        proj, loss_mod, x, y = _centroid_setup(loss_weight=0.01)

        def loss_fn():
            with torch.autocast('cpu', dtype=autocast or torch.bfloat16,
                                enabled=autocast is not None):
                return loss_mod(proj(x), y)
        updates.append(_step([loss_mod.centroids, *proj.parameters()], loss_fn, scaler))
    plain, scaled = updates[0][0], updates[1][0]
    assert plain.abs().max() > 1e-3  # the memory does move
    # the scaler only rounds (fp16 / bf16 features change the value itself a little)
    tol = dict(rtol=1e-5, atol=1e-8) if autocast is None else dict(rtol=1e-2, atol=1e-5)
    torch.testing.assert_close(scaled, plain, **tol)
    for a, b in zip(updates[0][1:], updates[1][1:]):  # the features' layer too
        torch.testing.assert_close(b, a, **tol)


def test_oltr_centroid_update_independent_of_loss_weight_under_scaler():
    """The attract update of the memory is OLTR's ``-(1/B) sum (c_j - f_i) / (1 + n_j)`` at
    any loss weight (margin 0: no repel term), with and without the scaler."""
    lr = 0.5
    for weight in (0.01, 1.0):
        for scaler in (None, _scaler()):
            proj, loss_mod, x, y = _centroid_setup(loss_weight=weight, margin=0.0)
            c = loss_mod.centroids.detach().numpy().copy()
            f = proj(x).detach().numpy()
            update = _step([loss_mod.centroids], lambda: loss_mod(proj(x), y), scaler, lr=lr)[0]
            expected = np.zeros_like(c)
            for j in range(5):
                idx = y.numpy() == j
                expected[j] = -lr * (c[j] - f[idx]).sum(0) / (1 + idx.sum()) / len(y)
            np.testing.assert_allclose(update.numpy(), expected, rtol=1e-4, atol=1e-7)


def _head_losses():
    """(name, parameters, loss function) for every core head with trainable parameters;
    each loss goes through its head's custom parts (IIF weights, squashed cosine, CAMC
    calibration with its auxiliary pass, OLTR meta-embedding + centroid loss)."""
    torch.manual_seed(0)  # the layers' initialisation
    g = torch.Generator().manual_seed(0)
    n, d, k = 24, 16, 6
    feats = torch.randn(n, d, generator=g)
    maps = torch.randn(n, d, 3, 3, generator=g)
    labels = torch.randint(0, k, (n,), generator=g)
    ce = torch.nn.functional.cross_entropy

    cosine = CosineClassifier(d, k, scale=16.0)
    iif = IIFLogitAdjustment(torch.rand(k, generator=g) + 0.5)
    iif_fc = torch.nn.Linear(d, k)
    camc_cls = CosineClassifier(d, k, scale=20.0)
    camc = CAMCalibration(k, d, lam=1.0, detach_map=False).train()
    meta = MetaEmbedding(d, k)
    centroids = DiscCentroidsLoss(k, d, loss_weight=0.01)

    def camc_loss():
        first = camc_cls(maps.mean((2, 3)))
        out = camc.calibrate(maps, camc_cls.weight, first, labels)
        return ce(camc_cls(out.feats.mean((2, 3))), labels) + 0.5 * ce(first, labels)

    def oltr_loss():
        logits = meta(feats, centroids.centroids.detach())
        return ce(logits, labels) + centroids(feats, labels)

    return [
        ('cosine', list(cosine.parameters()), lambda: ce(cosine(feats), labels)),
        ('iif', list(iif_fc.parameters()), lambda: ce(iif(iif_fc(feats)), labels)),
        ('camc', list(camc_cls.parameters()), camc_loss),
        ('oltr', list(meta.parameters()) + list(centroids.parameters()), oltr_loss),
    ]


@pytest.mark.parametrize('index', range(4), ids=['cosine', 'iif', 'camc', 'oltr'])
def test_every_core_head_updates_the_same_under_grad_scaler(index):
    updates = []
    for scaler in (None, _scaler()):
        name, params, loss_fn = _head_losses()[index]
        updates.append(_step(params, loss_fn, scaler))
    for a, b in zip(*updates):
        assert a.abs().max() > 0, name
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-9)
