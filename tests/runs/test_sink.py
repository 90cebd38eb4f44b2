"""Sink accounting by hand: growth of land that stays, age classes, the soil legacy of
conversions, year-specific densities. Every pixel is 1 ha (100 m in an equal-area CRS), so a
pixel's Mg C/ha is its Mg C; the expected numbers are written above each assertion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio

from geocarbon.runs.change import ChangeConfig, run_change

from conftest import EQUAL_AREA_CRS, ONE_HA_TRANSFORM

# class 1 forest, class 2 cropland (soil 50 -> 34.5 on conversion)
DENSITIES = """class_code,class_name,pool,central
1,Forest,above,40
1,Forest,below,10
1,Forest,dead,0
1,Forest,soil,50
2,Cropland,above,5
2,Cropland,below,1
2,Cropland,dead,0
2,Cropland,soil,34.5
"""
CATEGORIES = "class_code,ipcc_category\n1,forest\n2,cropland\n"


def _write(path, codes, dtype="uint8", nodata=0):
    codes = np.asarray(codes, dtype)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=codes.shape[1],
        height=codes.shape[0],
        count=1,
        dtype=dtype,
        crs=EQUAL_AREA_CRS,
        transform=ONE_HA_TRANSFORM,
        nodata=nodata,
    ) as dataset:
        dataset.write(codes, 1)
    return path


def _run(tmp_path, maps, years, *, growth=None, densities=DENSITIES, **options):
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    dates = [
        _write(folder / f"lc_{year}.tif", codes) for codes, year in zip(maps, years, strict=True)
    ]
    table = folder / "densities.csv"
    table.write_text(densities)
    categories = folder / "categories.csv"
    categories.write_text(CATEGORIES)
    if growth is not None:
        (folder / "growth.csv").write_text(growth)
        options["growth"] = folder / "growth.csv"
    options.setdefault("monte_carlo", None)
    return run_change(
        ChangeConfig(
            landcovers=tuple(dates),
            years=tuple(years),
            densities=table,
            ipcc_categories=categories,
            area_method="planar",
            progress=False,
            out_dir=tmp_path / "out",
            **options,
        )
    )


def _period(result, label):
    rows = result.change[result.change["period"] == label]
    assert len(rows) == 1
    return rows.iloc[0]


def test_forest_remaining_forest_grows_one_mg_per_ha_and_year_for_20_years(tmp_path):
    growth = "class_code,pool,rate_mg_per_ha_yr\n1,above,1\n"
    result = _run(tmp_path, [[[1]], [[1]]], [2000, 2020], growth=growth)
    row = _period(result, "2000-2020")
    # 1 ha x 1 Mg C/ha/yr x 20 yr = 20 Mg C, all growth on land that stays, none converted
    assert row["growth_remaining_total_mg"] == pytest.approx(20.0)
    assert row["growth_remaining_above_mg"] == pytest.approx(20.0)
    assert row["conversion_total_mg"] == 0.0
    assert row["net_change_mg"] == pytest.approx(20.0)
    # 20 Mg C / 20 yr = 1e-6 Tg C/yr; a gain only
    assert row["growth_remaining_tg_per_yr"] == pytest.approx(1e-6)
    assert row["gross_gain_mg"] == pytest.approx(20.0) and row["gross_loss_mg"] == 0.0
    # the stock at the end: 40 + 10 + 0 + 50 = 100 at the start, + 20
    assert row["stock_end_mg"] == pytest.approx(120.0)
    series = result.series.set_index("year")["stock_total_mg"]
    assert series[2020] == pytest.approx(120.0)
    categories = pd.read_csv(tmp_path / "out" / "ipcc_categories.csv")
    line = categories[categories["category_code"] == "4.A.1"].iloc[0]
    # Forest land remaining forest land: 1 ha, +20 Mg C, a removal of 20 x 44/12 Mg CO2
    assert line["area_ha"] == pytest.approx(1.0)
    assert line["net_change_mg_c"] == pytest.approx(20.0)
    assert line["net_emissions_mg_co2"] == pytest.approx(-20.0 * 44 / 12)


def test_an_age_boundary_crossed_within_a_period_splits_its_years(tmp_path):
    growth = "class_code,pool,rate_mg_per_ha_yr,age_min,age_max\n1,above,2,0,20\n1,above,0.5,20,\n"
    ages = _write(tmp_path / "ages.tif", [[10, 30]], dtype="float32", nodata=-1)
    result = _run(tmp_path, [[[1, 1]], [[1, 1]]], [2000, 2020], growth=growth, ages=ages)
    row = _period(result, "2000-2020")
    # age 10: 10 yr at 2 (to age 20) + 10 yr at 0.5 = 25; age 30: 20 yr at 0.5 = 10
    assert row["growth_remaining_total_mg"] == pytest.approx(35.0)
    assert row["net_change_mg"] == pytest.approx(35.0)


def test_without_ages_land_is_older_than_every_age_class(tmp_path):
    growth = "class_code,pool,rate_mg_per_ha_yr,age_min,age_max\n1,above,2,0,20\n1,above,0.5,20,\n"
    result = _run(tmp_path, [[[1]], [[1]]], [2000, 2020], growth=growth)
    # no age raster: the initial age is 20 (the largest boundary): 20 yr at 0.5 = 10
    assert _period(result, "2000-2020")["net_change_mg"] == pytest.approx(10.0)
    result = _run(
        tmp_path, [[[1]], [[1]]], [2000, 2020], growth=growth, initial_age=5, overwrite=True
    )
    # --initial-age 5: 15 yr at 2 + 5 yr at 0.5 = 32.5
    assert _period(result, "2000-2020")["net_change_mg"] == pytest.approx(32.5)


def test_land_converted_to_forest_grows_from_age_zero(tmp_path):
    growth = "class_code,pool,rate_mg_per_ha_yr,age_min,age_max\n1,above,2,0,20\n1,above,0.5,20,\n"
    result = _run(tmp_path, [[[2]], [[1]]], [2000, 2010], growth=growth, soil_transition_years=0)
    row = _period(result, "2000-2010")
    # the conversion happens at the start of the period: 10 yr at age 0-10, rate 2 = 20
    assert row["growth_converted_total_mg"] == pytest.approx(20.0)
    # cropland 40.5 -> forest 100 at the period's densities: +59.5 (soil instant with T = 0)
    assert row["conversion_total_mg"] == pytest.approx(59.5)
    assert row["net_change_mg"] == pytest.approx(79.5)


def test_soil_moves_to_the_new_class_over_20_years_of_an_annual_series(tmp_path):
    years = list(range(2000, 2026))
    maps = [[[1]]] + [[[2]]] * (len(years) - 1)
    result = _run(tmp_path, maps, years, soil_transition_years=20)
    soil = [_period(result, f"{a}-{a + 1}")["soil_legacy_mg"] for a in range(2000, 2025)]
    # soil 50 -> 34.5 over 20 years: -15.5 / 20 = -0.775 Mg C/ha/yr in each of the first 20
    # annual periods (2000-2001 to 2019-2020), then 0
    assert soil[:20] == pytest.approx([-0.775] * 20)
    assert soil[20:] == pytest.approx([0.0] * 5)
    first = _period(result, "2000-2001")
    # the biomass goes at once: (5 + 1) - (40 + 10) = -44; the soil is legacy, not conversion
    assert first["conversion_total_mg"] == pytest.approx(-44.0)
    assert first["conversion_soil_mg"] == 0.0
    whole = _period(result, "2000-2025")
    # first to last: -44 - 15.5
    assert whole["net_change_mg"] == pytest.approx(-59.5)
    assert whole["soil_legacy_mg"] == pytest.approx(-15.5)
    categories = pd.read_csv(tmp_path / "out" / "ipcc_categories.csv")
    converted = categories[
        (categories["category_code"] == "4.B.2.1") & (categories["period"] == "2019-2020")
    ]
    # still "forest land converted to cropland" in its 20th year, "cropland remaining" after
    assert converted["area_ha"].iloc[0] == pytest.approx(1.0)
    remaining = categories[
        (categories["category_code"] == "4.B.1") & (categories["period"] == "2020-2021")
    ]
    assert remaining["area_ha"].iloc[0] == pytest.approx(1.0)


def test_a_conversion_reversed_within_the_transition_restarts_from_the_current_soil(tmp_path):
    years = list(range(2000, 2031))
    # forest in 2000, cropland 2001-2005, forest again from 2006
    maps = [[[1]]] + [[[2]]] * 5 + [[[1]]] * 25
    result = _run(tmp_path, maps, years, soil_transition_years=20)
    soil = {a: _period(result, f"{a}-{a + 1}")["soil_legacy_mg"] for a in range(2000, 2030)}
    # 2000-2005: -0.775 a year; in 2005 the soil is 50 - 5 x 0.775 = 46.125
    assert [soil[a] for a in range(2000, 2005)] == pytest.approx([-0.775] * 5)
    # back to forest in 2005-2006: from 46.125 to 50 over 20 years, +3.875 / 20 = +0.19375
    assert [soil[a] for a in range(2005, 2025)] == pytest.approx([0.19375] * 20)
    assert [soil[a] for a in range(2025, 2030)] == pytest.approx([0.0] * 5)
    whole = _period(result, "2000-2030")
    # the soil is back at 50; the biomass lost and regained at the table's densities: net 0
    assert whole["soil_legacy_mg"] == pytest.approx(0.0, abs=1e-9)
    assert whole["net_change_mg"] == pytest.approx(0.0, abs=1e-9)


def test_a_year_column_table_rising_from_100_to_120(tmp_path):
    densities = (
        "class_code,class_name,pool,central,year\n"
        "1,Forest,above,100,2000\n1,Forest,above,120,2020\n"
        "1,Forest,below,0,\n1,Forest,dead,0,\n1,Forest,soil,0,\n"
        "2,Cropland,above,5,\n2,Cropland,below,0,\n2,Cropland,dead,0,\n2,Cropland,soil,0,\n"
    )
    result = _run(tmp_path, [[[1]], [[1]], [[1]]], [2000, 2010, 2020], densities=densities)
    # 100 -> 110 (2010) -> 120 (2020): growth on land that stays, by stock difference
    assert _period(result, "2000-2010")["growth_remaining_total_mg"] == pytest.approx(10.0)
    assert _period(result, "2010-2020")["net_change_mg"] == pytest.approx(10.0)
    assert _period(result, "2000-2020")["net_change_mg"] == pytest.approx(20.0)
    series = result.series.set_index("year")["stock_total_mg"]
    assert list(series) == pytest.approx([100.0, 110.0, 120.0])


def test_instant_soil_change_is_the_transition_matrix(tmp_path):
    result = _run(tmp_path, [[[1, 2]], [[2, 2]]], [2000, 2010], soil_transition_years=0)
    row = _period(result, "2000-2010")
    # forest 100 -> cropland 40.5 at once: -59.5 of conversion, nothing else
    assert row["conversion_total_mg"] == pytest.approx(-59.5)
    assert row["soil_legacy_mg"] == 0.0
    assert row["net_change_mg"] == pytest.approx(-59.5)
    transitions = result.transitions
    assert transitions["change_total_mg"].sum() == pytest.approx(-59.5)


def _float_raster(path, values, nodata=-9999.0):
    values = np.asarray(values, "float32")
    with rasterio.open(
        path, "w", driver="GTiff", width=values.shape[1], height=values.shape[0], count=1,
        dtype="float32", crs=EQUAL_AREA_CRS, transform=ONE_HA_TRANSFORM, nodata=nodata,
    ) as dataset:  # fmt: skip
        dataset.write(values, 1)
    return path


def test_a_soil_map_replaces_the_table_where_it_has_data(tmp_path):
    soil = _float_raster(tmp_path / "soc.tif", [[80, -9999], [60, 70]])
    result = _run(tmp_path, [[[1, 1], [1, 1]]] * 2, [2000, 2020], density_rasters=(f"soil={soil}",))
    series = result.series.set_index("year")
    # soil: 80 + 60 + 70 from the map, 50 from the table where the map has nodata = 260;
    # above + below: 4 x 50 = 200
    assert series.loc[2000, "stock_soil_mg"] == pytest.approx(260.0)
    assert series.loc[2000, "stock_total_mg"] == pytest.approx(460.0)
    row = _period(result, "2000-2020")
    # 3 of the 4 ha took their soil from the map
    assert row["density_raster_share_soil"] == pytest.approx(0.75)
    assert row["net_change_mg"] == pytest.approx(0.0)


def test_biomass_maps_times_the_carbon_fraction_and_class_factors(tmp_path):
    biomass = _float_raster(tmp_path / "agb.tif", [[200]])
    soil = _float_raster(tmp_path / "soc.tif", [[80]])
    factors = tmp_path / "factors.csv"
    factors.write_text("class_code,pool,factor\n2,soil,0.69\n")
    result = _run(
        tmp_path,
        [[[1]], [[2]]],
        [2000, 2020],
        density_rasters=(f"above={biomass}",),
        carbon_fraction=0.47,
        soil_transition_years=0,
    )
    row = _period(result, "2000-2020")
    # above from the map for both classes: 200 Mg/ha x 0.47 = 94 -> 94 (no change); below
    # 10 -> 1, soil 50 -> 34.5 from the table: -9 - 15.5
    assert row["change_above_mg"] == pytest.approx(0.0)
    assert row["net_change_mg"] == pytest.approx(-24.5)
    result = _run(
        tmp_path,
        [[[1]], [[2]]],
        [2000, 2020],
        density_rasters=(f"soil={soil}",),
        density_factors=factors,
        soil_transition_years=0,
        overwrite=True,
    )
    row = _period(result, "2000-2020")
    # soil 80 under forest; cropland's factor 0.69 (IPCC F_LU, long-term cultivated): 55.2
    assert row["change_soil_mg"] == pytest.approx(55.2 - 80.0)


@pytest.mark.parametrize(
    "options,words",
    [
        ({"growth": "class_code,pool,rate_mg_per_ha_yr\n7,above,1\n"}, ["Growth table", "7"]),
        ({"density_rasters": ("roots=x.tif",)}, ["roots=x.tif", "'roots' is not a pool"]),
        ({"density_rasters": ("soil=missing.tif",)}, ["missing.tif", "does not exist"]),
        ({"ages": "other_grid"}, ["Age raster", "not on the grid"]),
        ({"carbon_fraction": 1.5}, ["--carbon-fraction", "1.5"]),
        ({"soil_transition_years": -1}, ["--soil-transition-years", "-1"]),
    ],
)
def test_bad_sink_inputs_are_one_line_naming_them_and_nothing_is_written(tmp_path, options, words):
    from geocarbon.errors import GeoCarbonError

    options = dict(options)
    growth = options.pop("growth", None)
    if options.get("ages") == "other_grid":
        ages = tmp_path / "ages.tif"
        with rasterio.open(
            ages, "w", driver="GTiff", width=3, height=3, count=1, dtype="float32",
            crs=EQUAL_AREA_CRS, transform=ONE_HA_TRANSFORM, nodata=-1,
        ) as dataset:  # fmt: skip
            dataset.write(np.zeros((1, 3, 3), "float32"))
        options["ages"] = ages
    with pytest.raises(GeoCarbonError) as caught:
        _run(tmp_path, [[[1, 2]], [[2, 2]]], [2000, 2010], growth=growth, **options)
    message = str(caught.value)
    assert "\n" not in message and all(word in message for word in words), message
    assert not (tmp_path / "out").exists()
