"""Build the sink walk's model from the run's tables: densities per region and date, growth
segments per region and class, IPCC categories.

Growth rows (``--growth``) become *segments*: for each growth group (national, or a region with
rows of its own) and class, the ages between consecutive age-class boundaries of any of its
pools, each with one rate per pool. A region's rows for a class and pool replace the national
rows of that class and pool, as a region's density rows do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from geocarbon.engine.state import SinkState
from geocarbon.inputs.densities import CarbonTable
from geocarbon.inputs.growth import GrowthTable
from geocarbon.units import LEVELS, POOLS

CENTRAL = LEVELS.index("central")
#: The IPCC category of the "unknown" bin when unknown codes count as valid land (at 0 Mg C/ha).
OTHER_LAND = 5


@dataclass(frozen=True)
class GrowthSegments:
    """Growth segments: per (group, valid bin) a range of segments; per segment its ages, the
    growth table row giving each pool's rate (-1: none), and the groups' region keys."""

    start: NDArray[np.int64]
    stop: NDArray[np.int64]
    age_min: NDArray[np.float64]
    age_max: NDArray[np.float64]
    row: NDArray[np.int64]  # (segments, pools)
    groups: tuple[str, ...]

    def rates(self, growth: GrowthTable | None, level: int = CENTRAL) -> NDArray[np.float64]:
        """(segments, pools) rates (Mg C/ha/yr) at ``level``; 0 where no row applies."""
        if growth is None or not len(self.row):
            return np.zeros((len(self.row), len(POOLS)))
        values = growth.rate_mg_per_ha_yr[np.maximum(self.row, 0), level]
        return np.where(self.row >= 0, values, 0.0)


def growth_segments(
    growth: GrowthTable | None, codes: list[int], n_valid: int, regions: tuple[str, ...]
) -> GrowthSegments:
    """Segments of every growth group (national first, then each region in ``regions`` that has
    rows of its own) and valid bin (the table's classes in ``codes`` order, then unknown)."""
    keys = ("",) if growth is None else ("", *sorted(set(growth.region) & set(regions) - {""}))
    start = np.zeros((len(keys), n_valid), np.int64)
    stop = np.zeros((len(keys), n_valid), np.int64)
    age_min: list[float] = []
    age_max: list[float] = []
    rows: list[list[int]] = []
    for g, key in enumerate(keys):
        for b, code in enumerate(codes):
            start[g, b] = len(age_min)
            if growth is not None:
                chosen = _rows_for(growth, key, code)
                for lo, hi, pool_rows in _segments(growth, chosen):
                    age_min.append(lo)
                    age_max.append(hi)
                    rows.append(pool_rows)
            stop[g, b] = len(age_min)
        start[g, len(codes) :] = stop[g, len(codes) :] = len(age_min)
    return GrowthSegments(
        start,
        stop,
        np.array(age_min, np.float64),
        np.array(age_max, np.float64),
        np.array(rows, np.int64).reshape(-1, len(POOLS)),
        keys,
    )


def _rows_for(growth: GrowthTable, key: str, code: int) -> list[int]:
    """The rows of ``code`` for a group: per pool, the region's own rows, else the national."""
    chosen: list[int] = []
    codes = growth.code.tolist()
    for pool in range(len(POOLS)):
        matching = [
            i for i in range(len(growth)) if codes[i] == code and int(growth.pool[i]) == pool
        ]
        own = [i for i in matching if growth.region[i] == key]
        chosen += own if (own and key) else [i for i in matching if growth.region[i] == ""]
    return chosen


def _segments(growth: GrowthTable, rows: list[int]) -> list[tuple[float, float, list[int]]]:
    """Split ``rows``' age classes at every boundary; keep intervals where some pool grows."""
    if not rows:
        return []
    edges = sorted(
        {0.0, np.inf}
        | {float(growth.age_min[i]) for i in rows}
        | {float(growth.age_max[i]) for i in rows}
    )
    out = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        pool_rows = [-1] * len(POOLS)
        for i in rows:
            if growth.age_min[i] <= lo and hi <= growth.age_max[i]:
                pool_rows[int(growth.pool[i])] = i
        if any(i >= 0 for i in pool_rows):  # a gap between age classes grows at 0
            out.append((lo, hi, pool_rows))
    return out


def default_initial_age(growth: GrowthTable | None) -> float:
    """ "Older than every age class": the largest finite age boundary of the table (0 if none)."""
    if growth is None or not len(growth):
        return 0.0
    bounds = np.concatenate([growth.age_min, growth.age_max])
    finite = bounds[np.isfinite(bounds)]
    return float(finite.max()) if len(finite) else 0.0


def density_groups(
    table: CarbonTable, region_ids: tuple[str, ...], n_rows: int
) -> tuple[tuple[str, ...], NDArray[np.int64]]:
    """The density groups (national "", then each region with rows of its own) and each zone
    row's group (rows beyond the regions: unassigned and discarded pixels, are national)."""
    own = [r for r in dict.fromkeys(region_ids) if r in table.regional or _has_yearly(table, r)]
    keys = ("", *own)
    group = np.zeros(n_rows, np.int64)
    for row, region in enumerate(region_ids):
        if region in own:
            group[row] = keys.index(region)
    return keys, group


def _has_yearly(table: CarbonTable, region: str) -> bool:
    return region in table.yearly


def density_array(
    table: CarbonTable, keys: tuple[str, ...], years: tuple[int, ...], n_valid: int
) -> NDArray[np.float64]:
    """(groups, dates, valid bins, pools) central densities; unknown (when valid) is 0."""
    out = np.zeros((len(keys), len(years), n_valid, len(POOLS)))
    n = table.n_classes
    for g, key in enumerate(keys):
        for d, year in enumerate(years):
            out[g, d, :n] = table.density_for(key, year=year)[:, :, CENTRAL]
    return out


def build_sink_state(
    *,
    table: CarbonTable,
    growth: GrowthTable | None,
    years: tuple[int, ...],
    region_ids: tuple[str, ...],
    n_rows: int,
    unknown_as_valid: bool,
    soil_years: float,
    initial_age: float | None,
    category: NDArray[np.int8] | None,
    ages: object = None,
    density_rasters: object = None,
) -> tuple[SinkState, GrowthSegments]:
    """The sink walk's model for a run over ``years`` with zone rows ``region_ids`` (then the
    unassigned and discard rows, ``n_rows`` in all)."""
    n_valid = table.n_classes + (1 if unknown_as_valid else 0)
    codes = table.codes.tolist()
    keys, group = density_groups(table, region_ids, n_rows)
    segments = growth_segments(growth, codes, n_valid, region_ids)
    growth_group = np.zeros(n_rows, np.int64)
    for row, region in enumerate(region_ids):
        if region in segments.groups:
            growth_group[row] = segments.groups.index(region)
    categories = np.full(n_valid, OTHER_LAND, np.int64)
    if category is not None:
        categories[: table.n_classes] = category
    factors = np.ones((n_valid, len(POOLS)))
    if density_rasters is not None and getattr(density_rasters, "factors", None) is not None:
        factors[: table.n_classes] = density_rasters.factors  # type: ignore[attr-defined]
    state = SinkState(
        years=np.asarray(years, np.float64),
        density_mg_per_ha=density_array(table, keys, years, n_valid),
        density_group=group,
        segment_start=segments.start,
        segment_stop=segments.stop,
        segment_age_min=segments.age_min,
        segment_age_max=segments.age_max,
        segment_rate=segments.rates(growth),
        growth_group=growth_group,
        soil_years=float(soil_years),
        initial_age=default_initial_age(growth) if initial_age is None else float(initial_age),
        category=categories,
        class_factor=factors,
        ages=ages,
        density_rasters=density_rasters,
    )
    return state, segments
