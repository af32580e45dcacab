"""fp16 / loss scaling: every custom gradient path follows the incoming gradient, so that
``torch.amp.GradScaler`` (scale, then unscale) leaves the update unchanged; the heads stay finite
in fp16 at LVIS size. Run on CPU with the real GradScaler (no GPU here)."""
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


# ------------------------------------------------------------------ mmdet heads at LVIS size
LVIS_CLASSES, ROIS = 1203, 512


def _lvis_head_cfgs(tmp_path):
    """bbox head configs at LVIS size (1203 classes). To keep fp16 on CPU affordable the RoI
    maps have 32 channels (not 256), the shared FCs 256 (not 1024) and the box regression is
    class-agnostic: the fp16-sensitive parts (logits over 1204 columns, softmax, cosine norms,
    IIF weights, centroid distances, CAMC maps over 512 RoIs) keep their LVIS sizes."""
    from ltr_plugins.core import vlltr as V
    anchors = tmp_path / 'anchors.safetensors'
    V.save_anchor_embeddings(anchors, V.AnchorEmbeddings(
        torch.randn(LVIS_CLASSES, 3, 64), [f'c{i}' for i in range(LVIS_CLASSES)], 4.6))
    base = dict(type='Shared2FCBBoxHead', in_channels=32, fc_out_channels=256,
                roi_feat_size=7, num_classes=LVIS_CLASSES, reg_class_agnostic=True,
                bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4,
                                target_stds=[0.1, 0.1, 0.2, 0.2]),
                loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                loss_bbox=dict(type='L1Loss', loss_weight=1.0))
    return {
        'iif': dict(base, type='IIFShared2FCBBoxHead', iif=dict(stats='lvis_v1')),
        'cosine': dict(base, cls_predictor_cfg=dict(type='CosineClassifier', scale=20.0)),
        'camc': dict(base, type='CAMCShared2FCBBoxHead', camc=dict(lam=1.0),
                     cls_predictor_cfg=dict(type='CosineClassifier', scale=20.0)),
        'oltr': dict(base, type='OLTRShared2FCBBoxHead', centroid_loss_weight=0.01),
        'lgr': dict(base, cls_predictor_cfg=dict(type='LGRPredictor', anchors=str(anchors)),
                    loss_cls=dict(type='LGRClsLoss', num_classes=LVIS_CLASSES, alpha=0.5)),
    }


def _lvis_head_losses(name, head, x, labels):
    n = x.shape[0]
    rois = torch.cat([torch.zeros(n, 1), torch.rand(n, 2) * 500,
                      torch.rand(n, 2) * 300 + 520], 1)
    targets = (labels, torch.ones(n), torch.randn(n, 4) * 0.1,
               (labels < LVIS_CLASSES).float()[:, None].expand(n, 4).contiguous())
    if name == 'camc':  # the LabelAwareRoIHead protocol: forward_train -> extras -> loss
        cls_score, bbox_pred, extras = head.forward_train(x, labels)
        return cls_score, head.loss(cls_score, bbox_pred, rois, *targets, **extras)
    if name == 'oltr':
        cls_score, bbox_pred, extras = head.forward_train(x, labels)
        losses = head.loss(cls_score, bbox_pred, rois, *targets)
        pos = labels < LVIS_CLASSES  # what OLTRShared2FCBBoxHead.loss_and_target adds
        losses['loss_centroid'] = head.loss_centroid(extras['direct_feature'][pos], labels[pos])
        return cls_score, losses
    cls_score, bbox_pred = head(x)
    return cls_score, head.loss(cls_score, bbox_pred, rois, *targets)


@pytest.mark.parametrize('name', ['iif', 'cosine', 'camc', 'oltr', 'lgr'])
def test_lvis_size_head_fp16_forward_backward_is_finite(name, tmp_path):
    """fp16 autocast forward of each detection head at LVIS size (1203 classes, 512 RoIs, a
    quarter of them positive): finite scores and losses. Backward through the real dynamic
    ``GradScaler``: as on a GPU, an overflowing scale (65536 overflows the fp16 gradient of
    the cosine classifiers' normalised weights) is halved and the step skipped; the scaler must
    settle within 6 halvings (scale >= 1024) on finite gradients, and take the step."""
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope

    import ltr_plugins  # noqa: F401  (registers the heads)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        head = MODELS.build(_lvis_head_cfgs(tmp_path)[name])
    head.init_weights()
    head.train()
    x = torch.randn(ROIS, 32, 7, 7).relu()
    labels = torch.full((ROIS,), LVIS_CLASSES)  # background
    labels[:ROIS // 4] = torch.randint(0, LVIS_CLASSES, (ROIS // 4,))
    with torch.autocast('cpu', dtype=torch.float16):
        cls_score, losses = _lvis_head_losses(name, head, x, labels)
    assert cls_score.shape[0] == ROIS and torch.isfinite(cls_score).all()
    assert cls_score.dtype in (torch.float16, torch.float32)
    total = sum(v for v in losses.values() if isinstance(v, torch.Tensor) and v.dim() == 0)
    assert torch.isfinite(total), losses
    before = {n: p.detach().clone() for n, p in head.named_parameters()}
    optimizer = torch.optim.SGD(head.parameters(), lr=0.01)
    scaler = _scaler()
    for _ in range(7):
        optimizer.zero_grad()
        scale = scaler.get_scale()
        scaler.scale(total).backward(retain_graph=True)
        scaler.step(optimizer)  # skipped on inf / nan gradients
        scaler.update()
        if scaler.get_scale() == scale:  # the step was taken
            break
    assert scaler.get_scale() >= 1024.0, f'{name}: the loss scale fell to {scaler.get_scale()}'
    grads = {n: p.grad for n, p in head.named_parameters() if p.grad is not None}
    assert grads and all(torch.isfinite(g).all() for g in grads.values())
    moved = [n for n, p in head.named_parameters() if not torch.equal(p.detach(), before[n])]
    assert 'shared_fcs.0.weight' in moved  # the step was taken
