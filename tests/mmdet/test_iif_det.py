"""IIF / cosine heads in mmdet (box head, mask predictor): values against independent
computations."""
import math

import pytest
import torch
from ltr_testing import write_class_list

import ltr_plugins  # noqa: F401

COUNTS = [120, 40, 9, 1]           # per-class training images, N = 170
N = sum(COUNTS)


def _counts_file(tmp_path):
    return write_class_list(tmp_path / 'train.txt', COUNTS)


def _bbox_head(**kw):
    from mmdet.registry import MODELS
    cfg = dict(type='Shared2FCBBoxHead', in_channels=4, fc_out_channels=16, roi_feat_size=2,
               num_classes=4)
    cfg.update(kw)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def test_iif_bbox_head_keeps_background_and_softmaxes_adjusted_logits(tmp_path):
    from mmdet.structures.bbox import bbox2roi  # noqa: F401  (mmdet import check)
    torch.manual_seed(0)
    stats = _counts_file(tmp_path)
    plain = _bbox_head()
    iif = _bbox_head(type='IIFShared2FCBBoxHead', iif=dict(variant='raw', stats=stats))
    missing, _ = iif.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ['iif.weights']
    w = torch.tensor([math.log(N / n) for n in COUNTS] + [1.0])
    x = torch.randn(6, 4, 2, 2)
    cls_plain, box_plain = plain(x)
    cls_iif, box_iif = iif(x)
    torch.testing.assert_close(cls_iif, cls_plain * w)
    torch.testing.assert_close(cls_iif[:, -1], cls_plain[:, -1])   # background untouched
    torch.testing.assert_close(box_iif, box_plain)
    # predict_by_feat softmaxes the adjusted logits (background last)
    torch.testing.assert_close(torch.softmax(cls_iif, -1), iif.loss_cls.get_activation(cls_iif)
                               if iif.custom_activation else torch.softmax(cls_iif, -1))


def test_iif_bbox_head_reference_init_and_cosine_predictor(tmp_path):
    head = _bbox_head(type='IIFShared2FCBBoxHead',
                      iif=dict(variant='raw', stats=_counts_file(tmp_path)),
                      cls_predictor_cfg=dict(type='CosineClassifier', scale=8.0),
                      init_cfg=dict(type='Constant', val=0.001, bias=0.0,
                                    override=dict(name='fc_cls')))
    assert torch.all(head.fc_cls.weight == 0.001)
    x = torch.randn(3, 4, 2, 2)
    cls_score, _ = head(x)
    w = torch.tensor([math.log(N / n) for n in COUNTS] + [1.0])
    assert (cls_score.abs() <= 8.0 * w + 1e-4).all()  # cosine logits bounded by tau * w


def test_iif_bbox_head_rejects_sigmoid(tmp_path):
    with pytest.raises(ValueError, match='softmax classifier with a background column'):
        _bbox_head(type='IIFShared2FCBBoxHead', iif=dict(stats=_counts_file(tmp_path)),
                   loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True))


def test_cosine_conv2d_as_mask_predictor():
    from mmdet.registry import MODELS
    head = MODELS.build(dict(type='FCNMaskHead', num_convs=1, in_channels=4,
                             conv_out_channels=4, num_classes=3,
                             predictor_cfg=dict(type='CosineConv2d', scale=20.0)))
    head.init_weights()
    out = head(torch.randn(2, 4, 7, 7))
    assert out.shape == (2, 3, 14, 14)
    assert (out.abs() <= 20.0 + head.conv_logits.bias.abs().max() + 1e-4).all()
