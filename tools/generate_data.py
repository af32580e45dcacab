"""Generate the embedded long-tailed data sets (thin wrapper around the package CLI).

    python tools/generate_data.py --preset demo --out data/demo
    python tools/generate_data.py --help

Same as ``python -m ltr_plugins.datasets.generator``; see ``ltr_plugins/datasets/generator.py``.
"""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # allow running from a checkout without installing the package
    sys.path.insert(0, str(REPO))

from ltr_plugins.datasets.generator import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
