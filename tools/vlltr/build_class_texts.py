"""VL-LTR class texts (and text-only anchors) of a class list:
:func:`ltr_plugins.tools.build_class_texts.main`
(``python tools/vlltr/build_class_texts.py --help`` lists every option)."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from ltr_plugins.tools.build_class_texts import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
