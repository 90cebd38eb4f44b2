"""Exact coverage: the fraction of each boundary pixel inside a region, by scanline
accumulation of its edges.

Kernels take NumPy arrays and scalars, fill caller-provided outputs, and know nothing of
files, CRS, pandas or logging. Accumulators are float64 (area) and int64 (counts).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray


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
