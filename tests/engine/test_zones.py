"""Reading regions: every bad input is a clear error naming the file, field or region."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from rasterio.crs import CRS

from geocarbon.engine.zones import build_zone_index
from geocarbon.errors import InputFileError, RegionError
from geocarbon.grid import GridSpec
from geocarbon.inputs.densities import region_key
from geocarbon.inputs.regions import read_regions

SQUARE = shapely.box(0, 0, 1, 1)


def write(tmp_path, frame, name="regions.gpkg", **kwargs):
    path = tmp_path / name
    frame.to_file(path, **kwargs)
    return path


def frame(ids=("a", "b"), geometries=None, crs="EPSG:4326", **columns):
    geometries = geometries or [shapely.box(k, 0, k + 1, 1) for k in range(len(ids))]
    return gpd.GeoDataFrame(
        {"code": list(ids), "label": list(ids), **columns}, geometry=geometries, crs=crs
    )


@pytest.mark.parametrize(
    "name,driver",
    [
        ("r.gpkg", "GPKG"),
        ("r.geojson", "GeoJSON"),
        ("r.shp", "ESRI Shapefile"),
        ("r.fgb", "FlatGeobuf"),
    ],
)
def test_reads_any_vector_format(tmp_path, name, driver):
    path = write(tmp_path, frame(), name, driver=driver)
    regions = read_regions(path, id_field="code", name_field="label")
    assert sorted(regions["region_id"]) == ["a", "b"]  # FlatGeobuf reorders features


def test_reads_geoparquet(tmp_path):
    path = tmp_path / "r.parquet"
    frame().to_parquet(path)
    assert read_regions(path, id_field="code")["region_id"].tolist() == ["a", "b"]


def test_chosen_layer_and_missing_layer_named(tmp_path):
    path = write(tmp_path, frame(), layer="counties", driver="GPKG")
    write(tmp_path, frame(ids=("x",)), layer="provinces", driver="GPKG")
    assert read_regions(path, id_field="code", layer="provinces")["region_id"].tolist() == ["x"]
    with pytest.raises(InputFileError, match=r"no layer 'towns'.*counties.*provinces"):
        read_regions(path, id_field="code", layer="towns")


def test_missing_file_named(tmp_path):
    with pytest.raises(InputFileError, match="nowhere.gpkg"):
        read_regions(tmp_path / "nowhere.gpkg", id_field="code")


def test_missing_fields_listed_with_the_fields_present(tmp_path):
    path = write(tmp_path, frame())
    with pytest.raises(
        RegionError, match=r"no field\(s\) adcode, name.*Fields present: code, label"
    ):
        read_regions(path, id_field="adcode", name_field="name")


def test_empty_layer(tmp_path):
    path = write(tmp_path, frame().iloc[:0])
    with pytest.raises(RegionError, match="no features"):
        read_regions(path, id_field="code")


def test_duplicate_ids_named(tmp_path):
    path = write(tmp_path, frame(ids=("a", "b", "a")))
    with pytest.raises(RegionError, match=r"repeats id\(s\) a \(FID 1 \(code 'a'\), FID 3"):
        read_regions(path, id_field="code")


def test_non_polygons_named():
    points = frame(geometries=[SQUARE, shapely.Point(3, 3)])
    with pytest.raises(RegionError, match=r"must be polygons: row 1 \(code 'b'\) is a Point"):
        read_regions(points, id_field="code")


def test_null_geometry_named():
    with pytest.raises(RegionError, match=r"row 1 \(code 'b'\) have no geometry"):
        read_regions(frame(geometries=[SQUARE, None]), id_field="code")


def test_no_crs():
    with pytest.raises(RegionError, match="no CRS"):
        read_regions(frame(crs=None), id_field="code")


def test_invalid_geometry_repaired_with_a_warning_naming_it():
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    with pytest.warns(UserWarning, match=r"geometries of row 1 \(code 'b'\) were repaired"):
        regions = read_regions(frame(geometries=[SQUARE, bowtie]), id_field="code")
    assert regions.geometry.is_valid.all()
    assert regions.geometry.iloc[1].area == pytest.approx(2.0)


def test_region_keys_match_across_types():
    assert (
        region_key(330000)
        == region_key(330000.0)
        == region_key("330000")
        == region_key(" 330000.0 ")
        == "330000"
    )
    assert region_key("CN-ZJ") == "CN-ZJ"


def test_regions_are_reprojected_to_the_raster_crs():
    lonlat = frame(ids=("a",), geometries=[shapely.box(10, 52, 10.01, 52.01)])
    grid = GridSpec(CRS.from_epsg(3035), Affine(100, 0, 4_321_000, 0, -100, 3_300_000), 100, 100)
    index = build_zone_index(read_regions(lonlat, id_field="code"), grid)
    x_min, y_min, _, _ = index.geometries[0].bounds
    assert 4_300_000 < x_min < 4_400_000 and 3_200_000 < y_min < 3_300_000


def test_overlaps_go_to_separate_layers_and_are_reported():
    overlapping = frame(
        ids=("a", "b", "c"),
        geometries=[shapely.box(0, 0, 2, 2), shapely.box(1, 1, 3, 3), shapely.box(5, 5, 6, 6)],
    )
    grid = GridSpec(CRS.from_epsg(4326), Affine(0.1, 0, 0, 0, -0.1, 7), 70, 70)
    with pytest.warns(UserWarning, match=r"1 pair\(s\) of regions overlap \(a/b\)"):
        index = build_zone_index(read_regions(overlapping, id_field="code"), grid)
    assert index.layer_of[0] != index.layer_of[1]
    assert index.n_layers == 2


def test_touching_regions_share_a_layer_except_all_touched():
    # the shared edge x = 1.05 runs through a column of pixels, which both regions touch
    touching = frame(geometries=[shapely.box(0, 0, 1.05, 1), shapely.box(1.05, 0, 2, 1)])
    grid = GridSpec(CRS.from_epsg(4326), Affine(0.1, 0, 0, 0, -0.1, 1), 10, 20)
    regions = read_regions(touching, id_field="code")
    assert build_zone_index(regions, grid, "centre").n_layers == 1
    assert build_zone_index(regions, grid, "all-touched").n_layers == 2


def test_regions_meeting_on_a_pixel_line_share_no_pixel_in_all_touched():
    # as in GDAL, an edge lying on a pixel line touches no pixel beyond it
    regions = read_regions(frame(), id_field="code")
    grid = GridSpec(CRS.from_epsg(4326), Affine(0.1, 0, 0, 0, -0.1, 1), 10, 20)
    assert build_zone_index(regions, grid, "all-touched").n_layers == 1


def test_exact_mode_refuses_rotated_grids():
    grid = GridSpec(CRS.from_epsg(3035), Affine(100, 10, 0, 10, -100, 0), 10, 10)
    with pytest.raises(RegionError, match="north-up"):
        build_zone_index(read_regions(frame(crs="EPSG:3035"), id_field="code"), grid, "exact")


def test_unknown_coverage_mode():
    grid = GridSpec(CRS.from_epsg(4326), Affine(0.1, 0, 0, 0, -0.1, 1), 10, 20)
    with pytest.raises(ValueError, match="coverage"):
        build_zone_index(read_regions(frame(), id_field="code"), grid, "most")


def test_spans_cover_each_pixel_once_for_a_partition():
    # four quadrants of a 10 x 10 grid, with pixel centres never on their shared edges
    quads = [shapely.box(x, y, x + 0.5, y + 0.5) for x in (0, 0.5) for y in (0, 0.5)]
    grid = GridSpec(CRS.from_epsg(4326), Affine(0.1, 0, 0, 0, -0.1, 1), 10, 10)
    index = build_zone_index(
        read_regions(frame(ids=tuple("abcd"), geometries=quads), id_field="code"), grid
    )
    counts = np.zeros((10, 10), int)
    spans = index.layer_spans[0]
    for row in range(10):
        for s in range(spans.row_offsets[row], spans.row_offsets[row + 1]):
            counts[row, spans.col0[s] : spans.col1[s]] += 1
    assert np.all(counts == 1)
