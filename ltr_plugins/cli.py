"""Console entry points (declared in setup.cfg): each calls the ``main()`` of its module in
:mod:`ltr_plugins.tools` (the same function ``tools/<name>.py`` calls in a checkout).

    ltr-train CONFIG [...]          = python tools/train.py
    ltr-test CONFIG CHECKPOINT [...] = python tools/test.py
    ltr-stats ANN_FILE [...]        = python tools/analysis/class_stats.py
    ltr-plot RUN [RUN ...] [...]    = python tools/analysis/plot_per_class.py
    ltr-benchmark [...]             = python tools/benchmark.py
    ltr-demo [--tasks cls det]      train + test the demo configs on the embedded data
                                    (bash tools/demo.sh = install, then this)
    ltr-check-data CONFIG [...]     = python tools/check_data.py (the data layout of CONFIG)
    ltr-env [--expect-mmcv FLAVOUR] = python -m ltr_plugins.env (versions, CUDA, mmcv ops)

CONFIG may be a file or a shipped config name such as
``ltr_plugins::baselines/demo/convnet_1xb64-30e_demo-cls.py``.
Every command explains its options with ``--help``; its usage line names the console script
(argparse takes the program name from ``sys.argv[0]``).
"""
import sys
from typing import List, Optional


def train() -> None:
    """``ltr-train``: :func:`ltr_plugins.tools.train.main` with this process's arguments."""
    from .tools.train import main
    main()


def test() -> None:
    """``ltr-test``: :func:`ltr_plugins.tools.test.main` with this process's arguments."""
    from .tools.test import main
    main()


def stats() -> None:
    """``ltr-stats``: :func:`ltr_plugins.tools.class_stats.main` with this process's
    arguments."""
    from .tools.class_stats import main
    main()


def plot() -> None:
    """``ltr-plot``: :func:`ltr_plugins.tools.plot_per_class.main` with this process's
    arguments."""
    from .tools.plot_per_class import main
    main()


def benchmark() -> None:
    """``ltr-benchmark``: :func:`ltr_plugins.tools.benchmark.main` with this process's
    arguments."""
    from .tools.benchmark import main
    main()


def env() -> None:
    """``ltr-env``: :func:`ltr_plugins.env.main` (what this environment holds)."""
    from .env import main
    sys.exit(main())


def demo(argv: Optional[List[str]] = None) -> None:
    """``ltr-demo``: :func:`ltr_plugins.tools.demo.main` (train + test the demo configs; the
    README's main job without the install step)."""
    from .tools.demo import main
    main(argv)


def check_data() -> None:
    """``ltr-check-data``: :func:`ltr_plugins.tools.check_data.main` with this process's
    arguments (exit status 1 when the config's data layout is incomplete)."""
    from .tools.check_data import main
    sys.exit(main())
