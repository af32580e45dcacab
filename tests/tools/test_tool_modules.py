"""tools/ thin, logic in the package: every command is ``ltr_plugins.tools.<name>.main``, called
by the console entry points and by the ``tools/*.py`` wrappers; benchmark runs are ``_base_``
overlays of the demo configs; suites are rows of plain data."""
import ast
import os.path as osp

import pytest
from ltr_testing import REPO

from ltr_plugins import cli
from ltr_plugins.benchmarking import runner, suites

#: console entry point -> module of ltr_plugins.tools; checkout wrapper
COMMANDS = {
    'train': ('train', 'tools/train.py'),
    'test': ('test', 'tools/test.py'),
    'check_data': ('check_data', 'tools/check_data.py'),
    'stats': ('class_stats', 'tools/analysis/class_stats.py'),
    'plot': ('plot_per_class', 'tools/analysis/plot_per_class.py'),
    'benchmark': ('benchmark', 'tools/benchmark.py'),
    'demo': ('demo', None),
}
WRAPPERS = {'tools/benchmark_lt.py': 'benchmark_lt',
            'tools/benchmark_detector.py': 'benchmark_detector',
            'tools/analysis/show_cam.py': 'show_cam',
            'tools/analysis/show_generated.py': 'show_generated',
            'tools/analysis/compare_runs.py': 'compare_runs',
            'tools/analysis/compare_reports.py': 'compare_reports',
            'tools/analysis/config_results.py': 'config_results',
            'tools/vlltr/build_class_texts.py': 'build_class_texts',
            'tools/vlltr/select_anchor_sentences.py': 'select_anchor_sentences',
            'tools/publish_model.py': 'publish_model',
            **{w: m for m, w in COMMANDS.values() if w}}
#: the one tools/ script that is not a command of the package: it regenerates a docs page
DEV_SCRIPTS = {'tools/gen_config_reference.py'}


def test_every_tools_script_is_a_known_wrapper():
    """A new tools/ script must be a wrapper listed above (its logic in ltr_plugins.tools)."""
    scripts = {str(p.relative_to(REPO)) for p in (REPO / 'tools').rglob('*.py')}
    assert scripts - DEV_SCRIPTS == set(WRAPPERS)


@pytest.mark.parametrize('entry', sorted(COMMANDS))
def test_console_entry_calls_the_module_main(entry, monkeypatch):
    """Each console script calls its module's main() in this process (no tool file is read)."""
    import importlib
    module = importlib.import_module(f'ltr_plugins.tools.{COMMANDS[entry][0]}')
    calls = []
    monkeypatch.setattr(module, 'main', lambda argv=None: calls.append(argv) or 0)
    monkeypatch.setattr('sys.argv', [f'ltr-{entry}', 'X'])
    try:
        getattr(cli, entry)()
    except SystemExit as e:  # check_data exits with main()'s status
        assert e.code == 0
    assert calls == [None]  # main() reads sys.argv itself (argparse)


def test_cli_usage_names_the_console_script(monkeypatch, capsys):
    monkeypatch.setattr('sys.argv', ['ltr-stats', '--help'])
    with pytest.raises(SystemExit) as done:
        cli.stats()
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith('usage: ltr-stats') and '--variants' in out


@pytest.mark.parametrize('wrapper', sorted(WRAPPERS))
def test_tools_scripts_are_thin_wrappers(wrapper):
    """A tools/ script only puts the checkout on sys.path and calls the package's main()."""
    path = REPO / wrapper
    tree = ast.parse(path.read_text())
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert [(n.module, [a.name for a in n.names]) for n in imports] == [
        (f'ltr_plugins.tools.{WRAPPERS[wrapper]}', ['main'])]
    defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert not defs and len(path.read_text().splitlines()) <= 20, wrapper


def test_suite_rows_are_data_with_existing_configs():
    for suite, tasks in suites.SUITES.items():
        for task, rows in tasks.items():
            if not rows:  # a tier without rows for this task
                continue
            # shared tier: the control retrains a CE classifier on a CE model
            base = rows[0].retrain_from or rows[0].config
            ce = {'cls': (suites.CLS_CE, suites.CLS_CE_B16),
                  'det': (suites.DET_CE, suites.DET_CE_9E, suites.DET_CE_W32)}[task]
            assert rows[0].name in ('CE (linear)', 'plain CE (stage 1)') or \
                (base in ce and rows[0].config in ce), (suite, task)
            names = [r.name for r in rows]
            assert len(set(names)) == len(names), (suite, task)  # table rows are keyed by name
            for row in rows:
                assert isinstance(row, suites.Row)
                for config in (row.config, row.checkpoint_from, row.load_from,
                               row.retrain_from):
                    if config:
                        assert (REPO / config).is_file(), (suite, row.name, config)
                        assert suites.task_of(config) == task, (suite, row.name, config)
    with pytest.raises(KeyError, match="unknown benchmark suite 'nope'"):
        suites.rows_of('nope', 'cls')


def test_rebase_path_compares_folders_not_text():
    r = runner.rebase_path
    assert r('data/demo/classification/', 'bench', 'o') == 'data/bench/classification/'
    assert r('data/demo2/x', 'bench', 'o') == 'data/demo2/x'
    assert r('data/demo/x', 'demo', 'o') == 'data/demo/x'  # demo preset: data stay
    assert r('work_dirs/benchmark_lt', 'bench', 'o') == 'work_dirs/benchmark_lt'
    assert r('work_dirs/benchmark_lt_bench/x/epoch_6.pth', 'bench', 'o') == \
        'work_dirs/benchmark_lt_bench/x/epoch_6.pth'
    assert r('work_dirs/benchmark_lt/run/', 'demo', 'a/b/') == 'a/b/run/'


def test_overlay_merges_into_the_new_config(tmp_path):
    """mmengine merges dicts key by key and replaces lists and non-dicts: the overlay gives a
    changed list whole and a dict that replaces a non-dict with _delete_."""
    from mmengine.config import Config
    base = dict(a=dict(x=1, y=[1, 2], z=dict(k='v')), b=None, c='same', d=dict(p=1, q=2))
    new = dict(a=dict(x=1, y=[1, 3], z=dict(k='w')), b=dict(t=1), c='same', d=dict(p=1))
    body = runner.overlay(base, new)
    assert body == dict(a=dict(y=[1, 3], z=dict(k='w')), b=dict(t=1, _delete_=True),
                        d=dict(p=1, _delete_=True))
    (tmp_path / 'base.py').write_text(Config(base).pretty_text)
    (tmp_path / 'child.py').write_text("_base_ = 'base.py'\n" + Config(body).pretty_text)
    assert Config.fromfile(str(tmp_path / 'child.py')).to_dict() == new


def test_run_config_is_a_minimal_overlay_of_the_demo_config(tmp_path):
    """The bench run of the CE classifier: the file is ``_base_`` plus the changed fields only
    (the optimizer, pipelines, model type ... come from the demo config)."""
    from mmengine.config import Config
    config = suites.CLS_CE
    out = tmp_path / 'ce.py'
    runner.retarget(str(REPO / config), str(out), 'bench', 'elsewhere', seed=4)
    names = {t.id for n in ast.parse(out.read_text()).body if isinstance(n, ast.Assign)
             for t in n.targets}
    base = Config.fromfile(str(REPO / config))
    merged = Config.fromfile(str(out))
    assert '_base_' in names and 'optim_wrapper' not in names and 'train_pipeline' not in names
    for name in names - {'_base_'}:
        assert base.get(name) != merged.get(name), name  # only what changes is written
    assert merged.optim_wrapper == base.optim_wrapper
    assert merged.model.backbone == base.model.backbone
    assert merged.randomness.seed == 4 and merged.model.head.num_classes == 50
    assert 'data/demo' not in out.read_text()
    assert osp.isabs(ast.literal_eval(out.read_text().split('_base_ = ', 1)[1].split('\n')[0]))


def test_quick_tier_is_ce_and_one_headline_row_per_method():
    """--suite quick: two tables (end to end, shared CE backbone) of the rows of all marked
    quick=True, CE first end to end, the retrained-CE control first on the shared backbone,
    one row per method folder, every method of the package and the strongest peer in both
    tasks; head-level rows only on the shared backbone."""
    assert suites.tables_of('quick') == ('quick-e2e', 'quick-shared')
    assert 'quick' not in suites.SUITES  # a name of tiers, not a table
    for task in ('cls', 'det'):
        e2e, shared = suites.SUITES['quick-e2e'][task], suites.SUITES['quick-shared'][task]
        base = suites.CLS_CE if task == 'cls' else suites.DET_CE
        assert e2e[0].config == base and not e2e[0].retrain_from
        assert shared[0].config == base and shared[0].retrain_from == base
        assert all(r.retrain_from == base for r in shared) and not any(r.head for r in e2e)
        quick = [r.config for r in suites.SUITES['all'][task] if r.quick]
        assert [r.config for r in e2e] + [r.config for r in shared[1:]] == \
            [c for c in quick if c in {r.config for r in e2e}] + \
            [c for c in quick if c in {r.config for r in shared[1:]}]
        assert sorted(quick) == sorted([r.config for r in e2e] + [r.config for r in shared[1:]])
        folders = [c.split('/')[1] for c in quick]
        assert len(set(folders)) == len(folders), (task, folders)
        methods = {'baselines', 'iif', 'cosine', 'camc', 'oltr', 'vlltr', 'peers'}
        assert methods <= set(folders), task


def test_full_tier_has_every_row_of_all_once_in_the_cheaper_tier():
    """--suite full: every row of all exactly once, head-level rows retrained on the shared CE
    model (next to the control), the others end to end with CE first, and end to end also the
    model a post-hoc row tests (trained for it anyway: the cosine model under post-hoc IIF),
    right before that row; the quick tier's tables are subsets of it, so a full run's work
    dirs table the quick tier too."""
    assert suites.tables_of('full') == ('full-e2e', 'shared')
    assert 'full' not in suites.SUITES
    for task in ('cls', 'det'):
        every = suites.SUITES['all'][task]
        e2e, shared = suites.SUITES['full-e2e'][task], suites.SUITES['shared'][task]
        assert e2e[0] == every[0] and not any(r.retrain_from for r in e2e)
        sources = [r for r in e2e if r.head]
        for source in sources:  # each right before the row that starts from it
            after = e2e[e2e.index(source) + 1]
            assert source.config in (after.checkpoint_from, after.load_from)
        assert sorted(r.name for r in every) == \
            sorted(r.name for r in e2e + shared[1:] if r not in sources)
        assert len(set(e2e)) == len(e2e)
        assert {r.run_name for r in e2e}.isdisjoint(r.run_name for r in shared)
        assert set(suites.SUITES['quick-e2e'][task]) <= set(e2e)
        assert set(suites.SUITES['quick-shared'][task]) <= set(shared)
    assert [r.name for r in suites.SUITES['full-e2e']['cls'] if r.head] == ['cosine s=16']


def test_iif_recipes_trains_every_recipe_end_to_end_on_the_full_tiers_runs():
    """--suite iif-recipes: CE, IIF's plain and enhanced detection recipes and RFS, all end to
    end; the rows the full tier trains end to end are its own (same run names, so one --out
    serves both) and the plain recipe, head-level in the full tier, is trained whole here."""
    rows = suites.SUITES['iif-recipes']['det']
    assert suites.SUITES['iif-recipes']['cls'] == [] and rows[0].config == suites.DET_CE
    assert not any(r.head or r.retrain_from or r.load_from or r.checkpoint_from for r in rows)
    assert suites.tier_of('iif-recipes') == 'e2e'
    e2e = {r.config: r for r in suites.SUITES['full-e2e']['det']}
    shared = {r.config: r for r in suites.SUITES['shared']['det']}
    plain = suites.det('iif', 'iif-raw_1xb8-6e')
    assert [r.config for r in rows if r.config not in e2e] == [plain]
    assert all(r.run_name == e2e[r.config].run_name for r in rows if r.config != plain)
    assert rows[1].run_name == 'mask-rcnn_r18_fpn_iif-raw_1xb8-6e_demo-lvis'
    assert shared[plain].run_name != rows[1].run_name
    assert sum('RFS' in r.name for r in rows) == 3
