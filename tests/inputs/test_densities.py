"""Density tables: both CSV shapes, built-ins, crosswalks, and every validation error by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from geocarbon.errors import InputFileError, SchemeError, TableSchemaError
from geocarbon.inputs.densities import crosswalk_table, load_density_table

LONG_HEADER = "class_code,class_name,pool,low,central,high\n"


def write(tmp_path: Path, text: str, name: str = "table.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def long_rows(code: int, name: str, values: dict[str, tuple[float, float, float]]) -> str:
    return "".join(
        f"{code},{name},{pool},{lo},{mid},{hi}\n" for pool, (lo, mid, hi) in values.items()
    )


FULL = {"above": (1, 2, 3), "below": (0, 1, 2), "dead": (0, 0, 0), "soil": (50, 60, 70)}


def test_invest_table_any_case_extra_columns_ignored(tmp_path):
    path = write(
        tmp_path,
        "LUCODE,LULC_Name,Extra,C_ABOVE,c_below,C_Soil,c_dead\n7,Forest,x,15,10,60,1\n2,Grass,y,5,3,20,0\n",
    )
    table = load_density_table(path)
    assert table.codes.tolist() == [7, 2]
    assert table.names == ("Forest", "Grass")
    # pools are stored above, below, dead, soil
    np.testing.assert_array_equal(table.central_mg_per_ha, [[15, 10, 1, 60], [5, 3, 0, 20]])
    assert not table.has_ranges


def test_long_table_with_ranges(tmp_path):
    path = write(tmp_path, LONG_HEADER + long_rows(1, "Crop", FULL) + long_rows(2, "Forest", FULL))
    table = load_density_table(path)
    assert table.codes.tolist() == [1, 2]
    assert table.has_ranges
    assert table.density_mg_per_ha[0, 3].tolist() == [50, 60, 70]


def test_long_table_blank_low_high_mean_central(tmp_path):
    rows = "".join(f"3,Shrub,{pool},,{4.5},\n" for pool in ("above", "below", "dead", "soil"))
    table = load_density_table(write(tmp_path, LONG_HEADER + rows))
    assert table.density_mg_per_ha[0, 0].tolist() == [4.5, 4.5, 4.5]


def test_builtin_china_clcd():
    table = load_density_table("china-clcd")
    assert table.codes.tolist() == list(range(1, 10))
    assert table.scheme == "clcd"
    # forest central total 40 + 10 + 3 + 110 = 163 Mg C/ha (DENSITIES.md section 7)
    assert table.central_mg_per_ha[1].sum() == pytest.approx(163.0)


def test_crosswalk_igbp_to_clcd():
    table = crosswalk_table(load_density_table("china-clcd"), "modis-igbp")
    forest = load_density_table("china-clcd").central_mg_per_ha[1]
    row = table.codes.tolist().index(1)  # evergreen needleleaf forest
    np.testing.assert_array_equal(table.central_mg_per_ha[row], forest)
    assert "Forest" in table.names[row]
    assert table.scheme == "modis-igbp"


def test_crosswalk_of_a_table_without_scheme_only_names_its_scheme(tmp_path, pools_csv):
    table = load_density_table(pools_csv)
    named = crosswalk_table(table, "esa-worldcover")
    assert named.scheme == "esa-worldcover" and named.codes is table.codes


def test_crosswalk_to_unknown_scheme_names_known(tmp_path):
    with pytest.raises(SchemeError, match="clcd"):
        crosswalk_table(load_density_table("china-clcd"), "no-such-scheme")


# --- errors: every problem at once, naming file, line and column -------------------------------


def test_missing_file_named(tmp_path):
    with pytest.raises(InputFileError, match="nope.csv"):
        load_density_table(tmp_path / "nope.csv")


def test_invest_missing_columns_named(tmp_path):
    path = write(tmp_path, "lucode,c_above,c_below\n1,2,3\n", "pools.csv")
    with pytest.raises(TableSchemaError) as info:
        load_density_table(path)
    message = str(info.value)
    assert "pools.csv" in message and "c_soil" in message and "c_dead" in message


def test_invest_every_problem_listed_at_once(tmp_path):
    path = write(
        tmp_path,
        "lucode,c_above,c_below,c_soil,c_dead\n"
        "1,15,10,60,1\n"  # line 2 fine
        "1,5,3,20,0\n"  # line 3 duplicate code 1
        "2,abc,3,20,0\n"  # line 4 non-numeric c_above
        "3,5,-3,20,0\n"  # line 5 negative c_below
        "x,5,3,20,0\n",  # line 6 non-integer lucode
        "bad.csv",
    )
    with pytest.raises(TableSchemaError) as info:
        load_density_table(path)
    message = str(info.value)
    assert "\n" not in message  # one line, however many problems
    assert "bad.csv" in message and "4 problem(s)" in message
    assert "code 1 is duplicated on lines 2, 3" in message
    assert "line 4, column 'c_above': 'abc' is not a number" in message
    assert "line 5, column 'c_below': -3.0 is negative" in message
    assert "line 6, column 'lucode': 'x' is not an integer" in message


def test_many_problems_are_counted_beyond_the_listed_ones(tmp_path):
    rows = "".join(f"{code},x,0,0,0\n" for code in range(40))
    with pytest.raises(TableSchemaError) as info:
        load_density_table(write(tmp_path, "lucode,c_above,c_below,c_soil,c_dead\n" + rows))
    message = str(info.value)
    assert "\n" not in message and "40 problem(s)" in message
    assert "line 26, column 'c_above'" in message and "line 27," not in message
    assert message.endswith("; and 15 more. Fix these rows or columns and run again.")


def test_long_order_low_central_high(tmp_path):
    rows = long_rows(1, "Crop", {**FULL, "soil": (80, 60, 70)})
    with pytest.raises(
        TableSchemaError, match=r"line 5, columns 'low','central','high': 80.0 / 60.0 / 70.0"
    ):
        load_density_table(write(tmp_path, LONG_HEADER + rows))


def test_long_central_above_high(tmp_path):
    rows = long_rows(1, "Crop", {**FULL, "above": (1, 5, 3)})
    with pytest.raises(TableSchemaError, match="low <= central <= high"):
        load_density_table(write(tmp_path, LONG_HEADER + rows))


def test_long_missing_pool_and_bad_pool_and_duplicate(tmp_path):
    rows = (
        "1,Crop,above,1,2,3\n1,Crop,below,1,2,3\n1,Crop,soil,1,2,3\n"  # class 1 lacks dead
        "2,Forest,leaves,1,2,3\n"  # line 5 unknown pool
        "1,Crop,above,1,2,3\n"  # line 6 repeats line 2
    )
    with pytest.raises(TableSchemaError) as info:
        load_density_table(write(tmp_path, LONG_HEADER + rows, "long.csv"))
    message = str(info.value)
    assert "long.csv" in message
    assert "class 1 has no row for pool(s) dead" in message
    assert "line 5, column 'pool': 'leaves'" in message
    assert "line 6: class 1 pool 'above' repeats line 2" in message


def test_long_negative_density_named(tmp_path):
    rows = long_rows(4, "Grass", {**FULL, "dead": (-1, 0, 1)})
    with pytest.raises(TableSchemaError, match="line 4, column 'low': -1.0 is negative"):
        load_density_table(write(tmp_path, LONG_HEADER + rows))


def test_unrecognised_columns_say_what_is_expected(tmp_path):
    with pytest.raises(
        TableSchemaError, match=r"other.csv.*lucode, c_above.*class_code, class_name, pool"
    ):
        load_density_table(write(tmp_path, "a,b\n1,2\n", "other.csv"))


def test_empty_table(tmp_path):
    with pytest.raises(TableSchemaError, match="no rows"):
        load_density_table(write(tmp_path, "lucode,c_above,c_below,c_soil,c_dead\n"))


def test_utf8_bom_and_non_ascii_path(tmp_path):
    folder = tmp_path / "données_碳"
    folder.mkdir()
    path = folder / "pools.csv"
    path.write_text(
        "\ufefflucode,LULC_Name,C_above,C_below,C_soil,C_dead\n1,森林,15,10,60,1\n",
        encoding="utf-8",
    )
    table = load_density_table(path)
    assert table.codes.tolist() == [1] and table.names == ("森林",)


def test_regional_rows_fall_back_and_are_checked(tmp_path):
    header = "region_id,lucode,c_above,c_below,c_soil,c_dead\n"
    table = load_density_table(
        write(tmp_path, header + ",1,15,10,60,1\n,2,5,3,20,0\n330000,1,30,10,60,1\n")
    )
    # region 330000 has its own class-1 row; class 2 and every other region use the national rows
    assert table.density_for("330000")[0, :, 1].tolist() == [30, 10, 1, 60]
    assert table.density_for("330000")[1, :, 1].tolist() == [5, 3, 0, 20]
    assert table.density_for("110000")[0, :, 1].tolist() == [15, 10, 1, 60]
    bad = write(
        tmp_path,
        header + ",1,15,10,60,1\n330000,9,30,10,60,1\n330000,1,x,10,60,1\n",
        "regional.csv",
    )
    with pytest.raises(TableSchemaError) as info:
        load_density_table(bad)
    message = str(info.value)
    assert "regional.csv" in message
    assert "region '330000': line 4, column 'c_above': 'x' is not a number" in message


def test_regional_class_without_national_row_named(tmp_path):
    header = "region_id,lucode,c_above,c_below,c_soil,c_dead\n"
    path = write(tmp_path, header + ",1,15,10,60,1\n330000,9,30,10,60,1\n", "orphan.csv")
    with pytest.raises(
        TableSchemaError,
        match=r"(?s)orphan.csv.*region '330000' has rows for class\(es\) 9 with no national row",
    ):
        load_density_table(path)
