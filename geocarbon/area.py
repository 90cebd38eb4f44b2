"""True pixel area (ha) from a grid's CRS.

Four methods, named in every summary:

- ``equal-area``: the projection preserves area (checked numerically with pyproj's areal scale
  factor), so every pixel has the nominal area |a*e - b*d| in square CRS units.
- ``ellipsoid-rows``: geographic (lon/lat) grids; each row's pixels have the exact area of their
  latitude band on the CRS's own ellipsoid (authalic-latitude formula), so the area shrinks
  towards the poles as it does on the ground.
- ``scale-factor``: other projections (UTM, Lambert conformal, Web Mercator...); the nominal area
  is divided by pyproj's areal scale factor, sampled on a coarse lattice and interpolated
  bilinearly to pixel centres. A warning names the CRS.
- ``planar``: asked for by name only; the nominal area whatever the CRS (what InVEST does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyproj
from numpy.typing import NDArray

from geocarbon.blocks import Block
from geocarbon.config import DEFAULT_AREA_METHOD, check_area_method
from geocarbon.errors import AreaMethodWarning, RasterFormatError, said, warn
from geocarbon.grid import GridSpec
from geocarbon.units import SQUARE_METRES_PER_HECTARE

#: An areal scale factor within this of 1 everywhere on the lattice makes a projection equal-area.
EQUAL_AREA_TOLERANCE = 1e-6
#: Lattice nodes per axis for the scale-factor method (areal scale varies slowly over a grid).
LATTICE_NODES = 33


@dataclass(frozen=True, eq=False)
class PixelArea:
    """Area of every pixel of a grid, in hectares, by one named method.

    ``row_area_ha`` holds one value per row (``ellipsoid-rows``) and ``lattice_area_ha`` a coarse
    lattice at pixel positions ``lattice_rows`` x ``lattice_cols`` (``scale-factor``); the other
    methods need only ``nominal_ha``.
    """

    method: str
    crs_name: str
    nominal_ha: float
    row_area_ha: NDArray[np.float64] | None = None
    lattice_rows: NDArray[np.float64] | None = None
    lattice_cols: NDArray[np.float64] | None = None
    lattice_area_ha: NDArray[np.float64] | None = field(default=None, repr=False)

    def block(self, block: Block) -> NDArray[np.float64]:
        """Pixel areas (ha) of ``block`` as a (height, width) array (a broadcast view where constant)."""
        shape = (block.height, block.width)
        if self.row_area_ha is not None:
            rows = self.row_area_ha[block.row_off : block.row_off + block.height]
            return np.broadcast_to(rows[:, None], shape)
        if self.lattice_area_ha is not None:
            return self._interpolate(block)
        return np.broadcast_to(np.float64(self.nominal_ha), shape)

    def row_areas(self, block: Block) -> NDArray[np.float64] | None:
        """One pixel area (ha) per row of ``block`` when area varies by row at most, else None."""
        if self.lattice_area_ha is not None:
            return None
        if self.row_area_ha is not None:
            return np.ascontiguousarray(
                self.row_area_ha[block.row_off : block.row_off + block.height]
            )
        return np.full(block.height, self.nominal_ha)

    def total_ha(self, shape: tuple[int, int]) -> float:
        """Area (ha) of the whole grid of ``shape``, summed exactly as the blocks give it."""
        return self.window_ha(Block(0, 0, *shape))

    def window_ha(self, window: Block) -> float:
        """Area (ha) of the pixels of ``window``, as its blocks give it, without making them."""
        if self.row_area_ha is not None:
            rows = self.row_area_ha[window.row_off : window.row_off + window.height]
            return float(rows.sum() * window.width)
        if self.lattice_area_ha is None:
            return self.nominal_ha * window.n_pixels
        # The bilinear interpolant is separable: sum = row_weights . lattice . col_weights.
        row_weights = _node_weights(self.lattice_rows, window.row_off, window.height)
        col_weights = _node_weights(self.lattice_cols, window.col_off, window.width)
        return float(row_weights @ self.lattice_area_ha @ col_weights)

    def _interpolate(self, block: Block) -> NDArray[np.float64]:
        assert self.lattice_rows is not None and self.lattice_cols is not None
        assert self.lattice_area_ha is not None
        row_pos = block.row_off + 0.5 + np.arange(block.height, dtype=np.float64)
        col_pos = block.col_off + 0.5 + np.arange(block.width, dtype=np.float64)
        row_i, row_w = _bracket(self.lattice_rows, row_pos)
        col_i, col_w = _bracket(self.lattice_cols, col_pos)
        lat = self.lattice_area_ha
        top = lat[row_i][:, col_i] * (1 - col_w) + lat[row_i][:, col_i + 1] * col_w
        bottom = lat[row_i + 1][:, col_i] * (1 - col_w) + lat[row_i + 1][:, col_i + 1] * col_w
        return top * (1 - row_w)[:, None] + bottom * row_w[:, None]


def pixel_area(grid: GridSpec, method: str = DEFAULT_AREA_METHOD) -> PixelArea:
    """Choose and prepare the pixel-area method for ``grid``.

    Parameters
    ----------
    grid
        The raster grid; its CRS decides the method when ``method`` is ``"auto"``.
    method
        One of :data:`geocarbon.choices.AREA_METHODS`. ``"planar"`` reproduces tools that take the nominal pixel
        area in any CRS; the others are chosen by ``"auto"`` and may be forced for testing.

    Raises
    ------
    RasterFormatError
        Rotated geographic grids, or a CRS whose units or projection give no area.
    """
    check_area_method(method)
    crs = _horizontal_crs(grid)
    crs_name = crs.name
    if crs.is_geographic:
        if grid.is_rotated:
            raise RasterFormatError(
                _named(
                    grid,
                    f"the geographic grid in CRS {crs_name!r} is rotated; geocarbon needs north-up "
                    "lon/lat grids. Warp it first (gdalwarp without -rotate).",
                )
            )
        if method in ("auto", "ellipsoid-rows"):
            return PixelArea(
                "ellipsoid-rows", crs_name, math.nan, row_area_ha=_ellipsoid_rows(grid, crs)
            )
        raise RasterFormatError(
            _named(
                grid, f"area method {method!r} does not apply to the geographic CRS {crs_name!r}."
            )
        )
    if not crs.is_projected:
        return _unprojected_area(grid, crs, method)
    nominal_ha = _nominal_area_m2(grid, crs) / SQUARE_METRES_PER_HECTARE
    if method == "planar":
        return PixelArea("planar", crs_name, nominal_ha)
    rows, cols, scale = _areal_scale_lattice(grid, crs)
    if method == "equal-area" or (
        method == "auto" and np.max(np.abs(scale - 1.0)) <= EQUAL_AREA_TOLERANCE
    ):
        return PixelArea("equal-area", crs_name, nominal_ha)
    warn(
        f"{grid.name + ': ' if grid.name else ''}CRS {crs_name!r} is not an equal-area projection (areal scale {scale.min():.6f} to "
        f"{scale.max():.6f}); pixel areas are corrected by its areal scale factor. "
        "Use an equal-area CRS for exact areas, or --area planar for the nominal pixel area.",
        AreaMethodWarning,
    )
    return PixelArea(
        "scale-factor",
        crs_name,
        nominal_ha,
        lattice_rows=rows,
        lattice_cols=cols,
        lattice_area_ha=nominal_ha / scale,
    )


def _named(grid: GridSpec, message: str) -> str:
    """``message`` prefixed with the file the grid comes from, when known."""
    return f"In {grid.name!r}, {message}" if grid.name else message[0].upper() + message[1:]


def _horizontal_crs(grid: GridSpec) -> pyproj.CRS:
    """The horizontal part of the grid's CRS as pyproj sees it (compound and bound CRSs unwrapped)."""
    try:
        crs = pyproj.CRS.from_user_input(grid.crs.to_wkt())
    except pyproj.exceptions.CRSError as exc:
        raise RasterFormatError(
            _named(
                grid,
                f"PROJ cannot read the CRS ({said(exc)}). Assign a standard one, e.g. gdal_edit.py "
                "-a_srs EPSG:XXXX, or reproject with gdalwarp -t_srs.",
            )
        ) from exc
    if crs.is_bound and crs.source_crs is not None:
        crs = crs.source_crs
    if crs.is_compound and crs.sub_crs_list:
        crs = crs.sub_crs_list[0]
    return crs


def _unprojected_area(grid: GridSpec, crs: pyproj.CRS, method: str) -> PixelArea:
    """Engineering (LOCAL_CS) and other CRSs tied to no ellipsoid: only the planar method applies,
    and only when the axes are in units of length."""
    kind = "an engineering (local)" if crs.type_name == "Engineering CRS" else f"a {crs.type_name}"
    units = {axis.unit_name for axis in crs.axis_info}
    factors = {axis.unit_conversion_factor for axis in crs.axis_info}
    lengths = bool(crs.axis_info) and all(
        axis.unit_name in _LENGTH_UNITS or axis.unit_name.endswith("metre")
        for axis in crs.axis_info
    )
    if method == "planar" and lengths and len(factors) == 1:
        nominal_ha = _nominal_area_m2(grid, crs) / SQUARE_METRES_PER_HECTARE
        return PixelArea("planar", crs.name, nominal_ha)
    planar = (
        "or pass --area planar (area_method='planar') to take the nominal pixel area in its units "
        f"({', '.join(sorted(units))})"
        if lengths
        else "its axes are not in units of length, so even --area planar cannot apply"
    )
    raise RasterFormatError(
        _named(
            grid,
            f"the CRS {crs.name!r} is {kind} CRS, tied to no place on the Earth, so true pixel "
            "areas cannot be computed. Reproject the raster to a real CRS (assign its true CRS with "
            f"gdal_edit.py -a_srs EPSG:XXXX, then gdalwarp -t_srs), {planar}.",
        )
    )


_LENGTH_UNITS = {"metre", "meter", "kilometre", "foot", "US survey foot", "Foot (International)"}


def ellipsoid_band_area_m2(
    lat_south_deg: NDArray[np.float64],
    lat_north_deg: NDArray[np.float64],
    dlon_deg: float,
    *,
    semi_major_m: float,
    inverse_flattening: float,
) -> NDArray[np.float64]:
    """Area (m2) of the band between two latitudes, ``dlon_deg`` wide, on an ellipsoid.

    Uses the authalic function q(phi); on a sphere this reduces to a^2 dlon (sin phi2 - sin phi1).
    """
    flattening = 1.0 / inverse_flattening if inverse_flattening else 0.0
    ecc2 = flattening * (2.0 - flattening)
    q_north = _authalic_q(np.radians(lat_north_deg), ecc2)
    q_south = _authalic_q(np.radians(lat_south_deg), ecc2)
    return np.abs(semi_major_m**2 * math.radians(dlon_deg) / 2.0 * (q_north - q_south))


def _authalic_q(phi: NDArray[np.float64], ecc2: float) -> NDArray[np.float64]:
    sin_phi = np.sin(phi)
    if ecc2 == 0.0:
        return 2.0 * sin_phi
    ecc = math.sqrt(ecc2)
    return (1.0 - ecc2) * (
        sin_phi / (1.0 - ecc2 * sin_phi**2)
        - np.log((1.0 - ecc * sin_phi) / (1.0 + ecc * sin_phi)) / (2.0 * ecc)
    )


def _ellipsoid_rows(grid: GridSpec, crs: pyproj.CRS) -> NDArray[np.float64]:
    degrees_per_unit = math.degrees(crs.axis_info[0].unit_conversion_factor)
    top, pixel_height = grid.transform.f, grid.transform.e
    edges_deg = (top + pixel_height * np.arange(grid.height + 1)) * degrees_per_unit
    if np.any(np.abs(edges_deg) > 90.0 + 1e-9):
        raise RasterFormatError(
            _named(
                grid,
                f"rows of the grid in CRS {crs.name!r} reach beyond the poles (latitudes "
                f"{edges_deg.min():.4f} to {edges_deg.max():.4f}); check its geotransform "
                "(gdalinfo shows it; gdal_translate -a_ullr sets it).",
            )
        )
    edges_deg = np.clip(edges_deg, -90.0, 90.0)
    ellipsoid = crs.ellipsoid
    if ellipsoid is None:
        raise RasterFormatError(
            _named(
                grid,
                f"the geographic CRS {crs.name!r} names no ellipsoid; assign a full CRS "
                "(gdal_edit.py -a_srs EPSG:4326).",
            )
        )
    area_m2 = ellipsoid_band_area_m2(
        edges_deg[1:],
        edges_deg[:-1],
        abs(grid.transform.a) * degrees_per_unit,
        semi_major_m=ellipsoid.semi_major_metre,
        inverse_flattening=ellipsoid.inverse_flattening,
    )
    return area_m2 / SQUARE_METRES_PER_HECTARE


def _nominal_area_m2(grid: GridSpec, crs: pyproj.CRS) -> float:
    metres_per_unit = crs.axis_info[0].unit_conversion_factor
    a, b, _, d, e, _ = tuple(grid.transform)[:6]
    return abs(a * e - b * d) * metres_per_unit**2


def _areal_scale_lattice(
    grid: GridSpec, crs: pyproj.CRS
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    # Lattice nodes at pixel centres; at least two per axis (a one-pixel axis gets a node past it).
    rows = np.linspace(0.5, max(grid.height - 0.5, 1.5), min(LATTICE_NODES, max(grid.height, 2)))
    cols = np.linspace(0.5, max(grid.width - 0.5, 1.5), min(LATTICE_NODES, max(grid.width, 2)))
    col_grid, row_grid = np.meshgrid(cols, rows)
    a, b, c, d, e, f = tuple(grid.transform)[:6]
    xs = a * col_grid.ravel() + b * row_grid.ravel() + c
    ys = d * col_grid.ravel() + e * row_grid.ravel() + f
    try:
        to_lonlat = pyproj.Transformer.from_crs(crs, crs.geodetic_crs, always_xy=True)
        lon, lat = to_lonlat.transform(xs, ys)
        factors = pyproj.Proj(crs).get_factors(lon, lat)
        scale = np.asarray(factors.areal_scale, dtype=np.float64).reshape(row_grid.shape)
    except pyproj.exceptions.ProjError:
        scale = np.full(row_grid.shape, np.nan)
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise RasterFormatError(
            _named(
                grid,
                f"pyproj gives no areal scale factor for parts of the grid in CRS {crs.name!r}; "
                "reproject the raster to an equal-area CRS, or use --area planar.",
            )
        )
    return rows, cols, scale


def _bracket(
    nodes: NDArray[np.float64], positions: NDArray[np.float64]
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Index of the lattice interval holding each position, and the weight of its upper node."""
    index = np.clip(np.searchsorted(nodes, positions, side="right") - 1, 0, len(nodes) - 2)
    weight = np.clip((positions - nodes[index]) / (nodes[index + 1] - nodes[index]), 0.0, 1.0)
    return index, weight


def _node_weights(
    nodes: NDArray[np.float64] | None, start: int, n_pixels: int
) -> NDArray[np.float64]:
    """Sum over pixel centres start + 0.5 .. start + n - 0.5 of each lattice node's weight."""
    assert nodes is not None
    index, weight = _bracket(nodes, start + 0.5 + np.arange(n_pixels, dtype=np.float64))
    lower = np.bincount(index, weights=1 - weight, minlength=len(nodes))
    upper = np.bincount(index + 1, weights=weight, minlength=len(nodes))
    return np.asarray(lower + upper, dtype=np.float64)
