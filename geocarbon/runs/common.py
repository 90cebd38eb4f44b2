"""What every run shares: its options (:class:`RunOptions`), the density table, the block plan
under the memory budget, the pass with its raster sinks, and the checks after the pass (unknown
codes, nodata that is a class).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from math import lcm
from pathlib import Path

import geopandas as gpd

from geocarbon.blocks import block_shape_for_budget
from geocarbon.config import (
    DEFAULT_AREA_METHOD,
    DEFAULT_MEMORY_MB,
    DEFAULT_UNKNOWN,
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
    StreamOptions,
    run_pass,
)
from geocarbon.engine.zones import ZoneIndex, build_zone_index
from geocarbon.errors import ConfigError, NodataClassWarning, UnknownClassError, warn
from geocarbon.grid import GridSpec
from geocarbon.inputs.densities import CarbonTable, crosswalk_table, load_density_table
from geocarbon.inputs.landcover import LandCoverSource
from geocarbon.inputs.nodata import nodata_class_conflict, undeclared_nodata_hint
from geocarbon.inputs.regions import read_regions
from geocarbon.inputs.schemes import schemes_containing
from geocarbon.lookup import ClassLookup
from geocarbon.outputs.creation_options import TILE_SIZE, check_creation_options
from geocarbon.outputs.provenance import RunProvenance
from geocarbon.outputs.rasters import (
    ChunkRasters,
    RasterSetWriter,
    cogs_from_chunks,
    scratch_compressed,
    to_cogs,
)
from geocarbon.outputs.staging import StagedOutputs

#: Bytes a pixel may occupy while in flight: codes (<= 8), bin index (4), area (8), mask (1),
#: five float32 density bands (20).
BYTES_PER_PIXEL = 41


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
    #: GDAL COG creation options over the defaults (``--co KEY=VALUE``), as (key, value) pairs.
    creation_options: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        check_unknown_mode(self.unknown)
        check_area_method(self.area_method)
        normalise(self, "memory_mb", check_memory_mb(self.memory_mb))
        normalise(self, "threads", check_threads(self.threads))
        if self.block_shape is not None:
            normalise(self, "block_shape", check_block_shape(self.block_shape))
        if self.nodata is not None:
            normalise(self, "nodata", check_whole("nodata", self.nodata, minimum=-(2**63)))
        # A bad option fails here, before any input is read (on Dask it would fail after the pass).
        if self.creation_options:
            options = check_creation_options(dict(self.creation_options))
            normalise(self, "creation_options", tuple(options.items()))

    def stream_options(
        self, source: LandCoverSource, bytes_per_pixel: int = BYTES_PER_PIXEL
    ) -> StreamOptions:
        """Blocks planned for ``source`` under the memory budget, with this run's threads."""
        shape = self.block_shape or plan_block_shape(
            source, self.memory_mb, self.threads, bytes_per_pixel
        )
        return StreamOptions(shape, self.threads, self.progress, self.unknown == "error")


def normalise(config: object, name: str, value: object) -> None:
    """Set a field of a frozen config to its checked, normalised value (str paths to Path, ...)."""
    object.__setattr__(config, name, value)


def pass_with_rasters(
    plan: PassPlan,
    options: StreamOptions,
    staged: StagedOutputs,
    bands: dict[Path, tuple[str, str]],
    *,
    dask: str | None,
    threads: int,
    check: Callable[[PassTotals], None],
    creation_options: Mapping[str, str] | None = None,
    provenance: RunProvenance | None = None,
) -> PassTotals:
    """Run ``plan``'s pass; its raster bands (``bands``: staged COG path -> description, units,
    in the plan's band order) become COGs once ``check`` has accepted the histograms.

    On threads the bands stream into tiled intermediates (with streamed overviews); on Dask each
    worker writes its chunks into a staged scratch folder and the client mosaics them. The COGs
    take the user's ``creation_options`` over the defaults (as ``--co KEY=VALUE``) and carry the
    run's ``provenance`` in their tags.
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
        cogs_from_chunks(
            staged,
            bands,
            output.chunk_files,
            threads=threads,
            creation_options=creation_options,
            provenance=provenance,
        )
        return output.totals
    folder = next(iter(bands)).parent
    writer = RasterSetWriter(
        staged,
        plan.grid,
        bands,
        block_shape=options.block_shape,
        compressed=scratch_compressed(folder, plan.grid.n_pixels, len(bands)),
        creation_options=creation_options,
        threads=threads,
        provenance=provenance,
    )
    try:
        totals = run_pass(plan, options, sink=writer).totals
        check(totals)
        to_cogs(writer.finish(), threads=threads, creation_options=creation_options)
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
    """Blocks aligned to the source's storage blocks and the output tiles, under the memory budget;
    for a dask-backed land cover, at most one of its chunks (each block computes one chunk)."""
    in_flight = 2 * threads + 1
    max_pixels = max(1, memory_mb * 2**20 // (bytes_per_pixel * in_flight))
    rows, cols = source.block_shape
    if source.lazy:
        max_pixels = min(max_pixels, rows * cols)
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


def read_zones(
    regions: str | Path | gpd.GeoDataFrame,
    grid: GridSpec,
    *,
    id_field: str | None,
    name_field: str | None,
    parent_field: str | None,
    layer: str | None,
    encoding: str | None,
    coverage: str,
) -> tuple[ZoneIndex, gpd.GeoDataFrame]:
    """A run's regions (read and checked once) and their zone index on ``grid``."""
    if not id_field:
        raise ConfigError("Regions need an id field (--id-field).")
    frame = read_regions(
        regions,
        id_field=id_field,
        name_field=name_field,
        parent_field=parent_field,
        layer=layer,
        encoding=encoding,
    )
    return build_zone_index(frame, grid, coverage), frame
