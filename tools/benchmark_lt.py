"""Train and test a suite of demo configs; one results table:
:func:`ltr_plugins.tools.benchmark_lt.main`
(``python tools/benchmark_lt.py --help`` lists every option)."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from ltr_plugins.tools.benchmark_lt import main  # noqa: E402

if __name__ == '__main__':
    main()
