"""ltr_plugins.benchmarking.stats: mean ± std and paired intervals against independent
computations (numpy, scipy's paired t-test)."""
import math

import numpy as np
import pytest
from scipy import stats

from ltr_plugins.benchmarking.stats import (NOT_DISTINGUISHABLE, paired_by_seed, paired_difference,
                                            seeds_to_resolve, summarize)


def test_summarize_matches_numpy():
    values = [35.3, 44.8, 40.1, 38.0]
    s = summarize(values)
    assert s.mean == pytest.approx(np.mean(values))
    assert s.std == pytest.approx(np.std(values, ddof=1))
    assert s.format() == f'{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f}'
    one = summarize([0.25])
    assert math.isnan(one.std) and one.format(scale=100) == '25.0'
    with pytest.raises(ValueError, match='no values'):
        summarize([])


@pytest.mark.parametrize('confidence', [0.9, 0.95, 0.99])
def test_paired_interval_matches_scipy_paired_t_test(confidence):
    rng = np.random.default_rng(0)
    base = rng.normal(50, 5, size=5)
    method = base + rng.normal(2, 1, size=5)
    d = paired_difference(list(method), list(base), confidence)
    ci = stats.ttest_rel(method, base).confidence_interval(confidence)
    assert d.mean == pytest.approx(np.mean(method - base))
    assert d.std == pytest.approx(np.std(method - base, ddof=1))
    assert (d.low, d.high) == (pytest.approx(ci.low), pytest.approx(ci.high))


def test_verdict_only_where_the_interval_excludes_zero():
    assert paired_difference([12, 13, 14], [10, 10, 11]).verdict == 'higher'
    assert paired_difference([8, 7, 9], [10, 10, 11]).verdict == 'lower'
    noisy = paired_difference([15, 5, 12], [10, 10, 11])  # mean +0.3, spread 5
    assert noisy.low < 0 < noisy.high and noisy.verdict == NOT_DISTINGUISHABLE
    single = paired_difference([20], [10])
    assert single.mean == 10 and single.verdict == NOT_DISTINGUISHABLE and math.isnan(single.std)
    assert single.format() == '+10.0'
    with pytest.raises(ValueError, match='pair them by seed'):
        paired_difference([1, 2], [1])


def test_paired_by_seed_uses_the_shared_seeds_only():
    d = paired_by_seed({0: 5.0, 1: 7.0, 2: 100.0}, {0: 4.0, 1: 5.0, 3: 0.0})
    assert d.n == 2 and d.mean == pytest.approx(1.5)
    assert paired_by_seed({0: 1.0}, {1: 1.0}) is None


def test_seeds_to_resolve_is_the_first_n_whose_interval_excludes_zero():
    # sd 1, mean 1: t(5)/sqrt(6) = 1.05 > 1, t(6)/sqrt(7) = 0.92 < 1 -> 7 seeds
    assert stats.t.ppf(0.975, 5) / np.sqrt(6) > 1 > stats.t.ppf(0.975, 6) / np.sqrt(7)
    assert seeds_to_resolve(1.0, 1.0) == 7 and seeds_to_resolve(-1.0, 1.0) == 7
    for mean, std in ((0.3, 1.7), (2.0, 0.5), (0.8, 0.8)):
        n = seeds_to_resolve(mean, std)
        # the interval of n paired values with that mean and sd excludes zero, of n - 1 not
        half = lambda k: stats.t.ppf(0.975, k - 1) * std / np.sqrt(k)  # noqa: E731
        assert half(n) < mean and (n == 2 or half(n - 1) >= mean)
    assert seeds_to_resolve(1.0, 0.0) == 2
    assert seeds_to_resolve(0.0, 1.0) is None and seeds_to_resolve(0.01, 10.0) is None
