"""The numba kernels: classify codes, accumulate area histograms, map classes to densities.

Kernels take NumPy arrays and scalars, fill caller-provided outputs, and know nothing of files,
CRS, pandas or logging. They count problems (unknown codes) rather than raise; drivers explain.
Accumulators are float64 (area) and int64 (counts) whatever the input dtype.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray


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
    out_class_index: NDArray[np.int32],
    unknown_count_by_slot: NDArray[np.int64],
) -> None:
    """Write each pixel's histogram bin into ``out_class_index``.

    Nodata (``codes == nodata_code`` when ``has_nodata``) and invalid (``valid`` False) pixels go
    to ``nodata_bin``. Codes with no table row go to ``unknown_bin`` and are counted in
    ``unknown_count_by_slot[code - code_offset]``; codes outside the lookup in its last slot.
    """
    n_slots = class_index_by_code.shape[0]
    rows, cols = codes.shape
    for row in range(rows):
        for col in range(cols):
            code = codes[row, col]
            if (has_nodata and code == nodata_code) or not valid[row, col]:
                out_class_index[row, col] = nodata_bin
                continue
            slot = np.int64(code) - code_offset
            if 0 <= slot < n_slots:
                bin_index = class_index_by_code[slot]
                if bin_index == unknown_bin:
                    unknown_count_by_slot[slot] += 1
            else:
                bin_index = unknown_bin
                unknown_count_by_slot[n_slots] += 1
            out_class_index[row, col] = bin_index


@njit(cache=True, nogil=True)
def accumulate_area(
    bin_index: NDArray[np.int32],
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
    bin_index: NDArray[np.int32],
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
    bin_index: NDArray[np.int32],
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
