"""ltr_plugins.env: supported version ranges checked at import, and the ``ltr-env`` report."""
import importlib.metadata as metadata
import re
import subprocess
import sys

import pytest
from ltr_testing import REPO

from ltr_plugins import env


def test_version_problems_name_package_and_range():
    ok = dict(mmengine='0.10.7', mmcv='2.1.0', mmdet='3.3.0', mmpretrain='1.2.0',
              torch='2.14.1+cu130')
    assert env.version_problems(ok) == []
    assert env.version_problems(dict(ok, mmdet=None, mmpretrain=None)) == []  # not installed
    bad = dict(ok, mmdet='3.2.0', mmengine='0.11.0rc1', mmpretrain='1.1.1', mmcv='2.2.0',
               torch='2.0.1')
    assert env.version_problems(bad) == [
        'mmengine 0.11.0rc1 (supported: >=0.10.0,<0.11.0)',
        'mmcv 2.2.0 (supported: >=2.0.0,<2.2.0)',
        'mmdet 3.2.0 (supported: >=3.3.0,<3.4.0)',
        'mmpretrain 1.1.1 (supported: >=1.2.0,<1.3.0)',
        'torch 2.0.1 (supported: >=2.6.0)']
    with pytest.raises(ImportError, match=r'does not support mmdet 3\.2\.0 \(supported: '
                       r'>=3\.3\.0,<3\.4\.0\)'):
        env.check_versions(dict(ok, mmdet='3.2.0'))


def test_skip_variable_turns_the_error_into_a_warning(monkeypatch):
    monkeypatch.setenv('LTR_SKIP_VERSION_CHECK', '1')
    with pytest.warns(UserWarning, match='mmpretrain 1.3.0'):
        env.check_versions(dict(mmpretrain='1.3.0'))


def _fake_dist(tmp_path, name: str, version: str):
    info = tmp_path / f'{name}-{version}.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text(f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n')


def test_import_refuses_an_unsupported_mmdet_and_ltr_env_reports_it(tmp_path):
    """A (fake) mmdet 3.2.0 first on the path: ``import ltr_plugins`` fails at once with the
    supported range; ``python -m ltr_plugins.env`` still runs and says what is unsupported."""
    _fake_dist(tmp_path, 'mmdet', '3.2.0')
    pythonpath = f'{tmp_path}:{REPO}'
    proc = subprocess.run([sys.executable, '-c', 'import ltr_plugins'], capture_output=True,
                          text=True, cwd=tmp_path, env={'PYTHONPATH': pythonpath})
    assert proc.returncode == 1
    assert 'ImportError: ltr_plugins does not support mmdet 3.2.0 (supported: >=3.3.0,<3.4.0)' \
        in proc.stderr
    proc = subprocess.run([sys.executable, '-m', 'ltr_plugins.env'], capture_output=True,
                          text=True, cwd=tmp_path, env={'PYTHONPATH': pythonpath})
    assert proc.returncode == 0, proc.stderr
    assert 'mmdet: 3.2.0' in proc.stdout
    assert 'versions: UNSUPPORTED: mmdet 3.2.0 (supported: >=3.3.0,<3.4.0)' in proc.stdout


def test_report_lists_the_installed_versions_and_mmcv_ops():
    import mmcv.ops
    import torch
    lines = env.report_lines()
    text = '\n'.join(lines)
    assert f'torch: {torch.__version__} (built for CUDA {torch.version.cuda}' in text
    cuda = mmcv.ops.get_compiling_cuda_version()
    flavour = ('compiled for CPU only' if cuda == 'not available'
               else f'compiled for CUDA {cuda.split(".")[0]}')  # the major version it links
    assert f'mmcv: {metadata.version("mmcv")} (ops {flavour})' in lines
    for name in ('mmengine', 'mmdet', 'mmpretrain', 'lvis'):
        assert f'{name}: {metadata.version(name)}' in lines
    assert 'text extras: sentence-transformers ' + metadata.version('sentence-transformers') \
        in text
    assert lines[-1] == 'versions: supported'


def test_expect_mmcv_flavour_exit_status(capsys):
    import mmcv.ops
    cuda_ops = mmcv.ops.get_compiling_cuda_version() != 'not available'
    assert env.main(['--expect-mmcv', 'cpu']) == 0
    assert env.main(['--expect-mmcv', 'cu130-sm90']) == (0 if cuda_ops else 1)
    if not cuda_ops:
        assert 'compiled for CPU only (a CPU wheel on a GPU machine)' in capsys.readouterr().err


def test_linked_cuda_major_reads_the_extension_file(tmp_path):
    import mmcv._ext
    import mmcv.ops

    # dynamic-library names as they sit in an ELF string table
    cuda = tmp_path / 'cuda_ext.so'
    cuda.write_bytes(b'\x7fELF\0libc10.so\0libc10_cuda.so\0libcudart.so.13\0libtorch.so\0')
    torch_cuda_only = tmp_path / 'c10_cuda_ext.so'
    torch_cuda_only.write_bytes(b'\x7fELF\0libc10.so\0libc10_cuda.so\0')
    cpu = tmp_path / 'cpu_ext.so'
    cpu.write_bytes(b'\x7fELF\0libc10.so\0libtorch_cpu.so\0libgomp.so.1\0')
    assert env.linked_cuda_major(str(cuda)) == '13'
    assert env.linked_cuda_major(str(torch_cuda_only)) == 'unknown'
    assert env.linked_cuda_major(str(cpu)) is None
    # this machine's mmcv: the file and mmcv's own answer agree on CPU vs CUDA
    on_cuda = mmcv.ops.get_compiling_cuda_version() != 'not available'
    assert (env.linked_cuda_major(mmcv._ext.__file__) is not None) == on_cuda


def test_setup_cfg_requires_the_torch_the_import_accepts():
    """pip must not install a torch that ``import ltr_plugins`` then refuses."""
    requirement = re.search(r'^\s*torch>=([0-9.]+)', (REPO / 'setup.cfg').read_text(), re.M)
    assert requirement, 'setup.cfg install_requires names no torch minimum'
    assert requirement.group(1) == env.TORCH_MINIMUM
