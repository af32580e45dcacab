"""BoxHeadRetrainDetector: only the box head trains, its losses are mmdet's own for the same
proposals and samples, and everything else stays bit-identical."""
import copy

import pytest
import torch
from ltr_testing import REPO, build_model

import ltr_plugins  # noqa: F401

TINY_DET = str(REPO / 'tests/configs/mask_rcnn_tiny.py')


def _cfg(**model):
    from mmengine.config import Config
    cfg = Config.fromfile(TINY_DET)
    cfg.model.update(model)
    return cfg


def _pair(**retrain):
    """(plain Mask R-CNN, BoxHeadRetrainDetector) with the same weights, and a packed batch."""
    from mmdet.testing import demo_mm_inputs
    torch.manual_seed(0)
    plain = build_model(_cfg())
    plain.init_weights()
    retrainer = build_model(_cfg(type='BoxHeadRetrainDetector', **retrain))
    retrainer.load_state_dict(plain.state_dict())
    packed = demo_mm_inputs(2, image_shapes=[(3, 64, 64)] * 2, num_items=[3, 2], num_classes=6,
                            with_mask=True)
    data = plain.data_preprocessor(packed, True)
    return plain, retrainer, data['inputs'], data['data_samples']


def test_losses_are_mmdets_box_losses_for_the_same_proposals_and_samples():
    """Reference: mmdet's own path, TwoStageDetector.loss's proposals (rpn_head.loss_and_predict
    with train_cfg.rpn_proposal) and StandardRoIHead.loss, on the same RNG state."""
    plain, retrainer, inputs, samples = _pair()
    plain.eval()  # the same forward as the retrainer's frozen (eval-mode) trunk
    plain.roi_head.bbox_head.train()
    retrainer.train()
    with torch.no_grad():
        x = plain.extract_feat(inputs)
        rpn_samples = copy.deepcopy(samples)
        for s in rpn_samples:
            s.gt_instances.labels = torch.zeros_like(s.gt_instances.labels)
        _, proposals = plain.rpn_head.loss_and_predict(
            x, rpn_samples, proposal_cfg=plain.train_cfg.rpn_proposal)
    torch.manual_seed(1)
    ref = plain.roi_head.loss(x, proposals, copy.deepcopy(samples))
    torch.manual_seed(1)
    losses = retrainer.loss(inputs, copy.deepcopy(samples))
    assert set(losses) == {'loss_cls', 'acc', 'loss_bbox'}
    assert 'loss_mask' in ref and retrainer.roi_head.with_mask  # the mask branch is back
    for key in losses:
        torch.testing.assert_close(losses[key], ref[key], rtol=0, atol=0)


def test_only_the_box_head_gets_gradients_and_frozen_weights_stay_identical():
    _, retrainer, inputs, samples = _pair()
    before = {k: v.clone() for k, v in retrainer.state_dict().items()}
    optimizer = torch.optim.SGD(retrainer.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1)
    retrainer.train()
    for _ in range(2):
        optimizer.zero_grad()
        sum(v for k, v in retrainer.loss(inputs, samples).items() if 'loss' in k).backward()
        optimizer.step()
    for name, p in retrainer.named_parameters():
        assert p.requires_grad == name.startswith('roi_head.bbox_head.'), name
        assert (p.grad is not None) == name.startswith('roi_head.bbox_head.'), name
    after = retrainer.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith('roi_head.bbox_head.') for k in changed)
    # BN running statistics of the backbone (train-mode BN would have moved them) unchanged
    assert not any(k.startswith('backbone.') and 'running' in k for k in changed)


def test_train_mode_reaches_the_box_head_only():
    _, retrainer, _, _ = _pair()
    retrainer.train()
    assert retrainer.training and retrainer.roi_head.training
    assert all(m.training for m in retrainer.roi_head.bbox_head.modules())
    for part in (retrainer.backbone, retrainer.neck, retrainer.rpn_head,
                 retrainer.roi_head.mask_head):
        assert not any(m.training for m in part.modules())
    retrainer.eval()
    assert not any(m.training for m in retrainer.modules())


def test_trainable_classifier_alone():
    """trainable=['roi_head.bbox_head.fc_cls'] (the IIF decoupled recipe): the box head's flag
    still follows the mode (its training code path), its frozen layers do not."""
    _, retrainer, inputs, samples = _pair(trainable=['roi_head.bbox_head.fc_cls'])
    retrainer.train()
    assert retrainer.roi_head.bbox_head.training and retrainer.roi_head.bbox_head.fc_cls.training
    assert not retrainer.roi_head.bbox_head.fc_reg.training
    sum(v for k, v in retrainer.loss(inputs, samples).items() if 'loss' in k).backward()
    grads = {n for n, p in retrainer.named_parameters() if p.grad is not None}
    assert grads == {'roi_head.bbox_head.fc_cls.weight', 'roi_head.bbox_head.fc_cls.bias'}


def test_inference_equals_the_plain_detectors():
    plain, retrainer, inputs, samples = _pair()
    plain.eval()
    retrainer.eval()
    with torch.no_grad():
        a = plain.predict(inputs, copy.deepcopy(samples))
        b = retrainer.predict(inputs, copy.deepcopy(samples))
    for r, s in zip(a, b):
        torch.testing.assert_close(r.pred_instances.scores, s.pred_instances.scores)
        torch.testing.assert_close(r.pred_instances.masks, s.pred_instances.masks)


def test_bf16_autocast_step_is_finite():
    """bf16 CPU autocast (tools/train.py --amp on CPU): the box losses and the box head's
    gradients are finite, the trunk runs in bf16 without autograd. mmcv's float32-only CPU
    ops are patched as tools/train.py does under autocast."""
    from ltr_plugins.compat import patch_mmcv_cpu_ops_for_autocast
    assert patch_mmcv_cpu_ops_for_autocast()
    _, retrainer, inputs, samples = _pair()
    retrainer.train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = retrainer.loss(inputs, samples)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for n, p in retrainer.named_parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize('trainable, match', [
    (['neck'], "'neck' is not roi_head.bbox_head"),
    (['roi_head.bbox_head.nope'], 'nope'),
    ('roi_head.bbox_head', 'non-empty list'),
    ([], 'non-empty list')])
def test_bad_trainable_names_the_module(trainable, match):
    with pytest.raises(ValueError, match=match):
        build_model(_cfg(type='BoxHeadRetrainDetector', trainable=trainable))
