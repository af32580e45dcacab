"""The demo configs' results in configs/*/README.md and metafile.yml, from a report page:
:func:`ltr_plugins.tools.config_results.main`
(``python tools/analysis/config_results.py --help`` lists every option)."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from ltr_plugins.tools.config_results import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
