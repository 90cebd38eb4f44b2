"""The only place that sequences a whole run: validate -> blocks -> accumulate/write -> summarise.

A run's options travel in a frozen :class:`StockConfig`; :func:`run_stock` validates every
input before the first pixel is read, streams the raster block by block on a thread pool (the
kernels release the GIL, each thread has its own GDAL handle), and commits outputs only when
everything succeeded.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from math import lcm
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio

from geocarbon._version import __version__
from geocarbon.area import PixelArea, pixel_area
from geocarbon.blocks import block_shape_for_budget
from geocarbon.errors import UnknownClassError
from geocarbon.lookup import UNKNOWN_MODES, ClassLookup, build_class_lookup, density_by_bin
from geocarbon.raster_io import LandCoverSource, open_landcover
from geocarbon.schemes import schemes_containing
from geocarbon.stocks import Histogram
from geocarbon.streaming import StreamOptions, stream_histogram
from geocarbon.summary import (
    StockTotals,
    class_stock_table,
    stock_totals,
    with_total_row,
)
from geocarbon.tables import CarbonTable, crosswalk_table, load_density_table
from geocarbon.units import POOLS
from geocarbon.writers import (
    TILE_SIZE,
    RasterSetWriter,
    StagedOutputs,
    refuse_existing,
    write_csv,
    write_geoparquet,
    write_json,
    write_vector,
)
from geocarbon.zonal import UNASSIGNED_ID, parent_table, region_class_table, region_table
from geocarbon.zones import ZoneIndex, build_zone_index, read_regions, region_area_ha

DEFAULT_MEMORY_MB = 512
GDAL_CACHE_MB = 64
#: Bytes a pixel may occupy while in flight: codes (<= 8), bin index (4), area (8), mask (1),
#: five float32 density bands (20).
BYTES_PER_PIXEL = 41
RASTER_NAMES = (*POOLS, "total")


@dataclass(frozen=True)
class StockConfig:
    """Everything a stock run needs; paths are validated by :func:`run_stock`."""

    landcover: Path
    densities: str | Path
    out_dir: Path
    scheme: str | None = None
    unknown: str = "error"
    area_method: str = "auto"
    write_rasters: bool = True
    overwrite: bool = False
    memory_mb: int = DEFAULT_MEMORY_MB
    threads: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    block_shape: tuple[int, int] | None = None
    progress: bool | None = None

    def __post_init__(self) -> None:
        if self.unknown not in UNKNOWN_MODES:
            raise ValueError(f"unknown must be one of {UNKNOWN_MODES}, got {self.unknown!r}")


@dataclass(frozen=True)
class StockResult:
    """Outputs of a stock run: the per-class table, the summary document and the files written."""

    classes: pd.DataFrame
    summary: dict[str, Any]
    outputs: tuple[Path, ...]


def stock_output_paths(out_dir: Path, *, write_rasters: bool) -> dict[str, Path]:
    paths = {
        "summary_csv": out_dir / "stock_summary.csv",
        "summary_json": out_dir / "stock_summary.json",
    }
    if write_rasters:
        paths.update({name: out_dir / f"density_{name}_mg_per_ha.tif" for name in RASTER_NAMES})
    return paths


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
    source = open_landcover(config.landcover)
    table = prepare_table(config.densities, config.scheme)
    paths = stock_output_paths(config.out_dir, write_rasters=config.write_rasters)
    area = pixel_area(source.grid, config.area_method)
    lookup = build_class_lookup(table.codes, dtype=source.dtype)
    density = density_by_bin(table.central_mg_per_ha, unknown_as_zero=config.unknown == "zero")
    block_shape = config.block_shape or plan_block_shape(source, config.memory_mb, config.threads)
    with StagedOutputs(list(paths.values()), overwrite=config.overwrite) as staged:
        writer = None
        if config.write_rasters:
            bands = {
                paths[name]: (
                    f"carbon density, {name} pool"
                    if name != "total"
                    else "carbon density, all pools",
                    "Mg C/ha",
                )
                for name in RASTER_NAMES
            }
            writer = RasterSetWriter(staged, source.grid, bands, threads=config.threads)
        try:
            options = StreamOptions(
                block_shape, config.threads, config.progress, config.unknown == "error"
            )
            histogram = stream_histogram(
                source, lookup, area, options, density_by_bin=density, writer=writer
            )
            _check_unknown(histogram, lookup, source, table, config.unknown)
            if writer is not None:
                writer.finish()
        finally:
            if writer is not None:
                writer.close()
        classes = class_stock_table(histogram.area_ha[0], histogram.pixel_count[0], table)
        summary = _summary_document(source, table, area, lookup, histogram, classes, config)
        write_csv(
            with_total_row(classes, _totals(histogram, lookup, classes, config)),
            staged.temp(paths["summary_csv"]),
        )
        write_json(summary, staged.temp(paths["summary_json"]))
    return StockResult(classes, summary, tuple(paths.values()))


def prepare_table(densities: str | Path | CarbonTable, scheme: str | None) -> CarbonTable:
    """Load the density table and, when the raster's scheme differs from the table's, crosswalk it."""
    table = densities if isinstance(densities, CarbonTable) else load_density_table(densities)
    return crosswalk_table(table, scheme) if scheme else table


def plan_block_shape(source: LandCoverSource, memory_mb: int, threads: int) -> tuple[int, int]:
    """Blocks aligned to the source's storage blocks and the output tiles, under the memory budget."""
    in_flight = 2 * threads + 1
    max_pixels = max(1, memory_mb * 2**20 // (BYTES_PER_PIXEL * in_flight))
    rows, cols = source.block_shape
    align_rows = lcm(rows, TILE_SIZE) if rows < source.grid.height else TILE_SIZE
    align_cols = lcm(cols, TILE_SIZE) if cols < source.grid.width else TILE_SIZE
    return block_shape_for_budget(
        source.grid.shape, max_pixels=max_pixels, align=(align_rows, align_cols)
    )


def _check_unknown(
    histogram: Histogram,
    lookup: ClassLookup,
    source: LandCoverSource,
    table: CarbonTable,
    mode: str,
) -> None:
    unknown = histogram.unknown_codes(lookup)
    if not unknown or mode != "error":
        return
    listing = ", ".join(f"{code} ({count} px)" for code, count in unknown.items())
    present = {int(code) for code in table.codes[histogram.pixel_count[0, : table.n_classes] > 0]}
    likely = [name for name in schemes_containing(present | set(unknown)) if name != table.scheme]
    hint = f" The codes fit the built-in scheme(s) {', '.join(likely)}." if likely else ""
    raise UnknownClassError(
        f"Land-cover classes {listing} in {str(source.path)!r} have no row in density table "
        f"{table.source!r}.{hint} Add rows for them, pick the raster's scheme with --scheme, or pass "
        "--unknown zero (no carbon) or --unknown nodata (excluded); both count them in the summary.",
        missing=unknown,
    )


def _totals(
    histogram: Histogram, lookup: ClassLookup, classes: pd.DataFrame, config: StockConfig
) -> StockTotals:
    return stock_totals(
        histogram.area_ha[0], histogram.pixel_count[0], lookup, classes, unknown_mode=config.unknown
    )


def _summary_document(
    source: LandCoverSource,
    table: CarbonTable,
    area: PixelArea,
    lookup: ClassLookup,
    histogram: Histogram,
    classes: pd.DataFrame,
    config: StockConfig,
) -> dict[str, Any]:
    totals = _totals(histogram, lookup, classes, config)
    unknown = histogram.unknown_codes(lookup)
    return {
        "geocarbon_version": __version__,
        "landcover": str(source.path),
        "densities": table.source,
        "scheme": table.scheme,
        "crs": source.grid.crs.to_string(),
        "shape": list(source.grid.shape),
        "area_method": area.method,
        "nominal_pixel_area_ha": None if np.isnan(area.nominal_ha) else area.nominal_ha,
        "raster_nodata": source.nodata,
        "unknown_mode": config.unknown,
        "unknown_classes": [
            {"class_code": code, "pixel_count": count} for code, count in sorted(unknown.items())
        ],
        "pixel_count": totals.pixel_count,
        "area_ha": totals.area_ha,
        "totals": totals.stock_mg,
        "classes": classes.to_dict(orient="records"),
    }


@dataclass(frozen=True)
class ZonalConfig:
    """A zonal run: land cover, regions and densities, and where (if anywhere) to write."""

    landcover: Path | LandCoverSource
    regions: Path | gpd.GeoDataFrame
    densities: str | Path | CarbonTable
    id_field: str
    out_dir: Path | None = None
    name_field: str | None = None
    parent_field: str | None = None
    layer: str | None = None
    coverage: str = "centre"
    scheme: str | None = None
    unknown: str = "error"
    area_method: str = "auto"
    overwrite: bool = False
    memory_mb: int = DEFAULT_MEMORY_MB
    threads: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    block_shape: tuple[int, int] | None = None
    progress: bool | None = None


@dataclass(frozen=True)
class ZonalResult:
    """Per-region GeoDataFrame (with ``unassigned`` as a row without geometry), long per-class
    table, parent roll-up (when asked), the summary document and the files written."""

    regions: gpd.GeoDataFrame
    by_class: pd.DataFrame
    parents: pd.DataFrame | None
    summary: dict[str, Any]
    outputs: tuple[Path, ...]


def zonal_output_paths(out_dir: Path, *, parents: bool) -> dict[str, Path]:
    names = ["regions.gpkg", "regions.csv", "regions_by_class.csv", "regions.parquet"]
    names += ["parents.csv"] if parents else []
    names.append("zonal_summary.json")
    return {name: out_dir / name for name in names}


def run_zonal(config: ZonalConfig) -> ZonalResult:
    """Carbon stocks by region in one pass over the land cover (see :mod:`geocarbon.zones`).

    Raises
    ------
    GeoCarbonError
        Bad table, raster or regions, unknown codes or existing outputs; nothing is written.
    """
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
        return _run_zonal(config)


def _run_zonal(config: ZonalConfig) -> ZonalResult:
    source = _landcover(config.landcover)
    table = prepare_table(config.densities, config.scheme)
    regions = read_regions(
        config.regions,
        id_field=config.id_field,
        name_field=config.name_field,
        parent_field=config.parent_field,
        layer=config.layer,
    )
    _warn_unmatched_regional_rows(table, regions)
    paths = (
        {}
        if config.out_dir is None
        else zonal_output_paths(config.out_dir, parents=config.parent_field is not None)
    )
    refuse_existing(list(paths.values()), overwrite=config.overwrite)
    area = pixel_area(source.grid, config.area_method)
    lookup = build_class_lookup(table.codes, dtype=source.dtype)
    index = build_zone_index(regions, source.grid, config.coverage)
    options = StreamOptions(
        config.block_shape or plan_block_shape(source, config.memory_mb, config.threads),
        config.threads,
        config.progress,
        config.unknown == "error",
    )
    histogram = stream_histogram(source, lookup, area, options, zones=index)
    _check_unknown(histogram, lookup, source, table, config.unknown)
    names = dict(region_ids=index.ids, region_names=index.names)
    wide = region_table(
        histogram, lookup, table, unknown_as_valid=config.unknown == "zero", **names
    )
    by_class = region_class_table(histogram, table, **names)
    parents = parent_table(wide, index.parent_ids) if index.parent_ids is not None else None
    _warn_empty_regions(wide)
    frame = _region_frame(regions, wide)
    summary = _zonal_summary(source, table, area, index, histogram, lookup, wide, config)
    if paths:
        with StagedOutputs(list(paths.values()), overwrite=config.overwrite) as staged:
            _write_zonal(staged, paths, frame, by_class, parents, summary)
    return ZonalResult(frame, by_class, parents, summary, tuple(paths.values()))


def _landcover(landcover: Path | LandCoverSource) -> LandCoverSource:
    return landcover if isinstance(landcover, LandCoverSource) else open_landcover(landcover)


def _warn_unmatched_regional_rows(table: CarbonTable, regions: gpd.GeoDataFrame) -> None:
    unmatched = sorted(set(table.regional) - set(regions["region_id"]))
    if unmatched:
        warnings.warn(
            f"Density table {table.source!r} has rows for region_id(s) {', '.join(unmatched)}, which "
            "match no region; check the id field (--id-field) and the table's region_id column.",
            UserWarning,
            stacklevel=4,
        )


def _warn_empty_regions(wide: pd.DataFrame) -> None:
    regions = wide[wide["region_id"] != UNASSIGNED_ID]
    empty = regions.loc[regions["covered_area_ha"] == 0, "region_id"].tolist()
    if empty:
        warnings.warn(
            f"Region(s) {', '.join(empty)} cover no pixel of the land cover; they are listed with zero "
            "area. Check that they lie within the raster and share its CRS.",
            UserWarning,
            stacklevel=4,
        )


def _region_frame(regions: gpd.GeoDataFrame, wide: pd.DataFrame) -> gpd.GeoDataFrame:
    """Region attributes and geometries joined to their statistics; ``unassigned`` last, no geometry."""
    attributes = regions.drop(columns=["region_name"]).assign(
        region_area_ha=region_area_ha(regions)
    )
    frame = wide.merge(attributes, on="region_id", how="left")
    return gpd.GeoDataFrame(frame, geometry=regions.geometry.name, crs=regions.crs)


def _zonal_summary(
    source: LandCoverSource,
    table: CarbonTable,
    area: PixelArea,
    index: ZoneIndex,
    histogram: Histogram,
    lookup: ClassLookup,
    wide: pd.DataFrame,
    config: ZonalConfig,
) -> dict[str, Any]:
    raster_total_ha = float(histogram.area_ha[: index.n_regions + 1].sum())
    unassigned = wide[wide["region_id"] == UNASSIGNED_ID].iloc[0]
    return {
        "geocarbon_version": __version__,
        "landcover": str(source.path),
        "densities": table.source,
        "regional_densities": sorted(table.regional),
        "scheme": table.scheme,
        "crs": source.grid.crs.to_string(),
        "area_method": area.method,
        "coverage": index.mode,
        "n_regions": index.n_regions,
        "layers": index.n_layers,
        "overlapping_regions": [list(pair) for pair in index.overlaps],
        "empty_regions": wide.loc[
            (wide["covered_area_ha"] == 0) & (wide["region_id"] != UNASSIGNED_ID), "region_id"
        ].tolist(),
        "unknown_mode": config.unknown,
        "unknown_classes": [
            {"class_code": c, "pixel_count": n} for c, n in histogram.unknown_codes(lookup).items()
        ],
        "area_ha": {
            "raster": area.total_ha(source.grid.shape),
            "regions_plus_unassigned": raster_total_ha,
            "unassigned_valid": float(unassigned["valid_area_ha"]),
            "regions_valid": float(wide["valid_area_ha"].sum() - unassigned["valid_area_ha"]),
        },
        "totals": {
            "stock_total_mg": float(wide["stock_total_mg"].sum()),
            "stock_total_tg": float(wide["stock_total_tg"].sum()),
            "stock_total_mg_unassigned": float(unassigned["stock_total_mg"]),
        },
    }


def _write_zonal(
    staged: StagedOutputs,
    paths: dict[str, Path],
    frame: gpd.GeoDataFrame,
    by_class: pd.DataFrame,
    parents: pd.DataFrame | None,
    summary: dict[str, Any],
) -> None:
    spatial = frame[frame["region_id"] != UNASSIGNED_ID]
    write_vector(spatial, staged.temp(paths["regions.gpkg"]), driver="GPKG", layer="regions")
    write_geoparquet(spatial, staged.temp(paths["regions.parquet"]))
    write_csv(
        pd.DataFrame(frame.drop(columns=frame.geometry.name)), staged.temp(paths["regions.csv"])
    )
    write_csv(by_class, staged.temp(paths["regions_by_class.csv"]))
    if parents is not None:
        write_csv(parents, staged.temp(paths["parents.csv"]))
    write_json(summary, staged.temp(paths["zonal_summary.json"]))
