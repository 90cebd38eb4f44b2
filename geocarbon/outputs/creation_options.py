"""The GDAL creation options of the COGs a run writes: geocarbon's defaults, and the user's
(``--co KEY=VALUE``) checked against the COG driver of the GDAL that writes them.

Options are checked before the first block is read: an unknown key, a value of the wrong type, a
codec that cannot hold float32, a LEVEL out of its codec's range or an option that would move the
raster off the run's grid is one :class:`~geocarbon.errors.ConfigError` naming the item and the
valid keys. :func:`geocarbon.outputs.rasters.cog_options` puts them together for a conversion.
"""

from __future__ import annotations

import ctypes
import functools
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import rasterio

from geocarbon.config import TILE_SIZE_PX
from geocarbon.errors import ConfigError

#: Internal tile size of written rasters (and the alignment of write blocks).
TILE_SIZE = TILE_SIZE_PX

#: GDAL COG creation options of every raster output; the user's (``--co KEY=VALUE``) override
#: them key by key. DEFLATE is the one lossless float codec every GDAL build (and so QGIS, R,
#: ArcGIS) reads; ZSTD encodes faster but is optional in GDAL builds. No predictor: densities
#: are piecewise constant, and predictors 2 and 3 make them larger and slower (BENCHMARKS.md).
#: Level 1: about 2x faster than level 6 for ~15% more bytes.
DEFAULT_CREATION_OPTIONS: Mapping[str, str] = MappingProxyType(
    {
        "COMPRESS": "DEFLATE",
        "LEVEL": "1",
        "BLOCKSIZE": str(TILE_SIZE),
        "OVERVIEW_RESAMPLING": "AVERAGE",
        "BIGTIFF": "IF_SAFER",
    }
)
#: COG options that reproject or re-tile a raster off the run's grid: refused.
OFF_GRID_OPTIONS = frozenset(
    {"TILING_SCHEME", "TARGET_SRS", "RES", "EXTENT", "ALIGNED_LEVELS", "ZOOM_LEVEL"}
    | {"ZOOM_LEVEL_STRATEGY", "ADD_ALPHA", "WARP_RESAMPLING"}
)
#: LEVEL's range by codec; JPEG and WEBP cannot hold float32 values.
LEVEL_RANGE = {"DEFLATE": (1, 12), "LERC_DEFLATE": (1, 12), "ZSTD": (1, 22), "LERC_ZSTD": (1, 22)}
LEVEL_RANGE |= {"LZMA": (0, 9)}
INTEGER_CODECS = ("JPEG", "WEBP")
#: gdaladdo's resampling methods (GDAL's COG driver declares its resampling options as text).
RESAMPLING_METHODS = tuple(
    "NEAREST AVERAGE RMS BILINEAR GAUSS CUBIC CUBICSPLINE LANCZOS AVERAGE_MAGPHASE MODE".split()
)
#: The COG driver's keys in GDAL 3.10, for when the running GDAL's own list cannot be read.
FALLBACK_COG_KEYS = (
    "COMPRESS OVERVIEW_COMPRESS LEVEL PREDICTOR OVERVIEW_PREDICTOR QUALITY OVERVIEW_QUALITY "
    "MAX_Z_ERROR MAX_Z_ERROR_OVERVIEW NUM_THREADS NBITS BLOCKSIZE BIGTIFF RESAMPLING "
    "OVERVIEW_RESAMPLING WARP_RESAMPLING OVERVIEWS OVERVIEW_COUNT TILING_SCHEME ZOOM_LEVEL "
    "ZOOM_LEVEL_STRATEGY TARGET_SRS RES EXTENT ALIGNED_LEVELS ADD_ALPHA GEOTIFF_VERSION "
    "SPARSE_OK STATISTICS"
).split()
_BOOLEANS = ("YES", "NO", "TRUE", "FALSE", "ON", "OFF", "1", "0")


@dataclass(frozen=True)
class CreationOption:
    """One creation option as GDAL declares it: its type, accepted values, minimum."""

    name: str
    kind: str = "string"  # GDAL's types: string, string-select, int, float, boolean
    values: tuple[str, ...] = ()  # string-select values and their aliases, upper-case
    minimum: float | None = None


def parse_creation_options(items: Sequence[str]) -> dict[str, str]:
    """``--co KEY=VALUE`` items as checked COG creation options (keys upper-case).

    Raises :class:`ConfigError` naming the first bad item and the valid keys.
    """
    options: dict[str, str] = {}
    for item in items:
        key, equals, value = str(item).partition("=")
        if not equals or not key.strip() or not value.strip():
            raise ConfigError(
                f"Creation option {item!r} (--co): expected KEY=VALUE, such as --co COMPRESS=ZSTD; "
                f"valid keys: {', '.join(_valid_keys())}."
            )
        options[key.strip().upper()] = value.strip()
    return check_creation_options(options)


def check_creation_options(options: Mapping[str, str]) -> dict[str, str]:
    """``options`` with upper-case keys, checked against the COG driver of the GDAL that writes
    them (keys, values of GDAL's type, codecs for float32, LEVEL's range by codec)."""
    declared = cog_creation_options()
    checked: dict[str, str] = {}
    for key, value in options.items():
        name, text = str(key).strip().upper(), str(value).strip()
        item = f"{name}={text}"
        if name not in declared or name in OFF_GRID_OPTIONS:
            why = (
                f"{name} would reproject or re-tile the raster off the run's grid (reproject the "
                "outputs afterwards, with gdalwarp)"
                if name in OFF_GRID_OPTIONS
                else f"GDAL's COG driver has no option {name}"
            )
            raise ConfigError(
                f"Creation option {item!r} (--co): {why}; valid keys: {', '.join(_valid_keys())}."
            )
        checked[name] = _checked_value(declared[name], text, item)
    for key in ("COMPRESS", "OVERVIEW_COMPRESS"):
        if checked.get(key, "").upper() in INTEGER_CODECS:
            raise ConfigError(
                f"Creation option '{key}={checked[key]}' (--co): {checked[key]} cannot hold "
                f"float32 densities; use a lossless codec ({', '.join(LEVEL_RANGE)}, LZW) or "
                "LERC with MAX_Z_ERROR."
            )
    codec = checked.get("COMPRESS", DEFAULT_CREATION_OPTIONS["COMPRESS"]).upper()
    if "LEVEL" in checked and codec in LEVEL_RANGE:
        low, high = LEVEL_RANGE[codec]
        if not low <= _number(checked["LEVEL"], whole=True) <= high:  # NaN is out of range
            raise ConfigError(
                f"Creation option 'LEVEL={checked['LEVEL']}' (--co): {codec} takes LEVEL "
                f"{low} to {high} (1 is the fastest)."
            )
    return checked


def _checked_value(option: CreationOption, text: str, item: str) -> str:
    """``text`` in the form GDAL takes for ``option``; ConfigError if it has no such value."""
    upper = text.upper()
    if option.name in ("RESAMPLING", "OVERVIEW_RESAMPLING"):
        expected, ok = "one of " + ", ".join(RESAMPLING_METHODS), upper in RESAMPLING_METHODS
    elif option.kind == "string-select":
        expected, ok = "one of " + ", ".join(option.values), upper in option.values
    elif option.kind == "boolean":
        expected, ok = "YES or NO", upper in _BOOLEANS
    elif option.kind in ("int", "float") or option.name == "NUM_THREADS":
        expected = "a whole number" if option.kind != "float" else "a number"
        number = _number(text, whole=option.kind != "float")
        if option.name == "NUM_THREADS":
            expected, ok = "a whole number >= 1 or ALL_CPUS", upper == "ALL_CPUS" or number >= 1
        else:  # NaN (not a number) is below every minimum
            minimum = -np.inf if option.minimum is None else option.minimum
            ok = number >= minimum
            expected += f" >= {minimum:g}" if option.minimum is not None else ""
    else:
        return text
    if not ok:
        raise ConfigError(f"Creation option {item!r} (--co): {option.name} must be {expected}.")
    return upper


def _number(text: str, *, whole: bool) -> float:
    """``text`` as a number, NaN if it is not one (or not whole when ``whole``)."""
    try:
        return float(int(text)) if whole else float(text)
    except ValueError:
        return float("nan")


def _valid_keys() -> list[str]:
    return sorted(set(cog_creation_options()) - OFF_GRID_OPTIONS)


@functools.cache
def cog_creation_options() -> dict[str, CreationOption]:
    """The COG driver's creation options as the GDAL that rasterio runs declares them
    (``DMD_CREATIONOPTIONLIST``); GDAL 3.10's keys, untyped, if that list cannot be read."""
    declared = _driver_metadata("COG", "DMD_CREATIONOPTIONLIST")
    if declared is None:
        return {name: CreationOption(name) for name in FALLBACK_COG_KEYS}
    options = {}
    for element in ElementTree.fromstring(declared).iter("Option"):
        values = [v.text or "" for v in element.iter("Value")]
        values += [v.get("alias", "") for v in element.iter("Value") if v.get("alias")]
        minimum = element.get("min")
        options[element.get("name", "").upper()] = CreationOption(
            element.get("name", "").upper(),
            element.get("type", "string"),
            tuple(v.upper() for v in values),
            float(minimum) if minimum is not None else None,
        )
    return options


def _driver_metadata(driver: str, key: str) -> str | None:
    """A metadata item of a GDAL driver, read from the libgdal that rasterio runs on."""
    library = _rasterio_gdal_library()
    if library is None:
        return None
    try:
        gdal = ctypes.CDLL(str(library))
        gdal.GDALGetDriverByName.restype = ctypes.c_void_p
        gdal.GDALGetDriverByName.argtypes = [ctypes.c_char_p]
        gdal.GDALGetMetadataItem.restype = ctypes.c_char_p
        gdal.GDALGetMetadataItem.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p]
        with rasterio.Env():  # drivers registered, GDAL_DATA set
            handle = gdal.GDALGetDriverByName(driver.encode())
            item = gdal.GDALGetMetadataItem(handle, key.encode(), None) if handle else None
    except (OSError, AttributeError):
        return None
    return item.decode() if item else None


def _rasterio_gdal_library() -> Path | None:
    """The libgdal loaded in this process for rasterio (its wheel's own copy when there are
    several, such as pyogrio's); None where the process's libraries cannot be listed."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return None
    loaded = {
        line.rsplit(None, 1)[-1]
        for line in maps.read_text().splitlines()
        if "/libgdal" in line.rsplit(None, 1)[-1]
    }
    ours = sorted(path for path in loaded if "rasterio" in path) or sorted(loaded)
    return Path(ours[0]) if ours else None
