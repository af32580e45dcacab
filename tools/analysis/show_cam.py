"""CAMC class activation / calibration map overlays of a trained model:
:func:`ltr_plugins.tools.show_cam.main`
(``python tools/analysis/show_cam.py --help`` lists every option)."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from ltr_plugins.tools.show_cam import main  # noqa: E402

if __name__ == '__main__':
    main()
