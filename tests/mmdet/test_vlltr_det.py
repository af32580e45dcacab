"""VL-LTR in mmdet: the LGR predictor, loss and RoI head against the core formulas, and the
tiny stage 1 (mmpretrain) -> AnSS -> Mask R-CNN run through tools/train.py and tools/test.py."""
import json

import pytest
import torch
import torch.nn.functional as F
from ltr_testing import anchor_file, run_tool

import ltr_plugins  # noqa: F401
from ltr_plugins.core import vlltr as V


def _bbox_head_cfg(anchors, num_classes=4, **predictor):
    return dict(
        type='Shared2FCBBoxHead', in_channels=4, fc_out_channels=16, roi_feat_size=2,
        num_classes=num_classes,
        cls_predictor_cfg=dict(type='LGRPredictor', anchors=anchors, hidden_ratio=2,
                               **predictor),
        loss_cls=dict(type='LGRClsLoss', num_classes=num_classes, alpha=0.25))


def _bbox_head(anchors, num_classes=4, **predictor):
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope

    # in-process runners of other tests may leave another default scope (e.g. mmpretrain)
    with DefaultScope.overwrite_default_scope('mmdet'):
        head = MODELS.build(_bbox_head_cfg(anchors, num_classes, **predictor))
    head.init_weights()
    return head


def test_det_lgr_predictor_and_loss(tmp_path):
    head = _bbox_head(anchor_file(tmp_path))
    pred = head.fc_cls
    assert head.custom_cls_channels and head.custom_activation
    # the head's Normal(0.01) override of fc_cls ran first; init_weights restored these
    torch.testing.assert_close(pred.lgr.query.weight, torch.eye(8))
    torch.testing.assert_close(pred.lgr.key_norm.weight, torch.ones(8))
    x = torch.randn(7, 4, 2, 2)
    cls_score, bbox_pred = head(x)
    assert cls_score.shape == (7, 10) and bbox_pred.shape == (7, 16)
    feats = head.shared_fcs[1](torch.relu(head.shared_fcs[0](x.flatten(1)))).relu()
    z1, z2 = pred.lgr(pred.proj(feats))
    torch.testing.assert_close(cls_score, torch.cat([z1, z2], 1))
    # background (last column) of the language branch is the learned embedding
    f = pred.proj(feats)
    torch.testing.assert_close(
        z2[:, -1], pred.lgr.logit_scale.exp() *
        F.cosine_similarity(f, pred.lgr.background[None], dim=1))
    labels = torch.tensor([0, 4, 4, 1, 2, 3, 4])  # 4 = background
    weights = torch.tensor([1., 1., 0., 1., 1., 1., 1.])
    losses = head.loss_cls(cls_score, labels, weights, avg_factor=6.0)
    ce = lambda z: (F.cross_entropy(z, labels, reduction='none') * weights).sum() / 6  # noqa
    torch.testing.assert_close(losses['loss_cls_visual'], ce(z1))
    torch.testing.assert_close(losses['loss_cls_language'], ce(z2))
    act = head.loss_cls.get_activation(cls_score)
    torch.testing.assert_close(act, 0.25 * z1.softmax(1) + 0.75 * z2.softmax(1))
    # anchors of another class count: tests/runtime/test_reliability.py, bad-input table


def test_det_lgr_class_subset_in_training(tmp_path):
    """train_class_subset: language logits of the sampled classes + background as without a
    subset (IIF applied), -inf elsewhere; CE(z2) is then the CE over those columns."""
    from ltr_plugins.core import IIFLogitAdjustment
    head = _bbox_head(anchor_file(tmp_path, num_classes=6), num_classes=6,
                      train_class_subset=3)
    pred = head.fc_cls
    # a zero IIF weight (a class in every image, 'raw') must not turn -inf into NaN
    pred.iif = IIFLogitAdjustment(torch.tensor([1.5, 0.0, 2.0, 0.5, 1.0, 3.0]), background=True)
    from ltr_plugins.mmdet.heads import label_aware_forward
    x = torch.randn(7, 4, 2, 2, requires_grad=True)
    head.train()
    with pytest.raises(RuntimeError, match='LabelAwareRoIHead'):
        head(x)  # no RoI labels given
    labels = torch.tensor([1, 6, 4, 1, 6, 6, 4])  # 6 = background
    forward_train = label_aware_forward(head)  # what LabelAwareRoIHead runs
    torch.manual_seed(3)
    cls_score, _, extras = forward_train(x, labels)
    assert extras == {}
    torch.manual_seed(3)
    classes = V.sample_class_subset(torch.tensor([1, 4, 1, 4]), 6, 3)
    assert {1, 4} <= set(classes.tolist()) and len(classes) == 3
    columns = torch.cat([classes, torch.tensor([6])])
    z1, z2 = cls_score.split(7, dim=1)
    feats = pred.proj(head.shared_fcs[1](torch.relu(head.shared_fcs[0](x.flatten(1)))).relu())
    full = pred.iif(pred.lgr.language_logits(feats))  # what eval mode computes
    torch.testing.assert_close(z2[:, columns], full[:, columns])
    outside = [c for c in range(7) if c not in columns.tolist()]
    assert torch.isneginf(z2[:, outside]).all()
    torch.testing.assert_close(z1, pred.iif(pred.lgr.visual(feats)))  # visual: all classes
    losses = head.loss_cls(cls_score, labels, None, avg_factor=7.0)
    target = torch.searchsorted(columns, labels)  # label -> its column within the subset
    torch.testing.assert_close(losses['loss_cls_language'],
                               F.cross_entropy(full[:, columns], target))
    torch.testing.assert_close(losses['loss_cls_visual'], F.cross_entropy(z1, labels))
    sum(losses.values()).backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # bf16 autocast (tools/train.py --amp on CPU): finite loss and gradients
    x.grad = None
    with torch.autocast('cpu', dtype=torch.bfloat16):
        bf = head.loss_cls(forward_train(x, labels)[0], labels, None, avg_factor=7.0)
    sum(bf.values()).float().backward()
    assert all(torch.isfinite(v) for v in bf.values()) and torch.isfinite(x.grad).all()
    # inference: every class, no subset
    head.eval()
    with torch.no_grad():
        torch.testing.assert_close(head(x)[0][:, 7:], full)


@pytest.mark.parametrize('roi_head_type', ['LabelAwareRoIHead', 'LGRRoIHead'])
def test_lgr_roi_head_hands_the_positive_classes_to_the_predictor(tmp_path, monkeypatch,
                                                                  roi_head_type):
    from mmdet.models.roi_heads import StandardRoIHead
    from mmdet.registry import MODELS
    from mmdet.testing import demo_mm_inputs, demo_mm_proposals, demo_mm_sampling_results
    from mmengine.config import ConfigDict
    from mmengine.registry import DefaultScope

    import ltr_plugins.mmdet.vlltr as adapter
    bbox_head = _bbox_head_cfg(anchor_file(tmp_path, num_classes=6), num_classes=6,
                               train_class_subset=4)
    with DefaultScope.overwrite_default_scope('mmdet'):
        roi_head = MODELS.build(dict(
            type=roi_head_type, bbox_head=bbox_head,
            bbox_roi_extractor=dict(type='SingleRoIExtractor', out_channels=4,
                                    featmap_strides=[4],
                                    roi_layer=dict(type='RoIAlign', output_size=2,
                                                   sampling_ratio=0)),
            train_cfg=ConfigDict(
                assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5,
                              min_pos_iou=0.5),
                sampler=dict(type='RandomSampler', num=32, pos_fraction=0.25),
                pos_weight=-1)))
        roi_head.init_weights()
        torch.manual_seed(0)
        inputs = demo_mm_inputs(2, image_shapes=[(3, 32, 32)] * 2, num_items=[3, 2],
                                num_classes=6)
        gts = [s.gt_instances for s in inputs['data_samples']]
        sampling = demo_mm_sampling_results(demo_mm_proposals([(3, 32, 32)] * 2, 20), gts)
    seen, original = [], adapter.sample_class_subset

    def spy(present, *args, **kwargs):
        seen.append(present.clone())
        return original(present, *args, **kwargs)
    monkeypatch.setattr(adapter, 'sample_class_subset', spy)
    roi_head.train()
    out = roi_head.bbox_loss((torch.randn(2, 4, 8, 8), ), sampling)
    positives = torch.cat([r.pos_gt_labels for r in sampling])
    assert len(seen) == 1 and torch.equal(seen[0], positives) and len(positives) > 0
    assert torch.isfinite(out['loss_bbox']['loss_cls_language'])
    # 4 of 6 classes + background finite in the language half, 2 at -inf
    language = out['cls_score'][:, 7:]
    assert torch.isneginf(language).all(0).sum() == 2
    # a predictor that does not take labels: exactly StandardRoIHead's bbox loss
    roi_head.bbox_head.fc_cls = torch.nn.Linear(16, 14)
    feats = (torch.randn(2, 4, 8, 8), )
    ours = roi_head.bbox_loss(feats, sampling)
    stock = StandardRoIHead.bbox_loss(roi_head, feats, sampling)
    torch.testing.assert_close(ours['cls_score'], stock['cls_score'])
    for key, value in stock['loss_bbox'].items():
        torch.testing.assert_close(ours['loss_bbox'][key], value)
    # a label-taking predictor in a bbox head with its own forward would be skipped: refused
    head = roi_head.bbox_head
    head.fc_cls.forward_train = lambda x, labels: head.fc_cls(x)
    head.__class__ = type('OwnForward', (type(head), ), dict(forward=lambda self, x: None))
    with pytest.raises(TypeError, match='LabelAwareRoIHead'):
        roi_head.bbox_loss(feats, sampling)


# ----------------------------------------------------------------------------- end to end
def test_lgr_det_end_to_end(vlltr_stage1, tmp_path):
    _, _, anchors = vlltr_stage1  # the tiny det classes are the tiny cls classes
    cfg = 'tests/configs/mask_rcnn_lgr_tiny.py'
    opt = ['--cfg-options', f'model.roi_head.bbox_head.cls_predictor_cfg.anchors={anchors}']
    run_tool(['tools/train.py', cfg, '--work-dir', tmp_path, *opt,
              'train_cfg.val_begin=2'])
    run_tool(['tools/test.py', cfg, tmp_path / 'epoch_1.pth', '--work-dir', tmp_path,
              '--metrics-out', tmp_path / 'm.json', *opt])
    metrics = json.loads((tmp_path / 'm.json').read_text())
    assert all(0 <= metrics[f'lvis/segm_AP{g}'] <= 1 or metrics[f'lvis/segm_AP{g}'] == -1
               for g in 'rcf')
    log = sorted(tmp_path.glob('*/vis_data/scalars.json'))[0].read_text()
    assert 'loss_cls_visual' in log and 'loss_cls_language' in log
