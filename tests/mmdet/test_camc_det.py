"""CAMC in mmdet (CAMCShared2FCBBoxHead): lambda = 0 equals the plain box head, the RoI-level
classifier of the maps, the auxiliary loss and its composition with IIF."""
import pytest
import torch
import torch.nn.functional as F
from ltr_testing import write_class_list

import ltr_plugins  # noqa: F401


def _bbox_heads(lam, **kw):
    from mmdet.registry import MODELS
    cfg = dict(in_channels=4, fc_out_channels=16, roi_feat_size=3, num_classes=4,
               cls_predictor_cfg=dict(type='CosineClassifier', scale=20.0))
    torch.manual_seed(6)
    plain = MODELS.build(dict(type='Shared2FCBBoxHead', **cfg))
    camc = MODELS.build(dict(type='CAMCShared2FCBBoxHead', camc=dict(lam=lam), **cfg, **kw))
    plain.init_weights()
    missing, unexpected = camc.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(('camc', 'iif')) for k in missing), missing
    return plain, camc


def test_bbox_head_lambda_zero_equals_plain_and_maps_use_roi_classifier():
    plain, camc = _bbox_heads(lam=0.0)
    x = torch.randn(7, 4, 3, 3)
    with pytest.raises(RuntimeError, match='LabelAwareRoIHead'):
        camc(x)  # training through a plain StandardRoIHead would lose the labels
    plain.eval()
    camc.eval()
    for a, b in zip(plain(x), camc(x)):
        assert torch.equal(a, b)
    _, camc = _bbox_heads(lam=1.0)
    camc.eval()
    out = camc.camc_outputs(x)
    # the RoI-level classifier: K + 1 columns (background last) on GAP of the RoI map
    w = camc.camc_cls.weight.detach()
    assert w.shape == (5, 4)
    aux = 20 * F.normalize(x.mean((2, 3)), dim=1) @ F.normalize(w, dim=1).t()
    torch.testing.assert_close(out.aux_logits, aux)
    cls_score, bbox_pred = camc(x)
    ref_cls, ref_box = Shared2FC_forward(camc, out.feats)
    torch.testing.assert_close(cls_score, ref_cls)
    torch.testing.assert_close(bbox_pred, ref_box)


def Shared2FC_forward(head, feats):
    from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
    return Shared2FCBBoxHead.forward(head, feats)


def test_bbox_head_loss_adds_aux_term_and_composes_with_iif(tmp_path):
    ann = write_class_list(tmp_path / 'train.txt', [50, 20, 5, 1])
    _, camc = _bbox_heads(lam=1.0, iif=dict(variant='raw', stats=ann))
    camc.train()
    x = torch.randn(6, 4, 3, 3)
    labels = torch.tensor([0, 1, 2, 3, 4, 4])  # 4 = background
    cls_score, bbox_pred, extras = camc.forward_train(x, labels)
    aux = extras['aux_score']  # what LabelAwareRoIHead passes to loss_and_target
    w = camc.iif.weights
    assert w[-1] == 1.0 and w.shape == (5, )
    # both passes are IIF-adjusted: the aux logits are IIF times the RoI cosine logits
    raw = 20 * F.normalize(x.mean((2, 3)), dim=1) @ \
        F.normalize(camc.camc_cls.weight.detach(), dim=1).t()
    torch.testing.assert_close(aux, raw * w)
    label_weights = torch.ones(6)
    losses = camc.loss(cls_score, bbox_pred, None, labels, label_weights,
                       torch.zeros(6, 4), torch.zeros(6, 4), aux_score=aux)
    expected = 0.5 * F.cross_entropy(aux, labels)
    torch.testing.assert_close(losses['loss_camc_aux'], expected)
    torch.testing.assert_close(losses['loss_cls'], F.cross_entropy(cls_score, labels))
    assert camc.camc.prototype_counts.tolist() == [1, 1, 1, 1, 2]
