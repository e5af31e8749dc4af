"""``python -m dbdzoo`` = the ``dbdzoo`` console script."""

import sys

from .cli import main

sys.exit(main())
