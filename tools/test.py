"""Evaluate a checkpoint (LVIS AP / top-1 with many / medium / few):
:func:`ltr_plugins.tools.test.main`
(``python tools/test.py --help`` lists every option).
Installed: ``ltr-test``."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from ltr_plugins.tools.test import main  # noqa: E402

if __name__ == '__main__':
    main()
