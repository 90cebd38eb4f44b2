"""Real public data from ../shared/data: InVEST's Willamette sample and MODIS IGBP over China."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio

from geocarbon.area import pixel_area
from geocarbon.errors import UnknownClassError
from geocarbon.inputs.landcover import open_landcover
from geocarbon.runs.stock import StockConfig, run_stock

WILLAMETTE = ("lulc_current_willamette.tif", "lulc_future_willamette.tif")


@pytest.mark.parametrize("name", WILLAMETTE)
def test_willamette_total_matches_invest_arithmetic(shared_data, tmp_path, name):
    """count per code x total density x 0.09 ha, computed independently with NumPy."""
    folder = shared_data / "landcover" / "invest_willamette"
    pools = folder / "carbon_pools_willamette.csv"
    with rasterio.open(folder / name) as dataset:
        codes = dataset.read(1)
        nodata = dataset.nodata
    values, counts = np.unique(codes[codes != nodata], return_counts=True)
    table = pd.read_csv(pools)
    density = table.set_index("lucode")[["C_above", "C_below", "C_soil", "C_dead"]].sum(axis=1)
    expected_mg = float(
        sum(count * density[value] * 0.09 for value, count in zip(values, counts, strict=True))
    )

    result = run_stock(
        StockConfig(
            landcover=folder / name,
            densities=pools,
            out_dir=tmp_path / "out",
            area_method="planar",
            write_rasters=False,
            progress=False,
        )
    )
    assert result.summary["totals"]["stock_total_mg"] == pytest.approx(expected_mg, rel=1e-9)
    assert result.summary["pixel_count"]["nodata"] == 861_304
    assert result.summary["area_method"] == "planar"


def test_willamette_two_dates_differ_in_dtype_and_nodata(shared_data):
    folder = shared_data / "landcover" / "invest_willamette"
    with (
        rasterio.open(folder / WILLAMETTE[0]) as current,
        rasterio.open(folder / WILLAMETTE[1]) as future,
    ):
        assert (current.dtypes[0], current.nodata) == ("int16", 128.0)
        assert (future.dtypes[0], future.nodata) == ("int8", 0.0)


def test_willamette_true_area_is_utm_scale_corrected(shared_data, tmp_path):
    folder = shared_data / "landcover" / "invest_willamette"
    with pytest.warns(UserWarning, match="not an equal-area"):
        result = run_stock(
            StockConfig(
                landcover=folder / WILLAMETTE[0],
                densities=folder / "carbon_pools_willamette.csv",
                out_dir=tmp_path / "out",
                write_rasters=False,
                progress=False,
            )
        )
    planar_ha = result.summary["pixel_count"]["valid"] * 0.09
    # UTM zone 10N shrinks areas by k^2 ~ 0.99925 here, so true area is ~0.075 % larger.
    assert result.summary["area_method"] == "scale-factor"
    assert result.summary["area_ha"]["valid"] / planar_ha == pytest.approx(1.00075, abs=5e-5)


def test_modis_geographic_area_matches_geod(shared_data, tmp_path):
    """Total valid area of a 0.05-degree lon/lat raster equals the ellipsoidal areas of its pixels."""
    path = next((shared_data / "landcover" / "modis_mcd12c1_china").glob("*.tif"))
    result = run_stock(
        StockConfig(
            landcover=path,
            densities="china-clcd",
            scheme="modis-igbp",
            out_dir=tmp_path / "out",
            write_rasters=False,
            progress=False,
        )
    )
    assert result.summary["area_method"] == "ellipsoid-rows"
    with rasterio.open(path) as dataset:
        codes = dataset.read(1)
        transform, nodata = dataset.transform, dataset.nodata
        ellipsoid = pyproj.CRS.from_user_input(dataset.crs.to_wkt()).ellipsoid
    geod = pyproj.Geod(a=ellipsoid.semi_major_metre, b=ellipsoid.semi_minor_metre)
    valid_per_row = (codes != nodata).sum(axis=1)
    west, east = transform.c, transform.c + transform.a
    geod_row_ha = np.empty(codes.shape[0])
    for row in range(codes.shape[0]):
        north = transform.f + transform.e * row
        # parallels densified: Geod joins vertices by geodesics, which bow away from a parallel
        lons = np.concatenate([np.linspace(west, east, 200), np.linspace(east, west, 200)])
        lats = np.concatenate([np.full(200, north + transform.e), np.full(200, north)])
        geod_row_ha[row] = abs(geod.polygon_area_perimeter(lons, lats)[0]) / 1e4
    total_geod_ha = float((valid_per_row * geod_row_ha).sum())
    assert result.summary["area_ha"]["valid"] == pytest.approx(total_geod_ha, rel=1e-6)
    # and a sample of rows one by one, from 54 N down to 3 N
    row_area = pixel_area(open_landcover(path).grid).row_area_ha
    sample = np.arange(0, codes.shape[0], 17)
    np.testing.assert_allclose(row_area[sample], geod_row_ha[sample], rtol=1e-6)
    assert result.summary["pixel_count"]["valid"] == int(valid_per_row.sum())


def test_igbp_raster_without_scheme_fails_and_names_the_scheme(shared_data, tmp_path):
    path = next((shared_data / "landcover" / "modis_mcd12c1_china").glob("*.tif"))
    with pytest.raises(UnknownClassError) as info:
        run_stock(
            StockConfig(
                landcover=path, densities="china-clcd", out_dir=tmp_path / "out", progress=False
            )
        )
    message = str(info.value)
    assert "10 (" in message and "16 (" in message and "modis-igbp" in message
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
