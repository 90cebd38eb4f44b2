"""The IPCC land-category table (geocarbon.accounts.ipcc): CRF lines 4.A-4.F, hand-computed values,
closure of totals and subtotals, and the UNFCCC sign convention."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geocarbon.accounts.ipcc import COLUMNS, crf_lines, ipcc_categories_table

FOREST, CROPLAND, GRASSLAND, WETLANDS, SETTLEMENTS, OTHER = range(6)
REMAINING = 6
CO2_PER_C = 44.0 / 12.0


def cells() -> tuple[np.ndarray, np.ndarray]:
    """Area (ha) and net change (Mg C) by [region, period, to_category, origin]: 2 regions, 2
    periods."""
    area = np.zeros((2, 2, 6, 7))
    carbon = np.zeros((2, 2, 6, 7))
    # Region 0, period 0 (2000-2010, 10 years):
    area[0, 0, FOREST, REMAINING], carbon[0, 0, FOREST, REMAINING] = 1000.0, 500.0
    area[0, 0, FOREST, CROPLAND], carbon[0, 0, FOREST, CROPLAND] = 100.0, 2000.0  # afforestation
    area[0, 0, FOREST, GRASSLAND], carbon[0, 0, FOREST, GRASSLAND] = 50.0, 400.0
    area[0, 0, CROPLAND, FOREST], carbon[0, 0, CROPLAND, FOREST] = 20.0, -3000.0  # deforestation
    area[0, 0, CROPLAND, REMAINING], carbon[0, 0, CROPLAND, REMAINING] = 400.0, -40.0
    area[0, 0, SETTLEMENTS, FOREST], carbon[0, 0, SETTLEMENTS, FOREST] = 5.0, -600.0
    area[0, 0, WETLANDS, REMAINING] = 30.0  # no carbon change
    # Region 0, period 1 (2010-2015, 5 years): forest that stays gains 250 Mg C.
    area[0, 1, FOREST, REMAINING], carbon[0, 1, FOREST, REMAINING] = 1000.0, 250.0
    # Region 1: bare land that stays bare, both periods.
    area[1, :, OTHER, REMAINING] = 7.0
    return area, carbon


def table() -> pd.DataFrame:
    area, carbon = cells()
    return ipcc_categories_table(
        ("330000", "0101"),
        ("Zhejiang", "Région 1"),
        ("2000-2010", "2010-2015"),
        (10, 5),
        area,
        carbon,
    )


def line(frame: pd.DataFrame, region: str, period: str, code: str) -> pd.Series:
    rows = frame[
        (frame.region_id == region) & (frame.period == period) & (frame.category_code == code)
    ]
    assert len(rows) == 1
    return rows.iloc[0]


def test_columns_and_one_row_per_region_period_and_line() -> None:
    frame = table()
    assert (
        tuple(frame.columns)
        == COLUMNS
        == (
            "region_id",
            "region_name",
            "period",
            "category_code",
            "category",
            "land_category",
            "origin_category",
            "area_ha",
            "net_change_mg_c",
            "annual_net_change_mg_c_per_yr",
            "net_emissions_mg_co2",
        )
    )
    # 6 categories x (total, remaining, converted subtotal, 5 conversions) = 48 lines,
    # kept even where zero, for 2 regions x 2 periods.
    assert len(crf_lines()) == 48
    assert len(frame) == 2 * 2 * 48
    # Regions, then periods, then lines; ids stay text as given (0101 keeps its zero).
    assert frame.region_id.tolist() == ["330000"] * 96 + ["0101"] * 96
    assert frame.period.tolist()[:96] == ["2000-2010"] * 48 + ["2010-2015"] * 48
    assert frame.region_name.iloc[-1] == "Région 1"


def test_lines_are_coded_and_named_like_the_crf() -> None:
    lines = crf_lines()
    codes = [code for code, _, _, _ in lines]
    expected_codes = []
    for letter in "ABCDEF":
        expected_codes += [f"4.{letter}", f"4.{letter}.1", f"4.{letter}.2"]
        expected_codes += [f"4.{letter}.2.{number}" for number in range(1, 6)]
    assert codes == expected_codes
    named = {code: (name, land, origin) for code, name, land, origin in lines}
    assert named["4.A"] == ("Total forest land", "Forest land", "")
    assert named["4.A.1"] == ("Forest land remaining forest land", "Forest land", "")
    assert named["4.A.2"] == ("Land converted to forest land", "Forest land", "")
    assert named["4.A.2.1"] == ("Cropland converted to forest land", "Forest land", "Cropland")
    assert named["4.A.2.5"] == ("Other land converted to forest land", "Forest land", "Other land")
    assert named["4.B.2.1"] == ("Forest land converted to cropland", "Cropland", "Forest land")
    assert named["4.B.2.2"][0] == "Grassland converted to cropland"
    assert named["4.C.2.2"][0] == "Cropland converted to grassland"
    assert named["4.D"][0] == "Total wetlands"
    assert named["4.D.1"][0] == "Wetlands remaining wetlands"
    assert named["4.D.2.3"][0] == "Grassland converted to wetlands"
    assert named["4.E.1"][0] == "Settlements remaining settlements"
    assert named["4.E.2.4"][0] == "Wetlands converted to settlements"
    assert named["4.F"] == ("Total other land", "Other land", "")
    assert named["4.F.1"][0] == "Other land remaining other land"
    assert named["4.F.2.5"] == ("Settlements converted to other land", "Other land", "Settlements")


@pytest.mark.parametrize(
    ("code", "area_ha", "net_change_mg_c", "annual", "emissions"),
    [
        # 4.A = remaining 1000 ha / +500 Mg C + converted (100 + 50 ha / +2000 + 400 Mg C).
        # Emissions: -2900 x 44/12 = -10633.33 Mg CO2 (a removal).
        ("4.A", 1150.0, 2900.0, 290.0, -2900.0 * CO2_PER_C),
        ("4.A.1", 1000.0, 500.0, 50.0, -500.0 * CO2_PER_C),
        ("4.A.2", 150.0, 2400.0, 240.0, -8800.0),  # 2400 x 44/12 = 8800
        ("4.A.2.1", 100.0, 2000.0, 200.0, -2000.0 * CO2_PER_C),
        ("4.A.2.2", 50.0, 400.0, 40.0, -400.0 * CO2_PER_C),
        ("4.A.2.3", 0.0, 0.0, 0.0, 0.0),
        # 4.B = remaining 400 ha / -40 Mg C + forest converted 20 ha / -3000 Mg C.
        ("4.B", 420.0, -3040.0, -304.0, 3040.0 * CO2_PER_C),
        ("4.B.1", 400.0, -40.0, -4.0, 40.0 * CO2_PER_C),
        ("4.B.2", 20.0, -3000.0, -300.0, 11000.0),  # an emission: 3000 x 44/12 = 11000
        ("4.B.2.1", 20.0, -3000.0, -300.0, 11000.0),
        ("4.B.2.2", 0.0, 0.0, 0.0, 0.0),
        ("4.C", 0.0, 0.0, 0.0, 0.0),
        ("4.D", 30.0, 0.0, 0.0, 0.0),
        ("4.D.1", 30.0, 0.0, 0.0, 0.0),
        # 4.E.2.1 Forest land converted to settlements: 5 ha, -600 Mg C = +2200 Mg CO2.
        ("4.E", 5.0, -600.0, -60.0, 2200.0),
        ("4.E.1", 0.0, 0.0, 0.0, 0.0),
        ("4.E.2", 5.0, -600.0, -60.0, 2200.0),
        ("4.E.2.1", 5.0, -600.0, -60.0, 2200.0),
        ("4.F", 0.0, 0.0, 0.0, 0.0),
    ],
)
def test_hand_computed_lines(
    code: str, area_ha: float, net_change_mg_c: float, annual: float, emissions: float
) -> None:
    row = line(table(), "330000", "2000-2010", code)
    assert row.area_ha == pytest.approx(area_ha)
    assert row.net_change_mg_c == pytest.approx(net_change_mg_c)
    assert row.annual_net_change_mg_c_per_yr == pytest.approx(annual)
    assert row.net_emissions_mg_co2 == pytest.approx(emissions)


def test_annual_change_divides_by_each_periods_own_years() -> None:
    # 2010-2015: forest that stays gains 250 Mg C in 5 years = 50 Mg C/yr, -916.67 Mg CO2.
    row = line(table(), "330000", "2010-2015", "4.A.1")
    assert row.area_ha == 1000.0
    assert row.annual_net_change_mg_c_per_yr == pytest.approx(50.0)
    assert row.net_emissions_mg_co2 == pytest.approx(-250.0 * 44 / 12)
    # Region 0101: 7 ha of other land remaining other land, no change.
    other = line(table(), "0101", "2000-2010", "4.F")
    assert (other.area_ha, other.net_change_mg_c) == (7.0, 0.0)
    assert line(table(), "0101", "2000-2010", "4.F.1").area_ha == 7.0


def test_sign_convention_removals_negative_emissions_positive_zero_not_negative() -> None:
    frame = table()
    gains = frame.net_change_mg_c > 0
    losses = frame.net_change_mg_c < 0
    assert gains.any() and losses.any()
    assert (frame.net_emissions_mg_co2[gains] < 0).all()
    assert (frame.net_emissions_mg_co2[losses] > 0).all()
    np.testing.assert_allclose(frame.net_emissions_mg_co2, -frame.net_change_mg_c * 44 / 12)
    # Zero lines read 0.0, never -0.0 (a CSV would print "-0.0").
    zero = frame.net_change_mg_c == 0
    assert not np.signbit(frame.net_emissions_mg_co2[zero]).any()


def test_totals_are_remaining_plus_converted_and_subtotals_sum_their_lines() -> None:
    rng = np.random.default_rng(7)
    area = rng.uniform(0, 100, (3, 2, 6, 7))
    carbon = rng.normal(0, 50, (3, 2, 6, 7))
    for to in range(6):  # no category converts to itself
        area[:, :, to, to] = carbon[:, :, to, to] = 0.0
    frame = ipcc_categories_table(
        ("a", "b", "c"), ("A", "B", "C"), ("p", "q"), (10, 20), area, carbon
    )
    for value in ("area_ha", "net_change_mg_c", "net_emissions_mg_co2"):
        by_code = frame.pivot_table(
            index=["region_id", "period"], columns="category_code", values=value, aggfunc="sum"
        )
        for letter in "ABCDEF":
            total, remaining, converted = (
                by_code[f"4.{letter}"],
                by_code[f"4.{letter}.1"],
                by_code[f"4.{letter}.2"],
            )
            if value != "net_emissions_mg_co2":  # built from its two lines: exact
                assert (total == remaining + converted).all()
            np.testing.assert_allclose(total, remaining + converted)
            parts = sum(by_code[f"4.{letter}.2.{n}"] for n in range(1, 6))
            np.testing.assert_allclose(converted, parts)
    # The six totals hold all the land and all the change of a region and period.
    totals = frame[frame.category_code.str.fullmatch(r"4\.[A-F]")]
    summed = totals.groupby(["region_id", "period"], sort=False)[
        ["area_ha", "net_change_mg_c"]
    ].sum()
    np.testing.assert_allclose(summed.area_ha, area.sum(axis=(2, 3)).reshape(-1))
    np.testing.assert_allclose(summed.net_change_mg_c, carbon.sum(axis=(2, 3)).reshape(-1))


def test_conversion_lines_read_the_right_origin() -> None:
    # One cell at a time: land converted to category `to` from `origin` lands on exactly one
    # conversion line, the one naming both, and on its subtotal and total.
    lines = crf_lines()
    names = ("Forest land", "Cropland", "Grassland", "Wetlands", "Settlements", "Other land")
    for to in range(6):
        for origin in (o for o in range(6) if o != to):
            area = np.zeros((1, 1, 6, 7))
            area[0, 0, to, origin] = 3.0
            frame = ipcc_categories_table(("r",), ("R",), ("p",), (1,), area, np.zeros_like(area))
            hit = frame[frame.area_ha != 0]
            conversion = hit[hit.origin_category != ""]
            assert len(hit) == 3 and len(conversion) == 1
            assert conversion.land_category.iloc[0] == names[to]
            assert conversion.origin_category.iloc[0] == names[origin]
            assert (
                conversion.category.iloc[0] == f"{names[origin]} converted to {names[to].lower()}"
            )
            code = conversion.category_code.iloc[0]
            assert (code, conversion.category.iloc[0]) in [(c, n) for c, n, _, _ in lines]


def test_period_of_zero_years_has_no_annual_rate() -> None:
    area, carbon = cells()
    frame = ipcc_categories_table(
        ("r",), ("R",), ("2000-2000",), (0,), area[:1, :1], carbon[:1, :1]
    )
    assert frame.annual_net_change_mg_c_per_yr.isna().all()
    assert line(frame, "r", "2000-2000", "4.A").net_change_mg_c == 2900.0


def test_inputs_are_not_modified() -> None:
    area, carbon = cells()
    area_before, carbon_before = area.copy(), carbon.copy()
    table_ = ipcc_categories_table(("a", "b"), ("A", "B"), ("p", "q"), (10, 5), area, carbon)
    assert len(table_) == 192
    np.testing.assert_array_equal(area, area_before)
    np.testing.assert_array_equal(carbon, carbon_before)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("names", "1 region names for 2 region ids"),
        ("years", r"period_years has shape \(3,\), expected \(2,\)"),
        ("area", r"area_ha has shape \(2, 2, 6, 6\), expected \(2, 2, 6, 7\)"),
        ("diagonal", r"carbon_mg converts a category to itself"),
    ],
)
def test_inconsistent_inputs_are_refused_naming_the_argument(change: str, message: str) -> None:
    area, carbon = cells()
    names: tuple[str, ...] = ("A", "B")
    years: tuple[int, ...] = (10, 5)
    if change == "names":
        names = ("A",)
    elif change == "years":
        years = (10, 5, 5)
    elif change == "area":
        area = area[..., :6]
    else:
        carbon[0, 0, GRASSLAND, GRASSLAND] = 1.0
    with pytest.raises(ValueError, match=message):
        ipcc_categories_table(("a", "b"), names, ("p", "q"), years, area, carbon)
