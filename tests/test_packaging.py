"""The built wheel ships configs, tools and class tables: `ltr_plugins::` configs resolve from an
installed copy, outside the source tree, and the console entry points run."""
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO

CHECK = textwrap.dedent('''
    import os, sys
    import ltr_plugins
    from mmengine.config import Config
    from mmengine.hub import get_config
    from ltr_plugins.datasets import ClassStats
    from ltr_plugins.launch import load_config
    target = sys.argv[1]
    assert ltr_plugins.__file__.startswith(target), ltr_plugins.__file__
    cfg = get_config('ltr_plugins::lvis/mask_rcnn_iif.py')
    assert cfg.filename.startswith(target), cfg.filename
    assert cfg.model.roi_head.bbox_head.type == 'IIFShared2FCBBoxHead'
    assert cfg.model.roi_head.bbox_head.num_classes == 1203
    with open('external.py', 'w') as f:
        f.write("_base_ = 'ltr_plugins::imagenet_lt/resnet50_iif_90e_imagenet_lt.py'\\n"
                "model = dict(head=dict(iif=dict(variant='smooth')))\\n")
    cfg = Config.fromfile('external.py')
    assert cfg.model.head.type == 'IIFLinearClsHead' and cfg.model.head.iif.variant == 'smooth'
    assert cfg.model.head.num_classes == 1000
    cfg = load_config('ltr_plugins::demo/convnet_ce_demo.py')
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


@pytest.mark.parametrize('script, expected', [
    ('ltr-train', '--cfg-options'), ('ltr-test', '--metrics-out'), ('ltr-stats', '--variants'),
    ('ltr-train', '--tensorboard'), ('ltr-test', '--show-dir'),
    ('ltr-plot', '--calibration'), ('ltr-benchmark', '--smoke'), ('ltr-demo', '--tasks'),
    ('ltr-env', '--expect-mmcv'),
])
def test_console_entry_points_help(installed, tmp_path, script, expected):
    proc = _run([sys.executable, installed / 'bin' / script, '--help'], installed, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert expected in proc.stdout and f'usage: {script}' in proc.stdout
