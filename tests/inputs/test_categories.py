"""IPCC land categories: the built-in schemes' ``ipcc`` column, the user's category table
(``--ipcc-categories``) and the category of each class of a density table."""

from __future__ import annotations

import codecs
import warnings
from pathlib import Path

import numpy as np
import pytest

from geocarbon.errors import EncodingGuessWarning, InputFileError, SchemeError, TableSchemaError
from geocarbon.inputs.categories import (
    IPCC_CATEGORIES,
    IPCC_KEYS,
    category_index,
    category_of_classes,
    missing_category_reason,
    read_category_table,
    uncategorised_codes,
)
from geocarbon.inputs.densities import crosswalk_table, load_density_table
from geocarbon.inputs.schemes import get_scheme, scheme_names

FOREST, CROPLAND, GRASSLAND, WETLANDS, SETTLEMENTS, OTHER = range(6)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder whose name is not ASCII, as users' folders often are not."""
    path = tmp_path / "类别 tables é"
    path.mkdir()
    return path


def write(folder: Path, text: str, name: str = "categories.csv", encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def test_keys_and_names_are_the_six_ipcc_categories_in_crf_order() -> None:
    assert IPCC_KEYS == ("forest", "cropland", "grassland", "wetlands", "settlements", "other")
    assert IPCC_CATEGORIES == (
        "Forest land",
        "Cropland",
        "Grassland",
        "Wetlands",
        "Settlements",
        "Other land",
    )


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("forest", FOREST),
        ("Forest land", FOREST),
        ("  FOREST   LAND ", FOREST),
        ("Other land", OTHER),
        ("other", OTHER),
        ("Wetlands", WETLANDS),
        ("settlements", SETTLEMENTS),
        ("wetland", None),
        ("forests", None),
        ("", None),
    ],
)
def test_category_index_takes_keys_and_full_names_in_any_case(text: str, index: int | None) -> None:
    assert category_index(text) == index


# ----------------------------------------------------------------------------- built-in schemes


@pytest.mark.parametrize("name", scheme_names())
def test_every_builtin_class_has_one_of_the_six_categories(name: str) -> None:
    scheme = get_scheme(name)
    assert len(scheme.ipcc) == len(scheme.codes)
    assert set(scheme.ipcc) <= set(IPCC_KEYS)
    assert [scheme.category_of(code) for code in scheme.codes] == list(scheme.ipcc)


def test_clcd_categories() -> None:
    scheme = get_scheme("clcd")
    # Cropland, Forest, Shrub, Grassland, Water, Snow/Ice, Barren, Impervious, Wetland.
    assert scheme.ipcc == (
        "cropland",
        "forest",
        "grassland",
        "grassland",
        "wetlands",
        "other",
        "other",
        "settlements",
        "wetlands",
    )


@pytest.mark.parametrize(
    ("name", "code", "category"),
    [
        # Shrubland is woody vegetation below the forest thresholds: Grassland.
        ("cnlucc", 22, "grassland"),
        ("esa-worldcover", 20, "grassland"),
        ("globeland30", 40, "grassland"),
        ("modis-igbp", 6, "grassland"),
        ("modis-igbp", 7, "grassland"),
        ("esa-cci", 121, "grassland"),
        # Open water, reservoirs and the sea are Wetlands.
        ("cnlucc", 43, "wetlands"),
        ("cnlucc", 47, "wetlands"),
        ("cnlucc", 99, "wetlands"),
        ("modis-igbp", 0, "wetlands"),
        ("modis-igbp", 17, "wetlands"),
        ("esa-cci", 210, "wetlands"),
        ("cnlucc", 45, "wetlands"),
        ("cnlucc", 46, "wetlands"),
        # Mangroves and flooded tree cover meet the forest definition (unlike their clcd density).
        ("esa-worldcover", 95, "forest"),
        ("esa-cci", 160, "forest"),
        ("esa-cci", 170, "forest"),
        ("modis-igbp", 8, "forest"),
        ("modis-igbp", 9, "grassland"),
        ("cnlucc", 23, "forest"),
        ("cnlucc", 24, "forest"),
        ("modis-igbp", 14, "cropland"),
        ("esa-cci", 12, "cropland"),
        ("esa-cci", 40, "cropland"),
        ("esa-cci", 100, "forest"),
        ("esa-cci", 110, "grassland"),
        # Vegetated non-woody land: Grassland; sparse vegetation, bare land, snow and ice: Other.
        ("esa-worldcover", 100, "grassland"),
        ("esa-cci", 140, "grassland"),
        ("globeland30", 70, "grassland"),
        ("esa-cci", 152, "other"),
        ("esa-worldcover", 60, "other"),
        ("cnlucc", 67, "other"),
        ("cnlucc", 44, "other"),
        ("esa-cci", 220, "other"),
        ("cnlucc", 54, "settlements"),
        ("globeland30", 80, "settlements"),
    ],
)
def test_judgement_calls(name: str, code: int, category: str) -> None:
    assert get_scheme(name).category_of(code) == category


def test_cci_level2_codes_have_their_level1_parent_category() -> None:
    scheme = get_scheme("esa-cci")
    children = [code for code in scheme.codes if code % 10]
    assert children  # 11, 12, 61, ...
    assert {c: scheme.category_of(c) for c in children} == {
        c: scheme.category_of(c - c % 10) for c in children
    }


def test_category_of_an_absent_code_names_scheme_and_code() -> None:
    with pytest.raises(SchemeError, match=r"255.*'globeland30'"):
        get_scheme("globeland30").category_of(255)


def test_builtin_file_without_a_valid_category_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geocarbon.inputs.schemes as schemes_module

    folder = tmp_path / "data" / "schemes"
    folder.mkdir(parents=True)
    # Class 20 has no category, and class 30's is not one of the six keys.
    (folder / "globeland30.csv").write_text(
        "code,name,color,clcd,ipcc\n"
        "10,Cultivated land,#f9f3c1,1,cropland\n"
        "20,Forest,#147749,2,\n"
        "30,Grassland,#a9d05f,4,pasture\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(schemes_module.resources, "files", lambda package: tmp_path)
    with pytest.raises(SchemeError) as excinfo:
        schemes_module._load_scheme.__wrapped__("globeland30")
    message = str(excinfo.value)
    assert "globeland30.csv" in message
    assert "classes [20, 30] have no IPCC category" in message
    assert "\n" not in message


# ----------------------------------------------------------------------------- category tables


def test_reads_keys_and_full_names_in_any_case(folder: Path) -> None:
    path = write(
        folder,
        "class_code,ipcc_category,note\n"
        "1,Forest Land,closed forest\n"
        "2, cropland ,\n"
        "# a comment line\n"
        "\n"
        "3,OTHER LAND,\n"
        "4,Wetlands,\n"
        "7.0,settlements,written by pandas as a float column\n",
    )
    assert read_category_table(path) == {
        1: FOREST,
        2: CROPLAND,
        3: OTHER,
        4: WETLANDS,
        7: SETTLEMENTS,
    }


def test_reads_semicolons_upper_case_header_and_64_bit_codes_exactly(folder: Path) -> None:
    # 2**64 - 1 and 2**63 + 1 are not representable as float64: read through float they would
    # both become 2**64 and 2**63.
    path = write(
        folder,
        "Class_Code;IPCC_Category\n18446744073709551615;grassland\n9223372036854775809;forest\n",
    )
    assert read_category_table(path) == {2**64 - 1: GRASSLAND, 2**63 + 1: FOREST}


def test_reads_utf16_with_bom(folder: Path) -> None:
    path = folder / "utf16.csv"
    path.write_bytes(
        codecs.BOM_UTF16_LE + "class_code\tipcc_category\n5\tWetlands\n".encode("utf-16-le")
    )
    assert read_category_table(path) == {5: WETLANDS}


def test_gbk_file_warns_once_naming_the_category_table(folder: Path) -> None:
    path = write(folder, "class_code,ipcc_category,名称\n1,forest,林地\n", encoding="gb18030")
    with pytest.warns(EncodingGuessWarning) as record:
        assert read_category_table(path) == {1: FOREST}
    assert len(record) == 1
    message = str(record[0].message)
    assert message.startswith(f"IPCC category table {str(path)!r} is not UTF-8")
    assert record[0].filename == __file__  # attributed to the caller's line
    # The encoding given: no guess, no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_category_table(path, encoding="gb18030") == {1: FOREST}


def test_every_problem_in_one_line_naming_file_line_and_column(folder: Path) -> None:
    text = (
        "class_code,ipcc_category\n"
        "1,forest\n"  # line 2: fine
        "2,wetland\n"  # line 3: singular
        "x,cropland\n"  # line 4: not a code
        "1,grassland\n"  # line 5: class 1 again
        "1e3,other\n"  # line 6: scientific notation
        "4,\n"  # line 7: empty category
        "5,pasture\n"  # line 8: not a category
    )
    path = write(folder, text)
    with pytest.raises(TableSchemaError) as excinfo:
        read_category_table(path)
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(
        f"IPCC category table {str(path)!r} (--ipcc-categories) has 6 problem"
    )
    assert (
        "line 3, column 'ipcc_category': 'wetland' is not an IPCC land category; did you mean 'wetlands'?"
        in message
    )
    assert "line 4, column 'class_code': 'x' is not an integer class code" in message
    assert "line 5, column 'class_code': class 1 repeats line 2" in message
    assert "line 6, column 'class_code': '1e3'" in message and "scientific notation" in message
    assert "line 7, column 'ipcc_category': the cell is empty" in message
    assert (
        "line 8, column 'ipcc_category': 'pasture' is not an IPCC land category; write one of"
        in message
    )
    assert "line 2" not in message.replace("repeats line 2", "")
    assert path.read_text(encoding="utf-8") == text  # nothing modified
    assert sorted(p.name for p in folder.iterdir()) == ["categories.csv"]  # nothing left behind


def test_missing_columns_are_named_with_those_found(folder: Path) -> None:
    path = write(folder, "code,category\n1,forest\n")
    with pytest.raises(
        TableSchemaError,
        match=r"missing column\(s\) class_code, ipcc_category \(found code, category\)",
    ):
        read_category_table(path)


def test_header_without_rows(folder: Path) -> None:
    path = write(folder, "class_code,ipcc_category\n")
    with pytest.raises(TableSchemaError, match="no rows under its header"):
        read_category_table(path)


def test_empty_file_says_which_columns_are_expected(folder: Path) -> None:
    path = write(folder, "")
    with pytest.raises(TableSchemaError) as excinfo:
        read_category_table(path)
    message = str(excinfo.value)
    assert message.startswith(f"IPCC category table {str(path)!r} is empty")
    assert "class_code, ipcc_category" in message
    assert "Density table" not in message


def test_workbook_saved_as_csv_is_refused_as_a_category_table(folder: Path) -> None:
    path = folder / "categories.csv"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64)
    with pytest.raises(InputFileError) as excinfo:
        read_category_table(path)
    message = str(excinfo.value)
    assert message.startswith(f"IPCC category table {str(path)!r} is an Excel 97-2003 workbook")
    assert "CSV UTF-8" in message


def test_unknown_encoding_is_one_line(folder: Path) -> None:
    path = write(folder, "class_code,ipcc_category\n1,forest\n")
    with pytest.raises(
        InputFileError, match=r"Unknown text encoding 'klingon' for IPCC category table"
    ):
        read_category_table(path, encoding="klingon")


@pytest.mark.parametrize("kind", ["missing", "folder"])
def test_missing_file_or_folder_names_the_path_and_option(folder: Path, kind: str) -> None:
    path = folder / "nope.csv" if kind == "missing" else folder
    with pytest.raises(InputFileError) as excinfo:
        read_category_table(path)
    message = str(excinfo.value)
    assert str(path) in message and "--ipcc-categories" in message
    assert ("does not exist" if kind == "missing" else "is a folder") in message


# ------------------------------------------------------------------------- categories of classes


def test_categories_of_a_builtin_scheme() -> None:
    codes = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9], np.int64)
    result = category_of_classes(codes, "clcd", None)
    assert result is not None and result.dtype == np.int8
    # 1 Cropland, 2 Forest, 3 Shrub, 4 Grassland, 5 Water, 6 Snow/Ice, 7 Barren, 8 Impervious,
    # 9 Wetland.
    assert result.tolist() == [1, 0, 2, 2, 3, 5, 5, 4, 3]


def test_override_wins_over_the_scheme() -> None:
    # China's forest definition counts designated shrubland as forest: 3 Shrub -> forest.
    codes = np.array([2, 3, 4], np.int64)
    result = category_of_classes(codes, "clcd", {3: FOREST})
    assert result is not None and result.tolist() == [FOREST, FOREST, GRASSLAND]


def test_crosswalked_builtin_table_takes_its_schemes_categories() -> None:
    table = crosswalk_table(load_density_table("china-clcd"), "esa-worldcover")
    assert table.scheme == "esa-worldcover"
    result = category_of_classes(table.codes, table.scheme, None)
    assert result is not None
    # 10 tree, 20 shrub, 30 grass, 40 crop, 50 built-up, 60 bare, 70 snow, 80 water,
    # 90 herbaceous wetland, 95 mangroves, 100 moss and lichen.
    assert dict(zip(table.codes.tolist(), result.tolist(), strict=True)) == {
        10: FOREST,
        20: GRASSLAND,
        30: GRASSLAND,
        40: CROPLAND,
        50: SETTLEMENTS,
        60: OTHER,
        70: OTHER,
        80: WETLANDS,
        90: WETLANDS,
        95: FOREST,
        100: GRASSLAND,
    }


def test_user_table_without_scheme_needs_the_override_for_every_class() -> None:
    codes = np.array([11, 12, 13], np.int64)
    assert category_of_classes(codes, None, None) is None
    assert category_of_classes(codes, None, {11: FOREST, 12: CROPLAND}) is None
    assert uncategorised_codes(codes, None, {11: FOREST, 12: CROPLAND}) == [13]
    result = category_of_classes(codes, None, {11: FOREST, 12: CROPLAND, 13: OTHER, 99: WETLANDS})
    assert result is not None and result.tolist() == [FOREST, CROPLAND, OTHER]


def test_user_table_in_a_named_scheme_with_a_class_the_scheme_lacks() -> None:
    # A WorldCover-coded user table with an extra class 200 of the user's own.
    codes = np.array([10, 20, 200], np.int64)
    assert category_of_classes(codes, "worldcover", None) is None
    reason = missing_category_reason(codes, "worldcover", None, source="'my densities.csv'")
    assert reason is not None
    assert reason.startswith(
        "IPCC land-category table left out: class 200 of 'my densities.csv' has no IPCC land "
        "category (class scheme 'esa-worldcover' has no such class)."
    )
    assert "--ipcc-categories TABLE.csv" in reason and "class_code,ipcc_category" in reason
    assert "--scheme" not in reason  # a scheme was named; only the table can help
    result = category_of_classes(codes, "worldcover", {200: SETTLEMENTS})
    assert result is not None and result.tolist() == [FOREST, GRASSLAND, SETTLEMENTS]


def test_uint64_codes_are_matched_exactly() -> None:
    # 2**64 - 2 and 2**64 - 1 are the same float64; only exact matching keeps them apart.
    codes = np.array([2**64 - 2, 2**64 - 1], np.uint64)
    assert category_of_classes(codes, None, {2**64 - 1: FOREST}) is None
    assert uncategorised_codes(codes, None, {2**64 - 1: FOREST}) == [2**64 - 2]
    result = category_of_classes(codes, None, {2**64 - 1: FOREST, 2**64 - 2: WETLANDS})
    assert result is not None and result.tolist() == [WETLANDS, FOREST]


def test_reason_without_a_scheme_lists_codes_and_both_fixes() -> None:
    codes = np.arange(1, 31, dtype=np.int64)
    reason = missing_category_reason(codes, None, {1: FOREST})
    assert reason is not None and "\n" not in reason
    # 29 classes (2-30) lack a category: the first 20 listed, the other 9 counted.
    assert (
        "classes 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21 and 9 more of the density table have"
        in reason
    )
    assert "no class scheme is known for the table's codes" in reason
    assert reason.endswith("or name the raster's class scheme with --scheme.")
    assert missing_category_reason(np.array([1], np.int64), None, {1: FOREST}) is None


def test_unknown_scheme_name_is_a_scheme_error() -> None:
    with pytest.raises(SchemeError, match="Unknown class scheme 'corine'"):
        category_of_classes(np.array([1], np.int64), "corine", None)


def test_inputs_are_not_modified() -> None:
    codes = np.array([1, 2], np.int64)
    override = {1: GRASSLAND}
    category_of_classes(codes, "clcd", override)
    assert codes.tolist() == [1, 2] and override == {1: GRASSLAND}


def test_row_shape_problems_name_the_category_table(folder: Path) -> None:
    # Line 2 holds a value under no column name: the shared CSV reader finds it.
    path = write(folder, "class_code,ipcc_category\n1,forest,oops\n")
    with pytest.raises(TableSchemaError) as excinfo:
        read_category_table(path)
    message = str(excinfo.value)
    assert message.startswith(f"IPCC category table {str(path)!r} has 1 problem")
    assert "column 3 has no name in the header (line 1) but holds values on line 2" in message
