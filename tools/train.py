"""Train an mmdet or mmpretrain model with ltr_plugins loaded:
:func:`ltr_plugins.tools.train.main`
(``python tools/train.py --help`` lists every option).
Installed: ``ltr-train``."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from ltr_plugins.tools.train import main  # noqa: E402

if __name__ == '__main__':
    main()
