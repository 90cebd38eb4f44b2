"""Per-pixel state carried across the dates of a block: the sink walk (growth, age, soil legacy).

:class:`SinkState` is the plan's :class:`~geocarbon.engine.plan.PixelState` of a change run with
sink accounting. Its arrays (densities per region group and date, growth segments, categories)
are built by :mod:`geocarbon.accounts.sink_model`; here they are only handed to the kernels,
block by block, with the block's zone rows, pixel areas, ages and density-raster values. Each
block is walked whole by one call, so no state crosses blocks and blocks add up in any order.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray

from geocarbon.blocks import Block
from geocarbon.engine.histogram import PassTotals
from geocarbon.engine.plan import PassPlan
from geocarbon.engine.zones import BlockZones, block_zones
from geocarbon.kernels.sink import group_histories, walk_block, walk_fractions

N_POOLS = 4
#: IPCC land categories (rows of the category cells) and origins (the six, then "remaining").
N_CATEGORIES = 6


@dataclass
class SinkTotals:
    """What the sink walk adds up per zone row (see :mod:`geocarbon.kernels.sink`).

    ``exposure_ha_yr[row, period, segment, kind]`` (kind 0: land that stays, 1:
    land converted in the period); ``carbon_mg[row, period, component, pool]`` (conversion,
    stock difference on land that stays, soil legacy); ``gain_loss_mg[row, slot, 2]``;
    ``start_stock_mg[row, slot, pool]`` (slot: each period, then first to last);
    ``date_stock_mg[row, date, pool]``; ``categories[row, slot, to, origin, (area, carbon)]``;
    ``raster_area_ha[row, date, pool]`` (area whose density came from a density raster).
    """

    exposure_ha_yr: NDArray[np.float64]
    carbon_mg: NDArray[np.float64]
    gain_loss_mg: NDArray[np.float64]
    start_stock_mg: NDArray[np.float64]
    date_stock_mg: NDArray[np.float64]
    categories: NDArray[np.float64]
    raster_area_ha: NDArray[np.float64]

    @classmethod
    def zeros(cls, n_rows: int, n_dates: int, n_segments: int) -> SinkTotals:
        periods = n_dates - 1
        return cls(
            np.zeros((n_rows, periods, max(1, n_segments), 2)),
            np.zeros((n_rows, periods, 3, N_POOLS)),
            np.zeros((n_rows, periods + 1, 2)),
            np.zeros((n_rows, periods + 1, N_POOLS)),
            np.zeros((n_rows, n_dates, N_POOLS)),
            np.zeros((n_rows, periods + 1, N_CATEGORIES, N_CATEGORIES + 1, 2)),
            np.zeros((n_rows, n_dates, N_POOLS)),
        )

    def add(self, other: SinkTotals) -> None:
        for item in fields(self):
            getattr(self, item.name).__iadd__(getattr(other, item.name))

    def arrays(self) -> tuple[NDArray[np.float64], ...]:
        return tuple(getattr(self, item.name) for item in fields(self))


@dataclass(frozen=True, eq=False)
class SinkState:
    """The sink walk's model: every array the kernels read, and the optional per-pixel maps."""

    years: NDArray[np.float64]
    density_mg_per_ha: NDArray[np.float64]  # (density groups, dates, valid bins, pools)
    density_group: NDArray[np.int64]  # (zone rows,)
    segment_start: NDArray[np.int64]  # (growth groups, valid bins)
    segment_stop: NDArray[np.int64]
    segment_age_min: NDArray[np.float64]  # (segments,)
    segment_age_max: NDArray[np.float64]
    segment_rate: NDArray[np.float64]  # (segments, pools), central Mg C/ha/yr
    growth_group: NDArray[np.int64]  # (zone rows,)
    soil_years: float
    initial_age: float
    category: NDArray[np.int64]  # (valid bins,)
    class_factor: NDArray[np.float64]  # (valid bins, pools), for density rasters
    ages: Any = None  # an AgeRaster (inputs.age) or None
    density_rasters: Any = None  # a DensityRasters (inputs.density_rasters) or None

    n_bands: int = 0  # the walk writes into the plan's own density and change bands

    @property
    def n_valid(self) -> int:
        return int(self.density_mg_per_ha.shape[2])

    @property
    def n_segments(self) -> int:
        return int(len(self.segment_age_min))

    def empty(self, n_rows: int, n_bins: int = 0) -> SinkTotals:
        return SinkTotals.zeros(n_rows, len(self.years), self.n_segments)

    def model(self) -> tuple[Any, ...]:
        return (
            self.years,
            self.density_mg_per_ha,
            self.segment_start,
            self.segment_stop,
            self.segment_age_min,
            self.segment_age_max,
            self.segment_rate,
            np.int64(self.n_valid),
            np.float64(self.soil_years),
            np.float64(self.initial_age),
            self.density_group,
            self.growth_group,
            self.category,
        )

    def walk(
        self,
        bins: NDArray[np.integer],
        block: Block,
        zones: BlockZones | None,
        skip_row: int,
        pixel_area_ha: NDArray[np.float64],
        totals: SinkTotals,
        map_row: int = 0,
        stack: NDArray[np.float32] | None = None,
        bands: tuple[NDArray[np.int64], int, NDArray[np.int64]] | None = None,
        bin_of: NDArray[np.integer] | None = None,
    ) -> None:
        """Walk every pixel of ``block`` (its dates' ``bins``) into ``totals`` and ``stack``.

        Pixels in zone row ``skip_row`` are not counted; ``map_row`` is the row whose densities
        map pixels that the first layer of regions does not cover. ``bins`` may be raw 8-bit
        codes, with ``bin_of[date, code]`` their bins. Without bands to map, ages or density
        rasters, pixels are grouped by history and each group walked once."""
        layers = (np.zeros(bins.shape[1:], np.int32),) if zones is None else zones.layers
        boundary = zones is not None and len(zones.boundary_rows) > 0
        acc = totals.arrays()
        model = self.model()
        own_pixels = stack is not None or self.ages is not None or self.density_rasters is not None
        if not own_pixels:
            n_values = 256 if bins.dtype.itemsize == 1 else int(bins.max(initial=0)) + 1
            for layer in layers:
                group = group_histories(
                    bins, layer, skip_row, pixel_area_ha, totals.gain_loss_mg.shape[0], n_values
                )
                self._walk_groups(bins, bin_of, *group, acc, model)
            ages, pixels = np.empty((0, 0), np.float32), self.no_pixels()
        else:
            if bin_of is not None:
                bins = _bins_of(bins, bin_of)
            ages, pixels = self._ages(block), self._pixels(block)
            maps = (ages, pixels, model)
            self._walk_pixels(bins, layers, skip_row, pixel_area_ha, acc, maps, map_row, stack,
                              bands, separate_map=len(layers) > 1 or boundary)  # fmt: skip
        if boundary:
            assert zones is not None
            walk_fractions(
                bins if bin_of is None or own_pixels else _bins_of(bins, bin_of),
                zones.boundary_rows,
                zones.boundary_cols,
                zones.boundary_zone,
                zones.boundary_fraction,
                pixel_area_ha,
                ages,
                model,
                pixels,
                acc,
            )

    def _walk_groups(
        self,
        values: NDArray[np.integer],
        bin_of: NDArray[np.integer] | None,
        zone: NDArray[np.int32],
        rows: NDArray[np.int64],
        cols: NDArray[np.int64],
        area_ha: NDArray[np.float64],
        acc: tuple[NDArray[np.float64], ...],
        model: tuple[Any, ...],
    ) -> None:
        """Walk one member of each history group, weighted by the group's area."""
        if not len(zone):
            return
        history = values[:, rows, cols][:, None, :]
        if bin_of is not None:
            history = _bins_of(history, bin_of)
        walk_fractions(
            np.ascontiguousarray(history),
            np.zeros(len(zone), np.int64),
            np.arange(len(zone), dtype=np.int64),
            zone,
            np.ones(len(zone)),
            area_ha[None, :],
            np.empty((0, 0), np.float32),
            model,
            self.no_pixels(),
            acc,
        )

    def _walk_pixels(
        self,
        bins: NDArray[np.integer],
        layers: tuple[NDArray[np.int32], ...],
        skip_row: int,
        pixel_area_ha: NDArray[np.float64],
        acc: tuple[NDArray[np.float64], ...],
        maps: tuple[Any, ...],
        map_row: int,
        stack: NDArray[np.float32] | None,
        bands: tuple[NDArray[np.int64], int, NDArray[np.int64]] | None,
        *,
        separate_map: bool,
    ) -> None:
        """Walk every pixel on its own: its age, its density-raster values, its bands."""
        ages, pixels, model = maps
        out = np.empty((0, 1, 1), np.float32) if stack is None else stack
        if bands is None:
            n_dates = len(self.years)
            bands = (np.full(n_dates - 1, -1, np.int64), -1, np.full(n_dates, -1, np.int64))
        no_stack = np.empty((0, 1, 1), np.float32)
        if stack is not None and separate_map:
            # Overlapping regions or boundary fractions: map every pixel once, in the first
            # layer's region (or unassigned), then count the layers without mapping.
            own = np.where(layers[0] == skip_row, map_row, layers[0]).astype(np.int32)
            scratch = SinkTotals.zeros(acc[2].shape[0], len(self.years), self.n_segments)
            walk_block(
                bins, own, -1, pixel_area_ha, ages, model, pixels, scratch.arrays(), out, bands
            )
            out = no_stack
        for layer in layers:
            walk_block(bins, layer, skip_row, pixel_area_ha, ages, model, pixels, acc, out, bands)

    def no_pixels(self) -> tuple[Any, ...]:
        """The kernels' pixel maps when no density raster is read."""
        return (
            np.empty((0, 1, 1, 1), np.float32),
            np.full(N_POOLS, -1, np.int64),
            np.zeros(len(self.years), np.int64),
            self.class_factor,
        )

    def _ages(self, block: Block) -> NDArray[np.float32]:
        if self.ages is None:
            return np.empty((0, 0), np.float32)
        with rasterio.Env():
            return np.asarray(self.ages.read(block), np.float32)

    def _pixels(self, block: Block) -> tuple[Any, ...]:
        n_dates = len(self.years)
        if self.density_rasters is None:
            return self.no_pixels()
        with self.density_rasters.reader() as reader:
            maps = reader.read(block)
        pools = sorted(maps)
        pool_index = np.full(N_POOLS, -1, np.int64)
        for q, pool in enumerate(pools):
            pool_index[pool] = q
        stacked = np.stack([np.broadcast_to(maps[p], (n_dates, *maps[p].shape[1:])) for p in pools])
        return (
            np.ascontiguousarray(stacked, np.float32),
            pool_index,
            np.arange(n_dates, dtype=np.int64),
            self.class_factor,
        )


def walk_state(
    plan: PassPlan,
    bins: NDArray[np.integer],
    block: Block,
    totals: PassTotals,
    mapped: bool,
    bin_of: NDArray[np.integer] | None = None,
) -> NDArray[np.float32] | None:
    """The per-pixel state's walk of a block: its totals, and (mapped) every band of the plan,
    densities and change from the walk, each pair's NPV from its total change. ``bins`` may be
    raw 8-bit codes, with ``bin_of[date, code]`` their bins."""
    state = plan.state
    assert state is not None
    totals.state = state.empty(plan.n_rows, plan.n_bins)
    zones = None if plan.zones is None else block_zones(plan.zones, plan.grid, block)
    skip = -1 if plan.zones is None else plan.zones.discard_row
    unassigned = 0 if plan.zones is None else plan.zones.unassigned_row
    area = plan.area.block(block)
    if not mapped or plan.rasters is None:
        state.walk(bins, block, zones, skip, area, totals.state, unassigned, bin_of=bin_of)
        return None
    stack = np.empty((plan.n_bands, block.height, block.width), np.float32)
    date_band, pair_band, npv_band = plan.rasters.layout(plan.n_dates, len(plan.pairs))
    consecutive = np.full(plan.n_dates - 1, -1, np.int64)
    first_last = -1
    for pair, (start, end) in enumerate(plan.pairs):
        if end == start + 1:
            consecutive[start] = pair_band[pair]
        elif start == 0 and end == plan.n_dates - 1:
            first_last = int(pair_band[pair])
    bands = (consecutive, first_last, date_band)
    state.walk(bins, block, zones, skip, area, totals.state, unassigned, stack, bands)
    last = plan.rasters.density_by_bin.shape[1] - 1
    for pair, constant in zip(plan.rasters.pairs, plan.rasters.npv_constants, strict=False):
        if constant is not None:
            total = stack[pair_band[pair] + last]
            np.multiply(total, np.float32(constant), out=stack[npv_band[pair]])
    return stack


def _bins_of(values: NDArray[np.integer], bin_of: NDArray[np.integer]) -> NDArray[np.uint8]:
    """Raw codes ``(dates, ...)`` as bins through each date's table ``bin_of[date, code]``."""
    return np.stack([bin_of[d][values[d]] for d in range(len(values))]).astype(np.uint8)
