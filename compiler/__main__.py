"""``python -m snnc`` is the ``snnc`` command."""

import sys

from snnc.cli import main

sys.exit(main())
