"""The block step: read one block of every date -> bins -> histograms (and rasters, if planned).

:func:`run_block` is the only pixel step of every run, on threads and on Dask workers alike.
Three paths, chosen by the plan, give the same histograms:

- one date, no raster: the fused run kernels (by raw code for 8-bit codes), no bin array at all;
- on runs (:attr:`PassPlan.on_runs`): each date classified to byte bins, then one kernel counts
  every date and pair of dates over the regions' pixel runs, areas flushed per row;
- otherwise (all-touched or exact coverage, overlapping regions, pixel areas varying within a
  row): bins and per-pixel zone layers, with fractional boundary pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from geocarbon import kernels
from geocarbon.blocks import Block, BlockReader, Read
from geocarbon.engine.histogram import Histogram, PassTotals
from geocarbon.engine.plan import PassPlan
from geocarbon.engine.state import walk_state
from geocarbon.engine.zones import BlockZones, block_zones
from geocarbon.lookup import ClassLookup


@dataclass
class BlockOutput:
    """A block's histograms and, when mapped, its raster bands ``(n_bands, height, width)``."""

    totals: PassTotals
    stack: NDArray[np.float32] | None


def run_block(
    plan: PassPlan, readers: Sequence[BlockReader], block: Block, *, map_rasters: bool = True
) -> BlockOutput:
    """Read ``block`` of every date and accumulate it (and map its rasters when planned and asked)."""
    reads = [reader.read(block) for reader in readers]
    mapped = map_rasters and plan.n_bands > 0
    stateless = plan.state is None
    if stateless and plan.n_dates == 1 and not mapped and plan.on_runs:
        return BlockOutput(PassTotals([_single_date_runs(plan, reads[0], block)], []), None)
    if plan.on_runs and not mapped and _raw_bytes(plan, reads):
        totals, raw = _raw_runs_totals(plan, reads, block)
        if not stateless:  # the walk groups raw histories, classified through each date's table
            bin_of = np.stack([np.asarray(table) for table in plan.bin_tables])
            walk_state(plan, raw, block, totals, False, bin_of=bin_of)
        return BlockOutput(totals, None)
    if plan.on_runs:
        bins, dates = _classify(plan, reads, np.uint8)
        totals = _runs_totals(plan, bins, plan.bin_key_tables, dates, block)
    else:
        bins, dates = _classify(plan, reads, np.int32)
        totals = _layer_totals(plan, bins, dates, block)
    if not stateless:
        return BlockOutput(totals, walk_state(plan, bins, block, totals, mapped))
    return BlockOutput(totals, raster_stack(plan, bins, block) if mapped else None)


def raster_stack(plan: PassPlan, bins: NDArray[np.integer], block: Block) -> NDArray[np.float32]:
    """The plan's raster bands for a block whose dates have ``bins`` (dates, height, width)."""
    stack = np.empty((plan.n_bands, block.height, block.width), np.float32)
    band = 0
    maps = plan.rasters
    if maps is not None:
        per_map = maps.density_by_bin.shape[1]
        for date in maps.dates:
            kernels.densities_from_bins(
                bins[date], maps.density_by_bin, stack[band : band + per_map]
            )
            band += per_map
        for pair, constant in zip(maps.pairs, _padded(maps.npv_constants, maps.pairs), strict=True):
            start, end = plan.pairs[pair]
            kernels.change_from_bins(
                bins[start], bins[end], maps.density_by_bin, stack[band : band + per_map]
            )
            band += per_map
            if constant is not None:
                # NPV per ha: the total change (Mg C/ha) times the period's valuation constant.
                np.multiply(stack[band - 1], np.float32(constant), out=stack[band])
                band += 1
    return stack


def _padded(constants: tuple[float | None, ...], pairs: tuple[int, ...]) -> list[float | None]:
    return list(constants) + [None] * (len(pairs) - len(constants))


def _classify(
    plan: PassPlan, reads: list[Read], dtype: type[np.integer[Any]]
) -> tuple[NDArray[np.integer], list[Histogram]]:
    """Every date's bins ``(dates, height, width)``, and per date a histogram holding only its
    unknown-code counts (the rest is filled by the accumulating path).

    8- and 16-bit codes take the plan's table of every raw value (byte bins); wider codes, or
    bins too many for a byte, the lookup kernel, which counts unknown codes as it goes.
    """
    bins = np.empty((plan.n_dates, *reads[0][0].shape), dtype)
    dates = []
    for date, ((codes, valid), lookup, source, table) in enumerate(
        zip(reads, plan.lookups, plan.sources, plan.bin_tables, strict=True)
    ):
        histogram = Histogram.empty(lookup, plan.n_rows)
        if table is not None and dtype is np.uint8:
            raw = np.ascontiguousarray(codes).view(np.dtype(f"u{codes.dtype.itemsize}"))
            kernels.lookup_bins(
                raw,
                table,
                np.empty((1, 1), np.bool_) if valid is None else valid,
                valid is not None,
                lookup.nodata_bin,
                bins[date],
            )
            _count_unknown(histogram, codes, bins[date], lookup)
        else:
            kernels.classify(
                codes,
                np.broadcast_to(np.True_, codes.shape) if valid is None else valid,
                lookup.class_index_by_code,
                lookup.code_offset,
                0 if source.nodata is None else source.nodata,
                source.nodata is not None,
                lookup.nodata_bin,
                lookup.unknown_bin,
                bins[date],
                histogram.unknown_count_by_slot,
            )
            if histogram.unknown_count_by_slot[-1]:
                histogram.outside_lookup = codes_outside_lookup(codes, valid, lookup, source.nodata)
        dates.append(histogram)
    return bins, dates


def _count_unknown(
    histogram: Histogram, codes: NDArray[np.integer], bins: NDArray[np.uint8], lookup: ClassLookup
) -> None:
    """Count the codes with no table row (a rare path: only when the block has any)."""
    unknown = bins == lookup.unknown_bin
    if not unknown.any():
        return
    values, counts = np.unique(codes[unknown], return_counts=True)
    slots = values.astype(np.int64) - lookup.code_offset
    np.add.at(histogram.unknown_count_by_slot, slots, counts)


def _raw_runs_totals(
    plan: PassPlan, reads: list[Read], block: Block
) -> tuple[PassTotals, NDArray[np.uint8]]:
    """8-bit dates without masks: the kernel reads the raw codes, their classification folded
    into its key tables; unknown codes are looked for only in dates whose histogram has some.
    Returns the totals and the raw codes ``(dates, height, width)``."""
    tables = plan.raw_key_tables
    assert tables is not None
    raw = np.stack([np.ascontiguousarray(codes).view(np.uint8) for codes, _ in reads])
    dates = [Histogram.empty(lookup, plan.n_rows) for lookup in plan.lookups]
    totals = _runs_totals(plan, raw, tables, dates, block)
    for date, (histogram, lookup) in enumerate(zip(dates, plan.lookups, strict=True)):
        bin_of_raw = plan.bin_tables[date]
        if bin_of_raw is not None and histogram.pixel_count[:, lookup.unknown_bin].any():
            _count_unknown(histogram, reads[date][0], bin_of_raw[raw[date]], lookup)
    return totals, raw


def _raw_bytes(plan: PassPlan, reads: list[Read]) -> bool:
    """Whether the block's dates can be counted from their raw bytes (8-bit codes, no mask)."""
    return plan.raw_key_tables is not None and all(valid is None for _, valid in reads)


def _runs_totals(
    plan: PassPlan,
    values: NDArray[np.integer],
    key_tables: NDArray[np.uint16],
    dates: list[Histogram],
    block: Block,
) -> PassTotals:
    """Every date and pair of a block counted over the regions' pixel runs in one kernel call;
    ``values`` are raw 8-bit codes or byte bins, read through the matching ``key_tables``."""
    n_bins, n_rows = plan.n_bins, plan.n_rows
    sets, date_source = plan.key_sets
    n_keys = n_bins * n_bins if plan.pairs else n_bins
    area = np.zeros((len(sets), n_rows, n_keys))
    count = np.zeros((len(sets), n_rows, n_keys), np.int64)
    runs, outside_zone = _runs(plan, block)
    row_area_ha = plan.area.row_areas(block)
    assert row_area_ha is not None
    kernels.accumulate_runs_sets(
        values,
        sets,
        key_tables,
        row_area_ha,
        runs,
        block.row_off,
        block.col_off,
        outside_zone,
        area,
        count,
    )
    for histogram, (k, axis) in zip(dates, date_source, strict=True):
        if axis == 0:
            date_area, date_count = area[k, :, :n_bins], count[k, :, :n_bins]
        else:
            square = (n_rows, n_bins, n_bins)
            summed = 2 if axis == 1 else 1
            date_area = area[k].reshape(square).sum(axis=summed)
            date_count = count[k].reshape(square).sum(axis=summed)
        histogram.area_ha += date_area
        histogram.pixel_count += date_count
        histogram.coverage_px += date_count
    pairs = []
    for k in range(len(plan.pairs)):
        histogram = Histogram.zeros(n_rows, n_keys)
        histogram.area_ha += area[k]
        histogram.pixel_count += count[k]
        histogram.coverage_px += count[k]
        pairs.append(histogram)
    return PassTotals(dates, pairs)


def _runs(
    plan: PassPlan, block: Block
) -> tuple[tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]], int]:
    """The zone runs of the plan's single layer (or none: every pixel outside, in row 0)."""
    zones = plan.zones
    if zones is None:
        empty32 = np.empty(0, np.int32)
        no_runs = np.zeros(block.row_off + block.height + 1, np.int64)
        return (no_runs, empty32, empty32, empty32), 0
    spans = zones.layer_spans[0]
    return (spans.row_offsets, spans.col0, spans.col1, spans.zone), zones.unassigned_row


def _layer_totals(
    plan: PassPlan, bins: NDArray[np.integer], dates: list[Histogram], block: Block
) -> PassTotals:
    """The general path: per-pixel zone layers (and boundary fractions) and per-pixel areas."""
    zones = None if plan.zones is None else block_zones(plan.zones, plan.grid, block)
    pixel_area_ha = plan.area.block(block)
    for date, histogram in enumerate(dates):
        accumulate_zones(bins[date], pixel_area_ha, histogram, zones=zones)
    n_bins = plan.n_bins
    pairs = []
    for start, end in plan.pairs:
        histogram = Histogram.zeros(plan.n_rows, n_bins * n_bins)
        keys = bins[start] * np.int32(n_bins) + bins[end]
        accumulate_zones(keys, pixel_area_ha, histogram, zones=zones)
        pairs.append(histogram)
    return PassTotals(dates, pairs)


def accumulate_zones(
    bins: NDArray[np.integer],
    pixel_area_ha: NDArray[np.float64],
    histogram: Histogram,
    *,
    zones: BlockZones | None = None,
) -> None:
    """Add a block's pixels to ``histogram`` by zone row: whole-pixel layers, then boundary fractions."""
    layers: tuple[NDArray[np.int32], ...]
    if zones is None:
        layers = (np.broadcast_to(np.int32(0), bins.shape),)
    else:
        layers = zones.layers
    before = histogram.pixel_count.copy()
    for layer in layers:
        kernels.accumulate_area(
            bins, layer, pixel_area_ha, histogram.area_ha, histogram.pixel_count
        )
    histogram.coverage_px += histogram.pixel_count - before
    if zones is not None and len(zones.boundary_rows):
        kernels.accumulate_fractions(
            bins,
            zones.boundary_rows,
            zones.boundary_cols,
            zones.boundary_zone,
            zones.boundary_fraction,
            pixel_area_ha,
            histogram.area_ha,
            histogram.pixel_count,
            histogram.coverage_px,
        )


def _single_date_runs(plan: PassPlan, read: Read, block: Block) -> Histogram:
    """One date, tables only: classify and accumulate in one fused pass over the pixel runs."""
    codes, valid = read
    lookup, nodata = plan.lookups[0], plan.sources[0].nodata
    runs, outside_zone = _runs(plan, block)
    row_area_ha = plan.area.row_areas(block)
    assert row_area_ha is not None
    if codes.dtype.itemsize == 1:
        return _accumulate_by_code(
            codes, valid, row_area_ha, lookup, nodata, runs, block, outside_zone, plan.n_rows
        )
    histogram = Histogram.empty(lookup, plan.n_rows)
    kernels.accumulate_runs(
        codes,
        np.empty((1, 1), np.bool_) if valid is None else valid,
        valid is not None,
        lookup.class_index_by_code,
        lookup.code_offset,
        0 if nodata is None else nodata,
        nodata is not None,
        lookup.nodata_bin,
        lookup.unknown_bin,
        row_area_ha,
        runs,
        block.row_off,
        block.col_off,
        outside_zone,
        histogram.area_ha,
        histogram.pixel_count,
        histogram.unknown_count_by_slot,
    )
    histogram.coverage_px += histogram.pixel_count
    if histogram.unknown_count_by_slot[-1]:
        histogram.outside_lookup = codes_outside_lookup(codes, valid, lookup, nodata)
    return histogram


def _accumulate_by_code(
    codes: NDArray[np.integer],
    valid: NDArray[np.bool_] | None,
    row_area_ha: NDArray[np.float64],
    lookup: ClassLookup,
    nodata: int | None,
    runs: tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]],
    block: Block,
    outside_zone: int,
    n_zones: int,
) -> Histogram:
    """8-bit codes: histogram by raw code (257 columns: 256 codes and "masked"), then by bin."""
    raw = codes.view(np.uint8)  # int8 codes keep their bits; the lookup below undoes the view
    area_by_code = np.zeros((n_zones, 257))
    count_by_code = np.zeros((n_zones, 257), np.int64)
    kernels.accumulate_runs_by_code(
        raw,
        np.empty((1, 1), np.bool_) if valid is None else valid,
        valid is not None,
        row_area_ha,
        runs,
        block.row_off,
        block.col_off,
        outside_zone,
        area_by_code,
        count_by_code,
        np.zeros((n_zones, kernels.LANES, 257), np.int64),
    )
    bin_of_code = _bins_of_raw_codes(lookup, codes.dtype, nodata)
    histogram = Histogram.empty(lookup, n_zones)
    for bin_index in np.unique(bin_of_code):
        columns = bin_of_code == bin_index
        histogram.area_ha[:, bin_index] += area_by_code[:, columns].sum(axis=1)
        histogram.pixel_count[:, bin_index] += count_by_code[:, columns].sum(axis=1)
    histogram.coverage_px += histogram.pixel_count
    unknown_raw = np.flatnonzero(
        (bin_of_code[:256] == lookup.unknown_bin) & (count_by_code[:, :256].sum(axis=0) > 0)
    )
    for raw_code in unknown_raw:
        code = int(np.array([raw_code], np.uint8).view(codes.dtype)[0])
        histogram.unknown_count_by_slot[code - lookup.code_offset] += int(
            count_by_code[:, raw_code].sum()
        )
    return histogram


def _bins_of_raw_codes(
    lookup: ClassLookup, dtype: np.dtype[Any], nodata: int | None
) -> NDArray[np.int64]:
    """Bin of each raw byte value 0..255 (as the raster's dtype) and of the "masked" column 256."""
    values = np.arange(256, dtype=np.uint8).view(dtype).astype(np.int64)
    bins = lookup.class_index_by_code[values - lookup.code_offset].astype(np.int64)
    if nodata is not None:
        bins[values == nodata] = lookup.nodata_bin
    return np.append(bins, lookup.nodata_bin)


def codes_outside_lookup(
    codes: NDArray[np.integer],
    valid: NDArray[np.bool_] | None,
    lookup: ClassLookup,
    nodata: int | None,
) -> dict[int, int]:
    """Count valid codes beyond the lookup's span (only 32-bit rasters have any; a rare, slow path)."""
    slot = codes.astype(np.int64) - lookup.code_offset
    outside = (slot < 0) | (slot >= len(lookup.class_index_by_code))
    if valid is not None:
        outside &= valid
    if nodata is not None:
        outside &= codes != nodata
    values, counts = np.unique(codes[outside], return_counts=True)
    return {int(value): int(count) for value, count in zip(values, counts, strict=True)}
