"""Density tables as they arrive from users: 64-bit codes, encodings, workbooks, odd CSV shapes.

Every bad table must fail with ONE line naming the file and the line, column or code at fault and
saying how to fix it, and must leave the table untouched and nothing beside it.
"""

from __future__ import annotations

import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geocarbon.errors import GeoCarbonError, InputFileError, TableSchemaError, UnknownClassError
from geocarbon.inputs.densities import EncodingGuessWarning, load_density_table, region_key
from geocarbon.kernels import classify
from geocarbon.lookup import build_class_lookup
from geocarbon.runs.stock import StockConfig, run_stock

from conftest import write_raster

INVEST_HEADER = "lucode,c_above,c_below,c_soil,c_dead\n"
LONG_HEADER = "class_code,class_name,pool,low,central,high\n"
POOLS = ("above", "below", "dead", "soil")


def write(tmp_path: Path, content: str | bytes, name: str = "table.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def refused(error: type[GeoCarbonError], path: Path, *fragments: str) -> str:
    """The one-line message of loading ``path``; checks it names the file and each fragment."""
    before = path.read_bytes()
    with pytest.raises(error) as info:
        load_density_table(path)
    message = str(info.value)
    assert "\n" not in message, message
    assert path.name in message, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert path.read_bytes() == before
    assert sorted(path.parent.iterdir()) == [path]  # nothing left behind
    return message


# --- 1. class codes are integers end to end -------------------------------------------------------


def test_codes_beyond_2_53_are_read_exactly(tmp_path):
    # 2**53 and 2**53 + 1 are the same float: read through float they were a "duplicate".
    path = write(tmp_path, INVEST_HEADER + "9007199254740992,1,0,0,0\n9007199254740993,2,0,0,0\n")
    table = load_density_table(path)
    assert table.codes.dtype == np.int64
    assert table.codes.tolist() == [9007199254740992, 9007199254740993]
    assert table.name_of(9007199254740993) == ""
    assert table.central_mg_per_ha[:, 0].tolist() == [1, 2]


def test_uint64_codes_are_read_exactly(tmp_path):
    path = write(
        tmp_path,
        LONG_HEADER
        + "".join(f"18446744073709551615,Top,{pool},1,2,3\n" for pool in POOLS)
        + "".join(f"9223372036854775808,Mid,{pool},,5,\n" for pool in POOLS),
    )
    table = load_density_table(path)
    assert table.codes.dtype == np.uint64
    assert table.codes.tolist() == [9223372036854775808, 18446744073709551615]
    assert table.names == ("Mid", "Top")
    assert table.name_of(18446744073709551615) == "Top"


def test_code_with_zero_fraction_is_read_as_that_integer(tmp_path):
    # pandas writes integer columns holding a blank as floats: 7.0 means class 7.
    table = load_density_table(write(tmp_path, INVEST_HEADER + "7.0,1,0,0,0\n8.,1,0,0,0\n"))
    assert table.codes.tolist() == [7, 8]


def test_codes_that_are_not_whole_numbers_are_named_by_line(tmp_path):
    path = write(
        tmp_path,
        INVEST_HEADER + "1.5,1,0,0,0\nabc,1,0,0,0\n1e3,1,0,0,0\n,1,0,0,0\n",
        "codes.csv",
    )
    refused(
        TableSchemaError,
        path,
        "4 problem(s)",
        "line 2, column 'lucode': '1.5' is not an integer class code",
        "line 3, column 'lucode': 'abc' is not an integer class code",
        "line 4, column 'lucode': '1e3' is not an integer class code; write the code in full digits",
        "line 5, column 'lucode': '' is not an integer class code; the cell is empty",
    )


def test_codes_beyond_64_bits_and_mixed_signs_are_named(tmp_path):
    path = write(
        tmp_path, INVEST_HEADER + "18446744073709551616,1,0,0,0\n-9223372036854775809,1,0,0,0\n"
    )
    refused(
        TableSchemaError,
        path,
        "line 2, column 'lucode': 18446744073709551616 is beyond the 64-bit codes",
        "line 3, column 'lucode': -9223372036854775809 is beyond",
    )
    mixed = tmp_path / "mixed" / "mixed.csv"
    mixed.parent.mkdir()
    mixed.write_text(INVEST_HEADER + "-1,1,0,0,0\n18446744073709551615,1,0,0,0\n")
    refused(TableSchemaError, mixed, "codes -1 and 18446744073709551615 cannot share a raster")


@pytest.mark.parametrize(
    ("dtype", "codes", "stray"),
    [
        ("int64", [9007199254740992, 9007199254740993], 9007199254740994),
        ("int64", [-9223372036854775808, -9223372036854775806], -9223372036854775807),
        ("uint64", [18446744073709551612, 18446744073709551615], 18446744073709551614),
        ("uint64", [9223372036854775806, 9223372036854775809], 9223372036854775807),
    ],
)
def test_lookup_classifies_64_bit_codes_exactly(tmp_path, dtype, codes, stray):
    path = write(tmp_path, INVEST_HEADER + "".join(f"{code},1,0,0,0\n" for code in codes))
    table = load_density_table(path)
    raster = write_raster(tmp_path / "lc.tif", np.array([[codes[0], codes[1], stray]], dtype))
    with rasterio.open(raster) as dataset:
        pixels = dataset.read(1)
    lookup = build_class_lookup(table.codes, dtype=dtype)
    bins = np.empty(pixels.shape, np.int32)
    unknown = np.zeros(len(lookup.class_index_by_code) + 1, np.int64)
    classify(
        pixels,
        np.ones(pixels.shape, bool),
        lookup.class_index_by_code,
        lookup.code_offset,
        0,
        False,
        lookup.nodata_bin,
        lookup.unknown_bin,
        bins,
        unknown,
    )
    assert bins.tolist() == [[0, 1, lookup.unknown_bin]]
    assert [lookup.code_of_slot(int(slot)) for slot in np.flatnonzero(unknown)] == [stray]


def test_stock_run_names_unknown_uint64_codes_exactly(tmp_path):
    top = 18446744073709551615
    table = write(tmp_path, INVEST_HEADER + f"{top - 3},1,0,0,0\n{top},2,0,0,0\n")
    raster = write_raster(
        tmp_path / "lc.tif",
        np.array([[top - 3, top, top - 1], [top, top, 5]], np.uint64),
        nodata=None,
    )
    out = tmp_path / "out"
    with pytest.raises(UnknownClassError) as info:
        run_stock(StockConfig(landcover=raster, densities=table, out_dir=out))
    assert info.value.missing == {5: 1, top - 1: 1}
    assert "18446744073709551614" in str(info.value)
    assert not out.exists() or not any(out.iterdir())


def test_stock_run_with_int64_codes_beyond_2_53(tmp_path):
    low = 9007199254740992
    table = write(tmp_path, INVEST_HEADER + f"{low},1,0,0,0\n{low + 1},10,0,0,0\n")
    raster = write_raster(
        tmp_path / "lc.tif", np.array([[low, low + 1, low + 1]], np.int64), nodata=None
    )
    result = run_stock(StockConfig(landcover=raster, densities=table, out_dir=tmp_path / "out"))
    by_code = dict(zip(result.classes["class_code"], result.classes["stock_total_mg"], strict=True))
    assert by_code == {low: 1.0, low + 1: 20.0}


# --- 2. line numbers are the file's physical lines ----------------------------------------------


def test_line_numbers_count_blank_comment_and_quoted_lines(tmp_path):
    path = write(
        tmp_path,
        "# carbon pools, Mg C/ha\r\n"  # line 1
        "\r\n"  # 2
        "lucode,name,c_above,c_below,c_soil,c_dead\r\n"  # 3 header
        "\r\n"  # 4
        "1,Forest,15,10,60,1\r\n"  # 5
        "# grassland follows\r\n"  # 6
        ",,,,,\r\n"  # 7: a row of empty cells, as Excel leaves them
        '2,"Grass\r\nland",5,3,20,0\r\n'  # 8-9: a quoted name over two lines
        "\r\n\r\n"  # 10, 11
        "3,Urban,x,1,5,0\r\n",  # 12
        "lines.csv",
    )
    refused(
        TableSchemaError, path, "1 problem(s)", "line 12, column 'c_above': 'x' is not a number"
    )


def test_duplicate_codes_name_their_physical_lines(tmp_path):
    path = write(tmp_path, "\n" + INVEST_HEADER + "\n1,1,0,0,0\n\n\n1,2,0,0,0\n")
    refused(TableSchemaError, path, "code 1 is duplicated on lines 4, 7")


# --- 3. encodings, workbooks and binary files ---------------------------------------------------

CHINESE = "lucode,名称,c_above,c_below,c_soil,c_dead\n1,森林,15,10,60,1\n2,草地,5,3,20,0\n"


def test_gbk_table_is_read_as_gb18030_with_a_warning(tmp_path):
    path = write(tmp_path, CHINESE.replace("名称", "name").encode("gbk"), "gbk.csv")
    with pytest.warns(EncodingGuessWarning, match=r"gbk.csv.*GB18030.*--encoding") as record:
        table = load_density_table(path)
    assert table.names == ("森林", "草地")
    assert record[0].filename == __file__  # points at the caller


def test_gbk_table_with_its_encoding_given_reads_quietly(tmp_path):
    path = write(tmp_path, CHINESE.replace("名称", "name").encode("gbk"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_density_table(path, encoding="gbk").names == ("森林", "草地")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_utf16_and_utf8_with_bom_are_read(tmp_path, encoding):
    text = CHINESE.replace("名称", "name").replace("\n", "\r\n")
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    table = load_density_table(write(tmp_path, data))
    assert table.codes.tolist() == [1, 2] and table.names == ("森林", "草地")


def test_given_encoding_that_fails_names_file_and_encoding(tmp_path):
    path = write(tmp_path, CHINESE.encode("gbk"), "gbk.csv")
    before = path.read_bytes()
    for encoding, fragment in (("utf-8", "is not utf-8 text"), ("klingon", "Unknown text")):
        with pytest.raises(InputFileError) as info:
            load_density_table(path, encoding=encoding)
        message = str(info.value)
        assert "\n" not in message and "gbk.csv" in message and encoding in message
        assert fragment in message and "CSV UTF-8" in message
    assert path.read_bytes() == before


def test_text_in_neither_utf8_nor_gb18030_is_refused_with_the_fix(tmp_path):
    path = write(tmp_path, (INVEST_HEADER + "1,1,0,0,0\n").encode() + b"\xff\n", "latin.csv")
    refused(InputFileError, path, "neither UTF-8 (byte 0xff on line 3", "--encoding", "CSV UTF-8")


def test_utf16_without_bom_is_refused_with_the_fix(tmp_path):
    path = write(tmp_path, (INVEST_HEADER + "1,1,0,0,0\n").encode("utf-16-le"), "u16.csv")
    refused(InputFileError, path, "NUL bytes", "utf-16-le", "CSV UTF-8")


def test_xlsx_saved_as_csv_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "pools.csv"
    with zipfile.ZipFile(path, "w") as workbook:
        workbook.writestr("[Content_Types].xml", "<Types/>")
        workbook.writestr("xl/workbook.xml", "<workbook/>")
        workbook.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    refused(
        InputFileError,
        path,
        "is an Excel workbook (.xlsx), not a CSV",
        "File > Save As > CSV UTF-8",
    )


def test_binary_file_named_csv_is_refused(tmp_path):
    raster = write_raster(tmp_path / "raster.tif", np.ones((4, 4), np.uint8))
    path = raster.rename(tmp_path / "pools.csv")
    refused(InputFileError, path, "NUL bytes", "not a text file")


# --- 4. trailing commas and duplicate headers ----------------------------------------------------


def test_trailing_comma_on_every_row_is_ignored(tmp_path):
    text = "lucode,c_above,c_below,c_soil,c_dead,\n1,15,10,60,1,\n2,5,3,20,0,\n"
    for name, content in (("both.csv", text), ("rows.csv", text.replace("dead,\n", "dead\n"))):
        table = load_density_table(write(tmp_path, content, name))
        assert table.codes.tolist() == [1, 2]
        assert table.central_mg_per_ha[1].tolist() == [5, 3, 0, 20]


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("lucode,LUCODE,c_above,c_below,c_soil,c_dead", "columns 'lucode' and 'LUCODE' differ"),
        ("lucode,c_above,C_ABOVE,c_below,c_soil", "columns 'c_above' and 'C_ABOVE' differ"),
        ("lucode,c_above,c_below,c_soil,c_dead,c_soil", "column 'c_soil' appears 2 times"),
    ],
)
def test_duplicate_columns_are_named(tmp_path, header, fragment):
    path = write(tmp_path, f"{header}\n1,1,1,1,1,1\n", "dup.csv")
    refused(TableSchemaError, path, fragment, "line 1, columns", "keep one")


def test_values_under_no_column_and_short_rows_are_named(tmp_path):
    path = write(
        tmp_path,
        "lucode,c_above,,c_below,c_soil,c_dead\n1,1,,1,1,1\n2,1,9,1,1,1\n3,1,,1,1\n4,1,,1,1,1,7\n",
        "shape.csv",
    )
    refused(
        TableSchemaError,
        path,
        "line 4 has fewer cells than the 6 named columns",
        "column 3 has no name in the header (line 1) but holds values on line 3",
        "column 7 has no name in the header (line 1) but holds values on line 5",
    )


# --- 5. siblings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", [";", "\t"])
def test_semicolon_and_tab_separated_tables_are_read(tmp_path, separator):
    rows = ["lucode,LULC_Name,c_above,c_below,c_soil,c_dead", "1,Forest, 15 ,10,60,1"]
    text = "\n".join(row.replace(",", separator) for row in rows) + "\n"
    table = load_density_table(write(tmp_path, text))
    assert table.codes.tolist() == [1] and table.names == ("Forest",)
    assert table.central_mg_per_ha[0].tolist() == [15, 10, 1, 60]


def test_decimal_commas_and_thousands_separators_are_named(tmp_path):
    path = write(
        tmp_path,
        "lucode;c_above;c_below;c_soil;c_dead\n1;15,5;10;60;1\n2;5;3;1 200;0\n",
        "euro.csv",
    )
    refused(
        TableSchemaError,
        path,
        "line 2, column 'c_above': '15,5' is not a number (Mg C/ha); write a decimal point",
        "line 3, column 'c_soil': '1 200' is not a number",
    )
    quoted = tmp_path / "q" / "quoted.csv"
    quoted.parent.mkdir()
    quoted.write_text(INVEST_HEADER + '"1,000",1,0,0,0\n1,"1,234",0,0,0\n')
    refused(
        TableSchemaError,
        quoted,
        "line 2, column 'lucode': '1,000' is not an integer",
        "line 3, column 'c_above': '1,234' is not a number",
    )


def test_nan_inf_negative_and_blank_densities_are_named(tmp_path):
    path = write(
        tmp_path,
        INVEST_HEADER
        + "1,nan,0,0,0\n2,inf,0,0,0\n3,-1,0,0,0\n4,,0,0,0\n5,1e999,0,0,0\n6,1_0,0,0,0\n",
        "bad.csv",
    )
    refused(
        TableSchemaError,
        path,
        "6 problem(s)",
        "line 2, column 'c_above': 'nan' is not a number",
        "line 3, column 'c_above': 'inf' is not a number",
        "line 4, column 'c_above': -1.0 is negative",
        "line 5, column 'c_above': '' is not a number (Mg C/ha); the cell is empty",
        "line 6, column 'c_above': '1e999' is not a number (Mg C/ha); it is too large",
        "line 7, column 'c_above': '1_0' is not a number",
    )


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "is empty: no header line"),
        ("\n \n\n", "is empty: no header line"),
        (INVEST_HEADER, "the table has no rows under its header"),
        (INVEST_HEADER + "\n,,,,\n", "the table has no rows under its header"),
    ],
)
def test_empty_and_header_only_tables(tmp_path, content, fragment):
    refused(
        TableSchemaError,
        write(tmp_path, content, "empty.csv"),
        fragment,
        "Expected" if not content.strip() else "add one",
    )


def test_whitespace_bom_and_crlf_are_tolerated(tmp_path):
    text = "\ufeff LUCODE , c_above,c_below ,c_soil,c_dead\r\n  7 ,1, 2 ,3,4\r\n"
    table = load_density_table(write(tmp_path, text))
    assert table.codes.tolist() == [7]
    assert table.central_mg_per_ha[0].tolist() == [1, 2, 4, 3]


def test_thousands_of_classes_load_quickly_without_warnings(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(
        "region_id,"
        + LONG_HEADER
        + "".join(f",{code},Class {code},{pool},1,2,3\n" for code in range(5000) for pool in POOLS)
        + "".join(
            f"R1,{code},Class {code},{pool},4,5,6\n" for code in range(0, 5000, 7) for pool in POOLS
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        start = time.perf_counter()
        table = load_density_table(path)
        seconds = time.perf_counter() - start
    assert table.n_classes == 5000 and table.density_for("R1")[7, 3].tolist() == [4, 5, 6]
    assert seconds < 3.0, seconds


def test_region_ids_are_text_and_keep_leading_zeros(tmp_path):
    header = "region_id,lucode,c_above,c_below,c_soil,c_dead\n"
    table = load_density_table(
        write(tmp_path, header + ",1,1,0,0,0\n0101,1,2,0,0,0\n101,1,3,0,0,0\n330000.0,1,4,0,0,0\n")
    )
    assert sorted(table.regional) == ["0101", "101", "330000"]
    assert table.density_for("0101")[0, 0, 1] == 2
    assert table.density_for("101")[0, 0, 1] == 3
    assert region_key("0101") == "0101" and region_key(101) == "101"
    assert region_key(330000.0) == region_key("330000.0") == "330000"


def test_class_names_are_kept_exactly_as_text(tmp_path):
    names = ["=SUM(A1:A2)", "{{ forest }}", 'say "hi"', "{0} {name}", "+1 mixed", "@x"]
    rows = "".join(
        f'{code},"{name.replace(chr(34), chr(34) * 2)}",1,0,0,0\n'
        for code, name in enumerate(names)
    )
    table = load_density_table(
        write(tmp_path, "lucode,LULC_Name,c_above,c_below,c_soil,c_dead\n" + rows)
    )
    assert table.names == tuple(names)


def test_excel_separator_hint_line_is_honoured_and_counted(tmp_path):
    text = "sep=;\r\nlucode;name;c_above;c_below;c_soil;c_dead\r\n1;Forest, old;15;10;60;1\r\n"
    table = load_density_table(write(tmp_path, text))
    assert table.names == ("Forest, old",) and table.central_mg_per_ha[0, 0] == 15
    bad = tmp_path / "bad" / "hint.csv"
    bad.parent.mkdir()
    bad.write_text(text + "2;Grass;x;3;20;0\r\n")
    refused(TableSchemaError, bad, "line 4, column 'c_above': 'x' is not a number")


def test_folder_given_as_table_is_named(tmp_path):
    folder = tmp_path / "tables"
    folder.mkdir()
    with pytest.raises(InputFileError, match=r"'.*tables' is a folder; give the CSV file inside"):
        load_density_table(folder)


def test_given_utf16_encoding_failure_names_the_physical_line(tmp_path):
    # An unpaired surrogate on line 3 of a UTF-16-LE file.
    data = (INVEST_HEADER + "1,1,0,0,0\n").encode("utf-16-le") + b"\x00\xd8\x41\x00"
    path = write(tmp_path, data, "u16le.csv")
    with pytest.raises(InputFileError) as info:
        load_density_table(path, encoding="utf-16-le")
    message = str(info.value)
    assert "u16le.csv" in message and "is not utf-16-le text" in message and "(line 3)" in message
    assert "\n" not in message


def test_table_with_another_separator_says_how_to_separate(tmp_path):
    path = write(tmp_path, "lucode|c_above|c_below|c_soil|c_dead\n1|1|0|0|0\n", "pipes.csv")
    refused(
        TableSchemaError, path, "['lucode|c_above|c_below|c_soil|c_dead']", "separate the columns"
    )
