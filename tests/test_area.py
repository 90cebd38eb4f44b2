"""True pixel area: equal-area constant, ellipsoid rows for lon/lat, scale factor elsewhere."""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.crs import CRS

from geocarbon.area import ellipsoid_band_area_m2, pixel_area
from geocarbon.blocks import Block
from geocarbon.errors import RasterFormatError
from geocarbon.grid import GridSpec

WGS84 = pyproj.Geod(ellps="WGS84")


def geod_cell_area_m2(
    geod: pyproj.Geod, west: float, south: float, east: float, north: float, n: int = 400
) -> float:
    """Area of a lon/lat cell by pyproj.Geod; the parallels are densified, because Geod joins
    vertices by geodesics, which bow away from a parallel (an error of ~1e-4 for 5 km cells)."""
    lons = np.concatenate([np.linspace(west, east, n), np.linspace(east, west, n)])
    lats = np.concatenate([np.full(n, south), np.full(n, north)])
    area, _ = geod.polygon_area_perimeter(lons, lats)
    return abs(area)


def test_whole_ellipsoid_surface():
    # WGS84 surface area 510,065,621.724 km2
    area = ellipsoid_band_area_m2(
        np.array([-90.0]),
        np.array([90.0]),
        360.0,
        semi_major_m=6378137.0,
        inverse_flattening=298.257223563,
    )
    assert area[0] == pytest.approx(5.10065621724e14, rel=1e-10)


def test_sphere_reduces_to_sine_formula():
    area = ellipsoid_band_area_m2(
        np.array([10.0]), np.array([11.0]), 2.0, semi_major_m=6371000.0, inverse_flattening=0.0
    )
    expected = (
        6371000.0**2 * math.radians(2.0) * (math.sin(math.radians(11)) - math.sin(math.radians(10)))
    )
    assert area[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("top", [0.5, 30.0, 54.0, 75.0, -40.0])
def test_geographic_rows_match_geod(top):
    grid = GridSpec(CRS.from_epsg(4326), Affine(0.05, 0, 100.0, 0, -0.05, top), 20, 3)
    area = pixel_area(grid)
    assert area.method == "ellipsoid-rows"
    for row in (0, 7, 19):
        north = top - 0.05 * row
        expected_ha = geod_cell_area_m2(WGS84, 100.0, north - 0.05, 100.05, north) / 1e4
        assert area.row_area_ha[row] == pytest.approx(expected_ha, rel=1e-6)
    block = area.block(Block(5, 1, 4, 2))
    assert block.shape == (4, 2)
    np.testing.assert_array_equal(block[:, 0], area.row_area_ha[5:9])


def test_geographic_area_uses_the_crs_ellipsoid():
    clarke = CRS.from_proj4("+proj=longlat +ellps=clrk66 +no_defs")
    grid = GridSpec(clarke, Affine(0.05, 0, 100.0, 0, -0.05, 40.0), 2, 2)
    expected = geod_cell_area_m2(pyproj.Geod(ellps="clrk66"), 100.0, 39.95, 100.05, 40.0) / 1e4
    assert pixel_area(grid).row_area_ha[0] == pytest.approx(expected, rel=1e-6)


def test_equal_area_projections_constant():
    laea = GridSpec(CRS.from_epsg(3035), Affine(100, 0, 4321000, 0, -100, 3210000), 50, 50)
    area = pixel_area(laea)
    assert area.method == "equal-area" and area.nominal_ha == pytest.approx(1.0)
    cea = CRS.from_proj4("+proj=cea +lat_ts=5.5 +lon_0=140.8 +ellps=WGS84 +units=m")
    area = pixel_area(GridSpec(cea, Affine(300, 0, -1091676, 0, -300, -38556), 3812, 7360))
    assert area.method == "equal-area" and area.nominal_ha == pytest.approx(9.0)


def test_feet_units_converted():
    # NAD83 / California Albers is metres; EPSG:2227 (California zone 3, US feet) is conformal.
    grid = GridSpec(CRS.from_epsg(2227), Affine(100, 0, 6_000_000, 0, -100, 2_100_000), 10, 10)
    area = pixel_area(grid, "planar")
    assert area.nominal_ha == pytest.approx((100 * 1200 / 3937) ** 2 / 1e4, rel=1e-9)


def test_utm_scale_factor_matches_geod_and_warns():
    grid = GridSpec(CRS.from_epsg(26910), Affine(30, 0, 443723.13, 0, -30, 4956546.91), 1889, 1325)
    with pytest.warns(UserWarning, match="UTM zone 10N.*not an equal-area"):
        area = pixel_area(grid)
    assert area.method == "scale-factor"
    to_lonlat = pyproj.Transformer.from_crs(26910, 4269, always_xy=True)
    geod = pyproj.Geod(ellps="GRS80")
    block = Block(0, 0, 1889, 1325)
    values = area.block(block)
    for row, col in [(0, 0), (900, 600), (1888, 1324), (100, 1200)]:
        x0, y0 = grid.transform.c + 30 * col, grid.transform.f - 30 * row
        edge = np.linspace(0, 30, 50)
        xs = np.concatenate([x0 + edge, np.full(50, x0 + 30), x0 + 30 - edge, np.full(50, x0)])
        ys = np.concatenate([np.full(50, y0), y0 - edge, np.full(50, y0 - 30), y0 - 30 + edge])
        lon, lat = to_lonlat.transform(xs, ys)
        expected_ha = abs(geod.polygon_area_perimeter(lon, lat)[0]) / 1e4
        assert values[row, col] == pytest.approx(expected_ha, rel=1e-6)


def test_planar_is_nominal_even_for_utm():
    grid = GridSpec(CRS.from_epsg(26910), Affine(30, 0, 443723.13, 0, -30, 4956546.91), 10, 10)
    area = pixel_area(grid, "planar")
    assert area.method == "planar"
    assert np.all(area.block(Block(0, 0, 10, 10)) == pytest.approx(0.09))


def test_rotated_geographic_grid_refused():
    grid = GridSpec(CRS.from_epsg(4326), Affine(0.01, 0.001, 100, 0.001, -0.01, 40), 5, 5)
    with pytest.raises(RasterFormatError, match="rotated"):
        pixel_area(grid)


def test_unknown_method_rejected():
    grid = GridSpec(CRS.from_epsg(3035), Affine(100, 0, 0, 0, -100, 0), 2, 2)
    with pytest.raises(ValueError, match="area method"):
        pixel_area(grid, "guess")


def test_engineering_crs_needs_planar_and_names_the_file():
    local = CRS.from_wkt('LOCAL_CS["mine grid",UNIT["metre",1],AXIS["E",EAST],AXIS["N",NORTH]]')
    grid = GridSpec(local, Affine(10, 0, 0, 0, -10, 100), 3, 3, name="site.tif")
    with pytest.raises(RasterFormatError, match=r"In 'site.tif', .*engineering.*--area planar"):
        pixel_area(grid)
    assert pixel_area(grid, "planar").nominal_ha == pytest.approx(0.01)


def test_compound_crs_uses_its_horizontal_part():
    compound = CRS.from_user_input("EPSG:3035+5773")  # LAEA Europe + EGM96 height
    area = pixel_area(GridSpec(compound, Affine(100, 0, 4321000, 0, -100, 3210000), 2, 2))
    assert area.method == "equal-area" and area.nominal_ha == pytest.approx(1.0)


_WINDOW_GRIDS = {
    "ellipsoid-rows": GridSpec(CRS.from_epsg(4326), Affine(0.05, 0, 100.0, 0, -0.05, 40.0), 97, 61),
    "scale-factor": GridSpec(
        CRS.from_epsg(26910), Affine(30, 0, 443723.13, 0, -30, 4956546.91), 189, 132
    ),
    "planar": GridSpec(CRS.from_epsg(26910), Affine(30, 0, 0, 0, -30, 0), 40, 30),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(_WINDOW_GRIDS)),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1),
)
def test_window_area_equals_the_sum_of_its_pixel_areas(method, top, left, tall, wide):
    """window_ha, in closed form, equals the NumPy sum of the window's pixel areas (the
    reference), and total_ha the whole grid's."""
    grid = _WINDOW_GRIDS[method]
    area = pixel_area(grid, method)
    row0, col0 = int(top * (grid.height - 1)), int(left * (grid.width - 1))
    height = 1 + int(tall * (grid.height - row0 - 1))
    width = 1 + int(wide * (grid.width - col0 - 1))
    window = Block(row0, col0, height, width)
    expected = np.sum(area.block(window), dtype=np.float64)
    assert area.window_ha(window) == pytest.approx(expected, rel=1e-12)
    whole = Block(0, 0, grid.height, grid.width)
    assert area.total_ha(grid.shape) == pytest.approx(area.block(whole).sum(), rel=1e-12)
