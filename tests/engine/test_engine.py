"""The one pixel pass against plain NumPy: every path of the block step, block-wise = whole-array,
zone sums + unassigned = total, rasters, and per-pixel state across dates (hypothesis)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import ndimage

from geocarbon.accounts.sink_model import build_sink_state
from geocarbon.blocks import Block
from geocarbon.engine import PassPlan, StreamOptions, run_pass
from geocarbon.engine.block import run_block
from geocarbon.engine.extent import region_pixel_boxes
from geocarbon.inputs.densities import CarbonTable
from geocarbon.inputs.growth import GrowthTable
from geocarbon.inputs.landcover import WindowReader

from builders import blockwise, build
from reference import classify_reference, densities_reference, histogram_reference

DTYPES = st.sampled_from(["uint8", "int8", "int16", "uint16", "int32"])
SIGNED = st.sampled_from(["int8", "int16", "int32"])


@st.composite
def passes(draw):
    """Dates of random codes (each its own dtype and nodata, with masks), a table, regions made
    of pixel-aligned rectangles (or none), pairs of dates and block shapes."""
    palette = draw(st.lists(st.integers(-50, 120), min_size=1, max_size=6, unique=True))
    shape = draw(st.tuples(st.integers(1, 12), st.integers(1, 14)))
    n_dates = draw(st.integers(1, 4))
    dates = []
    for _ in range(n_dates):
        dtype = np.dtype(draw(SIGNED if min(palette) < 0 else DTYPES))
        codes = draw(hnp.arrays(dtype, shape, elements=st.sampled_from(palette)))
        nodata = draw(st.one_of(st.none(), st.sampled_from(palette)))
        valid = draw(st.one_of(st.none(), hnp.arrays(np.bool_, shape)))
        dates.append((codes, nodata, valid))
    table_codes = np.array(
        draw(st.lists(st.sampled_from(palette), unique=True, max_size=len(palette))), np.int64
    )
    rectangles = draw(
        st.lists(
            st.tuples(
                st.integers(0, shape[0] - 1),
                st.integers(0, shape[1] - 1),
                st.integers(1, shape[0]),
                st.integers(1, shape[1]),
            ),
            max_size=3,
        )
    )
    pairs = [(k, k + 1) for k in range(n_dates - 1)]
    if n_dates > 2 and draw(st.booleans()):
        pairs.append((0, n_dates - 1))
    block_shape = draw(st.tuples(st.integers(1, 6), st.integers(1, 6)))
    return dates, table_codes, rectangles, tuple(pairs), block_shape


def reference(plan, dates, table_codes, zone_raster):
    """Histograms and raster bands of the whole pass by NumPy."""
    n_bins, n_rows = plan.n_bins, plan.n_rows
    area = np.ones(zone_raster.shape)  # 1-ha pixels
    bins = [classify_reference(codes, valid, table_codes, nodata) for codes, nodata, valid in dates]
    per_date = [histogram_reference(b, zone_raster, area, n_rows, n_bins) for b in bins]
    per_pair = [
        histogram_reference(bins[s] * n_bins + bins[e], zone_raster, area, n_rows, n_bins**2)
        for s, e in plan.pairs
    ]
    maps = plan.rasters
    bands = []
    if maps is not None:
        table = maps.density_by_bin.astype(np.float64)
        bands += [densities_reference(bins[d], maps.density_by_bin) for d in maps.dates]
        for k, constant in zip(maps.pairs, maps.npv_constants, strict=True):
            s, e = plan.pairs[k]
            change = densities_reference(bins[e], table) - densities_reference(bins[s], table)
            bands.append(change.astype(np.float32))
            if constant is not None:
                bands.append(bands[-1][-1:] * np.float32(constant))
    return per_date, per_pair, (np.concatenate(bands) if bands else None)


def check(totals, stitched, expected):
    per_date, per_pair, bands = expected
    for histogram, (area, count) in zip(totals.dates, per_date, strict=True):
        np.testing.assert_array_equal(histogram.pixel_count, count)
        np.testing.assert_allclose(histogram.area_ha, area, rtol=1e-12)
    for histogram, (area, count) in zip(totals.pairs, per_pair, strict=True):
        np.testing.assert_array_equal(histogram.pixel_count, count)
        np.testing.assert_allclose(histogram.area_ha, area, rtol=1e-12)
    if bands is not None:
        np.testing.assert_array_equal(stitched, bands)


@settings(max_examples=120)
@given(passes(), st.booleans())
def test_block_step_equals_numpy_on_every_path(case, rasters):
    """The fused run kernels and the general layer path, block by block, equal NumPy."""
    dates, table_codes, rectangles, pairs, block_shape = case
    plan, zone_raster = build(dates, table_codes, rectangles, pairs, rasters=rasters)
    expected = reference(plan, dates, table_codes, zone_raster)
    assert plan.on_runs
    check(*blockwise(plan, block_shape), expected)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PassPlan, "on_runs", property(lambda self: False))
        check(*blockwise(plan, block_shape), expected)


@settings(max_examples=60)
@given(passes())
def test_zone_sums_plus_unassigned_equal_the_total(case):
    """Every pixel of the regions' extent (the union of their pixel boxes) is in one row, and no
    other pixel is read; the extent holds every region pixel and its neighbours; the rows equal
    NumPy over the extent, and a pass in blocks equals one over the whole grid."""
    dates, table_codes, rectangles, pairs, block_shape = case
    plan, zone_raster = build(dates, table_codes, rectangles, pairs, rasters=False)
    output = run_pass(plan, StreamOptions(block_shape, threads=2, progress=False))
    whole = run_pass(plan, StreamOptions(plan.grid.shape, threads=1, progress=False)).totals
    totals = output.totals
    reading = totals.reading
    assert reading is not None
    read = np.zeros(plan.grid.shape, bool)
    boxes = [(0, 0, *plan.grid.shape)]
    if plan.zones is not None:
        boxes = region_pixel_boxes(plan.zones, plan.grid).tolist()
    for row0, col0, row1, col1 in boxes:
        read[row0:row1, col0:col1] = True
    if plan.zones is not None:
        in_region = zone_raster < plan.zones.n_regions
        assert read[ndimage.binary_dilation(in_region, np.ones((3, 3), bool))].all()
    assert reading.pixels_outside == (~read).sum()
    assert reading.area_outside_ha == pytest.approx((~read).sum(), rel=1e-12)
    for histogram, one_block in zip(
        totals.dates + totals.pairs, whole.dates + whole.pairs, strict=True
    ):
        assert histogram.pixel_count.sum() + reading.pixels_outside == plan.grid.n_pixels
        assert histogram.area_ha.sum() + reading.area_outside_ha == pytest.approx(
            plan.grid.n_pixels, rel=1e-12
        )
        np.testing.assert_array_equal(histogram.pixel_count, one_block.pixel_count)
        np.testing.assert_allclose(histogram.area_ha, one_block.area_ha, rtol=1e-12, atol=1e-12)
    # The rows equal NumPy over the pixels read: unread pixels go to a row past the last.
    zones_read = np.where(read, zone_raster, plan.n_rows)
    bins = [classify_reference(codes, valid, table_codes, nodata) for codes, nodata, valid in dates]
    n_bins = plan.n_bins
    for histogram, values, n_keys in [
        *((h, b, n_bins) for h, b in zip(totals.dates, bins, strict=True)),
        *(
            (h, bins[s] * n_bins + bins[e], n_bins**2)
            for h, (s, e) in zip(totals.pairs, plan.pairs, strict=True)
        ),
    ]:
        area, count = histogram_reference(values, zones_read, 1.0, plan.n_rows + 1, n_keys)
        np.testing.assert_array_equal(histogram.pixel_count, count[: plan.n_rows])
        np.testing.assert_allclose(histogram.area_ha, area[: plan.n_rows], rtol=1e-12)


def test_unknown_codes_of_every_date_are_counted_on_the_run_path():
    first = np.array([[1, 7], [2, 9]], np.uint8)
    second = np.array([[300, 1], [2, 2]], np.uint16)
    plan, _ = build([(first, None, None), (second, None, None)], np.array([1, 2]), [], ((0, 1),))
    totals, _ = blockwise(plan, (1, 1))
    assert totals.dates[0].unknown_codes(plan.lookups[0]) == {7: 1, 9: 1}
    assert totals.dates[1].unknown_codes(plan.lookups[1]) == {300: 1}


def _sink_state(plan, years, rng):
    growth = GrowthTable(
        "g", None, ("", "", ""),
        np.array([1, 1, 2]), np.array([0, 0, 3], np.int8),
        np.array([0.0, 15.0, 0.0]), np.array([15.0, np.inf, np.inf]),
        np.repeat(np.array([[2.0], [0.5], [-0.3]]), 3, axis=1),
    )  # fmt: skip
    state, _ = build_sink_state(
        table=CarbonTable(
            "t", np.array([1, 2, 3]), ("a", "b", "c"),
            np.repeat(rng.uniform(0, 90, (3, 4))[:, :, None], 3, 2),
        ),
        growth=growth,
        years=years,
        region_ids=plan.zones.ids if plan.zones is not None else (),
        n_rows=plan.n_rows,
        unknown_as_valid=False,
        soil_years=7.0,
        initial_age=3.0,
        category=np.array([0, 1, 2], np.int8),
    )  # fmt: skip
    return state


@pytest.mark.parametrize("on_runs", [True, False])
def test_state_across_dates_is_the_same_in_blocks_as_whole(on_runs):
    """The sink walk carries each pixel through every date inside one block: any block shape
    gives the same totals and the same per-pixel change and density bands."""
    rng = np.random.default_rng(4)
    dates = [(rng.choice([0, 1, 1, 2, 3], (9, 11)).astype(np.uint8), 0, None) for _ in range(5)]
    pairs = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 4))
    plan, _ = build(dates, np.array([1, 2, 3]), [(1, 1, 5, 6), (4, 3, 5, 8)], pairs)
    plan = replace(plan, state=_sink_state(plan, (2000, 2003, 2010, 2012, 2030), rng))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PassPlan, "on_runs", property(lambda self: on_runs))
        whole, whole_bands = blockwise(plan, (9, 11))
        parts, part_bands = blockwise(plan, (4, 3))
    np.testing.assert_array_equal(whole_bands, part_bands)
    assert np.isfinite(whole_bands).any() and (whole_bands != -7.0).all()
    for a, b in zip(whole.state.arrays(), parts.state.arrays(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)
    assert whole.state.exposure_ha_yr.sum() > 0 and whole.state.carbon_mg.any()


def test_one_block_and_many_blocks_write_the_same_rasters():
    rng = np.random.default_rng(1)
    dates = [(rng.integers(0, 5, (30, 40)).astype(np.uint8), 0, None) for _ in range(3)]
    plan, _ = build(dates, np.array([1, 2, 3, 4]), [(2, 3, 20, 25)], ((0, 1), (1, 2), (0, 2)))
    whole_totals, whole = blockwise(plan, (30, 40))
    parts_totals, parts = blockwise(plan, (7, 9))
    np.testing.assert_array_equal(whole, parts)
    for a, b in zip(
        whole_totals.dates + whole_totals.pairs,
        parts_totals.dates + parts_totals.pairs,
        strict=True,
    ):
        np.testing.assert_array_equal(a.pixel_count, b.pixel_count)


def test_block_outside_the_first_rows_reads_its_own_runs():
    """A block that starts below row 0 uses the runs of its own grid rows."""
    codes = np.arange(24, dtype=np.uint8).reshape(6, 4) % 3 + 1
    plan, zone_raster = build([(codes, None, None)], np.array([1, 2, 3]), [(3, 1, 3, 2)], ())
    readers = [WindowReader(source) for source in plan.sources]
    block = Block(3, 0, 3, 4)
    totals = run_block(plan, readers, block, map_rasters=False).totals
    area, count = histogram_reference(
        classify_reference(codes[3:], None, np.array([1, 2, 3]), None),
        zone_raster[3:],
        np.ones((3, 4)),
        plan.n_rows,
        plan.n_bins,
    )
    np.testing.assert_array_equal(totals.dates[0].pixel_count, count)


def test_raw_byte_path_counts_unknown_codes_and_equals_the_bins_path():
    """8-bit dates without masks are counted from their raw bytes (classification folded into
    the kernel's key tables): same histograms as the bins path, unknown codes of every date."""
    from geocarbon.engine import block as engine_block

    rng = np.random.default_rng(7)
    dates = [(rng.choice([0, 1, 2, 3, 9], (13, 17)).astype(np.uint8), 0, None) for _ in range(4)]
    dates.append((rng.choice([1, 2, 3, 200], (13, 17)).astype(np.int8), None, None))
    plan, zone_raster = build(
        dates, np.array([1, 2, 3]), [(1, 1, 8, 9)], ((0, 1), (1, 2), (2, 3), (3, 4), (0, 4)),
        rasters=False,
    )  # fmt: skip
    assert plan.raw_key_tables is not None
    expected = reference(plan, dates, np.array([1, 2, 3]), zone_raster)
    raw_totals, stitched = blockwise(plan, (5, 6))
    check(raw_totals, stitched, expected)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine_block, "_raw_bytes", lambda plan, reads: False)
        bins_totals, _ = blockwise(plan, (5, 6))
    for date, lookup in enumerate(plan.lookups):
        raw_unknown = raw_totals.dates[date].unknown_codes(lookup)
        assert raw_unknown == bins_totals.dates[date].unknown_codes(lookup)
    assert raw_totals.dates[0].unknown_codes(plan.lookups[0]) == {9: int((dates[0][0] == 9).sum())}
    assert raw_totals.dates[4].unknown_codes(plan.lookups[4]) == {
        -56: int((dates[4][0] == -56).sum())
    }
