"""Density maps as pool sources: a pool's density (Mg C/ha) from a raster instead of the table.

A map (ESA CCI Biomass, SoilGrids SOC stock, a national carbon map) is read by blocks onto the
land-cover grid through a GDAL WarpedVRT, never whole: ``nearest`` on the land cover's own grid
(exact), ``average`` from a finer map (the mean density under a land-cover pixel: densities are
per hectare, so averaging, not summing), ``bilinear`` from a coarser one (smooth, not blocky).
NaN where the map has nodata or NaN, lies outside the map, or is negative after scale and offset
(declare a negative nodata, gdal_edit.py -a_nodata -9999, so resampling never mixes it in).
A date uses the map of its year; between two listed years the density is linear per pixel (NaN
where either map is), beyond them the first or last map. A map without a year serves every date.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.warp
from numpy.typing import NDArray
from rasterio.enums import Resampling
from rasterio.errors import CRSError, RasterioError
from rasterio.transform import array_bounds
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from geocarbon.blocks import Block
from geocarbon.errors import (
    ConfigError,
    GridMismatchError,
    InputFileError,
    RasterFormatError,
    said,
)
from geocarbon.grid import GEOREFERENCE_FIX, GridSpec
from geocarbon.inputs.factors import read_factor_table
from geocarbon.units import POOLS
from geocarbon.vrt import VSI_PREFIX, check_vrt_sources, ignore_not_georeferenced

#: The CLI form of a density map, as messages quote it.
CLI_FORM = f"POOL=PATH or POOL@YEAR=PATH (POOL: {', '.join(POOLS)}), e.g. soil@2020=soc.tif"
#: IPCC default carbon fraction of dry matter (2006 Guidelines, Vol. 4, Table 4.3).
IPCC_CARBON_FRACTION = 0.47
# rasterio's WarpedVRT refuses a tolerance of 0 (GDAL error); a vanishing one keeps the
# approximate transformer exact, so a pixel reads the same whatever block it is read in.
_WARP_TOLERANCE_PIXELS = 1e-9
_SPEC_TEXT = re.compile(r"\s*([A-Za-z]+)\s*(?:@\s*([0-9]+))?\s*=(.+)")
# Names GDAL opens that are no file on disk: /vsizip/..., NETCDF:"file.nc":agb, HDF5:...
_GDAL_NAME = re.compile(rf"{VSI_PREFIX}|[A-Za-z0-9_]{{2,}}:")


@dataclass(frozen=True)
class DensityRasterSpec:
    """One density map: pool (index into ``POOLS``), year (None: every date) and file."""

    pool: int
    year: int | None
    path: Path | str

    @property
    def label(self) -> str:
        year = "" if self.year is None else f"@{self.year}"
        return f"{POOLS[self.pool]}{year} density map {str(self.path)!r}"


def parse_density_raster(text: str) -> DensityRasterSpec:
    """A spec from CLI text ``POOL=PATH`` or ``POOL@YEAR=PATH``."""
    match = _SPEC_TEXT.fullmatch(text)
    pool = match.group(1).lower() if match else ""
    if match is None or pool not in POOLS or not match.group(3).strip():
        reason = f"{pool!r} is not a pool" if match and pool not in POOLS else "it is not"
        raise ConfigError(f"Density map {text!r} cannot be read ({reason}); write {CLI_FORM}.")
    location = match.group(3).strip()
    path = location if _GDAL_NAME.match(location) else Path(location)
    return DensityRasterSpec(
        POOLS.index(pool), int(match.group(2)) if match.group(2) else None, path
    )


@dataclass(frozen=True)
class DensityMap:
    """A checked map: nodata for the warper (NaN for a float map without), scale, offset."""

    spec: DensityRasterSpec
    nodata: float | None
    scale: float
    offset: float
    resampling: Resampling


@dataclass(frozen=True, eq=False)
class DensityRasters:
    """A run's checked density maps (picklable; files open in each :meth:`reader`); ``factors``
    (n_classes, pools) are per-class multipliers for the caller to apply, 1 where not given."""

    specs: tuple[DensityRasterSpec, ...]
    grid: GridSpec
    years: tuple[int, ...]
    carbon_fraction: float | None = None
    factors: NDArray[np.float64] | None = field(default=None, repr=False)
    maps: tuple[DensityMap, ...] = field(default=(), repr=False)

    @property
    def pools(self) -> tuple[int, ...]:  # indices into POOLS, in pool order
        return tuple(sorted({spec.pool for spec in self.specs}))

    def reader(self) -> DensityRasterReader:
        return DensityRasterReader(self)


def open_density_rasters(
    specs: Iterable[DensityRasterSpec | str],
    grid: GridSpec,
    years: Sequence[int],
    *,
    carbon_fraction: float | None = None,
    factor_table: str | Path | None = None,
    table_codes: Sequence[int] | NDArray[np.integer] | None = None,
    encoding: str | None = None,
) -> DensityRasters:
    """Check maps, options and factor table up front; ``specs`` may be CLI text."""
    parsed = tuple(parse_density_raster(s) if isinstance(s, str) else s for s in specs)
    _check_run_options(parsed, tuple(years), carbon_fraction)
    maps = tuple(describe_density_map(spec, grid) for spec in parsed)
    if factor_table is not None and table_codes is None:
        raise ConfigError(f"Factor table {str(factor_table)!r} needs table_codes= to check.")
    factors = None
    if factor_table is not None and table_codes is not None:
        factors = read_factor_table(factor_table, table_codes, encoding=encoding)
    return DensityRasters(parsed, grid, tuple(years), carbon_fraction, factors, maps)


def _check_run_options(
    specs: tuple[DensityRasterSpec, ...], years: tuple[int, ...], carbon_fraction: float | None
) -> None:
    problems = [f"no density maps were given ({CLI_FORM})"] if not specs else []
    if not years or any(isinstance(y, bool) or not isinstance(y, int | np.integer) for y in years):
        problems.append(f"the run's dates must be whole years, got {list(years)}")
    if carbon_fraction is not None and not 0 < carbon_fraction <= 1:
        problems.append(f"carbon fraction {carbon_fraction!r} is not in (0, 1] (IPCC: 0.47)")
    first: dict[tuple[int, int | None], DensityRasterSpec] = {}
    for spec in specs:
        if (spec.pool, spec.year) in first:
            repeated = str(first[spec.pool, spec.year].path)
            problems.append(f"the {spec.label} repeats {repeated!r}; keep one")
        first.setdefault((spec.pool, spec.year), spec)
    for pool, year in first:
        dated = sorted({y for p, y in first if p == pool and y is not None})
        if year is None and dated:
            problems.append(
                f"pool {POOLS[pool]!r} has a map for every date ({str(first[pool, None].path)!r}) "
                f"and maps for years {dated}; give one map without a year, or every map its year"
            )
    if problems:
        raise ConfigError("Density maps: " + "; ".join(problems) + ".")


def describe_density_map(spec: DensityRasterSpec, grid: GridSpec) -> DensityMap:
    """Open ``spec``'s file, check it (see :func:`open_density_rasters`) and describe it."""
    name = str(spec.path)
    if not _GDAL_NAME.match(name) and not Path(name).is_file():
        raise InputFileError(
            f"The {spec.label} {'is a folder' if Path(name).is_dir() else 'does not exist'}. Give "
            'a raster file (or a GDAL name: /vsizip//abs/file.zip/in.tif, NETCDF:"f.nc":agb).'
        )
    try:
        with ignore_not_georeferenced(), rasterio.open(name) as dataset:
            dtype = np.dtype(dataset.dtypes[0])
            if dataset.count != 1:
                names = [f"{i} {d or ''}".strip() for i, d in enumerate(dataset.descriptions, 1)]
                problem = f"has {dataset.count} bands ({', '.join(names)}); extract the density "
                problem += "band, e.g. gdal_translate -b N in.tif out.tif (or a VRT with -b)"
            elif dtype.kind not in "iuf":
                problem = f"stores {dtype.name} values, not densities (gdal_translate -ot Float32)"
            elif dataset.crs is None:
                problem = "has no CRS; assign one, e.g. gdal_edit.py -a_srs EPSG:4326 file.tif"
            elif dataset.transform.is_identity or dataset.transform.is_degenerate:
                problem = f"has no geotransform {tuple(dataset.transform)[:6]}. {GEOREFERENCE_FIX}"
            else:
                if dataset.driver == "VRT" and not dataset.name.startswith("<"):
                    check_vrt_sources(name, dataset)
                return DensityMap(
                    spec,
                    math.nan if dataset.nodata is None and dtype.kind == "f" else dataset.nodata,
                    float(dataset.scales[0]),
                    float(dataset.offsets[0]),
                    _resampling(dataset, grid, _overlap(spec, dataset, grid)),
                )
    except (RasterioError, CRSError) as exc:
        raise InputFileError(
            f"The {spec.label} cannot be read by GDAL: {said(exc)}. Check that it is a complete raster "
            "file (gdalinfo shows what GDAL sees)."
        ) from exc
    raise RasterFormatError(f"The {spec.label} {problem}")


def _overlap(spec: DensityRasterSpec, dataset: Any, grid: GridSpec) -> tuple[float, ...]:
    """The part of the map (in its CRS) under the land-cover grid; refuse a map beside it."""
    west, south, east, north = grid_bounds = rasterio.warp.transform_bounds(
        grid.crs, dataset.crs, *array_bounds(*grid.shape, grid.transform), densify_pts=21
    )
    left, bottom, right, top = dataset.bounds
    overlap = (max(west, left), max(south, bottom), min(east, right), min(north, top))
    if (overlap[0] >= overlap[2] or overlap[1] >= overlap[3]) and west <= east:
        raise GridMismatchError(
            f"The {spec.label} covers {tuple(round(v, 6) for v in dataset.bounds)} and the land "
            f"cover {grid.name!r} {tuple(round(v, 6) for v in grid_bounds)} in the map's CRS "
            f"({dataset.crs.to_string()}): they do not overlap. Give a map that covers the land cover."
        )
    return overlap


def _resampling(dataset: Any, grid: GridSpec, overlap: tuple[float, ...]) -> Resampling:
    """``nearest`` on the land cover's grid (up to a whole-pixel shift); else ``average`` if a map
    pixel (mid-overlap, in the land cover's CRS) is smaller than a land-cover pixel, or bilinear."""
    map_t, grid_t = dataset.transform, grid.transform
    shift = ~map_t * (grid_t.c, grid_t.f)  # the land cover's corner in map pixels
    same_axes = all(math.isclose(map_t[i], grid_t[i], rel_tol=1e-9) for i in (0, 1, 3, 4))
    if dataset.crs == grid.crs and same_axes and all(abs(v - round(v)) < 1e-6 for v in shift):
        return Resampling.nearest
    centre = ((overlap[0] + overlap[2]) / 2, (overlap[1] + overlap[3]) / 2)
    col, row = (math.floor(v) for v in ~map_t * centre)
    corners = [map_t * (col + dc, row + dr) for dc, dr in ((0, 0), (1, 0), (1, 1), (0, 1))]
    xs, ys = rasterio.warp.transform(dataset.crs, grid.crs, *zip(*corners, strict=True))
    map_area = abs(sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(4))) / 2
    return Resampling.average if map_area < abs(grid_t.determinant) else Resampling.bilinear


def date_weights(map_years: Sequence[int | None], date: int) -> tuple[int, int, float]:
    """(map before, map after, weight of the after) for ``date``, maps of sorted ``map_years``."""
    years = [year for year in map_years if year is not None]
    after = bisect.bisect_left(years, date)  # the first map of ``date`` or later
    if after in (0, len(years)) or years[after] == date:
        return (index := min(after, len(map_years) - 1), index, 0.0)
    return (after - 1, after, (date - years[after - 1]) / (years[after] - years[after - 1]))


class DensityRasterReader:
    """Reads blocks; one handle per thread, opened on first use; pickles without handles."""

    def __init__(self, rasters: DensityRasters) -> None:
        self.rasters = rasters
        maps = rasters.maps or tuple(describe_density_map(s, rasters.grid) for s in rasters.specs)
        self._maps_by_pool = {
            pool: sorted((m for m in maps if m.spec.pool == pool), key=lambda m: m.spec.year or 0)
            for pool in rasters.pools
        }
        self._local = threading.local()
        self._handles: list[Any] = []  # every thread's (list.append is atomic)

    def read(self, block: Block) -> dict[int, NDArray[np.float32]]:
        """Per pool with maps: (n_dates, height, width) float32 Mg C/ha of ``block``."""
        return {pool: self._read_pool(maps, block) for pool, maps in self._maps_by_pool.items()}

    def _read_pool(self, maps: list[DensityMap], block: Block) -> NDArray[np.float32]:
        """Each date from the one or two maps around it (held while consecutive dates use them)."""
        density = np.empty((len(self.rasters.years), block.height, block.width), np.float32)
        held: dict[int, NDArray[np.float32]] = {}
        for d, date in enumerate(self.rasters.years):
            before, after, weight = date_weights([m.spec.year for m in maps], date)
            held = {i: held[i] if i in held else self._map(maps[i], block) for i in {before, after}}
            if weight == 0.0:
                density[d] = held[before]
            else:  # before + (after - before) x weight: exact where both maps agree
                np.subtract(held[after], held[before], out=density[d])
                density[d] *= np.float32(weight)
                density[d] += held[before]
        return density

    def _map(self, density_map: DensityMap, block: Block) -> NDArray[np.float32]:
        """One map's block in Mg C/ha: scale, offset and carbon fraction applied, NaN as above."""
        window = Window(block.col_off, block.row_off, block.width, block.height)
        try:
            values = self._dataset(density_map).read(1, window=window)
        except RasterioError as exc:
            raise InputFileError(
                f"Reading rows {block.row_off}-{block.row_off + block.height} of the "
                f"{density_map.spec.label} failed: {said(exc.__cause__ or exc)} (gdalinfo -checksum)."
            ) from exc
        fraction = self.rasters.carbon_fraction or 1.0
        if (density_map.scale, density_map.offset, fraction) != (1.0, 0.0, 1.0):
            values = values * np.float32(density_map.scale) + np.float32(density_map.offset)
            values *= np.float32(fraction)
        values[values < 0] = np.nan
        return values

    def _dataset(self, density_map: DensityMap) -> Any:
        datasets = self._local.__dict__.setdefault("datasets", {})
        if density_map.spec not in datasets:
            with ignore_not_georeferenced():
                self._handles.append(source := rasterio.open(str(density_map.spec.path)))
            grid = self.rasters.grid
            datasets[density_map.spec] = WarpedVRT(
                source,
                src_nodata=density_map.nodata,
                nodata=math.nan,  # outside the map and where it has no data
                dtype="float32",
                resampling=density_map.resampling,
                tolerance=_WARP_TOLERANCE_PIXELS,
                **dict(
                    crs=grid.crs, transform=grid.transform, width=grid.width, height=grid.height
                ),
            )
            self._handles.insert(0, datasets[density_map.spec])
        return datasets[density_map.spec]

    def close(self) -> None:
        while self._handles:
            self._handles.pop(0).close()
        self._local = threading.local()

    def __enter__(self) -> DensityRasterReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[type[DensityRasterReader], tuple[DensityRasters]]:
        return (DensityRasterReader, (self.rasters,))
