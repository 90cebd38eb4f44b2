"""Stock change: by hand, InVEST's sample and formula, closure properties, uncertainty."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from geocarbon.accounts.uncertainty import MonteCarlo
from geocarbon.accounts.valuation import Valuation
from geocarbon.api import stock_change
from geocarbon.errors import ConfigError, GridMismatchError
from geocarbon.inputs.densities import CarbonTable

from conftest import EQUAL_AREA_CRS, ONE_HA_TRANSFORM


def flat_table(totals: dict[int, float], spread: float = 0.0) -> CarbonTable:
    """All carbon in the soil pool; low/high = central -/+ spread (Mg C/ha)."""
    codes = np.array(sorted(totals))
    density = np.zeros((len(codes), 4, 3))
    for i, code in enumerate(codes):
        density[i, 3] = (max(totals[code] - spread, 0.0), totals[code], totals[code] + spread)
    return CarbonTable("hand", codes, tuple(f"class {c}" for c in codes), density)


def arrays_change(dates, years=(2000, 2020), table=None, **options):
    return stock_change(
        list(dates),
        list(years),
        table or flat_table({1: 10.0, 2: 9.0, 3: 50.0}),
        transform=ONE_HA_TRANSFORM,
        crs=EQUAL_AREA_CRS,
        nodata=255,
        progress=False,
        monte_carlo=options.pop("monte_carlo", None),
        **options,
    )


def test_hand_built_change_keeps_minus_one(tmp_path):
    # 1 -> 2 loses exactly 1 Mg C/ha (10 -> 9): a value InVEST's nodata (-1) would swallow.
    start = np.array([[1, 1], [3, 255]], np.uint8)
    end = np.array([[2, 1], [1, 3]], np.uint8)
    result = arrays_change([start, end], out_dir=tmp_path / "out")
    row = result.change.iloc[0]
    # valid on both dates: 3 pixels; 1->2: -1, 1->1: 0, 3->1: -40  => net -41 Mg C
    assert row["net_change_mg"] == pytest.approx(-41.0)
    assert row["gross_loss_mg"] == pytest.approx(41.0) and row["gross_gain_mg"] == 0.0
    assert row["excluded_area_ha"] == pytest.approx(1.0)  # nodata on the first date
    assert row["annual_net_change_mg_per_yr"] == pytest.approx(-41.0 / 20)
    assert row["net_change_mg_co2e"] == pytest.approx(-41.0 * 44 / 12)
    with rasterio.open(tmp_path / "out" / "change_2000-2020_total_mg_per_ha.tif") as dataset:
        change = dataset.read(1)
        assert np.isnan(dataset.nodata)
    assert change[0, 0] == -1.0 and change[0, 1] == 0.0 and change[1, 0] == -40.0
    assert np.isnan(change[1, 1])


def test_transitions_by_hand():
    start = np.array([[1, 1], [3, 3]], np.uint8)
    end = np.array([[2, 1], [3, 1]], np.uint8)
    moved = arrays_change([start, end]).transitions.set_index(["class_from", "class_to"])
    assert moved.loc[(1, 2), "area_ha"] == pytest.approx(1.0)
    assert moved.loc[(3, 1), "change_total_mg"] == pytest.approx(-40.0)
    assert moved.loc[(1, 1), "change_total_mg"] == 0.0


def test_three_dates_give_consecutive_and_first_to_last():
    dates = [
        np.array([[1, 3]], np.uint8),
        np.array([[2, 3]], np.uint8),
        np.array([[2, 1]], np.uint8),
    ]
    change = arrays_change(dates, years=(2000, 2010, 2020)).change.set_index("period")
    assert list(change.index) == ["2000-2010", "2010-2020", "2000-2020"]
    assert change.loc["2000-2020", "net_change_mg"] == pytest.approx(
        change.loc["2000-2010", "net_change_mg"] + change.loc["2010-2020", "net_change_mg"]
    )
    assert change.loc["2010-2020", "years"] == 10


def test_dates_and_years_checked():
    one = np.array([[1]], np.uint8)
    with pytest.raises(ConfigError, match="2 land-cover rasters but 3 years"):
        arrays_change([one, one], years=(2000, 2010, 2020))
    with pytest.raises(ConfigError, match="increase"):
        arrays_change([one, one], years=(2020, 2000))


def test_different_grids_refused_then_aligned(raster_factory):
    from affine import Affine

    first = raster_factory("a.tif", np.array([[1, 2], [3, 1]], np.uint8))
    shifted = Affine(100, 0, ONE_HA_TRANSFORM.c + 100, 0, -100, ONE_HA_TRANSFORM.f)
    second = raster_factory("b.tif", np.array([[2, 2], [1, 1]], np.uint8), transform=shifted)
    with pytest.raises(GridMismatchError, match=r"b.tif is not on the grid of .*a.tif.*transform"):
        stock_change(
            [first, second],
            [2000, 2020],
            flat_table({1: 10, 2: 9, 3: 50}),
            progress=False,
            monte_carlo=None,
        )
    with pytest.warns(UserWarning, match="resampled \\(nearest neighbour\\)"):
        result = stock_change(
            [first, second],
            [2000, 2020],
            flat_table({1: 10, 2: 9, 3: 50}),
            progress=False,
            monte_carlo=None,
            align_to="first",
        )
    # b.tif's column 0 lands on a.tif's column 1; a.tif's column 0 is outside b.tif: excluded
    row = result.change.iloc[0]
    assert row["compared_area_ha"] == pytest.approx(2.0) and row[
        "excluded_area_ha"
    ] == pytest.approx(2.0)
    assert row["net_change_mg"] == pytest.approx((9 - 9) + (10 - 10))


# --- valuation ---------------------------------------------------------------------------------


def invest_valuation_constant(price, discount_pct, change_pct, year_start, year_end):
    """InVEST Carbon's valuation written as its user's guide sums it, year by year."""
    years = year_end - year_start
    total = sum(
        1 / ((1 + discount_pct / 100) ** t * (1 + change_pct / 100) ** t) for t in range(years)
    )
    return price / years * total


@settings(max_examples=100)
@given(
    st.floats(0, 500),
    st.floats(-50, 50),
    st.floats(-50, 50),
    st.integers(1900, 2100),
    st.integers(1, 100),
)
def test_valuation_constant_equals_the_sum(price, discount, change, start, years):
    expected = invest_valuation_constant(price, discount, change, start, start + years)
    assert Valuation(price, discount, change).constant(start, start + years) == pytest.approx(
        expected, rel=1e-9, abs=1e-9
    )


def test_valuation_ratio_of_one():
    # 1.25 x 0.8 = 1: no discounting at all, every year's share keeps its price
    assert Valuation(43, 25.0, -20.0).constant(2016, 2030) == pytest.approx(43.0)


# --- closure properties -----------------------------------------------------------------------

codes = st.sampled_from([1, 2, 3, 255])


@settings(max_examples=40)
@given(
    st.integers(2, 9).flatmap(
        lambda h: st.integers(2, 9).flatmap(
            lambda w: st.tuples(
                hnp.arrays(np.uint8, (h, w), elements=codes),
                hnp.arrays(np.uint8, (h, w), elements=codes),
            )
        )
    ),
    st.tuples(st.integers(1, 4), st.integers(1, 4)),
)
def test_accounts_close_and_reverse(dates, block_shape):
    import geopandas as gpd
    import shapely

    start, end = dates
    x0, y0 = ONE_HA_TRANSFORM.c, ONE_HA_TRANSFORM.f
    regions = gpd.GeoDataFrame(
        {"code": ["west", "east"]},
        geometry=[
            shapely.box(x0, y0 - 1000, x0 + 250, y0),
            shapely.box(x0 + 250, y0 - 1000, x0 + 1000, y0),
        ],
        crs=EQUAL_AREA_CRS,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        forward = arrays_change(
            [start, end], regions=regions, id_field="code", block_shape=block_shape
        )
        backward = arrays_change([end, start], regions=regions, id_field="code")
    change = forward.change.set_index("region_id")
    by_transitions = forward.transitions.groupby("region_id")["change_total_mg"].sum()
    for region in change.index:
        net = change.loc[region, "net_change_mg"]
        assert net == pytest.approx(by_transitions.get(region, 0.0), rel=1e-9, abs=1e-9)
        assert net == pytest.approx(
            change.loc[region, "gross_gain_mg"] - change.loc[region, "gross_loss_mg"], abs=1e-9
        )
    moved_area = forward.transitions.groupby("region_id")["area_ha"].sum()
    np.testing.assert_allclose(
        moved_area.reindex(change.index, fill_value=0.0), change["compared_area_ha"], rtol=1e-12
    )
    reverse = backward.change.set_index("region_id")["net_change_mg"]
    np.testing.assert_allclose(reverse.loc[change.index], -change["net_change_mg"], atol=1e-9)
    valid_both = np.isin(start, [1, 2, 3]) & np.isin(end, [1, 2, 3])
    totals = {1: 10.0, 2: 9.0, 3: 50.0, 255: 0.0}
    expected = sum(
        totals[b] - totals[a] for a, b in zip(start[valid_both], end[valid_both], strict=True)
    )
    assert change["net_change_mg"].sum() == pytest.approx(expected, abs=1e-9)


# --- uncertainty -------------------------------------------------------------------------------


def test_uncertainty_is_seeded_and_brackets_the_central_estimate():
    rng = np.random.default_rng(5)
    start = rng.choice(np.array([1, 2, 3], np.uint8), (30, 30))
    end = np.where(rng.random((30, 30)) < 0.3, 3, start).astype(np.uint8)
    table = flat_table({1: 10.0, 2: 9.0, 3: 50.0}, spread=5.0)
    first = arrays_change(
        [start, end], table=table, monte_carlo=MonteCarlo(500, seed=7)
    ).change.iloc[0]
    again = arrays_change(
        [start, end], table=table, monte_carlo=MonteCarlo(500, seed=7)
    ).change.iloc[0]
    other = arrays_change(
        [start, end], table=table, monte_carlo=MonteCarlo(500, seed=8)
    ).change.iloc[0]
    assert (
        first["net_change_mg_p5"] == again["net_change_mg_p5"]
        and first["net_change_mg_p95"] == again["net_change_mg_p95"]
    )
    assert first["net_change_mg_p5"] != other["net_change_mg_p5"]
    assert first["net_change_mg_p5"] < first["net_change_mg"] < first["net_change_mg_p95"]


def test_tables_by_region_do_not_depend_on_the_rasters_written(tmp_path, raster_factory, pools_csv):
    """A change by region counts the regions' extent alone, whether it writes rasters, keeps
    them in memory or writes none; its rasters still map every pixel, the change outside the
    extent included."""
    import geopandas as gpd

    from builders import box

    start = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 2, 2], [3, 3, 1, 1]], np.uint8)
    end = start.copy()
    end[3, 3] = 3  # outside the extent: the region's pixel (0, 0) widened by one, rows/cols 0-1
    paths = [raster_factory(name, codes) for name, codes in (("a.tif", start), ("b.tif", end))]
    region = gpd.GeoDataFrame({"id": [1]}, geometry=[box(0, 0, 1, 1)], crs=EQUAL_AREA_CRS)
    options = dict(regions=region, id_field="id", monte_carlo=None, progress=False)
    runs = {
        "files": stock_change(paths, [2000, 2020], pools_csv, out_dir=tmp_path / "o", **options),
        "no rasters": stock_change(
            paths, [2000, 2020], pools_csv, out_dir=tmp_path / "t", write_rasters=False, **options
        ),
        "in memory": stock_change(paths, [2000, 2020], pools_csv, **options),
    }
    for name, run in runs.items():
        assert run.summary["pixels_outside_extent"] == 16 - 4, name
        assert run.change.equals(runs["files"].change), name
        assert run.summary["periods"] == runs["files"].summary["periods"], name
    assert runs["files"].summary["periods"]["2000-2020"]["net_change_mg"] == 0
    assert runs["no rasters"].summary["blocks_read"] == 1
    with rasterio.open(tmp_path / "o" / "change_2000-2020_total_mg_per_ha.tif") as raster:
        mapped = raster.read(1)
    assert mapped[3, 3] != 0 and np.isclose(
        mapped[3, 3], runs["in memory"].rasters["change_2000-2020_total_mg_per_ha"].values[3, 3]
    )
