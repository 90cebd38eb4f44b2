"""The Dask runner: chunks of the grid to workers, small histograms back.

Each worker reads its own chunks of every date (so the rasters must be reachable at the same
path from every worker: shared or object storage through GDAL), runs the same block step as the
thread runner block by block, and returns the chunk's histograms; the client adds them up. Only
histograms travel, never pixels. When rasters are mapped, the run's chunk sink (a picklable
factory) opens each chunk's band files on the worker, in a folder that must be shared too.

``address`` is a scheduler address (``tcp://host:8786``; dask-jobqueue or dask-kubernetes start
one on a cluster) or ``local:N`` for a LocalCluster of N single-threaded worker processes on this
machine (loopback only).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from geocarbon.blocks import Block, iter_blocks
from geocarbon.engine.extent import PassReading, run_in_extent
from geocarbon.engine.histogram import PassTotals
from geocarbon.engine.plan import PassPlan, StreamOptions
from geocarbon.engine.threads import progress_bar
from geocarbon.errors import ConfigError, said
from geocarbon.inputs.landcover import WindowReader

#: Blocks per chunk side: a chunk is a task, big enough that scheduling costs little.
BLOCKS_PER_CHUNK_SIDE = 4


class ChunkSink(Protocol):
    """A chunk's raster bands on a worker: written block by block, closed, then named."""

    paths: list[Path]

    def write(self, block: Block, stack: NDArray[np.float32]) -> None: ...

    def close(self) -> None: ...


class ChunkSinks(Protocol):
    """Makes the sink of one chunk (picklable: it travels to the workers)."""

    def __call__(self, chunk: Block) -> ChunkSink: ...


@contextmanager
def dask_client(address: str) -> Iterator[Any]:
    """A distributed Client for ``address`` (``local:N`` starts and stops a LocalCluster)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError("--dask needs Dask distributed: pip install 'geocarbon[dask]'.") from exc
    if address.startswith("local:"):
        count = address.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise ConfigError(
                f"--dask {address!r}: give local:N with N worker processes (e.g. local:2), or a "
                "scheduler address such as tcp://host:8786."
            )
        with (
            LocalCluster(
                n_workers=int(count),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                # None still serves on 8787 (clashing with a notebook's cluster): a free port.
                dashboard_address="127.0.0.1:0",
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        try:
            client = Client(address)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"--dask {address!r}: no Dask scheduler answers there ({said(exc)}). Start one (dask "
                "scheduler, dask-jobqueue, dask-kubernetes) and pass its address, or use local:N."
            ) from exc
        with client:
            yield client


def run_dask(
    plan: PassPlan,
    options: StreamOptions,
    address: str,
    sinks: ChunkSinks | None = None,
    *,
    reading: PassReading | None = None,
) -> tuple[PassTotals, list[list[Path]]]:
    """The pass chunk by chunk on a Dask cluster: the histograms, and with ``sinks`` (and planned
    rasters) every chunk's band files, ``files[chunk][band]`` in grid order.

    ``reading`` limits the pass to the blocks it reads and the pixels of its extent: only chunks
    holding such a block are sent.
    """
    rows, cols = options.block_shape
    chunk_shape = (rows * BLOCKS_PER_CHUNK_SIDE, cols * BLOCKS_PER_CHUNK_SIDE)
    read = None if reading is None else reading.read
    chunks = [
        chunk
        for chunk in iter_blocks(plan.grid.shape, chunk_shape)
        if read is None or next(chunk_blocks(chunk, options.block_shape, read), None) is not None
    ]
    totals = plan.empty()
    files: dict[int, list[Path]] = {}
    with dask_client(address) as client:
        from distributed import as_completed

        shared = client.scatter(plan, broadcast=True)
        futures = client.map(
            chunk_task,
            chunks,
            plan=shared,
            block_shape=options.block_shape,
            sinks=sinks if plan.n_bands else None,
            reading=reading,
            pure=False,
        )
        order = {future.key: index for index, future in enumerate(futures)}
        with progress_bar(len(chunks), "chunks", "chunk", options.progress) as bar:
            for future in as_completed(futures):
                part, paths = future.result()
                totals.add(part)
                files[order[future.key]] = paths
                bar.update(1)
    return totals, [files[index] for index in sorted(files)]


def chunk_task(
    chunk: Block,
    *,
    plan: PassPlan,
    block_shape: tuple[int, int],
    sinks: ChunkSinks | None,
    reading: PassReading | None = None,
) -> tuple[PassTotals, list[Path]]:
    """On a worker: one chunk of every date, block by block (those ``reading`` reads); its
    bands into the chunk's sink."""
    totals = plan.empty()
    sink = None if sinks is None else sinks(chunk)
    try:
        with ExitStack() as stack:
            readers = [stack.enter_context(WindowReader(source)) for source in plan.sources]
            read, extent = (None, None) if reading is None else (reading.read, reading.extent)
            for block in chunk_blocks(chunk, block_shape, read):
                output = run_in_extent(plan, readers, block, extent, map_rasters=sink is not None)
                totals.add(output.totals)
                if sink is not None and output.stack is not None:
                    sink.write(block, output.stack)
    finally:
        if sink is not None:
            sink.close()
    return totals, [] if sink is None else sink.paths


def chunk_blocks(
    chunk: Block, block_shape: tuple[int, int], read: NDArray[np.bool_] | None = None
) -> Iterator[Block]:
    """The blocks of ``chunk`` (those flagged in ``read``, one flag per block of the whole
    grid), in the whole grid's pixel coordinates."""
    rows, cols = block_shape
    for part in iter_blocks((chunk.height, chunk.width), block_shape):
        block = Block(
            chunk.row_off + part.row_off, chunk.col_off + part.col_off, part.height, part.width
        )
        if read is None or read[block.row_off // rows, block.col_off // cols]:
            yield block
