"""tools/analysis/config_results.py (ltr_plugins.tools.config_results): the demo configs'
results in their folders' README and metafile come from one report page, and stay equal to it."""
from pathlib import Path

import pytest
import yaml
from ltr_testing import REPO

from ltr_plugins.tools import config_results as cr

#: the report page the config folders show (their README's "Numbers" section names it)
PAGE = 'docs/benchmarks/full_det14_demo.md'

REPORT = """# Benchmark: `--suite x` on the embedded demo data

Made by

```bash
python tools/benchmark_lt.py --suite x --seeds 0 1 2 --report r.md
```

- **date**: 2026-12-07 12:37 UTC
- **commit**: abc1234
- **data**: embedded `demo` preset (the same images for every seed)
- **seeds**: 0 1 2 (`randomness.seed` of every run)

## Classification — end-to-end tier: every row trains its whole model

| method | config | top-1 | many | medium | few | Δ few vs CE [95% CI] | verdict |
|---|---|---|---|---|---|---|---|
| CE | `x_demo-cls.py` | 50.5 ± 14.9 | 90.3 ± 7.6 | 59.8 ± 26.8 | 7.1 ± 11.2 | — | baseline |

## Instance segmentation (LVIS-format) — shared-backbone tier: every row retrains its classifier

""" + '\n'.join([
    '| method | config | AP | APr | APc | APf | box AP | Δ APr vs control [95% CI] | verdict '
    '| seeds | minutes / run |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    '| control | `c_demo-lvis.py` | 19.6 ± 1.8 | 0.9 ± 0.5 | 23.0 ± 1.4 | 34.9 ± 3.7 | 34.0 ± 2.0 '
    '| — | baseline | 3 | 1.0 |',
    '| IIF | `y_demo-lvis.py` | 19.9 ± 1.6 | 1.2 ± 0.8 | 23.2 ± 2.4 | 35.4 ± 2.2 | 34.2 ± 1.6 '
    '| +0.3 [-1.0, +1.6] | not distinguishable | 3 | 1.0 |', ''])

METAFILE = """# a comment kept
Collections:
- Name: {name}
Models:
- Name: {model}
  Config: configs/{folder}/demo/{model}.py
  Results:
  - Task: Image Classification
    Dataset: embedded data, bench preset
    Metrics:
      Top 1 Accuracy: 83.1
- Name: real
  Config: configs/{folder}/real.py
  Paper Results:
    Source: a paper
    Metrics:
      box AP: 22.5
"""


def _tree(root: Path) -> None:
    """configs/a (demo x_demo-cls, c_demo-lvis) and configs/b (demo y_demo-lvis), READMEs with
    the markers, metafiles with stale Results; the report page r.md."""
    for folder, models in (('a', ('x_demo-cls', 'c_demo-lvis')), ('b', ('y_demo-lvis',))):
        (root / 'configs' / folder / 'demo').mkdir(parents=True)
        for model in models:
            (root / 'configs' / folder / 'demo' / f'{model}.py').write_text('')
        (root / 'configs' / folder / 'README.md').write_text(
            f'# {folder}\n\nbefore\n\n{cr.BEGIN}\nold numbers\n{cr.END}\n\nafter\n')
        (root / 'configs' / folder / 'metafile.yml').write_text(
            METAFILE.format(name=folder, folder=folder, model=models[-1]))
    (root / 'r.md').write_text(REPORT)


def test_the_config_folders_show_the_report_they_name():
    """What the committed READMEs and metafiles say equals what the page gives (rerun the tool
    after a new report: python tools/analysis/config_results.py PAGE)."""
    assert cr.main([PAGE, '--check']) == 0
    for folder in ('baselines', 'iif', 'cosine', 'camc', 'oltr', 'vlltr', 'peers'):
        assert f'[{Path(PAGE).name}](../../{PAGE})' in \
            (REPO / 'configs' / folder / 'README.md').read_text()


def test_metafile_results_are_the_means_of_the_end_to_end_rows(tmp_path):
    _tree(tmp_path)
    files = cr.expected_files('r.md', tmp_path)
    meta_a = yaml.safe_load(files[tmp_path / 'configs/a/metafile.yml'])
    c_model, real = meta_a['Models']
    # c_demo-lvis has only a shared-backbone row: its stale Results go, nothing replaces them
    assert 'Results' not in c_model
    assert real['Paper Results'] == {'Source': 'a paper', 'Metrics': {'box AP': 22.5}}
    assert files[tmp_path / 'configs/a/metafile.yml'].startswith('# a comment kept\n')
    # x_demo-cls is not in a's metafile (it lists c only); give it an entry and rerun
    (tmp_path / 'configs/a/metafile.yml').write_text(
        METAFILE.format(name='a', folder='a', model='x_demo-cls'))
    x_model = yaml.safe_load(cr.expected_files('r.md', tmp_path)[
        tmp_path / 'configs/a/metafile.yml'])['Models'][0]
    assert x_model['Results'] == [{
        'Task': 'Image Classification',
        'Dataset': 'embedded long-tailed classification data (demo preset)',
        'Metrics': {'Top 1 Accuracy': 50.5, 'Many': 90.3, 'Medium': 59.8, 'Few': 7.1}}]


def test_detection_end_to_end_rows_give_box_and_mask_results():
    tables = {('Instance segmentation (LVIS-format) — end-to-end tier', 'CE', '`z.py`'): {
        'AP': '18.1 ± 1.0', 'APr': '1.1 ± 0.3', 'APc': '20.1 ± 1.9', 'APf': '33.1 ± 2.2',
        'box AP': '29.5 ± 2.1'}}
    assert cr.metafile_results(tables, 'demo')['z.py'] == [
        {'Task': 'Object Detection', 'Dataset': 'embedded LVIS-format data (demo preset)',
         'Metrics': {'box AP': 29.5}},
        {'Task': 'Instance Segmentation', 'Dataset': 'embedded LVIS-format data (demo preset)',
         'Metrics': {'mask AP': 18.1, 'APr': 1.1, 'APc': 20.1, 'APf': 33.1}}]


def test_readme_tables_copy_the_report_cells_between_the_markers(tmp_path):
    _tree(tmp_path)
    files = cr.expected_files('r.md', tmp_path)
    readme_b = files[tmp_path / 'configs/b/README.md']
    assert readme_b.startswith(f'# b\n\nbefore\n\n{cr.BEGIN}\n')
    assert readme_b.endswith(f'{cr.END}\n\nafter\n')
    assert 'old numbers' not in readme_b
    assert ('| [demo/y_demo-lvis.py](demo/y_demo-lvis.py) | IIF | 19.9 ± 1.6 | 1.2 ± 0.8 | '
            '23.2 ± 2.4 | 35.4 ± 2.2 | 34.2 ± 1.6 | +0.3 [-1.0, +1.6] | not distinguishable |'
            ) in readme_b
    assert '**Instance segmentation (LVIS-format) — shared-backbone tier**' in readme_b
    assert 'c_demo-lvis' not in readme_b  # a's row, not b's
    prose = ' '.join(readme_b.split())
    for fact in ('over seeds 0 1 2 of [r.md](../../r.md)', '2026-12-07 12:37 UTC',
                 'commit abc1234',
                 '`python tools/benchmark_lt.py --suite x --seeds 0 1 2 --report r.md`'):
        assert fact in prose
    readme_a = files[tmp_path / 'configs/a/README.md']
    assert readme_a.index('x_demo-cls.py') < readme_a.index('c_demo-lvis.py')  # page order


def test_main_writes_once_then_checks_clean(tmp_path, monkeypatch, capsys):
    _tree(tmp_path)
    monkeypatch.setattr(cr, 'ROOT', tmp_path)
    readme = tmp_path / 'configs/b/README.md'
    before = readme.read_text()
    assert cr.main(['r.md', '--check']) == 1  # stale, named, and left as it was
    assert 'configs/b/README.md: differ from r.md' in capsys.readouterr().out
    assert readme.read_text() == before
    assert cr.main(['r.md']) == 0
    assert cr.main(['r.md', '--check']) == 0
    assert '0 file(s) differ' in capsys.readouterr().out.splitlines()[-1]


def test_bad_input_names_the_file(tmp_path):
    _tree(tmp_path)
    (tmp_path / 'r.md').write_text(REPORT.replace('`y_demo-lvis.py`', '`gone_demo-lvis.py`'))
    with pytest.raises(ValueError, match=r'r\.md: .*gone_demo-lvis\.py, which is no demo'):
        cr.expected_files('r.md', tmp_path)
    (tmp_path / 'r.md').write_text(REPORT.replace('- **data**', '- **not data**'))
    with pytest.raises(ValueError, match=r'r\.md: no "- \*\*data\*\*'):
        cr.expected_files('r.md', tmp_path)
    (tmp_path / 'r.md').write_text(REPORT)
    (tmp_path / 'configs/b/README.md').write_text('# b, no markers\n')
    with pytest.raises(ValueError, match=r'configs/b/README\.md: expected one'):
        cr.expected_files('r.md', tmp_path)
    (tmp_path / 'configs/b/demo/x_demo-cls.py').write_text('')
    with pytest.raises(ValueError, match='x_demo-cls.py is in two folders'):
        cr.demo_configs(tmp_path)


@pytest.mark.parametrize('cell, mean', [('50.5 ± 14.9', 50.5), ('-0.3 ± 1.0', -0.3), ('7', 7.0)])
def test_mean_of(cell, mean):
    assert cr.mean_of(cell) == mean


def test_mean_of_rejects_other_cells():
    with pytest.raises(ValueError, match='not a "mean ± std" cell'):
        cr.mean_of('+0.3 [-1.0, +1.6]')


def test_page_facts_read_what_report_page_writes():
    """benchmarking.report.page_facts is the inverse of report.page for the facts and the
    command."""
    from ltr_plugins.benchmarking import report
    text = report.page('T', 'python x.py --a 1', [('date', '2026-12-07'), ('commit', 'abc')],
                       'body')
    assert report.page_facts(text) == {'date': '2026-12-07', 'commit': 'abc',
                                       'command': 'python x.py --a 1'}
