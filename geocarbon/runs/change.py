"""Sequence a change run: validate and align dates -> one pass over all of them -> accounts -> write.

:func:`stock_change` is the Python entry point (paths, arrays or GeoDataFrames in; tables out).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio

from geocarbon.accounts.change import Period, periods_of
from geocarbon.accounts.uncertainty import MonteCarlo
from geocarbon.accounts.valuation import Valuation
from geocarbon.area import PixelArea, pixel_area
from geocarbon.config import (
    DEFAULT_COVERAGE,
    DEFAULT_SOIL_TRANSITION_YEARS,
    GDAL_CACHE_MB,
    as_optional_path,
    as_path,
    check_coverage,
    check_fraction,
    check_years,
    check_years_span,
)
from geocarbon.engine import PassPlan, PassTotals, RasterMaps
from geocarbon.engine.zones import ZoneIndex
from geocarbon.errors import ConfigError, ResamplingWarning, collecting_warnings, warn
from geocarbon.grid import GridSpec, check_same_grid
from geocarbon.inputs.arrays import check_lazy_off_dask
from geocarbon.inputs.densities import CarbonTable
from geocarbon.inputs.growth import GrowthTable
from geocarbon.inputs.landcover import LandCoverSource, as_source, open_landcover
from geocarbon.inputs.postgis import is_postgis
from geocarbon.lookup import ClassLookup, build_class_lookup, density_by_bin
from geocarbon.outputs.folder import OutputFolder
from geocarbon.outputs.postgis import PostgisTarget, write_run
from geocarbon.outputs.provenance import RunProvenance
from geocarbon.outputs.spec import change_outputs, raster_bands
from geocarbon.outputs.staging import StagedOutputs
from geocarbon.outputs.tables import (
    write_csv,
    write_geoparquet,
    write_json,
    write_vector,
)
from geocarbon.runs.arrays_out import pass_with_outputs
from geocarbon.runs.change_accounts import ChangeTables, change_accounts
from geocarbon.runs.common import (
    RunOptions,
    check_unknown,
    normalise,
    prepare_table,
    read_zones,
    warn_nodata_classes,
)
from geocarbon.runs.sink import run_categories, sink_inputs, wants_walk
from geocarbon.units import POOLS

#: The default Monte Carlo: draws, seed, distribution and correlation from :mod:`geocarbon.config`.
DEFAULT_MONTE_CARLO = MonteCarlo()
CHANGE_BANDS = (*POOLS, "total")


@dataclass(frozen=True, kw_only=True)
class ChangeConfig(RunOptions):
    """A change run over two or more dates, optionally by region, valued and with uncertainty."""

    landcovers: tuple[Path | list[Path] | LandCoverSource, ...]
    years: tuple[int, ...]
    densities: str | Path | CarbonTable
    out_dir: Path | None = None
    #: A vector file, a GeoDataFrame, or a PostGIS database (``PG:...``, ``postgresql://...``).
    regions: Path | str | gpd.GeoDataFrame | None = None
    id_field: str | None = None
    name_field: str | None = None
    #: The regions' parent id field: adds ``parents.csv``, every period's change per parent.
    parent_field: str | None = None
    layer: str | None = None
    coverage: str = DEFAULT_COVERAGE
    align_to: str | None = None
    valuation: Valuation | None = None
    monte_carlo: MonteCarlo | None = field(default_factory=MonteCarlo)
    write_rasters: bool = True
    #: Also write every date's density per pool and total (as ``geocarbon stock`` would).
    date_rasters: bool = False
    #: A Dask scheduler address or ``local:N``: run the pixel pass on a cluster.
    dask: str | None = None
    #: Growth rates of land that stays in its class (a CSV, a built-in name, or a GrowthTable).
    growth: str | Path | GrowthTable | None = None
    #: A raster of ages (years) at the first date; else ages come from the series.
    ages: Path | None = None
    #: Age at the first date of land with no age of its own (None: older than every age class).
    initial_age: float | None = None
    #: Years over which soil carbon moves to the new class's after a conversion (0: instant).
    soil_transition_years: float = DEFAULT_SOIL_TRANSITION_YEARS
    #: Density maps as pool sources: ``POOL=PATH`` or ``POOL@YEAR=PATH`` (or parsed specs).
    density_rasters: tuple[Any, ...] = ()
    #: Maps hold biomass (Mg/ha): times this carbon fraction (IPCC default 0.47).
    carbon_fraction: float | None = None
    #: Per-class factors (CSV) multiplying density-raster values.
    density_factors: Path | None = None
    #: Class -> IPCC land category table overriding the scheme's.
    ipcc_categories: Path | None = None
    #: Also write the regions layer into PostGIS, within the run: on failure no file is left.
    to_postgis: PostgisTarget | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_coverage(self.coverage)
        check_years_span("soil_transition_years", self.soil_transition_years)
        if self.initial_age is not None:
            check_years_span("initial_age", self.initial_age)
        if self.carbon_fraction is not None:
            check_fraction("carbon_fraction", self.carbon_fraction)
        for name in ("ages", "density_factors", "ipcc_categories"):
            normalise(self, name, as_optional_path(getattr(self, name), name))
        if self.growth is not None and not isinstance(self.growth, GrowthTable | Path):
            normalise(self, "growth", str(as_path(self.growth, "growth")))
        normalise(self, "density_rasters", tuple(self.density_rasters))
        landcovers = tuple(
            item if isinstance(item, LandCoverSource | list) else as_path(item, "landcovers")
            for item in self.landcovers
        )
        normalise(self, "landcovers", landcovers)
        normalise(self, "years", check_years(self.years))
        if self.regions is None and (self.id_field or self.parent_field):
            raise ConfigError("--id-field and --parent-field need --regions (region polygons).")
        if self.regions is not None and not isinstance(self.regions, gpd.GeoDataFrame):
            if not is_postgis(self.regions):  # a database stays a connection string
                normalise(self, "regions", as_path(self.regions, "regions"))
        normalise(self, "out_dir", as_optional_path(self.out_dir, "out_dir"))

    @property
    def region_fields(self) -> dict[str, str | None]:
        """How the regions are read: their id, name and parent fields, layer and encoding."""
        names = ("id_field", "name_field", "parent_field", "layer", "encoding")
        return {name: getattr(self, name) for name in names}


@dataclass(frozen=True)
class ChangeResult:
    """Per-region change for every period (long), transitions, stock series, regions with the
    first-to-last change (GeoDataFrame, when regions were given), summary and files written."""

    change: pd.DataFrame
    transitions: pd.DataFrame
    series: pd.DataFrame
    regions: gpd.GeoDataFrame | None
    summary: dict[str, Any]
    outputs: tuple[Path, ...]
    #: Without out_dir (and with write_rasters): the rasters a file run writes, as DataArrays by
    #: file stem (:mod:`geocarbon.runs.arrays_out`), lazy when a land cover is dask-backed.
    rasters: dict[str, Any] = field(default_factory=dict)
    parents: pd.DataFrame | None = None  # with a parent field: each period's change per parent
    postgis_tables: tuple[str, ...] = ()  # with to_postgis: the tables written


def run_change(config: ChangeConfig) -> ChangeResult:
    """Stock change between dates, by region, with transitions, rates, value and uncertainty.

    Raises
    ------
    GeoCarbonError
        Dates and years that do not match, grids that differ (without ``align_to``), bad
        tables or regions, unknown codes, existing outputs; nothing is written.
    """
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), collecting_warnings():
        return _run_change(config)


def _run_change(config: ChangeConfig) -> ChangeResult:
    periods = _check_dates(config)
    table = prepare_table(config.densities, config.scheme, encoding=config.encoding)
    categories, no_categories = run_categories(config, table)
    # Without a folder, the files a run would write name the rasters it returns.
    files = change_outputs(
        config.out_dir or Path(),
        [period.label for period in periods],
        config.years,
        rasters=config.write_rasters,
        regions=config.regions is not None,
        parents=config.parent_field is not None,
        npv=config.valuation is not None,
        date_rasters=config.date_rasters,
        categories=categories is not None,
    )
    paths = {} if config.out_dir is None else files
    output = OutputFolder(
        config.out_dir,
        list(paths.values()),
        inputs=[
            *(
                item.path if isinstance(item, LandCoverSource) else item
                for item in config.landcovers
            ),
            config.regions,
            config.densities,
            config.align_to,
            config.growth,
            config.ages,
            config.density_factors,
            config.ipcc_categories,
            *(str(spec).split("=", 1)[-1] for spec in config.density_rasters),
        ],
        overwrite=config.overwrite,
        command="change",
    )
    sources = _aligned_sources(config)
    grid = sources[0].grid
    warn_nodata_classes(sources, table)
    index, regions_frame = (
        (None, None)
        if config.regions is None
        else read_zones(config.regions, grid, **config.region_fields, coverage=config.coverage)
    )
    area = pixel_area(grid, config.area_method)
    lookups = [build_class_lookup(table.codes, dtype=source.dtype) for source in sources]
    bands = raster_bands("change", files)
    sink = sink_inputs(config, table, grid, index, categories) if wants_walk(config) else None
    plan = _dates_plan(sources, lookups, area, periods, index, table, config, bool(bands))
    if sink is not None:
        plan = replace(plan, state=sink.state)
    options = config.stream_options(sources[0], _bytes_per_pixel(plan, len(bands)))

    def check(totals: PassTotals) -> None:
        check_unknown(list(zip(totals.dates, lookups, sources, strict=True)), table, config.unknown)

    with output as staged:
        totals, rasters = pass_with_outputs(
            plan,
            options,
            staged,
            bands,
            config,
            dask=config.dask,
            in_memory=config.out_dir is None,
            provenance=RunProvenance.of(table.source, scheme=table.scheme, area_method=area.method),
            check=check,
        )
        result = change_accounts(
            config,
            table,
            index,
            regions_frame,
            periods,
            totals,
            lookups,
            area,
            sources,
            sink,
            categories,
            no_categories,
        )
        if paths:
            _write_change(staged, paths, result)
        tables = write_run(config.to_postgis, "change", result.regions)  # last: atomic
    return ChangeResult(
        result.change,
        result.transitions,
        result.series,
        result.regions,
        result.summary,
        tuple(paths.values()),
        rasters,
        parents=result.parents,
        postgis_tables=tuple(tables),
    )


def _bytes_per_pixel(plan: PassPlan, n_bands: int) -> int:
    """Bytes a pixel may occupy in flight: per date its code, mask and bin (a byte on the run
    path, 4 on the general one, which also holds a pair key of 4 per period); its area (8); and 4
    per float band written, a third more for its overviews."""
    bin_bytes = 1 if plan.on_runs else 4
    dates = sum(np.dtype(source.dtype).itemsize + 1 + bin_bytes for source in plan.sources)
    pairs = 0 if plan.on_runs else 4 * len(plan.pairs)
    walk = 0
    if plan.state is not None:  # pixel areas and zone rows, ages, density-raster values
        maps = getattr(getattr(plan.state, "density_rasters", None), "pools", ())
        walk = 8 + 4 + 4 + 4 * len(maps) * plan.n_dates * 2
    return dates + 8 + pairs + walk + -(-16 * n_bands // 3)


def _check_dates(config: ChangeConfig) -> list[Period]:
    if len(config.landcovers) < 2:
        raise ConfigError(
            f"Stock change needs at least two land-cover dates, got {len(config.landcovers)}."
        )
    if len(config.years) != len(config.landcovers):
        raise ConfigError(
            f"{len(config.landcovers)} land-cover rasters but {len(config.years)} years; give one year per "
            "raster, in the same order (--years 2000 2020)."
        )
    if any(b <= a for a, b in zip(config.years, config.years[1:], strict=False)):
        raise ConfigError(
            f"Years must increase from one date to the next, got {list(config.years)}."
        )
    return periods_of(tuple(config.years))


def _aligned_sources(config: ChangeConfig) -> list[LandCoverSource]:
    """Open every date; put them on one grid, or explain how their grids differ."""
    sources = [as_source(item, nodata=config.nodata) for item in config.landcovers]
    check_lazy_off_dask(sources, config.dask)
    if config.align_to is None:
        for source in sources[1:]:
            check_same_grid(
                sources[0].grid,
                source.grid,
                reference_name=str(sources[0].path),
                other_name=str(source.path),
            )
        return sources
    target, target_name = _alignment_grid(config.align_to, sources)
    aligned = []
    for source in sources:
        if _same_grid(source.grid, target):
            aligned.append(source)
            continue
        warn(
            f"{source.path} is resampled (nearest neighbour) onto the grid of {target_name}, block by block.",
            ResamplingWarning,
        )
        aligned.append(source.warped_to(target))
    return aligned


def _alignment_grid(align_to: str, sources: list[LandCoverSource]) -> tuple[GridSpec, str]:
    if align_to.lower() == "first":
        return sources[0].grid, str(sources[0].path)
    return open_landcover(align_to).grid, align_to


def _same_grid(a: GridSpec, b: GridSpec) -> bool:
    return (
        a.crs == b.crs
        and a.shape == b.shape
        and a.transform.almost_equals(b.transform, precision=1e-9)
    )


def _dates_plan(
    sources: list[LandCoverSource],
    lookups: list[ClassLookup],
    area: PixelArea,
    periods: list[Period],
    index: ZoneIndex | None,
    table: CarbonTable,
    config: ChangeConfig,
    rasters: bool,
) -> PassPlan:
    """One pass over every date: the periods' transitions, and (with ``rasters``) the change of
    every period (with its NPV) and each date's densities when asked."""
    density = density_by_bin(table.central_mg_per_ha, unknown_as_zero=config.unknown == "zero")
    maps = RasterMaps(
        density,
        dates=tuple(range(len(sources))) if config.date_rasters else (),
        pairs=tuple(range(len(periods))),
        npv_constants=tuple(
            None
            if config.valuation is None
            else config.valuation.constant(p.year_start, p.year_end)
            for p in periods
        ),
    )
    return PassPlan(
        tuple(sources),
        tuple(lookups),
        area,
        zones=index,
        pairs=tuple((period.start, period.end) for period in periods),
        rasters=maps if rasters else None,
    )


def _write_change(staged: StagedOutputs, paths: dict[str, Path], tables: ChangeTables) -> None:
    write_csv(tables.change, staged.temp(paths["change.csv"]))
    write_csv(tables.transitions, staged.temp(paths["transitions.csv"]))
    write_csv(tables.series, staged.temp(paths["series.csv"]))
    write_json(tables.summary, staged.temp(paths["change_summary.json"]))
    if tables.categories is not None and "ipcc_categories.csv" in paths:
        write_csv(tables.categories, staged.temp(paths["ipcc_categories.csv"]))
    if tables.parents is not None:
        write_csv(tables.parents, staged.temp(paths["parents.csv"]))
    if tables.regions is not None:
        write_vector(tables.regions, staged.temp(paths["regions.gpkg"]), summary=tables.summary)
        write_geoparquet(tables.regions, staged.temp(paths["regions.parquet"]), tables.summary)
        write_csv(
            pd.DataFrame(tables.regions.drop(columns=tables.regions.geometry.name)),
            staged.temp(paths["regions.csv"]),
        )
