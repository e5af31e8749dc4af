"""``python -m dbdzoo.cli`` = the ``dbdzoo`` console script."""

import sys

from . import main

sys.exit(main())
