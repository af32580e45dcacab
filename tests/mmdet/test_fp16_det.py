"""fp16 / loss scaling of the mmdet box heads at LVIS size (1203 classes): finite scores, losses
and gradients under fp16 autocast and the real dynamic GradScaler, on CPU (core heads:
tests/core/test_fp16.py)."""
import pytest
import torch

SCALE = 65536.0  # GradScaler's initial scale


def _scaler():
    return torch.amp.GradScaler('cpu', init_scale=SCALE)


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
