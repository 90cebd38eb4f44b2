"""The pixel pass: one plan, one block step, a thread runner and a Dask runner, chosen here.

Runs build a :class:`PassPlan` (a stock or zonal run is a one-date pass) and call
:func:`run_pass` with the sinks their outputs need; the engine opens no output file itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from geocarbon.engine.dask import ChunkSinks, run_dask
from geocarbon.engine.histogram import Histogram, PassTotals
from geocarbon.engine.plan import PassPlan, PixelState, RasterMaps, StreamOptions
from geocarbon.engine.threads import RasterSink, run_threads

__all__ = [
    "Histogram",
    "PassOutput",
    "PassPlan",
    "PassTotals",
    "PixelState",
    "RasterMaps",
    "StreamOptions",
    "run_pass",
]


@dataclass
class PassOutput:
    """The pass's histograms and, on Dask, every chunk's band files (``[chunk][band]``)."""

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
    """
    if dask:
        totals, files = run_dask(plan, options, dask, chunk_sinks)
        return PassOutput(totals, files)
    return PassOutput(run_threads(plan, options, sink), [])
