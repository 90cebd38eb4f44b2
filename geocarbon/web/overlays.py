"""Rasters for web maps: reprojected to Web Mercator, downsampled, coloured, written as PNG.

Leaflet places an image overlay by stretching it linearly between two lat/lon corners in Web
Mercator, so the image itself must be in Web Mercator (EPSG:3857); an overlay left in its own CRS
lands hundreds of metres to kilometres off at mid latitudes. Large rasters become an XYZ tile
pyramid instead of one image. matplotlib provides the colour ramps, here and for the classes of
region choropleths (:func:`quantile_edges`, :func:`diverging_edges`, :func:`class_colours`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds

from geocarbon.choices import CHANGE_COLOUR_MAP, DENSITY_COLOUR_MAP

WEB_MERCATOR = CRS.from_epsg(3857)
#: Half the side of the Web Mercator square (m).
MERCATOR_HALF_WIDTH = 20037508.342789244
TILE_PX = 256


@dataclass(frozen=True)
class Ramp:
    """A colour ramp: matplotlib colormap name, value range and units (for the legend)."""

    cmap: str
    vmin: float
    vmax: float
    label: str
    units: str

    def colours(self, n: int = 6) -> list[tuple[float, str]]:
        """``n`` evenly spaced (value, #rrggbb) stops for a legend."""
        import matplotlib

        cmap = matplotlib.colormaps[self.cmap]
        values = np.linspace(self.vmin, self.vmax, n)
        return [
            (float(v), matplotlib.colors.to_hex(cmap(k / (n - 1)))) for k, v in enumerate(values)
        ]


@dataclass(frozen=True)
class Overlay:
    """An RGBA image in Web Mercator and its lat/lon bounds ((south, west), (north, east))."""

    rgba: NDArray[np.uint8]
    bounds: tuple[tuple[float, float], tuple[float, float]]
    mercator_transform: Affine


def ramp_for(path: Path, *, diverging: bool, label: str, units: str) -> Ramp:
    """A ramp spanning the raster's 2nd-98th percentiles (centred on zero when ``diverging``)."""
    with rasterio.open(path) as dataset:
        level = len(dataset.overviews(1))
        sample = _overview_sample(dataset, level)
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return Ramp(
            CHANGE_COLOUR_MAP if diverging else DENSITY_COLOUR_MAP,
            -1.0 if diverging else 0.0,
            1.0,
            label,
            units,
        )
    if diverging:
        bound = float(np.percentile(np.abs(finite), 98)) or 1.0
        return Ramp(CHANGE_COLOUR_MAP, -bound, bound, label, units)
    low, high = (float(v) for v in np.percentile(finite, [2, 98]))
    return Ramp(DENSITY_COLOUR_MAP, low, high if high > low else low + 1.0, label, units)


def _overview_sample(dataset: rasterio.io.DatasetReader, level: int) -> NDArray[np.float64]:
    factor = 2**level
    shape = (max(1, dataset.height // factor), max(1, dataset.width // factor))
    data = dataset.read(1, out_shape=shape, masked=True).astype(np.float64)
    return np.asarray(data.filled(np.nan))


def mercator_overlay(
    path: Path, *, max_px: int, resampling: Resampling = Resampling.average
) -> tuple[NDArray[np.float64], Overlay]:
    """Reproject a single-band raster to Web Mercator, at most ``max_px`` on its longer side.

    Returns the values (NaN where nodata or outside) and an empty-image :class:`Overlay` giving
    the grid; :func:`colour` fills the image.
    """
    with rasterio.open(path) as dataset:
        west, south, east, north = transform_bounds(
            dataset.crs, WEB_MERCATOR, *dataset.bounds, densify_pts=21
        )
        north = min(north, MERCATOR_HALF_WIDTH)
        south = max(south, -MERCATOR_HALF_WIDTH)
        scale = max(east - west, north - south) / max_px
        width = max(1, math.ceil((east - west) / scale))
        height = max(1, math.ceil((north - south) / scale))
        transform = Affine(scale, 0, west, 0, -scale, north)
        values = np.full((height, width), np.nan, np.float64)
        reproject(
            rasterio.band(dataset, 1),
            values,
            dst_transform=transform,
            dst_crs=WEB_MERCATOR,
            dst_nodata=np.nan,
            resampling=resampling,
        )
    lon_west, lat_south, lon_east, lat_north = transform_bounds(
        WEB_MERCATOR, "EPSG:4326", west, north - scale * height, west + scale * width, north
    )
    empty = np.zeros((height, width, 4), np.uint8)
    return values, Overlay(empty, ((lat_south, lon_west), (lat_north, lon_east)), transform)


def clip_to(
    values: NDArray[np.float64], overlay: Overlay, regions: gpd.GeoDataFrame
) -> NDArray[np.float64]:
    """``values`` on ``overlay``'s grid with pixels outside every region set to NaN."""
    from rasterio.features import geometry_mask

    shapes = [g for g in regions.to_crs(WEB_MERCATOR).geometry if g is not None and not g.is_empty]
    if not shapes:
        return values
    outside = geometry_mask(
        shapes,
        out_shape=values.shape,
        transform=overlay.mercator_transform,
        all_touched=True,
    )
    clipped = values.copy()
    clipped[outside] = np.nan
    return clipped


def colour(values: NDArray[np.float64], ramp: Ramp) -> NDArray[np.uint8]:
    """RGBA image of ``values`` on ``ramp``; NaN is transparent."""
    import matplotlib

    cmap = matplotlib.colormaps[ramp.cmap]
    scaled = np.clip((values - ramp.vmin) / (ramp.vmax - ramp.vmin), 0.0, 1.0)
    rgba = (cmap(np.nan_to_num(scaled)) * 255).astype(np.uint8)
    rgba[~np.isfinite(values)] = 0
    return rgba


def colour_classes(codes: NDArray[np.float64], colours: dict[int, str]) -> NDArray[np.uint8]:
    """RGBA image of class codes with their scheme colours; NaN and unknown codes transparent."""
    import matplotlib

    rgba = np.zeros((*codes.shape, 4), np.uint8)
    for code, hex_colour in colours.items():
        rgba[codes == code] = [int(255 * c) for c in matplotlib.colors.to_rgba(hex_colour)]
    return rgba


def write_png(rgba: NDArray[np.uint8], path: Path) -> None:
    import matplotlib.image

    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(path, rgba)


def tile_zooms(path: Path, *, max_tiles: int = 4000) -> tuple[int, int]:
    """Zoom levels for an XYZ pyramid: up to the raster's resolution, within ``max_tiles``."""
    with rasterio.open(path) as dataset:
        west, south, east, north = transform_bounds(dataset.crs, WEB_MERCATOR, *dataset.bounds)
        metres_per_px = max(east - west, north - south) / max(dataset.width, dataset.height)
    native = int(math.floor(math.log2(2 * MERCATOR_HALF_WIDTH / (TILE_PX * metres_per_px))))
    z_max = max(0, min(native, 18))
    while z_max > 0 and _tile_count(west, south, east, north, z_max) > max_tiles:
        z_max -= 1
    return max(0, z_max - 5), z_max


def write_tiles(path: Path, folder: Path, ramp: Ramp, zooms: tuple[int, int]) -> int:
    """Write ``folder/{z}/{x}/{y}.png`` tiles of the raster on ``ramp``; returns the tile count."""
    written = 0
    with rasterio.open(path) as dataset:
        west, south, east, north = transform_bounds(dataset.crs, WEB_MERCATOR, *dataset.bounds)
        for zoom in range(zooms[0], zooms[1] + 1):
            for x, y in _tiles(west, south, east, north, zoom):
                values = np.full((TILE_PX, TILE_PX), np.nan)
                reproject(
                    rasterio.band(dataset, 1),
                    values,
                    dst_transform=_tile_transform(x, y, zoom),
                    dst_crs=WEB_MERCATOR,
                    dst_nodata=np.nan,
                    resampling=Resampling.average,
                )
                if np.isfinite(values).any():
                    write_png(colour(values, ramp), folder / str(zoom) / str(x) / f"{y}.png")
                    written += 1
    return written


def _tile_transform(x: int, y: int, zoom: int) -> Affine:
    size = 2 * MERCATOR_HALF_WIDTH / 2**zoom
    return Affine(
        size / TILE_PX,
        0,
        -MERCATOR_HALF_WIDTH + x * size,
        0,
        -size / TILE_PX,
        MERCATOR_HALF_WIDTH - y * size,
    )


def _tiles(
    west: float, south: float, east: float, north: float, zoom: int
) -> list[tuple[int, int]]:
    size = 2 * MERCATOR_HALF_WIDTH / 2**zoom
    x0, x1 = (int((v + MERCATOR_HALF_WIDTH) // size) for v in (west, east))
    y0, y1 = (int((MERCATOR_HALF_WIDTH - v) // size) for v in (north, south))
    last = 2**zoom - 1
    return [
        (x, y)
        for x in range(max(x0, 0), min(x1, last) + 1)
        for y in range(max(y0, 0), min(y1, last) + 1)
    ]


def _tile_count(west: float, south: float, east: float, north: float, zoom: int) -> int:
    return len(_tiles(west, south, east, north, zoom))


def quantile_edges(values: NDArray[np.float64], k: int = 5) -> NDArray[np.float64]:
    """Edges of up to ``k`` quantile classes of the finite ``values`` (lowest value first)."""
    import mapclassify

    finite = values[np.isfinite(values)]
    if len(np.unique(finite)) < 2:
        low = float(finite.min()) if finite.size else 0.0
        return np.array([low, low + 1.0])
    bins = mapclassify.Quantiles(finite, k=min(k, len(np.unique(finite)))).bins
    return np.concatenate([[finite.min()], bins])


def diverging_edges(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Classes symmetric about zero: +-1/3, 2/3 and all of the largest magnitude."""
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    steps = np.unique(np.quantile(np.concatenate([finite, [top]]), [1 / 3, 2 / 3, 1.0]))
    steps = steps[steps > 0]
    return np.concatenate([-steps[::-1], [0.0], steps])


def class_colours(n: int, diverging: bool) -> list[str]:
    """``n`` #rrggbb colours: YlGn, or RdBu centred on zero when ``diverging``."""
    import matplotlib

    if diverging:
        # red = carbon source (negative), blue = sink (positive), centred on zero
        cmap = matplotlib.colormaps[CHANGE_COLOUR_MAP]
        half = n // 2
        return [
            matplotlib.colors.to_hex(cmap(0.1 + 0.35 * k / max(half - 1, 1))) for k in range(half)
        ] + [
            matplotlib.colors.to_hex(cmap(0.55 + 0.35 * k / max(half - 1, 1)))
            for k in range(n - half)
        ]
    cmap = matplotlib.colormaps[DENSITY_COLOUR_MAP]
    return [matplotlib.colors.to_hex(cmap(0.15 + 0.8 * k / max(n - 1, 1))) for k in range(n)]


def colour_of(value: float, edges: NDArray[np.float64], colours: list[str]) -> str:
    """The colour of the class holding ``value``; grey for NaN."""
    if not np.isfinite(value):
        return "#bdbdbd"
    index = int(np.clip(np.searchsorted(edges, value, side="left") - 1, 0, len(colours) - 1))
    return colours[index]
