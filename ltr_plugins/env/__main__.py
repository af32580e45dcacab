"""``python -m ltr_plugins.env``: the same as ``ltr-env``."""
import sys

from . import main

sys.exit(main())
