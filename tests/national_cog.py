"""A "national" land cover for the remote tests and the province benchmark: the real MODIS IGBP
2019 raster of China, each pixel upsampled to a ``scale`` x ``scale`` square by nearest
neighbour, as a COG with 256 x 256 DEFLATE tiles."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray
from rasterio.windows import Window, from_bounds

#: The COG's tile size, in pixels.
TILE = 256


def upsampled(modis: Path, scale: int) -> tuple[NDArray[np.uint8], dict[str, Any]]:
    """The codes of ``modis`` upsampled ``scale`` times, and the profile to write them as a COG."""
    with rasterio.open(modis) as source:
        codes = source.read(1).repeat(scale, axis=0).repeat(scale, axis=1)
        profile = {
            "driver": "COG",
            "dtype": "uint8",
            "count": 1,
            "height": codes.shape[0],
            "width": codes.shape[1],
            "crs": source.crs,
            "transform": source.transform * Affine.scale(1 / scale),
            "nodata": source.nodata,
            "blocksize": TILE,
            "compress": "DEFLATE",
        }
    return codes, profile


def write(path: Path, codes: NDArray[np.uint8], profile: dict[str, Any]) -> Path:
    with rasterio.open(path, "w", **profile) as target:
        target.write(codes, 1)
    return path


def box_window(path: Path, regions: gpd.GeoDataFrame) -> Window:
    """The window of ``regions``' bounding box, a pixel wider on each side (the extent a pass by
    region counts), inside the raster at ``path``."""
    with rasterio.open(path) as raster:
        box = from_bounds(*regions.total_bounds, transform=raster.transform)
        whole = Window(0, 0, raster.width, raster.height)
    col0, row0 = math.floor(box.col_off) - 1, math.floor(box.row_off) - 1
    col1 = math.ceil(box.col_off + box.width) + 1
    row1 = math.ceil(box.row_off + box.height) + 1
    return Window(col0, row0, col1 - col0, row1 - row0).intersection(whole)
