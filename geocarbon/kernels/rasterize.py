"""Regions to pixels: scanline spans of pixel centres (GDAL's rule), the pixels a boundary
crosses (all-touched), span filling and overlap tests.

Kernels take NumPy arrays and scalars, fill caller-provided outputs, and know nothing of
files, CRS, pandas or logging. Accumulators are float64 (area) and int64 (counts).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray


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
