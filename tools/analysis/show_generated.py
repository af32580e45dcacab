"""A PNG grid of the generated (embedded) data with masks overlaid:
:func:`ltr_plugins.tools.show_generated.main`
(``python tools/analysis/show_generated.py --help`` lists every option)."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from ltr_plugins.tools.show_generated import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
