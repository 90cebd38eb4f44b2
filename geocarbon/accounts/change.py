"""Stock change, transitions, rates, value and uncertainty, derived from pair histograms.

A pair histogram holds, per region, the area (ha) of every transition ``from_bin -> to_bin``
between two dates (bins: the table's classes, unknown, nodata). Pixels that are nodata (or
unknown treated as nodata) on either date are excluded from change and reported as
``excluded_area_ha``. On the pixels valid on both dates:

    stock_start = sum_ij area_ij x density_i        stock_end = sum_ij area_ij x density_j
    change_ij   = area_ij x (density_j - density_i)  net = stock_end - stock_start = sum_ij change_ij

so the account closes by construction. Gross gain (sink) sums the positive transitions, gross
loss (source) the negative ones, as a positive number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geocarbon.accounts.uncertainty import MonteCarlo, percentiles, top_variance_source
from geocarbon.accounts.valuation import Valuation
from geocarbon.inputs.densities import CarbonTable
from geocarbon.units import CO2_PER_C, LEVELS, MG_PER_TG, POOLS

CENTRAL = LEVELS.index("central")


@dataclass(frozen=True)
class Period:
    """Two dates of the series by index, and their years."""

    start: int
    end: int
    year_start: int
    year_end: int

    @property
    def label(self) -> str:
        return f"{self.year_start}-{self.year_end}"

    @property
    def years(self) -> int:
        return self.year_end - self.year_start


def periods_of(years: tuple[int, ...]) -> list[Period]:
    """Consecutive periods, and first-to-last when there are more than two dates."""
    periods = [Period(k, k + 1, years[k], years[k + 1]) for k in range(len(years) - 1)]
    if len(years) > 2:
        periods.append(Period(0, len(years) - 1, years[0], years[-1]))
    return periods


@dataclass(frozen=True)
class Accounts:
    """What the change tables are computed from: transition areas and densities per region."""

    region_ids: tuple[str, ...]
    region_names: tuple[str, ...]
    table: CarbonTable
    unknown_as_valid: bool

    @property
    def valid_bins(self) -> NDArray[np.intp]:
        n = self.table.n_classes
        return np.arange(n + 1 if self.unknown_as_valid else n)

    def densities(self, level: int = CENTRAL, year: int | None = None) -> NDArray[np.float64]:
        """(regions, valid bins, pools): each region's densities (in ``year``, for tables with a
        year column); unknown (when valid) is 0."""
        own = np.stack([self.table.density_for(r, year=year)[:, :, level] for r in self.region_ids])
        if self.unknown_as_valid:
            own = np.concatenate([own, np.zeros((len(self.region_ids), 1, len(POOLS)))], axis=1)
        return own

    def transitions(self, pair_area_ha: NDArray[np.float64], n_bins: int) -> NDArray[np.float64]:
        """(regions, valid, valid) transition areas out of a (rows, n_bins^2) pair histogram."""
        areas = pair_area_ha[: len(self.region_ids)].reshape(len(self.region_ids), n_bins, n_bins)
        valid = self.valid_bins
        return areas[:, valid][:, :, valid]


@dataclass(frozen=True)
class PeriodFlows:
    """A period's change per region from the sink walk (per-pixel state) rather than from the
    transition matrix: each component's change per region and pool (Mg C), the stock at the
    start on the land compared, and the gross gain and loss (pixels whose carbon rose, fell)."""

    components: dict[str, NDArray[np.float64]]
    stock_start_mg: NDArray[np.float64]
    gross_gain_mg: NDArray[np.float64]
    gross_loss_mg: NDArray[np.float64]


#: The decomposition of net change, in column order: conversions (at the period's densities,
#: with any growth the land had accrued), growth on land that stays in its class (rates, and
#: the change of year-specific densities), growth on land converted in the period, soil legacy.
COMPONENTS = ("conversion", "growth_remaining", "growth_converted", "soil_legacy")


def change_table(
    accounts: Accounts,
    pair_area_ha: NDArray[np.float64],
    n_bins: int,
    period: Period,
    valuation: Valuation | None,
    flows: PeriodFlows | None = None,
) -> pd.DataFrame:
    """One row per region for a period: stocks at both ends, change by pool and by component,
    gross and net, rates. Without ``flows``, from the transition matrix and the densities at
    the period's two years (a pixel's change is instant); with them, from the sink walk."""
    area = accounts.transitions(pair_area_ha, n_bins)
    regions = len(accounts.region_ids)
    if flows is None:
        flows = static_flows(accounts, area, period)
    frame = pd.DataFrame({"region_id": accounts.region_ids, "region_name": accounts.region_names})
    frame["period"] = period.label
    frame["year_start"], frame["year_end"], frame["years"] = (
        period.year_start,
        period.year_end,
        period.years,
    )
    frame["compared_area_ha"] = area.sum(axis=(1, 2))
    # Summed over the excluded cells themselves (not all less compared: that leaves -4e-16).
    everything = pair_area_ha[:regions].reshape(regions, n_bins, n_bins)
    excluded = np.ones((n_bins, n_bins), bool)
    excluded[np.ix_(accounts.valid_bins, accounts.valid_bins)] = False
    frame["excluded_area_ha"] = everything[:, excluded].sum(axis=1)
    frame["changed_area_ha"] = area[:, ~np.eye(area.shape[1], dtype=bool)].sum(axis=1)
    change = np.sum([flows.components[name][:regions] for name in COMPONENTS], axis=0)
    for p, pool in enumerate(POOLS):
        frame[f"change_{pool}_mg"] = change[:, p]
    start = flows.stock_start_mg[:regions].sum(axis=1)
    frame["stock_start_mg"], frame["stock_end_mg"] = start, start + change.sum(axis=1)
    frame["net_change_mg"] = change.sum(axis=1)
    frame["gross_gain_mg"] = flows.gross_gain_mg[:regions]
    frame["gross_loss_mg"] = flows.gross_loss_mg[:regions]
    frame["net_change_tg"] = frame["net_change_mg"] / MG_PER_TG
    frame["annual_net_change_mg_per_yr"] = frame["net_change_mg"] / period.years
    frame["annual_net_change_tg_per_yr"] = frame["annual_net_change_mg_per_yr"] / MG_PER_TG
    frame["net_change_mg_co2e"] = frame["net_change_mg"] * CO2_PER_C
    frame["annual_net_change_mg_co2e_per_yr"] = frame["annual_net_change_mg_per_yr"] * CO2_PER_C
    for name in COMPONENTS:
        values = flows.components[name][:regions]
        pools = [POOLS.index("soil")] if name == "soil_legacy" else range(len(POOLS))
        if name != "soil_legacy":
            for p in pools:
                frame[f"{name}_{POOLS[p]}_mg"] = values[:, p]
        frame[f"{name}_mg" if name == "soil_legacy" else f"{name}_total_mg"] = values.sum(axis=1)
        frame[f"{name}_tg_per_yr"] = values.sum(axis=1) / MG_PER_TG / period.years
        frame[f"{name}_mg_co2e"] = values.sum(axis=1) * CO2_PER_C
    if valuation is not None:
        frame["npv"] = frame["net_change_mg"] * valuation.constant(
            period.year_start, period.year_end
        )
    return frame


def static_flows(accounts: Accounts, area: NDArray[np.float64], period: Period) -> PeriodFlows:
    """A period's flows from its transition matrix ``area`` (regions, from, to): every pixel's
    change is instant, at the densities of the period's start and end years."""
    before = accounts.densities(year=period.year_start)
    after = accounts.densities(year=period.year_end)
    per_cell = after[:, None, :, :] - before[:, :, None, :]  # (regions, from, to, pools)
    carbon = area[..., None] * per_cell
    stays = np.eye(area.shape[1], dtype=bool)[None, :, :, None]
    total = carbon.sum(axis=3)
    zero = np.zeros((area.shape[0], len(POOLS)))
    return PeriodFlows(
        {
            "conversion": np.where(stays, 0.0, carbon).sum(axis=(1, 2)),
            "growth_remaining": np.where(stays, carbon, 0.0).sum(axis=(1, 2)),
            "growth_converted": zero,
            "soil_legacy": zero,
        },
        np.einsum("rij,rip->rp", area, before),
        np.clip(total, 0, None).sum(axis=(1, 2)),
        np.clip(-total, 0, None).sum(axis=(1, 2)),
    )


def transitions_table(
    accounts: Accounts, pair_area_ha: NDArray[np.float64], n_bins: int, period: Period
) -> pd.DataFrame:
    """Long form: region, period, from -> to (codes and names), area (ha), carbon change per pool (Mg C)."""
    area = accounts.transitions(pair_area_ha, n_bins)
    before = accounts.densities(year=period.year_start)
    after = accounts.densities(year=period.year_end)
    region, start, end = np.nonzero(area)
    codes = [*accounts.table.codes.tolist(), "unknown"]
    names = [*accounts.table.names, "unknown"]
    frame = pd.DataFrame(
        {
            "region_id": [accounts.region_ids[r] for r in region],
            "period": period.label,
            "class_from": [codes[i] for i in start],
            "class_to": [codes[j] for j in end],
            "name_from": [names[i] for i in start],
            "name_to": [names[j] for j in end],
            "area_ha": area[region, start, end],
        }
    )
    for p, pool in enumerate(POOLS):
        frame[f"change_{pool}_mg"] = area[region, start, end] * (
            after[region, end, p] - before[region, start, p]
        )
    frame["change_total_mg"] = frame[[f"change_{pool}_mg" for pool in POOLS]].sum(axis=1)
    return frame


def series_table(
    accounts: Accounts,
    date_area_ha: list[NDArray[np.float64]],
    years: tuple[int, ...],
    stock_mg: NDArray[np.float64] | None = None,
) -> pd.DataFrame:
    """Long form: region x date, stock per pool and total (Mg C) on each date's valid pixels:
    area x density, or ``stock_mg[row, date, pool]`` when the sink walk gives it (growth and
    soil legacy included)."""
    valid = accounts.valid_bins
    regions = len(accounts.region_ids)
    frames = []
    for date, (year, area) in enumerate(zip(years, date_area_ha, strict=True)):
        valid_area = area[:regions, valid]
        stock = (
            np.einsum("rc,rcp->rp", valid_area, accounts.densities(year=year))
            if stock_mg is None
            else stock_mg[:regions, date]
        )
        frame = pd.DataFrame(
            {"region_id": accounts.region_ids, "region_name": accounts.region_names, "year": year}
        )
        frame["valid_area_ha"] = valid_area.sum(axis=1)
        for p, pool in enumerate(POOLS):
            frame[f"stock_{pool}_mg"] = stock[:, p]
        frame["stock_total_mg"] = stock.sum(axis=1)
        frame["stock_total_tg"] = frame["stock_total_mg"] / MG_PER_TG
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def change_uncertainty(
    accounts: Accounts,
    pair_area_ha: NDArray[np.float64],
    n_bins: int,
    period: Period,
    monte_carlo: MonteCarlo,
    offset: NDArray[np.float64] | None = None,
) -> tuple[pd.DataFrame, NDArray[np.float64]]:
    """Per region: 5/50/95 % of net change and annual rate, and the largest variance source;
    and the draws of net change (draws, regions), which add up to any grouping of regions.

    A region's instant change is sum_c area_end_c x density_c(end) - area_start_c x
    density_c(start), each class's densities drawn once for both years: each draw costs one
    small product, whatever the raster size. ``offset`` (draws, regions) is added to every draw:
    the sink walk's departure from the instant change (growth, with its own drawn rates, and
    the soil legacy).
    """
    area = accounts.transitions(pair_area_ha, n_bins)
    n_classes = accounts.table.n_classes
    start = area.sum(axis=2)[:, :n_classes]  # unknown bins carry 0 Mg C/ha
    end = area.sum(axis=1)[:, :n_classes]
    u = monte_carlo.quantiles(n_classes, len(POOLS))
    groups = _density_groups(accounts, monte_carlo, period.year_end, u)
    change = _weighted_draws(end, groups) - _weighted_draws(
        start, _density_groups(accounts, monte_carlo, period.year_start, u)
    )
    if offset is not None:
        change = change + offset
    frame = change_bounds(accounts.region_ids, period, change)
    delta = end - start
    sources = [top_variance_source(delta[r], draws) for members, draws in groups for r in members]
    sources = [sources[i] for i in np.argsort(np.concatenate([m for m, _ in groups]))]
    frame["top_variance_class"] = [
        accounts.table.codes[c] if c >= 0 else pd.NA for c, _, _ in sources
    ]
    frame["top_variance_pool"] = [POOLS[p] if p >= 0 else "" for _, p, _ in sources]
    frame["top_variance_share"] = [share for _, _, share in sources]
    return frame, change


def change_bounds(
    ids: Sequence[object], period: Period, draws: NDArray[np.float64]
) -> pd.DataFrame:
    """5/50/95 % of net change and annual rate per id from draws (draws, ids) of net change."""
    frame = pd.DataFrame({"region_id": list(ids), "period": period.label})
    for name, values in zip(("p5", "p50", "p95"), percentiles(draws), strict=True):
        frame[f"net_change_mg_{name}"] = values
        frame[f"annual_net_change_mg_per_yr_{name}"] = values / period.years
    return frame


def stock_uncertainty(
    accounts: Accounts,
    date_area_ha: NDArray[np.float64],
    year: int,
    monte_carlo: MonteCarlo,
    offset: NDArray[np.float64] | None = None,
) -> pd.DataFrame:
    """Per region: 5/50/95 % of the total stock on one date (``offset`` as for change)."""
    area = date_area_ha[: len(accounts.region_ids), : accounts.table.n_classes]
    u = monte_carlo.quantiles(accounts.table.n_classes, len(POOLS))
    stock = _weighted_draws(area, _density_groups(accounts, monte_carlo, year, u))
    if offset is not None:
        stock = stock + offset
    bounds = percentiles(stock)
    frame = pd.DataFrame({"region_id": accounts.region_ids, "year": year})
    for name, values in zip(("p5", "p50", "p95"), bounds, strict=True):
        frame[f"stock_total_mg_{name}"] = values
    return frame


def _density_groups(
    accounts: Accounts, monte_carlo: MonteCarlo, year: int | None, u: NDArray[np.float64]
) -> list[tuple[NDArray[np.intp], NDArray[np.float64]]]:
    """(member regions, (draws, classes, pools) densities in ``year``) per density table in
    use, from the quantiles ``u`` (the same for every year, so a class's draws move together).

    Regions without their own rows share the national draws, so memory grows with the number of
    distinct tables, not of regions.
    """
    table = accounts.table
    ids = np.array(accounts.region_ids, dtype=object)
    own = np.isin(ids, [key for key in {*table.regional, *table.yearly} if key])
    groups = [(np.flatnonzero(~own), monte_carlo.densities(table.density_for("", year=year), u))]
    for key in sorted(set(ids[own])):
        groups.append(
            (
                np.flatnonzero(ids == key),
                monte_carlo.densities(table.density_for(key, year=year), u),
            )
        )
    return groups


def _weighted_draws(
    weight_ha: NDArray[np.float64], groups: list[tuple[NDArray[np.intp], NDArray[np.float64]]]
) -> NDArray[np.float64]:
    """(draws, regions): sum over classes and pools of weight (ha) x drawn density (Mg C/ha)."""
    out = np.empty((groups[0][1].shape[0], weight_ha.shape[0]))
    for members, draws in groups:
        if len(members):
            out[:, members] = np.einsum("rc,kcp->kr", weight_ha[members], draws)
    return out
