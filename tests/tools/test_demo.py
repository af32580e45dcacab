"""ltr-demo's spread table (ltr_plugins.tools.demo): every number of DEMO_SPREAD equals the
row of the report it names, and a run is called inside / outside the spread by the distance
computed here."""
import re

import pytest
from ltr_testing import REPO

from ltr_plugins.benchmarking.report import results_tables
from ltr_plugins.tools import demo


def _report_row(report: str, row: str, config: str) -> dict:
    """``{column: cell}`` of the first results-table row of ``report`` named ``row`` whose
    config cell is ``config``'s file name (read as tools/analysis/compare_reports.py reads)."""
    tables = results_tables((REPO / report).read_text(), report)
    key = (row, f'`{config.rsplit("/", 1)[-1]}`')
    cells = next((c for (_, *k), c in tables.items() if tuple(k) == key), None)
    assert cells, f'{report}: no row {row!r} of {config}'
    return cells


@pytest.mark.parametrize('task', sorted(demo.DEMO_CONFIGS))
def test_spread_is_the_reports(task):
    spread = demo.DEMO_SPREAD[task]
    cells = _report_row(spread.report, spread.row, demo.DEMO_CONFIGS[task])
    assert int(cells['seeds']) == spread.seeds
    for column, _, _, mean, std in spread.columns:
        match = re.fullmatch(r'(-?[\d.]+) ± ([\d.]+)', cells[column])
        assert match, (column, cells[column])
        assert (float(match[1]), float(match[2])) == (mean, std), column


def test_inside_and_outside_the_spread():
    spread = demo.DEMO_SPREAD['det']
    _, key, scale, mean, std = spread.columns[0]  # segm AP, metrics in [0, 1]
    metrics = {k: (m / s) for _, k, s, m, _ in spread.columns}  # every column at its mean
    inside = dict(metrics, **{key: (mean + 1.9 * std) / scale})
    outside = dict(metrics, **{key: (mean - 2.1 * std) / scale})
    rows = demo.spread_report('det', inside).splitlines()
    assert len(rows) == 1 + len(spread.columns)
    assert rows[1].split()[:2] == ['AP', f'{mean + 1.9 * std:.1f}']
    assert all(r.endswith('inside') for r in rows[1:])
    rows = demo.spread_report('det', outside).splitlines()
    assert len(rows) == 2 + len(spread.columns)  # and a pointer to the docs
    assert rows[1].endswith('outside') and all(r.endswith('inside') for r in rows[2:-1])
    assert rows[-1].split()[:3] == ['AP', 'outside', 'the']


def test_missing_metric_is_named():
    with pytest.raises(KeyError, match='accuracy/few'):
        demo.spread_report('cls', {'accuracy/top1': 50.0, 'accuracy/many': 90.0,
                                   'accuracy/medium': 60.0})
