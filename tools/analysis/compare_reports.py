"""Two report pages of tools/benchmark_lt.py --report, cell by cell:
:func:`ltr_plugins.tools.compare_reports.main`
(``python tools/analysis/compare_reports.py --help`` lists every option)."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from ltr_plugins.tools.compare_reports import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
