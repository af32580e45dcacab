"""CAMC in mmpretrain (CAMCClsHead): lambda = 0 equals the plain cosine head, the loss is the
calibrated one plus the weighted auxiliary term, against direct computations."""
import torch
import torch.nn.functional as F
from ltr_testing import direct_cam

import ltr_plugins  # noqa: F401
from ltr_plugins.core import normalize_map


def _heads(lam=0.0, aux_weight=0.0):
    from mmpretrain.registry import MODELS
    torch.manual_seed(5)
    plain = MODELS.build(dict(type='CosineClsHead', num_classes=4, in_channels=8, scale=16.0))
    camc = MODELS.build(dict(type='CAMCClsHead', num_classes=4, in_channels=8, scale=16.0,
                             camc=dict(lam=lam, aux_weight=aux_weight)))
    missing, unexpected = camc.load_state_dict(plain.state_dict(), strict=False)
    assert sorted(missing) == ['camc.prototype_counts', 'camc.prototypes'] and not unexpected
    return plain, camc


def test_lambda_zero_reproduces_plain_cosine_head():
    from mmpretrain.structures import DataSample
    plain, camc = _heads(lam=0.0, aux_weight=0.0)
    x = torch.randn(6, 8, 3, 3)
    samples = [DataSample().set_gt_label(i % 4) for i in range(6)]
    gap = (x.mean((2, 3)), )
    assert torch.equal(camc((x, )), plain(gap))
    assert torch.equal(camc.pre_logits((x, )), gap[0])
    for p, c in zip(plain.predict(gap), camc.predict((x, ))):
        assert torch.equal(p.pred_score, c.pred_score) and torch.equal(p.pred_label, c.pred_label)
    xp, xc = x.clone().requires_grad_(), x.clone().requires_grad_()
    lp = plain.loss((xp.mean((2, 3)), ), samples)
    lc = camc.loss((xc, ), samples)
    assert lc.keys() == lp.keys() and torch.equal(lc['loss'], lp['loss'])
    lp['loss'].backward()
    lc['loss'].backward()
    torch.testing.assert_close(xc.grad, xp.grad)
    torch.testing.assert_close(camc.fc.weight.grad, plain.fc.weight.grad)
    assert camc.camc.prototype_counts.tolist() == [2, 2, 1, 1]  # prototypes still learn


def test_camc_head_loss_is_calibrated_plus_weighted_aux():
    from mmpretrain.structures import DataSample
    _, camc = _heads(lam=1.0, aux_weight=0.3)
    x = torch.randn(5, 8, 3, 3)
    labels = torch.tensor([0, 1, 2, 3, 0])
    samples = [DataSample().set_gt_label(int(i)) for i in labels]
    losses = camc.loss((x, ), samples)
    # independent: calibrate with the ground-truth CAM (no prototypes yet), GAP, cosine
    w = camc.fc.weight.detach()
    cam = normalize_map(direct_cam(x, w, labels))
    pooled = (x * (1 + cam[:, None])).mean((2, 3))
    logits = 16 * F.normalize(pooled, dim=1) @ F.normalize(w, dim=1).t()
    aux = 16 * F.normalize(x.mean((2, 3)), dim=1) @ F.normalize(w, dim=1).t()
    torch.testing.assert_close(losses['loss'], F.cross_entropy(logits, labels))
    torch.testing.assert_close(losses['loss_camc_aux'], 0.3 * F.cross_entropy(aux, labels))
