"""Repeatable runs: the seed, deterministic algorithms and the CPU thread count of a
``tools/train.py`` / ``tools/test.py`` run, and the log line that states them.

What makes two runs of the same config bit-identical (same weights, same metrics), and what
does not, is in ``docs/reliability.md`` (section "Repeatability"). In short:

* **seed** -- ``randomness.seed`` (the runtimes of ``configs/_base_`` set 0; ``--seed N``
  overrides it). mmengine seeds Python's ``random``, NumPy and torch with it, the samplers
  shuffle with it, and its ``worker_init_fn`` seeds data loader worker ``i`` of rank ``r``
  with ``seed + i + r * num_workers``. A ``None`` seed is drawn at random (the log says so).
* **deterministic algorithms** -- ``randomness.deterministic`` (``--deterministic``): mmengine
  sets ``torch.backends.cudnn.deterministic``, turns ``cudnn.benchmark`` off and calls
  ``torch.use_deterministic_algorithms(True)``, so an op without a deterministic kernel raises
  a ``RuntimeError`` naming it. On CUDA, cuBLAS also needs ``CUBLAS_WORKSPACE_CONFIG``, set
  here to ``:4096:8`` unless already set. mmcv's CUDA ops (RoIAlign's backward uses
  ``atomicAdd``) are outside torch's control. The CPU kernels used here are deterministic
  already; the flag changes nothing there.
* **threads** -- the CPU kernels split reductions (convolutions, matrix products, sums) over
  torch's intra-op threads, so the float rounding, and from it a whole from-scratch training
  run, depends on their number. torch takes ``OMP_NUM_THREADS`` at start-up, else the number of
  physical cores. ``--threads N`` fixes it (``torch.set_num_threads``, and ``OMP_NUM_THREADS`` /
  ``MKL_NUM_THREADS`` for child processes).
"""
from __future__ import annotations

import argparse
import os
import platform
from typing import Optional

import torch

#: OMP_NUM_THREADS as the process started (torch read it then; mmengine may set it later for
#: child processes only)
_OMP_AT_START = os.environ.get('OMP_NUM_THREADS')
_THREADS_FROM_OPTION: Optional[int] = None


def add_repeatability_args(parser: argparse.ArgumentParser) -> None:
    """``--seed``, ``--deterministic`` and ``--threads`` (see the module docstring)."""
    parser.add_argument('--seed', type=int, default=None,
                        help='random seed (sets randomness.seed; the configs default to 0)')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic algorithms (sets randomness.deterministic: cuDNN '
                        'deterministic, torch.use_deterministic_algorithms; an op without a '
                        'deterministic kernel then raises)')
    parser.add_argument('--threads', type=int, default=None,
                        help='CPU threads of torch (torch.set_num_threads and OMP_NUM_THREADS; '
                        'default: OMP_NUM_THREADS, else the physical cores). Results are '
                        'bit-identical only for the same thread count')


def apply_repeatability_args(args: argparse.Namespace) -> None:
    """Fold ``--seed`` / ``--deterministic`` into ``args.cfg_options`` (as
    ``randomness.seed`` / ``randomness.deterministic``) and apply ``--threads`` now, before
    torch runs any parallel kernel.

    Raises:
        ValueError: ``--threads`` is below 1.
    """
    options = dict(getattr(args, 'cfg_options', None) or {})
    if getattr(args, 'seed', None) is not None:
        options['randomness.seed'] = args.seed
    if getattr(args, 'deterministic', False):
        options['randomness.deterministic'] = True
    if options:
        args.cfg_options = options
    if getattr(args, 'threads', None) is not None:
        set_num_threads(args.threads)


def set_num_threads(threads: int) -> None:
    """Fix torch's intra-op CPU threads to ``threads`` in this process, and
    ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` for the processes it starts.

    Raises:
        ValueError: ``threads`` is below 1.
    """
    global _THREADS_FROM_OPTION
    if threads < 1:
        raise ValueError(f'--threads must be >= 1, got {threads}')
    torch.set_num_threads(threads)
    os.environ['OMP_NUM_THREADS'] = os.environ['MKL_NUM_THREADS'] = str(threads)
    _THREADS_FROM_OPTION = threads


def prepare_deterministic(cfg) -> None:
    """With ``randomness.deterministic`` set, give cuBLAS the fixed workspace that
    ``torch.use_deterministic_algorithms`` requires on CUDA (``CUBLAS_WORKSPACE_CONFIG``,
    kept if already set). Called before the runner (and CUDA) starts."""
    if (cfg.get('randomness') or {}).get('deterministic'):
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')


def _threads_source() -> str:
    if _THREADS_FROM_OPTION is not None:
        return '--threads'
    if _OMP_AT_START:
        return f'OMP_NUM_THREADS={_OMP_AT_START}'
    return 'torch default: the physical cores; fix with --threads'


def processor() -> str:
    """The CPU model (``/proc/cpuinfo``'s model name on Linux, else the platform's name)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(runner) -> str:
    """What this run fixed for repeatability, as one log line (see the module docstring)."""
    randomness = dict(getattr(runner, '_randomness_cfg', None) or {})
    seed = runner.seed
    if randomness.get('seed') is None:
        seed_text = f'{seed} (drawn at random: set randomness.seed or --seed to repeat the run)'
    else:
        seed_text = f'{seed} (randomness.seed)'
    if randomness.get('diff_rank_seed'):
        seed_text += ' + rank'
    workers = []
    for split in ('train', 'val', 'test'):
        loader = runner.cfg.get(f'{split}_dataloader')
        if loader:
            workers.append(f'{split} {loader.get("num_workers", 0)}')
    parts = [
        f'seed {seed_text}',
        'deterministic algorithms ' + ('on' if torch.are_deterministic_algorithms_enabled()
                                       else 'off (--deterministic)'),
        f'cudnn.benchmark {torch.backends.cudnn.benchmark}',
        f'torch CPU threads {torch.get_num_threads()} ({_threads_source()})',
        f'data loader workers {", ".join(workers) or "-"} (seeded by mmengine: seed + worker '
        'id + rank * workers)',
    ]
    data = runner.cfg.get('embedded_data')
    if data:
        parts.append(f'embedded data {data.get("preset", "demo")} seed {data.get("seed", 0)}')
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'
    parts.append(f'torch {torch.__version__} on {processor()} ({device}), world size '
                 f'{runner.world_size}')
    return ('repeatability: ' + '; '.join(parts) + '. Bit-identical reruns need the same seed, '
            'thread count, world size, software and processor type (docs/reliability.md)')


def log_repeatability(runner) -> None:
    """Write :func:`describe` into the run's log (rank 0 and every other rank's log)."""
    runner.logger.info(describe(runner))
