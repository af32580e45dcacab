"""VL-LTR anchor sentences (AnSS) with a stage-1 model:
:func:`ltr_plugins.tools.select_anchor_sentences.main`
(``python tools/vlltr/select_anchor_sentences.py --help`` lists every option)."""
import os.path as osp
import sys

# run from a checkout: the package next to tools/
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from ltr_plugins.tools.select_anchor_sentences import main  # noqa: E402

if __name__ == '__main__':
    main()
