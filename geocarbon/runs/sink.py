"""The sink-accounting inputs of a change run: growth table, ages, soil transition, density
rasters and IPCC categories, checked before any pixel is read, and the walk's model built.

A change run walks its pixels through every date (:mod:`geocarbon.kernels.sink`) when it has
anything a transition matrix cannot give: growth rates, ages, density rasters, or soil carbon
that moves over ``soil_transition_years`` (0: instant, the transition matrix suffices).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from geocarbon.accounts.sink_model import GrowthSegments, build_sink_state
from geocarbon.engine.state import SinkState
from geocarbon.engine.zones import ZoneIndex
from geocarbon.errors import TableSchemaError
from geocarbon.grid import GridSpec
from geocarbon.inputs.age import open_age_raster
from geocarbon.inputs.categories import (
    category_of_classes,
    missing_category_reason,
    read_category_table,
)
from geocarbon.inputs.densities import CarbonTable
from geocarbon.inputs.density_rasters import open_density_rasters
from geocarbon.inputs.growth import GrowthTable, load_growth_table

if TYPE_CHECKING:
    from geocarbon.runs.change import ChangeConfig


@dataclass(frozen=True)
class SinkInputs:
    """What the walk needs beyond the dates: its model, the growth table and its segments."""

    state: SinkState
    growth: GrowthTable | None
    segments: GrowthSegments


def wants_walk(config: ChangeConfig) -> bool:
    """Whether the run needs per-pixel state (anything but instant, static conversions)."""
    return bool(
        config.growth is not None
        or config.ages is not None
        or config.density_rasters
        or config.soil_transition_years > 0
    )


def run_categories(
    config: ChangeConfig, table: CarbonTable
) -> tuple[NDArray[np.int8] | None, str | None]:
    """Each class's IPCC land category, or None and the reason (which classes have none, and
    how to give them), which the run's summary reports: a table in a user's own codes is not
    an error, it only has no IPCC table."""
    override = (
        None
        if config.ipcc_categories is None
        else read_category_table(config.ipcc_categories, encoding=config.encoding)
    )
    scheme = table.scheme  # prepare_table gives it a user's --scheme
    found = category_of_classes(table.codes, scheme, override)
    if found is None:
        return None, missing_category_reason(table.codes, scheme, override, source=table.source)
    return found, None


def sink_inputs(
    config: ChangeConfig,
    table: CarbonTable,
    grid: GridSpec,
    index: ZoneIndex | None,
    categories: NDArray[np.int8] | None,
) -> SinkInputs:
    """Load and check every sink input, and build the walk's model for ``index``'s rows."""
    growth = _growth_table(config, table)
    ages = (
        None
        if config.ages is None
        else open_age_raster(
            config.ages,
            grid,
            grid_name=grid.name or "the land cover",
            align=config.align_to is not None,
        )
    )
    maps = (
        open_density_rasters(
            config.density_rasters,
            grid,
            config.years,
            carbon_fraction=config.carbon_fraction,
            factor_table=config.density_factors,
            table_codes=table.codes,
            encoding=config.encoding,
        )
        if config.density_rasters
        else None
    )
    region_ids = () if index is None else (*index.ids, "\0unassigned")
    n_rows = 1 if index is None else index.n_rows
    state, segments = build_sink_state(
        table=table,
        growth=growth,
        years=tuple(config.years),
        region_ids=region_ids,
        n_rows=n_rows,
        unknown_as_valid=config.unknown == "zero",
        soil_years=config.soil_transition_years,
        initial_age=config.initial_age,
        category=categories,
        ages=ages,
        density_rasters=maps,
    )
    return SinkInputs(state, growth, segments)


def _growth_table(config: ChangeConfig, table: CarbonTable) -> GrowthTable | None:
    if config.growth is None:
        return None
    if isinstance(config.growth, GrowthTable):
        return config.growth
    scheme = table.scheme  # prepare_table gives it a user's --scheme
    growth = load_growth_table(config.growth, encoding=config.encoding, scheme=scheme)
    known = set(table.codes.tolist())
    orphans = sorted(set(growth.code.tolist()) - known)
    if orphans and growth.scheme is None:  # a user's table: its codes are the density table's
        listed = ", ".join(map(str, orphans[:20])) + (" ..." if len(orphans) > 20 else "")
        raise TableSchemaError(
            f"Growth table {growth.source!r} has rows for class code(s) {listed}, which the density "
            f"table {table.source!r} does not have; use the density table's codes (or remove those "
            "rows)."
        )
    return growth
