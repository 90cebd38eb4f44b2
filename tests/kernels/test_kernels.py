"""Each numba kernel against its plain-NumPy reference (tests/reference.py), by hypothesis."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from geocarbon import kernels
from geocarbon.blocks import iter_blocks
from geocarbon.lookup import build_class_lookup, density_by_bin

from builders import blockwise, build
from reference import (
    classify_reference,
    densities_reference,
    halve_mean_reference,
    histogram_reference,
    unknown_counts_reference,
)

DTYPES = st.sampled_from(["uint8", "int8", "int16", "uint16", "int32"])


@st.composite
def landcover_cases(draw):
    """A random code raster, table codes, nodata, valid mask, pixel areas and zones."""
    dtype = np.dtype(draw(DTYPES))
    info = np.iinfo(dtype)
    palette = draw(
        st.lists(
            st.integers(max(info.min, -300), min(info.max, 300)),
            min_size=1,
            max_size=8,
            unique=True,
        )
    )
    shape = draw(st.tuples(st.integers(1, 13), st.integers(1, 13)))
    codes = draw(hnp.arrays(dtype, shape, elements=st.sampled_from(palette)))
    table_codes = np.array(
        draw(st.lists(st.sampled_from(palette), unique=True, max_size=len(palette))), np.int64
    )
    nodata = draw(st.one_of(st.none(), st.sampled_from(palette)))
    valid = draw(st.one_of(st.none(), hnp.arrays(np.bool_, shape)))
    pixel_area = draw(hnp.arrays(np.float64, shape, elements=st.floats(0.01, 100.0)))
    n_zones = draw(st.integers(1, 4))
    zones = draw(hnp.arrays(np.int32, shape, elements=st.integers(0, n_zones - 1)))
    block_shape = draw(st.tuples(st.integers(1, 7), st.integers(1, 7)))
    return codes, table_codes, nodata, valid, pixel_area, zones, n_zones, block_shape


def _classify(codes, valid, lookup, nodata):
    bins = np.empty(codes.shape, np.int32)
    unknown = np.zeros(len(lookup.class_index_by_code) + 1, np.int64)
    kernels.classify(
        codes,
        np.ones(codes.shape, bool) if valid is None else valid,
        lookup.class_index_by_code,
        lookup.code_offset,
        0 if nodata is None else nodata,
        nodata is not None,
        lookup.nodata_bin,
        lookup.unknown_bin,
        bins,
        unknown,
    )
    return bins, unknown


@settings(max_examples=150, deadline=None)
@given(landcover_cases())
def test_classify_matches_reference(case):
    codes, table_codes, nodata, valid, *_ = case
    before = codes.copy()
    lookup = build_class_lookup(table_codes, dtype=codes.dtype.name)
    bins, unknown = _classify(codes, valid, lookup, nodata)
    np.testing.assert_array_equal(bins, classify_reference(codes, valid, table_codes, nodata))
    plan, _ = build([(codes, nodata, valid)], table_codes, [], (), rasters=False)
    totals, _ = blockwise(plan, codes.shape)
    assert totals.dates[0].unknown_codes(plan.lookups[0]) == unknown_counts_reference(
        codes, valid, table_codes, nodata
    )
    np.testing.assert_array_equal(codes, before)  # inputs are not modified


@settings(max_examples=150, deadline=None)
@given(landcover_cases())
def test_accumulate_area_matches_bincount(case):
    codes, table_codes, nodata, valid, pixel_area, zones, n_zones, _ = case
    lookup = build_class_lookup(table_codes, dtype=codes.dtype.name)
    bins, _ = _classify(codes, valid, lookup, nodata)
    area = np.zeros((n_zones, lookup.n_bins))
    count = np.zeros((n_zones, lookup.n_bins), np.int64)
    kernels.accumulate_area(bins, zones, pixel_area, area, count)
    expected_area, expected_count = histogram_reference(
        bins, zones, pixel_area, n_zones, lookup.n_bins
    )
    np.testing.assert_allclose(area, expected_area, rtol=1e-12)
    np.testing.assert_array_equal(count, expected_count)
    # every pixel lands in exactly one zone and bin: zone sums equal the whole
    assert count.sum() == codes.size
    np.testing.assert_allclose(area.sum(), pixel_area.sum(), rtol=1e-12)


@settings(max_examples=100, deadline=None)
@given(landcover_cases(), st.booleans())
def test_densities_from_bins_matches_indexing(case, unknown_as_zero):
    codes, table_codes, nodata, valid, *_ = case
    lookup = build_class_lookup(table_codes, dtype=codes.dtype.name)
    bins, _ = _classify(codes, valid, lookup, nodata)
    rng = np.random.default_rng(len(table_codes))
    table = density_by_bin(
        rng.uniform(0, 200, (len(table_codes), 4)), unknown_as_zero=unknown_as_zero
    )
    out = np.empty((table.shape[1], *codes.shape), np.float32)
    kernels.densities_from_bins(bins, table, out)
    np.testing.assert_array_equal(out, densities_reference(bins, table))
    assert np.all(np.isnan(out[:, bins == lookup.nodata_bin]))


def test_nodata_value_that_is_also_a_table_code_is_nodata():
    # Nodata wins over a table row with the same code (InVEST's future map uses nodata 0).
    codes = np.array([[0, 1], [1, 0]], np.int8)
    lookup = build_class_lookup(np.array([0, 1]), dtype="int8")
    bins, _ = _classify(codes, None, lookup, 0)
    np.testing.assert_array_equal(bins, [[lookup.nodata_bin, 1], [1, lookup.nodata_bin]])


def test_codes_beyond_a_32bit_lookup_are_counted_as_unknown():
    codes = np.array([[5, 70_000, -4]], np.int32)
    lookup = build_class_lookup(np.array([5, 6]), dtype="int32")
    bins, unknown = _classify(codes, None, lookup, None)
    assert bins.tolist() == [[0, lookup.unknown_bin, lookup.unknown_bin]]
    assert unknown[-1] == 2
    plan, _ = build([(codes, None, None)], np.array([5, 6]), [], (), rasters=False)
    totals, _ = blockwise(plan, (1, 2))
    assert totals.dates[0].unknown_codes(plan.lookups[0]) == {-4: 1, 70_000: 1}


float_stacks = hnp.arrays(
    np.float32,
    st.tuples(st.integers(1, 3), st.integers(1, 21), st.integers(1, 21)),
    elements=st.one_of(st.just(np.nan), st.floats(-500, 500, width=32)),
)


@settings(max_examples=200, deadline=None)
@given(float_stacks)
def test_halve_mean_matches_numpy(stack):
    np.testing.assert_allclose(
        kernels.halve_mean(stack), halve_mean_reference(stack), rtol=1e-6, atol=1e-4
    )


@settings(max_examples=100, deadline=None)
@given(float_stacks, st.integers(1, 6), st.integers(1, 6))
def test_halve_mean_blockwise_equals_whole(stack, half_rows, half_cols):
    """Blocks starting on even pixels halve to the blocks of the halved whole (overviews are
    built block by block as the pass streams)."""
    whole = kernels.halve_mean(stack)
    stitched = np.full_like(whole, -1.0)
    for block in iter_blocks(stack.shape[1:], (2 * half_rows, 2 * half_cols)):
        rows, cols = block.slices
        part = kernels.halve_mean(np.ascontiguousarray(stack[:, rows, cols]))
        stitched[
            :,
            block.row_off // 2 : block.row_off // 2 + part.shape[1],
            block.col_off // 2 : block.col_off // 2 + part.shape[2],
        ] = part
    np.testing.assert_array_equal(stitched, whole)
