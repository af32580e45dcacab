"""Every real-data config has, in its folder's README table and metafile, the number its paper /
reference repo reports (or "not reported"), marked as not a result of this project; every config
a metafile lists exists."""
import re
from pathlib import Path

import pytest
import yaml
from ltr_testing import REPO

METHOD_DIRS = ('baselines', 'cosine', 'camc', 'iif', 'oltr', 'vlltr')
STATEMENT = 'Not trained on the real data by this project'
COLUMN = 'paper / reference (to reach)'


def _real_configs(method: str):
    return sorted(p.name for p in (REPO / 'configs' / method).glob('*.py'))


def _paper_cells(readme: str) -> dict:
    """config file name -> its cell in the README's paper column."""
    lines = readme.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith('| config |'))
    columns = [c.strip() for c in lines[header].strip('|').split('|')]
    assert COLUMN in columns, lines[header]
    col = columns.index(COLUMN)
    cells = {}
    for line in lines[header + 2:]:
        if not line.startswith('| '):
            break
        # split on ' | ' (cells contain links, not bare pipes)
        row = [c.strip() for c in line.strip().strip('|').split(' | ')]
        assert len(row) == len(columns), line
        m = re.match(r'^\[([^\]]+\.py)\]', row[0])
        if m:
            cells[m.group(1)] = row[col]
    return cells


def _metafile(method: str) -> dict:
    return yaml.safe_load((REPO / 'configs' / method / 'metafile.yml').read_text())


@pytest.mark.parametrize('method', METHOD_DIRS)
def test_readme_gives_each_real_data_config_its_paper_number(method):
    readme = (REPO / 'configs' / method / 'README.md').read_text()
    assert STATEMENT in readme, f'configs/{method}/README.md lacks "{STATEMENT}"'
    cells = _paper_cells(readme)
    real = _real_configs(method)
    assert real, method
    for name in real:
        assert name in cells, f'configs/{method}/README.md: {name} is not in the configs table'
        cell = cells[name]
        assert cell.startswith('not reported') or re.search(r'\d+\.\d', cell), \
            f'configs/{method}/README.md: {name} has neither a number nor "not reported": {cell!r}'
    if any('lvis-v1' in name for name in real):  # mmdet's own LVIS v1 baselines next to them
        for number in ('box AP 22.5', 'mask AP 21.7', 'box AP 27.6', 'mask AP 26.4'):
            assert number in ' '.join(readme.split()), (method, number)


@pytest.mark.parametrize('method', METHOD_DIRS)
def test_metafile_paper_results_match_the_readme(method):
    meta = _metafile(method)
    cells = _paper_cells((REPO / 'configs' / method / 'README.md').read_text())
    real = set(_real_configs(method))
    header = (REPO / 'configs' / method / 'metafile.yml').read_text().split('Collections:')[0]
    assert 'NOT a result of this project' in header, method
    for model in meta['Models']:
        config = model['Config']
        assert (REPO / config).is_file(), f'configs/{method}/metafile.yml lists {config}'
        name = Path(config).name
        if name not in real:  # an embedded-data twin: measured here, no paper number
            assert 'Paper Results' not in model, config
            continue
        # nothing is measured on real data: a real-data model has no Results
        assert 'Results' not in model, f'{config}: Results would claim a measurement'
        paper = model.get('Paper Results')
        assert paper is not None, f'{config}: no Paper Results'
        if paper == 'not reported':
            assert cells[name].startswith('not reported'), (config, cells[name])
            continue
        assert set(paper) <= {'Source', 'Note', 'Metrics'} and paper['Source'], config
        assert paper['Metrics'], config
        for metric, value in paper['Metrics'].items():
            assert isinstance(value, float), (config, metric, value)
            # the README cell states the same numbers
            assert re.search(rf'(?<![\d.]){re.escape(str(value))}(?![\d])', cells[name]), \
                (config, metric, value, cells[name])
    listed = {Path(m['Config']).name for m in meta['Models']}
    assert real <= listed, f'configs/{method}/metafile.yml misses {sorted(real - listed)}'


def test_model_index_loads_with_paper_results():
    """mim's model-index reader takes the extra field and keeps every model."""
    modelindex = pytest.importorskip('modelindex')
    index = modelindex.load(str(REPO / 'ltr_plugins' / '.mim' / 'model-index.yml'))
    models = {m.name: m for m in index.models}
    imports = yaml.safe_load((REPO / 'ltr_plugins/.mim/model-index.yml').read_text())['Import']
    n = sum(len(yaml.safe_load((REPO / f).read_text())['Models']) for f in imports)
    assert len(models) == n
    assert 'mask-rcnn_r50_fpn_sample1e-3_1x_lvis-v1' in models
