"""A raster of forest (or any class's) age in years at the first date, read block by block.

The age raster is given on the land-cover grid, aligned like the dates: the same grid, or, when
the run aligns its dates (``align_to``), warped onto that grid by nearest neighbour. NaN,
nodata and negative ages mean "unknown": those pixels take the run's initial age.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from geocarbon.blocks import Block
from geocarbon.errors import InputFileError, said
from geocarbon.grid import GridSpec, check_same_grid


@dataclass(frozen=True)
class AgeRaster:
    """Ages (years at the first date) of ``path`` on ``grid``; picklable, opened per read."""

    path: Path
    grid: GridSpec
    warp: bool = False

    def read(self, block: Block) -> NDArray[np.float32]:
        """The block's ages, NaN where unknown (nodata, NaN, negative)."""
        window = Window(block.col_off, block.row_off, block.width, block.height)
        with rasterio.open(self.path) as dataset:
            if self.warp:
                with WarpedVRT(
                    dataset,
                    crs=self.grid.crs,
                    transform=self.grid.transform,
                    width=self.grid.width,
                    height=self.grid.height,
                    resampling=Resampling.nearest,
                ) as warped:
                    values = warped.read(1, window=window, masked=True)
            else:
                values = dataset.read(1, window=window, masked=True)
        ages = np.ma.filled(values.astype(np.float32), np.nan)
        ages[~(ages >= 0)] = np.nan
        return ages


def open_age_raster(path: str | Path, grid: GridSpec, *, grid_name: str, align: bool) -> AgeRaster:
    """Check ``path`` is a one-band numeric raster on ``grid`` (or, with ``align``, one that can
    be warped onto it) and return its reader.

    Raises
    ------
    InputFileError
        The file is missing or unreadable, has several bands or non-numeric values.
    GridMismatchError
        Not on the land-cover grid, and the run does not align its dates.
    """
    path = Path(path)
    try:
        with rasterio.open(path) as dataset:
            if dataset.count != 1:
                raise InputFileError(
                    f"Age raster {str(path)!r} has {dataset.count} bands; give a one-band raster "
                    "of ages in years (gdal_translate -b 1)."
                )
            kind = np.dtype(dataset.dtypes[0]).kind
            if kind not in "iuf":
                raise InputFileError(
                    f"Age raster {str(path)!r} stores {dataset.dtypes[0]} values; ages must be numbers "
                    "of years."
                )
            if dataset.crs is None:
                raise InputFileError(
                    f"Age raster {str(path)!r} has no CRS; give it the land cover's "
                    "(gdal_edit -a_srs)."
                )
            own = GridSpec(dataset.crs, dataset.transform, dataset.height, dataset.width)
    except RasterioIOError as exc:
        raise InputFileError(
            f"Age raster {str(path)!r} cannot be opened: {said(exc)}. Give a GeoTIFF of ages in years."
        ) from exc
    same = (
        own.crs == grid.crs
        and own.shape == grid.shape
        and own.transform.almost_equals(grid.transform, precision=1e-9)
    )
    if not same and not align:
        check_same_grid(grid, own, reference_name=grid_name, other_name=f"Age raster {str(path)!r}")
    return AgeRaster(path, grid, warp=not same)
