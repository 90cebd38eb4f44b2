"""Thin launcher so ``python cli.py ...`` runs the geocarbon CLI from a checkout."""

import sys

from geocarbon.cli import main

if __name__ == "__main__":
    sys.exit(main())
