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

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from geocarbon.area import pixel_area
from geocarbon.blocks import Block
from geocarbon.engine import PassPlan, PassTotals, StreamOptions, run_pass
from geocarbon.engine.block import run_block
from geocarbon.grid import GridSpec
from geocarbon.inputs.landcover import WindowReader
from geocarbon.lookup import build_class_lookup
from geocarbon.outputs.rasters import FLOAT_NODATA
from geocarbon.outputs.spec import change_outputs, raster_bands
from geocarbon.runs.common import prepare_table, read_zones
from geocarbon.runs.sink import run_categories, sink_inputs, wants_walk

if TYPE_CHECKING:
    import xarray as xr

    from geocarbon.runs.change import ChangeConfig

#: A raster of a run as the files name it: file stem, band description, units.
BandName = tuple[str, str, str]


def band_names(bands: dict[Path, tuple[str, str]]) -> list[BandName]:
    """``raster_bands`` of a run (COG path -> description, units) as DataArray names."""
    return [(path.stem, description, units) for path, (description, units) in bands.items()]


def is_lazy_plan(plan: PassPlan) -> bool:
    """Whether a land cover of ``plan`` is dask-backed (its rasters then stay lazy)."""
    return any(source.array is not None and source.array.lazy for source in plan.sources)


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
    if is_lazy_plan(plan) or dask:
        totals = run_pass(plan, options, dask=dask).totals
        check(totals)
        return totals, raster_arrays(plan, names, options)
    sink = _MemorySink(np.full((plan.n_bands, *plan.grid.shape), np.nan, np.float32))
    totals = run_pass(plan, options, sink=sink).totals
    check(totals)
    return totals, _data_arrays(sink.stack, names, plan.grid)


def raster_arrays(
    plan: PassPlan, names: list[BandName], options: StreamOptions
) -> dict[str, xr.DataArray]:
    """The raster bands of ``plan`` (which must map rasters) as DataArrays: lazy for a dask-backed
    land cover, else computed now on threads."""
    if not is_lazy_plan(plan):
        sink = _MemorySink(np.full((plan.n_bands, *plan.grid.shape), np.nan, np.float32))
        run_pass(plan, StreamOptions(options.block_shape, options.threads, False, False), sink=sink)
        return _data_arrays(sink.stack, names, plan.grid)
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
        if source.array is not None and source.array.lazy:
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


def change_rasters(config: ChangeConfig) -> dict[str, xr.DataArray]:
    """The rasters a change run with ``config`` would write (each period's change per pool and
    total, its NPV with valuation, each date's densities with ``date_rasters``), as DataArrays.

    Called after :func:`~geocarbon.runs.change.run_change` has checked every input and counted
    the tables, so the warnings already given are not repeated.
    """
    from geocarbon.runs import change

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        periods = change.periods_of(config.years)
        table = prepare_table(config.densities, config.scheme, encoding=config.encoding)
        sources = change._aligned_sources(config)
        grid = sources[0].grid
        walk = wants_walk(config)
        index = None
        if walk and config.regions is not None:  # the walk's rates may be region-specific
            fields = config.region_fields
            index = read_zones(config.regions, grid, **fields, coverage=config.coverage)[0]
        lookups = [build_class_lookup(table.codes, dtype=source.dtype) for source in sources]
        plan = change._dates_plan(
            sources,
            lookups,
            pixel_area(grid, config.area_method),
            periods,
            index,
            table,
            config,
            True,
        )
        if walk:
            categories, _ = run_categories(config, table)
            plan = replace(plan, state=sink_inputs(config, table, grid, index, categories).state)
    paths = change_outputs(
        Path(),
        [period.label for period in periods],
        config.years,
        rasters=True,
        regions=False,
        npv=config.valuation is not None,
        date_rasters=config.date_rasters,
    )
    names = band_names(raster_bands("change", paths))
    return raster_arrays(plan, names, config.stream_options(sources[0]))
