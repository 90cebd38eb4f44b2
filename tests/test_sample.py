"""Tests for geocarbon.sample: the synthetic sample is deterministic, plausible, safely written."""

from __future__ import annotations

import itertools
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from geopandas.testing import assert_geodataframe_equal
from numpy.typing import NDArray
from rasterio.enums import Compression
from rasterio.features import geometry_mask

from geocarbon.errors import OutputExistsError
from geocarbon.sample import SamplePaths, main, make_sample


@pytest.fixture(scope="module")
def sample_paths(tmp_path_factory: pytest.TempPathFactory) -> SamplePaths:
    root = tmp_path_factory.mktemp("sample-échantillon")  # non-ASCII folder on purpose
    return make_sample(root / "rasters", root / "vectors")


def _read_codes(path: Path) -> NDArray[np.uint8]:
    with rasterio.open(path) as dataset:
        return dataset.read(1)


@pytest.fixture(scope="module")
def codes_by_year(sample_paths: SamplePaths) -> dict[int, NDArray[np.uint8]]:
    return {
        year: _read_codes(path)
        for year, path in zip((2000, 2020), sample_paths.landcover, strict=True)
    }


@pytest.fixture(scope="module")
def regions(sample_paths: SamplePaths) -> gpd.GeoDataFrame:
    return gpd.read_file(sample_paths.regions, layer="regions")


def test_rasters_have_the_documented_grid_and_encoding(sample_paths: SamplePaths) -> None:
    for path in sample_paths.landcover:
        with rasterio.open(path) as dataset:
            assert (dataset.width, dataset.height, dataset.count) == (800, 600, 1)
            assert dataset.dtypes == ("uint8",)
            assert dataset.nodata == 0
            assert dataset.crs.to_epsg() == 4326
            assert dataset.transform.almost_equals(
                rasterio.Affine(0.00025, 0.0, 119.60, 0.0, -0.00025, 30.05)
            )
            assert dataset.block_shapes == [(256, 256)]
            assert dataset.compression == Compression.deflate
        assert path.stat().st_size < 500_000


def test_codes_are_clcd_classes_or_nodata(codes_by_year: dict[int, NDArray[np.uint8]]) -> None:
    for codes in codes_by_year.values():
        assert set(np.unique(codes).tolist()) <= set(range(10))
        # every class but snow/ice (6) occurs in a hilly Zhejiang landscape, and so does nodata
        assert set(np.unique(codes).tolist()) >= {0, 1, 2, 3, 4, 5, 7, 8, 9}


def test_both_dates_share_nodata(codes_by_year: dict[int, NDArray[np.uint8]]) -> None:
    nodata_2000, nodata_2020 = codes_by_year[2000] == 0, codes_by_year[2020] == 0
    np.testing.assert_array_equal(nodata_2000, nodata_2020)
    # a ring of nodata: the whole border is outside the study area
    border = np.concatenate(
        [nodata_2000[0], nodata_2000[-1], nodata_2000[:, 0], nodata_2000[:, -1]]
    )
    assert border.all()
    assert 0.5 < (~nodata_2000).mean() < 0.95


def test_changed_share_of_valid_pixels_is_modest(
    codes_by_year: dict[int, NDArray[np.uint8]],
) -> None:
    valid = codes_by_year[2000] != 0
    changed_fraction = np.mean(codes_by_year[2000][valid] != codes_by_year[2020][valid])
    assert 0.03 <= changed_fraction <= 0.15
    impervious_pixels = [np.count_nonzero(codes == 8) for codes in codes_by_year.values()]
    assert impervious_pixels[1] > impervious_pixels[0]  # the town grows


def test_landscape_is_patches_not_noise(codes_by_year: dict[int, NDArray[np.uint8]]) -> None:
    for codes in codes_by_year.values():
        both_valid = (codes[:, :-1] != 0) & (codes[:, 1:] != 0)
        same_as_right = (codes[:, :-1] == codes[:, 1:]) & both_valid
        assert same_as_right.sum() / both_valid.sum() > 0.80


def test_regions_have_unique_codes_and_fields(
    regions: gpd.GeoDataFrame, sample_paths: SamplePaths
) -> None:
    assert 5 <= len(regions) <= 6
    assert regions.crs.to_epsg() == 4326
    assert regions["adcode"].is_unique
    assert set(regions["parent_adcode"]) == {990100, 990200}
    assert all(name.endswith("(synthetic)") for name in regions["name"])
    geojson = gpd.read_file(sample_paths.regions.with_suffix(".geojson"))
    assert sorted(geojson["adcode"]) == sorted(regions["adcode"])


def test_regions_are_valid_non_rectangular_and_disjoint(regions: gpd.GeoDataFrame) -> None:
    polygons = list(regions.geometry)
    assert all(shapely.is_valid(polygon) and polygon.geom_type == "Polygon" for polygon in polygons)
    assert all(polygon.area < 0.99 * polygon.envelope.area for polygon in polygons)
    for first, second in itertools.combinations(polygons, 2):
        assert shapely.intersection(first, second).area < 1e-12


def test_regions_leave_some_valid_pixels_out_and_cross_the_edge(
    regions: gpd.GeoDataFrame,
    sample_paths: SamplePaths,
    codes_by_year: dict[int, NDArray[np.uint8]],
) -> None:
    with rasterio.open(sample_paths.landcover[0]) as dataset:
        outside_every_region = geometry_mask(
            regions.geometry, out_shape=dataset.shape, transform=dataset.transform
        )
        raster_box = shapely.box(*dataset.bounds)
    valid = codes_by_year[2000] != 0
    assert np.count_nonzero(valid & outside_every_region) > 0
    assert np.count_nonzero(valid & ~outside_every_region) > 0.7 * valid.sum()
    assert sum(not raster_box.contains(polygon) for polygon in regions.geometry) == 1


def test_refuses_to_overwrite_and_names_the_file(sample_paths: SamplePaths, tmp_path: Path) -> None:
    raster_dir, vector_dir = sample_paths.landcover[0].parent, sample_paths.regions.parent
    with pytest.raises(OutputExistsError, match="clcd_2000.tif"):
        make_sample(raster_dir, vector_dir)
    assert main(["--rasters", str(raster_dir), "--vectors", str(vector_dir)]) == 1

    (tmp_path / "rasters").mkdir()
    (tmp_path / "rasters" / "clcd_2020.tif").write_bytes(b"not a raster")
    with pytest.raises(OutputExistsError, match="clcd_2020.tif"):
        make_sample(tmp_path / "rasters", tmp_path / "vectors")
    assert not (tmp_path / "rasters" / "clcd_2000.tif").exists()  # refused before writing


def test_second_run_with_overwrite_is_identical(sample_paths: SamplePaths, tmp_path: Path) -> None:
    (tmp_path / "rasters").mkdir()
    (tmp_path / "rasters" / "clcd_2020.tif").write_bytes(b"not a raster")
    raster_dir, vector_dir = tmp_path / "rasters", tmp_path / "vectors"
    assert main(["--rasters", str(raster_dir), "--vectors", str(vector_dir), "--overwrite"]) == 0

    for first_path in sample_paths.landcover:
        second_codes = _read_codes(raster_dir / first_path.name)
        np.testing.assert_array_equal(_read_codes(first_path), second_codes)
    for name in ("regions.gpkg", "regions.geojson"):
        assert_geodataframe_equal(
            gpd.read_file(sample_paths.regions.with_name(name)), gpd.read_file(vector_dir / name)
        )
    written = sorted(path.name for path in tmp_path.rglob("*") if path.is_file())
    assert written == ["clcd_2000.tif", "clcd_2020.tif", "regions.geojson", "regions.gpkg"]
