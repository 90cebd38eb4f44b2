"""Forest biomass sink of China on real data: MODIS IGBP 2019 by province, growth ``china-clcd``.

The same map is given for 2009 and 2019, so all land stays in its class and the whole change is
growth on remaining land. Only forest (CLCD class 2, i.e. IGBP classes 1-5 and 8, woody
savannas, through the scheme's crosswalk) has rows in the growth table, so all growth is forest
growth. Each run takes about two seconds (0.05 degree, 1260 x 1020 pixels).
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from geocarbon.accounts.uncertainty import MonteCarlo
from geocarbon.api import stock_change
from geocarbon.inputs.schemes import get_scheme

YEARS = (2009, 2019)
FOREST_CODES = sorted(
    code
    for code, clcd in get_scheme("modis-igbp").crosswalk_to_clcd().items()
    if clcd == 2  # CLCD forest
)
# Published national forest biomass sink (Yang et al. 2022, NFI 2009-2018), Tg C/yr, +-25 %.
NATIONAL_SINK_TG_PER_YR = 154.8
# Forested hills of the south-east and the drylands and plateaus of the north-west (adcode).
SOUTH_EAST = {350000: "Fujian", 330000: "Zhejiang", 360000: "Jiangxi", 430000: "Hunan"}
SOUTH_EAST |= {440000: "Guangdong", 450000: "Guangxi"}
NORTH_WEST = {650000: "Xinjiang", 630000: "Qinghai", 540000: "Tibet", 620000: "Gansu"}
NORTH_WEST |= {640000: "Ningxia", 150000: "Inner Mongolia"}


def run_sink(shared_data, regions_file, monte_carlo):
    landcover = shared_data / "landcover" / "modis_mcd12c1_china"
    (tif,) = landcover.glob("*.tif")
    return stock_change(
        [tif, tif],
        YEARS,
        "china-clcd",
        scheme="modis-igbp",
        growth="china-clcd",
        regions=shared_data / "boundaries" / regions_file,
        id_field="adcode",
        name_field="name_en",
        monte_carlo=monte_carlo,
        write_rasters=False,
        progress=False,
    )


def table_rates_mg_per_ha_yr(adcodes):
    """Above + below growth of old forest per province, read from the CSV (independent of the
    run): a province's own rows, else the national ones; land without an age map starts in the
    oldest age class, so only open-ended rows (blank age_max) apply."""
    path = resources.files("geocarbon") / "data" / "growth" / "china_clcd.csv"
    with resources.as_file(path) as csv:
        rows = pd.read_csv(csv, dtype={"region_id": "string"})
    rows = rows[rows["class_code"].eq(2) & rows["age_max"].isna()]
    national = rows[rows["region_id"].isna()]["rate_mg_per_ha_yr"].sum()
    own = rows.dropna(subset=["region_id"]).groupby("region_id")["rate_mg_per_ha_yr"].sum()
    return pd.Series([own.get(str(code), national) for code in adcodes], index=adcodes)


@pytest.fixture
def provinces(shared_data):
    """Per province: the sink (Mg C/yr), forest and total area (ha), centre (lon, lat)."""
    return province_sinks(shared_data).copy()


@cache
def province_sinks(shared_data):
    """The province run, once per session (PERT draws, one quantile per pool)."""
    result = run_sink(
        shared_data,
        "china_provinces.geojson",
        MonteCarlo(1000, seed=0, distribution="pert", correlation="pool"),
    )
    change = result.change[result.change["region_id"] != "unassigned"].copy()
    change.index = change["region_id"].astype(int)
    remaining = result.transitions[
        (result.transitions["class_from"] == result.transitions["class_to"])
        & result.transitions["class_from"].isin(FOREST_CODES)
        & (result.transitions["region_id"] != "unassigned")
    ]
    centre = result.regions.set_index("region_id").geometry.representative_point()
    growth_mg = change["growth_remaining_above_mg"] + change["growth_remaining_below_mg"]
    return change.assign(
        sink_mg_per_yr=growth_mg / change["years"],
        forest_ha=remaining.groupby(remaining["region_id"].astype(int))["area_ha"].sum(),
        lon=centre.x,
        lat=centre.y,
    ).fillna({"forest_ha": 0.0})


def test_all_change_is_forest_growth_on_remaining_land(provinces):
    for column in ("conversion_total_mg", "growth_converted_total_mg", "soil_legacy_mg"):
        assert (provinces[column] == 0).all(), column
    for pool in ("dead", "soil"):
        assert (provinces[f"growth_remaining_{pool}_mg"] == 0).all(), pool
    np.testing.assert_allclose(
        provinces["net_change_mg"], provinces["sink_mg_per_yr"] * 10, rtol=1e-9
    )
    # no forest, no growth: Shanghai and Macao have no forest pixel at 0.05 degree
    assert (provinces.loc[provinces["forest_ha"] == 0, "sink_mg_per_yr"] == 0).all()
    assert set(provinces.index[provinces["forest_ha"] == 0]) == {310000, 820000}


def test_national_forest_sink_within_a_quarter_of_the_inventory(provinces):
    # Measured: 162.44 Tg C/yr over 189.2 Mha of MODIS forest (98.4 Mha in classes 1-5, 90.8
    # in woody savannas); the NFI's 154.8 Tg C/yr is over 174.1 Mha.
    national_tg_per_yr = provinces["sink_mg_per_yr"].sum() / 1e6
    assert national_tg_per_yr == pytest.approx(NATIONAL_SINK_TG_PER_YR, rel=0.25)
    assert national_tg_per_yr == pytest.approx(162.44, abs=0.01)
    assert provinces["forest_ha"].sum() / 1e6 == pytest.approx(189.2, abs=0.1)


def test_sink_per_ha_of_forest_is_the_table_rate_of_each_province(provinces):
    """All forest stays forest and keeps growing at its province's rate for ten years, so the
    sink per ha of forest is exactly the table's rate: 0.889 Mg C/ha/yr (national) in 26 of the
    32 forested provinces, 1.143 Shandong, 0.909 Jilin and Gansu, 0.406 Hainan (old forest),
    0.185 Tibet and Qinghai. This ranking is the table's, not the map's: Hainan (south) sits
    below Xinjiang and Inner Mongolia (north-west), at the national rate."""
    forested = provinces[provinces["forest_ha"] > 0]
    per_forest_ha = forested["sink_mg_per_yr"] / forested["forest_ha"]
    expected = table_rates_mg_per_ha_yr(forested.index)
    np.testing.assert_allclose(per_forest_ha, expected, rtol=1e-6)
    assert (expected.round(3) == 0.889).sum() == 26
    assert per_forest_ha[650000] == pytest.approx(per_forest_ha[150000], rel=1e-9)
    assert per_forest_ha[460000] < 0.5 * per_forest_ha[650000]


def test_sink_per_ha_of_land_ranks_south_east_above_north_west(provinces):
    """Sink per ha of province area (all valid pixels: land and inland water), not per ha of
    forest: per ha of forest is the growth table's rate, one national value in 26 provinces
    (see the test above), so a gradient there would test the table, not the run. Per ha of
    province area is what a map of the sink shows, and its gradient comes from the map (how
    much of each province is forest) times the rates.

    Measured (Mg C/ha/yr): south-east Fujian 0.683, Zhejiang 0.553, Hunan 0.480, Guangxi 0.467,
    Jiangxi 0.441, Guangdong 0.357 (mean 0.497); north-west Inner Mongolia 0.084, Gansu 0.056,
    Tibet 0.011, Ningxia 0.002, Xinjiang 0.0003, Qinghai 0.0001 (mean 0.026): 19.5 x, and the
    lowest south-eastern province 4.3 x the highest north-western one. Over all 34 provinces,
    Spearman's rho with latitude is -0.39 (south above north), but with longitude only +0.08:
    no east-west gradient, as the North China Plain is east and cropland (Shandong 0.0007,
    Jiangsu 0.0011, Tianjin 0.0035, Shanghai 0) and the south-west west and forest (Chongqing
    0.510, Yunnan 0.464, Guizhou 0.429)."""
    per_ha = provinces["sink_mg_per_yr"] / provinces["compared_area_ha"]
    south_east, north_west = per_ha[list(SOUTH_EAST)], per_ha[list(NORTH_WEST)]
    assert south_east.mean() == pytest.approx(0.497, abs=0.001)
    assert north_west.mean() == pytest.approx(0.026, abs=0.001)
    assert south_east.mean() > 10 * north_west.mean()
    assert south_east.min() > 3 * north_west.max()
    by_latitude = spearmanr(per_ha, provinces["lat"]).statistic
    by_longitude = spearmanr(per_ha, provinces["lon"]).statistic
    assert by_latitude == pytest.approx(-0.39, abs=0.01) and by_latitude < -0.3
    assert by_longitude == pytest.approx(0.08, abs=0.01) and abs(by_longitude) < 0.3


def test_province_intervals_bracket_their_sinks(provinces):
    # PERT draws, one quantile per pool (provinces share the national rate's error). Hainan's
    # age-class rows have no low/high, so its interval is its central value.
    grows = provinces[provinces["sink_mg_per_yr"] > 0]
    assert (grows["net_change_mg_p5"] <= grows["net_change_mg"] + 1e-6).all()
    assert (grows["net_change_mg"] <= grows["net_change_mg_p95"] + 1e-6).all()
    widths = (grows["net_change_mg_p95"] - grows["net_change_mg_p5"]) / grows["net_change_mg"]
    assert widths[460000] == pytest.approx(0, abs=1e-9)
    assert (widths.drop(460000) > 0.02).all()


def test_national_interval_brackets_the_central_sink_with_pert_draws(shared_data):
    """The country outline as one region gives the national interval from the draws themselves
    (province percentiles do not add up); it grows at the national rate everywhere, so its
    central value (168.2 Tg C/yr) is above the provinces' sum (162.4).

    The national rate is skewed: above 0.509 / 0.706 / 0.725 and below 0.121 / 0.183 / 0.201
    (low / central / high), so only 4.5 % of triangular draws of their sum exceed the central
    0.889: with the default draws (triangular; each published rate drawn once, shared by the six
    forest classes that copy it) the central value lies just above the 95th percentile
    (measured 136.3 / 155.3 / 167.4 Tg C/yr). PERT draws with one quantile per pool bracket
    it: 145.5 / 163.5 / 172.9."""
    per_year = 1e6 * (YEARS[1] - YEARS[0])
    runs = {
        "default": MonteCarlo(1000, seed=0),
        "pert": MonteCarlo(1000, seed=0, distribution="pert", correlation="pool"),
    }
    bounds = {}
    for name, monte_carlo in runs.items():
        row = run_sink(shared_data, "china_country.geojson", monte_carlo).change.iloc[0]
        assert row["region_id"] == "100000"
        bounds[name] = [row[f"net_change_mg{s}"] / per_year for s in ("", "_p5", "_p50", "_p95")]
    central, p5, p50, p95 = bounds["pert"]
    assert central == pytest.approx(168.2, abs=0.1)
    assert p5 < p50 < central < p95
    assert (p95 - p5) / central > 0.1  # measured 0.16
    assert [round(v, 1) for v in bounds["pert"]] == [168.2, 145.5, 163.5, 172.9]
    central, p5, p50, p95 = bounds["default"]
    assert p5 < p50 < p95 < central and (p95 - p5) / central > 0.05
    assert [round(v, 1) for v in bounds["default"]] == [168.2, 136.3, 155.3, 167.4]
