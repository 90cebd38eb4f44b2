"""What a pixel pass accumulates: small area histograms, one per date and one per pair of dates.

A :class:`Histogram` is ``area_ha[zone row, bin]`` (with pixel counts and coverage) for one date;
a pair's histogram has the bin ``from_bin * n_bins + to_bin``: the transition matrix of every
zone row, unknown and nodata included, so every pixel is accounted for on both dates. Every
statistic a run reports is derived from these and the density table, never from pixels again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from geocarbon.lookup import ClassLookup

if TYPE_CHECKING:
    from geocarbon.engine.extent import PassReading


@dataclass
class Histogram:
    """Area (ha), pixel counts and coverage per zone row and bin, and unknown-code counts.

    Bins are the table's classes, then ``unknown``, then ``nodata`` (see :class:`ClassLookup`).
    ``coverage_px`` equals ``pixel_count`` except in exact coverage, where a boundary pixel adds
    its covered fraction to each region it meets (and counts one pixel in each). Unknown codes
    inside the lookup are counted per slot; the rare ones beyond it (32-bit rasters) by code in
    ``outside_lookup``.
    """

    area_ha: NDArray[np.float64]
    pixel_count: NDArray[np.int64]
    coverage_px: NDArray[np.float64]
    unknown_count_by_slot: NDArray[np.int64]
    outside_lookup: dict[int, int] = field(default_factory=dict)

    @classmethod
    def empty(cls, lookup: ClassLookup, n_zones: int = 1) -> Histogram:
        return cls.zeros(n_zones, lookup.n_bins, len(lookup.class_index_by_code) + 1)

    @classmethod
    def zeros(cls, n_zones: int, n_bins: int, n_slots: int = 1) -> Histogram:
        return cls(
            np.zeros((n_zones, n_bins), np.float64),
            np.zeros((n_zones, n_bins), np.int64),
            np.zeros((n_zones, n_bins), np.float64),
            np.zeros(n_slots, np.int64),
        )

    def add(self, other: Histogram) -> None:
        self.area_ha += other.area_ha
        self.pixel_count += other.pixel_count
        self.coverage_px += other.coverage_px
        self.unknown_count_by_slot += other.unknown_count_by_slot
        for code, count in other.outside_lookup.items():
            self.outside_lookup[code] = self.outside_lookup.get(code, 0) + count

    @property
    def has_unknown(self) -> bool:
        return bool(self.unknown_count_by_slot.any())

    def unknown_codes(self, lookup: ClassLookup) -> dict[int, int]:
        """Pixel count of every code with no table row."""
        slots = np.flatnonzero(self.unknown_count_by_slot[:-1])
        found = {lookup.code_of_slot(int(s)): int(self.unknown_count_by_slot[s]) for s in slots}
        found.update(self.outside_lookup)
        return dict(sorted(found.items()))


@dataclass
class PassTotals:
    """A pass's histograms: one per date and one per pair of dates (the plan's ``pairs``), and
    what the plan's per-pixel state adds up (:class:`geocarbon.engine.state.SinkTotals`)."""

    dates: list[Histogram]
    pairs: list[Histogram]
    state: Any = None
    #: What the pass read (:class:`geocarbon.engine.extent.PassReading`), set by ``run_pass``.
    reading: PassReading | None = None

    def add(self, other: PassTotals) -> None:
        for total, part in zip(self.dates + self.pairs, other.dates + other.pairs, strict=True):
            total.add(part)
        if other.state is not None:
            if self.state is None:
                self.state = other.state
            else:
                self.state.add(other.state)

    @property
    def has_unknown(self) -> bool:
        return any(histogram.has_unknown for histogram in self.dates)
