"""Tables for people: CSVs Excel reads as UTF-8, class columns that can be named, and vector
outputs whose integers and booleans survive GeoPackage and GeoParquet."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from geocarbon.accounts.regions import class_columns, regions_with_statistics
from geocarbon.outputs.spreadsheet import restore_formulas
from geocarbon.outputs.tables import write_csv, write_geoparquet, write_vector

from builders import table
from conftest import EQUAL_AREA_CRS

BOM = b"\xef\xbb\xbf"


def test_csv_starts_with_a_bom_keeps_crlf_and_quoting_and_reads_back(tmp_path):
    frame = pd.DataFrame({"region_id": ["0101", "0102"], "region_name": ["北京市", "=1+1"]})
    path = tmp_path / "regions.csv"
    write_csv(frame, path)
    data = path.read_bytes()
    assert data.startswith(BOM)
    assert data[len(BOM) :].startswith(b"region_id,region_name\r\n")
    assert "'=1+1" in data.decode("utf-8-sig")
    back = restore_formulas(pd.read_csv(path, dtype={"region_id": str}))
    assert list(back.columns) == ["region_id", "region_name"]  # no BOM glued to the first header
    pd.testing.assert_frame_equal(back, frame)


def test_class_columns_name_each_wide_column_of_the_regions_table():
    mapping = class_columns(table())
    assert mapping["column"].tolist() == ["class_1_area_ha", "class_2_area_ha", "class_3_area_ha"]
    assert mapping["class_code"].dtype == "int64"
    assert mapping["class_name"].tolist() == ["Forest", "Grass", "Urban"]
    assert set(mapping["unit"]) == {"ha"}


def test_zonal_regions_csv_class_columns_all_have_a_name(zonal_dir):
    regions = pd.read_csv(zonal_dir / "regions.csv", dtype={"region_id": str})
    by_class = pd.read_csv(zonal_dir / "regions_by_class.csv", dtype={"region_id": str})
    wide = {c for c in regions.columns if c.startswith("class_")}
    assert wide, "the wide table lost its per-class columns"
    named = {f"class_{code}_area_ha" for code in by_class["class_code"]}
    assert named <= wide  # every class with area in the long form is a wide column
    assert (zonal_dir / "regions.csv").read_bytes().startswith(BOM)


def _frame():
    regions = gpd.GeoDataFrame(
        {"adcode": [110000, 120000], "flag": [True, False], "name": ["北京", "天津"]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
        crs=EQUAL_AREA_CRS,
    ).rename(columns={"adcode": "region_id", "name": "region_name"})
    statistics = pd.DataFrame(
        {
            "region_id": [110000, 120000],
            "pixel_count": pd.array([4, 5], dtype="int64"),
            "is_sink": [True, False],
            "class_12_area_ha": [1.5, 0.0],
        }
    )
    return regions_with_statistics(regions, statistics, keep_unassigned=False)


@pytest.mark.parametrize("kind", ["gpkg", "parquet"])
def test_integers_and_booleans_round_trip_through_vector_files(tmp_path, kind):
    frame = _frame()
    path = tmp_path / f"regions.{kind}"
    if kind == "gpkg":
        write_vector(frame, path, driver="GPKG", layer="regions")
        back = pyogrio.read_dataframe(path, layer="regions")
    else:
        write_geoparquet(frame, path)
        back = gpd.read_parquet(path)
    assert back["region_id"].dtype == "int64"
    assert back["pixel_count"].dtype == "int64"
    assert back["is_sink"].dtype == "bool" and back["is_sink"].tolist() == [True, False]
    assert back["flag"].dtype == "bool"
    assert back["region_name"].tolist() == ["北京", "天津"]
    assert "class_12_area_ha" in back.columns


@pytest.mark.parametrize("name", ["regions.gpkg", "regions.parquet"])
def test_zonal_vector_outputs_keep_integer_ids_and_counts(zonal_dir, name):
    path = zonal_dir / name
    back = gpd.read_parquet(path) if name.endswith("parquet") else pyogrio.read_dataframe(path)
    assert back["region_id"].dtype == "int64"
    assert back["pixel_count"].dtype == "int64"


@pytest.mark.parametrize("name", ["regions.gpkg", "regions.parquet"])
def test_change_vector_outputs_keep_integer_ids_years_and_codes(change_dir, name):
    path = change_dir / name
    back = gpd.read_parquet(path) if name.endswith("parquet") else pyogrio.read_dataframe(path)
    for column in ("region_id", "year_start", "year_end", "years", "top_variance_class"):
        assert back[column].dtype == "int64", column
