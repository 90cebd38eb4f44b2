"""Write outputs: tiled GeoTIFF blocks, COG conversion, tables.

Writers write to the staged temporary paths of :mod:`geocarbon.outputs.staging`, which owns the output
folder (lock, manifest, renames on success, clean-up on failure).
"""

from __future__ import annotations

import ctypes
import functools
import json
import shutil
import warnings
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import rasterio.shutil
from affine import Affine
from numpy.typing import NDArray
from rasterio.windows import Window

from geocarbon import kernels
from geocarbon.blocks import Block
from geocarbon.errors import ConfigError, GeoCarbonWarning
from geocarbon.grid import GridSpec
from geocarbon.outputs.spreadsheet import neutralise_formulas
from geocarbon.outputs.staging import StagedOutputs, final_name

#: Internal tile size of written rasters (and the alignment of write blocks).
TILE_SIZE = 512
#: Float outputs use NaN for nodata: it cannot collide with any real density or change.
FLOAT_NODATA = float("nan")

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


def cog_options(creation_options: Mapping[str, str] | None, *, threads: int) -> dict[str, str]:
    """The COG driver's options: the defaults, ``threads`` compressing, the user's on top."""
    user = check_creation_options(creation_options or {})
    defaults = dict(DEFAULT_CREATION_OPTIONS, NUM_THREADS=str(threads))
    if "RESAMPLING" in user:  # the user's RESAMPLING, not our OVERVIEW_RESAMPLING, for overviews
        defaults.pop("OVERVIEW_RESAMPLING")
    return defaults | user


def streams_overviews(options: Mapping[str, str]) -> bool:
    """Whether the COG's overviews can be the 2 x 2 means streamed with the blocks: averaged
    overviews, as many as GDAL would make, from the source (``options`` from :func:`cog_options`)."""
    resampling = options.get("OVERVIEW_RESAMPLING", options.get("RESAMPLING", "")).upper()
    return (
        resampling == "AVERAGE"
        and options.get("OVERVIEWS", "AUTO").upper() in ("AUTO", "FORCE_USE_EXISTING")
        and "OVERVIEW_COUNT" not in options
    )


#: Uncompressed intermediates save compressing and decompressing every band (about 40% of a
#: raster-heavy run's CPU) but take 4 bytes a pixel a band; they are used while they need at most
#: this share of the output folder's free space, and at most this many bytes.
RAW_SCRATCH_SHARE = 0.25
RAW_SCRATCH_MAX_BYTES = 16 * 2**30


def scratch_compressed(folder: Path, n_pixels: int, n_bands: int) -> bool:
    """Whether the float intermediates of ``n_bands`` rasters of ``n_pixels`` (and their
    overviews, a third more) should be compressed to fit the disk under ``folder``."""
    need = n_pixels * n_bands * 4 * 4 // 3
    free = shutil.disk_usage(folder).free
    return need > min(RAW_SCRATCH_SHARE * free, RAW_SCRATCH_MAX_BYTES)


def float_raster_profile(grid: GridSpec, *, compressed: bool = True) -> dict[str, Any]:
    """Profile of the tiled float32 single-band intermediate GeoTIFF on ``grid``."""
    # The intermediate is read once, by the COG step: fast ZSTD on two threads, or none at all.
    # Densities are piecewise constant (one value per class), so a predictor only costs time.
    compression = {"compress": "zstd", "zstd_level": 1, "num_threads": 2} if compressed else {}
    return compression | {
        "driver": "GTiff",
        "dtype": "float32",
        "count": 1,
        "crs": grid.crs,
        "transform": grid.transform,
        "height": grid.height,
        "width": grid.width,
        "nodata": FLOAT_NODATA,
        "tiled": True,
        "blockxsize": TILE_SIZE,
        "blockysize": TILE_SIZE,
        "bigtiff": "if_safer",
        "sparse_ok": False,
    }


class TiledRasters:
    """Single-band tiled float32 GeoTIFFs on one grid (one per band), written block by block.

    ``origin`` is the (row, col) of the grid's upper-left pixel in the grid of the blocks, so a
    chunk of a larger grid takes blocks in the larger grid's pixel coordinates.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        grid: GridSpec,
        bands: Sequence[tuple[str, str]],
        *,
        origin: tuple[int, int] = (0, 0),
        compressed: bool = True,
    ) -> None:
        self.paths = list(paths)
        self._origin = origin
        self._datasets = []
        profile = float_raster_profile(grid, compressed=compressed)
        for path, (description, units) in zip(paths, bands, strict=True):
            dataset = rasterio.open(path, "w", **profile)
            dataset.set_band_description(1, description)
            dataset.units = (units,)
            dataset.update_tags(units=units, description=description)
            self._datasets.append(dataset)

    def write(self, block: Block, stack: NDArray[np.float32], *, first: int = 0) -> None:
        """Write ``stack[i]`` of shape (height, width) into raster ``first + i`` at ``block``."""
        row, col = block.row_off - self._origin[0], block.col_off - self._origin[1]
        window = Window(col, row, block.width, block.height)
        for dataset, band in zip(self._datasets[first : first + len(stack)], stack, strict=True):
            dataset.write(band, 1, window=window)

    def close(self) -> None:
        for dataset in self._datasets:
            if not dataset.closed:
                dataset.close()


class RasterSetWriter:
    """Write several single-band float32 rasters block by block, ready for COG conversion.

    ``bands`` maps each final COG path to (description, units). Blocks are written to a tiled
    intermediate GeoTIFF and, when the blocks allow (``block_shape``, see
    :func:`overview_levels`), averaged 2 x 2 again and again into intermediate overviews as they
    pass, so GDAL need not read everything back to build them. :meth:`finish` closes the
    intermediates and pairs each raster (a VRT with its overviews) with its staged COG path, for
    :func:`to_cogs`. ``creation_options`` (checked here, before any block) are the COGs' GDAL
    options over :data:`DEFAULT_CREATION_OPTIONS`: overviews are streamed only when they are
    to be averaged, as many as GDAL would make (see :func:`streams_overviews`).
    """

    def __init__(
        self,
        staged: StagedOutputs,
        grid: GridSpec,
        bands: dict[Path, tuple[str, str]],
        *,
        block_shape: tuple[int, int] | None = None,
        compressed: bool = True,
        creation_options: Mapping[str, str] | None = None,
        threads: int = 2,
    ) -> None:
        self._staged = staged
        self._bands = bands
        # Bands are written on ``threads`` threads, each its share of the bands and their
        # overviews (GDAL datasets are separate, the overview kernel releases the GIL).
        parts = np.array_split(np.arange(len(bands)), max(1, min(threads, len(bands))))
        self._parts = [(int(part[0]), int(part[-1]) + 1) for part in parts]
        self._pool = ThreadPoolExecutor(len(parts)) if len(parts) > 1 else None
        options = cog_options(creation_options, threads=1)
        labels = list(bands.values())
        self._rasters = TiledRasters(
            [staged.scratch(final, ".tif") for final in bands], grid, labels, compressed=compressed
        )
        levels = 0
        if block_shape is not None and streams_overviews(options):
            levels = overview_levels(grid, block_shape, tile_size=int(options["BLOCKSIZE"]))
        self._overviews = []
        for level in range(1, levels + 1):
            grid = halved(grid)
            paths = [staged.scratch(final, f".ovr{level}.tif") for final in bands]
            self._overviews.append(TiledRasters(paths, grid, labels, compressed=compressed))

    def write(self, block: Block, stack: NDArray[np.float32]) -> None:
        """Write ``stack[i]`` of shape (height, width) into raster ``i`` at ``block``."""
        if self._pool is None:
            self._write_bands(block, stack, 0)
            return
        parts = [(block, stack[first:end], first) for first, end in self._parts]
        list(self._pool.map(lambda part: self._write_bands(*part), parts))  # re-raises

    def _write_bands(self, block: Block, stack: NDArray[np.float32], first: int) -> None:
        self._rasters.write(block, stack, first=first)
        for overview in self._overviews:
            stack = kernels.halve_mean(stack)
            block = Block(block.row_off // 2, block.col_off // 2, stack.shape[1], stack.shape[2])
            overview.write(block, stack, first=first)

    def finish(self) -> list[tuple[Path, Path]]:
        """Close the intermediates; the (source, COG) pairs for :func:`to_cogs` (given this
        writer's ``creation_options``)."""
        self.close()
        if not self._overviews:
            return [
                (scratch, self._staged.temp(final))
                for scratch, final in zip(self._rasters.paths, self._bands, strict=True)
            ]
        from geocarbon.vrt import mosaic_vrt

        pairs = []
        for index, (final, (description, units)) in enumerate(self._bands.items()):
            vrt = self._staged.scratch(final, ".vrt")
            overviews = [overview.paths[index] for overview in self._overviews]
            xml = mosaic_vrt(
                [self._rasters.paths[index]],
                description=description,
                units=units,
                overviews=overviews,
            )
            vrt.write_text(xml, "utf-8")
            pairs.append((vrt, self._staged.temp(final)))
        return pairs

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        for rasters in (self._rasters, *self._overviews):
            rasters.close()


def overview_levels(
    grid: GridSpec, block_shape: tuple[int, int], *, tile_size: int = TILE_SIZE
) -> int:
    """How many 2x overview levels to build while streaming ``block_shape`` blocks over ``grid``.

    As many as GDAL's COG driver would (halving until both sides fit in one ``tile_size``
    tile), but only
    levels whose blocks start on whole overview pixels: each block side must be divisible by
    2**level, or cover the whole grid side. 0 means GDAL builds the overviews itself.
    """
    height, width = grid.shape
    levels = 0
    while max(height, width) > tile_size:
        step = 2 ** (levels + 1)
        if any(b % step and b < side for b, side in zip(block_shape, grid.shape, strict=True)):
            return 0
        height, width = (height + 1) // 2, (width + 1) // 2
        levels += 1
    return levels


def halved(grid: GridSpec) -> GridSpec:
    """The grid of a 2x overview: pixels twice as large, sides rounded up."""
    return GridSpec(
        grid.crs, grid.transform * Affine.scale(2), (grid.height + 1) // 2, (grid.width + 1) // 2
    )


def cogs_from_chunks(
    staged: StagedOutputs,
    bands: dict[Path, tuple[str, str]],
    chunk_files: Sequence[Sequence[Path]],
    *,
    threads: int = 2,
    creation_options: Mapping[str, str] | None = None,
) -> None:
    """Mosaic each band's chunk GeoTIFFs (``chunk_files[chunk][band]``) as a VRT, then a COG.

    The distributed path's last step: workers wrote tiled chunks, the client assembles them.
    """
    from geocarbon.vrt import mosaic_vrt

    pairs = []
    for index, (final, (description, units)) in enumerate(bands.items()):
        vrt = staged.scratch(final, ".vrt")
        tiles = [files[index] for files in chunk_files]
        vrt.write_text(mosaic_vrt(tiles, description=description, units=units), "utf-8")
        pairs.append((vrt, staged.temp(final)))
    to_cogs(pairs, threads=threads, creation_options=creation_options)


def to_cogs(
    pairs: Sequence[tuple[Path, Path]],
    *,
    threads: int = 2,
    creation_options: Mapping[str, str] | None = None,
) -> None:
    """Convert each (source, destination) pair to a COG, ``threads`` conversions at a time.

    GDAL computes overviews on one thread, so single-threaded conversions side by side keep
    every core busy (about 1.3x faster than one two-threaded conversion after another).
    """
    check_creation_options(creation_options or {})  # before the first conversion
    if threads <= 1 or len(pairs) <= 1:
        for source, destination in pairs:
            to_cog(source, destination, threads=threads, creation_options=creation_options)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        # list() re-raises the first failure
        list(
            pool.map(
                lambda pair: to_cog(pair[0], pair[1], threads=1, creation_options=creation_options),
                pairs,
            )
        )


def to_cog(
    source: Path,
    destination: Path,
    *,
    threads: int = 2,
    creation_options: Mapping[str, str] | None = None,
) -> None:
    """Copy a tiled GeoTIFF to a Cloud-Optimized GeoTIFF (GDAL's COG driver) with
    :data:`DEFAULT_CREATION_OPTIONS` and the user's ``creation_options`` over them; the
    source's overviews, if any, are used as they are."""
    options = cog_options(creation_options, threads=threads)
    with rasterio.Env(GDAL_NUM_THREADS=options["NUM_THREADS"]):
        rasterio.shutil.copy(source, destination, driver="COG", **options)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A spreadsheet-facing CSV: text that Excel or WPS would run as a formula is quoted
    (:mod:`geocarbon.outputs.spreadsheet`), rows end in CRLF so a cell holding a bare CR stays one cell."""
    neutralise_formulas(frame).to_csv(
        path, index=False, float_format="%.10g", lineterminator="\r\n"
    )


def write_json(document: dict[str, Any], path: Path) -> None:
    path.write_text(
        json.dumps(document, indent=2, ensure_ascii=False, default=_json_default) + "\n", "utf-8"
    )


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


class WideTableWarning(GeoCarbonWarning):
    """A table has more columns than a format allows; the wide part is left to another output."""


#: SQLite's default column limit, which GeoPackage inherits (the feature id and geometry included).
GPKG_MAX_COLUMNS = 2000


def write_vector(frame: Any, path: Path, *, driver: str, layer: str) -> None:
    """Write a GeoDataFrame with pyogrio (GeoPackage, FlatGeobuf, ...).

    A GeoPackage holds at most :data:`GPKG_MAX_COLUMNS` columns: wider frames (a table of
    thousands of classes) keep their per-class columns (``class_*``) out of it, with a warning;
    the long-form tables carry them.
    """
    if driver == "GPKG" and len(frame.columns) + 1 > GPKG_MAX_COLUMNS:
        per_class = [c for c in frame.columns if str(c).startswith("class_")]
        frame = frame.drop(columns=per_class)
        warnings.warn(
            f"{final_name(path)}: GeoPackage allows at most "
            f"{GPKG_MAX_COLUMNS} columns, so its {len(per_class)} per-class area columns are "
            "left out; the per-class areas are in the long-form table (regions_by_class.csv) and "
            "the GeoParquet file.",
            WideTableWarning,
            stacklevel=2,
        )
    frame.to_file(path, driver=driver, layer=layer, engine="pyogrio")


def write_geoparquet(frame: Any, path: Path) -> None:
    """Write a GeoDataFrame as GeoParquet (geometry as WKB, CRS in the metadata)."""
    frame.to_parquet(path, index=False)
