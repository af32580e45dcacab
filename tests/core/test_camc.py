"""CAMC core (ltr_plugins.core.camc): values against direct computations, the momentum rule,
the DDP sync, determinism. The heads: tests/mmpretrain/test_camc_adapters.py,
tests/mmdet/test_camc_det.py."""
import pytest
import torch
import torch.nn.functional as F
from ltr_testing import direct_cam, run_gloo

import ltr_plugins  # noqa: F401
from ltr_plugins.core import (CAMCalibration, CosineClassifier, class_activation_maps,
                              normalize_map, select_targets)


def test_cam_of_hand_built_map_equals_direct_computation():
    # 2 channels, 2x2 map: pixel directions chosen so the cosines are simple numbers
    feats = torch.tensor([[[[3., 0.], [1., -2.]],
                           [[0., 2.], [1., 0.]]]])          # (1, 2, 2, 2)
    weight = torch.tensor([[1., 0.], [0., 5.], [1., 1.]])    # (3, 2)
    cams = class_activation_maps(feats, weight, torch.tensor([[0, 1, 2]]))
    s = 2 ** -0.5
    expected = torch.tensor([[[1., 0.], [s, -1.]],          # class 0: x-axis
                             [[0., 1.], [s, 0.]],           # class 1: y-axis
                             [[s, s], [1., -s]]])           # class 2: diagonal
    torch.testing.assert_close(cams[0], expected)
    torch.manual_seed(0)
    feats, weight = torch.randn(3, 5, 4, 3), torch.randn(7, 5)
    k = torch.tensor([6, 0, 3])
    torch.testing.assert_close(class_activation_maps(feats, weight, k[:, None])[:, 0],
                               direct_cam(feats, weight, k))
    # the module's map is normalize(ReLU(CAM)) of the ground-truth class
    camc = CAMCalibration(7, 5, corr_weight=0.0)
    out = camc.calibrate(feats, weight, torch.zeros(3, 7), labels=k)
    torch.testing.assert_close(out.cam, normalize_map(direct_cam(feats, weight, k)))


def test_normalize_map_and_calibration_map_in_unit_interval():
    m = torch.tensor([[[-1., 2.], [0.5, 4.]], [[-1., -2.], [-3., -4.]]])
    torch.testing.assert_close(normalize_map(m), torch.tensor(
        [[[0., .5], [.125, 1.]], [[0., 0.], [0., 0.]]]))       # all-negative map -> 0
    torch.manual_seed(1)
    for combine in ('mean', 'product'):
        camc = CAMCalibration(6, 8, combine=combine, lam=2.0)
        camc.train()
        for step in range(3):  # step 0: no prototypes yet; later ones with prototypes
            feats = torch.randn(10, 8, 5, 5) * 10
            out = camc.calibrate(feats, torch.randn(6, 8), torch.randn(10, 6),
                                 torch.randint(0, 6, (10,)))
            for m in (out.calibration, out.cam, out.correlation):
                assert m.min() >= 0 and m.max() <= 1 + 1e-6
            assert out.cam.flatten(1).amax(1).gt(0.99).all()  # max-normalised per image
            ratio = out.feats / feats
            torch.testing.assert_close(ratio, (1 + 2.0 * out.calibration)[:, None].expand_as(
                ratio))
            if step == 0:  # without prototypes A is the CAM alone
                torch.testing.assert_close(out.calibration, out.cam)


def test_calibration_combines_cam_and_prototype_correlation():
    torch.manual_seed(2)
    camc = CAMCalibration(3, 4, corr_weight=0.25)
    camc.prototypes[1] = torch.tensor([0., 1., 0., 0.])
    camc.prototype_counts[1] = 5
    feats, weight = torch.randn(2, 4, 3, 3), torch.randn(3, 4)
    out = camc.calibrate(feats, weight, torch.zeros(2, 3), torch.tensor([1, 2]))
    cam = normalize_map(direct_cam(feats, weight, [1, 2]))
    corr0 = normalize_map((feats[0, 1] / feats[0].norm(dim=0))[None])[0]  # cos with e_1
    torch.testing.assert_close(out.calibration[0], 0.75 * cam[0] + 0.25 * corr0)
    torch.testing.assert_close(out.calibration[1], cam[1])        # class 2: no prototype
    camc.combine = 'product'
    out = camc.calibrate(feats, weight, torch.zeros(2, 3), torch.tensor([1, 2]))
    torch.testing.assert_close(out.calibration[0], (cam[0] * corr0).sqrt())


def test_inference_target_is_probability_weighted_topk_mix():
    torch.manual_seed(3)
    logits = torch.randn(4, 6)
    classes, w = select_targets(logits, None, topk=3)
    p = logits.softmax(-1)
    top = p.topk(3, -1)
    assert torch.equal(classes, top.indices)
    torch.testing.assert_close(w, top.values / top.values.sum(-1, keepdim=True))
    # soft labels (mixup): their own top-k, renormalised
    soft = torch.tensor([[0.7, 0.3, 0, 0, 0, 0]]).float()
    c, w = select_targets(logits[:1], soft, topk=2)
    assert c.tolist() == [[0, 1]] and torch.allclose(w, torch.tensor([[0.7, 0.3]]))
    # the module mixes the raw cosine CAMs with these weights before ReLU / normalisation
    camc = CAMCalibration(6, 5, topk=3).eval()
    feats, weight = torch.randn(4, 5, 3, 3), torch.randn(6, 5)
    out = camc.calibrate(feats, weight, logits)
    cams = class_activation_maps(feats, weight, top.indices)
    mixed = (cams * (top.values / top.values.sum(-1, keepdim=True))[..., None, None]).sum(1)
    torch.testing.assert_close(out.cam, normalize_map(mixed))


def test_inference_without_labels_is_deterministic_and_leaves_prototypes():
    torch.manual_seed(4)
    camc = CAMCalibration(5, 8)
    clf = CosineClassifier(8, 5, scale=16.0)
    camc.train()
    camc(torch.randn(6, 8, 4, 4), clf, clf.weight, torch.tensor([0, 1, 2, 3, 4, 0]))
    state = {k: v.clone() for k, v in camc.state_dict().items()}
    camc.eval()
    x = torch.randn(3, 8, 4, 4)
    a, b = camc(x, clf, clf.weight), camc(x, clf, clf.weight)
    for f in ('logits', 'calibration', 'pooled', 'aux_logits'):
        assert torch.equal(getattr(a, f), getattr(b, f)), f
    for k, v in camc.state_dict().items():
        assert torch.equal(v, state[k]), k
    # training mode without labels (e.g. a val loop that forgets eval()) does not update either
    camc.train()
    camc(x, clf, clf.weight)
    assert torch.equal(camc.prototype_counts, state['prototype_counts'])


def test_prototypes_follow_momentum_rule():
    camc = CAMCalibration(3, 2, momentum=0.8)
    unit = lambda v: F.normalize(torch.tensor(v), dim=-1)  # noqa: E731
    # step 1: class 0 from two samples (first sight: the batch mean), class 2 from one
    pooled = torch.tensor([[2., 0.], [0., 3.], [0., -1.]])
    camc.update_prototypes(pooled, torch.tensor([0, 0, 2]))
    torch.testing.assert_close(camc.prototypes[0], (unit([1., 0.]) + unit([0., 1.])) / 2)
    torch.testing.assert_close(camc.prototypes[2], unit([0., -1.]))
    assert camc.prototype_counts.tolist() == [2, 0, 1]
    assert torch.equal(camc.prototypes[1], torch.zeros(2))
    # step 2: EMA for class 0, class 2 absent keeps its value, class 1 first sight
    before = camc.prototypes.clone()
    camc.update_prototypes(torch.tensor([[1., 1.], [5., 0.]]), torch.tensor([0, 1]))
    torch.testing.assert_close(camc.prototypes[0], 0.8 * before[0] + 0.2 * unit([1., 1.]))
    torch.testing.assert_close(camc.prototypes[1], unit([1., 0.]))
    torch.testing.assert_close(camc.prototypes[2], before[2])
    assert camc.prototype_counts.tolist() == [3, 1, 1]
    # calibrate() uses the prototypes first, then updates them from the uncalibrated GAP
    feats = torch.randn(2, 2, 3, 3)
    before = camc.prototypes.clone()
    camc.train()
    out = camc.calibrate(feats, torch.randn(3, 2), torch.zeros(2, 3), torch.tensor([2, 2]))
    corr = normalize_map(torch.einsum('bchw,c->bhw', F.normalize(feats, dim=1),
                                      F.normalize(before[2], dim=0)))
    torch.testing.assert_close(out.correlation, corr)
    mean = F.normalize(feats.mean((2, 3)), dim=1).mean(0)
    torch.testing.assert_close(camc.prototypes[2], 0.8 * before[2] + 0.2 * mean)


def test_train_target_pred_calibrates_as_at_inference_and_still_learns_prototypes():
    torch.manual_seed(7)
    camc = CAMCalibration(5, 6, train_target='pred', topk=2)
    camc.prototypes[:] = torch.randn(5, 6)
    camc.prototype_counts[:] = 3
    feats, weight, logits = torch.randn(4, 6, 3, 3), torch.randn(5, 6), torch.randn(4, 5)
    expected = camc.eval().calibrate(feats, weight, logits)
    before = camc.prototypes.clone()
    got = camc.train().calibrate(feats, weight, logits, torch.tensor([0, 1, 2, 3]))
    assert torch.equal(got.target_classes, logits.topk(2, -1).indices)
    torch.testing.assert_close(got.calibration, expected.calibration)
    assert camc.prototype_counts.tolist() == [4, 4, 4, 4, 3]
    assert not torch.equal(camc.prototypes[:4], before[:4])
    with pytest.raises(ValueError, match='train_target'):
        CAMCalibration(5, 6, train_target='mix')


def test_bad_inputs_raise_clear_errors():
    camc = CAMCalibration(4, 8)
    clf = CosineClassifier(8, 4)
    with pytest.raises(ValueError, match=r'before pooling.*pooling neck'):
        camc(torch.randn(2, 8), clf, clf.weight)
    with pytest.raises(ValueError, match=r'weight has shape \(4, 7\)'):
        camc.calibrate(torch.randn(2, 8, 2, 2), torch.randn(4, 7), torch.zeros(2, 4))
    with pytest.raises(ValueError, match='combine'):
        CAMCalibration(4, 8, combine='max')
    with pytest.raises(ValueError, match='momentum'):
        CAMCalibration(4, 8, momentum=1.0)


def _ddp_worker(rank):
    camc = CAMCalibration(3, 2, momentum=0.5)
    # rank 0: one sample of class 0; rank 1: three samples of class 0, one of class 1
    if rank == 0:
        pooled, labels = torch.tensor([[1., 0.]]), torch.tensor([0])
    else:
        pooled = torch.tensor([[0., 1.], [0., 2.], [0., 3.], [1., 1.]])
        labels = torch.tensor([0, 0, 0, 1])
    camc.update_prototypes(pooled, labels)
    return (camc.prototypes.clone(), camc.prototype_counts.clone())


def test_prototypes_synchronised_across_two_gloo_ranks():
    results = run_gloo(_ddp_worker)
    p0, c0 = results[0]
    p1, c1 = results[1]
    assert torch.equal(p0, p1) and torch.equal(c0, c1)
    assert c0.tolist() == [4, 1, 0]
    # sums and counts over ranks: (1, 0) + 3 * (0, 1) over 4 samples, not a mean of rank means
    torch.testing.assert_close(p0[0], torch.tensor([0.25, 0.75]))
    torch.testing.assert_close(p0[1], F.normalize(torch.tensor([1., 1.]), dim=0))
