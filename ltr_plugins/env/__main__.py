"""``python -m ltr_plugins.env``: the same as ``ltr-env``."""
import sys

from . import main

if __name__ == '__main__':
    sys.exit(main())
