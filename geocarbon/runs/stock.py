"""The only place that sequences a whole run: validate -> blocks -> accumulate/write -> summarise.

A run's options travel in a frozen :class:`StockConfig`; :func:`run_stock` validates every
input before the first pixel is read, streams the raster block by block on a thread pool (the
kernels release the GIL, each thread has its own GDAL handle), and commits outputs only when
everything succeeded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import lcm
from pathlib import Path
from typing import Any

import pandas as pd
import rasterio

from geocarbon.accounts.summary import (
    StockTotals,
    class_stock_table,
    run_summary,
    stock_totals,
    with_total_row,
)
from geocarbon.area import PixelArea, pixel_area
from geocarbon.blocks import block_shape_for_budget
from geocarbon.config import (
    DEFAULT_AREA_METHOD,
    DEFAULT_MEMORY_MB,
    DEFAULT_UNKNOWN,
    GDAL_CACHE_MB,
    as_path,
    check_area_method,
    check_block_shape,
    check_memory_mb,
    check_threads,
    check_whole,
    default_threads,
)
from geocarbon.config import check_unknown as check_unknown_mode
from geocarbon.engine import (
    Histogram,
    PassPlan,
    PassTotals,
    RasterMaps,
    StreamOptions,
    run_pass,
)
from geocarbon.errors import NodataClassWarning, UnknownClassError, warn
from geocarbon.inputs.densities import CarbonTable, crosswalk_table, load_density_table
from geocarbon.inputs.landcover import (
    LandCoverSource,
    nodata_class_conflict,
    open_landcover,
    undeclared_nodata_hint,
)
from geocarbon.inputs.schemes import schemes_containing
from geocarbon.lookup import ClassLookup, build_class_lookup, density_by_bin
from geocarbon.outputs.chunks import ChunkRasters
from geocarbon.outputs.spec import raster_bands, stock_outputs
from geocarbon.outputs.staging import OutputFolder, StagedOutputs
from geocarbon.outputs.writers import (
    TILE_SIZE,
    RasterSetWriter,
    cogs_from_chunks,
    scratch_compressed,
    to_cogs,
    write_csv,
    write_json,
)
from geocarbon.units import POOLS

#: Bytes a pixel may occupy while in flight: codes (<= 8), bin index (4), area (8), mask (1),
#: five float32 density bands (20).
BYTES_PER_PIXEL = 41
RASTER_NAMES = (*POOLS, "total")


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """Options every run shares: how codes are read and areas measured, and how it executes.

    ``scheme`` is the raster's class scheme (crosswalks a built-in table), ``unknown`` what to do
    with codes missing from the table, ``area_method`` the pixel-area method; ``memory_mb`` bounds
    the blocks in flight, ``threads`` the workers, ``block_shape`` overrides the planned blocks,
    ``progress`` None shows a bar on terminals only.
    """

    scheme: str | None = None
    unknown: str = DEFAULT_UNKNOWN
    area_method: str = DEFAULT_AREA_METHOD
    overwrite: bool = False
    memory_mb: int = DEFAULT_MEMORY_MB
    #: Worker threads: a number, or "all" (one per CPU).
    threads: int = field(default_factory=default_threads)
    block_shape: tuple[int, int] | None = None
    progress: bool | None = None
    #: The land cover's nodata code, replacing the raster's own (like ``gdal_edit -a_nodata``).
    nodata: int | None = None
    #: Text encoding of the density table and the regions' attributes (None: UTF-8, else detected).
    encoding: str | None = None

    def __post_init__(self) -> None:
        check_unknown_mode(self.unknown)
        check_area_method(self.area_method)
        normalise(self, "memory_mb", check_memory_mb(self.memory_mb))
        normalise(self, "threads", check_threads(self.threads))
        if self.block_shape is not None:
            normalise(self, "block_shape", check_block_shape(self.block_shape))
        if self.nodata is not None:
            normalise(self, "nodata", check_whole("nodata", self.nodata, minimum=-(2**63)))

    def stream_options(
        self, source: LandCoverSource, bytes_per_pixel: int = BYTES_PER_PIXEL
    ) -> StreamOptions:
        """Blocks planned for ``source`` under the memory budget, with this run's threads."""
        shape = self.block_shape or plan_block_shape(
            source, self.memory_mb, self.threads, bytes_per_pixel
        )
        return StreamOptions(shape, self.threads, self.progress, self.unknown == "error")


@dataclass(frozen=True, kw_only=True)
class StockConfig(RunOptions):
    """Everything a stock run needs; paths are validated by :func:`run_stock`."""

    landcover: Path
    densities: str | Path
    out_dir: Path
    write_rasters: bool = True
    #: A Dask scheduler address or ``local:N``: run the pixel pass on a cluster.
    dask: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.landcover, list):
            normalise(self, "landcover", as_path(self.landcover, "landcover"))
        normalise(self, "out_dir", as_path(self.out_dir, "out_dir"))


def normalise(config: object, name: str, value: object) -> None:
    """Set a field of a frozen config to its checked, normalised value (str paths to Path, ...)."""
    object.__setattr__(config, name, value)


@dataclass(frozen=True)
class StockResult:
    """Outputs of a stock run: the per-class table, the summary document and the files written."""

    classes: pd.DataFrame
    summary: dict[str, Any]
    outputs: tuple[Path, ...]


def stock_output_paths(out_dir: Path, *, write_rasters: bool) -> dict[str, Path]:
    return stock_outputs(out_dir, rasters=write_rasters)


def run_stock(config: StockConfig) -> StockResult:
    """Carbon density rasters (Mg C/ha, COG) and a per-class stock summary for one land-cover map.

    Raises
    ------
    GeoCarbonError
        Bad table, bad raster, unknown codes (``unknown="error"``) or existing outputs; nothing
        is written in that case.
    """
    # Blocks are read once and written once: a small GDAL block cache keeps memory bounded.
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
        return _run_stock(config)


def _run_stock(config: StockConfig) -> StockResult:
    paths = stock_output_paths(config.out_dir, write_rasters=config.write_rasters)
    output = OutputFolder(
        config.out_dir,
        list(paths.values()),
        inputs=[config.landcover, config.densities],
        overwrite=config.overwrite,
        command="stock",
    )
    source = open_landcover(config.landcover, nodata=config.nodata)
    table = prepare_table(config.densities, config.scheme, encoding=config.encoding)
    warn_nodata_classes([source], table)
    area = pixel_area(source.grid, config.area_method)
    lookup = build_class_lookup(table.codes, dtype=source.dtype)
    density = density_by_bin(table.central_mg_per_ha, unknown_as_zero=config.unknown == "zero")
    bands = raster_bands("stock", paths)
    plan = PassPlan(
        (source,),
        (lookup,),
        area,
        rasters=RasterMaps(density, dates=(0,)) if bands else None,
    )
    with output as staged:
        totals_by_date = pass_with_rasters(
            plan,
            config.stream_options(source),
            staged,
            bands,
            dask=config.dask,
            threads=config.threads,
            check=lambda totals: check_unknown(
                [(totals.dates[0], lookup, source)], table, config.unknown
            ),
        )
        histogram = totals_by_date.dates[0]
        classes = class_stock_table(histogram.area_ha[0], histogram.pixel_count[0], table)
        totals = stock_totals(
            histogram.area_ha[0],
            histogram.pixel_count[0],
            lookup,
            classes,
            unknown_mode=config.unknown,
        )
        summary = _summary_document(source, table, area, lookup, histogram, classes, totals, config)
        write_csv(with_total_row(classes, totals), staged.temp(paths["summary_csv"]))
        write_json(summary, staged.temp(paths["summary_json"]))
    return StockResult(classes, summary, tuple(paths.values()))


def pass_with_rasters(
    plan: PassPlan,
    options: StreamOptions,
    staged: StagedOutputs,
    bands: dict[Path, tuple[str, str]],
    *,
    dask: str | None,
    threads: int,
    check: Callable[[PassTotals], None],
) -> PassTotals:
    """Run ``plan``'s pass; its raster bands (``bands``: staged COG path -> description, units,
    in the plan's band order) become COGs once ``check`` has accepted the histograms.

    On threads the bands stream into tiled intermediates (with streamed overviews); on Dask each
    worker writes its chunks into a staged scratch folder and the client mosaics them.
    """
    if not bands:
        totals = run_pass(plan, options, dask=dask).totals
        check(totals)
        return totals
    if dask:
        folder = staged.scratch_folder(next(iter(bands)))
        sinks = ChunkRasters(folder, plan.grid, tuple(bands.values()))
        output = run_pass(plan, options, dask=dask, chunk_sinks=sinks)
        check(output.totals)
        cogs_from_chunks(staged, bands, output.chunk_files, threads=threads)
        return output.totals
    folder = next(iter(bands)).parent
    writer = RasterSetWriter(
        staged,
        plan.grid,
        bands,
        block_shape=options.block_shape,
        compressed=scratch_compressed(folder, plan.grid.n_pixels, len(bands)),
    )
    try:
        totals = run_pass(plan, options, sink=writer).totals
        check(totals)
        to_cogs(writer.finish(), threads=threads)
    finally:
        writer.close()
    return totals


def prepare_table(
    densities: str | Path | CarbonTable, scheme: str | None, *, encoding: str | None = None
) -> CarbonTable:
    """Load the density table and, when the raster's scheme differs from the table's, crosswalk it."""
    table = (
        densities
        if isinstance(densities, CarbonTable)
        else load_density_table(densities, encoding=encoding)
    )
    return crosswalk_table(table, scheme) if scheme else table


def plan_block_shape(
    source: LandCoverSource,
    memory_mb: int,
    threads: int,
    bytes_per_pixel: int = BYTES_PER_PIXEL,
) -> tuple[int, int]:
    """Blocks aligned to the source's storage blocks and the output tiles, under the memory budget."""
    in_flight = 2 * threads + 1
    max_pixels = max(1, memory_mb * 2**20 // (bytes_per_pixel * in_flight))
    rows, cols = source.block_shape
    align_rows = lcm(rows, TILE_SIZE) if rows < source.grid.height else TILE_SIZE
    align_cols = lcm(cols, TILE_SIZE) if cols < source.grid.width else TILE_SIZE
    return block_shape_for_budget(
        source.grid.shape, max_pixels=max_pixels, align=(align_rows, align_cols)
    )


def check_unknown(
    dates: Sequence[tuple[Histogram, ClassLookup, LandCoverSource]],
    table: CarbonTable,
    mode: str,
) -> None:
    """With ``mode`` "error", raise one :class:`UnknownClassError` listing every code missing
    from ``table`` on every date (histogram, lookup and source of each), with pixel counts."""
    found = [(hist.unknown_codes(lookup), hist, source) for hist, lookup, source in dates]
    found = [item for item in found if item[0]]
    if not found or mode != "error":
        return
    present: set[int] = set()
    missing: dict[int, int] = {}
    listings = []
    for unknown, histogram, source in found:
        listing = ", ".join(f"{code} ({count} px)" for code, count in unknown.items())
        listings.append(f"{listing} in {str(source.path)!r}")
        present |= {int(c) for c in table.codes[histogram.pixel_count[0, : table.n_classes] > 0]}
        for code, count in unknown.items():
            missing[code] = missing.get(code, 0) + count
    likely = [name for name in schemes_containing(present | set(missing)) if name != table.scheme]
    hint = f" The codes fit the built-in scheme(s) {', '.join(likely)}." if likely else ""
    # A missing code that looks like an undeclared nodata value must not be counted as land.
    nodata_hint = "".join(undeclared_nodata_hint(source, unknown) for unknown, _, source in found)
    fixes = (
        "Otherwise add rows for them, pick the raster's scheme with --scheme, or pass --unknown "
        "nodata (excluded)."
        if nodata_hint
        else "Add rows for them, pick the raster's scheme with --scheme, or pass --unknown zero "
        "(no carbon) or --unknown nodata (excluded); both count them in the summary."
    )
    raise UnknownClassError(
        f"Land-cover classes {'; '.join(listings)} have no row in density table "
        f"{table.source!r}.{hint}{nodata_hint} {fixes}",
        missing=missing,
    )


def warn_nodata_classes(sources: Sequence[LandCoverSource], table: CarbonTable) -> None:
    """Warn when a raster's nodata value is a class of the table (that class is then excluded)."""
    for source in sources:
        conflict = nodata_class_conflict(source, table.codes, table.names)
        if conflict:
            warn(conflict, NodataClassWarning)


def _summary_document(
    source: LandCoverSource,
    table: CarbonTable,
    area: PixelArea,
    lookup: ClassLookup,
    histogram: Histogram,
    classes: pd.DataFrame,
    totals: StockTotals,
    config: StockConfig,
) -> dict[str, Any]:
    return run_summary(
        "stock",
        sources=[source],
        years=None,
        table=table,
        area=area,
        dates=[(histogram, lookup)],
        unknown_mode=config.unknown,
        nodata_override=config.nodata,
        coverage=None,
        section={
            "pixel_count": totals.pixel_count,
            "area_ha": totals.area_ha,
            "totals": totals.stock_mg,
            "classes": classes.to_dict(orient="records"),
        },
    )
