"""Per-class accuracy / AP against training frequency, calibration:
:func:`ltr_plugins.tools.plot_per_class.main`
(``python tools/analysis/plot_per_class.py --help`` lists every option).
Installed: ``ltr-plot``."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from ltr_plugins.tools.plot_per_class import main  # noqa: E402

if __name__ == '__main__':
    main()
