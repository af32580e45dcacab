"""Many / medium / few splits: the default follows the evaluation code behind the published
numbers (OLTR utils.py shot_acc, VL-LTR engine.py shot_acc: many >= 100, few <= 20); the
'exclusive' rule (many > 100, few < 20) is an option. Counts are read from the packaged tables
with the csv module and split by hand."""
import csv
import importlib.resources

import numpy as np
import pytest
import torch

from ltr_plugins.core.evaluation import shot_groups
from ltr_plugins.datasets import ClassStats
from ltr_plugins.mmpretrain import LongTailAccuracy


def _table(name):
    path = importlib.resources.files('ltr_plugins') / 'data' / name
    rows = list(csv.DictReader(path.read_text().splitlines()))
    return [int(r['count']) for r in rows]


def _by_hand(counts, inclusive):
    if inclusive:
        return (sum(n >= 100 for n in counts), sum(20 < n < 100 for n in counts),
                sum(n <= 20 for n in counts))
    return (sum(n > 100 for n in counts), sum(20 <= n <= 100 for n in counts),
            sum(n < 20 for n in counts))


def test_imagenet_lt_group_sizes_of_both_rules():
    counts = _table('imagenet_lt_counts.csv')
    assert len(counts) == 1000
    # 391 / 463 / 146 is the reference code's (inclusive) split, 385 / 479 / 136 the exclusive
    assert _by_hand(counts, inclusive=True) == (391, 463, 146)
    assert _by_hand(counts, inclusive=False) == (385, 479, 136)
    assert counts.count(100) == 6 and counts.count(20) == 10   # the classes that move
    stats = ClassStats.from_imagenet_lt_table()
    for rule, expected in (('inclusive', (391, 463, 146)), ('exclusive', (385, 479, 136))):
        g = list(stats.groups(rule=rule))
        assert (g.count('many'), g.count('medium'), g.count('few')) == expected
    g = list(stats.groups())
    assert (g.count('many'), g.count('medium'), g.count('few')) == (391, 463, 146)


def test_places_lt_group_sizes_of_both_rules():
    counts = _table('places_lt_counts.csv')
    stats = ClassStats.from_places_lt_table()
    for rule, inclusive in (('inclusive', True), ('exclusive', False)):
        g = list(stats.groups(rule=rule))
        assert (g.count('many'), g.count('medium'), g.count('few')) == _by_hand(counts, inclusive)


def test_shot_groups_boundaries_and_errors():
    counts = [100, 99, 21, 20, 101, 19]
    assert list(shot_groups(counts)) == ['many', 'medium', 'medium', 'few', 'many', 'few']
    assert list(shot_groups(counts, rule='exclusive')) == ['medium', 'medium', 'medium',
                                                           'medium', 'many', 'few']
    with pytest.raises(ValueError, match='rule'):
        shot_groups(counts, rule='oltr')
    with pytest.raises(ValueError, match='lo < hi'):
        shot_groups(counts, thresholds=(100, 20))


@pytest.mark.parametrize('rule', ['inclusive', 'exclusive'])
def test_long_tail_accuracy_split_rule(rule):
    # classes: 0 has 150 images, 1 has exactly 100, 2 has 50, 3 has exactly 20, 4 has 5
    counts = [150, 100, 50, 20, 5]
    metric = LongTailAccuracy(class_counts=counts, split_rule=rule)
    # per-class accuracy 1, 0.5, 0, 1, 0 (two test samples each)
    rows = [(0, 0), (0, 0), (1, 1), (0, 1), (0, 2), (0, 2), (3, 3), (3, 3), (0, 4), (0, 4)]
    metric.process(None, [dict(pred_label=torch.tensor([p]), gt_label=torch.tensor([g]))
                          for p, g in rows])
    out = metric.compute_metrics(metric.results)
    acc = np.array([1.0, 0.5, 0.0, 1.0, 0.0]) * 100
    if rule == 'inclusive':   # many {0, 1}, medium {2}, few {3, 4}
        expected = dict(many=acc[[0, 1]].mean(), medium=acc[2], few=acc[[3, 4]].mean())
    else:                     # many {0}, medium {1, 2, 3}, few {4}
        expected = dict(many=acc[0], medium=acc[[1, 2, 3]].mean(), few=acc[4])
    for name, value in expected.items():
        assert out[name] == pytest.approx(value)
    assert out['top1'] == pytest.approx(50.0)
    with pytest.raises(ValueError, match='split_rule'):
        LongTailAccuracy(class_counts=counts, split_rule='>=')
