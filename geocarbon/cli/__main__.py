"""``python -m geocarbon.cli``."""

import sys

from geocarbon.cli.main import main

sys.exit(main())
