"""Write outputs: tiled GeoTIFF blocks, COG conversion, tables.

Writers write to the staged temporary paths of :mod:`geocarbon.staging`, which owns the output
folder (lock, manifest, renames on success, clean-up on failure).
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
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
from geocarbon.errors import GeoCarbonWarning
from geocarbon.grid import GridSpec
from geocarbon.spreadsheet import neutralise_formulas
from geocarbon.staging import StagedOutputs, final_name

#: Internal tile size of written rasters (and the alignment of write blocks).
TILE_SIZE = 512
#: Float outputs use NaN for nodata: it cannot collide with any real density or change.
FLOAT_NODATA = float("nan")


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

    def write(self, block: Block, stack: NDArray[np.float32]) -> None:
        """Write ``stack[i]`` of shape (height, width) into raster ``i`` at ``block``."""
        row, col = block.row_off - self._origin[0], block.col_off - self._origin[1]
        window = Window(col, row, block.width, block.height)
        for dataset, band in zip(self._datasets, stack, strict=True):
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
    :func:`to_cogs`.
    """

    def __init__(
        self,
        staged: StagedOutputs,
        grid: GridSpec,
        bands: dict[Path, tuple[str, str]],
        *,
        block_shape: tuple[int, int] | None = None,
        compressed: bool = True,
    ) -> None:
        self._staged = staged
        self._bands = bands
        labels = list(bands.values())
        self._rasters = TiledRasters(
            [staged.scratch(final, ".tif") for final in bands], grid, labels, compressed=compressed
        )
        levels = 0 if block_shape is None else overview_levels(grid, block_shape)
        self._overviews = []
        for level in range(1, levels + 1):
            grid = halved(grid)
            paths = [staged.scratch(final, f".ovr{level}.tif") for final in bands]
            self._overviews.append(TiledRasters(paths, grid, labels, compressed=compressed))

    def write(self, block: Block, stack: NDArray[np.float32]) -> None:
        """Write ``stack[i]`` of shape (height, width) into raster ``i`` at ``block``."""
        self._rasters.write(block, stack)
        for overview in self._overviews:
            stack = kernels.halve_mean(stack)
            block = Block(block.row_off // 2, block.col_off // 2, stack.shape[1], stack.shape[2])
            overview.write(block, stack)

    def finish(self) -> list[tuple[Path, Path]]:
        """Close the intermediates; the (source, COG) pairs for :func:`to_cogs`."""
        self.close()
        if not self._overviews:
            return [
                (scratch, self._staged.temp(final))
                for scratch, final in zip(self._rasters.paths, self._bands, strict=True)
            ]
        from geocarbon.raster_io import mosaic_vrt

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
        for rasters in (self._rasters, *self._overviews):
            rasters.close()


def overview_levels(grid: GridSpec, block_shape: tuple[int, int]) -> int:
    """How many 2x overview levels to build while streaming ``block_shape`` blocks over ``grid``.

    As many as GDAL's COG driver would (halving until both sides fit in one tile), but only
    levels whose blocks start on whole overview pixels: each block side must be divisible by
    2**level, or cover the whole grid side. 0 means GDAL builds the overviews itself.
    """
    height, width = grid.shape
    levels = 0
    while max(height, width) > TILE_SIZE:
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
) -> None:
    """Mosaic each band's chunk GeoTIFFs (``chunk_files[chunk][band]``) as a VRT, then a COG.

    The distributed path's last step: workers wrote tiled chunks, the client assembles them.
    """
    from geocarbon.raster_io import mosaic_vrt

    pairs = []
    for index, (final, (description, units)) in enumerate(bands.items()):
        vrt = staged.scratch(final, ".vrt")
        tiles = [files[index] for files in chunk_files]
        vrt.write_text(mosaic_vrt(tiles, description=description, units=units), "utf-8")
        pairs.append((vrt, staged.temp(final)))
    to_cogs(pairs, threads=threads)


def to_cogs(pairs: Sequence[tuple[Path, Path]], *, threads: int = 2) -> None:
    """Convert each (source, destination) pair to a COG, ``threads`` conversions at a time.

    GDAL computes overviews on one thread, so single-threaded conversions side by side keep
    every core busy (about 1.3x faster than one two-threaded conversion after another).
    """
    if threads <= 1 or len(pairs) <= 1:
        for source, destination in pairs:
            to_cog(source, destination, threads=threads)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        # list() re-raises the first failure
        list(pool.map(lambda pair: to_cog(pair[0], pair[1], threads=1), pairs))


def to_cog(source: Path, destination: Path, *, threads: int = 2) -> None:
    """Copy a tiled GeoTIFF to a Cloud-Optimized GeoTIFF with averaged overviews (GDAL COG driver)."""
    with rasterio.Env(GDAL_NUM_THREADS=str(threads)):
        rasterio.shutil.copy(
            source,
            destination,
            driver="COG",
            # DEFLATE, readable everywhere; no predictor (see float_raster_profile). Level 1:
            # on piecewise-constant densities about 2x faster than level 6 for ~15% more bytes.
            COMPRESS="DEFLATE",
            LEVEL="1",
            BLOCKSIZE=str(TILE_SIZE),
            OVERVIEW_RESAMPLING="AVERAGE",
            BIGTIFF="IF_SAFER",
            NUM_THREADS=str(threads),
        )


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A spreadsheet-facing CSV: text that Excel or WPS would run as a formula is quoted
    (:mod:`geocarbon.spreadsheet`), rows end in CRLF so a cell holding a bare CR stays one cell."""
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
