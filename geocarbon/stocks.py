"""Block-level orchestration of the pixel pass: codes -> bins -> area histogram (+ density block).

:func:`process_block` is pure (arrays in, arrays out) so the same function serves a thread pool
here and Dask workers later. :class:`Histogram` is the run-level sum of block results: the one
small table, ``area_ha[zone, bin]``, from which every statistic is derived.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from geocarbon import kernels
from geocarbon.lookup import ClassLookup


@dataclass
class Histogram:
    """Area (ha) and pixel counts per zone and bin, plus pixel counts of unknown codes per slot.

    Bins are the table's classes, then ``unknown``, then ``nodata`` (see :class:`ClassLookup`).
    """

    area_ha: NDArray[np.float64]
    pixel_count: NDArray[np.int64]
    unknown_count_by_slot: NDArray[np.int64]

    @classmethod
    def empty(cls, lookup: ClassLookup, n_zones: int = 1) -> Histogram:
        return cls(
            np.zeros((n_zones, lookup.n_bins), np.float64),
            np.zeros((n_zones, lookup.n_bins), np.int64),
            np.zeros(len(lookup.class_index_by_code) + 1, np.int64),
        )

    def add(self, other: Histogram) -> None:
        self.area_ha += other.area_ha
        self.pixel_count += other.pixel_count
        self.unknown_count_by_slot += other.unknown_count_by_slot

    def unknown_codes(self, lookup: ClassLookup) -> dict[int, int]:
        """Pixel count of every code with no table row; code -1 stands for codes beyond the lookup."""
        slots = np.flatnonzero(self.unknown_count_by_slot[:-1])
        found = {lookup.code_of_slot(int(s)): int(self.unknown_count_by_slot[s]) for s in slots}
        if self.unknown_count_by_slot[-1]:
            found[-1] = int(self.unknown_count_by_slot[-1])
        return found


@dataclass
class BlockResult:
    histogram: Histogram
    density: NDArray[np.float32] | None


def process_block(
    codes: NDArray[np.integer],
    valid: NDArray[np.bool_] | None,
    pixel_area_ha: NDArray[np.float64],
    lookup: ClassLookup,
    *,
    nodata: int | None,
    density_by_bin: NDArray[np.float32] | None = None,
    zone_index: NDArray[np.int32] | None = None,
    n_zones: int = 1,
) -> BlockResult:
    """Classify one block, accumulate its histogram and, if asked, map it to densities.

    Parameters
    ----------
    codes, valid
        Class codes and the optional valid-pixel mask of the block.
    pixel_area_ha
        Area of each pixel (ha), (height, width); a broadcast view is fine.
    density_by_bin
        (n_bins, n_bands) densities (Mg C/ha) to write; None skips the density block.
    zone_index, n_zones
        Zone of each pixel in ``0..n_zones-1``; None puts every pixel in zone 0.
    """
    shape = codes.shape
    histogram = Histogram.empty(lookup, n_zones)
    bins = np.empty(shape, np.int32)
    kernels.classify(
        codes,
        np.broadcast_to(np.True_, shape) if valid is None else valid,
        lookup.class_index_by_code,
        lookup.code_offset,
        0 if nodata is None else nodata,
        nodata is not None,
        lookup.nodata_bin,
        lookup.unknown_bin,
        bins,
        histogram.unknown_count_by_slot,
    )
    zones = np.broadcast_to(np.int32(0), shape) if zone_index is None else zone_index
    kernels.accumulate_area(bins, zones, pixel_area_ha, histogram.area_ha, histogram.pixel_count)
    density = None
    if density_by_bin is not None:
        density = np.empty((density_by_bin.shape[1], *shape), np.float32)
        kernels.densities_from_bins(bins, density_by_bin, density)
    return BlockResult(histogram, density)
