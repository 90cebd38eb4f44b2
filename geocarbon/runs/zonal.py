"""Sequence a zonal run: validate -> zones -> one pass -> per-region tables -> write.

:func:`zonal_stocks` is the Python entry point: it accepts paths, arrays (with ``transform`` and
``crs``), rioxarray DataArrays and GeoDataFrames, and returns a GeoDataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import rasterio

from geocarbon.accounts.regions import (
    UNASSIGNED_ID,
    class_columns,
    mapped_regions,
    parent_table,
    region_class_table,
    region_table,
    regions_with_statistics,
)
from geocarbon.accounts.summary import run_summary
from geocarbon.area import PixelArea, pixel_area
from geocarbon.config import (
    DEFAULT_COVERAGE,
    GDAL_CACHE_MB,
    as_optional_path,
    as_path,
    check_coverage,
)
from geocarbon.engine import PassPlan, PassTotals
from geocarbon.engine.zones import ZoneIndex, build_zone_index
from geocarbon.errors import EmptyRegionWarning, RegionWarning, collecting_warnings, warn
from geocarbon.inputs.arrays import check_lazy_off_dask
from geocarbon.inputs.densities import CarbonTable
from geocarbon.inputs.landcover import (
    LandCoverSource,
    as_source,
)
from geocarbon.inputs.postgis import is_postgis
from geocarbon.inputs.regions import (
    id_text,
    read_regions,
    region_area_ha,
)
from geocarbon.lookup import ClassLookup, build_class_lookup
from geocarbon.outputs.folder import OutputFolder
from geocarbon.outputs.postgis import PostgisTarget, write_run
from geocarbon.outputs.spec import zonal_outputs
from geocarbon.outputs.staging import StagedOutputs
from geocarbon.outputs.tables import (
    write_csv,
    write_geoparquet,
    write_json,
    write_vector,
)
from geocarbon.runs.common import (
    RunOptions,
    check_unknown,
    normalise,
    pass_with_rasters,
    prepare_table,
    warn_nodata_classes,
)


@dataclass(frozen=True, kw_only=True)
class ZonalConfig(RunOptions):
    """A zonal run: land cover, regions and densities, and where (if anywhere) to write."""

    landcover: Path | list[Path] | LandCoverSource
    #: A vector file, a GeoDataFrame, or a PostGIS database (``PG:...``, ``postgresql://...``).
    regions: Path | str | gpd.GeoDataFrame
    densities: str | Path | CarbonTable
    id_field: str
    out_dir: Path | None = None
    name_field: str | None = None
    parent_field: str | None = None
    layer: str | None = None
    coverage: str = DEFAULT_COVERAGE
    dask: str | None = None
    #: Also write the regions layer into PostGIS, within the run: on failure no file is left.
    to_postgis: PostgisTarget | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_coverage(self.coverage)
        if not isinstance(self.landcover, LandCoverSource | list):
            normalise(self, "landcover", as_path(self.landcover, "landcover"))
        if not isinstance(self.regions, gpd.GeoDataFrame) and not is_postgis(self.regions):
            normalise(self, "regions", as_path(self.regions, "regions"))
        normalise(self, "out_dir", as_optional_path(self.out_dir, "out_dir"))


@dataclass(frozen=True)
class ZonalResult:
    """Per-region GeoDataFrame (with ``unassigned`` as a row without geometry), long per-class
    table, parent roll-up (when asked), the summary document and the files written."""

    regions: gpd.GeoDataFrame
    by_class: pd.DataFrame
    parents: pd.DataFrame | None
    summary: dict[str, Any]
    outputs: tuple[Path, ...]
    postgis_tables: tuple[str, ...] = ()


def run_zonal(config: ZonalConfig) -> ZonalResult:
    """Carbon stocks by region in one pass over the land cover (see :mod:`geocarbon.inputs.regions`).

    Raises
    ------
    GeoCarbonError
        Bad table, raster or regions, unknown codes or existing outputs; nothing is written.
    """
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), collecting_warnings():
        return _run_zonal(config)


def _run_zonal(config: ZonalConfig) -> ZonalResult:
    paths = (
        {}
        if config.out_dir is None
        else zonal_outputs(config.out_dir, parents=config.parent_field is not None)
    )
    output = OutputFolder(
        config.out_dir,
        list(paths.values()),
        inputs=[_landcover_path(config.landcover), config.regions, config.densities],
        overwrite=config.overwrite,
        command="zonal",
    )
    source = as_source(config.landcover, nodata=config.nodata)
    check_lazy_off_dask([source], config.dask)
    table = prepare_table(config.densities, config.scheme, encoding=config.encoding)
    warn_nodata_classes([source], table)
    regions = read_regions(
        config.regions,
        id_field=config.id_field,
        name_field=config.name_field,
        parent_field=config.parent_field,
        layer=config.layer,
        encoding=config.encoding,
    )
    _warn_unmatched_regional_rows(table, regions)
    area = pixel_area(source.grid, config.area_method)
    lookup = build_class_lookup(table.codes, dtype=source.dtype)
    index = build_zone_index(regions, source.grid, config.coverage)
    plan = PassPlan((source,), (lookup,), area, zones=index)
    with output as staged:
        totals = pass_with_rasters(
            plan,
            config.stream_options(source),
            staged,
            {},
            dask=config.dask,
            threads=config.threads,
            check=lambda totals: check_unknown(
                [(totals.dates[0], lookup, source)], table, config.unknown
            ),
        )
        histogram = totals.dates[0]
        names = dict(region_ids=index.ids, region_names=index.names)
        wide = region_table(
            histogram, lookup, table, unknown_as_valid=config.unknown == "zero", **names
        )
        by_class = region_class_table(histogram, table, **names)
        parents = parent_table(wide, index.parent_ids) if index.parent_ids is not None else None
        _warn_empty_regions(wide)
        frame = _region_frame(regions, wide)
        summary = _zonal_summary(source, table, area, index, totals, lookup, wide, config)
        if paths:
            _write_zonal(staged, paths, frame, by_class, parents, summary, class_columns(table))
        tables = write_run(config.to_postgis, "zonal", frame)  # last: its transaction is atomic
    return ZonalResult(frame, by_class, parents, summary, tuple(paths.values()), tuple(tables))


def _landcover_path(landcover: Path | list[Path] | LandCoverSource) -> Path | list[Path]:
    return landcover.path if isinstance(landcover, LandCoverSource) else landcover


def _warn_unmatched_regional_rows(table: CarbonTable, regions: gpd.GeoDataFrame) -> None:
    unmatched = sorted(set(table.regional) - {id_text(v) for v in regions["region_id"]})
    if unmatched:
        warn(
            f"Density table {table.source!r} has rows for region_id(s) {', '.join(unmatched)}, which "
            "match no region; check the id field (--id-field) and the table's region_id column.",
            RegionWarning,
        )


def _warn_empty_regions(wide: pd.DataFrame) -> None:
    regions = wide[wide["region_id"] != UNASSIGNED_ID]
    empty = regions.loc[regions["covered_area_ha"] == 0, "region_id"].tolist()
    if empty:
        warn(
            f"Region(s) {', '.join(empty)} cover no pixel of the land cover; they are listed with zero "
            "area. Check that they lie within the raster and share its CRS.",
            EmptyRegionWarning,
        )


def _region_frame(regions: gpd.GeoDataFrame, wide: pd.DataFrame) -> gpd.GeoDataFrame:
    """Regions (id, name, parent as read) and geometries beside their statistics, joined by
    position; ``unassigned`` last, without geometry."""
    return regions_with_statistics(regions.assign(region_area_ha=region_area_ha(regions)), wide)


def _zonal_summary(
    source: LandCoverSource,
    table: CarbonTable,
    area: PixelArea,
    index: ZoneIndex,
    totals: PassTotals,
    lookup: ClassLookup,
    wide: pd.DataFrame,
    config: ZonalConfig,
) -> dict[str, Any]:
    histogram = totals.dates[0]
    raster_total_ha = float(histogram.area_ha[: index.n_regions + 1].sum())
    unassigned = wide[wide["region_id"] == UNASSIGNED_ID].iloc[0]
    regions = wide[wide["region_id"] != UNASSIGNED_ID]
    return run_summary(
        "zonal",
        sources=[source],
        years=None,
        table=table,
        area=area,
        dates=[(histogram, lookup)],
        unknown_mode=config.unknown,
        nodata_override=config.nodata,
        coverage=index.mode,
        reading=totals.reading,
        section={
            "n_regions": index.n_regions,
            "layers": index.n_layers,
            "overlapping_regions": [list(pair) for pair in index.overlaps],
            "empty_regions": wide.loc[
                (wide["covered_area_ha"] == 0) & (wide["region_id"] != UNASSIGNED_ID),
                "region_id",
            ].tolist(),
            "area_ha": {
                "raster": area.total_ha(source.grid.shape),
                "regions_plus_unassigned": raster_total_ha,
                "unassigned_valid": float(unassigned["valid_area_ha"]),
                "regions_valid": float(regions["valid_area_ha"].sum()),
            },
            # The regions' own stock (overlapping regions each count their share); pixels
            # outside every region are reported apart, never added in.
            "totals": {
                "stock_total_mg": float(regions["stock_total_mg"].sum()),
                "stock_total_tg": float(regions["stock_total_tg"].sum()),
                "stock_total_mg_unassigned": float(unassigned["stock_total_mg"]),
                "stock_total_tg_unassigned": float(unassigned["stock_total_tg"]),
            },
        },
    )


def _write_zonal(
    staged: StagedOutputs,
    paths: dict[str, Path],
    frame: gpd.GeoDataFrame,
    by_class: pd.DataFrame,
    parents: pd.DataFrame | None,
    summary: dict[str, Any],
    wide_columns: pd.DataFrame,
) -> None:
    spatial = mapped_regions(frame)
    write_vector(spatial, staged.temp(paths["regions.gpkg"]), summary=summary)
    write_geoparquet(spatial, staged.temp(paths["regions.parquet"]), summary)
    write_csv(
        pd.DataFrame(frame.drop(columns=frame.geometry.name)), staged.temp(paths["regions.csv"])
    )
    write_csv(wide_columns, staged.temp(paths["regions_columns.csv"]))
    write_csv(by_class, staged.temp(paths["regions_by_class.csv"]))
    if parents is not None:
        write_csv(parents, staged.temp(paths["parents.csv"]))
    write_json(summary, staged.temp(paths["zonal_summary.json"]))
