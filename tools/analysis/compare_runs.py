"""Paired comparison of benchmark runs over seeds:
:func:`ltr_plugins.tools.compare_runs.main`
(``python tools/analysis/compare_runs.py --help`` lists every option)."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from ltr_plugins.tools.compare_runs import main  # noqa: E402

if __name__ == '__main__':
    main()
