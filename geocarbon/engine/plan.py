"""The plan of a pixel pass: every input one block needs, picklable for threads and Dask workers.

A stock or zonal run is a one-date pass; a change run a pass over every date at once, with the
pairs of dates (periods) whose transitions it counts. What per-pixel rasters a block produces
(:class:`RasterMaps`) and any per-pixel state carried across the dates of a block
(:class:`PixelState`) are part of the plan, so one block step serves every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from geocarbon.area import PixelArea
from geocarbon.blocks import Block
from geocarbon.engine.histogram import Histogram, PassTotals
from geocarbon.engine.zones import ZoneIndex
from geocarbon.grid import GridSpec
from geocarbon.inputs.landcover import LandCoverSource
from geocarbon.lookup import ClassLookup

#: The fused run kernels keep bins as bytes: tables of up to 253 classes (plus unknown, nodata).
MAX_FUSED_BINS = 255


@dataclass(frozen=True)
class StreamOptions:
    """How to walk the blocks: shape, threads, progress bar, and whether unknown codes are fatal
    (then, after the first block holding one, blocks are only counted, no raster is mapped)."""

    block_shape: tuple[int, int]
    threads: int = 2
    progress: bool | None = None
    unknown_is_fatal: bool = True


class PixelState(Protocol):
    """Per-pixel state carried across the dates of a block (a pixel's age, accrued growth, soil
    carbon legacy: :class:`geocarbon.engine.state.SinkState`). The engine hands each block whole
    to :meth:`walk`, with every date's bins, so no state crosses blocks; what it adds up lives in
    the totals :meth:`empty` makes, and the bands it maps are the plan's own (densities and
    change: the walk replaces the static ones)."""

    @property
    def n_bands(self) -> int: ...

    def empty(self, n_rows: int, n_bins: int) -> Any: ...

    def walk(
        self,
        bins: NDArray[np.integer],
        block: Block,
        zones: Any,
        skip_row: int,
        pixel_area_ha: NDArray[np.float64],
        totals: Any,
        map_row: int = 0,
        stack: NDArray[np.float32] | None = None,
        bands: tuple[NDArray[np.int64], int, NDArray[np.int64]] | None = None,
        bin_of: NDArray[np.integer] | None = None,
    ) -> None: ...


@dataclass(frozen=True, eq=False)
class RasterMaps:
    """The per-pixel rasters a pass produces, in band order: the densities (every band of
    ``density_by_bin``) of each date in ``dates``, then the change of each pair in ``pairs`` (an
    index into the plan's pairs), each followed by its net present value per ha when its
    ``npv_constants`` entry is not None (change of the last band x constant)."""

    density_by_bin: NDArray[np.float32]
    dates: tuple[int, ...] = ()
    pairs: tuple[int, ...] = ()
    npv_constants: tuple[float | None, ...] = ()

    @property
    def n_bands(self) -> int:
        per_map = self.density_by_bin.shape[1]
        npv = sum(constant is not None for constant in self.npv_constants)
        return per_map * (len(self.dates) + len(self.pairs)) + npv

    def layout(
        self, n_dates: int, n_pairs: int
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        """The first band of each date's densities, of each pair's change and its NPV band
        (-1 where not mapped), for a plan of ``n_dates`` and ``n_pairs``."""
        per_map = self.density_by_bin.shape[1]
        date_band = np.full(n_dates, -1, np.int64)
        pair_band = np.full(n_pairs, -1, np.int64)
        npv_band = np.full(n_pairs, -1, np.int64)
        band = 0
        for date in self.dates:
            date_band[date], band = band, band + per_map
        constants = list(self.npv_constants) + [None] * len(self.pairs)
        for pair, constant in zip(self.pairs, constants, strict=False):
            pair_band[pair], band = band, band + per_map
            if constant is not None:
                npv_band[pair], band = band, band + 1
        return date_band, pair_band, npv_band


@dataclass(frozen=True, eq=False)
class PassPlan:
    """One pass over ``sources`` (the dates, on one grid), classified by ``lookups``.

    ``zones`` are the region rows (None: one row, the whole raster); ``pairs`` the (start, end)
    dates whose transitions are counted; ``rasters`` and ``state`` what per-pixel bands blocks
    produce (None: tables only).
    """

    sources: tuple[LandCoverSource, ...]
    lookups: tuple[ClassLookup, ...]
    area: PixelArea
    zones: ZoneIndex | None = None
    pairs: tuple[tuple[int, int], ...] = ()
    rasters: RasterMaps | None = None
    state: PixelState | None = None

    @property
    def grid(self) -> GridSpec:
        return self.sources[0].grid

    @property
    def n_dates(self) -> int:
        return len(self.sources)

    @property
    def n_rows(self) -> int:
        return 1 if self.zones is None else self.zones.n_rows

    @property
    def n_bins(self) -> int:
        return self.lookups[0].n_bins

    @property
    def n_bands(self) -> int:
        return (0 if self.rasters is None else self.rasters.n_bands) + (
            0 if self.state is None else self.state.n_bands
        )

    @property
    def on_runs(self) -> bool:
        """Whether blocks take the fused run kernels: zones are one layer of whole pixels
        (centre coverage, or none), pixel areas vary by row at most, and bins fit in a byte."""
        zones = self.zones
        return (
            (zones is None or (zones.n_layers == 1 and zones.mode == "centre"))
            and self.area.lattice_area_ha is None
            and self.n_bins <= MAX_FUSED_BINS
        )

    @cached_property
    def bin_tables(self) -> tuple[NDArray[np.uint8] | None, ...]:
        """Per date, the bin of every raw value of 8- and 16-bit codes (nodata included), for the
        table lookup of the run path; None for wider codes (classified through the lookup)."""
        return tuple(
            raw_bin_table(lookup, np.dtype(source.dtype), source.nodata)
            if np.dtype(source.dtype).itemsize <= 2 and self.n_bins <= MAX_FUSED_BINS
            else None
            for lookup, source in zip(self.lookups, self.sources, strict=True)
        )

    @cached_property
    def key_sets(self) -> tuple[NDArray[np.int64], tuple[tuple[int, int], ...]]:
        """The run kernel's key sets, ``(d0, d1)``: every pair, and ``(d, d)`` for every date in
        no pair; and for each date the set and axis its histogram is a marginal of: (set, 0) the
        set itself, (set, 1) its pair's start date (sum over end bins), (set, 2) its end date."""
        sets = list(self.pairs)
        source: list[tuple[int, int]] = []
        for date in range(self.n_dates):
            as_start = [k for k, (start, _) in enumerate(self.pairs) if start == date]
            as_end = [k for k, (_, end) in enumerate(self.pairs) if end == date]
            if as_start:
                source.append((as_start[0], 1))
            elif as_end:
                source.append((as_end[0], 2))
            else:
                source.append((len(sets), 0))
                sets.append((date, date))
        return np.array(sets, np.int64).reshape(-1, 2), tuple(source)

    @cached_property
    def bin_key_tables(self) -> NDArray[np.uint16]:
        """Per key set, the key of every pair of byte bins (``bin0 << 8 | bin1``)."""
        identity = np.arange(256, dtype=np.int64)
        return self._key_tables([identity] * self.n_dates)

    @cached_property
    def raw_key_tables(self) -> NDArray[np.uint16] | None:
        """Per key set, the key of every pair of raw 8-bit codes (classification folded in), or
        None when a date's codes are wider than a byte."""
        tables = self.bin_tables
        if any(table is None or len(table) != 256 for table in tables):
            return None
        return self._key_tables([np.asarray(table, np.int64) for table in tables])

    def _key_tables(self, bins_of_value: list[NDArray[np.int64]]) -> NDArray[np.uint16]:
        sets, _ = self.key_sets
        out = np.zeros((len(sets), 1 << 16), np.uint16)
        values = np.arange(256)
        for k, (start, end) in enumerate(sets):
            first, second = bins_of_value[start], bins_of_value[end]
            if start == end:  # one date alone: its value on both sides
                out[k, (values << 8) | values] = first
            else:
                keys = first[:, None] * self.n_bins + second[None, :]
                out[k] = np.where(keys < (1 << 16), keys, 0).ravel()
        return out

    def empty(self) -> PassTotals:
        """Zeroed per-date and per-pair histograms (and the state's totals)."""
        dates = [Histogram.empty(lookup, self.n_rows) for lookup in self.lookups]
        pairs = [Histogram.zeros(self.n_rows, self.n_bins * self.n_bins) for _ in self.pairs]
        state = None if self.state is None else self.state.empty(self.n_rows, self.n_bins)
        return PassTotals(dates, pairs, state)


def raw_bin_table(
    lookup: ClassLookup, dtype: np.dtype[Any], nodata: int | None
) -> NDArray[np.uint8]:
    """The bin of each raw value of an 8- or 16-bit ``dtype`` (its bits read as unsigned)."""
    unsigned = np.dtype(f"u{dtype.itemsize}")
    values = np.arange(2 ** (8 * dtype.itemsize), dtype=np.int64).astype(unsigned).view(dtype)
    bins = lookup.class_index_by_code[values.astype(np.int64) - lookup.code_offset]
    if nodata is not None:
        bins = np.where(values == nodata, lookup.nodata_bin, bins)
    return bins.astype(np.uint8)
