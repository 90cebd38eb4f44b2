"""The tables of a change run, derived from its pass: change per region and period (with
uncertainty and value), transitions, the stock series, regions with the first-to-last change,
and the summary. No pixels: only the pass's histograms and the density table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geocarbon.accounts.change import (
    COMPONENTS,
    Accounts,
    Period,
    PeriodFlows,
    change_table,
    change_uncertainty,
    series_table,
    static_flows,
    stock_uncertainty,
    transitions_table,
)
from geocarbon.accounts.ipcc import ipcc_categories_table
from geocarbon.accounts.regions import (
    UNASSIGNED_ID,
    parent_change_table,
    regions_with_statistics,
)
from geocarbon.accounts.sink import category_cells, growth_offset, period_flows, slot_of
from geocarbon.accounts.sink_model import OTHER_LAND
from geocarbon.accounts.summary import run_summary
from geocarbon.area import PixelArea
from geocarbon.engine import Histogram, PassTotals
from geocarbon.engine.state import SinkTotals
from geocarbon.engine.zones import ZoneIndex
from geocarbon.inputs.densities import CarbonTable
from geocarbon.inputs.landcover import (
    LandCoverSource,
)
from geocarbon.kernels.walk import REMAINING_ORIGIN
from geocarbon.lookup import ClassLookup
from geocarbon.units import POOLS

if TYPE_CHECKING:
    from geocarbon.runs.change import ChangeConfig
    from geocarbon.runs.sink import SinkInputs

#: The one row of a change run without regions.
ALL_ID = "all"


@dataclass(frozen=True)
class ChangeTables:
    change: pd.DataFrame
    transitions: pd.DataFrame
    series: pd.DataFrame
    regions: gpd.GeoDataFrame | None
    summary: dict[str, Any]
    categories: pd.DataFrame | None = None
    #: Every period's change per parent id (with a parent field).
    parents: pd.DataFrame | None = None


def change_accounts(
    config: ChangeConfig,
    table: CarbonTable,
    index: ZoneIndex | None,
    regions_frame: gpd.GeoDataFrame | None,
    periods: list[Period],
    totals: PassTotals,
    lookups: list[ClassLookup],
    area: PixelArea,
    sources: list[LandCoverSource],
    sink: SinkInputs | None = None,
    categories: NDArray[np.int8] | None = None,
    no_categories: str | None = None,
) -> ChangeTables:
    """The change run's tables and summary from its pass's ``totals``: per date and pair
    histograms and, for sink accounting, what the walk of every pixel's dates added up."""
    dates, pairs = totals.dates, totals.pairs
    walked: SinkTotals | None = totals.state
    n_bins = lookups[0].n_bins
    ids = (ALL_ID,) if index is None else (*index.ids, UNASSIGNED_ID)
    names = (ALL_ID,) if index is None else (*index.names, UNASSIGNED_ID)
    accounts = Accounts(ids, names, table, unknown_as_valid=config.unknown == "zero")
    flows: list[PeriodFlows | None] = [None] * len(periods)
    if sink is not None and walked is not None:
        rates = sink.segments.rates(sink.growth)
        flows = [period_flows(walked, rates, slot_of(p, len(config.years))) for p in periods]
    parent_ids = None if index is None else index.parent_ids
    tables = [
        _period_table(
            accounts, pair.area_ha, n_bins, period, config, flow, walked, sink, parent_ids
        )
        for period, pair, flow in zip(periods, pairs, flows, strict=True)
    ]
    change = pd.concat([frame for frame, _ in tables], ignore_index=True)
    parents = None if parent_ids is None else pd.concat([p for _, p in tables], ignore_index=True)
    if sink is not None and walked is not None and sink.state.density_rasters is not None:
        change = _raster_shares(change, accounts, periods, dates, walked, sink)
    transitions = pd.concat(
        [
            transitions_table(accounts, pair.area_ha, n_bins, period)
            for period, pair in zip(periods, pairs, strict=True)
        ],
        ignore_index=True,
    )
    stock = None if walked is None else walked.date_stock_mg
    series = series_table(accounts, [h.area_ha for h in dates], tuple(config.years), stock)
    if config.monte_carlo is not None:
        bounds = pd.concat(
            [
                stock_uncertainty(
                    accounts,
                    h.area_ha,
                    year,
                    config.monte_carlo,
                    None
                    if stock is None
                    else _stock_offset(accounts, h.area_ha, year, stock[:, d]),
                )
                for d, (h, year) in enumerate(zip(dates, config.years, strict=True))
            ]
        )
        series = series.merge(bounds, on=["region_id", "year"])
    summary = _summary(config, table, periods, change, transitions, area, sources, totals, lookups)
    summary["sink_accounting"] = _sink_summary(config, sink, no_categories)
    regions = None
    if regions_frame is not None:
        main = change[change["period"] == periods[-1].label]
        regions = regions_with_statistics(regions_frame, main, keep_unassigned=False)
    cells = (
        None
        if categories is None
        else _category_table(accounts, periods, pairs, n_bins, categories, walked, config)
    )
    return ChangeTables(change, transitions, series, regions, summary, cells, parents)


def _period_table(
    accounts: Accounts,
    pair_area_ha: Any,
    n_bins: int,
    period: Period,
    config: ChangeConfig,
    flows: PeriodFlows | None,
    walked: SinkTotals | None,
    sink: SinkInputs | None,
    parent_ids: tuple[object, ...] | None,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """A period's change per region, and per parent when the regions have parents."""
    frame = change_table(accounts, pair_area_ha, n_bins, period, config.valuation, flows)

    def by_parent(draws: NDArray[np.float64] | None) -> pd.DataFrame | None:
        return None if parent_ids is None else parent_change_table(frame, period, parent_ids, draws)

    if config.monte_carlo is None:
        return frame, by_parent(None)
    offset = None
    if flows is not None and walked is not None and sink is not None:
        regions = len(accounts.region_ids)
        instant = static_flows(accounts, accounts.transitions(pair_area_ha, n_bins), period)
        shift = np.sum(
            [flows.components[n][:regions] - instant.components[n] for n in COMPONENTS], axis=0
        )
        offset = shift.sum(axis=1)[None, :] + growth_offset(
            walked,
            sink.segments,
            sink.growth,
            slot_of(period, len(config.years)),
            config.monte_carlo,
            regions,
        )
    bounds, draws = change_uncertainty(
        accounts, pair_area_ha, n_bins, period, config.monte_carlo, offset
    )
    return frame.merge(bounds, on=["region_id", "period"]), by_parent(draws)


def _raster_shares(
    change: pd.DataFrame,
    accounts: Accounts,
    periods: list[Period],
    dates: list[Histogram],
    walked: SinkTotals,
    sink: SinkInputs,
) -> pd.DataFrame:
    """Per region and period, the share of the valid area at the period's end whose density
    of each mapped pool came from its density raster (the rest from the table)."""
    regions = len(accounts.region_ids)
    valid = accounts.valid_bins
    frames = []
    for period in periods:
        rows = change[change["period"] == period.label].copy()
        area = dates[period.end].area_ha[:regions, valid].sum(axis=1)
        for pool in sink.state.density_rasters.pools:
            mapped = walked.raster_area_ha[:regions, period.end, pool]
            with np.errstate(invalid="ignore", divide="ignore"):
                rows[f"density_raster_share_{POOLS[pool]}"] = np.where(area > 0, mapped / area, 0.0)
        frames.append(rows)
    return pd.concat(frames, ignore_index=True)


def _stock_offset(
    accounts: Accounts, date_area_ha: Any, year: int, stock_mg: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The walked stock's departure from area x density on a date (growth, soil legacy)."""
    regions = len(accounts.region_ids)
    valid = accounts.valid_bins
    instant = np.einsum("rc,rcp->r", date_area_ha[:regions, valid], accounts.densities(year=year))
    return (stock_mg[:regions].sum(axis=1) - instant)[None, :]


def _category_table(
    accounts: Accounts,
    periods: list[Period],
    pairs: list[Histogram],
    n_bins: int,
    categories: NDArray[np.int8],
    walked: SinkTotals | None,
    config: ChangeConfig,
) -> pd.DataFrame:
    """The IPCC category table: cells from the walk, or (instant change) from each period's
    transition matrix, where land counts as converted only in the period it converts."""
    regions = len(accounts.region_ids)
    shape = (regions, len(periods), 6, 7)
    area, carbon = np.zeros(shape), np.zeros(shape)
    for k, (period, pair) in enumerate(zip(periods, pairs, strict=True)):
        if walked is not None:
            area[:, k], carbon[:, k] = category_cells(
                walked, slot_of(period, len(config.years)), regions
            )
            continue
        matrix = accounts.transitions(pair.area_ha, n_bins)
        before = accounts.densities(year=period.year_start).sum(axis=2)
        after = accounts.densities(year=period.year_end).sum(axis=2)
        per_cell = matrix * (after[:, None, :] - before[:, :, None])
        cat = np.append(categories.astype(np.int64), OTHER_LAND)[: matrix.shape[1]]
        for i in range(matrix.shape[1]):
            for j in range(matrix.shape[1]):
                origin = cat[i] if cat[i] != cat[j] else REMAINING_ORIGIN
                area[:, k, cat[j], origin] += matrix[:, i, j]
                carbon[:, k, cat[j], origin] += per_cell[:, i, j]
    return ipcc_categories_table(
        accounts.region_ids,
        accounts.region_names,
        [p.label for p in periods],
        [p.years for p in periods],
        area,
        carbon,
    )


def _sink_summary(
    config: ChangeConfig, sink: SinkInputs | None, no_categories: str | None
) -> dict[str, Any]:
    """How the change was accounted: instant (transition matrix) or walked, with what."""
    return {
        "method": "instant conversions" if sink is None else "per-pixel walk across dates",
        "conversion_timing": "at the start of the period (the later date's class holds the "
        "land for the whole period)",
        "soil_transition_years": config.soil_transition_years,
        "growth": None if sink is None or sink.growth is None else sink.growth.source,
        "initial_age": None if sink is None else sink.state.initial_age,
        "ages": None if config.ages is None else str(config.ages),
        "density_rasters": [str(spec) for spec in config.density_rasters],
        "ipcc_categories": "ipcc_categories.csv" if no_categories is None else no_categories,
    }


def _summary(
    config: ChangeConfig,
    table: CarbonTable,
    periods: list[Period],
    change: pd.DataFrame,
    transitions: pd.DataFrame,
    area: PixelArea,
    sources: list[LandCoverSource],
    totals: PassTotals,
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
            "decomposition_mg": {
                name: float(
                    rows[f"{name}_mg" if name == "soil_legacy" else f"{name}_total_mg"].sum()
                )
                for name in COMPONENTS
            },
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
        dates=list(zip(totals.dates, lookups, strict=True)),
        unknown_mode=config.unknown,
        nodata_override=config.nodata,
        coverage=config.coverage if config.regions is not None else None,
        reading=totals.reading,
        section={
            "valuation": None if config.valuation is None else vars(config.valuation),
            "monte_carlo": None if config.monte_carlo is None else vars(config.monte_carlo),
            "periods": per_period,
        },
    )
