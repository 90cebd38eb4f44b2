"""Block-level orchestration of the pixel pass: codes -> bins -> area histogram (+ density block).

:func:`process_block` is pure (arrays in, arrays out) so the same function serves a thread pool
here and Dask workers later. :class:`Histogram` is the run-level sum of block results: the one
small table, ``area_ha[zone, bin]``, from which every statistic is derived.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from geocarbon import kernels
from geocarbon.lookup import ClassLookup

if TYPE_CHECKING:
    from geocarbon.zones import BlockZones, SpanTable


@dataclass
class Histogram:
    """Area (ha), pixel counts and coverage per zone row and bin, and unknown-code counts.

    Bins are the table's classes, then ``unknown``, then ``nodata`` (see :class:`ClassLookup`).
    ``coverage_px`` equals ``pixel_count`` except in exact coverage, where a boundary pixel adds
    its covered fraction to each region it meets (and counts one pixel in each). Unknown codes
    inside the lookup are counted per slot; the rare ones beyond it (32-bit rasters) by code in
    ``outside_lookup``.
    """

    area_ha: NDArray[np.float64]
    pixel_count: NDArray[np.int64]
    coverage_px: NDArray[np.float64]
    unknown_count_by_slot: NDArray[np.int64]
    outside_lookup: dict[int, int] = field(default_factory=dict)

    @classmethod
    def empty(cls, lookup: ClassLookup, n_zones: int = 1) -> Histogram:
        return cls.zeros(n_zones, lookup.n_bins, len(lookup.class_index_by_code) + 1)

    @classmethod
    def zeros(cls, n_zones: int, n_bins: int, n_slots: int = 1) -> Histogram:
        return cls(
            np.zeros((n_zones, n_bins), np.float64),
            np.zeros((n_zones, n_bins), np.int64),
            np.zeros((n_zones, n_bins), np.float64),
            np.zeros(n_slots, np.int64),
        )

    def add(self, other: Histogram) -> None:
        self.area_ha += other.area_ha
        self.pixel_count += other.pixel_count
        self.coverage_px += other.coverage_px
        self.unknown_count_by_slot += other.unknown_count_by_slot
        for code, count in other.outside_lookup.items():
            self.outside_lookup[code] = self.outside_lookup.get(code, 0) + count

    def unknown_codes(self, lookup: ClassLookup) -> dict[int, int]:
        """Pixel count of every code with no table row."""
        slots = np.flatnonzero(self.unknown_count_by_slot[:-1])
        found = {lookup.code_of_slot(int(s)): int(self.unknown_count_by_slot[s]) for s in slots}
        found.update(self.outside_lookup)
        return dict(sorted(found.items()))


@dataclass
class BlockResult:
    histogram: Histogram
    density: NDArray[np.float32] | None


def process_block(
    codes: NDArray[np.integer],
    valid: NDArray[np.bool_] | None,
    pixel_area_ha: NDArray[np.float64],
    lookup: ClassLookup,
    *,
    nodata: int | None,
    density_by_bin: NDArray[np.float32] | None = None,
    zone_index: NDArray[np.int32] | None = None,
    n_zones: int = 1,
    zones: BlockZones | None = None,
) -> BlockResult:
    """Classify one block, accumulate its histogram and, if asked, map it to densities.

    Parameters
    ----------
    codes, valid
        Class codes and the optional valid-pixel mask of the block.
    pixel_area_ha
        Area of each pixel (ha), (height, width); a broadcast view is fine.
    density_by_bin
        (n_bins, n_bands) densities (Mg C/ha) to write; None skips the density block.
    zone_index, n_zones
        Zone row of each pixel in ``0..n_zones-1``; None puts every pixel in row 0.
    zones
        Several zone-row layers and fractional boundary pixels (see :func:`zones.block_zones`),
        instead of ``zone_index``.
    """
    histogram = Histogram.empty(lookup, n_zones)
    bins = classify_block(codes, valid, lookup, nodata, histogram)
    accumulate_zones(bins, pixel_area_ha, histogram, zones=zones, zone_index=zone_index)
    density = None
    if density_by_bin is not None:
        density = np.empty((density_by_bin.shape[1], *codes.shape), np.float32)
        kernels.densities_from_bins(bins, density_by_bin, density)
    return BlockResult(histogram, density)


def classify_block(
    codes: NDArray[np.integer],
    valid: NDArray[np.bool_] | None,
    lookup: ClassLookup,
    nodata: int | None,
    histogram: Histogram,
) -> NDArray[np.int32]:
    """Bins of a block's pixels; unknown codes are counted in ``histogram``."""
    bins = np.empty(codes.shape, np.int32)
    kernels.classify(
        codes,
        np.broadcast_to(np.True_, codes.shape) if valid is None else valid,
        lookup.class_index_by_code,
        lookup.code_offset,
        0 if nodata is None else nodata,
        nodata is not None,
        lookup.nodata_bin,
        lookup.unknown_bin,
        bins,
        histogram.unknown_count_by_slot,
    )
    if histogram.unknown_count_by_slot[-1]:
        outside = _codes_outside_lookup(codes, valid, lookup, nodata)
        for code, count in outside.items():
            histogram.outside_lookup[code] = histogram.outside_lookup.get(code, 0) + count
    return bins


def accumulate_zones(
    bins: NDArray[np.int32],
    pixel_area_ha: NDArray[np.float64],
    histogram: Histogram,
    *,
    zones: BlockZones | None = None,
    zone_index: NDArray[np.int32] | None = None,
) -> None:
    """Add a block's pixels to ``histogram`` by zone row: whole-pixel layers, then boundary fractions."""
    layers: tuple[NDArray[np.int32], ...]
    if zones is None:
        layers = (np.broadcast_to(np.int32(0), bins.shape) if zone_index is None else zone_index,)
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


def accumulate_block_runs(
    codes: NDArray[np.integer],
    valid: NDArray[np.bool_] | None,
    row_area_ha: NDArray[np.float64],
    lookup: ClassLookup,
    *,
    nodata: int | None,
    spans: SpanTable | None,
    row_off: int,
    col_off: int,
    outside_zone: int,
    n_zones: int,
) -> Histogram:
    """The fast path of :func:`process_block`: one fused pass, zones from pixel runs (or none).

    For one layer of regions (or no regions) and pixel areas that vary by row at most.
    """
    empty64, empty32 = np.zeros(row_off + codes.shape[0] + 1, np.int64), np.empty(0, np.int32)
    if codes.dtype.itemsize == 1:
        return _accumulate_by_code(
            codes,
            valid,
            row_area_ha,
            lookup,
            nodata=nodata,
            runs=(
                empty64 if spans is None else spans.row_offsets,
                empty32 if spans is None else spans.col0,
                empty32 if spans is None else spans.col1,
                empty32 if spans is None else spans.zone,
            ),
            row_off=row_off,
            col_off=col_off,
            outside_zone=outside_zone,
            n_zones=n_zones,
        )
    histogram = Histogram.empty(lookup, n_zones)
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
        empty64 if spans is None else spans.row_offsets,
        empty32 if spans is None else spans.col0,
        empty32 if spans is None else spans.col1,
        empty32 if spans is None else spans.zone,
        row_off,
        col_off,
        outside_zone,
        histogram.area_ha,
        histogram.pixel_count,
        histogram.unknown_count_by_slot,
    )
    histogram.coverage_px += histogram.pixel_count
    if histogram.unknown_count_by_slot[-1]:
        histogram.outside_lookup = _codes_outside_lookup(codes, valid, lookup, nodata)
    return histogram


def _accumulate_by_code(
    codes: NDArray[np.integer],
    valid: NDArray[np.bool_] | None,
    row_area_ha: NDArray[np.float64],
    lookup: ClassLookup,
    *,
    nodata: int | None,
    runs: tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]],
    row_off: int,
    col_off: int,
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
        *runs,
        row_off,
        col_off,
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


@dataclass
class DatesBlockResult:
    """One block of several dates: a histogram per date and per pair of dates, change maps per
    pair and, if asked, density maps per date."""

    dates: list[Histogram]
    pairs: list[Histogram]
    change: list[NDArray[np.float32]] | None
    density: list[NDArray[np.float32]] | None = None


def process_dates_block(
    codes: list[NDArray[np.integer]],
    valid: list[NDArray[np.bool_] | None],
    pixel_area_ha: NDArray[np.float64],
    lookups: list[ClassLookup],
    nodata: list[int | None],
    pairs: list[tuple[int, int]],
    *,
    n_zones: int = 1,
    zones: BlockZones | None = None,
    density_by_bin: NDArray[np.float32] | None = None,
    date_density: bool = False,
) -> DatesBlockResult:
    """Classify every date, accumulate per-date and per-pair histograms, map changes if asked
    (``density_by_bin``), and each date's densities too with ``date_density``.

    A pair histogram's bin is ``from_bin * n_bins + to_bin``: the transition matrix of each zone,
    unknown and nodata included, so every pixel is accounted for on both dates.
    """
    n_bins = lookups[0].n_bins
    date_histograms, date_bins = [], []
    for date_codes, date_valid, lookup, date_nodata in zip(
        codes, valid, lookups, nodata, strict=True
    ):
        histogram = Histogram.empty(lookup, n_zones)
        bins = classify_block(date_codes, date_valid, lookup, date_nodata, histogram)
        accumulate_zones(bins, pixel_area_ha, histogram, zones=zones)
        date_histograms.append(histogram)
        date_bins.append(bins)
    pair_histograms = []
    change: list[NDArray[np.float32]] | None = [] if density_by_bin is not None else None
    for start, end in pairs:
        histogram = Histogram.zeros(n_zones, n_bins * n_bins)
        accumulate_zones(
            date_bins[start] * np.int32(n_bins) + date_bins[end],
            pixel_area_ha,
            histogram,
            zones=zones,
        )
        pair_histograms.append(histogram)
        if change is not None and density_by_bin is not None:
            out = np.empty((density_by_bin.shape[1], *pixel_area_ha.shape), np.float32)
            kernels.change_from_bins(date_bins[start], date_bins[end], density_by_bin, out)
            change.append(out)
    density = None
    if date_density and density_by_bin is not None:
        density = []
        for bins in date_bins:
            out = np.empty((density_by_bin.shape[1], *pixel_area_ha.shape), np.float32)
            kernels.densities_from_bins(bins, density_by_bin, out)
            density.append(out)
    return DatesBlockResult(date_histograms, pair_histograms, change, density)


def _codes_outside_lookup(
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
