"""OLTR bbox head in Mask R-CNN: logits layout, stage-1 init, centroid loss on positive RoIs,
open-set rejection, and train + test through the real tools on the tiny preset."""
import json

import pytest
import torch
from ltr_testing import run_tool

CFG = 'tests/configs/mask_rcnn_oltr_tiny.py'


def _heads(**kw):
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope

    import ltr_plugins  # noqa: F401
    base = dict(in_channels=4, fc_out_channels=16, roi_feat_size=3, num_classes=5,
                bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.0] * 4,
                                target_stds=[0.1, 0.1, 0.2, 0.2]),
                reg_class_agnostic=False,
                loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                loss_bbox=dict(type='L1Loss', loss_weight=1.0))
    # other tests of the session may have left another default scope current
    with DefaultScope.overwrite_default_scope('mmdet'):
        plain = MODELS.build(dict(type='Shared2FCBBoxHead', **base))
        oltr = MODELS.build(dict(type='OLTRShared2FCBBoxHead', **base, **kw))
    plain.init_weights()
    oltr.init_weights()
    return plain, oltr


def test_logits_layout_and_stage1_init():
    torch.manual_seed(0)
    plain, head = _heads()
    # stage-1 checkpoint: fc_cls rows 0..4 -> hallucinator, row 5 (background) -> fc_bg;
    # the shared fcs and fc_reg load as they are
    missing, unexpected = head.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected
    assert set(missing) == {'meta_embedding.concept_selector.weight',
                            'meta_embedding.concept_selector.bias',
                            'meta_embedding.classifier.weight',
                            'loss_centroid.centroids', 'loss_centroid.initialized'}
    w, b = plain.fc_cls.weight, plain.fc_cls.bias
    assert torch.equal(head.meta_embedding.hallucinator.weight, w[:5])
    assert torch.equal(head.meta_embedding.hallucinator.bias, b[:5])
    assert torch.equal(head.fc_bg.weight, w[5:]) and torch.equal(head.fc_bg.bias, b[5:])

    x = torch.randn(7, 4, 3, 3)
    head.eval()
    cls_score, bbox_pred = head(x)
    v = head.direct_feature(x)
    assert torch.allclose(v, plain.relu(plain.shared_fcs[1](plain.relu(
        plain.shared_fcs[0](x.flatten(1))))))
    assert cls_score.shape == (7, 6)  # 5 foreground + background last
    fg = head.meta_embedding(v, head.loss_centroid.centroids.detach())
    assert torch.allclose(cls_score[:, :5], fg) and torch.allclose(cls_score[:, 5:],
                                                                   head.fc_bg(v))
    assert torch.allclose(bbox_pred, plain.fc_reg(v))


def test_centroid_loss_on_positive_rois_only(monkeypatch):
    from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
    torch.manual_seed(1)
    _, head = _heads(centroid_loss_weight=0.01)
    head.train()
    x = torch.randn(6, 4, 3, 3)
    labels = torch.tensor([0, 5, 3, 5, 3, 1])  # 5 = background
    # as LabelAwareRoIHead.bbox_loss calls it: the direct features travel as an extra
    cls_score, bbox_pred, extras = head.forward_train(x, labels)
    v = head.direct_feature(x)
    torch.testing.assert_close(extras['direct_feature'], v)
    head.eval()
    for a, b in zip(head(x), (cls_score, bbox_pred)):
        torch.testing.assert_close(a, b)  # the same scores as the plain forward
    head.train()
    monkeypatch.setattr(Shared2FCBBoxHead, 'loss_and_target',
                        lambda self, *a, **k: dict(loss_bbox=dict(loss_cls=cls_score.sum()),
                                                   bbox_targets=(labels, None, None, None)))
    out = head.loss_and_target(cls_score, bbox_pred, None, [], None, **extras)
    pos = labels < 5
    from ltr_plugins.core import centroid_attract, centroid_repel
    c = head.loss_centroid.centroids.detach()
    # the head's weight (0.01) is applied inside the loss module, to both terms
    expected = 0.01 * (centroid_attract(v[pos], labels[pos], c)
                       + 0.01 * centroid_repel(v[pos], labels[pos], c))
    assert out['loss_bbox']['loss_centroid'].item() == pytest.approx(expected.item(), rel=1e-6)
    # through a plain StandardRoIHead the direct features would be missing: refused
    with pytest.raises(RuntimeError, match='LabelAwareRoIHead'):
        head.loss_and_target(cls_score, bbox_pred, None, [], None)


def test_open_set_rejection_drops_low_confidence_rois():
    from mmengine.config import ConfigDict
    torch.manual_seed(2)
    _, head = _heads(open_set_threshold=0.5)
    head.eval()
    rois = torch.tensor([[0, 2., 2., 20., 20.], [0, 4., 4., 30., 30.]])
    bbox_pred = torch.zeros(2, 20)
    # RoI 0: confident class 2 (p ~ 0.98); RoI 1: max foreground probability ~ 0.2
    cls_score = torch.tensor([[0., 0., 6., 0., 0., 0.], [0., 0., 0., 0., 0., 0.]])
    cfg = ConfigDict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=10)
    meta = dict(img_shape=(64, 64), scale_factor=(1., 1.))
    res = head._predict_by_feat_single(rois, cls_score, bbox_pred, meta, False, cfg)
    assert res.labels.tolist() == [2] and res.bboxes[0].tolist() == [2., 2., 20., 20.]
    head.open_set_threshold = None
    res = head._predict_by_feat_single(rois, cls_score, bbox_pred, meta, False, cfg)
    assert len(res.labels) == 1 + 5  # without rejection RoI 1 yields all 5 classes (p = 1/6)


def test_det_train_and_test_through_tools(tiny_data, tmp_path):
    work = tmp_path / 'work'
    proc = run_tool(['tools/train.py', CFG, '--work-dir', work])
    log = proc.stdout + proc.stderr
    ann = json.loads((tiny_data / 'lvis_v1/annotations/lvis_v1_train.json').read_text())
    assert f'OLTR centroids set to the class means of {len(ann["annotations"])} training ' \
        'samples' in log  # one GT-box RoI feature per training instance
    assert 'loss_centroid' in log
    metrics_file = tmp_path / 'metrics.json'
    run_tool(['tools/test.py', CFG, work / 'epoch_1.pth', '--work-dir', tmp_path / 'test',
              '--metrics-out', metrics_file])
    metrics = json.loads(metrics_file.read_text())
    assert 'lvis/segm_AP' in metrics and 'lvis/bbox_APr' in metrics
    from ltr_plugins.compat import safe_torch_load
    state = safe_torch_load(str(work / 'epoch_1.pth'), map_location='cpu')['state_dict']
    assert bool(state['roi_head.bbox_head.loss_centroid.initialized'])
    assert state['roi_head.bbox_head.loss_centroid.centroids'].shape == (6, 64)
