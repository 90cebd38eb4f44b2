"""Per-region tables derived from the area histogram and the density table, without pixels.

stock[region, pool] = sum over classes of area_ha[region, class] x density[region, class, pool];
a region with its own rows in the density table uses them, others the national rows. Everything
here is arithmetic on small arrays and pandas frames; the pixel pass is elsewhere.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geocarbon.accounts.change import Period, change_bounds
from geocarbon.engine.histogram import Histogram
from geocarbon.inputs.densities import CarbonTable
from geocarbon.lookup import ClassLookup
from geocarbon.units import LEVELS, MG_PER_TG, POOLS

UNASSIGNED_ID = "unassigned"
#: Columns that add up from regions to their parent.
ADDITIVE_PREFIXES = ("stock_", "class_", "pixel_count", "coverage_px")
ADDITIVE_COLUMNS = ("valid_area_ha", "nodata_area_ha", "unknown_area_ha", "covered_area_ha")
#: Change-table columns that add up from regions to their parent: amounts, by their units.
CHANGE_ADDITIVE_SUFFIXES = ("_ha", "_mg", "_tg", "_co2e", "_per_yr")


def region_table(
    histogram: Histogram,
    lookup: ClassLookup,
    table: CarbonTable,
    *,
    region_ids: tuple[str, ...],
    region_names: tuple[str, ...],
    unknown_as_valid: bool,
) -> pd.DataFrame:
    """One row per region and a final ``unassigned`` row: areas, stocks and mean density.

    Columns: ``valid_area_ha``, ``nodata_area_ha``, ``unknown_area_ha``, ``covered_area_ha`` (all
    pixels in the region, any bin), ``class_<code>_area_ha``, ``pixel_count``, ``coverage_px``,
    ``stock_<pool>_mg`` / ``_tg``, ``stock_total_mg`` / ``_tg`` (and ``_low``/``_high`` with
    ranges), ``density_mean_mg_per_ha``.
    """
    n = table.n_classes
    ids = (*region_ids, UNASSIGNED_ID)
    area = histogram.area_ha[: len(ids)]
    stock = region_stocks_mg(area[:, :n], table, ids)
    frame = pd.DataFrame({"region_id": ids, "region_name": (*region_names, UNASSIGNED_ID)})
    valid = area[:, :n].sum(axis=1) + (area[:, lookup.unknown_bin] if unknown_as_valid else 0.0)
    frame["valid_area_ha"] = valid
    frame["nodata_area_ha"] = area[:, lookup.nodata_bin]
    frame["unknown_area_ha"] = area[:, lookup.unknown_bin]
    frame["covered_area_ha"] = area.sum(axis=1)
    frame["pixel_count"] = histogram.pixel_count[: len(ids), :n].sum(axis=1)
    frame["coverage_px"] = histogram.coverage_px[: len(ids), :n].sum(axis=1)
    central = LEVELS.index("central")
    for pool_index, pool in enumerate(POOLS):
        frame[f"stock_{pool}_mg"] = stock[:, pool_index, central]
        frame[f"stock_{pool}_tg"] = stock[:, pool_index, central] / MG_PER_TG
    frame["stock_total_mg"] = stock[:, :, central].sum(axis=1)
    frame["stock_total_tg"] = frame["stock_total_mg"] / MG_PER_TG
    if table.has_ranges:
        for level in ("low", "high"):
            total_mg = stock[:, :, LEVELS.index(level)].sum(axis=1)
            frame[f"stock_total_mg_{level}"] = total_mg
            frame[f"stock_total_tg_{level}"] = total_mg / MG_PER_TG
    frame["density_mean_mg_per_ha"] = _ratio(frame["stock_total_mg"].to_numpy(), valid)
    # One block of class columns (a column at a time fragments the frame with many classes).
    per_class = pd.DataFrame(
        area[:, :n], columns=class_columns(table)["column"].tolist(), index=frame.index
    )
    return pd.concat([frame, per_class], axis=1)


def class_columns(table: CarbonTable) -> pd.DataFrame:
    """What the wide table's per-class columns hold, one row per ``class_<code>_area_ha`` column.

    Columns: ``column`` (the exact header in the regions table), ``class_code`` (integer),
    ``class_name`` and ``unit``. The wide table keeps its machine-friendly, name-free headers
    (stable across languages and schemes, safe in GeoPackage and GeoParquet); a planner looks a
    header up here, or reads the long-form table, which carries ``class_code`` and ``class_name``
    on every row.
    """
    return pd.DataFrame(
        {
            "column": [f"class_{code}_area_ha" for code in table.codes],
            "class_code": np.asarray(table.codes, dtype=np.int64),
            "class_name": list(table.names),
            "unit": "ha",
        }
    )


def region_stocks_mg(
    area_ha: NDArray[np.float64], table: CarbonTable, region_ids: tuple[str, ...]
) -> NDArray[np.float64]:
    """(regions, pools, levels) stocks in Mg C: area (ha) x the region's density (Mg C/ha)."""
    densities = np.stack([table.density_for(region) for region in region_ids])
    return np.einsum("rc,rcpl->rpl", area_ha, densities)


def region_class_table(
    histogram: Histogram,
    table: CarbonTable,
    *,
    region_ids: tuple[str, ...],
    region_names: tuple[str, ...],
) -> pd.DataFrame:
    """Long form: one row per region (and unassigned) and class with any area."""
    n = table.n_classes
    ids = (*region_ids, UNASSIGNED_ID)
    names = (*region_names, UNASSIGNED_ID)
    area = histogram.area_ha[: len(ids), :n]
    rows, classes = np.nonzero(histogram.pixel_count[: len(ids), :n])
    valid = area.sum(axis=1)
    density = np.stack([table.density_for(region)[:, :, LEVELS.index("central")] for region in ids])
    frame = pd.DataFrame(
        {
            "region_id": [ids[r] for r in rows],
            "region_name": [names[r] for r in rows],
            "class_code": table.codes[classes],
            "class_name": [table.names[c] for c in classes],
            "pixel_count": histogram.pixel_count[rows, classes],
            "coverage_px": histogram.coverage_px[rows, classes],
            "area_ha": area[rows, classes],
            "area_share": _ratio(area[rows, classes], valid[rows]),
        }
    )
    for pool_index, pool in enumerate(POOLS):
        frame[f"density_{pool}_mg_per_ha"] = density[rows, classes, pool_index]
    for pool_index, pool in enumerate(POOLS):
        frame[f"stock_{pool}_mg"] = area[rows, classes] * density[rows, classes, pool_index]
    frame["stock_total_mg"] = frame[[f"stock_{pool}_mg" for pool in POOLS]].sum(axis=1)
    return frame


def parent_table(regions: pd.DataFrame, parent_ids: tuple[object, ...]) -> pd.DataFrame:
    """Roll regions up to their parents: additive columns are summed, mean density recomputed."""
    children = regions[regions["region_id"] != UNASSIGNED_ID].assign(parent_id=list(parent_ids))
    additive = [
        c for c in children.columns if c.startswith(ADDITIVE_PREFIXES) or c in ADDITIVE_COLUMNS
    ]
    frame = sum_by_parent(children, additive)
    frame["density_mean_mg_per_ha"] = _ratio(
        frame["stock_total_mg"].to_numpy(), frame["valid_area_ha"].to_numpy()
    )
    return frame


def parent_change_table(
    change: pd.DataFrame,
    period: Period,
    parent_ids: tuple[object, ...],
    draws: NDArray[np.float64] | None,
) -> pd.DataFrame:
    """One period's change rolled up to parents: ``change`` holds the regions' rows in zone
    order (then ``unassigned``, left out); amounts (columns by their unit) are summed, and the
    percentiles are those of each Monte Carlo draw (draws, regions) summed over a parent's
    regions (the draws share their densities, so their sum is the parent's own draw)."""
    n = len(parent_ids)
    children = change.iloc[:n].assign(parent_id=list(parent_ids))
    additive = [
        c
        for c in children.columns
        if (c.endswith(CHANGE_ADDITIVE_SUFFIXES) and not c.endswith("_per_ha")) or c == "npv"
    ]
    frame = sum_by_parent(children, additive)
    for position, name in enumerate(("period", "year_start", "year_end", "years")):
        frame.insert(1 + position, name, change[name].iloc[0])
    if draws is None:
        return frame
    summed = pd.DataFrame(draws[:, :n].T).groupby(list(parent_ids), sort=True).sum()
    bounds = change_bounds(summed.index, period, summed.to_numpy().T)
    bounds = bounds.drop(columns="period").rename(columns={"region_id": "parent_id"})
    return frame.merge(bounds, on="parent_id")


def sum_by_parent(children: pd.DataFrame, additive: list[str]) -> pd.DataFrame:
    """The ``additive`` columns of ``children`` summed per ``parent_id`` (sorted), after it the
    number of regions of each parent."""
    grouped = children.groupby("parent_id", sort=True)
    frame = grouped[additive].sum().reset_index()
    frame.insert(1, "n_regions", grouped.size().to_numpy())
    return frame


def regions_with_statistics(
    regions: gpd.GeoDataFrame, statistics: pd.DataFrame, *, keep_unassigned: bool = True
) -> gpd.GeoDataFrame:
    """Regions (as :func:`geocarbon.inputs.regions.read_regions` returns them) beside their statistics.

    ``statistics`` holds one row per region in the regions' order, then optionally the
    ``unassigned`` row, which is kept (without geometry) when ``keep_unassigned``. Rows are
    joined by position, so ``region_id`` keeps the values and type the regions were read with
    (an integer id stays an integer, ``"0101"`` stays text); its ``region_name`` and any other
    column of the same name are the regions' own.
    """
    n = len(regions)
    own = pd.DataFrame(regions.drop(columns=regions.geometry.name)).reset_index(drop=True)
    rest = statistics.drop(columns=[c for c in own.columns if c in statistics.columns])
    head = pd.concat([own, rest.iloc[:n].reset_index(drop=True)], axis=1)
    frame = head
    if keep_unassigned and len(statistics) > n:
        tail = statistics.iloc[n:].reset_index(drop=True)
        frame = pd.concat([head.astype({"region_id": object}), tail], ignore_index=True)
    geometry = list(regions.geometry.values) + [None] * (len(frame) - n)
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=regions.crs)


def mapped_regions(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The rows with a geometry (not ``unassigned``), ``region_id`` back to its own type
    (int64 ids are written as Integer64 in GeoPackage and int64 in Parquet)."""
    rows = frame[frame.geometry.notna()].copy()
    rows["region_id"] = rows["region_id"].infer_objects()
    return rows


def _ratio(numerator: NDArray[np.float64], denominator: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)
