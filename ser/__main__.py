"""``python -m ser`` is the ``ser`` command."""

import sys

from ser.cli import main

sys.exit(main())
