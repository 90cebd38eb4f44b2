"""What runs report: the regions' own totals, every unknown code of every date, wide tables a
format cannot hold, bad years, and quiet runs that stay quiet."""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from geocarbon.cli import main
from geocarbon.errors import UnknownClassError
from geocarbon.outputs.tables import GPKG_MAX_COLUMNS
from geocarbon.runs.change import ChangeConfig, run_change

from conftest import EQUAL_AREA_CRS, ONE_HA_TRANSFORM

X0, Y0 = ONE_HA_TRANSFORM.c, ONE_HA_TRANSFORM.f


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def left_half_region(path, *, name="left"):
    """One region over the left two columns of the 4x4 1-ha grid."""
    geometry = shapely.box(X0, Y0 - 400, X0 + 200, Y0)
    frame = gpd.GeoDataFrame({"code": [name]}, geometry=[geometry], crs=EQUAL_AREA_CRS)
    frame.to_file(path, driver="GPKG")
    return path


def test_zonal_prints_and_summarises_the_regions_own_total(
    capsys, landcover_tif, pools_csv, tmp_path
):
    """A region over half the raster: the printed total and the summary are its own stock; the
    rest of its extent (unassigned: its box a pixel wider, so the third column) is reported
    apart, never added in; the last column is not read."""
    regions = left_half_region(tmp_path / "r.gpkg")
    out = tmp_path / "out"
    code, stdout, err = cli(
        capsys,
        "zonal",
        str(landcover_tif),
        "--regions",
        str(regions),
        "--id-field",
        "code",
        "-d",
        str(pools_csv),
        "--out",
        str(out),
    )
    assert code == 0, err
    # left two columns: 4 x class 1 (86) + 4 x class 3 (8) = 376 Mg C; the third column holds
    # 3 x class 2 (28) + 1 x class 1 = 170 Mg C.
    summary = json.loads((out / "zonal_summary.json").read_text())
    assert summary["totals"]["stock_total_mg"] == pytest.approx(376.0)
    assert summary["totals"]["stock_total_mg_unassigned"] == pytest.approx(170.0)
    assert summary["pixels_outside_extent"] == 4
    assert "1 regions hold 0.000376 Tg C" in stdout
    assert "0.00017 Tg C" in stdout and "not included" in stdout
    assert "4 ha beyond the regions' bounding boxes not read" in stdout


def test_change_lists_every_unknown_code_of_every_date(raster_factory, pools_csv, tmp_path):
    first = np.array([[1, 7], [2, 2]], np.uint8)
    second = np.array([[1, 1], [9, 9]], np.uint8)
    a = raster_factory("a.tif", first)
    b = raster_factory("b.tif", second)
    out = tmp_path / "out"
    with pytest.raises(UnknownClassError) as caught:
        run_change(
            ChangeConfig(
                landcovers=(a, b),
                years=(2000, 2020),
                densities=pools_csv,
                out_dir=out,
                progress=False,
                monte_carlo=None,
            )
        )
    message = str(caught.value)
    assert "7 (1 px)" in message and "a.tif" in message
    assert "9 (2 px)" in message and "b.tif" in message
    assert caught.value.missing == {7: 1, 9: 2}
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize("years", [["2016.5", "2030"], ["2016", "x"]])
def test_years_that_are_not_whole_are_named(capsys, raster_factory, pools_csv, tmp_path, years):
    a = raster_factory("a.tif", np.ones((2, 2), np.uint8))
    b = raster_factory("b.tif", np.ones((2, 2), np.uint8))
    code, _, err = cli(
        capsys, "change", str(a), str(b), "--years", *years, "-d", str(pools_csv), "--out",
        str(tmp_path / "out"),
    )  # fmt: skip
    bad = years[0] if years[0] != "2016" else years[1]
    assert code == 2 and f"'{bad}'" in err and "--years" in err
    assert "Missing option" not in err


def test_thousands_of_classes_fit_every_output_quietly(capsys, raster_factory, tmp_path):
    """A table of 2500 classes: the GeoPackage leaves the per-class columns to the long table
    (SQLite's column limit), GeoParquet and CSV keep them, and pandas says nothing."""
    n_classes = 2500
    codes = np.arange(1, n_classes + 1)
    table = tmp_path / "many.csv"
    pd.DataFrame(
        {"lucode": codes, "c_above": 1.0, "c_below": 0.5, "c_soil": 2.0, "c_dead": 0.0}
    ).to_csv(table, index=False)
    landcover = raster_factory(
        "lc.tif", np.arange(16, dtype=np.uint16).reshape(4, 4) * 150 + 1, nodata=0
    )
    regions = left_half_region(tmp_path / "r.gpkg")
    out = tmp_path / "out"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, stdout, err = cli(
            capsys,
            "zonal",
            str(landcover),
            "--regions",
            str(regions),
            "--id-field",
            "code",
            "-d",
            str(table),
            "--out",
            str(out),
            "-q",
        )
    assert code == 0, err
    assert stdout == ""
    assert not [w for w in caught if issubclass(w.category, pd.errors.PerformanceWarning)]
    assert "GeoPackage allows at most" in err and "regions_by_class.csv" in err
    gpkg_columns = pyogrio.read_info(out / "regions.gpkg")["fields"]
    assert len(gpkg_columns) < GPKG_MAX_COLUMNS
    assert not any(str(c).startswith("class_") for c in gpkg_columns)
    parquet = gpd.read_parquet(out / "regions.parquet")
    assert f"class_{n_classes}_area_ha" in parquet.columns
    long = pd.read_csv(out / "regions_by_class.csv")
    assert long["area_ha"].sum() == pytest.approx(12.0)  # the region's extent: 3 of 4 columns


def ring_raster(raster_factory):
    """A 6x6 land cover whose border of 0 is not declared nodata (nodata is 255)."""
    codes = np.zeros((6, 6), np.uint8)
    codes[1:5, 1:5] = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 1, 1], [3, 3, 1, 1]])
    return raster_factory("ring.tif", codes)


def test_undeclared_nodata_ring_is_named_and_declared_with_nodata(
    capsys, raster_factory, pools_csv, tmp_path
):
    landcover = ring_raster(raster_factory)
    out = tmp_path / "out"
    code, _, err = cli(capsys, "stock", str(landcover), "-d", str(pools_csv), "--out", str(out))
    assert code == 1 and "0 (20 px)" in err and "ring.tif" in err
    assert "--nodata 0" in err and "gdal_edit.py -a_nodata 0" in err
    assert "--unknown zero, which would count those pixels as land" in err
    assert not out.exists() or list(out.iterdir()) == []
    code, _, err = cli(
        capsys, "stock", str(landcover), "-d", str(pools_csv), "--out", str(out), "--nodata", "0"
    )
    assert code == 0, err
    summary = json.loads((out / "stock_summary.json").read_text())
    assert summary["pixel_count"]["nodata"] == 20 and summary["pixel_count"]["valid"] == 16


def test_nodata_equal_to_a_class_warns_naming_both(capsys, raster_factory, pools_csv, tmp_path):
    landcover = raster_factory("lc.tif", np.array([[1, 2], [3, 2]], np.uint8), nodata=1)
    code, _, err = cli(
        capsys, "stock", str(landcover), "-d", str(pools_csv), "--out", str(tmp_path / "o"), "-q"
    )
    assert code == 0
    warning = [line for line in err.splitlines() if line.startswith("Warning")]
    assert len(warning) == 1 and "1" in warning[0] and "Forest" in warning[0]
    assert "lc.tif" in warning[0]


def test_gbk_table_with_encoding_option(capsys, landcover_tif, tmp_path):
    table = tmp_path / "gbk.csv"
    table.write_bytes(
        "lucode,LULC_Name,C_above,C_below,C_soil,C_dead\n1,森林,15,10,60,1\n2,草地,5,3,20,0\n"
        "3,建设用地,2,1,5,0\n".encode("gbk")
    )
    out = tmp_path / "out"
    code, _, err = cli(
        capsys, "stock", str(landcover_tif), "-d", str(table), "--out", str(out), "-q",
        "--encoding", "GBK",
    )  # fmt: skip
    assert code == 0 and "Warning" not in err
    names = pd.read_csv(out / "stock_summary.csv", encoding="utf-8")["class_name"].tolist()
    assert names[:3] == ["森林", "草地", "建设用地"]


HOSTILE = '=HYPERLINK("http://example.invalid","x")'


def test_spreadsheet_csvs_neutralise_formulas_and_other_formats_keep_exact_text(
    landcover_tif, tmp_path
):
    """Names that Excel would run (=, +, -, @) are quoted in the CSVs only."""
    table = tmp_path / "pools.csv"
    table.write_text(
        "lucode,LULC_Name,C_above,C_below,C_soil,C_dead\n"
        '1,"@SUM(A1)",15,10,60,1\n2,{{7*7}} {#,5,3,20,0\n3,=1+1,2,1,5,0\n'
    )
    geometry = shapely.box(X0, Y0 - 400, X0 + 400, Y0)
    regions = tmp_path / "r.gpkg"
    gpd.GeoDataFrame(
        {"code": ["+1"], "name": [HOSTILE]}, geometry=[geometry], crs=EQUAL_AREA_CRS
    ).to_file(regions)
    out = tmp_path / "out"
    code = main(
        [
            "zonal", str(landcover_tif), "--regions", str(regions), "--id-field", "code",
            "--name-field", "name", "-d", str(table), "--out", str(out), "-q",
        ]
    )  # fmt: skip
    assert code == 0
    wide = pd.read_csv(out / "regions.csv", dtype=str, keep_default_na=False)
    assert (
        wide["region_id"].tolist()[0] == "'+1" and wide["region_name"].tolist()[0] == "'" + HOSTILE
    )
    long = pd.read_csv(out / "regions_by_class.csv", dtype=str, keep_default_na=False)
    assert set(long["class_name"]) == {"'@SUM(A1)", "{{7*7}} {#", "'=1+1"}
    assert (out / "regions.csv").read_bytes().count(b"\r\n") == len(wide) + 1
    gpkg = gpd.read_file(out / "regions.gpkg")
    parquet = gpd.read_parquet(out / "regions.parquet")
    for frame in (gpkg, parquet):
        assert frame["region_id"].tolist() == ["+1"] and frame["region_name"].tolist() == [HOSTILE]


def test_every_run_summary_shares_the_common_keys(raster_factory, pools_csv, tmp_path):
    """One summary builder: stock, zonal and change report the same common block (the change
    summary used to lack the CRS and the unknown codes)."""
    from geocarbon.runs.stock import StockConfig, run_stock
    from geocarbon.runs.zonal import ZonalConfig, run_zonal

    first = raster_factory("a.tif", np.array([[1, 7], [2, 2]], np.uint8))
    second = raster_factory("b.tif", np.array([[1, 1], [7, 7]], np.uint8))
    regions = left_half_region(tmp_path / "r.gpkg")
    common = dict(densities=pools_csv, unknown="zero", progress=False)
    stock = run_stock(StockConfig(landcover=first, out_dir=tmp_path / "s", **common)).summary
    zonal = run_zonal(
        ZonalConfig(landcover=first, regions=regions, id_field="code", **common)
    ).summary
    change = run_change(
        ChangeConfig(landcovers=(first, second), years=(2000, 2010), monte_carlo=None, **common)
    ).summary
    keys = {
        "geocarbon_version", "run", "landcover", "landcovers", "crs", "shape", "area_method",
        "densities", "scheme", "unknown_mode", "unknown_classes", "unknown_classes_by_date",
        "nodata_by_date", "nodata_pixels_by_date", "coverage",
    }  # fmt: skip
    for summary, run in ((stock, "stock"), (zonal, "zonal"), (change, "change")):
        assert keys <= set(summary) and summary["run"] == run
        assert summary["crs"] == "EPSG:3035"
    assert change["unknown_classes"] == [{"class_code": 7, "pixel_count": 3}]
    assert [(e["year"], e["pixel_count"]) for e in change["unknown_classes_by_date"]] == [
        (2000, 1),
        (2010, 2),
    ]


def test_summaries_record_the_command_line_and_the_runs_warnings(
    capsys, monkeypatch, raster_factory, pools_csv, tmp_path
):
    landcover = raster_factory("lc.tif", np.array([[1, 2], [3, 2]], np.uint8), nodata=1)
    out = tmp_path / "o"
    argv = ["stock", str(landcover), "-d", str(pools_csv), "--out", str(out), "-q"]
    monkeypatch.setattr("sys.argv", ["/usr/local/bin/geocarbon", *argv])
    code, _, err = cli(capsys, *argv)
    assert code == 0
    summary = json.loads((out / "stock_summary.json").read_text(encoding="utf-8"))
    assert summary["command_line"] == ["geocarbon", *argv]
    # the nodata-equals-a-class warning was shown and is recorded, word for word
    shown = [
        line.removeprefix("Warning: ") for line in err.splitlines() if line.startswith("Warning")
    ]
    assert shown and summary["warnings"] == shown


def test_new_tables_quote_formulas_and_keep_template_text_as_typed(landcover_tif, tmp_path):
    """ipcc_categories.csv (region names) and regions_columns.csv (class names) are CSVs for
    spreadsheets too: =1+1 and @SUM are quoted, {{7*7}} and {# stay as typed."""
    table = tmp_path / "pools.csv"
    table.write_text(
        "lucode,LULC_Name,C_above,C_below,C_soil,C_dead\n"
        '1,"@SUM(A1)",15,10,60,1\n2,{{7*7}} {#,5,3,20,0\n3,=1+1,2,1,5,0\n'
    )
    categories = tmp_path / "categories.csv"
    categories.write_text("class_code,ipcc_category\n1,forest\n2,grassland\n3,settlements\n")
    geometry = shapely.box(X0, Y0 - 400, X0 + 400, Y0)
    regions = tmp_path / "r.gpkg"
    gpd.GeoDataFrame(
        {"code": ["{#"], "name": ["=1+1 {{7*7}}"]}, geometry=[geometry], crs=EQUAL_AREA_CRS
    ).to_file(regions)
    common = ["--regions", str(regions), "--id-field", "code", "--name-field", "name", "-q"]
    change = tmp_path / "change"
    code = main(
        ["change", str(landcover_tif), str(landcover_tif), "--years", "2000", "2010",
         "-d", str(table), "--ipcc-categories", str(categories), "-o", str(change), *common]
    )  # fmt: skip
    assert code == 0
    cells = pd.read_csv(change / "ipcc_categories.csv", dtype=str, keep_default_na=False)
    assert set(cells["region_name"]) == {"'=1+1 {{7*7}}", "unassigned"}
    assert set(cells["region_id"]) == {"{#", "unassigned"}
    zonal = tmp_path / "zonal"
    assert main(["zonal", str(landcover_tif), "-d", str(table), "-o", str(zonal), *common]) == 0
    named = pd.read_csv(zonal / "regions_columns.csv", dtype=str, keep_default_na=False)
    assert named["class_name"].tolist() == ["'@SUM(A1)", "{{7*7}} {#", "'=1+1"]
