"""Cost of every head against the stock mmpretrain / mmdet head:
:func:`ltr_plugins.tools.benchmark.main`
(``python tools/benchmark.py --help`` lists every option).
Installed: ``ltr-benchmark``."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from ltr_plugins.tools.benchmark import main  # noqa: E402

if __name__ == '__main__':
    main()
