"""Overviews averaged 2 x 2 as blocks stream (NaN ignored).

Kernels take NumPy arrays and scalars, fill caller-provided outputs, and know nothing of
files, CRS, pandas or logging. Accumulators are float64 (area) and int64 (counts).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray


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
