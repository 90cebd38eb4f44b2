"""Errors geocarbon raises on purpose.

Every class derives from :class:`GeoCarbonError` and from the builtin it specialises, so callers
may catch either. Messages say what is wrong, where (file, column, class code, region), what was
expected and how to fix it. Kernels never raise these: they count, and drivers explain.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import FrameType


class GeoCarbonError(Exception):
    """Root of every error geocarbon raises on purpose (shown without a traceback by the CLI)."""


class TableSchemaError(GeoCarbonError, ValueError):
    """A carbon-density table is malformed: columns, codes, numbers or low/central/high order."""


class UnknownClassError(GeoCarbonError, ValueError):
    """Land-cover codes in a raster have no row in the density table.

    ``missing`` maps each code to its pixel count, so callers can report or act on them.
    """

    def __init__(self, message: str, missing: dict[int, int] | None = None) -> None:
        super().__init__(message)
        self.missing = dict(missing or {})


class SchemeError(GeoCarbonError, KeyError):
    """A class scheme or crosswalk that geocarbon does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class GridMismatchError(GeoCarbonError, ValueError):
    """Rasters that must share a grid (CRS, transform, shape) do not."""


class RasterFormatError(GeoCarbonError, ValueError):
    """A raster geocarbon cannot use as land cover (no CRS, several bands, non-integer codes)."""


class InputFileError(GeoCarbonError, OSError):
    """An input file is missing or cannot be read."""


class OutputExistsError(GeoCarbonError, FileExistsError):
    """An output already exists and ``overwrite`` was not asked for."""


class RegionError(GeoCarbonError, ValueError):
    """A region layer geocarbon cannot use: empty, missing fields, duplicate ids, non-polygons."""


class ConfigError(GeoCarbonError, ValueError):
    """A run option out of its range or choices, or options that do not fit together."""


class OutputWriteError(GeoCarbonError, OSError):
    """An output could not be written: the disk is full, or the folder is read-only or not ours."""


def said(exc: BaseException) -> str:
    """What a library's error said, as a clause of one of ours: on one line, without its closing
    full stop or exclamation mark (GDAL's and the csv module's messages end with one, ours add
    the fix after)."""
    return " ".join(str(exc).split()).rstrip(".! ") or type(exc).__name__


class GeoCarbonWarning(UserWarning):
    """Root of every warning geocarbon gives, so users can filter them as one family.

    ``warnings.filterwarnings("ignore", category=geocarbon.errors.RegionWarning)`` silences one
    kind; ``-W error::geocarbon.errors.GeoCarbonWarning`` makes all of them errors.
    """


class RegionWarning(GeoCarbonWarning):
    """Regions used with a repair or a caveat: ids with spaces, empty names, points and lines
    dropped, invalid geometries repaired, parts beyond the raster, table rows matching no region."""


class OverlapWarning(RegionWarning):
    """Regions share pixels: each counts its own share, so region sums exceed the raster total."""


class EmptyRegionWarning(RegionWarning):
    """Regions that cover no pixel of the land cover (listed with zero area)."""


class EncodingGuessWarning(GeoCarbonWarning):
    """A density table or a regions file declares no encoding and was read as GB18030 (GBK)."""


class NodataWarning(GeoCarbonWarning):
    """A raster's nodata value cannot be used as declared (the dtype cannot hold it)."""


class NodataClassWarning(NodataWarning):
    """A raster's nodata value is also a class of the density table: that class is excluded."""


class AreaMethodWarning(GeoCarbonWarning):
    """Pixel areas are corrected by the CRS's areal scale factor (the CRS is not equal-area)."""


class ResamplingWarning(GeoCarbonWarning):
    """A land-cover date is resampled (nearest neighbour) onto another date's grid."""


class WideTableWarning(GeoCarbonWarning):
    """A table has more columns than a format allows; the wide part is left to another output."""


class MissingFontWarning(GeoCarbonWarning):
    """No CJK font was found: Chinese text in figures is drawn as empty boxes."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


#: The warnings of the run in progress on this thread (None: no run is collecting).
_RUN_WARNINGS: ContextVar[list[str] | None] = ContextVar("run_warnings", default=None)


@contextmanager
def collecting_warnings() -> Iterator[list[str]]:
    """Collect the text of every warning given through :func:`warn` while the block runs (a
    run records them in its summary), without changing how they are shown or filtered."""
    messages: list[str] = []
    token = _RUN_WARNINGS.set(messages)
    try:
        yield messages
    finally:
        _RUN_WARNINGS.reset(token)


def run_warnings() -> list[str]:
    """The warnings collected so far by the enclosing :func:`collecting_warnings`."""
    return list(_RUN_WARNINGS.get() or [])


def warn(message: str, category: type[GeoCarbonWarning]) -> None:
    """Give ``message`` as a ``category`` warning attributed to the caller's line.

    The caller is the frame that called into geocarbon: the one just outside the outermost
    geocarbon frame on this thread's stack, whatever the call depth inside the package (and past
    library frames between geocarbon frames, such as a pandas ``map`` calling back). Filters,
    ``once`` registries and ``catch_warnings(record=True)`` see that file and line.
    """
    collected = _RUN_WARNINGS.get()
    if collected is not None and message not in collected:
        collected.append(message)
    frame = _caller_frame(sys._getframe(1))
    if frame is None:
        warnings.warn(message, category, stacklevel=2)
        return
    module_globals = frame.f_globals
    warnings.warn_explicit(
        message,
        category,
        frame.f_code.co_filename,
        frame.f_lineno,
        module=module_globals.get("__name__", "<string>"),
        registry=module_globals.setdefault("__warningregistry__", {}),
        # The source line is looked up through the module's loader: only for real files (code
        # run by exec or a notebook cell has none, and linecache would fail on it).
        module_globals=module_globals if os.path.isfile(frame.f_code.co_filename) else None,
    )


def _caller_frame(frame: FrameType | None) -> FrameType | None:
    """The frame that called the outermost geocarbon frame above ``frame`` (None if none did)."""
    caller = None
    while frame is not None:
        if _in_package(frame.f_code.co_filename):
            caller = frame.f_back
        frame = frame.f_back
    return caller


def _in_package(filename: str) -> bool:
    # "<frozen importlib._bootstrap>", "<string>", "<stdin>": never ours.
    return not filename.startswith("<") and os.path.abspath(filename).startswith(_PACKAGE_DIR)
