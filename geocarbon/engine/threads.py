"""The thread runner: blocks on a pool of threads, results consumed in block order.

Each worker thread reads its block of every date (one GDAL handle per thread and date) and runs
the block step (the numba kernels release the GIL); the calling thread adds the histograms and
hands raster bands to the run's sink, so sinks need no locks. At most two blocks per thread are
in flight, so memory stays bounded.

A pass with regions that maps no raster reads only its regions' extent
(:mod:`geocarbon.engine.extent`): a province out of a national mosaic reads that province's
windows.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from typing import Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from geocarbon.blocks import Block, iter_blocks
from geocarbon.engine.block import BlockOutput
from geocarbon.engine.extent import PassReading, run_in_extent
from geocarbon.engine.histogram import PassTotals
from geocarbon.engine.plan import PassPlan, StreamOptions
from geocarbon.inputs.landcover import WindowReader

T = TypeVar("T")


class RasterSink(Protocol):
    """Where a pass's raster bands go, block by block (a run's writer: the engine opens no file)."""

    def write(self, block: Block, stack: NDArray[np.float32]) -> None: ...


def run_threads(
    plan: PassPlan,
    options: StreamOptions,
    sink: RasterSink | None = None,
    *,
    reading: PassReading | None = None,
) -> PassTotals:
    """The pass on threads: the histograms, and every block's raster bands into ``sink``.

    ``reading`` limits the pass to the blocks it reads and the pixels of its extent. When unknown codes are
    fatal, blocks after the first one holding them are only counted (no raster is mapped or
    written), so the run can still report every unknown code.
    """
    totals = plan.empty()
    unknown_seen = threading.Event()
    with ExitStack() as stack:
        readers = [stack.enter_context(WindowReader(source)) for source in plan.sources]

        def work(block: Block) -> BlockOutput:
            mapped = sink is not None and not unknown_seen.is_set()
            extent = None if reading is None else reading.extent
            return run_in_extent(plan, readers, block, extent, map_rasters=mapped)

        def consume(block: Block, output: BlockOutput) -> None:
            totals.add(output.totals)
            if options.unknown_is_fatal and output.totals.has_unknown:
                unknown_seen.set()
            if sink is not None and output.stack is not None and not unknown_seen.is_set():
                sink.write(block, output.stack)

        run_blocks(
            plan.grid.shape,
            options,
            work,
            consume,
            label=_label(plan),
            read=None if reading is None else reading.read,
        )
    return totals


def _label(plan: PassPlan) -> str:
    return plan.sources[0].path.name if plan.n_dates == 1 else f"{plan.n_dates} dates"


def run_blocks(
    shape: tuple[int, int],
    options: StreamOptions,
    work: Callable[[Block], T],
    consume: Callable[[Block, T], None],
    *,
    label: str,
    read: NDArray[np.bool_] | None = None,
) -> None:
    """Run ``work`` on every block (flagged in ``read``) on a thread pool and ``consume`` the
    results in block order; the progress bar counts the pixels of those blocks only."""
    blocks = iter_blocks(shape, options.block_shape, only=read)
    total = sum(block.n_pixels for block in iter_blocks(shape, options.block_shape, only=read))
    with progress_bar(total, label, "px", options.progress) as bar:
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


def progress_bar(total: int, label: str, unit: str, enabled: bool | None) -> tqdm:
    """A progress bar (``enabled`` None: shown on a terminal, hidden when output is piped)."""
    return tqdm(
        total=total,
        unit=unit,
        unit_scale=True,
        desc=label,
        disable=None if enabled is None else not enabled,
        leave=True,  # the finished bar stays on screen: what ran, how much, how long
    )
