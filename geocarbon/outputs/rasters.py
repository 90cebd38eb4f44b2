"""Raster outputs: float32 bands written block by block, then converted to Cloud-Optimized GeoTIFFs.

:class:`RasterSetWriter` writes a run's bands into tiled intermediate GeoTIFFs (with overviews
averaged as the blocks pass, when the blocks allow) and :func:`to_cogs` converts them with the
creation options of :mod:`geocarbon.outputs.creation_options`. On the distributed path each
worker writes its chunk's bands (:class:`ChunkRasters`) and :func:`cogs_from_chunks` mosaics them.
Everything is written to the staged temporary paths of :mod:`geocarbon.outputs.staging`; the
output folder (lock, manifest, clean-up on failure) is :mod:`geocarbon.outputs.folder`'s.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from numpy.typing import NDArray
from rasterio.windows import Window

from geocarbon import kernels
from geocarbon.blocks import Block
from geocarbon.grid import GridSpec
from geocarbon.outputs.creation_options import (
    DEFAULT_CREATION_OPTIONS,
    TILE_SIZE,
    check_creation_options,
)
from geocarbon.outputs.provenance import RunProvenance, tag_sources, widened, written_range
from geocarbon.outputs.staging import StagedOutputs

#: Float outputs use NaN for nodata: it cannot collide with any real density or change.
FLOAT_NODATA = float("nan")


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
        #: (min, max) of the values written into each raster so far; NaN: none yet.
        self.ranges = [(float("nan"), float("nan"))] * len(self.paths)
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
        datasets = self._datasets[first : first + len(stack)]
        for index, (dataset, band) in enumerate(zip(datasets, stack, strict=True), start=first):
            dataset.write(band, 1, window=window)
            self.ranges[index] = widened(self.ranges[index], band)

    def close(self) -> None:
        """Close the rasters, the exact range of each in its STATISTICS_MINIMUM/MAXIMUM (read
        back by ``written_range`` from a Dask run's chunks)."""
        for dataset, (low, high) in zip(self._datasets, self.ranges, strict=True):
            if not dataset.closed:
                if not math.isnan(low):  # some data
                    dataset.update_tags(
                        1, STATISTICS_MINIMUM=repr(low), STATISTICS_MAXIMUM=repr(high)
                    )
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
    to be averaged, as many as GDAL would make (see :func:`streams_overviews`). Every COG
    carries the tags of :func:`~geocarbon.outputs.provenance.raster_tags` (``provenance``: the
    run's density table, scheme and area method).
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
        provenance: RunProvenance | None = None,
    ) -> None:
        self._staged = staged
        self._bands = bands
        self._provenance = provenance
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
            pairs = [
                (scratch, self._staged.temp(final))
                for scratch, final in zip(self._rasters.paths, self._bands, strict=True)
            ]
            ranges = self._rasters.ranges
            tag_sources(pairs, self._bands, self._provenance, self._staged, ranges)
            return pairs
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
        tag_sources(pairs, self._bands, self._provenance, self._staged, self._rasters.ranges)
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
    provenance: RunProvenance | None = None,
) -> None:
    """Mosaic each band's chunk GeoTIFFs (``chunk_files[chunk][band]``) as a VRT, then a COG
    (tagged as :class:`RasterSetWriter` tags its COGs).

    The distributed path's last step: workers wrote tiled chunks, the client assembles them.
    """
    from geocarbon.vrt import mosaic_vrt

    pairs = []
    for index, (final, (description, units)) in enumerate(bands.items()):
        vrt = staged.scratch(final, ".vrt")
        tiles = [files[index] for files in chunk_files]
        vrt.write_text(mosaic_vrt(tiles, description=description, units=units), "utf-8")
        pairs.append((vrt, staged.temp(final)))
    ranges = [written_range([files[index] for files in chunk_files]) for index in range(len(bands))]
    tag_sources(pairs, bands, provenance, staged, ranges)
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


@dataclass(frozen=True)
class ChunkRasters:
    """Opens the tiled GeoTIFFs of one chunk's bands (description, units) in ``folder``."""

    folder: Path
    grid: GridSpec
    bands: tuple[tuple[str, str], ...]

    def __call__(self, chunk: Block) -> TiledRasters:
        """Rasters taking blocks in whole-grid pixel coordinates, covering ``chunk``."""
        chunk_grid = GridSpec(
            self.grid.crs,
            self.grid.block_transform(chunk.row_off, chunk.col_off),
            chunk.height,
            chunk.width,
        )
        paths = [
            self.folder / f"chunk_r{chunk.row_off}_c{chunk.col_off}_b{band}.tif"
            for band in range(len(self.bands))
        ]
        return TiledRasters(paths, chunk_grid, self.bands, origin=(chunk.row_off, chunk.col_off))
