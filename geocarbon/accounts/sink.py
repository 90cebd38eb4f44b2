"""The change tables' flows from the sink walk: per region and period, conversions, growth on
land that stays and on converted land (growth exposure x rates), and the soil legacy; the
stocks on each date with the growth accrued; the IPCC category cells; Monte Carlo offsets.

Slots: the walk adds each consecutive period (date k to k+1) in slot k, and the first-to-last
period in the last slot; conversions and growth of the first-to-last period are the sums of its
consecutive periods'.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from geocarbon.accounts.change import Period, PeriodFlows
from geocarbon.accounts.sink_model import GrowthSegments
from geocarbon.accounts.uncertainty import MonteCarlo
from geocarbon.engine.state import SinkTotals
from geocarbon.inputs.growth import GrowthTable
from geocarbon.kernels.walk import CONVERSION, REMAINING, SOIL_LEGACY


def slot_of(period: Period, n_dates: int) -> int:
    """The walk's slot of a period: its start date for consecutive dates, else the last."""
    return period.start if period.end == period.start + 1 else n_dates - 1


def _periods(slot: int, n_periods: int) -> list[int]:
    return [slot] if slot < n_periods else list(range(n_periods))


def period_flows(totals: SinkTotals, rates: NDArray[np.float64], slot: int) -> PeriodFlows:
    """A period's flows per zone row (Mg C): components per pool, start stock, gross gain/loss."""
    periods = _periods(slot, totals.carbon_mg.shape[1])
    carbon = totals.carbon_mg[:, periods].sum(axis=1)
    exposure = totals.exposure_ha_yr[:, periods].sum(axis=1)
    grown = np.einsum("rsk,sp->rkp", exposure[:, : len(rates)], rates)
    return PeriodFlows(
        {
            "conversion": carbon[:, CONVERSION],
            "growth_remaining": carbon[:, REMAINING] + grown[:, 0],
            "growth_converted": grown[:, 1],
            "soil_legacy": carbon[:, SOIL_LEGACY],
        },
        totals.start_stock_mg[:, slot],
        totals.gain_loss_mg[:, slot, 0],
        totals.gain_loss_mg[:, slot, 1],
    )


def growth_offset(
    totals: SinkTotals,
    segments: GrowthSegments,
    growth: GrowthTable | None,
    slot: int,
    monte_carlo: MonteCarlo,
    n_regions: int,
) -> NDArray[np.float64]:
    """(draws, regions): each draw's growth minus the central growth. Each published rate (a
    row of the table as read) is drawn once from its low/central/high, like densities, and
    shared by every class, region and age segment that copies it."""
    periods = _periods(slot, totals.carbon_mg.shape[1])
    if growth is None or not len(segments.row):
        return np.zeros((monte_carlo.draws, n_regions))
    exposure = totals.exposure_ha_yr[:n_regions, periods].sum(axis=(1, 3))[:, : len(segments.row)]
    origins = growth.origins
    levels = np.zeros((int(origins.max()) + 1, 1, 3))
    levels[origins, 0] = growth.rate_mg_per_ha_yr
    drawn = monte_carlo.densities(levels, monte_carlo.quantiles(len(levels), 1))[:, :, 0]
    rows = segments.row
    per_segment = np.where(rows >= 0, drawn[:, origins[np.maximum(rows, 0)]], 0.0)
    central = segments.rates(growth)
    return np.einsum("rs,ksp->kr", exposure, per_segment - central[None])


def category_cells(totals: SinkTotals, slot: int, n_regions: int) -> tuple[NDArray, NDArray]:
    """(regions, 6, 7) area (ha) and net change (Mg C) of each IPCC category cell of a slot."""
    cells = totals.categories[:n_regions, slot]
    return cells[..., 0], cells[..., 1]
