"""Walk each pixel through every date of a block: growth, forest age and the soil carbon legacy.

The sink kernels carry a pixel's state across dates (its age, the growth it accumulated since
it entered its class, the soil carbon of a conversion still in progress) and add, per zone row
and period, what the change tables decompose: conversions, stock differences on land that
stays, growth exposure (ha x years per growth segment) and the soil legacy. The conventions
(README, "Sink accounting") are:

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

from geocarbon.kernels.walk import walk_pixel


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
    """Walk every pixel of a block in zone row ``zone[r, c]`` (rows equal to ``skip_row`` are
    not counted): with ages of its own, density rasters, or bands to map. (Otherwise pixels
    are grouped by history first: :func:`group_histories`.)"""
    n_dates, rows, cols = bins.shape
    initial_age = model[9]
    has_ages = ages.shape[0] > 0  # (0, 0): no ages of their own
    mapped_pools = pixels[1].max() >= 0
    table_only = (None, pixels[1], pixels[2], pixels[3])  # compiles the walk without maps
    scratch = np.zeros(24)
    for r in range(rows):
        for c in range(cols):
            z = zone[r, c]
            if z == skip_row:
                continue
            age = initial_age
            if has_ages:
                own = ages[r, c]
                if own >= 0:  # NaN and negative ages: unknown
                    age = np.float64(own)
            if mapped_pools:
                walk_pixel(
                    bins,
                    r,
                    c,
                    z,
                    pixel_area_ha[r, c],
                    age,
                    model,
                    pixels,
                    acc,
                    stack,
                    bands,
                    scratch,
                )
            else:
                walk_pixel(
                    bins,
                    r,
                    c,
                    z,
                    pixel_area_ha[r, c],
                    age,
                    model,
                    table_only,
                    acc,
                    stack,
                    bands,
                    scratch,
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
    has_ages = ages.shape[0] > 0  # (0, 0): no ages of their own
    table_only = (None, pixels[1], pixels[2], pixels[3])  # compiles the walk without maps
    scratch = np.zeros(24)
    no_stack = np.empty((0, 1, 1), np.float32)
    no_bands = (np.full(bins.shape[0] - 1, -1, np.int64), -1, np.full(bins.shape[0], -1, np.int64))
    for k in range(rows.shape[0]):
        r = rows[k]
        c = cols[k]
        age = initial_age
        if has_ages:
            own = ages[r, c]
            if own >= 0:  # NaN and negative ages: unknown
                age = np.float64(own)
        weight = fractions[k] * pixel_area_ha[r, c]
        if pixels[1].max() >= 0:
            walk_pixel(
                bins, r, c, zones[k], weight, age, model, pixels, acc, no_stack, no_bands, scratch
            )
        else:
            walk_pixel(
                bins,
                r,
                c,
                zones[k],
                weight,
                age,
                model,
                table_only,
                acc,
                no_stack,
                no_bands,
                scratch,
            )


#: FNV-1a 64-bit constants: the hash that groups pixels with the same history.
_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@njit(cache=True, nogil=True)
def group_histories(
    values: NDArray[np.integer],
    zone: NDArray[np.int32],
    skip_row: int,
    pixel_area_ha: NDArray[np.float64],
    n_rows: int,
    n_values: int,
) -> tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Group a block's pixels by (zone row, history of values on every date); zone rows are
    below ``n_rows`` and values (raw bytes or bins) below ``n_values``.

    A walk is linear in a pixel's area, so walking one pixel of each group with the group's
    summed area adds exactly what walking every pixel would. Pixels with the same value on
    every date are grouped by (zone, value) directly; the others through an open-addressing
    table keyed by a hash of their history, every hit confirmed value by value (a hash
    collision never merges two histories). Returns, per group, its zone row, one member's row
    and column, and the summed area (ha); pixels in ``skip_row`` are left out.
    """
    n_dates, rows, cols = values.shape
    # Bits that differ from the first date, OR-ed over dates (a loop compilers vectorise).
    differs = np.zeros((rows, cols), values.dtype)
    for r in range(rows):
        for d in range(1, n_dates):
            for c in range(cols):
                differs[r, c] |= values[d, r, c] ^ values[0, r, c]
    changed = 0
    for r in range(rows):
        for c in range(cols):
            if differs[r, c] != 0 and zone[r, c] != skip_row:
                changed += 1
    capacity = 16
    while capacity < 2 * changed + 16:
        capacity *= 2
    mask = np.uint64(capacity - 1)
    slot_entry = np.full(capacity, -1, np.int64)
    slot_hash = np.zeros(capacity, np.uint64)
    slot_stored = np.empty(capacity, np.int64)  # the slot's history in ``stored``
    size = changed + rows * cols
    out_zone = np.empty(size, np.int32)
    out_row = np.empty(size, np.int64)
    out_col = np.empty(size, np.int64)
    out_area = np.empty(size)
    n = 0
    # Constant pixels: one group per (zone, value), found in a dense (zone, value) table.
    const_entry = np.full((n_rows, n_values), -1, np.int64)
    # Changed pixels: each row's histories copied date by date into contiguous rows first
    # (reading a pixel down 40 date planes one by one costs a cache miss per date), zero-padded
    # to whole 64-bit words, which the hash and the comparison then read eight bytes at a time.
    per_word = 8 // values.itemsize
    words = (n_dates + per_word - 1) // per_word
    history = np.zeros((cols, words * per_word), values.dtype)
    stored = np.zeros((changed + 1, words * per_word), values.dtype)
    history_words = history.view(np.uint64)
    stored_words = stored.view(np.uint64)
    n_stored = 0
    changed_cols = np.empty(cols, np.int64)
    for r in range(rows):
        m = 0
        for c in range(cols):
            z = zone[r, c]
            if z == skip_row:
                continue
            if differs[r, c] != 0:
                changed_cols[m] = c
                m += 1
                continue
            entry = const_entry[z, values[0, r, c]]
            if entry < 0:
                const_entry[z, values[0, r, c]] = n
                out_zone[n], out_row[n], out_col[n], out_area[n] = z, r, c, 0.0
                entry = n
                n += 1
            out_area[entry] += pixel_area_ha[r, c]
        for d in range(n_dates):
            for j in range(m):
                history[j, d] = values[d, r, changed_cols[j]]
        for j in range(m):
            c = changed_cols[j]
            z = zone[r, c]
            h = _FNV_OFFSET ^ np.uint64(z)
            for w in range(words):
                h = (h ^ history_words[j, w]) * _FNV_PRIME
            slot = h & mask
            while True:
                entry = slot_entry[slot]
                if entry < 0:
                    slot_entry[slot], slot_hash[slot], slot_stored[slot] = n, h, n_stored
                    stored_words[n_stored] = history_words[j]
                    n_stored += 1
                    out_zone[n], out_row[n], out_col[n], out_area[n] = z, r, c, 0.0
                    entry = n
                    n += 1
                    break
                if slot_hash[slot] == h and out_zone[entry] == z:
                    equal = True
                    for w in range(words):
                        if history_words[j, w] != stored_words[slot_stored[slot], w]:
                            equal = False
                            break
                    if equal:
                        break
                slot = (slot + np.uint64(1)) & mask
            out_area[entry] += pixel_area_ha[r, c]
    return out_zone[:n], out_row[:n], out_col[:n], out_area[:n]
