"""IIF / cosine heads in mmpretrain: values against independent computations (mmdet:
tests/mmdet/test_iif_det.py)."""
import math

import pytest
import torch
from ltr_testing import write_class_list

import ltr_plugins  # noqa: F401

COUNTS = [120, 40, 9, 1]           # per-class training images, N = 170
N = sum(COUNTS)


def _smooth(n):
    return math.log((N + 1) / (n + 1)) + 1


def _counts_file(tmp_path):
    return write_class_list(tmp_path / 'train.txt', COUNTS)


# ----------------------------------------------------------------------------- mmpretrain
def _cls_head(cfg):
    from mmpretrain.registry import MODELS
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def test_iif_linear_head_multiplies_logits_in_loss_and_predict(tmp_path):
    from mmpretrain.structures import DataSample
    torch.manual_seed(0)
    plain = _cls_head(dict(type='LinearClsHead', num_classes=4, in_channels=8))
    iif = _cls_head(dict(type='IIFLinearClsHead', num_classes=4, in_channels=8,
                         iif=dict(variant='smooth', stats=_counts_file(tmp_path))))
    # post-hoc: a plain checkpoint loads; only the IIF buffer is new
    missing, unexpected = iif.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ['iif.weights'] and not unexpected
    w = torch.tensor([_smooth(n) for n in COUNTS])
    torch.testing.assert_close(iif.iif.weights, w)
    x = (torch.randn(5, 8), )
    torch.testing.assert_close(iif(x), plain(x) * w)
    preds = iif.predict(x)
    torch.testing.assert_close(torch.stack([p.pred_score for p in preds]),
                               torch.softmax(plain(x) * w, dim=1))
    samples = [DataSample().set_gt_label(i % 4) for i in range(5)]
    expected = torch.nn.functional.cross_entropy(plain(x) * w, torch.arange(5) % 4)
    torch.testing.assert_close(iif.loss(x, samples)['loss'], expected)


def test_iif_buffer_round_trips_through_checkpoint(tmp_path):
    cfg = dict(type='IIFLinearClsHead', num_classes=4, in_channels=8,
               iif=dict(variant='raw', stats=_counts_file(tmp_path)))
    head = _cls_head(cfg)
    path = tmp_path / 'head.pth'
    torch.save(head.state_dict(), path)
    head.iif.weights.fill_(0)
    head.load_state_dict(torch.load(path))
    torch.testing.assert_close(head.iif.weights,
                               torch.tensor([math.log(N / n) for n in COUNTS]))


# a stats file whose class count differs from the head's: tests/runtime/test_reliability.py,
# bad-input table ('stats-file-class-count', through tools/train.py)


@pytest.mark.parametrize('with_iif', [False, True])
def test_cosine_head_bounded_by_scale(tmp_path, with_iif):
    iif = dict(variant='smooth', stats=_counts_file(tmp_path)) if with_iif else None
    head = _cls_head(dict(type='CosineClsHead', num_classes=4, in_channels=8, scale=16.0,
                          iif=iif))
    x = torch.randn(64, 8) * 100
    logits = head((x, ))
    cos = torch.nn.functional.normalize(x, dim=1) @ \
        torch.nn.functional.normalize(head.fc.weight, dim=1).t()
    w = torch.tensor([_smooth(n) for n in COUNTS]) if with_iif else torch.ones(4)
    torch.testing.assert_close(logits, 16.0 * cos * w)
    assert (logits.abs() <= 16.0 * w + 1e-4).all()
