"""Check a config's data layout before a long run:
:func:`ltr_plugins.tools.check_data.main`
(``python tools/check_data.py --help`` lists every option).
Installed: ``ltr-check-data``."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from ltr_plugins.tools.check_data import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
