"""The numba kernels: classify codes, accumulate area histograms, map classes to densities.

Kernels take NumPy arrays and scalars, fill caller-provided outputs, and know nothing of files,
CRS, pandas or logging. They count problems (unknown codes) rather than raise; drivers explain.
Accumulators are float64 (area) and int64 (counts) whatever the input dtype.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray


@njit(cache=True, nogil=True, inline="always")
def _bin_of(
    code: int,
    is_valid: bool,
    class_index_by_code: NDArray[np.int32],
    code_offset: int,
    nodata_code: int,
    has_nodata: bool,
    nodata_bin: int,
    unknown_bin: int,
    unknown_count_by_slot: NDArray[np.int64],
) -> int:
    """The bin of one pixel (see :func:`classify`); counts the code when it has no table row."""
    if (has_nodata and code == nodata_code) or not is_valid:
        return nodata_bin
    n_slots = class_index_by_code.shape[0]
    slot = np.int64(code) - code_offset
    if 0 <= slot < n_slots:
        bin_index = class_index_by_code[slot]
        if bin_index == unknown_bin:
            unknown_count_by_slot[slot] += 1
        return bin_index
    unknown_count_by_slot[n_slots] += 1
    return unknown_bin


@njit(cache=True, nogil=True)
def classify(
    codes: NDArray[np.integer],
    valid: NDArray[np.bool_],
    class_index_by_code: NDArray[np.int32],
    code_offset: int,
    nodata_code: int,
    has_nodata: bool,
    nodata_bin: int,
    unknown_bin: int,
    out_class_index: NDArray[np.integer],
    unknown_count_by_slot: NDArray[np.int64],
) -> None:
    """Write each pixel's histogram bin into ``out_class_index``.

    Nodata (``codes == nodata_code`` when ``has_nodata``) and invalid (``valid`` False) pixels go
    to ``nodata_bin``. Codes with no table row go to ``unknown_bin`` and are counted in
    ``unknown_count_by_slot[code - code_offset]``; codes outside the lookup in its last slot.
    """
    rows, cols = codes.shape
    for row in range(rows):
        for col in range(cols):
            out_class_index[row, col] = _bin_of(
                codes[row, col],
                valid[row, col],
                class_index_by_code,
                code_offset,
                nodata_code,
                has_nodata,
                nodata_bin,
                unknown_bin,
                unknown_count_by_slot,
            )


@njit(cache=True, nogil=True)
def lookup_bins(
    raw_codes: NDArray[np.unsignedinteger],
    bin_of_raw: NDArray[np.uint8],
    valid: NDArray[np.bool_],
    has_mask: bool,
    masked_bin: int,
    out_bins: NDArray[np.uint8],
) -> None:
    """Bins of 8- or 16-bit codes by a table over every raw value (nodata already in it):
    ``out_bins = bin_of_raw[raw_codes]``, and ``masked_bin`` where ``has_mask`` and not ``valid``."""
    rows, cols = raw_codes.shape
    for row in range(rows):
        codes_row = raw_codes[row]
        out_row = out_bins[row]
        if has_mask:
            valid_row = valid[row]
            for col in range(cols):
                out_row[col] = bin_of_raw[codes_row[col]] if valid_row[col] else masked_bin
        else:
            for col in range(cols):
                out_row[col] = bin_of_raw[codes_row[col]]


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
def densities_from_bins(
    bin_index: NDArray[np.integer],
    density_by_bin: NDArray[np.float32],
    out_density: NDArray[np.float32],
) -> None:
    """``out_density[band, r, c] = density_by_bin[bin_index[r, c], band]`` for every band."""
    rows, cols = bin_index.shape
    n_bands = density_by_bin.shape[1]
    for row in range(rows):
        for col in range(cols):
            bin_ = bin_index[row, col]
            for band in range(n_bands):
                out_density[band, row, col] = density_by_bin[bin_, band]


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


@njit(cache=True, nogil=True)
def polygon_spans(
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
    ring_starts: NDArray[np.int64],
    height: int,
    width: int,
) -> tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]:
    """Runs of pixels whose centre lies inside a polygon: (row, first col, end col exclusive).

    ``xs``/``ys`` are vertex coordinates in pixel space (column, row), closed rings one after
    another, ring ``k`` spanning ``ring_starts[k]:ring_starts[k + 1]``. All rings of the region
    are filled together by the even-odd rule, with GDAL's pixel-centre conventions: a scanline
    at row + 0.5 crosses an edge when y_low <= y < y_high, a crossing at x starts or ends at
    column floor(x + 0.5), and a horizontal edge lying on a scanline and walked right to left
    burns the centres along it.
    """
    n_rings = ring_starts.shape[0] - 1
    n_edges = 0
    for ring in range(n_rings):
        n_edges += max(ring_starts[ring + 1] - ring_starts[ring] - 1, 0)
    low_x = np.empty(n_edges)
    low_y = np.empty(n_edges)
    high_x = np.empty(n_edges)
    high_y = np.empty(n_edges)
    first_x = np.empty(n_edges)  # the ring-order start of the edge, for horizontal edges
    k = 0
    for ring in range(n_rings):
        for i in range(ring_starts[ring], ring_starts[ring + 1] - 1):
            x1, y1, x2, y2 = xs[i], ys[i], xs[i + 1], ys[i + 1]
            first_x[k] = x1
            if y1 <= y2:
                low_x[k], low_y[k], high_x[k], high_y[k] = x1, y1, x2, y2
            else:
                low_x[k], low_y[k], high_x[k], high_y[k] = x2, y2, x1, y1
            k += 1
    order = np.argsort(low_y)
    capacity = 1024
    out_row = np.empty(capacity, np.int32)
    out_c0 = np.empty(capacity, np.int32)
    out_c1 = np.empty(capacity, np.int32)
    n_out = 0
    if n_edges == 0:
        return out_row[:0], out_c0[:0], out_c1[:0]
    first_row = max(0, int(np.floor(low_y[order[0]])))
    last_row = min(height - 1, int(np.floor(np.max(high_y))))
    active = np.empty(n_edges, np.int64)
    n_active = 0
    next_edge = 0
    crossings = np.empty(n_edges, np.int64)
    for row in range(first_row, last_row + 1):
        centre = row + 0.5
        while next_edge < n_edges and low_y[order[next_edge]] <= centre:
            active[n_active] = order[next_edge]
            n_active += 1
            next_edge += 1
        kept = 0
        n_cross = 0
        for a in range(n_active):
            e = active[a]
            if high_y[e] < centre:
                continue  # finished below this scanline
            active[kept] = e
            kept += 1
            if low_y[e] == high_y[e]:
                # horizontal edge on this scanline, walked right to left: burn its centres
                if (
                    low_y[e] == centre
                    and first_x[e] == max(low_x[e], high_x[e])
                    and low_x[e] != high_x[e]
                ):
                    c0 = int(np.floor(min(low_x[e], high_x[e]) + 0.5))
                    c1 = int(np.floor(max(low_x[e], high_x[e]) + 0.5))
                    n_out = _append_span(out_row, out_c0, out_c1, n_out, row, c0, c1, width)
                    if n_out >= out_row.shape[0]:
                        out_row, out_c0, out_c1 = _grow(out_row, out_c0, out_c1)
                continue
            if low_y[e] <= centre < high_y[e]:
                x = (centre - low_y[e]) * (high_x[e] - low_x[e]) / (high_y[e] - low_y[e]) + low_x[e]
                crossings[n_cross] = int(np.floor(x + 0.5))
                n_cross += 1
        n_active = kept
        sorted_cross = np.sort(crossings[:n_cross])
        for p in range(0, n_cross - 1, 2):
            n_out = _append_span(
                out_row, out_c0, out_c1, n_out, row, sorted_cross[p], sorted_cross[p + 1], width
            )
            if n_out >= out_row.shape[0]:
                out_row, out_c0, out_c1 = _grow(out_row, out_c0, out_c1)
    return out_row[:n_out], out_c0[:n_out], out_c1[:n_out]


@njit(cache=True, nogil=True)
def _append_span(out_row, out_c0, out_c1, n_out, row, c0, c1, width):  # type: ignore[no-untyped-def]
    c0 = max(c0, 0)
    c1 = min(c1, width)
    if c1 > c0:
        out_row[n_out] = row
        out_c0[n_out] = c0
        out_c1[n_out] = c1
        n_out += 1
    return n_out


@njit(cache=True, nogil=True)
def _grow(out_row, out_c0, out_c1):  # type: ignore[no-untyped-def]
    size = out_row.shape[0] * 2
    row, c0, c1 = np.empty(size, np.int32), np.empty(size, np.int32), np.empty(size, np.int32)
    row[: out_row.shape[0]] = out_row
    c0[: out_c0.shape[0]] = out_c0
    c1[: out_c1.shape[0]] = out_c1
    return row, c0, c1


#: Pixel coordinates closer than this to a pixel line are on it (as GDAL's all-touched snaps).
ON_LINE_PX = 1e-9


@njit(cache=True, nogil=True)
def segment_pixels(
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
    ring_starts: NDArray[np.int64],
    height: int,
    width: int,
) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """(row, col) of every pixel whose interior a ring segment passes through (may repeat).

    As in GDAL's all-touched rasterization, a segment along a pixel line, or crossing one at a
    pixel corner, does not touch the pixels on either side of the line or at the corner: such
    pixels are inside or outside whole, which the pixel-centre rule decides. Coordinates within
    ``ON_LINE_PX`` of a pixel line are taken to be on it. Segments are clipped to the grid (plus
    a pixel), so regions far beyond the raster cost nothing.
    """
    total = 0
    for ring in range(ring_starts.shape[0] - 1):
        for i in range(ring_starts[ring], ring_starts[ring + 1] - 1):
            total += _crossed_count(xs[i], ys[i], xs[i + 1], ys[i + 1], height, width)
    rows = np.empty(total, np.int32)
    cols = np.empty(total, np.int32)
    n = 0
    for ring in range(ring_starts.shape[0] - 1):
        for i in range(ring_starts[ring], ring_starts[ring + 1] - 1):
            n = _crossed_pixels(xs[i], ys[i], xs[i + 1], ys[i + 1], height, width, rows, cols, n)
    return rows[:n], cols[:n]


@njit(cache=True, nogil=True, inline="always")
def _snap(value: float) -> float:
    nearest = np.floor(value + 0.5)
    return nearest if abs(value - nearest) < ON_LINE_PX else value


@njit(cache=True, nogil=True)
def _clip(x0, y0, x1, y1, height, width):  # type: ignore[no-untyped-def]
    """Parameters (t_in, t_out) of the segment's part within the grid grown by one pixel."""
    t_in, t_out = 0.0, 1.0
    for start, delta, low, high in (
        (x0, x1 - x0, -1.0, width + 1.0),
        (y0, y1 - y0, -1.0, height + 1.0),
    ):
        if delta == 0.0:
            if start < low or start > high:
                return 1.0, 0.0
            continue
        t_a, t_b = (low - start) / delta, (high - start) / delta
        t_in = max(t_in, min(t_a, t_b))
        t_out = min(t_out, max(t_a, t_b))
    return t_in, t_out


@njit(cache=True, nogil=True)
def _crossed_count(x0, y0, x1, y1, height, width):  # type: ignore[no-untyped-def]
    """An upper bound on the pixels a segment's clipped part crosses."""
    x0, y0, x1, y1 = _snap(x0), _snap(y0), _snap(x1), _snap(y1)
    t_in, t_out = _clip(x0, y0, x1, y1, height, width)
    if t_out <= t_in:
        return 0
    xa, xb = x0 + t_in * (x1 - x0), x0 + t_out * (x1 - x0)
    ya, yb = y0 + t_in * (y1 - y0), y0 + t_out * (y1 - y0)
    return int(abs(np.floor(xb) - np.floor(xa)) + abs(np.floor(yb) - np.floor(ya))) + 3


@njit(cache=True, nogil=True)
def _crossed_pixels(x0, y0, x1, y1, height, width, rows, cols, n):  # type: ignore[no-untyped-def]
    """Append the pixels whose interior the segment crosses: the pixel holding the middle of
    each stretch between consecutive crossings of pixel lines."""
    x0, y0, x1, y1 = _snap(x0), _snap(y0), _snap(x1), _snap(y1)
    dx, dy = x1 - x0, y1 - y0
    if (dx == 0.0 and x0 == np.floor(x0)) or (dy == 0.0 and y0 == np.floor(y0)):
        return n  # along a pixel line
    t_in, t_out = _clip(x0, y0, x1, y1, height, width)
    if t_out <= t_in:
        return n
    length = max(abs(dx), abs(dy))
    # next crossing of a vertical (x = k) and of a horizontal (y = k) pixel line after t_in
    x_next = _next_line(x0 + t_in * dx, dx)
    y_next = _next_line(y0 + t_in * dy, dy)
    t = t_in
    while t < t_out:
        t_x = (x_next - x0) / dx if dx != 0.0 else np.inf
        t_y = (y_next - y0) / dy if dy != 0.0 else np.inf
        t_end = min(t_x, t_y, t_out)
        if (t_end - t) * length > ON_LINE_PX:
            middle = 0.5 * (t + t_end)
            col = int(np.floor(x0 + middle * dx))
            row = int(np.floor(y0 + middle * dy))
            if 0 <= row < height and 0 <= col < width:
                rows[n] = row
                cols[n] = col
                n += 1
        if t_x <= t_end:
            x_next += 1.0 if dx > 0 else -1.0
        if t_y <= t_end:
            y_next += 1.0 if dy > 0 else -1.0
        t = t_end
    return n


@njit(cache=True, nogil=True, inline="always")
def _next_line(value: float, delta: float) -> float:
    """The first integer strictly beyond ``value`` in the direction of ``delta``."""
    if delta > 0:
        return np.floor(value) + 1.0
    return np.ceil(value) - 1.0


@njit(cache=True, nogil=True)
def fill_spans(
    row_offsets: NDArray[np.int64],
    span_c0: NDArray[np.int32],
    span_c1: NDArray[np.int32],
    span_zone: NDArray[np.int32],
    row_off: int,
    col_off: int,
    out: NDArray[np.int32],
) -> None:
    """Write each span's zone into ``out``, the block at (row_off, col_off); spans sorted by row."""
    rows, cols = out.shape
    for r in range(rows):
        for s in range(row_offsets[row_off + r], row_offsets[row_off + r + 1]):
            c0 = max(span_c0[s] - col_off, 0)
            c1 = min(span_c1[s] - col_off, cols)
            for c in range(c0, c1):
                out[r, c] = span_zone[s]


@njit(cache=True, nogil=True)
def change_from_bins(
    bins_from: NDArray[np.integer],
    bins_to: NDArray[np.integer],
    density_by_bin: NDArray[np.float32],
    out_change: NDArray[np.float32],
) -> None:
    """``out_change[band] = density[to, band] - density[from, band]``, in float64 then cast.

    A NaN density (nodata, or unknown treated as nodata) on either date makes the change NaN.
    """
    rows, cols = bins_from.shape
    n_bands = density_by_bin.shape[1]
    for row in range(rows):
        for col in range(cols):
            start = bins_from[row, col]
            end = bins_to[row, col]
            for band in range(n_bands):
                out_change[band, row, col] = np.float64(density_by_bin[end, band]) - np.float64(
                    density_by_bin[start, band]
                )


@njit(cache=True, nogil=True)
def runs_overlap(
    rows_a: NDArray[np.int32],
    c0_a: NDArray[np.int32],
    c1_a: NDArray[np.int32],
    rows_b: NDArray[np.int32],
    c0_b: NDArray[np.int32],
    c1_b: NDArray[np.int32],
) -> bool:
    """Whether two lists of pixel runs, each sorted by (row, first column), share a pixel."""
    i = 0
    j = 0
    while i < rows_a.shape[0] and j < rows_b.shape[0]:
        if rows_a[i] < rows_b[j]:
            i += 1
        elif rows_b[j] < rows_a[i]:
            j += 1
        elif c1_a[i] <= c0_b[j]:
            i += 1
        elif c1_b[j] <= c0_a[i]:
            j += 1
        else:
            return True
    return False


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
    row_offsets: NDArray[np.int64],
    span_c0: NDArray[np.int32],
    span_c1: NDArray[np.int32],
    span_zone: NDArray[np.int32],
    row_off: int,
    col_off: int,
    outside_zone: int,
    area_ha: NDArray[np.float64],
    pixel_count: NDArray[np.int64],
    unknown_count_by_slot: NDArray[np.int64],
) -> None:
    """classify + accumulate_area in one pass, zones taken from pixel runs instead of a zone raster.

    Row ``r`` of the block is grid row ``row_off + r``; its runs ``row_offsets[R]:row_offsets[R+1]``
    (sorted, disjoint) give their zone to columns ``[c0, c1)``, every other pixel goes to
    ``outside_zone``. ``row_area_ha`` holds one pixel area per block row. Same results as
    :func:`classify` then :func:`accumulate_area`, without the bin and zone arrays.
    """
    rows, cols = codes.shape
    for row in range(rows):
        grid_row = row_off + row
        area = row_area_ha[row]
        col = 0
        s = row_offsets[grid_row]
        end = row_offsets[grid_row + 1]
        while col < cols:
            zone, stop, s = _next_segment(
                span_c0, span_c1, span_zone, s, end, col, col_off, cols, outside_zone
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
    row_offsets: NDArray[np.int64],
    span_c0: NDArray[np.int32],
    span_c1: NDArray[np.int32],
    span_zone: NDArray[np.int32],
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
        s = row_offsets[grid_row]
        end = row_offsets[grid_row + 1]
        while col < cols:
            zone, stop, s = _next_segment(
                span_c0, span_c1, span_zone, s, end, col, col_off, cols, outside_zone
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


@njit(cache=True, nogil=True)
def _edge_events(
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
    ring_starts: NDArray[np.int64],
    height: int,
    width: int,
    keys: NDArray[np.int64],
    values: NDArray[np.float64],
) -> int:
    """Cut every ring segment at pixel rows and columns; each piece adds to the accumulation.

    A piece in pixel (r, c) rising by ``dy`` at mean offset ``m`` from the pixel's left side
    adds ``dy * (1 - m)`` to (r, c) and ``dy * m`` to (r, c + 1), so that the running sum along a
    row is the signed area inside each pixel (the scanline accumulation of font rasterizers).
    Pieces left of the window add their whole ``dy`` to column 0; pieces right of it nothing.
    Returns the number of events; with empty ``keys`` it only counts them. Key: r * (width + 1) + c.
    """
    n = 0
    count_only = keys.shape[0] == 0
    for ring in range(ring_starts.shape[0] - 1):
        for i in range(ring_starts[ring], ring_starts[ring + 1] - 1):
            x0, y0, x1, y1 = xs[i], ys[i], xs[i + 1], ys[i + 1]
            if y0 == y1 or max(y0, y1) <= 0.0 or min(y0, y1) >= height:
                continue
            top, bottom = max(min(y0, y1), 0.0), min(max(y0, y1), float(height))
            for row in range(int(np.floor(top)), min(int(np.ceil(bottom)), height)):
                # the piece of the segment inside this row band, in the segment's direction
                ya, yb = max(top, float(row)), min(bottom, row + 1.0)
                if y1 < y0:
                    ya, yb = yb, ya
                xa = x0 + (x1 - x0) * (ya - y0) / (y1 - y0)
                xb = x0 + (x1 - x0) * (yb - y0) / (y1 - y0)
                lo, hi = min(xa, xb), max(xa, xb)
                k_first = max(int(np.floor(lo)) + 1, 0)
                k_last = min(int(np.ceil(hi)) - 1, width)
                # cut at the integer columns strictly inside (lo, hi), within [0, width]
                start_x, k = lo, k_first
                while True:
                    end_x = hi if k > k_last else float(k)
                    # y range of this x piece, from the line through (xa, ya) and (xb, yb)
                    if hi > lo:
                        ta, tb = (start_x - xa) / (xb - xa), (end_x - xa) / (xb - xa)
                        dy = (yb - ya) * abs(tb - ta)
                    else:
                        dy = yb - ya
                    mid = 0.5 * (start_x + end_x)
                    col = int(np.floor(mid))
                    if col < width and dy != 0.0:
                        row_key = row * (width + 1)
                        if col < 0:
                            if not count_only:
                                keys[n] = row_key
                                values[n] = dy
                            n += 1
                        else:
                            offset = mid - col
                            if not count_only:
                                keys[n] = row_key + col
                                values[n] = dy * (1.0 - offset)
                                keys[n + 1] = row_key + col + 1
                                values[n + 1] = dy * offset
                            n += 2
                    start_x = end_x
                    if k > k_last:
                        break
                    k += 1
    return n


@njit(cache=True, nogil=True)
def coverage_fractions(
    xs: NDArray[np.float64],
    ys: NDArray[np.float64],
    ring_starts: NDArray[np.int64],
    height: int,
    width: int,
    query_rows: NDArray[np.int64],
    query_cols: NDArray[np.int64],
) -> NDArray[np.float64]:
    """Exact fraction of each queried pixel inside the polygon(s), in a height x width window.

    ``xs``/``ys`` are the closed rings in the window's pixel coordinates (column, row), oriented
    consistently (exteriors one way, holes the other). Exact up to floating-point rounding.
    """
    empty_keys = np.empty(0, np.int64)
    empty_values = np.empty(0, np.float64)
    n = _edge_events(xs, ys, ring_starts, height, width, empty_keys, empty_values)
    keys = np.empty(n, np.int64)
    values = np.empty(n, np.float64)
    _edge_events(xs, ys, ring_starts, height, width, keys, values)
    order = np.argsort(keys, kind="mergesort")
    sorted_keys = keys[order]
    running = np.empty(n + 1, np.float64)
    running[0] = 0.0
    for i in range(n):
        running[i + 1] = running[i] + values[order[i]]
    # the sign of the rings' orientation: the shoelace area has the opposite sign of coverage
    twice_area = 0.0
    for ring in range(ring_starts.shape[0] - 1):
        for i in range(ring_starts[ring], ring_starts[ring + 1] - 1):
            twice_area += xs[i] * ys[i + 1] - xs[i + 1] * ys[i]
    sign = -1.0 if twice_area > 0 else 1.0
    out = np.zeros(query_rows.shape[0], np.float64)
    for q in range(query_rows.shape[0]):
        row_key = query_rows[q] * (width + 1)
        first = np.searchsorted(sorted_keys, row_key, side="left")
        last = np.searchsorted(sorted_keys, row_key + query_cols[q], side="right")
        value = sign * (running[last] - running[first])
        out[q] = min(max(value, 0.0), 1.0)
    return out


@njit(cache=True, nogil=True)
def halve_mean(stack: NDArray[np.float32]) -> NDArray[np.float32]:
    """Each band at half resolution: an output pixel is the mean of the non-NaN values among its
    2 x 2 input pixels (fewer at an odd last row or column), NaN when there are none."""
    bands, rows, cols = stack.shape
    out = np.empty((bands, (rows + 1) // 2, (cols + 1) // 2), np.float32)
    for band in range(bands):
        for r in range(out.shape[1]):
            for c in range(out.shape[2]):
                total = 0.0
                count = 0
                for rr in range(2 * r, min(2 * r + 2, rows)):
                    for cc in range(2 * c, min(2 * c + 2, cols)):
                        value = stack[band, rr, cc]
                        if not np.isnan(value):
                            total += value
                            count += 1
                out[band, r, c] = total / count if count else np.nan
    return out


@njit(cache=True, nogil=True)
def accumulate_runs_sets(
    bins: NDArray[np.integer],
    sets: NDArray[np.int64],
    n_bins: int,
    row_area_ha: NDArray[np.float64],
    row_offsets: NDArray[np.int64],
    span_c0: NDArray[np.int32],
    span_c1: NDArray[np.int32],
    span_zone: NDArray[np.int32],
    row_off: int,
    col_off: int,
    outside_zone: int,
    area_ha: NDArray[np.float64],
    pixel_count: NDArray[np.int64],
    row_counts: NDArray[np.int64],
) -> None:
    """Histograms of several dates' bins at once, zones from pixel runs (see :func:`accumulate_runs`).

    ``bins`` is (dates, rows, cols). Key set ``k`` is ``sets[k] = (d, -1)``: date ``d``'s bin, or
    ``(d0, d1)``: the pair key ``bin[d0] * n_bins + bin[d1]`` (a transition). Per pixel and set only
    an integer count, into lane ``col % LANES`` of ``row_counts`` (sets, zones, LANES, keys; zero on
    entry and exit); each row's counts are flushed into ``area_ha[set, zone, key]`` (count x the
    row's pixel area) and ``pixel_count`` for the zones the row touched.
    """
    n_sets = sets.shape[0]
    _, rows, cols = bins.shape
    n_keys = row_counts.shape[3]
    touched = np.zeros(row_counts.shape[1], np.bool_)
    for row in range(rows):
        grid_row = row_off + row
        col = 0
        s = row_offsets[grid_row]
        end = row_offsets[grid_row + 1]
        while col < cols:
            zone, stop, s = _next_segment(
                span_c0, span_c1, span_zone, s, end, col, col_off, cols, outside_zone
            )
            touched[zone] = True
            for k in range(n_sets):
                first = bins[sets[k, 0], row]
                lanes = row_counts[k, zone]
                if sets[k, 1] < 0:
                    for c in range(col, stop):
                        lanes[c & 3, first[c]] += 1
                else:
                    second = bins[sets[k, 1], row]
                    for c in range(col, stop):
                        lanes[c & 3, np.int64(first[c]) * n_bins + second[c]] += 1
            col = stop
        area = row_area_ha[row]
        for zone in range(touched.shape[0]):
            if touched[zone]:
                touched[zone] = False
                for k in range(n_sets):
                    for lane in range(LANES):
                        for key in range(n_keys):
                            n = row_counts[k, zone, lane, key]
                            if n:
                                pixel_count[k, zone, key] += n
                                area_ha[k, zone, key] += n * area
                                row_counts[k, zone, lane, key] = 0
