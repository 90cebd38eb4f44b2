"""Plain-NumPy references for every numba kernel (slow, obvious, and used only by tests)."""

from __future__ import annotations

import numpy as np


def classify_reference(codes, valid, table_codes, nodata):
    """Bins: index of the code in ``table_codes``; n for unknown codes; n + 1 for nodata/invalid."""
    n = len(table_codes)
    position = {int(code): index for index, code in enumerate(table_codes)}
    bins = np.array([position.get(int(code), n) for code in codes.ravel()], dtype=np.int64).reshape(
        codes.shape
    )
    invalid = np.zeros(codes.shape, bool) if valid is None else ~valid
    if nodata is not None:
        invalid |= codes == nodata
    bins[invalid] = n + 1
    return bins


def histogram_reference(bins, zones, pixel_area_ha, n_zones, n_bins):
    """``np.bincount`` on zone * n_bins + bin with area weights (and without, for counts)."""
    flat = (zones.astype(np.int64) * n_bins + bins).ravel()
    area = np.bincount(
        flat, weights=np.broadcast_to(pixel_area_ha, bins.shape).ravel(), minlength=n_zones * n_bins
    )
    count = np.bincount(flat, minlength=n_zones * n_bins)
    return area.reshape(n_zones, n_bins), count.reshape(n_zones, n_bins)


def densities_reference(bins, density_by_bin):
    """(bands, rows, cols) densities by fancy indexing."""
    return np.moveaxis(density_by_bin[bins], -1, 0)


def unknown_counts_reference(codes, valid, table_codes, nodata):
    """Pixel count per unknown code (a dict), skipping nodata and invalid pixels."""
    keep = np.ones(codes.shape, bool) if valid is None else valid.copy()
    if nodata is not None:
        keep &= codes != nodata
    values, counts = np.unique(codes[keep], return_counts=True)
    known = set(int(code) for code in table_codes)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True) if int(v) not in known}
