"""Walk each pixel through every date of a block: growth, forest age and the soil carbon legacy.

The sink kernels carry a pixel's state across dates (its age, the growth it accumulated since
it entered its class, the soil carbon of a conversion still in progress) and add, per zone row
and period, what the change tables decompose: conversions, stock differences on land that
stays, growth exposure (ha x years per growth segment) and the soil legacy. The conventions
(documented in ``docs``/README under "Sink accounting") are:

- a conversion observed between two dates happens at the start of the period: the new class
  holds the land for the whole period and starts at age 0 then;
- land accrues the rate of its class and age for every year in its class (an age-class boundary
  crossed within a period splits the years); the growth it accrued is lost when it converts;
- after a conversion the soil pool moves linearly from its value at the conversion to the new
  class's soil density over ``soil_years``; a further conversion restarts from the current value;
- a date where the pixel is invalid (nodata, or unknown as nodata) breaks its history: the
  periods touching it are excluded and the pixel restarts at the next valid date.

``model`` and ``acc`` are tuples of arrays (see :mod:`geocarbon.engine.state`); kernels fill
caller-provided accumulators and know nothing of files, regions or tables.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

#: Carbon components accumulated per pixel (growth comes from the exposure): conversions,
#: stock differences on land that stays in its class, and the soil legacy of conversions.
CONVERSION, REMAINING, SOIL_LEGACY = 0, 1, 2
#: The origin index of a category cell that holds land remaining in its category.
REMAINING_ORIGIN = 6
N_POOLS = 4
SOIL = 3


@njit(cache=True, nogil=True, inline="always")
def _density(model, pixels, gd, d, b, p, r, c):  # type: ignore[no-untyped-def]
    """A pool's density (Mg C/ha) at date ``d`` for class ``b``: a density raster where it has a
    value (times the class factor), else the table's (region group ``gd``)."""
    dens, pix_pool, pix_date, factor = model[1], pixels[1], pixels[2], pixels[3]
    q = pix_pool[p]
    if q >= 0:
        value = pixels[0][q, pix_date[d], r, c]
        if value == value:
            return np.float64(value) * factor[b, p], True
    return dens[gd, d, b, p], False


@njit(cache=True, nogil=True, inline="always")
def _grow(model, gg, b, start_age, years, exposure, z, k, kind, weight, out):  # type: ignore[no-untyped-def]
    """Add the growth per ha of class ``b`` from ``start_age`` over ``years`` to ``out`` (per
    pool), and ``weight`` x the years spent in each growth segment to ``exposure``."""
    seg_start, seg_stop, seg_lo, seg_hi, seg_rate = model[2], model[3], model[4], model[5], model[6]
    end_age = start_age + years
    for s in range(seg_start[gg, b], seg_stop[gg, b]):
        lo = max(seg_lo[s], start_age)
        hi = min(seg_hi[s], end_age)
        if hi > lo:
            exposure[z, k, s, kind] += weight * (hi - lo)
            for p in range(N_POOLS):
                out[p] += (hi - lo) * seg_rate[s, p]


@njit(cache=True, nogil=True)
def _walk(bins, r, c, z, weight, start_age, model, pixels, acc, stack, bands, scratch):  # type: ignore[no-untyped-def]
    """One pixel (or a fraction ``weight`` of its area in zone row ``z``) through every date."""
    years, n_valid, soil_years, initial_age = model[0], model[7], model[8], model[9]
    dens_group, growth_group, category = model[10], model[11], model[12]
    exposure, carbon, date_stock, raster_area = acc[1], acc[2], acc[5], acc[7]
    pair_band, first_last_band, date_band = bands[0], bands[1], bands[2]
    n_dates = bins.shape[0]
    n_periods = n_dates - 1
    gd = dens_group[z]
    gg = growth_group[z]
    accrued = scratch[0:4]
    grow = scratch[4:8]
    net = scratch[8:12]
    total_net = scratch[12:16]
    stock0 = scratch[16:20]
    first_stock = scratch[20:24]
    mapped = stack.shape[0] > 0
    prev = bins[0, r, c]
    valid_prev = prev < n_valid
    first_bin = prev
    age = start_age
    since = np.inf
    origin = -1
    soil_start = 0.0
    soil_now = 0.0
    for p in range(N_POOLS):
        accrued[p] = 0.0
        total_net[p] = 0.0
    if valid_prev:
        for p in range(N_POOLS):
            value, from_map = _density(model, pixels, gd, 0, prev, p, r, c)
            first_stock[p] = value
            date_stock[z, 0, p] += weight * value
            if from_map:
                raster_area[z, 0, p] += weight
            if mapped and date_band[0] >= 0:
                stack[date_band[0] + p, r, c] = value
        soil_now = first_stock[SOIL]
        if mapped and date_band[0] >= 0:
            stack[date_band[0] + N_POOLS, r, c] = (
                first_stock[0] + first_stock[1] + first_stock[2] + first_stock[3]
            )
    elif mapped and date_band[0] >= 0:
        for p in range(N_POOLS + 1):
            stack[date_band[0] + p, r, c] = np.nan
    for d in range(1, n_dates):
        k = d - 1
        b = bins[d, r, c]
        valid = b < n_valid
        if not (valid and valid_prev):
            if mapped and pair_band[k] >= 0:
                for p in range(N_POOLS + 1):
                    stack[pair_band[k] + p, r, c] = np.nan
            if valid:  # the pixel restarts here
                age = initial_age
                since = np.inf
                origin = -1
                for p in range(N_POOLS):
                    accrued[p] = 0.0
                    value, from_map = _density(model, pixels, gd, d, b, p, r, c)
                    date_stock[z, d, p] += weight * value
                    if from_map:
                        raster_area[z, d, p] += weight
                    if p == SOIL:
                        soil_now = value
                    if mapped and date_band[d] >= 0:
                        stack[date_band[d] + p, r, c] = value
            _write_nan_date(stack, date_band[d], r, c, mapped and not valid)
            if mapped and valid and date_band[d] >= 0:
                stack[date_band[d] + N_POOLS, r, c] = (
                    stack[date_band[d], r, c]
                    + stack[date_band[d] + 1, r, c]
                    + stack[date_band[d] + 2, r, c]
                    + stack[date_band[d] + 3, r, c]
                )
            prev = b
            valid_prev = valid
            continue
        length = years[d] - years[k]
        a = prev
        for p in range(N_POOLS):
            grow[p] = 0.0
        # The stock at the period's start: density (with any soil legacy) plus accrued growth.
        for p in range(SOIL):
            value, _ = _density(model, pixels, gd, k, a, p, r, c)
            stock0[p] = value + accrued[p]
        stock0[SOIL] = soil_now + accrued[SOIL]
        if b != a:
            _grow(model, gg, b, 0.0, length, exposure, z, k, 1, weight, grow)
            for p in range(SOIL):
                value, _ = _density(model, pixels, gd, d, b, p, r, c)
                carbon[z, k, CONVERSION, p] += weight * (value - stock0[p])
                net[p] = value + grow[p] - stock0[p]
            target, _ = _density(model, pixels, gd, d, b, SOIL, r, c)
            if soil_years > 0:
                soil_start = soil_now
                soil_end = soil_start + (target - soil_start) * min(1.0, length / soil_years)
                carbon[z, k, SOIL_LEGACY, SOIL] += weight * (soil_end - soil_now)
                carbon[z, k, CONVERSION, SOIL] -= weight * accrued[SOIL]
            else:
                soil_end = target
                carbon[z, k, CONVERSION, SOIL] += weight * (soil_end - soil_now - accrued[SOIL])
            net[SOIL] = soil_end - soil_now - accrued[SOIL] + grow[SOIL]
            cell_to = category[b]
            cell_origin = category[a] if category[a] != cell_to else REMAINING_ORIGIN
            origin = a
            age = length
            since = length
            for p in range(N_POOLS):
                accrued[p] = grow[p]
        else:
            _grow(model, gg, a, age, length, exposure, z, k, 0, weight, grow)
            for p in range(SOIL):
                before, _ = _density(model, pixels, gd, k, a, p, r, c)
                after, _ = _density(model, pixels, gd, d, a, p, r, c)
                carbon[z, k, REMAINING, p] += weight * (after - before)
                net[p] = after - before + grow[p]
            target, _ = _density(model, pixels, gd, d, a, SOIL, r, c)
            if since < soil_years:
                soil_end = soil_start + (target - soil_start) * min(
                    1.0, (since + length) / soil_years
                )
                carbon[z, k, SOIL_LEGACY, SOIL] += weight * (soil_end - soil_now)
            else:
                soil_end = target
                carbon[z, k, REMAINING, SOIL] += weight * (soil_end - soil_now)
            net[SOIL] = soil_end - soil_now + grow[SOIL]
            cell_to = category[a]
            converted = origin >= 0 and (since < soil_years) and category[origin] != cell_to
            cell_origin = category[origin] if converted else REMAINING_ORIGIN
            age += length
            since += length
            for p in range(N_POOLS):
                accrued[p] += grow[p]
        soil_now = soil_end
        period_total = net[0] + net[1] + net[2] + net[3]
        _add_period(acc, z, k, weight, period_total, stock0, cell_to, cell_origin)
        for p in range(N_POOLS):
            total_net[p] += net[p]
            end_value = (stock0[p] + net[p]) if p != SOIL else (soil_now + accrued[SOIL])
            date_stock[z, d, p] += weight * end_value
            if pixels[1][p] >= 0:
                _, from_map = _density(model, pixels, gd, d, b, p, r, c)
                if from_map:
                    raster_area[z, d, p] += weight
            if mapped and pair_band[k] >= 0:
                stack[pair_band[k] + p, r, c] = net[p]
            if mapped and date_band[d] >= 0:
                stack[date_band[d] + p, r, c] = end_value
        if mapped and pair_band[k] >= 0:
            stack[pair_band[k] + N_POOLS, r, c] = period_total
        if mapped and date_band[d] >= 0:
            stack[date_band[d] + N_POOLS, r, c] = (
                stack[date_band[d], r, c]
                + stack[date_band[d] + 1, r, c]
                + stack[date_band[d] + 2, r, c]
                + stack[date_band[d] + 3, r, c]
            )
        prev = b
        valid_prev = True
    # First to last: the pixel's summed change, when it is valid on both end dates.
    last = bins[n_dates - 1, r, c]
    whole = valid_prev and bins[0, r, c] < n_valid
    if whole:
        grand = total_net[0] + total_net[1] + total_net[2] + total_net[3]
        to = category[last]
        start = category[first_bin]
        cell_origin = start if start != to else REMAINING_ORIGIN
        _add_period(acc, z, n_periods, weight, grand, first_stock, to, cell_origin)
    if mapped and first_last_band >= 0:
        for p in range(N_POOLS):
            stack[first_last_band + p, r, c] = total_net[p] if whole else np.nan
        stack[first_last_band + N_POOLS, r, c] = (
            total_net[0] + total_net[1] + total_net[2] + total_net[3] if whole else np.nan
        )


@njit(cache=True, nogil=True, inline="always")
def _write_nan_date(stack, band, r, c, write):  # type: ignore[no-untyped-def]
    if write and band >= 0:
        for p in range(N_POOLS + 1):
            stack[band + p, r, c] = np.nan


@njit(cache=True, nogil=True, inline="always")
def _add_period(acc, z, k, weight, total, stock0, cell_to, cell_origin):  # type: ignore[no-untyped-def]
    gainloss, start_stock, cats = acc[3], acc[4], acc[6]
    if total > 0:
        gainloss[z, k, 0] += weight * total
    else:
        gainloss[z, k, 1] -= weight * total
    for p in range(N_POOLS):
        start_stock[z, k, p] += weight * stock0[p]
    cats[z, k, cell_to, cell_origin, 0] += weight
    cats[z, k, cell_to, cell_origin, 1] += weight * total


@njit(cache=True, nogil=True)
def walk_block(
    bins: NDArray[np.integer],
    zone: NDArray[np.int32],
    skip_row: int,
    pixel_area_ha: NDArray[np.float64],
    ages: NDArray[np.float32],
    model,  # type: ignore[no-untyped-def]
    pixels,
    acc,
    stack: NDArray[np.float32],
    bands,
) -> None:
    """Every pixel of a block in zone row ``zone[r, c]`` (rows equal to ``skip_row`` are not
    counted). A pixel whose class is the same valid class on every date, with no age of its own,
    no density raster and no band to map, only adds its area to ``acc[0][zone, bin]``: its
    change is the same for every such pixel and is expanded from that area by the caller."""
    n_dates, rows, cols = bins.shape
    n_valid = model[7]
    initial_age = model[9]
    has_ages = ages.shape[0] > 1 or ages.shape[1] > 1
    full = stack.shape[0] > 0 or has_ages or pixels[1].max() >= 0
    const_area = acc[0]
    same = np.empty(cols, np.bool_)
    scratch = np.zeros(24)
    for r in range(rows):
        for c in range(cols):
            same[c] = not full
        if not full:
            for d in range(1, n_dates):
                for c in range(cols):
                    same[c] &= bins[d, r, c] == bins[0, r, c]
        for c in range(cols):
            z = zone[r, c]
            if z == skip_row:
                continue
            if same[c]:
                b = bins[0, r, c]
                if b < n_valid:
                    const_area[z, b] += pixel_area_ha[r, c]
                continue
            age = initial_age
            if has_ages:
                own = ages[r, c]
                if own == own:
                    age = np.float64(own)
            _walk(
                bins, r, c, z, pixel_area_ha[r, c], age, model, pixels, acc, stack, bands, scratch
            )


@njit(cache=True, nogil=True)
def walk_fractions(
    bins: NDArray[np.integer],
    rows: NDArray[np.int64],
    cols: NDArray[np.int64],
    zones: NDArray[np.int32],
    fractions: NDArray[np.float64],
    pixel_area_ha: NDArray[np.float64],
    ages: NDArray[np.float32],
    model,  # type: ignore[no-untyped-def]
    pixels,
    acc,
) -> None:
    """Boundary pixels of exact coverage: ``fractions[k]`` of pixel (rows[k], cols[k]) in zone
    ``zones[k]`` (tables only; the pixel's raster values come from its whole-pixel walk)."""
    initial_age = model[9]
    has_ages = ages.shape[0] > 1 or ages.shape[1] > 1
    scratch = np.zeros(24)
    no_stack = np.empty((0, 1, 1), np.float32)
    no_bands = (np.full(bins.shape[0] - 1, -1, np.int64), -1, np.full(bins.shape[0], -1, np.int64))
    for k in range(rows.shape[0]):
        r = rows[k]
        c = cols[k]
        age = initial_age
        if has_ages:
            own = ages[r, c]
            if own == own:
                age = np.float64(own)
        weight = fractions[k] * pixel_area_ha[r, c]
        _walk(bins, r, c, zones[k], weight, age, model, pixels, acc, no_stack, no_bands, scratch)
