"""One pixel's walk through every date (the sink walk's core; drivers in :mod:`.sink`).

:func:`walk_pixel` carries a pixel's state (age, growth accrued since it entered its class, soil
carbon of a conversion in progress) across the dates and adds, per zone row and period, the
conversions, stock differences of land that stays, growth exposure, soil legacy, gross gain and
loss, stocks and IPCC category cells. The conventions are documented in :mod:`.sink`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.extending import overload

#: Carbon components accumulated per pixel (growth comes from the exposure): conversions,
#: stock differences on land that stays in its class, and the soil legacy of conversions.
CONVERSION, REMAINING, SOIL_LEGACY = 0, 1, 2
#: The origin index of a category cell that holds land remaining in its category.
REMAINING_ORIGIN = 6
N_POOLS = 4
SOIL = 3


def _density(
    dn_dens, dn_values, dn_pool, dn_date, dn_factor, dn_group, dn_d, dn_b, dn_p, dn_r, dn_c
):  # type: ignore[no-untyped-def]
    """A pool's density (Mg C/ha) at date ``dn_d`` for class ``dn_b``: a density raster's
    where it has a value (times the class factor), else the table's (region group). Without
    maps, ``dn_values`` is None and the table-only walk is compiled on its own, with no untaken
    map branch (which makes numba's code several times slower)."""
    raise NotImplementedError  # compiled through the overload below


@overload(_density, inline="always")
def _density_overload(
    dn_dens, dn_values, dn_pool, dn_date, dn_factor, dn_group, dn_d, dn_b, dn_p, dn_r, dn_c
):  # type: ignore[no-untyped-def]
    if not isinstance(dn_values, types.NoneType):

        def map_density(
            dn_dens,
            dn_values,
            dn_pool,
            dn_date,
            dn_factor,
            dn_group,
            dn_d,
            dn_b,
            dn_p,
            dn_r,
            dn_c,
        ):  # type: ignore[no-untyped-def]
            dn_q = dn_pool[dn_p]
            if dn_q >= 0:
                dn_value = dn_values[dn_q, dn_date[dn_d], dn_r, dn_c]
                if dn_value == dn_value:
                    return np.float64(dn_value) * dn_factor[dn_b, dn_p], True
            return dn_dens[dn_group, dn_d, dn_b, dn_p], False

        return map_density

    def table_density(
        dn_dens,
        dn_values,
        dn_pool,
        dn_date,
        dn_factor,
        dn_group,
        dn_d,
        dn_b,
        dn_p,
        dn_r,
        dn_c,
    ):  # type: ignore[no-untyped-def]
        return dn_dens[dn_group, dn_d, dn_b, dn_p], False

    return table_density


@njit(cache=True, nogil=True, inline="always")
def _grow(
    seg_start,
    seg_stop,
    seg_lo,
    seg_hi,
    seg_rate,
    g_group,
    g_bin,
    g_age,
    g_years,
    g_exposure,
    g_zone,
    g_period,
    g_kind,
    g_weight,
    g_out,
):  # type: ignore[no-untyped-def]
    """Add the growth per ha of class ``g_bin`` from ``g_age`` over ``g_years`` to ``g_out``
    (per pool), and ``g_weight`` x the years spent in each growth segment to ``g_exposure``.
    (Inlined into the walk: its names are its own, apart from the caller's.)"""
    g_end = g_age + g_years
    for g_s in range(seg_start[g_group, g_bin], seg_stop[g_group, g_bin]):
        g_lo = max(seg_lo[g_s], g_age)
        g_hi = min(seg_hi[g_s], g_end)
        if g_hi > g_lo:
            g_exposure[g_zone, g_period, g_s, g_kind] += g_weight * (g_hi - g_lo)
            for g_p in range(N_POOLS):
                g_out[g_p] += (g_hi - g_lo) * seg_rate[g_s, g_p]


@njit(cache=True, nogil=True)
def walk_pixel(bins, r, c, z, weight, start_age, model, pixels, acc, stack, bands, scratch):  # type: ignore[no-untyped-def]
    """One pixel (or a fraction ``weight`` of its area in zone row ``z``) through every date."""
    # Tuples are unpacked once per pixel: each access to a tuple's array costs a reference count.
    years, dens, n_valid, soil_years, initial_age = model[0], model[1], model[7], model[8], model[9]
    seg_start, seg_stop, seg_lo, seg_hi, seg_rate = model[2], model[3], model[4], model[5], model[6]
    dens_group, growth_group, category = model[10], model[11], model[12]
    values, pix_pool, pix_date, factor = pixels[0], pixels[1], pixels[2], pixels[3]
    exposure, carbon, gainloss, start_stock, date_stock, cats, raster_area = acc  # fmt: skip
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
            value, from_map = _density(
                dens, values, pix_pool, pix_date, factor, gd, 0, prev, p, r, c
            )
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
                    value, from_map = _density(
                        dens, values, pix_pool, pix_date, factor, gd, d, b, p, r, c
                    )
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
            value, _ = _density(dens, values, pix_pool, pix_date, factor, gd, k, a, p, r, c)
            stock0[p] = value + accrued[p]
        stock0[SOIL] = soil_now + accrued[SOIL]
        if b != a:
            _grow(
                seg_start,
                seg_stop,
                seg_lo,
                seg_hi,
                seg_rate,
                gg,
                b,
                0.0,
                length,
                exposure,
                z,
                k,
                1,
                weight,
                grow,
            )
            for p in range(SOIL):
                value, _ = _density(dens, values, pix_pool, pix_date, factor, gd, d, b, p, r, c)
                carbon[z, k, CONVERSION, p] += weight * (value - stock0[p])
                net[p] = value + grow[p] - stock0[p]
            target, _ = _density(dens, values, pix_pool, pix_date, factor, gd, d, b, SOIL, r, c)
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
            _grow(
                seg_start,
                seg_stop,
                seg_lo,
                seg_hi,
                seg_rate,
                gg,
                a,
                age,
                length,
                exposure,
                z,
                k,
                0,
                weight,
                grow,
            )
            for p in range(SOIL):
                before, _ = _density(dens, values, pix_pool, pix_date, factor, gd, k, a, p, r, c)
                after, _ = _density(dens, values, pix_pool, pix_date, factor, gd, d, a, p, r, c)
                carbon[z, k, REMAINING, p] += weight * (after - before)
                net[p] = after - before + grow[p]
            target, _ = _density(dens, values, pix_pool, pix_date, factor, gd, d, a, SOIL, r, c)
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
        _add_period(
            gainloss, start_stock, cats, z, k, weight, period_total, stock0, cell_to, cell_origin
        )
        for p in range(N_POOLS):
            total_net[p] += net[p]
            end_value = (stock0[p] + net[p]) if p != SOIL else (soil_now + accrued[SOIL])
            date_stock[z, d, p] += weight * end_value
            if pix_pool[p] >= 0:
                _, from_map = _density(dens, values, pix_pool, pix_date, factor, gd, d, b, p, r, c)
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
        _add_period(
            gainloss, start_stock, cats, z, n_periods, weight, grand, first_stock, to, cell_origin
        )
    if mapped and first_last_band >= 0:
        for p in range(N_POOLS):
            stack[first_last_band + p, r, c] = total_net[p] if whole else np.nan
        stack[first_last_band + N_POOLS, r, c] = (
            total_net[0] + total_net[1] + total_net[2] + total_net[3] if whole else np.nan
        )


@njit(cache=True, nogil=True)
def _write_nan_date(stack, band, r, c, write):  # type: ignore[no-untyped-def]
    if write and band >= 0:
        for p in range(N_POOLS + 1):
            stack[band + p, r, c] = np.nan


@njit(cache=True, nogil=True)
def _add_period(gainloss, start_stock, cats, z, k, weight, total, stock0, cell_to, cell_origin):  # type: ignore[no-untyped-def]
    if total > 0:
        gainloss[z, k, 0] += weight * total
    else:
        gainloss[z, k, 1] -= weight * total
    for p in range(N_POOLS):
        start_stock[z, k, p] += weight * stock0[p]
    cats[z, k, cell_to, cell_origin, 0] += weight
    cats[z, k, cell_to, cell_origin, 1] += weight * total
