"""The pixel pass on a Dask distributed cluster: chunks to workers, small histograms back.

Each worker reads its own chunks of the land cover (so the file must be reachable at the same
path from every worker: shared storage or object storage through GDAL), runs the same
:class:`~geocarbon.streaming.BlockPlan` as the threaded engine block by block, and returns the
chunk's histogram; the client adds them up. Only the small histograms travel, never pixels.
When densities are mapped, each worker writes its chunk's bands as tiled GeoTIFFs into a
scratch folder beside the outputs (so that folder, too, must be shared storage), and the client
mosaics them per band (VRT) into Cloud-Optimized GeoTIFFs.

``address`` is a scheduler address (``tcp://host:8786``; see dask-jobqueue or dask-kubernetes to
start one on a cluster) or ``local:N`` for a LocalCluster of N single-threaded worker processes on
this machine (loopback only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from geocarbon.blocks import Block, iter_blocks
from geocarbon.errors import ConfigError
from geocarbon.grid import GridSpec
from geocarbon.raster_io import WindowReader
from geocarbon.stocks import Histogram
from geocarbon.streaming import BlockPlan, StreamOptions
from geocarbon.writers import TiledRasters

T = TypeVar("T")

#: Blocks per chunk side: a chunk is a task, big enough that scheduling costs little.
BLOCKS_PER_CHUNK_SIDE = 4


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
        workers = int(count)
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
    else:
        try:
            client = Client(address)
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"--dask {address!r}: no Dask scheduler answers there ({exc}). Start one (dask "
                "scheduler, dask-jobqueue, dask-kubernetes) and pass its address, or use local:N."
            ) from exc
        with client:
            yield client


def map_chunks(
    task: Callable[..., T],
    plan: Any,
    grid_shape: tuple[int, int],
    options: StreamOptions,
    address: str,
    **arguments: Any,
) -> Iterator[tuple[int, T]]:
    """Run ``task(chunk, plan=..., block_shape=..., **arguments)`` on every chunk of a grid of
    ``grid_shape`` on a Dask cluster; yield (chunk index, result) as they complete. ``plan`` is
    sent to every worker once."""
    rows, cols = options.block_shape
    chunk_shape = (rows * BLOCKS_PER_CHUNK_SIDE, cols * BLOCKS_PER_CHUNK_SIDE)
    chunks = list(iter_blocks(grid_shape, chunk_shape))
    with dask_client(address) as client:
        from distributed import as_completed

        shared = client.scatter(plan, broadcast=True)
        futures = client.map(
            task, chunks, plan=shared, block_shape=options.block_shape, pure=False, **arguments
        )
        order = {future.key: index for index, future in enumerate(futures)}
        with tqdm(
            total=len(chunks),
            unit="chunk",
            disable=None if options.progress is None else not options.progress,
        ) as bar:
            for future in as_completed(futures):
                yield order[future.key], future.result()
                bar.update(1)


def dask_pass(
    plan: BlockPlan,
    options: StreamOptions,
    address: str,
    *,
    chunk_folder: Path | None = None,
    bands: tuple[tuple[str, str], ...] = (),
) -> tuple[Histogram, list[list[Path]]]:
    """``plan``'s pixel pass chunk by chunk on a Dask cluster: the histogram, and chunk files.

    With ``chunk_folder`` (and a plan that maps densities), every chunk's density bands, labelled
    by ``bands`` (description, units), are written there; ``files[chunk][band]`` come back in
    grid order, ready for :func:`~geocarbon.writers.cogs_from_chunks`.
    """
    histogram = Histogram.empty(plan.lookup, plan.n_rows)
    files: dict[int, list[Path]] = {}
    for index, (part, paths) in map_chunks(
        _chunk_pass,
        plan,
        plan.source.grid.shape,
        options,
        address,
        folder=chunk_folder,
        bands=bands,
    ):
        histogram.add(part)
        files[index] = paths
    return histogram, [files[index] for index in sorted(files)]


def chunk_blocks(chunk: Block, block_shape: tuple[int, int]) -> Iterator[Block]:
    """The blocks of ``chunk``, in the whole grid's pixel coordinates."""
    for part in iter_blocks((chunk.height, chunk.width), block_shape):
        yield Block(
            chunk.row_off + part.row_off, chunk.col_off + part.col_off, part.height, part.width
        )


def chunk_rasters(
    folder: Path, grid: GridSpec, chunk: Block, bands: tuple[tuple[str, str], ...]
) -> TiledRasters:
    """Tiled GeoTIFFs for one chunk's bands in ``folder``, taking blocks in grid coordinates."""
    chunk_grid = GridSpec(
        grid.crs, grid.block_transform(chunk.row_off, chunk.col_off), chunk.height, chunk.width
    )
    paths = [
        folder / f"chunk_r{chunk.row_off}_c{chunk.col_off}_b{band}.tif"
        for band in range(len(bands))
    ]
    return TiledRasters(paths, chunk_grid, bands, origin=(chunk.row_off, chunk.col_off))


def _chunk_pass(
    chunk: Block,
    *,
    plan: BlockPlan,
    block_shape: tuple[int, int],
    folder: Path | None,
    bands: tuple[tuple[str, str], ...],
) -> tuple[Histogram, list[Path]]:
    """On a worker: one chunk's histogram block by block, and its density bands as GeoTIFFs."""
    histogram = Histogram.empty(plan.lookup, plan.n_rows)
    rasters = None
    if folder is not None and plan.density_by_bin is not None:
        rasters = chunk_rasters(folder, plan.source.grid, chunk, bands)
    try:
        with WindowReader(plan.source) as reader:
            for block in chunk_blocks(chunk, block_shape):
                result = plan.run(reader, block, map_density=rasters is not None)
                histogram.add(result.histogram)
                if rasters is not None and result.density is not None:
                    rasters.write(block, result.density)
    finally:
        if rasters is not None:
            rasters.close()
    return histogram, [] if rasters is None else rasters.paths
