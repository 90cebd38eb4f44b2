"""A stock run: carbon density rasters per pool and total, and a stock summary per class.

A run's options travel in a frozen :class:`StockConfig`; :func:`run_stock` checks its outputs
and inputs before the first pixel is read, runs a one-date pass (rasters streamed to COGs), and
commits outputs only when everything succeeded. Without an output folder it writes nothing and
returns the rasters as DataArrays (:mod:`geocarbon.runs.arrays_out`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import rasterio

from geocarbon.accounts.summary import (
    StockTotals,
    class_stock_table,
    run_summary,
    stock_totals,
    with_total_row,
)
from geocarbon.area import PixelArea, pixel_area
from geocarbon.config import (
    GDAL_CACHE_MB,
    as_optional_path,
    as_path,
)
from geocarbon.engine import (
    PassPlan,
    PassTotals,
    RasterMaps,
)
from geocarbon.errors import collecting_warnings
from geocarbon.inputs.arrays import check_lazy_off_dask
from geocarbon.inputs.densities import CarbonTable
from geocarbon.inputs.landcover import (
    LandCoverSource,
    as_source,
)
from geocarbon.lookup import ClassLookup, build_class_lookup, density_by_bin
from geocarbon.outputs.folder import OutputFolder
from geocarbon.outputs.provenance import RunProvenance
from geocarbon.outputs.spec import raster_bands, stock_outputs
from geocarbon.outputs.tables import (
    write_csv,
    write_json,
)
from geocarbon.runs.arrays_out import pass_with_outputs
from geocarbon.runs.common import (
    RunOptions,
    check_unknown,
    normalise,
    prepare_table,
    warn_nodata_classes,
)
from geocarbon.units import POOLS

if TYPE_CHECKING:
    import xarray as xr

RASTER_NAMES = (*POOLS, "total")


@dataclass(frozen=True, kw_only=True)
class StockConfig(RunOptions):
    """Everything a stock run needs; paths (str or Path) are validated by :func:`run_stock`.
    ``landcover`` may also be a described array (:func:`geocarbon.inputs.arrays.landcover_from_array`);
    without ``out_dir`` nothing is written and the rasters come back as DataArrays."""

    landcover: Path | list[Path] | LandCoverSource
    densities: str | Path | CarbonTable
    out_dir: Path | None = None
    write_rasters: bool = True
    #: A Dask scheduler address or ``local:N``: run the pixel pass on a cluster.
    dask: str | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.landcover, list | LandCoverSource):
            normalise(self, "landcover", as_path(self.landcover, "landcover"))
        normalise(self, "out_dir", as_optional_path(self.out_dir, "out_dir"))


@dataclass(frozen=True)
class StockResult:
    """Outputs of a stock run: the per-class table, the summary document and the files written;
    without an output folder, ``rasters`` holds the density rasters (Mg C/ha) by file stem."""

    classes: pd.DataFrame
    summary: dict[str, Any]
    outputs: tuple[Path, ...]
    rasters: dict[str, xr.DataArray] = field(default_factory=dict)


def run_stock(config: StockConfig) -> StockResult:
    """Carbon density rasters (Mg C/ha, COG) and a per-class stock summary for one land-cover map.

    Raises
    ------
    GeoCarbonError
        Bad table, bad raster, unknown codes (``unknown="error"``) or existing outputs; nothing
        is written in that case.
    """
    # Blocks are read once and written once: a small GDAL block cache keeps memory bounded.
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), collecting_warnings():
        return _run_stock(config)


def _run_stock(config: StockConfig) -> StockResult:
    out_dir = config.out_dir
    paths = {} if out_dir is None else stock_outputs(out_dir, rasters=config.write_rasters)
    landcover = config.landcover
    output = OutputFolder(
        out_dir,
        list(paths.values()),
        inputs=[landcover.path if isinstance(landcover, LandCoverSource) else landcover]
        + ([] if isinstance(config.densities, CarbonTable) else [config.densities]),
        overwrite=config.overwrite,
        command="stock",
    )
    source = as_source(landcover, nodata=config.nodata)
    check_lazy_off_dask([source], config.dask)
    table = prepare_table(config.densities, config.scheme, encoding=config.encoding)
    warn_nodata_classes([source], table)
    area = pixel_area(source.grid, config.area_method)
    lookup = build_class_lookup(table.codes, dtype=source.dtype)
    density = density_by_bin(table.central_mg_per_ha, unknown_as_zero=config.unknown == "zero")
    # Without a folder, the files a run would write name the rasters it returns.
    bands = raster_bands("stock", stock_outputs(out_dir or Path(), rasters=config.write_rasters))
    plan = PassPlan(
        (source,),
        (lookup,),
        area,
        rasters=RasterMaps(density, dates=(0,)) if bands else None,
    )

    def check(totals: PassTotals) -> None:
        check_unknown([(totals.dates[0], lookup, source)], table, config.unknown)

    with output as staged:
        totals_by_date, rasters = pass_with_outputs(
            plan,
            config.stream_options(source),
            staged,
            bands,
            config,
            dask=config.dask,
            in_memory=out_dir is None,
            provenance=RunProvenance.of(table.source, scheme=table.scheme, area_method=area.method),
            check=check,
        )
        histogram = totals_by_date.dates[0]
        classes = class_stock_table(histogram.area_ha[0], histogram.pixel_count[0], table)
        totals = stock_totals(
            histogram.area_ha[0],
            histogram.pixel_count[0],
            lookup,
            classes,
            unknown_mode=config.unknown,
        )
        summary = _summary_document(
            source, table, area, lookup, totals_by_date, classes, totals, config
        )
        if paths:
            write_csv(with_total_row(classes, totals), staged.temp(paths["summary_csv"]))
            write_json(summary, staged.temp(paths["summary_json"]))
    return StockResult(classes, summary, tuple(paths.values()), rasters)


def _summary_document(
    source: LandCoverSource,
    table: CarbonTable,
    area: PixelArea,
    lookup: ClassLookup,
    pass_totals: PassTotals,
    classes: pd.DataFrame,
    totals: StockTotals,
    config: StockConfig,
) -> dict[str, Any]:
    return run_summary(
        "stock",
        sources=[source],
        years=None,
        table=table,
        area=area,
        dates=[(pass_totals.dates[0], lookup)],
        unknown_mode=config.unknown,
        nodata_override=config.nodata,
        coverage=None,
        reading=pass_totals.reading,
        section={
            "pixel_count": totals.pixel_count,
            "area_ha": totals.area_ha,
            "totals": totals.stock_mg,
            "classes": classes.to_dict(orient="records"),
        },
    )
