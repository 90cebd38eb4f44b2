"""The raster grid as a value: CRS, transform and shape, and checks that two grids agree."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from affine import Affine
from rasterio.crs import CRS

from geocarbon.errors import GridMismatchError, RasterFormatError

#: How to give a raster a geotransform (and a CRS), quoted by the messages below.
GEOREFERENCE_FIX = (
    "Georeference it, e.g. gdal_translate -a_ullr ULX ULY LRX LRY -a_srs EPSG:XXXX in.tif out.tif, "
    "or put a world file (.tfw/.wld) or a .aux.xml with its geotransform beside it."
)


@dataclass(frozen=True)
class GridSpec:
    """Where a raster's pixels are: CRS, affine transform (pixel -> CRS coordinates) and shape.

    ``name`` says where the grid comes from (a file), for messages only: it takes no part in
    comparisons.
    """

    crs: CRS
    transform: Affine
    height: int
    width: int
    name: str = field(default="", compare=False)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def n_pixels(self) -> int:
        return self.height * self.width

    @property
    def is_rotated(self) -> bool:
        return self.transform.b != 0.0 or self.transform.d != 0.0

    def block_transform(self, row_off: int, col_off: int) -> Affine:
        """The affine transform of a block whose upper-left pixel is (row_off, col_off)."""
        a, b, c, d, e, f = tuple(self.transform)[:6]
        return Affine(a, b, c + a * col_off + b * row_off, d, e, f + d * col_off + e * row_off)


def check_georeferenced(
    name: str,
    transform: Affine,
    *,
    shape: tuple[int, int],
    has_gcps: bool = False,
    has_rpcs: bool = False,
) -> None:
    """Raise :class:`RasterFormatError` unless ``transform`` places pixels of a known size.

    GDAL reports the identity transform for a raster without a geotransform (rasterio warns
    ``NotGeoreferencedWarning``): read as is, every pixel would be one CRS unit (one degree).
    Rasters placed only by GCPs or RPCs have no regular grid at all.
    """
    height, width = shape
    if height < 1 or width < 1:
        raise RasterFormatError(
            f"Land-cover raster {name!r} has no pixels ({height} rows x {width} columns); "
            "check that it was written completely."
        )
    if transform.is_identity and (has_gcps or has_rpcs):
        points = "ground control points (GCPs)" if has_gcps else "RPC coefficients"
        raise RasterFormatError(
            f"Land-cover raster {name!r} is located only by {points}, not on a regular grid, so its "
            f"pixels have no fixed size. Warp it onto a grid first, e.g. gdalwarp "
            f"{'-rpc ' if not has_gcps else ''}-t_srs EPSG:XXXX -r near in.tif out.tif."
        )
    if transform.is_identity:
        raise RasterFormatError(
            f"Land-cover raster {name!r} has no geotransform (GDAL reports none), so its pixels have "
            f"no position or size and areas would be wrong. {GEOREFERENCE_FIX}"
        )
    a, b, _, d, e, _ = tuple(transform)[:6]
    if not all(math.isfinite(v) for v in tuple(transform)[:6]) or a * e - b * d == 0:
        raise RasterFormatError(
            f"Land-cover raster {name!r} has a degenerate geotransform {tuple(transform)[:6]} "
            f"(pixels of zero area). {GEOREFERENCE_FIX}"
        )


def check_same_grid(
    reference: GridSpec, other: GridSpec, *, reference_name: str, other_name: str
) -> None:
    """Raise :class:`GridMismatchError` saying how ``other`` differs from ``reference``."""
    problems = []
    if reference.crs != other.crs:
        problems.append(f"CRS {other.crs.to_string()!r} instead of {reference.crs.to_string()!r}")
    if not reference.transform.almost_equals(other.transform, precision=1e-9):
        problems.append(
            f"transform {tuple(other.transform)[:6]} instead of {tuple(reference.transform)[:6]}"
        )
    if reference.shape != other.shape:
        problems.append(f"shape {other.shape} instead of {reference.shape}")
    if problems:
        raise GridMismatchError(
            f"{other_name} is not on the grid of {reference_name}: it has "
            + "; ".join(problems)
            + ". Resample it onto the same grid (for example with gdalwarp -tr/-te/-t_srs, nearest)."
        )
