"""Prepare a training checkpoint for inference and sharing:
:func:`ltr_plugins.tools.publish_model.main`
(``python tools/publish_model.py --help`` lists every option)."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from ltr_plugins.tools.publish_model import main  # noqa: E402

if __name__ == '__main__':
    main()
