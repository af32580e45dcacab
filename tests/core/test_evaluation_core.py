"""ltr_plugins.core.evaluation on hand-built inputs: per-category AP from an LVIS precision
array, reliability bins and ECE."""
import numpy as np
import pytest


def test_per_category_ap_on_hand_built_precision():
    from ltr_plugins.core.evaluation import per_category_ap
    p = -np.ones((2, 3, 3, 2))           # T=2, R=3, K=3, A=2; category 2 has no ground truth
    p[:, :, 0, 0] = [[1.0, 0.5, 0.0], [1.0, 1.0, 0.5]]
    p[:, :, 1, 0] = 0.25
    p[:, :, :2, 1] = 0.9                 # another area range: ignored
    ap = per_category_ap(p)
    assert ap[0] == pytest.approx(4.0 / 6) and ap[1] == pytest.approx(0.25)
    assert np.isnan(ap[2])
    valid = p[:, :, :, 0]
    assert np.nanmean(ap) == pytest.approx(valid[valid > -1].mean())  # = the LVIS AP formula


def test_reliability_bins_hand_computed():
    from ltr_plugins.core.evaluation import reliability_bins
    conf = np.array([0.05, 0.1, 0.95, 1.0, 0.55])
    hit = np.array([0, 1, 1, 1, 0])
    r = reliability_bins(conf, hit, num_bins=10)
    assert r['count'].tolist() == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2]   # (lo, hi] bins, 0 in the 1st
    assert r['confidence'][0] == pytest.approx(0.075) and r['accuracy'][0] == 0.5
    assert r['accuracy'][9] == 1.0 and np.isnan(r['accuracy'][1])
    # ECE = (2 * |0.5 - 0.075| + 1 * |0 - 0.55| + 2 * |1 - 0.975|) / 5
    assert float(r['ece']) == pytest.approx((2 * 0.425 + 0.55 + 2 * 0.025) / 5)
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        reliability_bins(np.array([1.5]), np.array([1]))
