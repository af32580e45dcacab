"""The built wheel ships configs, tools and class tables: `ltr_plugins::` configs resolve from an
installed copy, outside the source tree, and the console entry points run."""
import subprocess
import sys
import textwrap

import pytest
from ltr_testing import REPO

CHECK = textwrap.dedent('''
    import os, sys
    import ltr_plugins
    import ltr_plugins.mim
    from mmengine.config import Config
    from mmengine.hub import get_config
    from ltr_plugins.datasets import ClassStats
    from ltr_plugins.launch import load_config
    target = sys.argv[1]
    assert ltr_plugins.__file__.startswith(target), ltr_plugins.__file__
    assert ltr_plugins.mim.enable_config_names()  # `ltr_plugins::` names (not done on import)
    for name in ('iif/mask-rcnn_r50_fpn_iif-raw_1x_lvis-v1.py',
                 'lvis/mask_rcnn_iif.py'):  # the old name, kept as an alias
        cfg = get_config('ltr_plugins::' + name)
        assert cfg.filename.startswith(target), cfg.filename
        assert cfg.model.roi_head.bbox_head.type == 'IIFShared2FCBBoxHead'
        assert cfg.model.roi_head.bbox_head.num_classes == 1203
    with open('external.py', 'w') as f:
        f.write("_base_ = 'ltr_plugins::iif/resnet50_iif-smooth_4xb128-90e_imagenet-lt.py'\\n"
                "model = dict(head=dict(iif=dict(variant='smooth')))\\n")
    cfg = Config.fromfile('external.py')
    assert cfg.model.head.type == 'IIFLinearClsHead' and cfg.model.head.iif.variant == 'smooth'
    assert cfg.model.head.num_classes == 1000
    cfg = load_config('ltr_plugins::baselines/demo/convnet_1xb64-30e_demo-cls.py')
    assert cfg.filename.startswith(target)
    stats = ClassStats.load('lvis_v1')
    assert stats.num_classes == 1203 and stats.source.startswith(target), stats.source
    print('OK')
''')


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('wheel')
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check']
    subprocess.run([*pip, 'wheel', '-q', '--no-deps', '--no-build-isolation', '-w', tmp / 'dist',
                    str(REPO)], check=True, capture_output=True)
    wheel = next((tmp / 'dist').glob('ltr_plugins-*.whl'))
    target = tmp / 'site'
    subprocess.run([*pip, 'install', '-q', '--no-deps', '--target', target, wheel], check=True,
                   capture_output=True)
    return target


def _run(args, target, cwd):
    # PYTHONPATH puts the installed copy ahead of the source tree's editable install
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={'PYTHONPATH': str(target), 'PATH': '/usr/bin:/bin',
                               'HOME': str(cwd)})


def test_configs_and_tables_resolve_from_installed_wheel(installed, tmp_path):
    proc = _run([sys.executable, '-c', CHECK, str(installed)], installed, tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip().endswith('OK'), proc.stderr[-3000:]


def test_wheel_ships_every_config(installed):
    """Every config (at every nesting depth: method/, method/demo/, _base_/datasets/) and each
    method folder's README and metafile (the model index imports them) is in the wheel."""
    def files(root):
        return sorted(str(p.relative_to(root)) for p in root.rglob('*') if p.is_file()
                      and p.suffix in ('.py', '.md', '.yml') and '__pycache__' not in p.parts)
    shipped = files(installed / 'ltr_plugins' / '.mim' / 'configs')
    assert shipped == files(REPO / 'configs')
    assert any(p.startswith('iif/demo/') for p in shipped) and 'iif/metafile.yml' in shipped
    assert (installed / 'ltr_plugins' / '.mim' / 'model-index.yml').is_file()


@pytest.mark.parametrize('script, expected', [
    ('ltr-train', '--cfg-options'), ('ltr-test', '--metrics-out'), ('ltr-stats', '--variants'),
    ('ltr-train', '--tensorboard'), ('ltr-test', '--show-dir'),
    ('ltr-plot', '--calibration'), ('ltr-benchmark', '--smoke'), ('ltr-demo', '--tasks'),
    ('ltr-check-data', '--max-images'),
    ('ltr-env', '--expect-mmcv'),
])
def test_console_entry_points_help(installed, tmp_path, script, expected):
    proc = _run([sys.executable, installed / 'bin' / script, '--help'], installed, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert expected in proc.stdout and f'usage: {script}' in proc.stdout
