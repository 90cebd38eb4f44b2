"""A run's rasters as xarray DataArrays, for Python callers who ask for no output folder.

The bands are those a file run writes as COGs (:func:`geocarbon.outputs.spec.raster_bands`), in
the pass's band order, each a DataArray named like its file (``density_total_mg_per_ha``) with
the COG's CRS, transform, nodata (NaN), ``units`` and ``long_name`` (its band description).

When every land cover is in memory they are computed here, block by block into NumPy. When one
is dask-backed they stay lazy: a dask array whose chunks (those of the input) each run the
engine's block step (:func:`geocarbon.engine.block.run_block`), reading only the input chunks
they overlap. The bands of a run share their chunks' computation: compute them together
(``dask.compute(*rasters.values())`` or ``xr.Dataset(rasters).compute()``) to read each input
chunk once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from geocarbon.blocks import Block
from geocarbon.engine import PassPlan, PassTotals, StreamOptions, run_pass
from geocarbon.engine.block import run_block
from geocarbon.grid import GridSpec
from geocarbon.inputs.landcover import WindowReader
from geocarbon.outputs.provenance import RunProvenance
from geocarbon.outputs.rasters import FLOAT_NODATA
from geocarbon.outputs.staging import StagedOutputs
from geocarbon.runs.common import RunOptions, pass_with_rasters

if TYPE_CHECKING:
    import xarray as xr


#: A raster of a run as the files name it: file stem, band description, units.
BandName = tuple[str, str, str]


def band_names(bands: dict[Path, tuple[str, str]]) -> list[BandName]:
    """``raster_bands`` of a run (COG path -> description, units) as DataArray names."""
    return [(path.stem, description, units) for path, (description, units) in bands.items()]


def is_lazy_plan(plan: PassPlan) -> bool:
    """Whether a land cover of ``plan`` is dask-backed (its rasters then stay lazy)."""
    return any(source.lazy for source in plan.sources)


def pass_in_memory(
    plan: PassPlan,
    options: StreamOptions,
    names: list[BandName],
    *,
    dask: str | None,
    check: Callable[[PassTotals], None],
) -> tuple[PassTotals, dict[str, xr.DataArray]]:
    """Run ``plan``'s pass; once ``check`` has accepted its histograms, its raster bands as
    DataArrays (NumPy-backed, filled during the pass; or lazy, for dask-backed land covers)."""
    if not names or plan.n_bands == 0:
        totals = run_pass(plan, options, dask=dask).totals
        check(totals)
        return totals, {}
    if is_lazy_plan(plan):  # (dask= is refused for these: check_lazy_off_dask)
        totals = run_pass(plan, options).totals
        check(totals)
        return totals, lazy_rasters(plan, names)
    # One pass on this machine's threads fills the bands beside the histograms (with dask= too:
    # the arrays are returned to this process anyway).
    sink = _MemorySink(np.full((plan.n_bands, *plan.grid.shape), np.nan, np.float32))
    totals = run_pass(plan, options, sink=sink).totals
    check(totals)
    return totals, _data_arrays(sink.stack, names, plan.grid)


def pass_with_outputs(
    plan: PassPlan,
    options: StreamOptions,
    staged: StagedOutputs,
    bands: dict[Path, tuple[str, str]],
    config: RunOptions,
    *,
    dask: str | None,
    in_memory: bool,
    provenance: RunProvenance,
    check: Callable[[PassTotals], None],
) -> tuple[PassTotals, dict[str, xr.DataArray]]:
    """A run's pass: its raster ``bands`` (COG path -> description, units) written as COGs into
    the staged output folder, or, with no folder (``in_memory``), returned as DataArrays."""
    if in_memory:
        return pass_in_memory(plan, options, band_names(bands), dask=dask, check=check)
    totals = pass_with_rasters(
        plan,
        options,
        staged,
        bands,
        dask=dask,
        threads=config.threads,
        creation_options=dict(config.creation_options),
        provenance=provenance,
        check=check,
    )
    return totals, {}


def lazy_rasters(plan: PassPlan, names: list[BandName]) -> dict[str, xr.DataArray]:
    """The raster bands of ``plan`` (which maps rasters, over a dask-backed land cover) as lazy
    DataArrays: each output chunk runs the block step on its input chunk."""
    import dask.array as dask_array

    rows, cols = _output_chunks(plan)
    # The plan goes in the function, not as an argument: dask would unpack the dask-backed land
    # cover inside its dataclasses and hand every task the whole array, computed.
    stack = dask_array.map_blocks(
        partial(_stack_of_chunk, plan=plan),
        chunks=((plan.n_bands,), rows, cols),
        dtype=np.float32,
        meta=np.empty((0, 0, 0), np.float32),
        name="geocarbon-rasters",
    )
    return _data_arrays(stack, names, plan.grid)


@dataclass
class _MemorySink:
    """Bands of every block into one in-memory stack ``(bands, height, width)``."""

    stack: NDArray[np.float32]

    def write(self, block: Block, stack: NDArray[np.float32]) -> None:
        self.stack[(slice(None), *block.slices)] = stack


def _output_chunks(plan: PassPlan) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The chunks of the first dask-backed land cover: each output chunk reads one input chunk."""
    for source in plan.sources:
        if source.array is not None and source.lazy:
            rows, cols = source.array.values.chunks
            return tuple(rows), tuple(cols)
    raise AssertionError("no dask-backed land cover")  # is_lazy_plan said there was one


def _stack_of_chunk(
    *, plan: PassPlan, block_info: dict[Any, Any] | None = None
) -> NDArray[np.float32]:
    """One output chunk: the block step over its window of every date, its raster bands."""
    assert block_info is not None
    _, (row0, row1), (col0, col1) = block_info[None]["array-location"]
    block = Block(row0, col0, row1 - row0, col1 - col0)
    readers = [WindowReader(source) for source in plan.sources]
    try:
        stack = run_block(plan, readers, block).stack
    finally:
        for reader in readers:
            reader.close()
    assert stack is not None
    return stack


def _data_arrays(stack: Any, names: list[BandName], grid: GridSpec) -> dict[str, xr.DataArray]:
    """Each band of ``stack`` as a DataArray on ``grid`` with its name, units and nodata."""
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    import xarray as xr

    transform = grid.transform
    x = transform.c + transform.a * (np.arange(grid.width) + 0.5)
    y = transform.f + transform.e * (np.arange(grid.height) + 0.5)
    arrays = {}
    for band, (name, description, units) in enumerate(names):
        array = xr.DataArray(
            stack[band],
            dims=("y", "x"),
            coords={"y": y, "x": x},
            name=name,
            attrs={"units": units, "long_name": description},
        )
        array = array.rio.write_crs(grid.crs).rio.write_transform(transform)
        arrays[name] = array.rio.write_nodata(FLOAT_NODATA, encoded=False)
    return arrays
