"""OLTR open-set evaluation: the closed-set accuracies after rejection (what the reference's
``--test_open`` run prints, zhmiao/OpenLongTailRecognition-OLTR run_networks.py lines 293-310)
next to the ones without rejection, checked against a hand computation."""
import pytest
import torch

from ltr_plugins.mmpretrain import OpenSetLongTailAccuracy


def test_open_set_metric_reports_accuracies_before_and_after_rejection():
    # classes 0: 150 training images (many), 1: 50 (medium), 2: 20 (few under the default rule)
    metric = OpenSetLongTailAccuracy(threshold=[0.5, 0.8], class_counts=[150, 50, 20])
    rows = [  # (probabilities, gt)
        ([0.9, 0.05, 0.05], 0),   # correct, kept at 0.5 and 0.8
        ([0.6, 0.2, 0.2], 0),     # correct, rejected at 0.8
        ([0.1, 0.7, 0.2], 1),     # correct, rejected at 0.8
        ([0.4, 0.3, 0.3], 1),     # wrong (and rejected at both)
        ([0.2, 0.2, 0.6], 2),     # correct, rejected at 0.8
        ([0.1, 0.1, 0.8], 2),     # correct, kept at both
        ([0.3, 0.3, 0.4], -1),    # open, rejected at both
        ([0.85, 0.1, 0.05], -1),  # open, accepted at both
    ]
    metric.process(None, [dict(pred_score=torch.tensor(p), gt_label=torch.tensor([g]))
                          for p, g in rows])
    out = metric.compute_metrics(metric.results)
    # without rejection (known samples): correct = 1,1 | 1,0 | 1,1 -> 5/6
    assert out['top1'] == pytest.approx(500 / 6)
    assert (out['many'], out['medium'], out['few']) == pytest.approx((100.0, 50.0, 100.0))
    # after rejection at 0.5: sample 4 (max 0.4) is rejected (it was wrong anyway): same numbers
    assert out['top1_after_rejection'] == pytest.approx(500 / 6)
    assert out['many_after_rejection'] == pytest.approx(100.0)
    assert out['medium_after_rejection'] == pytest.approx(50.0)
    assert out['few_after_rejection'] == pytest.approx(100.0)
    # after rejection at 0.8 (rejected known = wrong): kept are rows 0 and 5, both correct -> 2/6;
    # many: 1/2, medium: 0/2, few: 1/2
    assert out['top1_after_rejection@0.8'] == pytest.approx(200 / 6)
    assert out['many_after_rejection@0.8'] == pytest.approx(50.0)
    assert out['medium_after_rejection@0.8'] == pytest.approx(0.0)
    assert out['few_after_rejection@0.8'] == pytest.approx(50.0)
    # the no-rejection keys are unchanged by the threshold list
    assert out['open_rejection_rate'] == pytest.approx(50.0)
    assert out['known_rejection_rate@0.8'] == pytest.approx(400 / 6)   # 4 of 6 known


def test_after_rejection_follows_the_split_rule():
    metric = OpenSetLongTailAccuracy(threshold=0.5, class_counts=[150, 50, 20],
                                     split_rule='exclusive')
    rows = [([0.9, 0.05, 0.05], 0), ([0.1, 0.8, 0.1], 1), ([0.3, 0.3, 0.4], 2),
            ([0.1, 0.1, 0.8], 2)]
    metric.process(None, [dict(pred_score=torch.tensor(p), gt_label=torch.tensor([g]))
                          for p, g in rows])
    out = metric.compute_metrics(metric.results)
    # exclusive: class 2 (exactly 20 images) is medium: medium = mean(1, 1/2), no few split
    assert out['medium'] == pytest.approx(100.0)
    assert out['medium_after_rejection'] == pytest.approx(75.0)
    assert 'few' not in out and 'few_after_rejection' not in out
