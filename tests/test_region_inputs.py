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

from geocarbon.errors import RegionError
from geocarbon.tables import CarbonTable
from geocarbon.zonal_pipeline import ZonalConfig, run_zonal
from geocarbon.zones import read_regions

from conftest import EQUAL_AREA_CRS, LANDCOVER_4X4, ONE_HA_TRANSFORM, write_raster

X0, Y0 = ONE_HA_TRANSFORM.c, ONE_HA_TRANSFORM.f


def box(col0, row0, col1, row1):
    """A rectangle in pixel units (columns, rows) of the 4x4 grid, in CRS coordinates."""
    return shapely.box(X0 + 100 * col0, Y0 - 100 * row1, X0 + 100 * col1, Y0 - 100 * row0)


def table():
    density = np.array([[15, 10, 1, 60], [5, 3, 0, 20], [2, 1, 0, 5]], float)
    return CarbonTable(
        "hand",
        np.array([1, 2, 3]),
        ("Forest", "Grass", "Urban"),
        np.repeat(density[:, :, None], 3, 2),
    )


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
