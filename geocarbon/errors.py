"""Errors geocarbon raises on purpose.

Every class derives from :class:`GeoCarbonError` and from the builtin it specialises, so callers
may catch either. Messages say what is wrong, where (file, column, class code, region), what was
expected and how to fix it. Kernels never raise these: they count, and drivers explain.
"""

from __future__ import annotations


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
    """Run options that do not fit together (dates and years, valuation years)."""


class OutputWriteError(GeoCarbonError, OSError):
    """An output could not be written: the disk is full, or the folder is read-only or not ours."""


class GeoCarbonWarning(UserWarning):
    """Root of every warning geocarbon gives, so users can filter them as one family."""


class NodataClassWarning(GeoCarbonWarning):
    """A raster's nodata value is also a class of the density table: that class is excluded."""
