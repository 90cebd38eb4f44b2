"""Walk blocks on a thread pool: read -> zones -> process -> hand back in order.

Each worker thread reads its block (own GDAL handle), rasterizes its zones and runs the numba
kernels (which release the GIL); the calling thread adds block histograms and writes density
blocks in order. At most two blocks per thread are in flight, so memory stays bounded.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from geocarbon.area import PixelArea
from geocarbon.blocks import Block, iter_blocks
from geocarbon.lookup import ClassLookup
from geocarbon.raster_io import LandCoverSource, WindowReader
from geocarbon.stocks import BlockResult, Histogram, accumulate_block_runs, process_block
from geocarbon.writers import RasterSetWriter
from geocarbon.zones import ZoneIndex, block_zones

T = TypeVar("T")


@dataclass(frozen=True)
class StreamOptions:
    """How to walk the blocks: shape, threads, progress bar, and whether unknown codes are fatal."""

    block_shape: tuple[int, int]
    threads: int = 2
    progress: bool | None = None
    unknown_is_fatal: bool = True


def stream_histogram(
    source: LandCoverSource,
    lookup: ClassLookup,
    area: PixelArea,
    options: StreamOptions,
    *,
    density_by_bin: NDArray[np.float32] | None = None,
    writer: RasterSetWriter | None = None,
    zones: ZoneIndex | None = None,
) -> Histogram:
    """The pixel pass over one land cover: the area histogram over zone rows.

    When unknown codes are fatal, blocks after the first one holding them are only counted (no
    densities are mapped or written), so the run can still report every unknown code.
    """
    unknown_seen = threading.Event()
    want_density = density_by_bin is not None and writer is not None
    plan = BlockPlan(source, lookup, area, zones, density_by_bin if want_density else None)
    histogram = Histogram.empty(lookup, plan.n_rows)
    with WindowReader(source) as reader:

        def work(block: Block) -> BlockResult:
            return plan.run(reader, block, map_density=not unknown_seen.is_set())

        def consume(block: Block, result: BlockResult) -> None:
            histogram.add(result.histogram)
            if options.unknown_is_fatal and result.histogram.unknown_count_by_slot.any():
                unknown_seen.set()
            if writer is not None and result.density is not None and not unknown_seen.is_set():
                writer.write(block, result.density)

        run_blocks(source.grid.shape, options, work, consume, label=source.path.name)
    return histogram


@dataclass(frozen=True, eq=False)
class BlockPlan:
    """Everything one block's histogram needs, picklable, so threads and Dask workers share it."""

    source: LandCoverSource
    lookup: ClassLookup
    area: PixelArea
    zones: ZoneIndex | None = None
    density_by_bin: NDArray[np.float32] | None = None

    @property
    def n_rows(self) -> int:
        return 1 if self.zones is None else self.zones.n_rows

    @property
    def fused(self) -> bool:
        """One fused pass over pixel runs: nothing per pixel is written, zones are one layer."""
        zones = self.zones
        return self.density_by_bin is None and (
            zones is None or (zones.n_layers == 1 and zones.mode == "centre")
        )

    def run(self, reader: WindowReader, block: Block, *, map_density: bool = True) -> BlockResult:
        """Read ``block`` and accumulate its histogram (and map densities when planned and asked)."""
        codes, valid = reader.read(block)
        row_area_ha = self.area.row_areas(block) if self.fused else None
        if row_area_ha is not None:
            zones = self.zones
            histogram = accumulate_block_runs(
                codes,
                valid,
                row_area_ha,
                self.lookup,
                nodata=self.source.nodata,
                spans=None if zones is None else zones.layer_spans[0],
                row_off=block.row_off,
                col_off=block.col_off,
                outside_zone=0 if zones is None else zones.unassigned_row,
                n_zones=self.n_rows,
            )
            return BlockResult(histogram, None)
        return process_block(
            codes,
            valid,
            self.area.block(block),
            self.lookup,
            nodata=self.source.nodata,
            density_by_bin=self.density_by_bin if map_density else None,
            n_zones=self.n_rows,
            zones=None if self.zones is None else block_zones(self.zones, self.source.grid, block),
        )


def run_blocks(
    shape: tuple[int, int],
    options: StreamOptions,
    work: Callable[[Block], T],
    consume: Callable[[Block, T], None],
    *,
    label: str,
) -> None:
    """Run ``work`` on every block on a thread pool and ``consume`` the results in block order.

    ``work`` runs on worker threads (it reads and computes); ``consume`` runs on the calling
    thread (it adds histograms and writes), so writers need no locks.
    """
    blocks = iter_blocks(shape, options.block_shape)
    with _progress(shape, label, options.progress) as bar:
        for block, result in _ordered_map(work, blocks, options.threads):
            consume(block, result)
            bar.update(block.n_pixels)


def _ordered_map(
    function: Callable[[Block], T], blocks: Iterator[Block], threads: int
) -> Iterator[tuple[Block, T]]:
    """Map ``function`` over ``blocks`` on ``threads`` threads, at most 2 x threads in flight, in order."""
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        pending: deque[tuple[Block, Future[T]]] = deque()
        for block in blocks:
            pending.append((block, pool.submit(function, block)))
            if len(pending) >= 2 * max(1, threads):
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()


def _progress(shape: tuple[int, int], label: str, enabled: bool | None) -> tqdm:
    # enabled=None lets tqdm decide: shown on a terminal, hidden when output is piped or logged.
    return tqdm(
        total=shape[0] * shape[1],
        unit="px",
        unit_scale=True,
        desc=label,
        disable=None if enabled is None else not enabled,
        leave=False,
    )
