"""tools/analysis/compare_runs.py (ltr_plugins.tools.compare_runs) on hand-made metric files:
the paired difference per column against numpy / scipy computed here, the seeds it uses, and
its errors."""
import json

import numpy as np
import pytest
from scipy import stats

from ltr_plugins.tools import compare_runs

BASE, OTHER = 'convnet_a_demo-cls', 'convnet_b_demo-cls'


def _write(out, run, seed, **metrics):
    folder = out / f'seed_{seed}' / run
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'test_metrics.json').write_text(json.dumps(metrics))


def _cls(top1, few):
    return {'accuracy/top1': top1, 'accuracy/many': 90.0, 'accuracy/medium': 50.0,
            'accuracy/few': few}


def test_paired_difference_per_column_matches_scipy(tmp_path):
    base_few, other_few = [0.0, 30.0, 10.0], [8.0, 35.0, 20.0]
    for seed, (b, o) in enumerate(zip(base_few, other_few)):
        _write(tmp_path, BASE, seed, **_cls(40.0 + seed, b))
        _write(tmp_path, OTHER, seed, **_cls(40.0 + seed, o))
    text = compare_runs.main([str(tmp_path), BASE, OTHER])
    d = np.subtract(other_few, base_few)
    half = stats.t.ppf(0.975, 2) * d.std(ddof=1) / np.sqrt(3)
    assert f'{d.mean():+.1f} [{d.mean() - half:+.1f}, {d.mean() + half:+.1f}]' in text
    verdict = 'higher' if d.mean() - half > 0 else 'not distinguishable'
    rows = [line for line in text.splitlines() if line.startswith(f'| `{OTHER}')]
    diff_row, seeds_row = rows[1:]
    assert diff_row.split('|')[-2].strip().endswith(verdict)
    # top-1 is equal on every seed: a zero difference with a zero-width interval
    assert '+0.0 [+0.0, +0.0]' in diff_row
    # seeds to resolve few: the first n with t(n-1) * sd / sqrt(n) below the mean
    n = next(k for k in range(2, 100)
             if stats.t.ppf(0.975, k - 1) * d.std(ddof=1) / np.sqrt(k) < d.mean())
    assert seeds_row.split('|')[-2].strip() == str(n) and seeds_row.split('|')[2].strip() == '-'
    assert f'{np.mean(other_few):.1f} ± {np.std(other_few, ddof=1):.1f}' in text


def test_detection_runs_are_in_percent_and_seeds_default_to_the_finished_ones(tmp_path):
    a, b = 'mask-rcnn_r18_fpn_a_demo-lvis', 'mask-rcnn_r18_fpn_b_demo-lvis_head-retrain'
    for seed in (0, 1, 2):
        _write(tmp_path, a, seed, **{'lvis/segm_AP': 0.10 + seed / 100, 'lvis/segm_APr': 0.01})
    for seed in (0, 1):  # seed 2 unfinished: left out of the default seeds
        _write(tmp_path, b, seed, **{'lvis/segm_AP': 0.12 + seed / 100, 'lvis/segm_APr': 0.01})
    runs = compare_runs.load_runs(str(tmp_path), [a, b])
    assert sorted(runs[a]) == [0, 1]
    text = compare_runs.compare(runs)
    assert '+2.0 [+2.0, +2.0] higher' in text  # segm AP +0.02 -> +2.0 points
    with pytest.raises(FileNotFoundError, match='seed_2.*mask-rcnn_r18_fpn_b'):
        compare_runs.load_runs(str(tmp_path), [a, b], seeds=[0, 1, 2])


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match='no seed_<S> folder'):
        compare_runs.load_runs(str(tmp_path), [BASE, OTHER])
    _write(tmp_path, BASE, 0, **_cls(40.0, 0.0))
    _write(tmp_path, 'mask-rcnn_r18_fpn_a_demo-lvis', 0, **{'lvis/segm_AP': 0.1})
    with pytest.raises(ValueError, match='different tasks'):
        compare_runs.main([str(tmp_path), BASE, 'mask-rcnn_r18_fpn_a_demo-lvis'])
