"""OLTR core: checked against hand-built tensors and independent (numpy / loop) formulas."""
import math

import numpy as np
import pytest
import torch

from ltr_plugins.core import (CosineClassifier, DiscCentroidsLoss, MetaEmbedding,
                              ModulatedAttention, centroid_attract, centroid_repel,
                              class_feature_sums, reachability)
from ltr_plugins.core.evaluation import macro_f1, open_set_f_measure, reject_by_confidence


def test_reachability_hand_built():
    v = torch.tensor([[0., 0.], [3., 4.], [1., 1.]])
    m = torch.tensor([[1., 0.], [0., 8.]])
    # nearest centroid distances: 1; min(sqrt(4 + 16), sqrt(9 + 16)) = sqrt(20); 1
    expected = torch.tensor([10 / 1, 10 / math.sqrt(20), 10 / 1])
    assert torch.allclose(reachability(v, m), expected)
    assert torch.allclose(reachability(v, m, scale=2.0), expected / 5)


def test_reachability_value_and_gradient_equal_the_min_over_all_distances():
    # reference: every distance (float64 cdist), min, its autograd gradient
    g = torch.Generator().manual_seed(0)
    v = torch.randn(64, 16, generator=g)
    m = torch.randn(40, 16, generator=g) * 2
    v_ref = v.double().requires_grad_()
    ref = 10.0 / torch.cdist(v_ref, m.double()).min(dim=1).values
    ref.sum().backward()
    v_ours = v.clone().requires_grad_()
    ours = reachability(v_ours, m)
    ours.sum().backward()
    assert ours.dtype == torch.float32
    assert torch.allclose(ours.double(), ref.detach(), rtol=1e-5)
    assert torch.allclose(v_ours.grad.double(), v_ref.grad, rtol=1e-4, atol=1e-6)
    # a centroid that requires grad gets the gradient only at each feature's nearest one
    m_req = m.clone().requires_grad_()
    reachability(v, m_req).sum().backward()
    nearest = torch.cdist(v, m).argmin(dim=1)
    assert (m_req.grad.abs().sum(1) > 0).tolist() == [
        j in set(nearest.tolist()) for j in range(len(m))]


def test_squashed_cosine_matches_formula_not_squared():
    torch.manual_seed(0)
    clf = CosineClassifier(5, 3, scale=16.0, squash=True)
    x = torch.randn(4, 5) * torch.tensor([[0.1], [1.0], [3.0], [20.0]])
    xn = x.numpy().astype(np.float64)
    w = clf.weight.detach().numpy().astype(np.float64)
    norm = np.linalg.norm(xn, axis=1, keepdims=True)
    expected = 16 * (norm / (1 + norm)) * (xn / norm) @ (w / np.linalg.norm(w, axis=1,
                                                                            keepdims=True)).T
    assert np.allclose(clf(x).detach().numpy(), expected, atol=1e-5)
    squared = 16 * (norm ** 2 / (1 + norm ** 2)) * (xn / norm) @ (
        w / np.linalg.norm(w, axis=1, keepdims=True)).T
    assert not np.allclose(clf(x).detach().numpy(), squared, atol=1e-3)  # the paper's typo
    # OLTR's CosNorm init: uniform(-1/sqrt(D), 1/sqrt(D)), no bias
    assert clf.bias is None and clf.weight.abs().max() <= 1 / math.sqrt(5)


def test_meta_embedding_hand_built():
    me = MetaEmbedding(feat_dim=2, num_classes=2, reachability_scale=10.0, cosine_scale=16.0)
    with torch.no_grad():
        me.hallucinator.weight.zero_()
        me.hallucinator.bias.copy_(torch.tensor([0.0, math.log(3.0)]))  # softmax = (1/4, 3/4)
        me.concept_selector.weight.zero_()
        me.concept_selector.bias.fill_(math.atanh(0.5))  # tanh = 0.5
        me.classifier.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
    v = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    memory = torch.tensor([[2.0, 0.0], [0.0, 4.0]])
    mem = 0.25 * memory[0] + 0.75 * memory[1]  # (0.5, 3.0)
    gamma = torch.tensor([10 / 1.0, 10 / 1.0])  # nearest centroid: (2,0) at 1, (0,4) at 1
    meta = gamma[:, None] * (v + 0.5 * mem)
    assert torch.allclose(me.embed(v, memory), meta, atol=1e-6)
    norm = meta.norm(dim=1, keepdim=True)
    logits = 16 * norm / (1 + norm) * meta / norm  # weight rows are e1, e2 after normalising
    assert torch.allclose(me(v, memory), logits, atol=1e-5)
    with pytest.raises(ValueError, match='centroids of shape'):
        me(v, memory[:1])


def test_attract_forward_and_gradients():
    torch.manual_seed(0)
    f = torch.randn(6, 3, requires_grad=True)
    labels = torch.tensor([0, 2, 2, 0, 2, 3])  # class 1 absent
    c = torch.randn(4, 3, requires_grad=True)
    loss = centroid_attract(f, labels, c)
    fn, cn, ln = f.detach().numpy(), c.detach().numpy(), labels.numpy()
    ref = sum(((fn[i] - cn[ln[i]]) ** 2).sum() for i in range(6)) / (2 * 6)
    assert loss.item() == pytest.approx(ref, rel=1e-6)

    weight = 0.37  # the loss weight, given to the loss
    weighted = centroid_attract(f, labels, c, loss_weight=weight)
    assert weighted.item() == pytest.approx(weight * ref, rel=1e-6)
    weighted.backward()
    grad_f = weight * (fn - cn[ln]) / 6
    assert np.allclose(f.grad.numpy(), grad_f, atol=1e-6)
    grad_c = np.zeros_like(cn)
    for j in range(4):
        idx = ln == j
        grad_c[j] = (cn[j] - fn[idx]).sum(0) / (1 + idx.sum()) / 6  # not times `weight`
    assert np.allclose(c.grad.numpy(), grad_c, atol=1e-6)
    assert np.all(c.grad.numpy()[1] == 0)

    # independence of the loss weight: the same centroid gradient at weight 1
    c.grad = None
    loss.backward()
    assert np.allclose(c.grad.numpy(), grad_c, atol=1e-6)
    # but a factor applied outside (a loss scale) scales it, as it scales the feature gradient
    c.grad = f.grad = None
    (1024.0 * centroid_attract(f, labels, c, loss_weight=weight)).backward()
    assert np.allclose(c.grad.numpy(), 1024.0 * grad_c, rtol=1e-5, atol=1e-6)
    assert np.allclose(f.grad.numpy(), 1024.0 * grad_f, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match='loss_weight must be finite and >= 0'):
        centroid_attract(f, labels, c, loss_weight=-1.0)


def test_repel_formula_and_clamp():
    torch.manual_seed(1)
    f = torch.randn(5, 4) * 0.3
    c = torch.randn(3, 4) * 0.3
    labels = torch.tensor([0, 1, 1, 2, 0])
    dist = sum(((f[i] - c[j]) ** 2).sum().item()
               for i in range(5) for j in range(3) if j != labels[i])
    expected = 10.0 - dist / (5 * 3)  # own-class entries zeroed but counted in B * C
    assert 0 < expected < 10
    assert centroid_repel(f, labels, c).item() == pytest.approx(expected, rel=1e-5)
    assert centroid_repel(f, labels, c, margin=4.0).item() == \
        pytest.approx(max(4.0 - dist / 15, 0.0), abs=1e-6)
    # far apart: clamped at 0, and no gradient flows
    far_f = (f * 100).requires_grad_()
    far_c = (c * 100).requires_grad_()
    out = centroid_repel(far_f, labels, far_c)
    assert out.item() == 0.0
    out.backward()
    assert far_f.grad.abs().max() == 0 and far_c.grad.abs().max() == 0


def test_centroid_loss_module():
    torch.manual_seed(2)
    loss_mod = DiscCentroidsLoss(3, 4, margin=10.0, repel_weight=0.01)
    f = torch.randn(5, 4)
    labels = torch.tensor([0, 1, 1, 2, 0])
    c = loss_mod.centroids.detach()
    expected = centroid_attract(f, labels, c) + 0.01 * centroid_repel(f, labels, c)
    assert loss_mod(f, labels).item() == pytest.approx(expected.item(), rel=1e-6)
    weighted = DiscCentroidsLoss(3, 4, margin=10.0, repel_weight=0.01, loss_weight=0.25)
    weighted.load_state_dict(loss_mod.state_dict())
    assert weighted(f, labels).item() == pytest.approx(0.25 * expected.item(), rel=1e-6)
    # an empty batch (detection without positives) gives a zero loss connected to the graph
    empty = loss_mod(torch.zeros(0, 4, requires_grad=True), torch.zeros(0, dtype=torch.long))
    assert empty.item() == 0 and empty.requires_grad
    with pytest.raises(ValueError, match='labels must lie in'):
        loss_mod(f, torch.tensor([0, 1, 3, 2, 0]))
    assert not loss_mod.initialized
    means = torch.arange(12.).view(3, 4)
    loss_mod.set_centroids(means)
    assert loss_mod.initialized and torch.equal(loss_mod.centroids.detach(), means)
    state = loss_mod.state_dict()
    assert set(state) == {'centroids', 'initialized'}  # both saved in checkpoints


def test_class_feature_sums_are_class_means():
    torch.manual_seed(3)
    f = torch.randn(10, 3)
    labels = torch.tensor([0, 1, 0, 2, 2, 2, -1, 0, 1, 5])  # -1 / 5 outside [0, 3): ignored
    sums, counts = class_feature_sums(f, labels, 3)
    assert counts.tolist() == [3, 2, 3]
    for j in range(3):
        assert torch.allclose((sums[j] / counts[j]).float(), f[labels == j].mean(0), atol=1e-6)


def test_modulated_attention_identity_start_and_formula():
    torch.manual_seed(4)
    att = ModulatedAttention(4, spatial_size=(3, 2), reduction=2)
    x = torch.randn(2, 4, 3, 2)
    assert torch.equal(att(x), x)  # W_mask is zero-initialised
    torch.nn.init.normal_(att.conv_mask.weight)
    # independent computation with explicit loops over positions
    out = att(x).detach()
    for n in range(2):
        xs = x[n].reshape(4, 6)  # (C, HW)
        th = att.theta.weight.view(2, 4) @ xs + att.theta.bias[:, None]
        ph = att.phi.weight.view(2, 4) @ xs + att.phi.bias[:, None]
        g = att.g.weight.view(2, 4) @ xs + att.g.bias[:, None]
        a = torch.softmax(th.t() @ ph, dim=1)  # (HW, HW)
        y = (a @ g.t()).t()  # (C', HW)
        mask = att.conv_mask.weight.view(4, 2) @ y
        s = torch.softmax(att.fc_spatial(x[n].reshape(1, -1)), dim=1)  # (1, HW)
        ref = (xs + s * mask).view(4, 3, 2)
        assert torch.allclose(out[n], ref.detach(), atol=1e-5)
    with pytest.raises(ValueError, match='spatial_size is fixed'):
        att(torch.randn(1, 4, 4, 4))


def test_open_set_f_measure_hand_made():
    gt = np.array([0, 1, 2, 2, 1, -1, -1, -1, -1])
    pred = np.array([0, 1, 1, -1, 1, 2, -1, 0, -1])
    # known: correct 0, 1, 1 -> TP 3; wrong: (2 -> 1), (2 -> rejected) -> FP 2
    # open: predicted known twice -> FN 2; two rejected open samples count nowhere
    out = open_set_f_measure(pred, gt)
    p, r = 3 / 5, 3 / 5
    assert out['precision'] == pytest.approx(p) and out['recall'] == pytest.approx(r)
    assert out['f_measure'] == pytest.approx(2 * p * r / (p + r))
    # variant: rejected known samples are not false positives
    out = open_set_f_measure(pred, gt, rejected_known_is_fp=False)
    assert out['precision'] == pytest.approx(3 / 4)
    assert out['f_measure'] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    probs_max = np.array([0.9, 0.05, 0.5])
    assert reject_by_confidence(np.array([3, 4, 5]), probs_max, 0.1).tolist() == [3, -1, 5]


def test_macro_f1_matches_counts():
    gt = np.array([0, 0, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 0])
    # class 0: tp 1 fp 1 fn 1 -> 0.5; class 1: tp 2 fp 1 fn 0 -> 0.8; class 2: 0
    assert macro_f1(pred, gt, 3) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
