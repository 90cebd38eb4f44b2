"""The raster grid as a value: CRS, transform and shape, and checks that two grids agree."""

from __future__ import annotations

from dataclasses import dataclass

from affine import Affine
from rasterio.crs import CRS

from geocarbon.errors import GridMismatchError


@dataclass(frozen=True)
class GridSpec:
    """Where a raster's pixels are: CRS, affine transform (pixel -> CRS coordinates) and shape."""

    crs: CRS
    transform: Affine
    height: int
    width: int

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
