"""Classify class codes into histogram bins, and map bins to density and change values.

Kernels take NumPy arrays and scalars, fill caller-provided outputs, and know nothing of
files, CRS, pandas or logging. Accumulators are float64 (area) and int64 (counts).
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
