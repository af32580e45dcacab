"""tools/mmcv_flavour.sh (sourced by tools/install.sh): which mmcv build a machine needs, and
the per-flavour wheel cache. GPUs and toolkits are stand-in ``nvidia-smi`` / ``nvcc`` scripts on
a PATH that holds nothing else but the few tools the functions use; no mmcv is built."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from ltr_testing import REPO

TOOLS = ('bash', 'tr', 'grep', 'sort', 'sed', 'head', 'mkdir', 'mv', 'basename', 'dirname')


def _bin(tmp_path: Path, gpus=None, nvcc=None, name='bin') -> Path:
    """A PATH folder: links to TOOLS, plus a stand-in nvidia-smi printing ``gpus`` (compute
    capabilities; ``'fail'``: the driver finds no GPU) and an nvcc of release ``nvcc``."""
    folder = tmp_path / name
    folder.mkdir()
    for tool in TOOLS:
        (folder / tool).symlink_to(shutil.which(tool))
    if gpus is not None:
        body = ('echo "No devices were found" >&2; exit 6' if gpus == 'fail'
                else 'printf "%s\\n" ' + ' '.join(gpus))
        _script(folder / 'nvidia-smi', body)
    if nvcc is not None:
        _script(folder / 'nvcc', f'echo "Cuda compilation tools, release {nvcc}, V{nvcc}.48"')
    return folder


def _script(path: Path, body: str) -> None:
    path.write_text(f'#!/bin/bash\n{body}\n')
    path.chmod(0o755)


def _flavour(path: str, torch_cuda: str, **env) -> subprocess.CompletedProcess:
    cmd = ('source tools/mmcv_flavour.sh; mmcv_flavour "$1"; rc=$?; '
           'echo "rc=$rc flavour=$MMCV_FLAVOUR archs=$MMCV_CUDA_ARCHS nvcc=$MMCV_NVCC"')
    return subprocess.run([shutil.which('bash'), '-c', cmd, '_', torch_cuda], cwd=REPO,
                          capture_output=True, text=True, env={'PATH': path, **env})


def test_no_gpu_builds_cpu_ops(tmp_path):
    path = str(_bin(tmp_path, nvcc='13.0'))  # a toolkit alone does not make a GPU build
    assert _flavour(path, '13.0').stdout.split() == ['rc=0', 'flavour=cpu', 'archs=', 'nvcc=']
    failing_driver = str(_bin(tmp_path, gpus='fail', name='driver_only'))
    assert 'flavour=cpu' in _flavour(failing_driver, '13.0').stdout


def test_gpus_and_matching_nvcc_give_a_cuda_flavour(tmp_path):
    folder = _bin(tmp_path, gpus=['9.0', '9.0'], nvcc='13.0')
    out = _flavour(str(folder), '13.0').stdout.split()
    assert out == ['rc=0', 'flavour=cu130-sm90', 'archs=9.0', f'nvcc={folder}/nvcc']
    mixed = _bin(tmp_path, gpus=['9.0', '8.0', '12.0'], nvcc='13.1', name='mixed')
    out = _flavour(str(mixed), '13.0').stdout.split()
    assert out[:3] == ['rc=0', 'flavour=cu130-sm80.sm90.sm120', 'archs=8.0;9.0;12.0']


def test_gpu_without_matching_nvcc_stops_with_a_message(tmp_path):
    proc = _flavour(str(_bin(tmp_path, gpus=['9.0'])), '13.0')
    assert proc.stdout.startswith('rc=1') and 'no nvcc was found' in proc.stderr
    assert 'install CUDA 13.x' in proc.stderr and 'LTR_MMCV_CPU=1' in proc.stderr
    proc = _flavour(str(_bin(tmp_path, gpus=['9.0'], nvcc='12.8', name='old')), '13.0')
    assert proc.stdout.startswith('rc=1')
    assert 'nvcc' in proc.stderr and 'CUDA 12.8' in proc.stderr and 'must match' in proc.stderr


def test_cuda_home_nvcc_wins_over_path(tmp_path):
    path = _bin(tmp_path, gpus=['8.0'], nvcc='12.8')
    toolkit = tmp_path / 'cuda-13.0'
    (toolkit / 'bin').mkdir(parents=True)
    _script(toolkit / 'bin' / 'nvcc', 'echo "Cuda compilation tools, release 13.0, V13.0.48"')
    out = _flavour(str(path), '13.0', CUDA_HOME=str(toolkit)).stdout.split()
    assert out == ['rc=0', 'flavour=cu130-sm80', 'archs=8.0', f'nvcc={toolkit}/bin/nvcc']


def test_overrides_and_unsupported_gpus(tmp_path):
    gpu = str(_bin(tmp_path, gpus=['9.0'], nvcc='13.0'))
    no_gpu = str(_bin(tmp_path, nvcc='13.0', name='login_node'))
    # CPU ops on request, even with a GPU
    assert 'flavour=cpu' in _flavour(gpu, '13.0', LTR_MMCV_CPU='1').stdout
    # the user's architecture list wins (with +PTX in the key: another wheel)
    out = _flavour(gpu, '13.0', TORCH_CUDA_ARCH_LIST='8.0;9.0+PTX').stdout.split()
    assert out[1:3] == ['flavour=cu130-sm80.sm90ptx', 'archs=8.0;9.0+PTX']
    # torch's arch-specific suffixes (9.0a: Hopper-only instructions; 10.0f): the image of
    # the H200 machine of docs/benchmarks/gpu_check.md exported TORCH_CUDA_ARCH_LIST=9.0a
    out = _flavour(gpu, '13.0', TORCH_CUDA_ARCH_LIST='9.0a').stdout.split()
    assert out[:3] == ['rc=0', 'flavour=cu130-sm90a', 'archs=9.0a']
    out = _flavour(gpu, '13.0', TORCH_CUDA_ARCH_LIST='9.0a 10.0f+PTX').stdout.split()
    assert out[1:3] == ['flavour=cu130-sm90a.sm100fptx', 'archs=9.0a;10.0f+PTX']
    proc = _flavour(gpu, '13.0', TORCH_CUDA_ARCH_LIST='9.0b')
    assert proc.stdout.startswith('rc=1') and "unreadable architecture '9.0b'" in proc.stderr
    # building for GPUs on a login node: FORCE_CUDA=1 with an explicit list
    out = _flavour(no_gpu, '13.0', FORCE_CUDA='1', TORCH_CUDA_ARCH_LIST='8.0').stdout.split()
    assert out[:3] == ['rc=0', 'flavour=cu130-sm80', 'archs=8.0']
    proc = _flavour(no_gpu, '13.0', FORCE_CUDA='1')
    assert proc.stdout.startswith('rc=1') and 'needs TORCH_CUDA_ARCH_LIST' in proc.stderr
    # CUDA 13 has no Volta: a V100 cannot run this torch
    proc = _flavour(str(_bin(tmp_path, gpus=['7.0'], nvcc='13.0', name='v100')), '13.0')
    assert proc.stdout.startswith('rc=1') and 'compute capability 7.0' in proc.stderr
    # a CPU build of torch on a GPU machine: CPU ops, said so
    proc = _flavour(gpu, '')
    assert proc.stdout.startswith('rc=0 flavour=cpu') and 'CPU build' in proc.stderr


def test_install_print_flavour_without_a_venv(tmp_path):
    """``tools/install.sh --print-flavour`` only detects (the pinned torch is CUDA 13.0)."""
    gpu = _bin(tmp_path, gpus=['9.0'], nvcc='13.0')
    (gpu / 'date').symlink_to(shutil.which('date'))
    env = dict(PATH=str(gpu), LTR_VENV=str(tmp_path / 'no_venv'), PYTHON=sys.executable,
               HOME=str(tmp_path))
    proc = subprocess.run([shutil.which('bash'), 'tools/install.sh', '--print-flavour'],
                          cwd=REPO, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'cu130-sm90'
    assert not (tmp_path / 'no_venv').exists()  # nothing installed


def _wheel(path: Path, ext_bytes: bytes) -> Path:
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr('mmcv/_ext.cpython-311-x86_64-linux-gnu.so', ext_bytes)
        z.writestr('mmcv/__init__.py', '')
    return path


def test_cache_dir_per_flavour_and_legacy_cpu_wheel_adopted(tmp_path):
    """A CPU wheel cached by the old install.sh (directly in the cache) is moved to the CPU
    folder, where install.sh looks for it (no rebuild); a CUDA wheel there is never used."""
    cache = tmp_path / 'wheels'
    cache.mkdir()
    cpu = _wheel(cache / 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl',
                 b'\x7fELF...libc10.so\x00libtorch_cpu.so\x00')
    path = str(_bin(tmp_path))
    cmd = ('source tools/mmcv_flavour.sh; mmcv_flavour 13.0; '
           'mmcv_adopt_legacy_wheels "$1" "$2" 2.1.0 2.14.1; mmcv_cache_dir "$2" 2.14.1')
    proc = subprocess.run([shutil.which('bash'), '-c', cmd, '_', sys.executable, str(cache)],
                          cwd=REPO, capture_output=True, text=True, env={'PATH': path})
    assert proc.returncode == 0, proc.stderr
    cpu_dir = cache / 'torch2.14.1-cpu'
    assert proc.stdout.strip() == str(cpu_dir)
    assert [p.name for p in cpu_dir.iterdir()] == [cpu.name] and not cpu.exists()

    cuda = _wheel(cache / cpu.name, b'\x7fELF...libc10_cuda.so\x00libcudart.so.13\x00')
    proc = subprocess.run([shutil.which('bash'), '-c', cmd, '_', sys.executable, str(cache)],
                          cwd=REPO, capture_output=True, text=True, env={'PATH': path})
    assert 'ignoring' in proc.stderr and cuda.exists()  # left alone, not in the CPU folder
    assert [p.name for p in cpu_dir.iterdir()] == [cpu.name]


def test_build_mmcv_checks_its_interpreter_before_building(tmp_path):
    """tools/build_mmcv.sh stops early, with what to install, when the interpreter lacks torch,
    pkg_resources or wheel; without DEST_DIR it prints its usage. (The build itself takes
    10-16 minutes on 2 cores and is not a test: docs/gpus_and_clusters.md says where it ran.)"""
    bash = shutil.which('bash')
    usage = subprocess.run([bash, 'tools/build_mmcv.sh'], cwd=REPO, capture_output=True,
                           text=True)
    assert usage.returncode != 0 and 'usage: bash tools/build_mmcv.sh DEST_DIR' in usage.stderr
    python = tmp_path / 'python'
    _script(python, 'exit 1')  # an interpreter on which `import torch, pkg_resources` fails
    proc = subprocess.run([bash, 'tools/build_mmcv.sh', str(tmp_path / 'wheels')], cwd=REPO,
                          capture_output=True, text=True, env={'PATH': '/usr/bin:/bin',
                                                               'PYTHON': str(python)})
    assert proc.returncode == 1 and "pip install 'setuptools<81' wheel ninja" in proc.stderr
    assert not (tmp_path / 'wheels').exists()
