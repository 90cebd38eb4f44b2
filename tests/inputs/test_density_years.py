"""Date-specific densities: a density table's ``year`` column, in both CSV shapes.

Every table is a real CSV in tmp_path; every expected number is worked out above its assertion.
Pools are stored above, below, dead, soil; levels low, central, high.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geocarbon.errors import EncodingGuessWarning, TableSchemaError
from geocarbon.inputs.densities import CarbonTable, crosswalk_table, load_density_table
from geocarbon.units import LEVELS, POOLS

CENTRAL = LEVELS.index("central")
ABOVE, DEAD, SOIL = POOLS.index("above"), POOLS.index("dead"), POOLS.index("soil")
INVEST_HEADER = "lucode,lulc_name,year,c_above,c_below,c_soil,c_dead\n"
LONG_HEADER = "class_code,class_name,year,pool,low,central,high\n"
REGIONAL_HEADER = "region_id,year,lucode,c_above,c_below,c_soil,c_dead\n"


def write(tmp_path: Path, content: str | bytes, name: str = "table.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def refused(path: Path, *fragments: str) -> str:
    """The one-line message of loading ``path``; it names the file and each fragment, and the
    file is left as it was with nothing beside it."""
    before = path.read_bytes()
    with pytest.raises(TableSchemaError) as info:
        load_density_table(path)
    message = str(info.value)
    assert "\n" not in message, message
    assert path.name in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert path.read_bytes() == before
    assert sorted(path.parent.iterdir()) == [path]
    return message


def long_rows(code: int, name: str, year: int | str, values: dict[str, tuple]) -> str:
    return "".join(
        f"{code},{name},{year},{pool},{low},{central},{high}\n"
        for pool, (low, central, high) in values.items()
    )


def flat(above: float) -> dict[str, tuple]:
    """All four pools, above = ``above`` and the others 1, 2, 3 (no range)."""
    return {
        "above": (above,) * 3,
        "below": (1,) * 3,
        "dead": (2,) * 3,
        "soil": (3,) * 3,
    }


# --- interpolation in both shapes ------------------------------------------------------------------

RISING_INVEST = (
    INVEST_HEADER
    + "1,Forest,2000,100,1,3,2\n"
    + "1,Forest,2020,120,1,3,2\n"
    + "2,Grass,,5,1,3,2\n"  # static class
)
RISING_LONG = (
    LONG_HEADER
    + long_rows(1, "Forest", 2000, flat(100))
    + long_rows(1, "Forest", 2020, flat(120))
    + long_rows(2, "Grass", "", flat(5))
)


@pytest.mark.parametrize("content", [RISING_INVEST, RISING_LONG], ids=["invest", "long"])
def test_a_rising_class_is_interpolated_and_held_beyond_its_years(tmp_path, content):
    table = load_density_table(write(tmp_path, content))
    row = table.codes.tolist().index(1)
    assert table.years == (2000, 2020)
    # 2010 is halfway from 2000 to 2020: 100 + (120 - 100) * 10 / 20 = 110 Mg C/ha
    assert table.density_for("", 2010)[row, ABOVE].tolist() == [110, 110, 110]
    # before the first listed year the 2000 value holds; after the last, the 2020 one
    assert table.density_for("", 1990)[row, ABOVE, CENTRAL] == 100
    assert table.density_for("", 2030)[row, ABOVE, CENTRAL] == 120
    # 2005: 100 + 20 * 5 / 20 = 105; the other pools are the same in both years
    assert table.density_for("", 2005)[row, :, CENTRAL].tolist() == [105, 1, 2, 3]
    # the listed years themselves are exact, and any region falls back to the national rows
    assert table.density_for("330000", 2000)[row, ABOVE, CENTRAL] == 100
    # the static class is the same in every year
    grass = table.codes.tolist().index(2)
    assert table.density_for("", 2010)[grass, :, CENTRAL].tolist() == [5, 1, 2, 3]
    # a class with year rows only takes its latest year (2020: 120) in a run without a date
    assert table.density_mg_per_ha[row, ABOVE].tolist() == [120, 120, 120]
    assert table.density_for("")[row, ABOVE, CENTRAL] == 120
    # the raw rows: NaN where a year has no row (class 2 has none in 2000)
    assert table.yearly[""][2000][row, ABOVE, CENTRAL] == 100
    assert np.isnan(table.yearly[""][2000][grass]).all()


def test_pool_level_year_rows_interpolate_low_central_high_and_keep_other_pools(tmp_path):
    content = (
        LONG_HEADER
        + long_rows(1, "Crop", "", flat(10))
        + "1,Crop,2000,soil,40,50,60\n"
        + "1,Crop,2020,soil,50,70,100\n"
    )
    table = load_density_table(write(tmp_path, content))
    # soil 2010, each level halfway: (40+50)/2 = 45, (50+70)/2 = 60, (60+100)/2 = 80
    assert table.density_for("", 2010)[0, SOIL].tolist() == [45, 60, 80]
    # 2015: low 40 + 10 * 0.75 = 47.5, central 50 + 20 * 0.75 = 65, high 60 + 40 * 0.75 = 90
    assert table.density_for("", 2015)[0, SOIL].tolist() == [47.5, 65, 90]
    # above, below, dead keep their static rows in every year
    assert table.density_for("", 2010)[0, :3, CENTRAL].tolist() == [10, 1, 2]
    # without a date the static soil row (3) applies, not a year's
    assert table.density_for("")[0, SOIL].tolist() == [3, 3, 3]
    assert table.has_ranges is False  # ranges are judged on the static densities


def test_a_pool_listed_only_in_years_takes_its_latest_year_without_a_date(tmp_path):
    content = (
        LONG_HEADER
        + "".join(f"2,Shrub,,{pool},4,4,4\n" for pool in ("above", "below", "soil"))
        + "2,Shrub,2000,dead,1,1,1\n"
        + "2,Shrub,2010,dead,3,3,3\n"
    )
    table = load_density_table(write(tmp_path, content))
    # dead has no static row: a run without a date uses 2010's 3 Mg C/ha
    assert table.density_mg_per_ha[0, :, CENTRAL].tolist() == [4, 4, 3, 4]
    # 2004: 1 + (3 - 1) * 4 / 10 = 1.8
    assert table.density_for("", 2004)[0, DEAD, CENTRAL] == pytest.approx(1.8)


# --- regions ---------------------------------------------------------------------------------------


def test_precedence_region_years_then_region_static_then_national_years_then_static(tmp_path):
    content = REGIONAL_HEADER + (
        # national static: classes 1-4 have c_above 10, 20, 30, 40
        ",,1,10,0,0,0\n,,2,20,0,0,0\n,,3,30,0,0,0\n,,4,40,0,0,0\n"
        # national years for classes 2, 3, 4: 200 -> 220, 300 -> 320, 400 -> 420
        ",2000,2,200,0,0,0\n,2020,2,220,0,0,0\n"
        ",2000,3,300,0,0,0\n,2020,3,320,0,0,0\n"
        ",2000,4,400,0,0,0\n,2020,4,420,0,0,0\n"
        # region R: static rows for classes 3 and 4, year rows for class 4: 4000 -> 4200
        "R,,3,33,0,0,0\nR,,4,44,0,0,0\n"
        "R,2000,4,4000,0,0,0\nR,2020,4,4200,0,0,0\n"
    )
    table = load_density_table(write(tmp_path, content))
    # in R, 2010: class 1 national static 10; class 2 national years (200+220)/2 = 210;
    # class 3 R's static 33 (beats national years); class 4 R's years (4000+4200)/2 = 4100
    assert table.density_for("R", 2010)[:, ABOVE, CENTRAL].tolist() == [10, 210, 33, 4100]
    # elsewhere, 2010: 10, then national years 210, 310, 410
    assert table.density_for("S", 2010)[:, ABOVE, CENTRAL].tolist() == [10, 210, 310, 410]
    # without a date, static rows as before: R has 33 and 44, the rest national
    assert table.density_for("R")[:, ABOVE, CENTRAL].tolist() == [10, 20, 33, 44]
    assert table.density_mg_per_ha[:, ABOVE, CENTRAL].tolist() == [10, 20, 30, 40]
    assert table.years == (2000, 2020)
    assert sorted(table.yearly) == ["", "R"]
    # R's own year rows list class 4 only: NaN elsewhere
    assert np.isnan(table.yearly["R"][2000][:3]).all()
    assert table.yearly["R"][2000][3, ABOVE, CENTRAL] == 4000
    assert not np.isnan(table.density_for("R", 1950)).any()


def test_region_with_year_rows_only_takes_its_latest_year_without_a_date(tmp_path):
    content = REGIONAL_HEADER + (
        ",,1,10,0,0,0\n,,2,20,0,0,0\n"
        # region 330000 lists class 2 in 2005 (50) and 2015 (70), and no static row
        "330000,2005,2,50,0,0,0\n330000.0,2015,2,70,0,0,0\n"
    )
    table = load_density_table(write(tmp_path, content))
    # a run without a date: class 2 in 330000 takes 2015's 70; class 1 the national 10
    assert table.density_for("330000")[:, ABOVE, CENTRAL].tolist() == [10, 70]
    assert sorted(table.regional) == ["330000"]
    # 2010: (50 + 70) / 2 = 60
    assert table.density_for("330000", 2010)[:, ABOVE, CENTRAL].tolist() == [10, 60]
    assert table.years == (2005, 2015)


def test_classes_are_the_union_of_national_static_and_year_rows(tmp_path):
    content = INVEST_HEADER + "3,Urban,,1,0,0,0\n7,Wetland,2000,5,0,0,0\n9,Ice,2010,0,0,0,0\n"
    table = load_density_table(write(tmp_path, content))
    # static rows first in file order, then classes of the year rows
    assert table.codes.tolist() == [3, 7, 9]
    assert table.names == ("Urban", "Wetland", "Ice")
    # class 9 has no row in 2000: NaN there, held at its 2010 value when asked for 2000
    assert np.isnan(table.yearly[""][2000][2]).all()
    assert table.density_for("", 2000)[:, ABOVE, CENTRAL].tolist() == [1, 5, 0]


# --- validation ------------------------------------------------------------------------------------


def test_bad_years_are_named_by_file_line_and_column(tmp_path):
    path = write(
        tmp_path,
        INVEST_HEADER
        + "1,Forest,abc,1,0,0,0\n"  # line 2: not a number
        + "1,Forest,2020.5,1,0,0,0\n"  # line 3: not a whole year
        + "1,Forest,1850,1,0,0,0\n"  # line 4: too early
        + "1,Forest,2201,1,0,0,0\n"  # line 5: too late
        + "1,Forest,2000,x,0,0,0\n"  # line 6: a good year, a bad density
        + "2,Grass,1e3,y,0,0,0\n"  # line 7: bad year AND bad density, both named
        + "1,Forest,2010.0,1,0,0,0\n",  # line 8: 2010.0 is 2010
        "years.csv",
    )
    refused(
        path,
        "7 problem(s)",
        "line 2, column 'year': 'abc' is not a year; write the calendar year in digits",
        "line 3, column 'year': '2020.5' is not a year",
        "line 4, column 'year': 1850 is outside 1900-2200",
        "line 5, column 'year': 2201 is outside 1900-2200",
        "year 2000: line 6, column 'c_above': 'x' is not a number",
        "line 7, column 'year': '1e3' is not a year",
        "line 7, column 'c_above': 'y' is not a number",
    )


def test_duplicate_region_year_class_names_both_lines(tmp_path):
    invest = write(
        tmp_path,
        REGIONAL_HEADER
        + ",,1,1,0,0,0\n"
        + ",2000,1,2,0,0,0\n"  # line 3
        + ",2000.0,1,3,0,0,0\n"  # line 4 repeats national 2000 class 1
        + "R,2000,1,4,0,0,0\n"  # line 5: another region, not a repeat
        + "R,2000,1,5,0,0,0\n"  # line 6 repeats R 2000 class 1
        + "R,,1,6,0,0,0\n",  # line 7: R's static row, not a repeat
        "dup.csv",
    )
    refused(
        invest,
        "2 problem(s)",
        "year 2000: column 'lucode': code 1 is duplicated on lines 3, 4",
        "region 'R' year 2000: column 'lucode': code 1 is duplicated on lines 5, 6",
    )
    long = tmp_path / "long" / "dup_long.csv"
    long.parent.mkdir()
    long.write_text(
        LONG_HEADER
        + long_rows(1, "Crop", "", flat(1))
        + "1,Crop,2000,above,1,1,1\n"  # line 6
        + "1,Crop,2000,above,2,2,2\n"  # line 7 repeats line 6
        + "1,Crop,2010,above,2,2,2\n",  # line 8: another year
        encoding="utf-8",
    )
    refused(long, "1 problem(s)", "year 2000: line 7: class 1 pool 'above' repeats line 6")


def test_class_without_all_four_pools_anywhere_is_named(tmp_path):
    path = write(
        tmp_path,
        LONG_HEADER
        + "".join(f"1,Crop,,{pool},1,1,1\n" for pool in ("above", "below"))
        + "1,Crop,2000,dead,1,1,1\n"  # class 1 still lacks soil
        + "2,Forest,2000,above,1,1,1\n",  # class 2 lists only above
        "pools.csv",
    )
    refused(
        path,
        "2 problem(s)",
        "class 1 has no row for pool(s) soil (static or in any year)",
        "class 2 has no row for pool(s) below, dead, soil (static or in any year)",
    )
    regional = tmp_path / "r" / "regional_pools.csv"
    regional.parent.mkdir()
    # a region's rows replace whole classes: R's class 1 lists above only, in 2000
    regional.write_text(
        "region_id,"
        + LONG_HEADER
        + "".join(f",1,Crop,,{pool},1,1,1\n" for pool in POOLS)
        + "R,1,Crop,2000,above,5,5,5\n",
        encoding="utf-8",
    )
    refused(
        regional,
        "region 'R': class 1 has no row for pool(s) below, dead, soil (static or in any year)",
    )


def test_a_missing_column_is_named_once_however_many_regions_and_years(tmp_path):
    path = write(
        tmp_path,
        "region_id,year,lucode,c_above,c_below,c_soil\n"
        + ",2000,1,1,0,0\n,2010,1,1,0,0\nR,2000,1,1,0,0\nR,abc,1,1,0,0\n",
        "no_dead.csv",
    )
    message = refused(path, "1 problem(s): missing column(s) c_dead")
    assert message.count("c_dead") == 1


def test_regional_year_rows_need_a_national_row_of_the_class(tmp_path):
    path = write(tmp_path, REGIONAL_HEADER + ",,1,1,0,0,0\nR,2000,9,1,0,0,0\n", "orphan.csv")
    refused(path, "region 'R' has rows for class(es) 9 with no national row (blank region_id)")


def test_table_with_only_regional_rows_still_needs_national_ones(tmp_path):
    path = write(tmp_path, REGIONAL_HEADER + "R,2000,1,1,0,0,0\n", "regional_only.csv")
    refused(path, "no national rows (blank region_id)")


# --- encodings, static tables, crosswalks ----------------------------------------------------------


def test_gbk_table_with_a_year_column(tmp_path):
    content = "类别,lucode,year,c_above,c_below,c_soil,c_dead\n森林,1,2000,100,0,0,0\n森林,1,2020,120,0,0,0\n"
    path = write(tmp_path, content.replace("类别", "name").encode("gbk"), "gbk_years.csv")
    with pytest.warns(EncodingGuessWarning, match="gbk_years.csv"):
        table = load_density_table(path)
    assert table.names == ("森林",)
    # (100 + 120) / 2 = 110 in 2010
    assert table.density_for("", 2010)[0, ABOVE, CENTRAL] == 110


def test_static_tables_have_no_years_and_ignore_a_date(tmp_path):
    # a year column left blank throughout is a static table
    content = INVEST_HEADER + "1,Forest,,15,10,60,1\n"
    table = load_density_table(write(tmp_path, content))
    assert table.years == () and dict(table.yearly) == {}
    assert table.density_for("", 2010) is table.density_mg_per_ha
    builtin = load_density_table("china-clcd")
    assert builtin.years == ()
    np.testing.assert_array_equal(builtin.density_for("any", 1995), builtin.density_mg_per_ha)


def test_crosswalk_carries_national_year_rows(tmp_path):
    # a CLCD table where forest (CLCD 2) rises 100 -> 120 from 2000 to 2020
    content = (
        INVEST_HEADER
        + "".join(f"{code},C{code},,{code},0,0,0\n" for code in range(1, 10) if code != 2)
        + "2,Forest,2000,100,0,0,0\n2,Forest,2020,120,0,0,0\n"
    )
    table = replace(load_density_table(write(tmp_path, content)), scheme="clcd")
    igbp = crosswalk_table(table, "modis-igbp")
    row = igbp.codes.tolist().index(1)  # evergreen needleleaf forest -> CLCD forest
    assert igbp.years == (2000, 2020)
    # (100 + 120) / 2 = 110 in 2010; without a date the latest year, 120
    assert igbp.density_for("", 2010)[row, ABOVE, CENTRAL] == 110
    assert igbp.density_for("")[row, ABOVE, CENTRAL] == 120


def test_many_regions_and_years_are_quick(tmp_path):
    # 40 regions x 40 years x 9 classes of year rows, each row's c_above = its year - 1900
    national = "".join(f",,{code},1,0,0,0\n" for code in range(1, 10))
    dated = "".join(
        f"R{region},{year},{code},{year - 1900},0,0,0\n"
        for region in range(40)
        for year in range(1980, 2060, 2)
        for code in range(1, 10)
    )
    table = load_density_table(write(tmp_path, REGIONAL_HEADER + national + dated))
    start = time.perf_counter()
    for region in range(40):
        for year in range(1981, 2061, 2):
            density = table.density_for(f"R{region}", year)
    seconds = time.perf_counter() - start
    # 2059 is after the last listed year, 2058: held at 2058 - 1900 = 158
    assert density[:, ABOVE, CENTRAL].tolist() == [158] * 9
    # 2001 is halfway from 2000 (100) to 2002 (102): 101
    assert table.density_for("R7", 2001)[4, ABOVE, CENTRAL] == 101
    assert seconds < 1.0, seconds


# --- the interpolation as a property ---------------------------------------------------------------

years_and_values = st.dictionaries(
    st.integers(1900, 2200),
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=8,
)


@given(first=years_and_values, second=years_and_values, asked=st.integers(1890, 2210))
def test_interpolation_is_exact_at_listed_years_and_stays_between_neighbours(first, second, asked):
    # class 0 lists above in ``first``'s years, class 1 lists soil in ``second``'s: the series
    # interpolate over the union of both sets of years
    years = sorted(set(first) | set(second))
    by_year = {}
    for year in years:
        rows = np.full((2, len(POOLS), len(LEVELS)), np.nan)
        if year in first:
            rows[0, ABOVE] = first[year]
        if year in second:
            rows[1, SOIL] = second[year]
        by_year[year] = rows
    static = np.zeros((2, len(POOLS), len(LEVELS)))
    table = CarbonTable("property", np.array([0, 1]), ("a", "b"), static, yearly={"": by_year})
    for year in years:
        density = table.density_for("", year)
        if year in first:
            assert density[0, ABOVE, CENTRAL] == first[year]
        if year in second:
            assert density[1, SOIL, CENTRAL] == second[year]
    density = table.density_for("", asked)
    for listed, value in ((first, density[0, ABOVE]), (second, density[1, SOIL])):
        before = max((y for y in listed if y <= asked), default=min(listed))
        after = min((y for y in listed if y >= asked), default=max(listed))
        low, high = sorted((listed[before], listed[after]))
        assert (low <= value).all() and (value <= high).all(), (listed, asked, value)
    # pools without year rows keep the static zeros
    assert density[0, SOIL].tolist() == [0, 0, 0] and density[1, ABOVE].tolist() == [0, 0, 0]
