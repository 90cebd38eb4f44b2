"""Properties of sink accounting over random histories written to real GeoTIFFs: the gain-loss
method with rates equals the stock-difference method with the equivalent year-column densities;
the decomposition closes; periods add up; the walk is the same in any blocks."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geocarbon.accounts.change import COMPONENTS
from geocarbon.runs.change import ChangeConfig, run_change
from geocarbon.units import POOLS

from conftest import EQUAL_AREA_CRS, ONE_HA_TRANSFORM

CLASSES = (1, 2, 3)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _write(path, codes):
    with rasterio.open(
        path, "w", driver="GTiff", width=codes.shape[1], height=codes.shape[0], count=1,
        dtype="uint8", crs=EQUAL_AREA_CRS, transform=ONE_HA_TRANSFORM, nodata=0,
    ) as dataset:  # fmt: skip
        dataset.write(codes.astype(np.uint8), 1)
    return path


def _run(folder: Path, maps, years, densities: str, growth: str | None = None, **options):
    dates = [_write(folder / f"lc{k}.tif", codes) for k, codes in enumerate(maps)]
    (folder / "d.csv").write_text(densities)
    if growth is not None:
        (folder / "g.csv").write_text(growth)
        options["growth"] = folder / "g.csv"
    return run_change(
        ChangeConfig(
            landcovers=tuple(dates),
            years=tuple(years),
            densities=folder / "d.csv",
            monte_carlo=None,
            area_method="planar",
            progress=False,
            write_rasters=False,
            **options,
        )
    )


@st.composite
def stable_land(draw):
    n_dates = draw(st.integers(2, 4))
    shape = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    codes = np.array(
        draw(st.lists(st.sampled_from(CLASSES), min_size=shape[0] * shape[1],
                      max_size=shape[0] * shape[1])),
    ).reshape(shape)  # fmt: skip
    steps = draw(st.lists(st.integers(1, 15), min_size=n_dates - 1, max_size=n_dates - 1))
    years = [2000 + int(s) for s in np.concatenate([[0], np.cumsum(steps)])]
    density = {c: draw(st.integers(60, 200)) for c in CLASSES}  # >= 0 after 45 yr at -1
    rate = {c: draw(st.integers(-4, 8)) / 4 for c in CLASSES}
    return codes, n_dates, years, density, rate


@SETTINGS
@given(stable_land())
def test_gain_loss_with_rates_equals_stock_difference_with_year_densities(case):
    codes, n_dates, years, density, rate = case
    static = "class_code,pool,central\n" + "".join(
        f"{c},{pool},{density[c] if pool == 'above' else 0}\n" for c in CLASSES for pool in POOLS
    )
    growth = "class_code,pool,rate_mg_per_ha_yr\n" + "".join(
        f"{c},above,{rate[c]}\n" for c in CLASSES
    )
    # the equivalent inventory: density + rate x years since the first date, at every date
    yearly = (
        "class_code,pool,central,year\n"
        + "".join(
            f"{c},above,{density[c] + rate[c] * (year - years[0])},{year}\n"
            for c in CLASSES
            for year in years
        )
        + "".join(f"{c},{pool},0,\n" for c in CLASSES for pool in POOLS[1:])
    )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a").mkdir()
        (Path(tmp) / "b").mkdir()
        gain_loss = _run(Path(tmp) / "a", [codes] * n_dates, years, static, growth)
        stock_difference = _run(Path(tmp) / "b", [codes] * n_dates, years, yearly)
    for column in ("net_change_mg", "growth_remaining_total_mg", "stock_end_mg"):
        np.testing.assert_allclose(
            gain_loss.change[column], stock_difference.change[column], atol=1e-6
        )
    np.testing.assert_allclose(
        gain_loss.series["stock_total_mg"], stock_difference.series["stock_total_mg"], atol=1e-6
    )


@st.composite
def histories(draw):
    n_dates = draw(st.integers(3, 6))
    shape = (draw(st.integers(2, 6)), draw(st.integers(2, 6)))
    first = np.array(
        draw(st.lists(st.sampled_from(CLASSES), min_size=shape[0] * shape[1],
                      max_size=shape[0] * shape[1])),
    ).reshape(shape)  # fmt: skip
    maps = [first]
    for _ in range(n_dates - 1):
        flips = np.array(
            draw(st.lists(st.booleans(), min_size=first.size, max_size=first.size))
        ).reshape(shape)
        other = np.array(
            draw(st.lists(st.sampled_from(CLASSES), min_size=first.size, max_size=first.size))
        ).reshape(shape)
        maps.append(
            np.where(flips & (np.arange(first.size).reshape(shape) % 3 == 0), other, maps[-1])
        )
    steps = draw(st.lists(st.integers(1, 12), min_size=n_dates - 1, max_size=n_dates - 1))
    years = [2000 + int(s) for s in np.concatenate([[0], np.cumsum(steps)])]
    soil_years = draw(st.sampled_from([0, 5, 20]))
    return maps, years, soil_years


DENSITIES = "class_code,pool,central\n" + "".join(
    f"{c},{pool},{value}\n"
    for c, values in zip(CLASSES, ([40, 10, 3, 90], [5, 1, 0, 60], [1, 0, 0, 30]), strict=True)
    for pool, value in zip(POOLS, values, strict=True)
)
GROWTH = (
    "class_code,pool,rate_mg_per_ha_yr,age_min,age_max\n"
    "1,above,2,0,15\n1,above,0.5,15,\n1,below,0.4,0,\n2,soil,-0.2,0,10\n"
)


@SETTINGS
@given(histories())
def test_the_decomposition_closes_and_periods_add_up(case):
    maps, years, soil_years = case
    with tempfile.TemporaryDirectory() as tmp:
        result = _run(Path(tmp), maps, years, DENSITIES, GROWTH, soil_transition_years=soil_years)
    change = result.change
    for pool in POOLS:
        parts = sum(change[f"{name}_{pool}_mg"] for name in COMPONENTS if name != "soil_legacy") + (
            change["soil_legacy_mg"] if pool == "soil" else 0
        )
        np.testing.assert_allclose(parts, change[f"change_{pool}_mg"], atol=1e-9)
    np.testing.assert_allclose(
        change["stock_end_mg"] - change["stock_start_mg"], change["net_change_mg"], atol=1e-9
    )
    consecutive = change[change["years"] < years[-1] - years[0]]
    whole = change[change["years"] == years[-1] - years[0]]
    assert whole["net_change_mg"].sum() == pytest.approx(consecutive["net_change_mg"].sum())
    series = result.series.set_index("year")["stock_total_mg"]
    # every pixel is valid on every date: the stocks move exactly by the net change
    assert series[years[-1]] - series[years[0]] == pytest.approx(whole["net_change_mg"].sum())
    assert whole["gross_gain_mg"].sum() - whole["gross_loss_mg"].sum() == pytest.approx(
        whole["net_change_mg"].sum()
    )


@SETTINGS
@given(histories(), st.tuples(st.integers(1, 4), st.integers(1, 4)))
def test_blocks_of_any_shape_give_the_same_tables(case, block_shape):
    maps, years, soil_years = case
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a").mkdir()
        (Path(tmp) / "b").mkdir()
        whole = _run(
            Path(tmp) / "a", maps, years, DENSITIES, GROWTH, soil_transition_years=soil_years
        )
        parts = _run(
            Path(tmp) / "b", maps, years, DENSITIES, GROWTH,
            soil_transition_years=soil_years, block_shape=block_shape, threads=2,
        )  # fmt: skip
    numeric = whole.change.select_dtypes("number").columns
    np.testing.assert_allclose(whole.change[numeric], parts.change[numeric], atol=1e-9)
