"""Console entry points (declared in setup.cfg): thin wrappers over the shipped ``tools/``.

    ltr-train CONFIG [...]          = python tools/train.py
    ltr-test CONFIG CHECKPOINT [...] = python tools/test.py
    ltr-stats ANN_FILE [...]        = python tools/analysis/class_stats.py
    ltr-plot RUN [RUN ...] [...]    = python tools/analysis/plot_per_class.py
    ltr-benchmark [...]             = python tools/benchmark.py
    ltr-demo [--tasks cls det]      train + test the demo configs on the embedded data
    ltr-check-data CONFIG [...]     = python tools/check_data.py (the data layout of CONFIG)
    ltr-env [--expect-mmcv FLAVOUR] = python -m ltr_plugins.env (versions, CUDA, mmcv ops)

CONFIG may be a file or a shipped config name such as
``ltr_plugins::baselines/demo/convnet_1xb64-30e_demo-cls.py``.
Every command explains its options with ``--help``.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from .mim import tool_path

PROGS = {'analysis/class_stats.py': 'ltr-stats', 'analysis/plot_per_class.py': 'ltr-plot'}


def _run_tool(name: str, argv: Optional[List[str]] = None) -> None:
    """Run a shipped tool script as ``__main__`` with ``argv`` (default: this process's)."""
    path = tool_path(name)
    saved = sys.argv
    # argv[0] names the command in --help / usage (runpy.run_path would set it to the path)
    sys.argv = [PROGS.get(name, 'ltr-' + osp.splitext(osp.basename(name))[0])] + list(
        sys.argv[1:] if argv is None else argv)
    try:
        with open(path, encoding='utf-8') as f:
            code = compile(f.read(), path, 'exec')
        exec(code, {'__name__': '__main__', '__file__': path, '__builtins__': __builtins__})
    finally:
        sys.argv = saved


def train() -> None:
    """``ltr-train``: ``tools/train.py`` with this process's arguments."""
    _run_tool('train.py')


def test() -> None:
    """``ltr-test``: ``tools/test.py`` with this process's arguments."""
    _run_tool('test.py')


def stats() -> None:
    """``ltr-stats``: ``tools/analysis/class_stats.py`` with this process's arguments."""
    _run_tool('analysis/class_stats.py')


def plot() -> None:
    """``ltr-plot``: ``tools/analysis/plot_per_class.py`` with this process's arguments."""
    _run_tool('analysis/plot_per_class.py')


def benchmark() -> None:
    """``ltr-benchmark``: ``tools/benchmark.py`` with this process's arguments."""
    _run_tool('benchmark.py')


def env() -> None:
    """``ltr-env``: :func:`ltr_plugins.env.main` (what this environment holds)."""
    from .env import main
    sys.exit(main())


DEMO_CONFIGS = {
    'cls': 'ltr_plugins::baselines/demo/convnet_1xb64-30e_demo-cls.py',
    'det': 'ltr_plugins::baselines/demo/mask-rcnn_r18_fpn_sample1e-3_1xb8-6e_demo-lvis.py',
}


def demo(argv: Optional[List[str]] = None) -> None:
    """Train and test the demo configs (the README's main job, without the install step)."""
    parser = argparse.ArgumentParser(
        prog='ltr-demo', description='Train + test the demo configs on the embedded '
        'long-tailed data (generated under ./data/demo on first use); results are printed and '
        'logged under --work-dir.')
    parser.add_argument('--tasks', nargs='+', choices=sorted(DEMO_CONFIGS),
                        default=['cls', 'det'], help='cls: classifier (~5 min on 2 CPU '
                        'cores), det: Mask R-CNN (~11 min)')
    parser.add_argument('--work-dir', default='work_dirs',
                        help='runs go to <work-dir>/demo_<task>')
    args = parser.parse_args(argv)
    for task in args.tasks:
        work_dir = osp.join(args.work_dir, f'demo_{task}')
        _run_tool('train.py', [DEMO_CONFIGS[task], '--work-dir', work_dir])
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            checkpoint = f.read().strip()
        _run_tool('test.py', [DEMO_CONFIGS[task], checkpoint, '--work-dir', work_dir])


PROGS['check_data.py'] = 'ltr-check-data'


def check_data() -> None:
    """``ltr-check-data``: ``tools/check_data.py`` with this process's arguments (exit status 1
    when the config's data layout is incomplete)."""
    _run_tool('check_data.py')
