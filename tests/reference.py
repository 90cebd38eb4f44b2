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


def centre_inside_reference(rings, height, width):
    """Pixel centres inside a set of rings (even-odd ray casting in NumPy), pixel coordinates."""
    rows, cols = np.mgrid[0:height, 0:width]
    px, py = cols.ravel() + 0.5, rows.ravel() + 0.5
    inside = np.zeros(px.shape, bool)
    for ring in rings:
        x0, y0 = ring[:-1, 0], ring[:-1, 1]
        x1, y1 = ring[1:, 0], ring[1:, 1]
        for ax, ay, bx, by in zip(x0, y0, x1, y1, strict=True):
            if ay == by:
                continue
            crosses = (py >= min(ay, by)) & (py < max(ay, by))
            x_at = ax + (py - ay) * (bx - ax) / (by - ay)
            inside ^= crosses & (px < x_at)
    return inside.reshape(height, width)


def accumulate_fractions_reference(
    bins, rows, cols, zones, fractions, pixel_area_ha, n_zones, n_bins
):
    """np.add.at version of the sparse accumulator."""
    area = np.zeros((n_zones, n_bins))
    coverage = np.zeros((n_zones, n_bins))
    count = np.zeros((n_zones, n_bins), np.int64)
    b = bins[rows, cols]
    np.add.at(area, (zones, b), fractions * pixel_area_ha[rows, cols])
    np.add.at(coverage, (zones, b), fractions)
    np.add.at(count, (zones, b), 1)
    return area, coverage, count


def coverage_reference(geometry, height, width):
    """Area of ``geometry`` inside each pixel (GEOS overlay, pixel coordinates), as (height, width)."""
    import shapely

    rows, cols = np.mgrid[0:height, 0:width]
    cells = shapely.box(cols.ravel(), rows.ravel(), cols.ravel() + 1, rows.ravel() + 1)
    return shapely.area(shapely.intersection(geometry, cells)).reshape(height, width)


def halve_mean_reference(stack):
    """2 x 2 NaN-ignoring means per band (odd sides padded with NaN), NumPy only."""
    bands, rows, cols = stack.shape
    padded = np.full((bands, rows + rows % 2, cols + cols % 2), np.nan, np.float64)
    padded[:, :rows, :cols] = stack
    quads = padded.reshape(bands, padded.shape[1] // 2, 2, padded.shape[2] // 2, 2)
    counts = np.sum(~np.isnan(quads), axis=(2, 4))
    sums = np.nansum(quads, axis=(2, 4))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan).astype(np.float32)
