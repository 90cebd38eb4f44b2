"""The sink walk (growth, age, soil legacy across dates) against its pixel-by-pixel reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from geocarbon.accounts.sink import period_flows
from geocarbon.accounts.sink_model import build_sink_state
from geocarbon.blocks import Block
from geocarbon.inputs.densities import CarbonTable
from geocarbon.inputs.growth import GrowthTable

from reference import sink_reference

N_CLASSES = 3  # bins 0..2 are classes, 3 is nodata


def _table(density):
    return CarbonTable(
        "t", np.arange(1, N_CLASSES + 1), ("a", "b", "c"), np.repeat(density[:, :, None], 3, 2)
    )


def _growth(rows):
    """rows: (class code, pool, age_min, age_max, rate)."""
    if not rows:
        return None
    return GrowthTable(
        "g",
        None,
        ("",) * len(rows),
        np.array([r[0] for r in rows], np.int64),
        np.array([r[1] for r in rows], np.int8),
        np.array([r[2] for r in rows], float),
        np.array([r[3] for r in rows], float),
        np.repeat(np.array([[r[4]] for r in rows], float), 3, axis=1),
    )


def _reference_growth(rows):
    by_bin = {}
    for code, pool, low, high, rate in rows:
        by_bin.setdefault(code - 1, []).append((pool, low, high, rate))
    return [by_bin]


@st.composite
def histories(draw):
    n_dates = draw(st.integers(2, 5))
    height, width = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    bins = np.array(
        draw(
            st.lists(
                st.sampled_from([0, 0, 1, 2, 3]),
                min_size=n_dates * height * width,
                max_size=n_dates * height * width,
            )
        ),
        np.uint8,
    ).reshape(n_dates, height, width)
    if draw(st.booleans()):  # mostly stable land, as real series are
        bins[1:] = np.where(draw(st.booleans()), bins[0], bins[1:])
    steps = draw(st.lists(st.integers(1, 12), min_size=n_dates - 1, max_size=n_dates - 1))
    years = tuple(int(y) for y in 2000 + np.concatenate([[0], np.cumsum(steps)]))
    density = np.array(
        draw(st.lists(st.integers(0, 120), min_size=N_CLASSES * 4, max_size=N_CLASSES * 4)),
        float,
    ).reshape(N_CLASSES, 4)
    rows = []
    for code in draw(st.lists(st.integers(1, N_CLASSES), max_size=3, unique=True)):
        pool = draw(st.sampled_from([0, 1, 3]))
        split = draw(st.integers(1, 30))
        rows.append((code, pool, 0.0, float(split), draw(st.integers(-1, 4)) / 2))
        rows.append((code, pool, float(split), np.inf, draw(st.integers(-1, 4)) / 2))
    soil_years = float(draw(st.sampled_from([0, 3, 20])))
    ages = (
        np.array(
            draw(st.lists(st.integers(-1, 40), min_size=height * width, max_size=height * width)),
            np.float32,
        ).reshape(height, width)
        if draw(st.booleans())
        else None
    )
    initial_age = draw(st.sampled_from([None, 0.0, 5.0]))
    zone = np.array(
        draw(st.lists(st.integers(0, 1), min_size=height * width, max_size=height * width)),
        np.int32,
    ).reshape(height, width)
    area = 1.0 + np.arange(height * width, dtype=float).reshape(height, width) / 10
    return bins, years, density, rows, soil_years, ages, initial_age, zone, area


class _Ages:
    def __init__(self, ages):
        self.ages = ages

    def read(self, block):
        return self.ages[block.slices]


@settings(max_examples=600, deadline=None)
@given(histories())
def test_walk_equals_the_pixel_by_pixel_reference(case):
    bins, years, density, rows, soil_years, ages, initial_age, zone, area = case
    table, growth = _table(density), _growth(rows)
    state, segments = build_sink_state(
        table=table,
        growth=growth,
        years=years,
        region_ids=("A", "B"),
        n_rows=2,
        unknown_as_valid=False,
        soil_years=soil_years,
        initial_age=initial_age,
        category=np.array([0, 1, 2], np.int8),
        ages=None if ages is None else _Ages(ages),
    )
    totals = state.empty(2, N_CLASSES + 2)
    block = Block(0, 0, bins.shape[1], bins.shape[2])

    class Zones:  # one layer of whole pixels, the rows the reference uses
        layers = (zone,)
        boundary_rows = np.empty(0, np.int64)

    state.walk(bins, block, Zones, -1, area, totals)
    model = {
        "years": years,
        "density": state.density_mg_per_ha,
        "density_group": state.density_group,
        "growth": _reference_growth(rows),
        "growth_group": state.growth_group,
        "soil_years": soil_years,
        "initial_age": state.initial_age,
        "category": state.category,
        "n_valid": N_CLASSES,
    }
    no_ages = np.full(zone.shape, np.nan) if ages is None else np.where(ages >= 0, ages, np.nan)
    expected = sink_reference(bins, zone, area, no_ages, model)
    n_periods = len(years) - 1
    rates = segments.rates(growth)
    for k in range(n_periods):
        flows = period_flows(totals, rates, k)
        for kind, name in enumerate(
            ("conversion", "growth_remaining", "growth_converted", "soil_legacy")
        ):
            rows_present = expected["components"].shape[0]
            np.testing.assert_allclose(
                flows.components[name][:rows_present],
                expected["components"][:, k, kind],
                atol=1e-9,
                err_msg=name,
            )
    rows_present = expected["gain_loss"].shape[0]
    np.testing.assert_allclose(totals.gain_loss_mg[:rows_present], expected["gain_loss"], atol=1e-9)
    np.testing.assert_allclose(
        totals.start_stock_mg[:rows_present], expected["start_stock"], atol=1e-9
    )
    np.testing.assert_allclose(
        totals.date_stock_mg[:rows_present], expected["date_stock"], atol=1e-9
    )
    np.testing.assert_allclose(totals.categories[:rows_present], expected["categories"], atol=1e-9)
