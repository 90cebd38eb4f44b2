"""Sequence a change run: validate and align dates -> one pass over all of them -> accounts -> write.

:func:`stock_change` is the Python entry point (paths, arrays or GeoDataFrames in; tables out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import rasterio

from geocarbon.accounts.change import (
    Accounts,
    Period,
    change_table,
    change_uncertainty,
    series_table,
    stock_uncertainty,
    transitions_table,
)
from geocarbon.accounts.regions import UNASSIGNED_ID, regions_with_statistics
from geocarbon.accounts.summary import run_summary
from geocarbon.accounts.uncertainty import MonteCarlo
from geocarbon.accounts.valuation import Valuation
from geocarbon.area import PixelArea, pixel_area
from geocarbon.config import (
    DEFAULT_AREA_METHOD,
    DEFAULT_COVERAGE,
    DEFAULT_MEMORY_MB,
    DEFAULT_UNKNOWN,
    GDAL_CACHE_MB,
    as_optional_path,
    as_path,
    check_coverage,
    check_threads,
    check_years,
    default_threads,
)
from geocarbon.engine import Histogram, PassPlan, RasterMaps
from geocarbon.errors import ConfigError, ResamplingWarning, warn
from geocarbon.grid import GridSpec, check_same_grid
from geocarbon.inputs.densities import CarbonTable
from geocarbon.inputs.landcover import (
    LandCoverSource,
    as_source,
    landcover_from_array,
    open_landcover,
)
from geocarbon.inputs.regions import ZoneIndex, build_zone_index, read_regions
from geocarbon.lookup import ClassLookup, build_class_lookup, density_by_bin
from geocarbon.outputs.spec import change_outputs
from geocarbon.outputs.staging import OutputFolder, StagedOutputs
from geocarbon.outputs.writers import (
    write_csv,
    write_geoparquet,
    write_json,
    write_vector,
)
from geocarbon.runs.stock import (
    RunOptions,
    check_unknown,
    normalise,
    pass_with_rasters,
    prepare_table,
    warn_nodata_classes,
)
from geocarbon.units import POOLS

ALL_ID = "all"
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
    regions: Path | gpd.GeoDataFrame | None = None
    id_field: str | None = None
    name_field: str | None = None
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

    def __post_init__(self) -> None:
        super().__post_init__()
        check_coverage(self.coverage)
        landcovers = tuple(
            item if isinstance(item, LandCoverSource | list) else as_path(item, "landcovers")
            for item in self.landcovers
        )
        normalise(self, "landcovers", landcovers)
        normalise(self, "years", check_years(self.years))
        if self.regions is not None and not isinstance(self.regions, gpd.GeoDataFrame):
            normalise(self, "regions", as_path(self.regions, "regions"))
        normalise(self, "out_dir", as_optional_path(self.out_dir, "out_dir"))


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


def periods_of(years: tuple[int, ...]) -> list[Period]:
    """Consecutive periods, and first-to-last when there are more than two dates."""
    periods = [Period(k, k + 1, years[k], years[k + 1]) for k in range(len(years) - 1)]
    if len(years) > 2:
        periods.append(Period(0, len(years) - 1, years[0], years[-1]))
    return periods


def change_output_paths(
    out_dir: Path,
    periods: list[Period],
    *,
    rasters: bool,
    regions: bool,
    npv: bool,
    date_years: tuple[int, ...] = (),
) -> dict[str, Path]:
    return change_outputs(
        out_dir,
        [period.label for period in periods],
        date_years,
        rasters=rasters,
        regions=regions,
        npv=npv,
        date_rasters=bool(date_years),
    )


def run_change(config: ChangeConfig) -> ChangeResult:
    """Stock change between dates, by region, with transitions, rates, value and uncertainty.

    Raises
    ------
    GeoCarbonError
        Dates and years that do not match, grids that differ (without ``align_to``), bad
        tables or regions, unknown codes, existing outputs; nothing is written.
    """
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
        return _run_change(config)


def _run_change(config: ChangeConfig) -> ChangeResult:
    periods = _check_dates(config)
    paths = (
        {}
        if config.out_dir is None
        else change_output_paths(
            config.out_dir,
            periods,
            rasters=config.write_rasters,
            regions=config.regions is not None,
            npv=config.valuation is not None,
            date_years=tuple(config.years) if config.date_rasters else (),
        )
    )
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
        ],
        overwrite=config.overwrite,
        command="change",
    )
    sources = _aligned_sources(config)
    grid = sources[0].grid
    table = prepare_table(config.densities, config.scheme, encoding=config.encoding)
    warn_nodata_classes(sources, table)
    index, regions_frame = _zone_index(config, grid)
    area = pixel_area(grid, config.area_method)
    lookups = [build_class_lookup(table.codes, dtype=source.dtype) for source in sources]
    options = config.stream_options(sources[0], _bytes_per_pixel(config, len(periods)))
    bands = _raster_bands(paths, periods, config) if paths and config.write_rasters else {}
    plan = _dates_plan(sources, lookups, area, periods, index, table, config, bool(bands))
    with output as staged:
        totals = pass_with_rasters(
            plan,
            options,
            staged,
            bands,
            dask=config.dask,
            threads=config.threads,
            check=lambda totals: check_unknown(
                list(zip(totals.dates, lookups, sources, strict=True)), table, config.unknown
            ),
        )
        dates, pairs = totals.dates, totals.pairs
        result = _accounts_result(
            config,
            table,
            index,
            regions_frame,
            periods,
            dates,
            pairs,
            lookups,
            area,
            sources,
        )
        if paths:
            _write_change(staged, paths, result)
    return ChangeResult(
        result.change,
        result.transitions,
        result.series,
        result.regions,
        result.summary,
        tuple(paths.values()),
    )


def _bytes_per_pixel(config: ChangeConfig, n_periods: int) -> int:
    """Bytes a pixel may occupy in flight: per date codes (<= 8), mask and bin (4); area (8);
    per period the pair bin (4); and 4 per float band written, a third more for its overviews."""
    dates = len(config.landcovers)
    bands = 0
    if config.write_rasters:
        bands = n_periods * (len(CHANGE_BANDS) + (config.valuation is not None))
        bands += dates * len(CHANGE_BANDS) if config.date_rasters else 0
    return 13 * dates + 8 + 4 * n_periods + -(-16 * bands // 3)


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


def _zone_index(
    config: ChangeConfig, grid: GridSpec
) -> tuple[ZoneIndex | None, gpd.GeoDataFrame | None]:
    """The regions (read and checked once) and their zone index on ``grid``."""
    if config.regions is None:
        return None, None
    if not config.id_field:
        raise ConfigError("Regions need an id field (--id-field).")
    regions = read_regions(
        config.regions,
        id_field=config.id_field,
        name_field=config.name_field,
        layer=config.layer,
        encoding=config.encoding,
    )
    return build_zone_index(regions, grid, config.coverage), regions


def _raster_bands(
    paths: dict[str, Path], periods: list[Period], config: ChangeConfig
) -> dict[Path, tuple[str, str]]:
    """The rasters a run writes, in the pass's band order (see :class:`RasterMaps`): each date's
    densities (if asked), then each period's change (and NPV); final path -> (description, units)."""
    bands = {}
    if config.date_rasters:
        for year in config.years:
            for band in CHANGE_BANDS:
                bands[paths[f"density_{year}_{band}_mg_per_ha.tif"]] = (
                    f"carbon density {year}, {band}",
                    "Mg C/ha",
                )
    for period in periods:
        for band in CHANGE_BANDS:
            bands[paths[f"change_{period.label}_{band}_mg_per_ha.tif"]] = (
                f"carbon density change {period.label}, {band}",
                "Mg C/ha",
            )
        if config.valuation is not None:
            bands[paths[f"npv_{period.label}_per_ha.tif"]] = (
                f"net present value of the change {period.label}",
                "currency/ha",
            )
    return bands


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


@dataclass(frozen=True)
class _Tables:
    change: pd.DataFrame
    transitions: pd.DataFrame
    series: pd.DataFrame
    regions: gpd.GeoDataFrame | None
    summary: dict[str, Any]


def _accounts_result(
    config: ChangeConfig,
    table: CarbonTable,
    index: ZoneIndex | None,
    regions_frame: gpd.GeoDataFrame | None,
    periods: list[Period],
    dates: list[Histogram],
    pairs: list[Histogram],
    lookups: list[ClassLookup],
    area: PixelArea,
    sources: list[LandCoverSource],
) -> _Tables:
    n_bins = lookups[0].n_bins
    ids = (ALL_ID,) if index is None else (*index.ids, UNASSIGNED_ID)
    names = (ALL_ID,) if index is None else (*index.names, UNASSIGNED_ID)
    accounts = Accounts(ids, names, table, unknown_as_valid=config.unknown == "zero")
    change = pd.concat(
        [
            _period_table(accounts, pair.area_ha, n_bins, period, config)
            for period, pair in zip(periods, pairs, strict=True)
        ],
        ignore_index=True,
    )
    transitions = pd.concat(
        [
            transitions_table(accounts, pair.area_ha, n_bins, period)
            for period, pair in zip(periods, pairs, strict=True)
        ],
        ignore_index=True,
    )
    series = series_table(accounts, [h.area_ha for h in dates], tuple(config.years))
    if config.monte_carlo is not None:
        bounds = pd.concat(
            [
                stock_uncertainty(accounts, h.area_ha, year, config.monte_carlo)
                for h, year in zip(dates, config.years, strict=True)
            ]
        )
        series = series.merge(bounds, on=["region_id", "year"])
    summary = _summary(config, table, periods, change, transitions, area, sources, dates, lookups)
    regions = None
    if regions_frame is not None:
        main = change[change["period"] == periods[-1].label]
        regions = regions_with_statistics(regions_frame, main, keep_unassigned=False)
    return _Tables(change, transitions, series, regions, summary)


def _period_table(
    accounts: Accounts, pair_area_ha: Any, n_bins: int, period: Period, config: ChangeConfig
) -> pd.DataFrame:
    frame = change_table(accounts, pair_area_ha, n_bins, period, config.valuation)
    if config.monte_carlo is None:
        return frame
    bounds = change_uncertainty(accounts, pair_area_ha, n_bins, period, config.monte_carlo)
    return frame.merge(bounds, on=["region_id", "period"])


def _summary(
    config: ChangeConfig,
    table: CarbonTable,
    periods: list[Period],
    change: pd.DataFrame,
    transitions: pd.DataFrame,
    area: PixelArea,
    sources: list[LandCoverSource],
    dates: list[Histogram],
    lookups: list[ClassLookup],
) -> dict[str, Any]:
    per_period = {}
    for period in periods:
        rows = change[change["period"] == period.label]
        moved = transitions[transitions["period"] == period.label]
        per_period[period.label] = {
            "net_change_mg": float(rows["net_change_mg"].sum()),
            "net_change_by_transitions_mg": float(moved["change_total_mg"].sum()),
            "gross_gain_mg": float(rows["gross_gain_mg"].sum()),
            "gross_loss_mg": float(rows["gross_loss_mg"].sum()),
            "annual_net_change_tg_per_yr": float(rows["annual_net_change_tg_per_yr"].sum()),
            "excluded_area_ha": float(rows["excluded_area_ha"].sum()),
            "valuation_constant_per_mg": None
            if config.valuation is None
            else config.valuation.constant(period.year_start, period.year_end),
        }
    return run_summary(
        "change",
        sources=sources,
        years=config.years,
        table=table,
        area=area,
        dates=list(zip(dates, lookups, strict=True)),
        unknown_mode=config.unknown,
        nodata_override=config.nodata,
        coverage=config.coverage if config.regions is not None else None,
        section={
            "valuation": None if config.valuation is None else vars(config.valuation),
            "monte_carlo": None if config.monte_carlo is None else vars(config.monte_carlo),
            "periods": per_period,
        },
    )


def _write_change(staged: StagedOutputs, paths: dict[str, Path], tables: _Tables) -> None:
    write_csv(tables.change, staged.temp(paths["change.csv"]))
    write_csv(tables.transitions, staged.temp(paths["transitions.csv"]))
    write_csv(tables.series, staged.temp(paths["series.csv"]))
    write_json(tables.summary, staged.temp(paths["change_summary.json"]))
    if tables.regions is not None:
        write_vector(
            tables.regions, staged.temp(paths["regions.gpkg"]), driver="GPKG", layer="regions"
        )
        write_geoparquet(tables.regions, staged.temp(paths["regions.parquet"]))
        write_csv(
            pd.DataFrame(tables.regions.drop(columns=tables.regions.geometry.name)),
            staged.temp(paths["regions.csv"]),
        )


def stock_change(
    landcovers: Sequence[Any],
    years: Sequence[int],
    densities: str | Path | CarbonTable,
    *,
    regions: str | Path | gpd.GeoDataFrame | None = None,
    id_field: str | None = None,
    name_field: str | None = None,
    layer: str | None = None,
    coverage: str = DEFAULT_COVERAGE,
    align_to: str | None = None,
    valuation: Valuation | None = None,
    monte_carlo: MonteCarlo | None = DEFAULT_MONTE_CARLO,
    scheme: str | None = None,
    unknown: str = DEFAULT_UNKNOWN,
    area_method: str = DEFAULT_AREA_METHOD,
    encoding: str | None = None,
    transform: Any = None,
    crs: Any = None,
    nodata: int | None = None,
    out_dir: str | Path | None = None,
    write_rasters: bool = True,
    date_rasters: bool = False,
    overwrite: bool = False,
    memory_mb: int = DEFAULT_MEMORY_MB,
    threads: int | str | None = None,
    block_shape: tuple[int, int] | None = None,
    progress: bool | None = None,
    dask: str | None = None,
) -> ChangeResult:
    """Carbon stock change between land-cover dates, optionally by region.

    Parameters
    ----------
    landcovers
        Two or more land covers, oldest first: GeoTIFF paths (or folders of tiles), 2-D integer or
        masked arrays (with ``transform`` and ``crs``) or rioxarray DataArrays.
    years
        The year of each land cover.
    densities
        A density-table CSV path, a built-in name (``"china-clcd"``) or a :class:`CarbonTable`.
    regions, id_field, name_field, layer, coverage
        Optional region polygons (path or GeoDataFrame; ``id_field`` then required), as for
        :func:`~geocarbon.runs.zonal.zonal_stocks`.
    align_to
        "first" or a raster path: resample dates on other grids onto it (nearest neighbour).
    valuation, monte_carlo
        A :class:`~geocarbon.accounts.valuation.Valuation` (NPV), and the Monte Carlo draws (None: none).
    scheme, unknown, area_method, encoding, nodata
        As the CLI's options (``nodata`` replaces every date's nodata value).
    out_dir, write_rasters, date_rasters, overwrite
        Where to write rasters and tables (None writes nothing), and which.
    memory_mb, threads, block_shape, progress, dask
        How the pass runs (see :func:`~geocarbon.runs.zonal.zonal_stocks`).
    """
    has_paths = any(isinstance(item, str | Path | list) for item in landcovers)
    sources = tuple(
        (item if isinstance(item, list) else Path(item))
        if isinstance(item, str | Path | list)
        else landcover_from_array(item, transform=transform, crs=crs, nodata=nodata)
        for item in landcovers
    )
    config = ChangeConfig(
        landcovers=sources,
        years=tuple(years),
        densities=densities,
        regions=regions,
        id_field=id_field,
        name_field=name_field,
        layer=layer,
        coverage=coverage,
        align_to=align_to,
        valuation=valuation,
        monte_carlo=monte_carlo,
        scheme=scheme,
        unknown=unknown,
        area_method=area_method,
        encoding=encoding,
        nodata=nodata if has_paths else None,
        out_dir=None if out_dir is None else Path(out_dir),
        write_rasters=write_rasters,
        date_rasters=date_rasters,
        overwrite=overwrite,
        memory_mb=memory_mb,
        threads=default_threads() if threads is None else check_threads(threads),
        block_shape=block_shape,
        progress=progress,
        dask=dask,
    )
    return run_change(config)
