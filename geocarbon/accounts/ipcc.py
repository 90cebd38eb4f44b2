"""Stock change by IPCC land category, laid out like the UNFCCC CRF tables 4.A-4.F.

The input is a small array per region and period: ``[to_category, origin]`` cells over the six
IPCC land categories (:data:`geocarbon.inputs.categories.IPCC_CATEGORIES`). Origin 0-5 holds land
converted to ``to_category`` from that category, and origin 6 (:data:`REMAINING`) holds land that
stays in ``to_category``. Every conversion is reported under the category the land ends in, as the
2006 IPCC Guidelines (Vol. 4, Ch. 1 and Ch. 3, section 3.2) and the CRF do. Each category gives
eight lines, coded and named as in the CRF sectoral background tables 4.A-4.F:

    4.A      Total forest land                       = 4.A.1 + 4.A.2
    4.A.1    Forest land remaining forest land         (origin 6)
    4.A.2    Land converted to forest land           = 4.A.2.1 + ... + 4.A.2.5
    4.A.2.1  Cropland converted to forest land         (origin 1)
    4.A.2.2  Grassland converted to forest land        (origin 2)
    ...      the other four categories, in the order forest land, cropland, grassland,
             wetlands, settlements, other land, the land's own category skipped

The CRF splits wetlands further (peat extraction, flooded land, other wetlands); land cover
cannot tell them apart, so 4.D keeps the same eight-line shape as the others.

Every line is kept, zeros included, as the CRF has every line filled in (with "NO" where a
conversion does not occur). Each region and period then has the same 48 lines in the same order,
which makes tables easy to compare, stack and pivot. A zero area says the conversion did not
occur.

Signs: ``net_change_mg_c`` is the net carbon stock change (Mg C, positive = a gain, a sink).
``net_emissions_mg_co2`` follows the UNFCCC convention (emissions positive, removals negative):

    net_emissions_mg_co2 = -net_change_mg_c x 44/12

It holds no pixels and touches no files.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geocarbon.inputs.categories import IPCC_CATEGORIES
from geocarbon.units import CO2_PER_C

#: The origin index of land remaining in its category (origins 0-5 are the six categories).
REMAINING = len(IPCC_CATEGORIES)
#: CRF letter of each category: 4.A Forest land ... 4.F Other land.
CRF_LETTERS = "ABCDEF"
COLUMNS = (
    "region_id",
    "region_name",
    "period",
    "category_code",
    "category",
    "land_category",
    "origin_category",
    "area_ha",
    "net_change_mg_c",
    "annual_net_change_mg_c_per_yr",
    "net_emissions_mg_co2",
)
_N = len(IPCC_CATEGORIES)
#: Lines per category: total, remaining, converted subtotal, one per other category.
LINES_PER_CATEGORY = 3 + (_N - 1)


def crf_lines() -> tuple[tuple[str, str, str, str], ...]:
    """(category_code, category, land_category, origin_category) of every line, in CRF order.

    ``origin_category`` is blank on totals, remaining land and the converted subtotals.
    """
    lines = []
    for to, letter in enumerate(CRF_LETTERS):
        land = IPCC_CATEGORIES[to]
        lower = land.lower()
        lines += [
            (f"4.{letter}", f"Total {lower}", land, ""),
            (f"4.{letter}.1", f"{land} remaining {lower}", land, ""),
            (f"4.{letter}.2", f"Land converted to {lower}", land, ""),
        ]
        for number, origin in enumerate(_origins(to), start=1):
            origin_name = IPCC_CATEGORIES[origin]
            lines.append(
                (f"4.{letter}.2.{number}", f"{origin_name} converted to {lower}", land, origin_name)
            )
    return tuple(lines)


def ipcc_categories_table(
    region_ids: Sequence[str],
    region_names: Sequence[str],
    period_labels: Sequence[str],
    period_years: Sequence[float] | NDArray[np.float64],
    area_ha: NDArray[np.float64],
    carbon_mg: NDArray[np.float64],
) -> pd.DataFrame:
    """One row per region, period and CRF line (48 lines: 4.A ... 4.F.2.5), columns :data:`COLUMNS`.

    Parameters
    ----------
    region_ids, region_names
        One per region, in the order of the arrays' first axis.
    period_labels, period_years
        One per period (such as ``"2000-2010"`` and 10): the label, and the length in years
        that the annual change divides by.
    area_ha, carbon_mg
        float64 ``(regions, periods, 6, 7)``: ``[region, period, to_category, origin]`` area (ha)
        and net carbon stock change (Mg C, positive = gain) over the period. Origin 6 is land
        remaining in ``to_category``; origins 0-5 are land converted from that category, and a
        cell whose origin equals ``to_category`` must be zero.

    Returns
    -------
    pandas.DataFrame
        Regions, then periods, then lines in CRF order. A total equals its remaining line plus
        its converted subtotal, exactly; a subtotal is the sum of its conversion lines.
        ``annual_net_change_mg_c_per_yr`` is NaN for a period of zero years.

    Raises
    ------
    ValueError
        The arrays, labels and years disagree in shape, or a cell converts a category to itself.
    """
    years = np.asarray(period_years, dtype=np.float64)
    area = np.asarray(area_ha, dtype=np.float64)
    carbon = np.asarray(carbon_mg, dtype=np.float64)
    _check_shapes(len(region_ids), len(region_names), len(period_labels), years, area, carbon)
    area_lines = _line_values(area)  # (regions, periods, lines)
    carbon_lines = _line_values(carbon)
    n_regions, n_periods, n_lines = area_lines.shape
    lines = crf_lines()
    with np.errstate(divide="ignore", invalid="ignore"):
        per_period = years[None, :, None]
        annual = np.where(per_period > 0, carbon_lines / per_period, np.nan)
    # Emissions are the opposite sign of a stock gain; + 0.0 turns -0.0 into 0.0 on zero lines.
    emissions = -carbon_lines * CO2_PER_C + 0.0
    region_axis = np.repeat(np.arange(n_regions), n_periods * n_lines)
    period_axis = np.tile(np.repeat(np.arange(n_periods), n_lines), n_regions)
    line_axis = np.tile(np.arange(n_lines), n_regions * n_periods)
    frame = pd.DataFrame(
        {
            "region_id": np.asarray(list(region_ids), dtype=object)[region_axis],
            "region_name": np.asarray(list(region_names), dtype=object)[region_axis],
            "period": np.asarray(list(period_labels), dtype=object)[period_axis],
        }
    )
    for index, column in enumerate(("category_code", "category", "land_category")):
        frame[column] = np.asarray([line[index] for line in lines], dtype=object)[line_axis]
    frame["origin_category"] = np.asarray([line[3] for line in lines], dtype=object)[line_axis]
    frame["area_ha"] = area_lines.reshape(-1)
    frame["net_change_mg_c"] = carbon_lines.reshape(-1)
    frame["annual_net_change_mg_c_per_yr"] = annual.reshape(-1)
    frame["net_emissions_mg_co2"] = emissions.reshape(-1)
    return frame[list(COLUMNS)]


def _origins(to: int) -> list[int]:
    """The categories land can be converted from into ``to``, in CRF order."""
    return [origin for origin in range(_N) if origin != to]


def _line_values(cells: NDArray[np.float64]) -> NDArray[np.float64]:
    """(regions, periods, 6, 7) cells -> (regions, periods, 48) line values in CRF order."""
    remaining = cells[..., REMAINING]  # (r, p, to)
    converted = cells[..., :REMAINING]  # (r, p, to, origin)
    subtotal = converted.sum(axis=-1)
    total = remaining + subtotal  # closes exactly: the total is built from its two lines
    blocks = []
    for to in range(_N):
        block = [total[..., to], remaining[..., to], subtotal[..., to]]
        block += [converted[..., to, origin] for origin in _origins(to)]
        blocks.append(np.stack(block, axis=-1))
    return np.concatenate(blocks, axis=-1)


def _check_shapes(
    n_regions: int,
    n_names: int,
    n_periods: int,
    years: NDArray[np.float64],
    area: NDArray[np.float64],
    carbon: NDArray[np.float64],
) -> None:
    expected = (n_regions, n_periods, _N, _N + 1)
    problems = []
    if n_names != n_regions:
        problems.append(f"{n_names} region names for {n_regions} region ids")
    if years.shape != (n_periods,):
        problems.append(f"period_years has shape {years.shape}, expected ({n_periods},)")
    for name, values in (("area_ha", area), ("carbon_mg", carbon)):
        if values.shape != expected:
            problems.append(f"{name} has shape {values.shape}, expected {expected}")
        else:
            diagonal = values[:, :, np.arange(_N), np.arange(_N)]
            if np.any(diagonal != 0):
                problems.append(f"{name} converts a category to itself (origin == to_category)")
    if problems:
        raise ValueError("ipcc_categories_table: " + "; ".join(problems) + ".")
