"""The Python entry points for land cover given as paths, NumPy (masked) arrays or rioxarray
DataArrays: :func:`carbon_stock`, :func:`zonal_stocks` and :func:`stock_change` build a run's
config and run it.

A dask-backed DataArray (``rioxarray.open_rasterio(path, chunks=...)``) is processed chunk by
chunk on threads, never loaded whole (:mod:`geocarbon.inputs.arrays`); on a Dask cluster
(``dask=``) pass the file's path instead. Without ``out_dir``, :func:`carbon_stock` and
:func:`stock_change` return their rasters as DataArrays (``result.rasters``), lazy when the land
cover was (:mod:`geocarbon.runs.arrays_out`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd

from geocarbon.accounts.uncertainty import MonteCarlo
from geocarbon.accounts.valuation import Valuation
from geocarbon.config import (
    DEFAULT_AREA_METHOD,
    DEFAULT_COVERAGE,
    DEFAULT_MEMORY_MB,
    DEFAULT_SOIL_TRANSITION_YEARS,
    DEFAULT_UNKNOWN,
    as_optional_path,
    check_threads,
    default_threads,
)
from geocarbon.inputs.arrays import landcover_from_array
from geocarbon.inputs.densities import CarbonTable
from geocarbon.inputs.growth import GrowthTable
from geocarbon.inputs.landcover import LandCoverSource
from geocarbon.runs.change import DEFAULT_MONTE_CARLO, ChangeConfig, ChangeResult, run_change
from geocarbon.runs.stock import StockConfig, StockResult, run_stock
from geocarbon.runs.zonal import ZonalConfig, run_zonal

#: What a land cover may be: a path (str or Path), a list of tiles, or an array (see below).
LandCover = Any


def landcover_input(
    landcover: LandCover, *, transform: Any, crs: Any, nodata: int | None, dtype: Any
) -> Path | list[Path] | LandCoverSource:
    """A path (str, Path or path-like) or list of tiles as paths; anything else (NumPy or masked
    array, rioxarray DataArray, dask-backed or not) described by
    :func:`~geocarbon.inputs.arrays.landcover_from_array`."""
    if isinstance(landcover, list):
        return [Path(tile) for tile in landcover]
    if isinstance(landcover, str | os.PathLike):
        return Path(landcover)
    if isinstance(landcover, LandCoverSource):
        return landcover
    return landcover_from_array(landcover, transform=transform, crs=crs, nodata=nodata, dtype=dtype)


def _is_path(landcover: LandCover) -> bool:
    return isinstance(landcover, str | os.PathLike | list)


def carbon_stock(
    landcover: LandCover,
    densities: str | Path | CarbonTable,
    *,
    scheme: str | None = None,
    unknown: str = DEFAULT_UNKNOWN,
    area_method: str = DEFAULT_AREA_METHOD,
    encoding: str | None = None,
    transform: Any = None,
    crs: Any = None,
    nodata: int | None = None,
    dtype: Any = None,
    out_dir: str | Path | None = None,
    write_rasters: bool = True,
    overwrite: bool = False,
    memory_mb: int = DEFAULT_MEMORY_MB,
    threads: int | str | None = None,
    block_shape: tuple[int, int] | None = None,
    progress: bool | None = None,
    dask: str | None = None,
) -> StockResult:
    """Carbon density rasters per pool and total (Mg C/ha) and a stock summary per class.

    Parameters
    ----------
    landcover
        A land-cover GeoTIFF path (str or Path, or a folder or list of tiles), a 2-D integer,
        float (NaN = no data) or masked array (with ``transform`` and ``crs``), or a rioxarray
        DataArray, dask-backed ones read chunk by chunk.
    densities
        A density-table CSV path, a built-in table name (``"china-clcd"``) or a :class:`CarbonTable`.
    scheme, unknown, area_method, encoding, nodata
        As the CLI's ``--scheme``, ``--unknown``, ``--area``, ``--encoding`` and ``--nodata``.
    dtype
        The integer dtype of a float array's class codes (``"uint8"``); by default the one its
        DataArray declares (see :mod:`geocarbon.inputs.arrays`).
    out_dir, write_rasters, overwrite
        Where to write the rasters and tables; None writes nothing and returns the rasters in
        ``result.rasters`` (DataArrays by file stem) unless ``write_rasters`` is False.
    memory_mb, threads, block_shape, progress, dask
        How the pass runs (see :func:`zonal_stocks`).

    Returns
    -------
    StockResult
        ``classes`` (per class: area in ha, density in Mg C/ha, stock in Mg C), ``summary``,
        ``outputs`` (files written) and ``rasters``.
    """
    source = landcover_input(landcover, transform=transform, crs=crs, nodata=nodata, dtype=dtype)
    config = StockConfig(
        landcover=source,
        densities=densities,
        scheme=scheme,
        unknown=unknown,
        area_method=area_method,
        encoding=encoding,
        nodata=nodata if _is_path(landcover) else None,
        out_dir=as_optional_path(out_dir, "out_dir"),
        write_rasters=write_rasters,
        overwrite=overwrite,
        memory_mb=memory_mb,
        threads=default_threads() if threads is None else check_threads(threads),
        block_shape=block_shape,
        progress=progress,
        dask=dask,
    )
    return run_stock(config)


def zonal_stocks(
    landcover: Any,
    regions: str | Path | gpd.GeoDataFrame,
    densities: str | Path | CarbonTable,
    *,
    id_field: str,
    name_field: str | None = None,
    parent_field: str | None = None,
    layer: str | None = None,
    coverage: str = DEFAULT_COVERAGE,
    scheme: str | None = None,
    unknown: str = DEFAULT_UNKNOWN,
    area_method: str = DEFAULT_AREA_METHOD,
    encoding: str | None = None,
    transform: Any = None,
    crs: Any = None,
    nodata: int | None = None,
    dtype: Any = None,
    out_dir: str | Path | None = None,
    overwrite: bool = False,
    memory_mb: int = DEFAULT_MEMORY_MB,
    threads: int | str | None = None,
    block_shape: tuple[int, int] | None = None,
    progress: bool | None = None,
    dask: str | None = None,
) -> gpd.GeoDataFrame:
    """Carbon stocks by region from a land cover, in one pass.

    Parameters
    ----------
    landcover
        A land-cover GeoTIFF path (str or Path, or a folder or list of tiles), a 2-D integer,
        float (NaN = no data) or masked array (with ``transform`` and ``crs``), or a rioxarray
        DataArray; a dask-backed one is read chunk by chunk, never loaded whole.
    regions
        A vector file path or a GeoDataFrame of polygons; ``layer`` names a layer of the file.
    densities
        A density-table CSV path, a built-in table name (``"china-clcd"``) or a :class:`CarbonTable`.
    id_field, name_field, parent_field
        Region id (also the key of region-specific densities), display name and parent id fields.
    coverage
        Pixel membership: "centre", "all-touched" or "exact".
    scheme, unknown, area_method, encoding, nodata
        As the CLI's ``--scheme``, ``--unknown``, ``--area``, ``--encoding`` and ``--nodata``
        (``nodata`` replaces the land cover's own nodata value, for paths and arrays alike).
    dtype
        The integer dtype of a float array's class codes (``"uint8"``); by default the one its
        DataArray declares (see :mod:`geocarbon.inputs.arrays`).
    out_dir, overwrite
        Where to write the region files (None writes nothing), and whether to replace them.
    memory_mb, threads, block_shape, progress, dask
        How the pass runs: memory budget, worker threads (a number or "all"), block shape,
        progress bar (None: on terminals), and a Dask scheduler address or ``local:N``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per region (areas in ha, stocks in Mg C and Tg C, mean density in Mg C/ha) and a
        final ``unassigned`` row without geometry.
    """
    source = landcover_input(landcover, transform=transform, crs=crs, nodata=nodata, dtype=dtype)
    config = ZonalConfig(
        landcover=source,
        regions=regions,
        densities=densities,
        id_field=id_field,
        name_field=name_field,
        parent_field=parent_field,
        layer=layer,
        coverage=coverage,
        scheme=scheme,
        unknown=unknown,
        area_method=area_method,
        encoding=encoding,
        nodata=nodata if _is_path(landcover) else None,
        out_dir=as_optional_path(out_dir, "out_dir"),
        overwrite=overwrite,
        memory_mb=memory_mb,
        threads=default_threads() if threads is None else check_threads(threads),
        block_shape=block_shape,
        progress=progress,
        dask=dask,
    )
    return run_zonal(config).regions


def stock_change(
    landcovers: Sequence[Any],
    years: Sequence[int],
    densities: str | Path | CarbonTable,
    *,
    regions: str | Path | gpd.GeoDataFrame | None = None,
    id_field: str | None = None,
    name_field: str | None = None,
    parent_field: str | None = None,
    layer: str | None = None,
    coverage: str = DEFAULT_COVERAGE,
    align_to: str | None = None,
    valuation: Valuation | None = None,
    monte_carlo: MonteCarlo | None = DEFAULT_MONTE_CARLO,
    scheme: str | None = None,
    unknown: str = DEFAULT_UNKNOWN,
    area_method: str = DEFAULT_AREA_METHOD,
    encoding: str | None = None,
    transform: Any = None,
    crs: Any = None,
    nodata: int | None = None,
    dtype: Any = None,
    out_dir: str | Path | None = None,
    write_rasters: bool = True,
    date_rasters: bool = False,
    overwrite: bool = False,
    memory_mb: int = DEFAULT_MEMORY_MB,
    threads: int | str | None = None,
    block_shape: tuple[int, int] | None = None,
    progress: bool | None = None,
    dask: str | None = None,
    growth: str | Path | GrowthTable | None = None,
    ages: str | Path | None = None,
    initial_age: float | None = None,
    soil_transition_years: float = DEFAULT_SOIL_TRANSITION_YEARS,
    density_rasters: Sequence[str] = (),
    carbon_fraction: float | None = None,
    density_factors: str | Path | None = None,
    ipcc_categories: str | Path | None = None,
) -> ChangeResult:
    """Carbon stock change between land-cover dates, optionally by region.

    Parameters
    ----------
    landcovers
        Two or more land covers, oldest first: GeoTIFF paths (str or Path, or folders or lists
        of tiles), 2-D integer, float (NaN = no data) or masked arrays (with ``transform`` and
        ``crs``) or rioxarray DataArrays, dask-backed ones read chunk by chunk.
    years
        The year of each land cover.
    densities
        A density-table CSV path, a built-in name (``"china-clcd"``) or a :class:`CarbonTable`.
    regions, id_field, name_field, parent_field, layer, coverage
        Optional region polygons (path, PostGIS connection or GeoDataFrame; ``id_field`` then
        required), as for :func:`zonal_stocks`; ``parent_field`` adds ``result.parents``
        (every period's change per parent id, and ``parents.csv``).
    align_to
        "first" or a raster path: resample dates on other grids onto it (nearest neighbour).
    valuation, monte_carlo
        A :class:`~geocarbon.accounts.valuation.Valuation` (NPV), and the Monte Carlo draws (None: none).
    scheme, unknown, area_method, encoding, nodata
        As the CLI's options (``nodata`` replaces every date's nodata value).
    dtype
        The integer dtype of float arrays' class codes (see :func:`zonal_stocks`).
    out_dir, write_rasters, date_rasters, overwrite
        Where to write rasters and tables, and which. None writes nothing and returns the
        rasters in ``result.rasters`` (DataArrays by file stem, lazy when a land cover is
        dask-backed) unless ``write_rasters`` is False.
    memory_mb, threads, block_shape, progress, dask
        How the pass runs (see :func:`~geocarbon.runs.zonal.zonal_stocks`).
    growth, ages, initial_age, soil_transition_years
        Sink accounting: growth rates of land that stays in its class (a CSV path, a built-in
        name such as ``"china-clcd"`` or a :class:`~geocarbon.inputs.growth.GrowthTable`), a
        raster of ages at the first date, the age of land without one, and the years over which
        soil carbon follows a conversion (0: at once, as InVEST).
    density_rasters, carbon_fraction, density_factors
        Pool densities from maps (``"soil=soc.tif"``, ``"above@2020=agb.tif"``), a carbon
        fraction when they hold biomass, and per-class factors (CSV).
    ipcc_categories
        A CSV ``class_code,ipcc_category`` overriding the scheme's IPCC land categories.
    """
    has_paths = any(_is_path(item) for item in landcovers)
    sources = tuple(
        landcover_input(item, transform=transform, crs=crs, nodata=nodata, dtype=dtype)
        for item in landcovers
    )
    config = ChangeConfig(
        landcovers=sources,
        years=tuple(years),
        densities=densities,
        regions=regions,
        id_field=id_field,
        name_field=name_field,
        parent_field=parent_field,
        layer=layer,
        coverage=coverage,
        align_to=align_to,
        valuation=valuation,
        monte_carlo=monte_carlo,
        scheme=scheme,
        unknown=unknown,
        area_method=area_method,
        encoding=encoding,
        nodata=nodata if has_paths else None,
        out_dir=as_optional_path(out_dir, "out_dir"),
        write_rasters=write_rasters,
        date_rasters=date_rasters,
        overwrite=overwrite,
        memory_mb=memory_mb,
        threads=default_threads() if threads is None else check_threads(threads),
        block_shape=block_shape,
        progress=progress,
        dask=dask,
        growth=growth,
        ages=as_optional_path(ages, "ages"),
        initial_age=initial_age,
        soil_transition_years=soil_transition_years,
        density_rasters=tuple(density_rasters),
        carbon_fraction=carbon_fraction,
        density_factors=as_optional_path(density_factors, "density_factors"),
        ipcc_categories=as_optional_path(ipcc_categories, "ipcc_categories"),
    )
    return run_change(config)
