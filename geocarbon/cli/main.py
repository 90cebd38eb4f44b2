"""The ``geocarbon`` command line: parse options, build a config, call one run.

No raster arithmetic lives here; each command is a module of this package. A
:class:`GeoCarbonError` becomes a one-line message and exit code 1; anything else keeps its
traceback, because it is a bug. SIGTERM and SIGHUP unwind like Ctrl-C, so runs clean up.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import warnings
from collections.abc import Sequence

import click

from geocarbon._version import __version__
from geocarbon.cli.change import change
from geocarbon.cli.figures import figures
from geocarbon.cli.map import map_command, web_assets
from geocarbon.cli.report import report
from geocarbon.cli.schemes import schemes
from geocarbon.cli.stock import demo, stock
from geocarbon.cli.style import style
from geocarbon.cli.zonal import zonal
from geocarbon.errors import GeoCarbonError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="geocarbon")
def cli() -> None:
    """Carbon stocks and their change from land-cover maps and carbon-density tables."""


_COMMANDS = (stock, zonal, change, map_command, figures, report, style, web_assets, demo, schemes)
for _command in _COMMANDS:
    cli.add_command(_command)


def _show_warning(
    message: Warning | str, category: type[Warning], *args: object, **kwargs: object
) -> None:
    # Users see what is wrong and how to fix it, not the source line that warned.
    click.echo(f"Warning: {message}", err=True)


def expand_years(argv: Sequence[str]) -> list[str]:
    """``--years 2000 2010 2020`` -> ``--years 2000 --years 2010 --years 2020`` for click.

    Every token after ``--years`` up to the next option is a year (``2016.5`` too, so that click
    names it as not a whole year instead of reporting ``--years`` missing).
    """
    expanded: list[str] = []
    in_years = False
    for token in argv:
        if token == "--years":
            in_years = True
            continue
        if in_years and not (token.startswith("-") and not _is_number(token)):
            expanded += ["--years", token]
            continue
        in_years = False
        expanded.append(token)
    return expanded


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM, SIGHUP): unwind so that every run cleans up."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signal.Signals(signum).name)


def _install_signal_handlers() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _terminate)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 success, 1 bad input, 2 usage)."""
    warnings.showwarning = _show_warning
    _install_signal_handlers()
    # GDAL's and libtiff's own messages (logged by rasterio) would print raw lines around ours;
    # failures reach the user as geocarbon's one-line errors instead.
    logging.getLogger("rasterio").addHandler(logging.NullHandler())
    try:
        cli.main(
            args=expand_years(list(argv) if argv is not None else sys.argv[1:]),
            prog_name="geocarbon",
            standalone_mode=False,
        )
    except GeoCarbonError as exc:
        click.echo(f"Error: {exc}", err=True)
        return 1
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Aborted; no outputs were written.", err=True)
        return 130
    except Terminated as exc:
        click.echo(f"Stopped by {exc}; no outputs were written.", err=True)
        return 143
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
