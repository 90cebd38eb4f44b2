"""The ``geocarbon`` command line (see :mod:`geocarbon.cli.main`)."""

from geocarbon.cli.main import Terminated, cli, expand_years, main
from geocarbon.cli.options import ThreadsType

__all__ = ["Terminated", "ThreadsType", "cli", "expand_years", "main"]
