"""tools/analysis/compare_reports.py (ltr_plugins.tools.compare_reports): the results tables of
report pages read back cell by cell, and compared."""
import copy

import pytest
from ltr_testing import REPO

from ltr_plugins.benchmarking import report
from ltr_plugins.benchmarking.suites import COLUMNS
from ltr_plugins.tools import compare_reports as cr

CE, IIF = 'configs/baselines/demo/convnet_1xb64-30e_demo-cls.py', 'configs/iif/demo/x.py'
TITLE = 'Classification — end-to-end tier'


def _runs(top1, few, minutes=3.0):
    return {seed: {'accuracy/top1': t, 'accuracy/many': 90.0, 'accuracy/medium': 50.0,
                   'accuracy/few': f, 'minutes': minutes + seed}
            for seed, (t, f) in enumerate(zip(top1, few))}


def _page(rows):
    """A page as tools/benchmark_lt.py --report writes it: a section per table, each results
    table followed by its FLOP table (which is not a results table)."""
    body = (f'## {TITLE}: every row trains its whole model\n\n' +
            report.table('cls', rows, COLUMNS['cls']) +
            '\n\n| method | train GFLOP / run | test GFLOP / run | runs | TFLOP, all runs |\n'
            '|---|---|---|---|---|\n| CE (linear) | 1 | 2 | 3 | 0.0 |\n')
    return report.page('Benchmark', 'python tools/benchmark_lt.py', [('date', 'today')], body)


ROWS = [('CE (linear)', CE, _runs([50.0, 60.0, 40.0], [5.0, 10.0, 0.0])),
        ('IIF', IIF, _runs([55.0, 61.0, 45.0], [15.0, 12.0, 6.0]))]


def test_tables_read_back_what_the_report_printed():
    tables = report.results_tables(_page(ROWS))
    assert list(tables) == [(TITLE, 'CE (linear)', '`convnet_1xb64-30e_demo-cls.py`'),
                            (TITLE, 'IIF', '`x.py`')]
    iif = tables[(TITLE, 'IIF', '`x.py`')]
    # mean ± std over seeds (55, 61, 45: mean 53.7, sample std 8.1), the paired few difference
    assert iif['top-1'] == '53.7 ± 8.1' and iif['seeds'] == '3' and iif['minutes / run'] == '4.0'
    assert iif['Δ few vs CE (linear) [95% CI]'].startswith('+6.0 [')


def test_a_changed_run_differs_in_its_cells_only():
    changed = copy.deepcopy(ROWS)
    changed[1][2][0]['accuracy/many'] = 99.0  # IIF, seed 0: many 90 -> 99
    for seed in (0, 1, 2):  # every timing differs: not compared by default
        changed[0][2][seed]['minutes'] += 1
    old, new = report.results_tables(_page(ROWS)), report.results_tables(_page(changed))
    differences, only_old, only_new, equal = cr.compare(old, new)
    assert differences == [(TITLE, 'IIF', 'many', '90.0 ± 0.0', '93.0 ± 5.2')]
    assert only_old == only_new == []
    assert equal == 2 * 9 - 1  # 10 columns a row, minutes not compared
    differences, *_ = cr.compare(old, new, ignore=())
    assert [d[2] for d in differences] == ['minutes / run', 'many']


def test_rows_only_one_page_has_and_the_exit_status(tmp_path, capsys):
    a, b = tmp_path / 'a.md', tmp_path / 'b.md'
    a.write_text(_page(ROWS))
    b.write_text(_page(ROWS[:1]))
    assert cr.main([str(a), str(b)]) == 0  # no shared cell differs
    out = capsys.readouterr().out
    assert f'only in {a}: {TITLE} | IIF (`x.py`)' in out
    assert out.strip().endswith('1 rows in both: 9 cells equal, 0 differ')
    b.write_text(_page([ROWS[0], ('IIF', IIF, _runs([55.0, 61.0, 45.0], [15.0, 12.0, 9.0]))]))
    assert cr.main([str(a), str(b)]) == 1
    assert '| Classification — end-to-end tier | IIF | few | 11.0 ± 4.6 | 12.0 ± 3.0 |' in \
        capsys.readouterr().out


def test_columns_compares_only_the_columns_named(tmp_path, capsys):
    # IIF's few-shot accuracy moves (15 -> 13 in seed 0) but its verdict stays
    changed = [ROWS[0], ('IIF', IIF, _runs([55.0, 61.0, 45.0], [13.0, 12.0, 6.0]))]
    old, new = report.results_tables(_page(ROWS)), report.results_tables(_page(changed))
    differences, _, _, equal = cr.compare(old, new, columns=['verdict'])
    assert differences == [] and equal == 2  # one verdict per row
    assert [d[2] for d in cr.compare(old, new)[0]] == ['few', 'Δ few vs CE (linear) [95% CI]']
    a, b = tmp_path / 'a.md', tmp_path / 'b.md'
    a.write_text(_page(ROWS))
    b.write_text(_page(changed))
    assert cr.main([str(a), str(b), '--columns', 'verdict']) == 0
    assert cr.main([str(a), str(b)]) == 1
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cr.main([str(a), str(b), '--columns', 'verdicts'])
    assert "no results table of either page has ['verdicts']" in capsys.readouterr().err


def test_a_malformed_row_is_named_by_page_and_line():
    page = _page(ROWS).replace('| IIF | `x.py` |', '| IIF | `x.py` | extra |')
    line = page.splitlines().index(next(x for x in page.splitlines() if '| IIF |' in x)) + 1
    with pytest.raises(ValueError, match=rf'mine.md:{line}: 11 cells under a header of 10'):
        report.results_tables(page, 'mine.md')


@pytest.mark.parametrize('half', ['quick_cls_demo.md', 'quick_det_demo.md'])
def test_the_quick_tier_per_task_equals_both_tasks_in_one_call(half):
    """docs/benchmarks/README.md ("The quick tier per task") says each task's call gave every
    cell of quick_demo_group_test.md's tables for that task."""
    pages = REPO / 'docs' / 'benchmarks'
    both = report.results_tables((pages / 'quick_demo_group_test.md').read_text())
    one = report.results_tables((pages / half).read_text())
    differences, only_one, _, equal = cr.compare(one, both)
    assert differences == [] and only_one == [] and equal >= 8 * len(one)


def test_the_quick_tier_made_in_a_fresh_folder_with_records_equals_the_page_before():
    """docs/benchmarks/README.md ("Reuse") says the quick tier made on a fresh --out by the
    runner that records made_from (quick_demo_reuse.md) equals quick_demo_group_test.md in
    every cell, and that the detection shared tier of the quick and full tiers (groups of 6
    and 7) differ in 37 cells, all in the detection shared tier."""
    pages = REPO / 'docs' / 'benchmarks'
    before, again, full = (report.results_tables((pages / p).read_text()) for p in (
        'quick_demo_group_test.md', 'quick_demo_reuse.md', 'full_jobs_demo.md'))
    differences, only_one, only_other, equal = cr.compare(before, again)
    assert (differences, only_one, only_other, equal) == ([], [], [], 152)
    differences, *_ = cr.compare(before, full)
    assert len(differences) == 37
    assert {d[0] for d in differences} == {
        'Instance segmentation (LVIS-format) — shared-backbone tier'}


def test_a_grouped_run_is_the_same_measurement_on_the_quick_and_full_pages():
    """docs/benchmarks/README.md ("Reuse") says that since the groups start every member as
    alone and draw the control's stream, the quick and full tiers' pages agree in every cell
    of the rows both have, and that against the pages made by the earlier groups only the
    detection shared tier differs: 44 cells of the full tier, 37 of the quick tier."""
    pages = REPO / 'docs' / 'benchmarks'
    quick, full, full_before, quick_before = (
        report.results_tables((pages / p).read_text()) for p in (
            'quick_regroup_demo.md', 'full_regroup_demo.md', 'full_jobs_demo.md',
            'quick_demo_reuse.md'))
    differences, _, _, equal = cr.compare(quick, full)
    assert (differences, equal) == ([], 152)
    shared_det = {'Instance segmentation (LVIS-format) — shared-backbone tier'}
    for before, now, count in ((full_before, full, 44), (quick_before, quick, 37)):
        differences, only_one, only_other, _ = cr.compare(before, now)
        assert len(differences) == count and {d[0] for d in differences} == shared_det
        assert only_one == only_other == []


def test_the_one_thread_table_is_the_two_pages():
    """docs/benchmarks/README.md ("Another rounding") tables each method row's tail Δ and
    verdict on the 2-thread and the 1-thread quick-tier pages, and counts 6 changed verdicts:
    every cell of its table is the pages' (names and verdicts shortened, '−' for '-')."""
    pages = REPO / 'docs' / 'benchmarks'
    two, one = (report.results_tables((pages / p).read_text())
                for p in ('quick_demo_group_test.md', 'quick_demo_1thread.md'))
    changed, *_ = cr.compare(two, one, columns=['verdict'])
    text = (pages / 'README.md').read_text().split('### Another rounding', 1)[1]
    rows = [[c.strip().replace('−', '-').strip('*') for c in line.strip('|').split('|')]
            for line in text.splitlines() if line.startswith(('| cls', '| det'))]
    assert len(rows) == 12 and '6 of the 12 method verdicts' in text and len(changed) == 6
    tiers = {'cls, end to end': 'Classification — end-to-end tier',
             'cls, shared': 'Classification — shared-backbone tier',
             'det, shared': 'Instance segmentation (LVIS-format) — shared-backbone tier'}
    for tier, name, d_two, d_one, v_two, v_one in rows:
        cells = []
        for page in (two, one):
            [row] = [r for (s, m, _), r in page.items() if s == tiers[tier] and m.startswith(name)]
            cells.append(row)
        deltas = [next(v for k, v in c.items() if k.startswith('Δ')) for c in cells]
        assert deltas == [d_two, d_one], name
        assert cells[0]['verdict'].startswith(v_two) and cells[1]['verdict'].startswith(v_one)
        assert ((tiers[tier], cells[0]['method'], 'verdict', cells[0]['verdict'],
                 cells[1]['verdict']) in changed) == (v_two != v_one), name


def test_over_six_seeds_two_verdicts_change_with_the_rounding():
    """docs/benchmarks/README.md ("Another rounding"): over 6 seeds, the 1-thread page and the
    2-thread shared tier differ in the verdicts of OLTR's and LGR's detection heads only."""
    pages = REPO / 'docs' / 'benchmarks'
    two, one = (report.results_tables((pages / p).read_text())
                for p in ('shared_6seeds_demo.md', 'quick_demo_1thread_6seeds.md'))
    changed, *_, equal = cr.compare(two, one, columns=['verdict'])
    assert equal == 10  # 2 controls and 8 of the 10 methods
    assert [(method, old, new) for _, method, _, old, new in changed] == [
        ('OLTR head (fine-tune from CE)', 'not distinguishable',
         'below control: CE classifier retrained'),
        ('LGR (VL-LTR anchors)', 'not distinguishable', 'below control: CE classifier retrained')]


def test_the_sized_detector_changes_detection_only():
    """docs/benchmarks/README.md ("The quick tier on the sized detector"): the quick tier made
    on the demo detector sized for its images against the page made before it: every
    classification cell equal, the 47 that differ all in the detection tables, and one of the
    16 verdicts changed, the cosine classifier's detection row; its detection CE row is the
    spread ltr-demo compares a run with."""
    pages = REPO / 'docs' / 'benchmarks'
    before, now = (report.results_tables((pages / p).read_text())
                   for p in ('quick_regroup_demo.md', 'quick_det14_demo.md'))
    differences, only_before, only_now, _ = cr.compare(before, now)
    assert only_before == only_now == []
    assert len(differences) == 47
    assert {d[0].split(' — ')[0] for d in differences} == {
        'Instance segmentation (LVIS-format)'}
    verdicts, _, _, equal = cr.compare(before, now, columns=['verdict'])
    assert equal == 15
    assert [(d[1], d[3], d[4]) for d in verdicts] == [
        ('cosine τ=20', 'above control: CE classifier retrained', 'not distinguishable')]
    ce = next(c for (section, method, _), c in now.items()
              if section.startswith('Instance segmentation') and 'end-to-end' in section
              and method == 'CE (linear)')
    assert (ce['AP'], ce['APr'], ce['box AP']) == ('18.1 ± 1.0', '1.1 ± 0.3', '29.5 ± 2.1')


def test_the_sized_detector_table_is_the_two_pages():
    """docs/benchmarks/README.md ("The quick tier on the sized detector") tables the detection
    shared tier's Δ APr over 6 seeds on the detector before and on the sized one: every cell
    is the pages' ('−' for '-'), and on the sized detector only LGR separates (below)."""
    pages = REPO / 'docs' / 'benchmarks'
    before, sized = (report.results_tables((pages / p).read_text()) for p in (
        'shared_6seeds_regroup_demo.md', 'quick_det14_6seeds.md'))
    text = (pages / 'README.md').read_text()
    head = '| shared tier, Δ APr vs the control, 6 seeds | detector before | sized detector |'
    lines = text[text.index(head):].split('\n\n')[0].splitlines()[2:]
    assert len(lines) == 6
    column = 'Δ APr vs control: CE classifier retrained [95% CI]'

    def cell(tables, method):
        return next(c for (section, m, _), c in tables.items()
                    if 'shared-backbone' in section and m == method)[column]

    for line in lines:
        method, *cells = (c.strip().strip('*').replace('−', '-')
                          for c in line.strip('|').split('|'))
        assert cells == [cell(before, method), cell(sized, method)], method
    verdicts = {m: c['verdict'] for (section, m, _), c in sized.items()
                if 'shared-backbone' in section and c['verdict'] != 'baseline'}
    assert {m for m, v in verdicts.items() if v != 'not distinguishable'} == {
        'LGR (VL-LTR anchors)'}


def test_the_full_tier_on_the_sized_detector():
    """docs/benchmarks/README.md ("The full tier on the sized detector"): against the full
    tier made before the detector was sized, every classification cell equal and the 102 that
    differ all in detection; two verdicts changed (the cosine classifier's and EQLv2's detection
    rows); the rows shared with the quick tier of the same detector equal in all 152 cells."""
    pages = REPO / 'docs' / 'benchmarks'
    before, full, quick = (report.results_tables((pages / p).read_text()) for p in (
        'full_regroup_demo.md', 'full_det14_demo.md', 'quick_det14_demo.md'))
    differences, only_before, only_full, _ = cr.compare(before, full)
    assert only_before == only_full == [] and len(differences) == 102
    assert {d[0].split(' — ')[0] for d in differences} == {'Instance segmentation (LVIS-format)'}
    verdicts, _, _, equal = cr.compare(before, full, columns=['verdict'])
    assert equal == 32
    assert [(d[1], d[4]) for d in verdicts] == [
        ('cosine τ=20', 'not distinguishable'), ('peer: EQLv2', 'not distinguishable')]
    differences, _, _, equal = cr.compare(quick, full)
    assert (differences, equal) == ([], 152)


def test_the_shared_tier_over_six_seeds_on_the_sized_detector():
    """docs/benchmarks/README.md ("The shared tier over 6 seeds on the sized detector"): every
    classification cell equal to the 6-seed page of the detector before and only detection
    cells differ; the 7 rows shared with quick_det14_6seeds.md equal in all 70 cells; in
    detection only class-aware sampling, EQLv2 (above) and LGR (below) separate, with the
    intervals the benchmarks README and the peers page quote."""
    pages = REPO / 'docs' / 'benchmarks'
    before, quick6, shared6 = (report.results_tables((pages / p).read_text()) for p in (
        'shared_6seeds_demo.md', 'quick_det14_6seeds.md', 'shared_6seeds_det14_demo.md'))
    differences, only_before, only_now, _ = cr.compare(before, shared6)
    assert only_before == only_now == [] and differences
    assert {d[0].split(' — ')[0] for d in differences} == {'Instance segmentation (LVIS-format)'}
    differences, _, _, equal = cr.compare(quick6, shared6)
    assert (differences, equal) == ([], 70)
    column = 'Δ APr vs control: CE classifier retrained [95% CI]'
    detection = {m: c for (s, m, _), c in shared6.items()
                 if s == 'Instance segmentation (LVIS-format) — shared-backbone tier'}
    separated = {m: (c[column], c['verdict']) for m, c in detection.items()
                 if c['verdict'] not in ('baseline', 'not distinguishable')}
    assert separated == {
        'peer: class-aware sampling': ('+0.4 [+0.1, +0.6]',
                                       'above control: CE classifier retrained'),
        'peer: EQLv2': ('+0.2 [+0.0, +0.4]', 'above control: CE classifier retrained'),
        'LGR (VL-LTR anchors)': ('-0.4 [-0.7, -0.1]', 'below control: CE classifier retrained')}
    readme = ' '.join((pages / 'README.md').read_text().split())
    section = readme.split('### The shared tier over 6 seeds on the sized detector')[1]
    peers = ' '.join((REPO / 'docs/methods/peers.md').read_text().split())
    for delta, _ in separated.values():
        assert delta.replace('-', '−') in section.split('###')[0], delta
    for method in ('peer: class-aware sampling', 'peer: EQLv2'):
        assert separated[method][0] in peers, method


#: (method page, row of full_det14_demo.md's detection tables, its Δ APr cell) quoted on the page
SIZED_DETECTOR_QUOTES = [
    ('iif_cosine.md', 'end-to-end', 'IIF post-hoc on CE (linear)', '−0.0 [−1.2, +1.1]'),
    ('iif_cosine.md', 'shared-backbone', 'IIF (linear)', '+0.3 [−1.0, +1.6]'),
    ('iif_cosine.md', 'shared-backbone', 'cosine τ=20', '+0.2 [−0.6, +0.9]'),
    ('iif_cosine.md', 'end-to-end',
     'IIF enhanced recipe (base10_obj, cosine τ=8, cosine mask τ=20, RFS)', '−0.5 [−1.5, +0.5]'),
    ('iif_cosine.md', 'end-to-end', 'IIF enhanced recipe with RFS t=0.15 (base10_obj, cosine '
     'τ=8, cosine mask τ=20)', '+4.0 [+2.3, +5.6]'),
    ('camc.md', 'shared-backbone', 'CAMC + cosine τ=20', '−0.3 [−2.0, +1.4]'),
    ('oltr.md', 'shared-backbone', 'OLTR head (fine-tune from CE)', '−0.7 [−1.9, +0.4]'),
    ('vlltr.md', 'shared-backbone', 'LGR (VL-LTR anchors)', '−0.6 [−1.3, +0.1]'),
    ('peers.md', 'shared-backbone', 'peer: EQLv2', '+0.3 [−0.3, +0.8]'),
    ('peers.md', 'shared-backbone', 'peer: class-aware sampling', '+0.5 [−0.4, +1.3]'),
    ('peers.md', 'shared-backbone', 'peer: Seesaw loss', '−0.1 [−2.3, +2.1]'),
    ('peers.md', 'end-to-end', 'peer: RFS (t=0.15)', '+6.1 [+2.2, +10.0]'),
    ('peers.md', 'end-to-end', 'control: CE, 9 epochs (as many iterations as RFS)',
     '+2.0 [+1.3, +2.8]'),
]


@pytest.mark.parametrize('page, tier, method, delta', SIZED_DETECTOR_QUOTES)
def test_method_pages_quote_the_sized_detector_report(page, tier, method, delta):
    """Each method page's paragraph "On the demo detector sized for its images" quotes the
    Δ APr of full_det14_demo.md's row (the page prints '-', the method pages '−')."""
    tables = report.results_tables((REPO / 'docs/benchmarks/full_det14_demo.md').read_text())
    section = f'Instance segmentation (LVIS-format) — {tier} tier'
    (row,) = [cells for (s, m, _), cells in tables.items() if s == section and m == method]
    baseline = 'CE (linear)' if tier == 'end-to-end' else 'control: CE classifier retrained'
    assert row[f'Δ APr vs {baseline} [95% CI]'] == delta.replace('−', '-')
    text = ' '.join((REPO / 'docs/methods' / page).read_text().split())
    paragraph = text.split('**On the demo detector sized for its images**')[1].split('**')[0]
    assert delta in paragraph, (page, method)


def test_iif_recipes_on_the_sized_detector():
    """docs/benchmarks/README.md ("IIF's detection recipes end to end", sized detector): the
    recipes page reuses the full tier's runs (every cell of its other rows equal, minutes
    aside) and adds the plain recipe end to end, below CE on APr; the IIF method page says so."""
    pages = REPO / 'docs' / 'benchmarks'
    recipes, full = (report.results_tables((pages / p).read_text()) for p in (
        'iif_recipes_det14_demo.md', 'full_det14_demo.md'))
    full_rows = {(m, c): row for (s, m, c), row in full.items()
                 if s == 'Instance segmentation (LVIS-format) — end-to-end tier'}
    plain = 'IIF plain recipe (raw, linear), end to end'
    assert len(recipes) == 5
    for (_, method, config), row in recipes.items():
        if method == plain:
            assert (method, config) not in full_rows
            assert row['Δ APr vs CE (linear) [95% CI]'] == '-0.8 [-0.9, -0.6]'
            assert row['verdict'] == 'below CE (linear)'
        else:
            assert {k: v for k, v in row.items() if k != 'minutes / run'} == \
                {k: v for k, v in full_rows[method, config].items() if k != 'minutes / run'}
    text = ' '.join((REPO / 'docs/methods/iif_cosine.md').read_text().split())
    assert 'is now below CE on APr (−0.8 [−0.9, −0.6])' in text


def test_the_shared_tier_on_the_9_epoch_sized_detector():
    """docs/benchmarks/README.md ("The detection shared tier on a 9-epoch detector", made
    again): no row above the control, LGR the one below; the README's table quotes the page."""
    rows = report.results_tables(
        (REPO / 'docs/benchmarks/shared_9e_det14_demo.md').read_text())
    verdicts = {m: r['verdict'] for (_, m, _), r in rows.items()}
    assert len(verdicts) == 9
    assert [m for m, v in verdicts.items() if v.startswith('above')] == []
    assert [m for m, v in verdicts.items() if v.startswith('below')] == ['LGR (VL-LTR anchors)']
    readme = (REPO / 'docs/benchmarks/README.md').read_text()
    table = readme.split('| row | 6-epoch sized trunk')[1].split('\n\n')[0]
    delta = 'Δ APr vs control: CE classifier retrained [95% CI]'
    for (_, method, _), row in rows.items():
        if row[delta] != '—':
            assert row[delta].replace('-', '−') in table, method
