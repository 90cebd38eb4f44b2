"""The repository's small, synthetic, deterministic sample: two land-cover maps and some regions.

Owns the making of ``rasters/clcd_2000.tif``, ``rasters/clcd_2020.tif`` and
``vectors/regions.gpkg`` / ``vectors/regions.geojson``. The landscape is invented: smooth random
fields (white noise Gaussian-filtered by FFT, fixed seeds) shape hills, a river, a lake and a
town on a real-looking grid in Zhejiang, China. Pure NumPy (no scipy). The pipeline must never
depend on this module, and unit tests build their own tiny inputs instead of using the sample.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from numpy.typing import NDArray

from geocarbon.errors import GeoCarbonError, OutputExistsError

_Grid = NDArray[np.float64]  # one float per pixel (or per column, for curves)

SEED = 20_002_020
N_ROWS, N_COLS = 600, 800
PIXEL_SIZE_DEG = 0.00025
WEST_LON_DEG, NORTH_LAT_DEG = 119.60, 30.05
PIXEL_SIZE_M = 25.0  # roughly 0.00025 degrees at 30 N; only used for slope
CRS = "EPSG:4326"
NODATA = 0
CROPLAND, FOREST, SHRUB, GRASSLAND, WATER, SNOW_ICE, BARREN, IMPERVIOUS, WETLAND = range(1, 10)

# Seed point (lon, lat), adcode, name, parent adcode, parent name. All codes are fake (99xxxx).
_REGIONS: tuple[tuple[tuple[float, float], int, str, int, str], ...] = (
    ((119.635, 30.020), 990101, "Qingshan (synthetic)", 990100, "Xiling Prefecture (synthetic)"),
    ((119.640, 29.955), 990102, "Baishui (synthetic)", 990100, "Xiling Prefecture (synthetic)"),
    ((119.705, 29.950), 990103, "Hexi (synthetic)", 990100, "Xiling Prefecture (synthetic)"),
    ((119.700, 30.025), 990201, "Songlin (synthetic)", 990200, "Donghe Prefecture (synthetic)"),
    ((119.760, 30.010), 990202, "Dongling (synthetic)", 990200, "Donghe Prefecture (synthetic)"),
    ((119.755, 29.935), 990203, "Nanxi (synthetic)", 990200, "Donghe Prefecture (synthetic)"),
)
_REGION_FIELDS = ["adcode", "name", "parent_adcode", "parent_name"]
# Outer limit of the regions (lon lat): pokes past the raster's west edge, stops short of its east.
_REGIONS_OUTLINE_WKT = (
    "POLYGON ((119.603 30.047, 119.700 30.049, 119.785 30.044, 119.778 29.960, 119.760 29.903, "
    "119.640 29.902, 119.606 29.930, 119.582 29.940, 119.580 29.975, 119.603 29.985, "
    "119.603 30.047))"
)
# 0.00025-degree pixels from the upper-left corner; rows run south
_TRANSFORM = rasterio.Affine.translation(WEST_LON_DEG, NORTH_LAT_DEG) @ rasterio.Affine.scale(
    PIXEL_SIZE_DEG, -PIXEL_SIZE_DEG
)


@dataclass(frozen=True)
class SamplePaths:
    """Where :func:`make_sample` wrote the sample: land cover (2000, 2020) and the regions layer."""

    landcover: tuple[Path, Path]
    regions: Path


@dataclass(frozen=True)
class _Terrain:
    """Per-pixel fields (N_ROWS x N_COLS) that both dates are classified from."""

    elevation_m: _Grid
    slope_deg: _Grid
    river_distance_px: _Grid
    road_distance_px: _Grid
    lake_index: _Grid  # < 1 inside the lake, grows outwards
    urban_index_px: _Grid  # distance-like: small near the town and along the road


def _smooth_field(stream: int, sigma_px: float, shape: tuple[int, int] = (N_ROWS, N_COLS)) -> _Grid:
    """Gaussian-filtered white noise from seed (SEED, stream), scaled to mean 0 and std 1."""
    pad_px = int(3 * sigma_px)  # keeps FFT wrap-around from tying opposite edges together
    padded = (shape[0] + 2 * pad_px, shape[1] + 2 * pad_px)
    noise = np.random.default_rng((SEED, stream)).standard_normal(padded)
    freq_rows = np.fft.fftfreq(padded[0])[:, np.newaxis]
    freq_cols = np.fft.rfftfreq(padded[1])[np.newaxis, :]
    # Fourier transform of a Gaussian kernel with standard deviation sigma_px
    transfer = np.exp(-2.0 * (np.pi * sigma_px) ** 2 * (freq_rows**2 + freq_cols**2))
    field = np.fft.irfft2(np.fft.rfft2(noise) * transfer, s=padded)
    field = field[pad_px : pad_px + shape[0], pad_px : pad_px + shape[1]]
    return (field - field.mean()) / field.std()


def _distance_to_curve_px(rows: _Grid, curve_row_by_col: _Grid) -> _Grid:
    """Approximate perpendicular distance (pixels) to a curve given as one row per column."""
    steepness = np.gradient(curve_row_by_col)
    return np.abs(rows - curve_row_by_col) / np.sqrt(1.0 + steepness**2)


def _make_terrain() -> _Terrain:
    """Hills, a meandering river in a valley, a lake basin and a town on the valley road."""
    rows, cols = np.indices((N_ROWS, N_COLS), dtype=np.float64)
    col_index = np.arange(N_COLS, dtype=np.float64)
    meander = _smooth_field(1, 40.0, shape=(1, N_COLS))[0]
    river_row = 330.0 + 95.0 * np.sin(2 * np.pi * col_index / 650.0 + 0.6) + 25.0 * meander
    river_distance_px = _distance_to_curve_px(rows, river_row)
    road_distance_px = _distance_to_curve_px(rows, river_row - 42.0)

    lake_row, lake_col = river_row[590] - 95.0, 590.0
    lake_index = np.hypot((rows - lake_row) / 38.0, (cols - lake_col) / 70.0)
    lake_index += 0.18 * _smooth_field(2, 8.0)  # a ragged shoreline

    hills_m = 300.0 + 170.0 * _smooth_field(3, 70.0) + 70.0 * _smooth_field(4, 22.0)
    hills_m += 15.0 * _smooth_field(5, 6.0)  # rough detail on the slopes
    # Valleys: blend the hills towards a flat floor near the river and around the lake
    floor_weight = np.maximum(
        np.exp(-((river_distance_px / 75.0) ** 2)),
        np.exp(-((np.maximum(lake_index - 1.0, 0.0) / 0.8) ** 2)),
    )
    elevation_m = np.maximum(floor_weight * 45.0 + (1.0 - floor_weight) * hills_m, 40.0)
    grad_rows, grad_cols = np.gradient(elevation_m, PIXEL_SIZE_M)
    slope_deg = np.degrees(np.arctan(np.hypot(grad_rows, grad_cols)))

    town_row, town_col = river_row[230] - 42.0, 230.0
    town_distance_px = np.hypot(rows - town_row, cols - town_col)
    # The town grows along the road: distance to the road counts three times as much
    urban_index_px = town_distance_px + 3.0 * road_distance_px + 20.0 * _smooth_field(6, 6.0)
    return _Terrain(
        elevation_m, slope_deg, river_distance_px, road_distance_px, lake_index, urban_index_px
    )


def _study_area() -> NDArray[np.bool_]:
    """True inside an irregular outline; a ring of nodata always runs along the raster border."""
    rows, cols = np.indices((N_ROWS, N_COLS), dtype=np.float64)
    # A squarish superellipse (exponent 3) with a wobbly edge
    superellipse = np.abs((rows - 300.0) / 262.0) ** 3 + np.abs((cols - 400.0) / 362.0) ** 3
    outline_index = np.cbrt(superellipse) + 0.05 * _smooth_field(7, 30.0)
    edge_distance_px = np.minimum.reduce([rows, cols, N_ROWS - 1 - rows, N_COLS - 1 - cols])
    return (outline_index < 1.0) & (edge_distance_px >= 4)


def _classify_2000(terrain: _Terrain, in_study_area: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """Land cover in 2000 from terrain; later assignments override earlier ones."""
    landcover = np.full((N_ROWS, N_COLS), FOREST, dtype=np.uint8)
    height_m = terrain.elevation_m + 25.0 * _smooth_field(10, 12.0)
    mixed = _smooth_field(11, 10.0)
    slopes = (height_m < 210.0) & (terrain.slope_deg < 25.0)
    landcover[slopes & (mixed > 0.0)] = SHRUB
    landcover[slopes & (mixed <= 0.0)] = GRASSLAND
    landcover[(height_m < 120.0) & (terrain.slope_deg < 12.0)] = CROPLAND
    landcover[(_smooth_field(12, 4.0) > 2.6) & (terrain.elevation_m > 120.0)] = BARREN
    wet_banks = (terrain.river_distance_px < 10.0) & (_smooth_field(13, 6.0) > 0.4)
    landcover[wet_banks | (terrain.lake_index < 1.3)] = WETLAND
    landcover[(terrain.river_distance_px < 3.0) | (terrain.lake_index < 1.0)] = WATER
    built_up = (terrain.urban_index_px < 70.0) | (terrain.road_distance_px < 1.0)
    landcover[built_up & (landcover != WATER)] = IMPERVIOUS
    landcover[~in_study_area] = NODATA
    return landcover


def _change_to_2020(terrain: _Terrain, landcover_2000: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Land cover in 2020: afforestation, wetland reclamation, clear-cuts and urban growth."""
    landcover = landcover_2000.copy()
    open_land = (landcover_2000 == CROPLAND) | (landcover_2000 == GRASSLAND)
    afforested = open_land & (terrain.slope_deg > 4.0) & (_smooth_field(20, 15.0) > 0.5)
    landcover[afforested] = FOREST
    landcover[(landcover_2000 == WETLAND) & (_smooth_field(21, 10.0) > 0.0)] = CROPLAND
    landcover[(landcover_2000 == FOREST) & (_smooth_field(22, 5.0) > 2.3)] = GRASSLAND
    urban_growth = (terrain.urban_index_px < 115.0) & (open_land | (landcover == CROPLAND))
    landcover[urban_growth] = IMPERVIOUS
    landcover[landcover_2000 == NODATA] = NODATA  # same nodata pixels as 2000
    return landcover


def _regions_frame() -> gpd.GeoDataFrame:
    """Voronoi cells of the fixed seed points, clipped to the regions' outline."""
    outline = shapely.from_wkt(_REGIONS_OUTLINE_WKT)
    seeds = [shapely.Point(region[0]) for region in _REGIONS]
    cells = shapely.voronoi_polygons(shapely.MultiPoint(seeds), extend_to=outline).geoms
    # voronoi_polygons does not keep the input order, so find each seed's own cell
    polygons = [
        shapely.intersection(next(c for c in cells if c.contains(s)), outline) for s in seeds
    ]
    attributes = [region[1:] for region in _REGIONS]
    return gpd.GeoDataFrame(attributes, columns=_REGION_FIELDS, geometry=polygons, crs=CRS)


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write`` on a temporary name in the same folder, then rename it to ``path``."""
    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    partial.unlink(missing_ok=True)
    try:
        write(partial)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _write_landcover(path: Path, landcover: NDArray[np.uint8]) -> None:
    grid = {"width": N_COLS, "height": N_ROWS, "crs": CRS, "transform": _TRANSFORM}
    encoding = {"count": 1, "dtype": "uint8", "nodata": NODATA, "tiled": True}
    # predictor 2 (horizontal differencing) shrinks patchy class maps under DEFLATE
    tiling = {"blockxsize": 256, "blockysize": 256, "compress": "deflate", "predictor": 2}
    with rasterio.open(path, "w", driver="GTiff", **grid, **encoding, **tiling) as dataset:
        dataset.write(landcover, 1)


def _refuse_existing(paths: Sequence[Path]) -> None:
    existing = [str(path) for path in paths if path.exists()]
    if existing:
        raise OutputExistsError(
            f"Sample output already exists: {', '.join(existing)}. Pass overwrite=True "
            "(--overwrite on the command line) to replace it, or choose other folders."
        )


def make_sample(raster_dir: Path, vector_dir: Path, *, overwrite: bool = False) -> SamplePaths:
    """Write the synthetic sample land cover (2000, 2020) and regions; same bytes of data each run.

    Parameters
    ----------
    raster_dir : Path
        Folder for ``clcd_2000.tif`` and ``clcd_2020.tif``: uint8 CLCD codes 1-9, nodata 0,
        EPSG:4326, 800 x 600 pixels of 0.00025 degrees, upper-left corner 119.60 E, 30.05 N.
    vector_dir : Path
        Folder for ``regions.gpkg`` (layer ``regions``) and ``regions.geojson``: six synthetic
        counties with ``adcode``, ``name``, ``parent_adcode`` and ``parent_name``.
    overwrite : bool
        Replace existing sample files instead of refusing.

    Returns
    -------
    SamplePaths
        Paths of the two land-cover rasters and the GeoPackage.

    Raises
    ------
    OutputExistsError
        If any output exists and ``overwrite`` is false; nothing is written then.
    """
    raster_dir, vector_dir = Path(raster_dir), Path(vector_dir)
    paths = SamplePaths(
        landcover=(raster_dir / "clcd_2000.tif", raster_dir / "clcd_2020.tif"),
        regions=vector_dir / "regions.gpkg",
    )
    geojson_path = vector_dir / "regions.geojson"
    if not overwrite:
        _refuse_existing([*paths.landcover, paths.regions, geojson_path])
    raster_dir.mkdir(parents=True, exist_ok=True)
    vector_dir.mkdir(parents=True, exist_ok=True)

    terrain = _make_terrain()
    landcover_2000 = _classify_2000(terrain, _study_area())
    landcover_2020 = _change_to_2020(terrain, landcover_2000)
    for path, landcover in zip(paths.landcover, (landcover_2000, landcover_2020), strict=True):
        _write_atomically(path, functools.partial(_write_landcover, landcover=landcover))
    regions = _regions_frame()
    _write_atomically(
        paths.regions, functools.partial(regions.to_file, layer="regions", driver="GPKG")
    )
    _write_atomically(geojson_path, functools.partial(regions.to_file, driver="GeoJSON"))
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m geocarbon.sample --rasters DIR --vectors DIR [--overwrite]``."""
    parser = argparse.ArgumentParser(prog="python -m geocarbon.sample", description=__doc__)
    parser.add_argument("--rasters", type=Path, default=Path("rasters"), help="GeoTIFF folder")
    parser.add_argument("--vectors", type=Path, default=Path("vectors"), help="GPKG/GeoJSON folder")
    parser.add_argument("--overwrite", action="store_true", help="replace existing sample files")
    args = parser.parse_args(argv)
    try:
        paths = make_sample(args.rasters, args.vectors, overwrite=args.overwrite)
    except GeoCarbonError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    print(f"Wrote {paths.landcover[0]}, {paths.landcover[1]} and {paths.regions} (+ .geojson)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
