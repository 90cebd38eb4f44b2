"""Accumulate area histograms: per-pixel zone layers, boundary fractions, and the fused run
kernels that count codes or bins over the regions' pixel runs (areas flushed per row).

Kernels take NumPy arrays and scalars, fill caller-provided outputs, and know nothing of
files, CRS, pandas or logging. Accumulators are float64 (area) and int64 (counts).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from geocarbon.kernels.classify import _bin_of

#: The pixel runs of one layer of regions: row offsets into the runs (one more than the grid's
#: rows), then each run's first column, end column (exclusive) and zone.
Runs = tuple[NDArray[np.int64], NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]


@njit(cache=True, nogil=True)
def accumulate_area(
    bin_index: NDArray[np.integer],
    zone_index: NDArray[np.int32],
    pixel_area_ha: NDArray[np.float64],
    area_ha: NDArray[np.float64],
    pixel_count: NDArray[np.int64],
) -> None:
    """Add each pixel's area (ha) and count to ``area_ha[zone, bin]`` and ``pixel_count[zone, bin]``."""
    rows, cols = bin_index.shape
    for row in range(rows):
        for col in range(cols):
            zone = zone_index[row, col]
            bin_ = bin_index[row, col]
            area_ha[zone, bin_] += pixel_area_ha[row, col]
            pixel_count[zone, bin_] += 1


@njit(cache=True, nogil=True)
def accumulate_fractions(
    bin_index: NDArray[np.integer],
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    zones: NDArray[np.int32],
    fractions: NDArray[np.float64],
    pixel_area_ha: NDArray[np.float64],
    area_ha: NDArray[np.float64],
    pixel_count: NDArray[np.int64],
    coverage_px: NDArray[np.float64],
) -> None:
    """Add partly covered pixels: ``fractions[k]`` of pixel (rows[k], cols[k]) to zone ``zones[k]``.

    Area gets fraction x pixel area, ``coverage_px`` the fraction, and ``pixel_count`` one pixel
    per (zone, pixel) pair that has any coverage.
    """
    for k in range(rows.shape[0]):
        row = rows[k]
        col = cols[k]
        zone = zones[k]
        bin_ = bin_index[row, col]
        area_ha[zone, bin_] += fractions[k] * pixel_area_ha[row, col]
        coverage_px[zone, bin_] += fractions[k]
        pixel_count[zone, bin_] += 1


@njit(cache=True, nogil=True, inline="always")
def _next_segment(
    span_c0: NDArray[np.int32],
    span_c1: NDArray[np.int32],
    span_zone: NDArray[np.int32],
    s: int,
    end: int,
    col: int,
    col_off: int,
    cols: int,
    outside_zone: int,
) -> tuple[int, int, int]:
    """From block column ``col``: the zone of the segment that starts there, where it stops, and
    the first run not yet passed (runs ``s:end`` of the row, sorted; outside them, ``outside_zone``)."""
    while s < end and span_c1[s] - col_off <= col:
        s += 1
    if s < end:
        start = span_c0[s] - col_off
        if start <= col:
            return span_zone[s], min(span_c1[s] - col_off, cols), s
        return outside_zone, min(start, cols), s
    return outside_zone, cols, s


@njit(cache=True, nogil=True)
def accumulate_runs(
    codes: NDArray[np.integer],
    valid: NDArray[np.bool_],
    has_mask: bool,
    class_index_by_code: NDArray[np.int32],
    code_offset: int,
    nodata_code: int,
    has_nodata: bool,
    nodata_bin: int,
    unknown_bin: int,
    row_area_ha: NDArray[np.float64],
    runs: Runs,
    row_off: int,
    col_off: int,
    outside_zone: int,
    area_ha: NDArray[np.float64],
    pixel_count: NDArray[np.int64],
    unknown_count_by_slot: NDArray[np.int64],
) -> None:
    """classify + accumulate_area in one pass, zones taken from pixel runs instead of a zone raster.

    Row ``r`` of the block is grid row ``row_off + r``; its runs ``runs[0][R]:runs[0][R+1]``
    (sorted, disjoint) give their zone to columns ``[c0, c1)``, every other pixel goes to
    ``outside_zone``. ``row_area_ha`` holds one pixel area per block row. Same results as
    :func:`classify` then :func:`accumulate_area`, without the bin and zone arrays.
    """
    rows, cols = codes.shape
    for row in range(rows):
        grid_row = row_off + row
        area = row_area_ha[row]
        col = 0
        s = runs[0][grid_row]
        end = runs[0][grid_row + 1]
        while col < cols:
            zone, stop, s = _next_segment(
                runs[1], runs[2], runs[3], s, end, col, col_off, cols, outside_zone
            )
            for c in range(col, stop):
                bin_index = _bin_of(
                    codes[row, c],
                    not has_mask or valid[row, c],
                    class_index_by_code,
                    code_offset,
                    nodata_code,
                    has_nodata,
                    nodata_bin,
                    unknown_bin,
                    unknown_count_by_slot,
                )
                area_ha[zone, bin_index] += area
                pixel_count[zone, bin_index] += 1
            col = stop


#: Interleaved sub-histograms of the by-code kernel: runs of one code (the rule in land cover)
#: would otherwise chain every increment on the previous one through the same memory cell.
LANES = 4


@njit(cache=True, nogil=True)
def accumulate_runs_by_code(
    codes: NDArray[np.uint8],
    valid: NDArray[np.bool_],
    has_mask: bool,
    row_area_ha: NDArray[np.float64],
    runs: Runs,
    row_off: int,
    col_off: int,
    outside_zone: int,
    area_by_code: NDArray[np.float64],
    count_by_code: NDArray[np.int64],
    row_counts: NDArray[np.int64],
) -> None:
    """Like :func:`accumulate_runs` for 8-bit codes, but by raw code: ``[zone, code]``.

    The hot loop of national runs. Per pixel only an integer count, by raw code (masked pixels:
    column 256) into lane ``col % LANES`` of ``row_counts`` (zones, LANES, 257; zero on entry and
    exit): no lookup, no branch, no float add. Each row's counts are then flushed, count x the
    row's pixel area, for the zones the row touched; codes are mapped to bins by the caller.
    """
    rows, cols = codes.shape
    touched = np.zeros(row_counts.shape[0], np.bool_)
    for row in range(rows):
        grid_row = row_off + row
        col = 0
        s = runs[0][grid_row]
        end = runs[0][grid_row + 1]
        while col < cols:
            zone, stop, s = _next_segment(
                runs[1], runs[2], runs[3], s, end, col, col_off, cols, outside_zone
            )
            touched[zone] = True
            lanes = row_counts[zone]
            if has_mask:
                for c in range(col, stop):
                    code = np.int64(codes[row, c]) if valid[row, c] else 256
                    lanes[c & 3, code] += 1
            else:
                for c in range(col, stop):
                    lanes[c & 3, codes[row, c]] += 1
            col = stop
        area = row_area_ha[row]
        for zone in range(touched.shape[0]):
            if touched[zone]:
                touched[zone] = False
                for lane in range(LANES):
                    for code in range(257):
                        n = row_counts[zone, lane, code]
                        if n:
                            count_by_code[zone, code] += n
                            area_by_code[zone, code] += n * area
                            row_counts[zone, lane, code] = 0


@njit(cache=True, nogil=True, inline="always")
def _count_run(
    counts: NDArray[np.int64],
    seen: NDArray[np.bool_],
    listed: NDArray[np.int64],
    n_listed: NDArray[np.int64],
    slot: int,
    key: int,
    n: int,
) -> None:
    """Add a run of ``n`` pixels of ``key`` to a row's counts; list the key the first time."""
    counts[key] += n
    if not seen[key]:
        seen[key] = True
        listed[n_listed[slot]] = key
        n_listed[slot] += 1


@njit(cache=True, nogil=True)
def accumulate_runs_sets(
    values: NDArray[np.integer],
    sets: NDArray[np.int64],
    key_tables: NDArray[np.uint16],
    row_area_ha: NDArray[np.float64],
    runs: Runs,
    row_off: int,
    col_off: int,
    outside_zone: int,
    area_ha: NDArray[np.float64],
    pixel_count: NDArray[np.int64],
) -> None:
    """Histograms of several dates at once, zones from pixel runs (see :func:`accumulate_runs`).

    ``values`` is (dates, rows, cols) of bytes: raw 8-bit codes, or bins. Key set ``k`` is
    ``sets[k] = (d0, d1)`` (``d1 = d0`` for one date alone) and its key of a pixel is
    ``key_tables[k, values[d0] << 8 | values[d1]]``: a date's bin, or a transition's
    ``bin0 * n_bins + bin1``, classification folded into the table. Land cover comes in runs of
    one class (stable land in runs of one transition), so pixels are counted by runs of equal
    value pairs: per pixel a compare, per run one lookup and one add. Each row's counts are
    flushed into ``area_ha[set, zone, key]`` (count x the row's pixel area) and ``pixel_count``,
    visiting only the keys the row touched.
    """
    n_sets = sets.shape[0]
    _, rows, cols = values.shape
    n_zones, n_keys = area_ha.shape[1], area_ha.shape[2]
    touched = np.zeros(n_zones, np.bool_)
    counts = np.zeros((n_sets, n_zones, n_keys), np.int64)
    seen = np.zeros((n_sets, n_zones, n_keys), np.bool_)
    listed = np.empty((n_sets, n_zones, n_keys), np.int64)
    n_listed = np.zeros(n_sets * n_zones, np.int64)
    for row in range(rows):
        grid_row = row_off + row
        col = 0
        s = runs[0][grid_row]
        end = runs[0][grid_row + 1]
        while col < cols:
            zone, stop, s = _next_segment(
                runs[1], runs[2], runs[3], s, end, col, col_off, cols, outside_zone
            )
            touched[zone] = True
            for k in range(n_sets):
                first = values[sets[k, 0], row]
                second = values[sets[k, 1], row]
                table = key_tables[k]
                slot = k * n_zones + zone
                run_value = -1
                run_length = 0
                for c in range(col, stop):
                    value = (np.int64(first[c]) << 8) | second[c]
                    if value == run_value:
                        run_length += 1
                    else:
                        if run_length:
                            _count_run(
                                counts[k, zone],
                                seen[k, zone],
                                listed[k, zone],
                                n_listed,
                                slot,
                                int(table[run_value]),
                                run_length,
                            )
                        run_value = value
                        run_length = 1
                if run_length:
                    _count_run(
                        counts[k, zone],
                        seen[k, zone],
                        listed[k, zone],
                        n_listed,
                        slot,
                        int(table[run_value]),
                        run_length,
                    )
            col = stop
        area = row_area_ha[row]
        for zone in range(n_zones):
            if touched[zone]:
                touched[zone] = False
                for k in range(n_sets):
                    slot = k * n_zones + zone
                    for i in range(n_listed[slot]):
                        key = listed[k, zone, i]
                        n = counts[k, zone, key]
                        pixel_count[k, zone, key] += n
                        area_ha[k, zone, key] += n * area
                        counts[k, zone, key] = 0
                        seen[k, zone, key] = False
                    n_listed[slot] = 0
