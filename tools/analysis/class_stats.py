"""Per-class statistics and IIF weights of a training set:
:func:`ltr_plugins.tools.class_stats.main`
(``python tools/analysis/class_stats.py --help`` lists every option).
Installed: ``ltr-stats``."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from ltr_plugins.tools.class_stats import main  # noqa: E402

if __name__ == '__main__':
    main()
