"""The tables of a change run, derived from its pass: change per region and period (with
uncertainty and value), transitions, the stock series, regions with the first-to-last change,
and the summary. No pixels: only the pass's histograms and the density table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

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
from geocarbon.area import PixelArea
from geocarbon.engine import Histogram
from geocarbon.engine.zones import ZoneIndex
from geocarbon.inputs.densities import CarbonTable
from geocarbon.inputs.landcover import (
    LandCoverSource,
)
from geocarbon.lookup import ClassLookup

if TYPE_CHECKING:
    from geocarbon.runs.change import ChangeConfig

#: The one row of a change run without regions.
ALL_ID = "all"


@dataclass(frozen=True)
class ChangeTables:
    change: pd.DataFrame
    transitions: pd.DataFrame
    series: pd.DataFrame
    regions: gpd.GeoDataFrame | None
    summary: dict[str, Any]


def change_accounts(
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
) -> ChangeTables:
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
    return ChangeTables(change, transitions, series, regions, summary)


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
