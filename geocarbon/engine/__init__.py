"""The pixel pass: one plan, one block step, a thread runner and a Dask runner, chosen here.

Runs build a :class:`PassPlan` (a stock or zonal run is a one-date pass) and call
:func:`run_pass` with the sinks their outputs need; the engine opens no output file itself.
A pass by region that maps no raster reads only its regions' extent, the union of their
bounding boxes (:mod:`geocarbon.engine.extent`); the pass's totals say what was read
(:attr:`PassTotals.reading`), for the run's summary.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from geocarbon.blocks import windowed_block_shape
from geocarbon.engine.dask import ChunkSinks, run_dask
from geocarbon.engine.extent import PassReading, pass_reading
from geocarbon.engine.histogram import Histogram, PassTotals
from geocarbon.engine.plan import PassPlan, PixelState, RasterMaps, StreamOptions
from geocarbon.engine.threads import RasterSink, run_threads

__all__ = [
    "Histogram",
    "PassOutput",
    "PassPlan",
    "PassReading",
    "PassTotals",
    "PixelState",
    "RasterMaps",
    "StreamOptions",
    "run_pass",
]


@dataclass
class PassOutput:
    """The pass's histograms (with what it read: blocks, and the pixels and area it left unread)
    and, on Dask, every chunk's band files (``[chunk][band]``)."""

    totals: PassTotals
    chunk_files: list[list[Path]]


def run_pass(
    plan: PassPlan,
    options: StreamOptions,
    *,
    dask: str | None = None,
    sink: RasterSink | None = None,
    chunk_sinks: ChunkSinks | None = None,
) -> PassOutput:
    """Run ``plan`` on threads, or on the Dask cluster at ``dask`` (an address or ``local:N``).

    Raster bands go to ``sink`` on threads, and to the sinks ``chunk_sinks`` makes on Dask workers.
    With regions, only the pixels inside the regions' extent are counted; with no raster to map,
    no other pixel is read either, and when the extent is less than half the grid blocks are
    windows rather than full-width strips (:func:`~geocarbon.blocks.windowed_block_shape`).
    """
    mapped = plan.n_bands > 0 and (chunk_sinks if dask else sink) is not None
    reading = pass_reading(plan, options.block_shape, mapped=mapped)
    if (
        reading.extent is not None
        and not mapped
        and 2 * reading.pixels_counted < plan.grid.n_pixels
    ):
        align = plan.sources[0].block_shape[1]
        shape = windowed_block_shape(options.block_shape, align_cols=align)
        if shape != options.block_shape:  # windows around the regions, not strips across
            options = replace(options, block_shape=shape)
            reading = reading.in_blocks(plan.grid.shape, shape)
    if dask:
        totals, files = run_dask(plan, options, dask, chunk_sinks, reading=reading)
    else:
        totals, files = run_threads(plan, options, sink, reading=reading), []
    totals.reading = reading
    return PassOutput(totals, files)
