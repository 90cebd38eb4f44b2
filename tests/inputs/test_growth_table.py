"""Growth-rate tables: reading, every validation error by file/line/column, GBK, built-in, crosswalk."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geocarbon.area import ellipsoid_band_area_m2
from geocarbon.errors import EncodingGuessWarning, InputFileError, SchemeError, TableSchemaError
from geocarbon.inputs.growth import BUILTIN_GROWTH, GrowthTable, load_growth_table
from geocarbon.inputs.schemes import get_scheme
from geocarbon.units import POOLS

HEADER = (
    "region_id,class_code,class_name,pool,age_min,age_max,rate_low,rate_mg_per_ha_yr,rate_high\n"
)
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
MODIS = SHARED / "landcover/modis_mcd12c1_china/MCD12C1.A2019001.006_LC_Type1_IGBP_China_crop.tif"
PROVINCES = SHARED / "boundaries/china_provinces.geojson"


def write(tmp_path: Path, text: str, name: str = "growth.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def schema_message(path: Path) -> str:
    before = path.read_bytes()
    with pytest.raises(TableSchemaError) as info:
        load_growth_table(path)
    assert path.read_bytes() == before  # the table is never rewritten
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_minimal_table_defaults_blank_ages_and_range(tmp_path):
    path = write(tmp_path, "class_code,pool,rate_mg_per_ha_yr\n2,Above,0.7\n2,below,-0.1\n")
    table = load_growth_table(path)
    assert isinstance(table, GrowthTable) and len(table) == 2
    assert table.source == str(path) and table.scheme is None
    assert table.region == ("", "")
    assert table.code.dtype == np.int64 and table.code.tolist() == [2, 2]
    assert table.pool.dtype == np.int8 and table.pool.tolist() == [0, 1]
    assert table.age_min.tolist() == [0, 0] and table.age_max.tolist() == [np.inf, np.inf]
    # blank low/high = central; a negative rate (a declining pool) is allowed
    assert table.rate_mg_per_ha_yr.tolist() == [[0.7, 0.7, 0.7], [-0.1, -0.1, -0.1]]


def test_regions_ages_and_gaps(tmp_path):
    rows = (
        ",2,Forest,above,0,20,1,2,3\n"
        ",2,Forest,above,40,,0.1,0.2,0.3\n"  # 20-40 is a gap: rate 0 there
        "330000.0,2,Forest,above,,,,1.5,\n"
        "0101,2,Forest,above,0,10,,1,\n"
    )
    table = load_growth_table(write(tmp_path, HEADER + rows))
    assert table.region == ("", "", "330000", "0101")
    assert table.age_min.tolist() == [0, 40, 0, 0]
    assert table.age_max.tolist() == [20, np.inf, np.inf, 10]
    assert table.rate_mg_per_ha_yr[0].tolist() == [1, 2, 3]


def test_code_is_exact_integer_never_via_float(tmp_path):
    big = 2**62 + 1  # not representable as a float64
    table = load_growth_table(write(tmp_path, f"class_code,pool,rate_mg_per_ha_yr\n{big},soil,1\n"))
    assert int(table.code[0]) == big


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (",2,F,leaves,,,,1,", ["line 2, column 'pool'", "'leaves'", "above, below, dead, soil"]),
        (",2,F,above,-5,,,1,", ["line 2, column 'age_min'", "-5 is negative"]),
        (",2,F,above,20,10,,1,", ["line 2, columns 'age_min','age_max'", "20 >= 10"]),
        (",2,F,above,10,10,,1,", ["line 2, columns 'age_min','age_max'", "10 >= 10"]),
        (",2.5,F,above,,,,1,", ["line 2, column 'class_code'", "'2.5' is not an integer"]),
        (",1e3,F,above,,,,1,", ["line 2, column 'class_code'", "scientific notation"]),
        (",,F,above,,,,1,", ["line 2, column 'class_code'", "the cell is empty"]),
        (",9223372036854775808,F,above,,,,1,", ["line 2, column 'class_code'", "largest"]),
        (",2,F,above,,,,abc,", ["line 2, column 'rate_mg_per_ha_yr'", "'abc' is not a number"]),
        (",2,F,above,,,,1e999,", ["line 2, column 'rate_mg_per_ha_yr'", "finite"]),
        (",2,F,above,,,,,", ["line 2, column 'rate_mg_per_ha_yr'", "the cell is empty"]),
        (',2,F,above,,,,"1,5",', ["line 2, column 'rate_mg_per_ha_yr'", "'1,5'"]),
        (",2,F,above,,x,,1,", ["line 2, column 'age_max'", "'x' is not a number (years)"]),
        (",2,F,above,,,2,1,", ["line 2, columns 'rate_low','rate_mg_per_ha_yr','rate_high'"]),
        (",2,F,above,,,,1,0.5", ["1 / 1 / 0.5", "low <= central <= high"]),
    ],
)
def test_each_row_error_names_file_line_and_column(tmp_path, row, expected):
    message = schema_message(write(tmp_path, HEADER + row + "\n"))
    assert "Growth table" in message and "1 problem(s)" in message
    for part in expected:
        assert part in message


def test_overlapping_ages_name_both_lines(tmp_path):
    rows = ",2,F,above,0,30,,1,\n,2,F,below,0,30,,1,\n,2,F,above,20,60,,1,\n"
    message = schema_message(write(tmp_path, HEADER + rows))
    assert "line 4: class 2 pool 'above' ages [20, 60) overlap ages [0, 30) of line 2" in message
    assert "line 3" not in message  # another pool does not overlap


def test_overlap_is_per_region(tmp_path):
    rows = ",2,F,above,0,30,,1,\n11,2,F,above,0,30,,1,\n11,2,F,above,,,,2,\n"
    message = schema_message(write(tmp_path, HEADER + rows))
    assert "line 4: class 2 pool 'above' region '11' ages [0, inf) overlap" in message
    assert "of line 3" in message and "of line 2" not in message


def test_exact_duplicate_names_both_lines(tmp_path):
    rows = ",2,F,above,,,,1,\n# a comment line is counted\n,2,F,ABOVE,,,,1,\n"
    message = schema_message(write(tmp_path, HEADER + rows))
    assert "line 4: class 2 pool 'above' ages [0, inf) repeats line 2" in message


def test_all_problems_collected_in_one_message(tmp_path):
    rows = ",2,F,leaves,,,,1,\n,x,F,above,,,,1,\n,2,F,above,-1,,,1,\n"
    message = schema_message(write(tmp_path, HEADER + rows))
    assert "3 problem(s)" in message
    assert all(f"line {n}" in message for n in (2, 3, 4))


def test_missing_required_column_and_empty_table(tmp_path):
    message = schema_message(write(tmp_path, "class_code,pool,rate\n2,above,1\n"))
    assert (
        "missing column(s) rate_mg_per_ha_yr" in message
        and "found class_code, pool, rate" in message
    )
    message = schema_message(write(tmp_path, "class_code,pool,rate_mg_per_ha_yr\n", "empty.csv"))
    assert "no rows under its header" in message


def test_text_reader_errors_name_a_growth_table(tmp_path):
    path = tmp_path / "book.csv"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64)
    with pytest.raises(InputFileError, match=r"^Growth table .*book\.csv.* Excel 97-2003"):
        load_growth_table(path)
    short = write(tmp_path, "class_code,pool,rate_mg_per_ha_yr\n2,above\n", "short.csv")
    with pytest.raises(
        TableSchemaError, match=r"^Growth table .*short\.csv.*line 2 has fewer cells"
    ):
        load_growth_table(short)


def test_missing_file_and_folder_are_one_line(tmp_path):
    with pytest.raises(InputFileError, match=r"'.*nope\.csv' does not exist.*china-clcd"):
        load_growth_table(tmp_path / "nope.csv")
    with pytest.raises(InputFileError, match=r"is a folder; give the CSV file inside it"):
        load_growth_table(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_gbk_table_with_semicolons_and_bom_variants(tmp_path):
    text = "区域;class_code;class_name;pool;rate_mg_per_ha_yr\n;2;森林;above;0.7\n"
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(text.replace("区域", "region_id").encode("gbk"))
    with pytest.warns(EncodingGuessWarning):
        table = load_growth_table(gbk)
    assert table.code.tolist() == [2] and table.rate_mg_per_ha_yr[0, 1] == 0.7
    assert load_growth_table(gbk, encoding="gbk").code.tolist() == [2]
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeffclass_code,pool,rate_mg_per_ha_yr\n4,soil,0.1\n".encode())
    assert load_growth_table(bom).pool.tolist() == [POOLS.index("soil")]


def test_builtin_by_name_any_case():
    table = load_growth_table(" China-CLCD ")
    assert table.source == "china-clcd" and table.scheme == "clcd"
    assert set(table.code.tolist()) == {2}  # forest only: no sourced shrub/grass/crop rates
    assert set(table.pool.tolist()) == {POOLS.index("above"), POOLS.index("below")}
    assert "" in table.region and "330000" not in table.region
    assert np.all(table.rate_mg_per_ha_yr[:, 0] <= table.rate_mg_per_ha_yr[:, 1])
    assert np.all(table.rate_mg_per_ha_yr[:, 1] <= table.rate_mg_per_ha_yr[:, 2])


def test_every_builtin_row_names_its_source():
    for filename, _ in BUILTIN_GROWTH.values():
        with resources.as_file(resources.files("geocarbon") / "data" / "growth" / filename) as path:
            with path.open(encoding="utf-8", newline="") as handle:
                rows = list(csv.DictReader(handle))
        assert rows and all(len(row["source"].strip()) > 20 for row in rows)
        assert all(("doi:" in row["source"]) for row in rows)
    assert (resources.files("geocarbon") / "data" / "growth" / "SOURCES.md").is_file()


def test_builtin_crosswalk_to_modis_igbp():
    clcd = load_growth_table("china-clcd")
    igbp = load_growth_table("china-clcd", scheme="igbp")
    scheme = get_scheme("modis-igbp")
    assert igbp.scheme == "modis-igbp" and igbp.source == "china-clcd via modis-igbp->clcd"
    forest_codes = [c for c, t in scheme.crosswalk_to_clcd().items() if t == 2]
    assert sorted(set(igbp.code.tolist())) == sorted(forest_codes) == [1, 2, 3, 4, 5, 8]
    for code in forest_codes:
        rows = igbp.code == code
        assert rows.sum() == len(clcd)
        np.testing.assert_array_equal(igbp.rate_mg_per_ha_yr[rows], clcd.rate_mg_per_ha_yr)
        assert tuple(np.array(igbp.region)[rows]) == clcd.region
    assert load_growth_table("china-clcd", scheme="clcd").code.tolist() == clcd.code.tolist()


def test_user_table_is_not_crosswalked_and_unknown_scheme_refused(tmp_path):
    path = write(tmp_path, "class_code,pool,rate_mg_per_ha_yr\n17,above,0.5\n")
    assert load_growth_table(path, scheme="modis-igbp").code.tolist() == [17]
    with pytest.raises(SchemeError, match="Unknown class scheme 'no-such'"):
        load_growth_table("china-clcd", scheme="no-such")


@pytest.mark.skipif(not MODIS.is_file(), reason="shared MODIS China raster absent")
def test_builtin_forest_sink_over_modis_2019_china_is_near_the_inventory_sink():
    """National biomass sink on MODIS IGBP 2019 forest (IGBP 1-5, 8) within 155 Tg C/yr +-25 %.

    Forest area per province on the ellipsoid x the province's rate (its own rows, else the
    national ones); Hainan's stands are taken as over 20 years old (the lower rate).
    """
    geopandas = pytest.importorskip("geopandas")
    from rasterio.features import rasterize

    with rasterio.open(MODIS) as source:
        land_cover, transform = source.read(1), source.transform
    provinces = geopandas.read_file(PROVINCES)
    zones = rasterize(
        (
            (geom, int(code))
            for geom, code in zip(provinces.geometry, provinces.adcode, strict=True)
        ),
        out_shape=land_cover.shape,
        transform=transform,
        dtype="int32",
    )
    tops = transform.f + np.arange(land_cover.shape[0]) * transform.e
    row_ha = (
        ellipsoid_band_area_m2(
            tops + transform.e,
            tops,
            transform.a,
            semi_major_m=6378137.0,
            inverse_flattening=298.257223563,
        )
        / 1e4
    )
    table = load_growth_table("china-clcd", scheme="modis-igbp")
    forest = np.isin(land_cover, [1, 2, 3, 4, 5, 8])
    sink_tg, per_ha = 0.0, {}
    for adcode in provinces.adcode.astype(int):
        area_ha = float((row_ha[:, None] * (forest & (zones == adcode))).sum())
        region = str(adcode) if str(adcode) in table.region else ""
        rows = (np.array(table.region) == region) & (table.code == 2) & (table.age_max == np.inf)
        per_ha[adcode] = float(table.rate_mg_per_ha_yr[rows, 1].sum())
        sink_tg += area_ha * per_ha[adcode] / 1e6
    assert 116 <= sink_tg <= 194
    assert per_ha[370000] > per_ha[620000] > per_ha[540000]  # east > north-west > Tibet
