"""Region files as people have them: 64-bit and zero-padded ids, GBK Shapefiles, mixed
geometries, a previous run's output as input, the antimeridian. Each is a real file on disk."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from affine import Affine

from geocarbon.errors import InputFileError, RegionError
from geocarbon.inputs.densities import CarbonTable
from geocarbon.inputs.regions import read_regions
from geocarbon.runs.zonal import ZonalConfig, run_zonal

from builders import X0, Y0, box, table
from conftest import EQUAL_AREA_CRS, LANDCOVER_4X4, write_raster


def halves(**columns):
    """Left and right halves of the 4x4 grid with the given attribute columns."""
    return gpd.GeoDataFrame(
        columns, geometry=[box(0, 0, 2, 4), box(2, 0, 4, 4)], crs=EQUAL_AREA_CRS
    )


def zonal(tmp_path, regions, *, id_field="code", out="out", **options):
    landcover = write_raster(tmp_path / "lc.tif", LANDCOVER_4X4)
    return run_zonal(
        ZonalConfig(
            landcover=landcover,
            regions=regions,
            densities=table(),
            id_field=id_field,
            out_dir=tmp_path / out,
            progress=False,
            **options,
        )
    )


def gpkg_field_types(path):
    with sqlite3.connect(path) as connection:
        return {row[1]: row[2] for row in connection.execute("PRAGMA table_info(regions)")}


# 1. Ids keep their type and text -----------------------------------------------------------


def test_integer64_ids_round_trip_exactly_through_every_output(tmp_path):
    big = [9007199254740993, 2**62 + 1]  # not representable as float64
    path = tmp_path / "regions.gpkg"
    halves(code=np.array(big, np.int64), label=["a", "b"], parent=np.array([7, 7])).to_file(path)
    result = zonal(tmp_path, path, name_field="label", parent_field="parent")
    out = tmp_path / "out"
    assert gpkg_field_types(out / "regions.gpkg")["region_id"] == "INTEGER"
    assert pyogrio.read_info(out / "regions.gpkg")["dtypes"][0] == "int64"
    assert gpd.read_file(out / "regions.gpkg")["region_id"].tolist() == big
    parquet = pq.read_table(out / "regions.parquet")
    assert str(parquet.schema.field("region_id").type) == "int64"
    assert parquet.column("region_id").to_pylist() == big
    csv = pd.read_csv(out / "regions.csv", dtype=str)
    assert csv["region_id"].tolist() == [str(v) for v in big] + ["unassigned"]
    by_class = pd.read_csv(out / "regions_by_class.csv", dtype=str)
    assert set(by_class["region_id"]) <= {str(v) for v in big} | {"unassigned"}
    assert pd.read_csv(out / "parents.csv", dtype=str)["parent_id"].tolist() == ["7"]
    assert result.regions["region_id"].tolist()[:2] == big
    assert result.regions.set_index("region_name").loc["a", "stock_total_mg"] == pytest.approx(376)


def test_text_ids_keep_leading_zeros_and_do_not_collide(tmp_path):
    path = tmp_path / "regions.geojson"
    halves(code=["0101", "01"], label=["a", "b"]).to_file(path)
    zonal(tmp_path, path)
    out = tmp_path / "out"
    assert gpd.read_file(out / "regions.gpkg")["region_id"].tolist() == ["0101", "01"]
    assert gpkg_field_types(out / "regions.gpkg")["region_id"].startswith("TEXT")
    parquet = pq.read_table(out / "regions.parquet")
    assert parquet.column("region_id").to_pylist() == ["0101", "01"]
    assert str(parquet.schema.field("region_id").type) in ("string", "large_string")
    csv = pd.read_csv(out / "regions.csv", dtype=str)
    assert csv["region_id"].tolist() == ["0101", "01", "unassigned"]


def test_ids_1_and_01_are_not_duplicates_but_exact_repeats_are(tmp_path):
    path = tmp_path / "regions.gpkg"
    halves(code=["1", "01"]).to_file(path)
    assert read_regions(path, id_field="code")["region_id"].tolist() == ["1", "01"]
    gpd.GeoDataFrame(
        {"code": ["1", "2", "1"]}, geometry=[box(0, 0, 1, 1)] * 3, crs=EQUAL_AREA_CRS
    ).to_file(path)
    with pytest.raises(RegionError, match=r"repeats id\(s\) 1 \(FID 1 \(code '1'\), FID 3"):
        read_regions(path, id_field="code")


def test_a_null_id_names_the_feature_and_writes_nothing(tmp_path):
    path = tmp_path / "regions.gpkg"
    halves(code=pd.array([11, None], dtype="Int64"), label=["Hebei", "Shanxi"]).to_file(path)
    before = path.read_bytes()
    with pytest.raises(
        RegionError, match=r"field 'code' is empty \(null\) for FID 2 \(label 'Shanxi'\)"
    ):
        zonal(tmp_path, path, name_field="label")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert path.read_bytes() == before


def test_region_specific_densities_match_zero_padded_text_ids(tmp_path):
    base = table()
    own = np.full_like(base.density_mg_per_ha, np.nan)
    own[0] = 100.0  # class 1: 4 pools x 100 = 400 Mg C/ha in region 0101 only
    regional = CarbonTable(
        base.source, base.codes, base.names, base.density_mg_per_ha, None, {"0101": own}
    )
    path = tmp_path / "regions.gpkg"
    halves(code=["0101", "101"]).to_file(path)
    landcover = write_raster(tmp_path / "lc.tif", LANDCOVER_4X4)
    result = run_zonal(
        ZonalConfig(
            landcover=landcover, regions=path, densities=regional, id_field="code", progress=False
        )
    )
    stocks = result.regions.set_index("region_id")["stock_total_mg"]
    assert stocks["0101"] == pytest.approx(4 * 400 + 4 * 8)
    assert stocks["101"] == pytest.approx(312.0)


def test_mixed_integer_and_text_ids_are_refused_early(tmp_path):
    frame = halves(code=pd.Series([11, "x"], dtype=object))
    with pytest.raises(RegionError, match=r"field 'code' holds integer, text values"):
        zonal(tmp_path, frame)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_id_called_unassigned_is_refused(tmp_path):
    with pytest.raises(RegionError, match=r"id 'unassigned' \(row 1 \(code 'unassigned'\)\)"):
        read_regions(halves(code=["a", "unassigned"]), id_field="code")


# 4. Input attributes never collide with output columns -----------------------------------


def test_a_previous_runs_regions_gpkg_is_valid_input(tmp_path):
    first = tmp_path / "first.gpkg"
    halves(code=[1, 2], label=["a", "b"]).to_file(first)
    zonal(tmp_path, first, name_field="label", out="run1")
    again = zonal(tmp_path, tmp_path / "run1" / "regions.gpkg", id_field="region_id", out="run2")
    columns = list(again.regions.columns)
    assert not [c for c in columns if c.endswith(("_x", "_y"))]
    assert "stock_total_mg" in columns and len({c.lower() for c in columns}) == len(columns)
    written = gpd.read_file(tmp_path / "run2" / "regions.gpkg")
    assert written["stock_total_mg"].tolist() == pytest.approx([376.0, 312.0])
    assert written["region_id"].tolist() == [1, 2]


@pytest.mark.parametrize("field", ["REGION_ID", "region_id", "FID", "Geometry", "REGION_NAME"])
def test_id_fields_named_like_output_columns_write_cleanly(tmp_path, field):
    path = tmp_path / "regions.geojson"
    others = {"Region_Name": ["x", "y"], "STOCK_TOTAL_MG": [9.0, 9.0], "fid_": [5, 6]}
    halves(**{field: ["a", "b"], **{k: v for k, v in others.items() if k != field}}).to_file(path)
    zonal(tmp_path, path, id_field=field)
    written = gpd.read_file(tmp_path / "out" / "regions.gpkg")
    assert written["region_id"].tolist() == ["a", "b"]
    assert len({c.lower() for c in written.columns}) == len(written.columns)


def test_an_fid_named_id_field_in_a_geopackage(tmp_path):
    path = tmp_path / "regions.gpkg"
    halves(code=["a", "b"]).to_file(path)
    zonal(tmp_path, path, id_field="code")
    # an id field called fid (GeoPackage's own key) read from a GeoDataFrame
    frame = halves(fid=np.array([10, 20]), Region_ID=["p", "q"])
    result = zonal(tmp_path, frame, id_field="fid", name_field="Region_ID", out="other")
    assert gpd.read_file(tmp_path / "other" / "regions.gpkg")["region_id"].tolist() == [10, 20]
    assert result.regions["region_name"].tolist()[:2] == ["p", "q"]


# 2. GBK Shapefiles without a .cpg ------------------------------------------------------


def gbk_shapefile(tmp_path, names=("北京市", "天津市")):
    path = tmp_path / "省界.shp"
    halves(code=["11", "12"], 名称=list(names)).to_file(path, encoding="GBK", engine="pyogrio")
    path.with_suffix(".cpg").unlink()
    return path


def test_a_gbk_shapefile_without_cpg_is_read_as_gb18030_with_a_warning(tmp_path):
    path = gbk_shapefile(tmp_path)
    with pytest.warns(UserWarning, match=r"省界.shp.*GB18030.*--encoding GBK.*省界.cpg"):
        regions = read_regions(path, id_field="code", name_field="名称")
    assert regions["region_name"].tolist() == ["北京市", "天津市"]


def test_a_named_encoding_reads_it_silently(tmp_path, recwarn):
    path = gbk_shapefile(tmp_path)
    regions = read_regions(path, id_field="code", name_field="名称", encoding="GBK")
    assert regions["region_name"].tolist() == ["北京市", "天津市"]
    assert not [w for w in recwarn if "GB18030" in str(w.message)]
    with pytest.raises(InputFileError, match=r"Unknown encoding 'NOPE'.*--encoding"):
        read_regions(path, id_field="code", encoding="NOPE")


def test_a_utf8_shapefile_without_cpg_is_read_as_utf8(tmp_path, recwarn):
    path = tmp_path / "regions.shp"
    halves(code=["11", "12"], name=["北京市", "Zürich"]).to_file(path, encoding="UTF-8")
    path.with_suffix(".cpg").unlink()
    regions = read_regions(path, id_field="code", name_field="name")
    assert regions["region_name"].tolist() == ["北京市", "Zürich"]
    assert not [w for w in recwarn if "GB18030" in str(w.message)]


def test_a_gbk_shapefile_in_a_zonal_run(tmp_path):
    path = gbk_shapefile(tmp_path)
    with pytest.warns(UserWarning, match="GB18030"):
        zonal(tmp_path, path, name_field="名称")
    csv = pd.read_csv(tmp_path / "out" / "regions.csv", dtype=str)
    assert csv["region_name"].tolist() == ["北京市", "天津市", "unassigned"]


# 3. Mixed geometry types -----------------------------------------------------------------


def test_a_collection_of_polygons_and_lines_uses_its_polygons_with_a_warning(tmp_path):
    collection = shapely.GeometryCollection(
        [box(0, 0, 2, 4), shapely.LineString([(X0, Y0), (X0 + 400, Y0 - 400)])]
    )
    path = tmp_path / "regions.geojson"
    gpd.GeoDataFrame(
        {"code": ["a", "b"]}, geometry=[collection, box(2, 0, 4, 4)], crs=EQUAL_AREA_CRS
    ).to_file(path)
    with pytest.warns(
        UserWarning, match=r"only the polygons of FID 0 \(code 'a'\) \(GeometryCollection\)"
    ):
        result = zonal(tmp_path, path)
    assert result.regions.set_index("region_id").loc["a", "stock_total_mg"] == pytest.approx(376)


def test_a_collection_without_polygons_is_refused_naming_it(tmp_path):
    lines = shapely.GeometryCollection([shapely.LineString([(X0, Y0), (X0 + 400, Y0 - 400)])])
    path = tmp_path / "regions.gpkg"
    gpd.GeoDataFrame(
        {"code": ["a", "b"]}, geometry=[box(0, 0, 2, 4), lines], crs=EQUAL_AREA_CRS
    ).to_file(path)
    with pytest.raises(RegionError, match=r"FID 2 \(code 'b'\) is a GeometryCollection without"):
        zonal(tmp_path, path)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# 7. Siblings -------------------------------------------------------------------------------


@pytest.mark.parametrize("geometry", [None, shapely.Polygon()], ids=["null", "empty"])
def test_null_and_empty_geometries_name_the_feature(tmp_path, geometry):
    path = tmp_path / "regions.gpkg"
    gpd.GeoDataFrame(
        {"code": [1, 2], "name": ["A", "B"]},
        geometry=[box(0, 0, 1, 1), geometry],
        crs=EQUAL_AREA_CRS,
    ).to_file(path)
    with pytest.raises(RegionError, match=r"FID 2 \(code 2, name 'B'\) have no geometry"):
        read_regions(path, id_field="code", name_field="name")


def test_a_shapefile_without_prj_says_how_to_set_a_crs(tmp_path):
    path = tmp_path / "regions.shp"
    halves(code=["a", "b"]).to_file(path)
    path.with_suffix(".prj").unlink()
    with pytest.raises(
        RegionError, match=r"regions.shp' have no CRS; set one, e.g. ogr2ogr -a_srs"
    ):
        zonal(tmp_path, path)


def test_regions_in_another_crs_are_reprojected(tmp_path):
    path = tmp_path / "regions.gpkg"
    halves(code=["a", "b"]).to_crs("EPSG:4326").to_file(path)
    result = zonal(tmp_path, path).regions.set_index("region_id")
    assert result.loc["a", "pixel_count"] == 8 and result.loc["b", "pixel_count"] == 7


def test_ids_with_spaces_are_kept_as_written_with_a_warning(tmp_path):
    path = tmp_path / "regions.gpkg"
    halves(code=[" 11", "11"]).to_file(path)
    with pytest.warns(UserWarning, match=r"id\(s\) ' 11' of field 'code' start or end with spaces"):
        regions = read_regions(path, id_field="code")
    assert regions["region_id"].tolist() == [" 11", "11"]


def test_null_names_fall_back_to_the_id_with_a_warning(tmp_path):
    path = tmp_path / "regions.gpkg"
    halves(code=[1, 2], name=["A", None]).to_file(path)
    with pytest.warns(UserWarning, match=r"field 'name' is empty for FID 2 \(code 2\)"):
        regions = read_regions(path, id_field="code", name_field="name")
    assert regions["region_name"].tolist() == ["A", "2"]


def test_null_parents_are_refused_naming_the_feature(tmp_path):
    path = tmp_path / "regions.gpkg"
    halves(code=[1, 2], parent=pd.array([10, None], dtype="Int64")).to_file(path)
    with pytest.raises(RegionError, match=r"field 'parent' is empty \(null\) for FID 2 \(code 2\)"):
        zonal(tmp_path, path, parent_field="parent")


def test_z_geometries_are_used_in_2d(tmp_path):
    path = tmp_path / "regions.gpkg"
    flat = halves(code=["a", "b"])
    flat.set_geometry(shapely.force_3d(flat.geometry.values, 5.0)).to_file(path)
    regions = read_regions(path, id_field="code")
    assert not regions.geometry.has_z.any()
    assert zonal(tmp_path, path).regions["pixel_count"].tolist()[:2] == [8, 7]


def test_a_file_with_several_layers_needs_one_named(tmp_path):
    path = tmp_path / "regions.gpkg"
    halves(code=["a", "b"]).to_file(path, layer="provinces")
    halves(code=["c", "d"]).to_file(path, layer="prefectures")
    with pytest.raises(
        InputFileError, match=r"has 2 layers \(provinces, prefectures\); choose one with --layer"
    ):
        zonal(tmp_path, path)
    assert read_regions(path, id_field="code", layer="prefectures")["region_id"].tolist() == [
        "c",
        "d",
    ]


# 5. The antimeridian ---------------------------------------------------------------------


def lonlat_run(tmp_path, transform, width, regions):
    landcover = write_raster(
        tmp_path / "lonlat.tif",
        np.ones((10, width), np.uint8),
        crs="EPSG:4326",
        transform=transform,
    )
    path = tmp_path / "regions.geojson"
    regions.to_file(path)
    return run_zonal(
        ZonalConfig(
            landcover=landcover, regions=path, densities=table(), id_field="code", progress=False
        )
    ).regions.set_index("region_id")


def test_regions_split_at_the_antimeridian_over_a_raster_crossing_it(tmp_path):
    # 0.5-degree pixels from 170 to 190 east, 0 to 5 north
    split = shapely.MultiPolygon([shapely.box(179, 0, 180, 5), shapely.box(-180, 0, -179, 5)])
    east_of_180 = shapely.box(-175, 0, -172, 5)
    regions = gpd.GeoDataFrame(
        {"code": [1, 2, 3]}, geometry=[split, east_of_180, shapely.box(171, 0, 172, 5)], crs=4326
    )
    result = lonlat_run(tmp_path, Affine(0.5, 0, 170, 0, -0.5, 5), 40, regions)
    assert result.loc[1, "pixel_count"] == 4 * 10  # 2 degrees x 5 degrees
    assert result.loc[2, "pixel_count"] == 6 * 10
    assert result.loc[3, "pixel_count"] == 2 * 10
    # Unassigned: the regions' extent (their boxes on the raster's longitudes, a pixel wider:
    # 6, 8 and 4 columns of 10 rows) outside them; the rest of the raster is not read.
    assert result.loc["unassigned", "pixel_count"] == (6 + 8 + 4) * 10 - 120


def test_minus_180_to_180_regions_over_a_0_to_360_raster(tmp_path):
    split = shapely.MultiPolygon([shapely.box(170, 0, 180, 5), shapely.box(-180, 0, -170, 5)])
    regions = gpd.GeoDataFrame(
        {"code": ["fiji", "west", "east"]},
        geometry=[split, shapely.box(-10, 0, -5, 5), shapely.box(5, 0, 10, 5)],
        crs=4326,
    )
    result = lonlat_run(tmp_path, Affine(1, 0, 0, 0, -0.5, 5), 360, regions)
    assert result.loc["fiji", "pixel_count"] == 20 * 10
    assert result.loc["west", "pixel_count"] == 5 * 10
    assert result.loc["east", "pixel_count"] == 5 * 10


def test_regions_partly_beyond_a_lonlat_raster_are_named_in_a_warning(tmp_path):
    regions = gpd.GeoDataFrame(
        {"code": ["inside", "across"]},
        geometry=[shapely.box(172, 0, 174, 5), shapely.box(160, 0, 175, 5)],
        crs=4326,
    )
    with pytest.warns(UserWarning, match=r"1 region\(s\) reach beyond .*\(across \(67 %\)"):
        result = lonlat_run(tmp_path, Affine(0.5, 0, 170, 0, -0.5, 5), 40, regions)
    assert result.loc["across", "pixel_count"] == 10 * 10
