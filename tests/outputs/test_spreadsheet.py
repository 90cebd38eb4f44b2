"""CSV injection: text a spreadsheet would run as a formula gets a leading quote; numbers do not."""

from __future__ import annotations

import pandas as pd
import pytest

from geocarbon.outputs.spreadsheet import (
    FORMULA_STARTS,
    neutralise_formulas,
    neutralise_text,
    restore_formulas,
)

FORMULAS = ['=HYPERLINK("http://x","y")', "+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]
PLAIN = ["West county", "Forest", "'=already quoted", "a=b", " =1", "", "1e3", "中文 county"]


@pytest.fixture
def table() -> pd.DataFrame:
    names = FORMULAS + PLAIN
    return pd.DataFrame(
        {
            "region_id": [str(k) for k in range(len(names))],
            "region_name": names,
            "net_change_mg": [-1.5 - k for k in range(len(names))],
            "pixels": list(range(-3, len(names) - 3)),
            "label": pd.array(names, dtype="string"),
            "class": pd.Categorical(names),
        }
    )


def test_formula_cells_get_a_leading_quote_and_the_rest_is_untouched(table, tmp_path):
    before = table.copy()
    safe = neutralise_formulas(table)
    pd.testing.assert_frame_equal(table, before)  # the input is not modified
    for column in ("region_name", "label", "class"):
        assert list(safe[column]) == [f"'{text}" for text in FORMULAS] + PLAIN
    assert safe["label"].dtype == "string"
    # numbers stay numbers: negatives keep their sign and their dtype
    pd.testing.assert_series_equal(safe["net_change_mg"], table["net_change_mg"])
    pd.testing.assert_series_equal(safe["pixels"], table["pixels"])
    pd.testing.assert_series_equal(safe["region_id"], table["region_id"])
    # what a spreadsheet reads: no cell of the CSV starts with a formula character
    path = tmp_path / "regions.csv"
    # CRLF rows (RFC 4180): the csv module then quotes cells holding a bare CR, so "\r=1" stays
    # one cell (with "\n" rows it is written bare and splits the row)
    safe.to_csv(path, index=False, lineterminator="\r\n")
    back = pd.read_csv(path, keep_default_na=False, dtype={"region_name": str})
    assert list(back["region_name"]) == [f"'{text}" for text in FORMULAS] + PLAIN
    assert (back["net_change_mg"] < 0).all() and back["net_change_mg"].dtype == float
    for cell in back.to_numpy().ravel():
        assert not (isinstance(cell, str) and cell.startswith(FORMULA_STARTS)), cell


def test_missing_values_and_non_text_cells_stay_as_they_are():
    frame = pd.DataFrame({"name": ["=1", None, float("nan"), 7, "-x"]}, dtype=object)
    safe = neutralise_formulas(frame)
    assert safe["name"].tolist()[0] == "'=1" and safe["name"].tolist()[3:] == [7, "'-x"]
    assert safe["name"].isna().tolist() == [False, True, True, False, False]


def test_column_names_that_are_formulas_are_quoted_too():
    frame = pd.DataFrame({"=cmd": [1.0], "stock_total_mg": [-2.0]})
    assert list(neutralise_formulas(frame).columns) == ["'=cmd", "stock_total_mg"]


@pytest.mark.parametrize("text", FORMULAS)
def test_neutralise_text(text):
    assert neutralise_text(text) == "'" + text
    assert neutralise_text("Forest") == "Forest"


def test_reading_back_restores_the_text(table, tmp_path):
    path = tmp_path / "regions.csv"
    neutralise_formulas(table).to_csv(path, index=False, lineterminator="\r\n")
    back = restore_formulas(pd.read_csv(path, keep_default_na=False, dtype={"region_id": str}))
    expected = list(table["region_name"])
    expected[FORMULAS.__len__() + PLAIN.index("'=already quoted")] = "=already quoted"  # documented
    assert list(back["region_name"]) == expected
    assert list(back["net_change_mg"]) == list(table["net_change_mg"])
    assert restore_formulas(pd.DataFrame({"name": ["'s-Hertogenbosch"]}))["name"][0] == (
        "'s-Hertogenbosch"
    )
