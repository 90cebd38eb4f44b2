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


def growth_reference(rows, start_age, years):
    """Growth per pool (Mg C/ha) from ``start_age`` over ``years``: each growth row
    ``(pool, age_min, age_max, rate)`` times the years the age spends in its interval."""
    out = np.zeros(4)
    for pool, low, high, rate in rows:
        overlap = min(high, start_age + years) - max(low, start_age)
        out[pool] += rate * max(0.0, overlap)
    return out


def sink_reference(bins, zone, area, ages, model):
    """The sink walk pixel by pixel, written as each pixel's stock history.

    ``model``: dict with years, density (groups, dates, valid, pools), density_group, growth
    (per growth group: {bin: [(pool, age_min, age_max, rate)]}), growth_group, soil_years,
    initial_age, category, n_valid. Returns per zone row: components (periods, 4 kinds:
    conversion, growth_remaining, growth_converted, soil_legacy; pools), gain/loss and start
    stock (slots = periods + first-to-last), date stock, and category cells (slots, 6, 7, 2).
    """
    years = np.asarray(model["years"], float)
    n_dates = len(years)
    n_periods = n_dates - 1
    n_rows = int(zone.max()) + 1
    comps = np.zeros((n_rows, n_periods, 4, 4))
    gainloss = np.zeros((n_rows, n_periods + 1, 2))
    start_stock = np.zeros((n_rows, n_periods + 1, 4))
    date_stock = np.zeros((n_rows, n_dates, 4))
    cells = np.zeros((n_rows, n_periods + 1, 6, 7, 2))
    soil_years = model["soil_years"]
    category = model["category"]
    for r in range(bins.shape[1]):
        for c in range(bins.shape[2]):
            z = zone[r, c]
            w = area[r, c]
            dens = model["density"][model["density_group"][z]]
            rows_of = model["growth"][model["growth_group"][z]]
            history = bins[:, r, c]
            valid = history < model["n_valid"]
            stock = np.zeros((n_dates, 4))
            # Walk the history: per date, class, age, years since conversion, soil at it.
            age = model["initial_age"] if np.isnan(ages[r, c]) else float(ages[r, c])
            accrued = np.zeros(4)
            since, soil_at_conversion, origin = np.inf, 0.0, -1
            soil = 0.0
            totals = np.zeros(4)
            for d in range(n_dates):
                b = history[d]
                if not valid[d]:
                    continue
                if d == 0 or not valid[d - 1]:
                    if d > 0:
                        age, since, origin = model["initial_age"], np.inf, -1
                        accrued = np.zeros(4)
                    stock[d] = dens[d, b]
                    soil = dens[d, b, 3]
                    date_stock[z, d] += w * stock[d]
                    continue
                k = d - 1
                length = years[d] - years[k]
                a = history[k]
                before = stock[k].copy()
                if b != a:
                    grow = growth_reference(rows_of.get(b, []), 0.0, length)
                    new_soil = (
                        soil + (dens[d, b, 3] - soil) * min(1.0, length / soil_years)
                        if soil_years > 0
                        else dens[d, b, 3]
                    )
                    stock[d, :3] = dens[d, b, :3] + grow[:3]
                    stock[d, 3] = new_soil + grow[3]
                    conversion = np.append(dens[d, b, :3] - before[:3], -accrued[3])
                    legacy = new_soil - soil if soil_years > 0 else 0.0
                    if soil_years == 0:
                        conversion[3] = new_soil - soil - accrued[3]
                    comps[z, k, 0] += w * conversion
                    comps[z, k, 2] += w * grow
                    comps[z, k, 3, 3] += w * legacy
                    to = category[b]
                    cell = category[a] if category[a] != to else 6
                    soil_at_conversion, origin, age, since = soil, a, length, length
                    accrued = grow
                else:
                    grow = growth_reference(rows_of.get(a, []), age, length)
                    if since < soil_years:
                        new_soil = soil_at_conversion + (dens[d, a, 3] - soil_at_conversion) * min(
                            1.0, (since + length) / soil_years
                        )
                        comps[z, k, 3, 3] += w * (new_soil - soil)
                        remaining_soil = 0.0
                    else:
                        new_soil = dens[d, a, 3]
                        remaining_soil = new_soil - soil
                    stock[d, :3] = dens[d, a, :3] + accrued[:3] + grow[:3]
                    stock[d, 3] = new_soil + accrued[3] + grow[3]
                    comps[z, k, 1] += w * (
                        np.append(dens[d, a, :3] - dens[k, a, :3], remaining_soil) + grow
                    )
                    to = category[a]
                    converted = origin >= 0 and since < soil_years and category[origin] != to
                    cell = category[origin] if converted else 6
                    age, since = age + length, since + length
                    accrued = accrued + grow
                soil = new_soil
                net = stock[d] - before
                totals += net
                gainloss[z, k, 0 if net.sum() > 0 else 1] += w * abs(net.sum())
                start_stock[z, k] += w * before
                date_stock[z, d] += w * stock[d]
                cells[z, k, to, cell] += (w, w * net.sum())
            if valid[0] and valid[-1]:
                grand = totals.sum()
                gainloss[z, n_periods, 0 if grand > 0 else 1] += w * abs(grand)
                start_stock[z, n_periods] += w * stock[0]
                to, start = category[history[-1]], category[history[0]]
                cells[z, n_periods, to, start if start != to else 6] += (w, w * grand)
    return {
        "components": comps,
        "gain_loss": gainloss,
        "start_stock": start_stock,
        "date_stock": date_stock,
        "categories": cells,
    }
