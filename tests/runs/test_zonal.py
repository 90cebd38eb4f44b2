"""Zonal statistics by hand on a 4x4 raster of 1-ha pixels, and its properties."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from geocarbon import zonal_stocks
from geocarbon.inputs.densities import CarbonTable
from geocarbon.runs.zonal import ZonalConfig, run_zonal

from builders import box, table
from conftest import EQUAL_AREA_CRS, LANDCOVER_4X4, ONE_HA_TRANSFORM


def regions(*geometries, ids=None, parents=None):
    ids = ids or [f"R{k}" for k in range(len(geometries))]
    frame = {"code": ids, "label": [f"Region {i}" for i in ids]}
    if parents:
        frame["parent"] = parents
    return gpd.GeoDataFrame(frame, geometry=list(geometries), crs=EQUAL_AREA_CRS)


def run(frame, *, array=LANDCOVER_4X4, densities=None, **options):
    return zonal_stocks(
        array,
        frame,
        densities or table(),
        id_field="code",
        name_field="label",
        transform=ONE_HA_TRANSFORM,
        crs=EQUAL_AREA_CRS,
        nodata=255,
        progress=False,
        **options,
    ).set_index("region_id")


def test_two_halves_by_hand():
    # left half: classes 1,1,1,1,3,3,3,3 -> 4 x 86 + 4 x 8 = 376 Mg C on 8 ha
    # right half: 2,2,2,2,2 + 1,1 + one nodata -> 5 x 28 + 2 x 86 = 312 Mg C on 7 ha
    result = run(regions(box(0, 0, 2, 4), box(2, 0, 4, 4)))
    assert result.loc["R0", "stock_total_mg"] == pytest.approx(376.0)
    assert result.loc["R1", "stock_total_mg"] == pytest.approx(312.0)
    assert result.loc["R0", "valid_area_ha"] == pytest.approx(8.0)
    assert result.loc["R1", "valid_area_ha"] == pytest.approx(7.0)
    assert result.loc["R1", "nodata_area_ha"] == pytest.approx(1.0)
    assert result.loc["R1", "class_2_area_ha"] == pytest.approx(5.0)
    assert result.loc["R0", "density_mean_mg_per_ha"] == pytest.approx(47.0)  # 376 / 8
    assert result.loc["R1", "stock_total_tg"] == pytest.approx(312e-6)
    assert result.loc["unassigned", "covered_area_ha"] == 0.0
    assert result.loc["R0", "region_area_ha"] == pytest.approx(
        8.0, rel=1e-3
    )  # its own polygon area


def test_exact_mode_splits_a_boundary_pixel():
    # the boundary at column 1.5 halves column 1 (classes 1, 1, 3, 3) between the two regions:
    # left = col 0 (1,1,3,3) + half col 1 -> class 1: 2 + 1 = 3 ha, class 3: 3 ha -> 3 x 86 + 3 x 8 = 282
    result = run(regions(box(0, 0, 1.5, 4), box(1.5, 0, 4, 4)), coverage="exact")
    assert result.loc["R0", "class_1_area_ha"] == pytest.approx(3.0)
    assert result.loc["R0", "class_3_area_ha"] == pytest.approx(3.0)
    assert result.loc["R0", "stock_total_mg"] == pytest.approx(282.0)
    assert result.loc["R1", "stock_total_mg"] == pytest.approx(688.0 - 282.0)
    assert result.loc["R0", "coverage_px"] == pytest.approx(6.0)
    assert result.loc["unassigned", "valid_area_ha"] == pytest.approx(0.0, abs=1e-12)


def test_centre_mode_gives_the_split_pixel_to_one_side():
    # pixel centres at 1.5 lie on the boundary: GDAL's rule gives them to exactly one region
    result = run(regions(box(0, 0, 1.5, 4), box(1.5, 0, 4, 4)))
    assert result.loc["R0", "pixel_count"] + result.loc["R1", "pixel_count"] == 15
    assert result.loc["R0", "pixel_count"] in (4, 8)


def test_partial_cover_goes_to_unassigned_and_closes():
    """Unassigned is the regions' extent (their bounding boxes, a pixel wider) outside them: the
    top half's extent reaches row 2 (3 valid pixels); row 3 is never read."""
    result = run(regions(box(0, 0, 4, 2)))  # top half only
    assert result.loc["R0", "valid_area_ha"] == pytest.approx(8.0)
    assert result.loc["unassigned", "valid_area_ha"] == pytest.approx(3.0)
    assert result["stock_total_mg"].sum() == pytest.approx(4 * 86 + 4 * 28 + 44)
    everything = run(regions(box(0, 0, 4, 2), box(0, 3, 4, 4)))  # row 2 between two regions
    assert everything.loc["unassigned", "valid_area_ha"] == pytest.approx(3.0)
    assert everything["stock_total_mg"].sum() == pytest.approx(688.0)


def test_region_without_pixels_is_listed_with_a_warning():
    far_away = box(100, 100, 101, 101)
    with pytest.warns(UserWarning, match=r"Region\(s\) R1 cover no pixel"):
        result = run(regions(box(0, 0, 4, 4), far_away))
    assert result.loc["R1", "covered_area_ha"] == 0.0
    assert result.loc["R1", "stock_total_mg"] == 0.0


def test_overlapping_regions_each_count_their_share():
    with pytest.warns(UserWarning, match="1 pair"):
        result = run(regions(box(0, 0, 4, 4), box(0, 0, 2, 4)))
    assert result.loc["R0", "stock_total_mg"] == pytest.approx(688.0)
    assert result.loc["R1", "stock_total_mg"] == pytest.approx(376.0)
    assert result.loc["unassigned", "covered_area_ha"] == 0.0


def test_all_touched_counts_shared_edge_pixels_in_both():
    # with the boundary at 1.5, column 1 is touched by both regions
    result = run(regions(box(0, 0, 1.5, 4), box(1.5, 0, 4, 4)), coverage="all-touched")
    assert result.loc["R0", "pixel_count"] == 8 and result.loc["R1", "pixel_count"] == 11


def test_region_specific_densities_fall_back_to_national():
    base = table()
    own = np.full_like(base.density_mg_per_ha, np.nan)
    own[0] = 100.0  # region R0 has its own class-1 row: 4 pools x 100 = 400 Mg C/ha
    regional = CarbonTable(
        base.source, base.codes, base.names, base.density_mg_per_ha, None, {"R0": own}
    )
    result = run(regions(box(0, 0, 2, 4), box(2, 0, 4, 4)), densities=regional)
    assert result.loc["R0", "stock_total_mg"] == pytest.approx(4 * 400 + 4 * 8)
    assert result.loc["R1", "stock_total_mg"] == pytest.approx(312.0)


def test_parents_roll_up_consistently():
    frame = regions(box(0, 0, 2, 2), box(2, 0, 4, 2), box(0, 2, 4, 4), parents=["P1", "P1", "P2"])
    result = run_zonal(
        ZonalConfig(
            landcover=_array_source(),
            regions=frame,
            densities=table(),
            id_field="code",
            parent_field="parent",
            progress=False,
        )
    )
    parents = result.parents.set_index("parent_id")
    children = result.regions.iloc[:-1].assign(parent=["P1", "P1", "P2"]).groupby("parent")
    for column in ("stock_total_mg", "valid_area_ha", "class_1_area_ha", "stock_soil_mg"):
        pd.testing.assert_series_equal(parents[column], children[column].sum(), check_names=False)
    assert parents.loc["P1", "n_regions"] == 2


def extent_mask(geometries, shape):
    """The pixels inside some geometry's bounding box widened by a pixel, on ONE_HA_TRANSFORM."""
    mask = np.zeros(shape, bool)
    inverse = ~ONE_HA_TRANSFORM
    for west, south, east, north in shapely.bounds(geometries).tolist():
        corners = [inverse @ (x, y) for x in (west, east) for y in (south, north)]
        cols, rows = zip(*corners, strict=True)
        mask[
            max(math.floor(min(rows)) - 1, 0) : max(math.ceil(max(rows)) + 1, 0),
            max(math.floor(min(cols)) - 1, 0) : max(math.ceil(max(cols)) + 1, 0),
        ] = True
    return mask


def _array_source():
    from geocarbon.inputs.landcover import landcover_from_array

    return landcover_from_array(
        LANDCOVER_4X4, transform=ONE_HA_TRANSFORM, crs=EQUAL_AREA_CRS, nodata=255
    )


@settings(max_examples=40)
@given(
    hnp.arrays(
        np.uint8,
        st.tuples(st.integers(2, 12), st.integers(2, 12)),
        elements=st.sampled_from([1, 2, 3, 255]),
    ),
    st.lists(
        st.tuples(st.floats(-2, 12), st.floats(-2, 12), st.floats(0.3, 8), st.floats(0.3, 8)),
        min_size=1,
        max_size=4,
    ),
    st.tuples(st.integers(1, 5), st.integers(1, 5)),
    st.sampled_from(["centre", "exact"]),
)
def test_zone_sums_plus_unassigned_equal_total_blockwise(array, rects, block_shape, coverage):
    """Regions plus unassigned are the regions' extent (the union of their pixel bounding boxes,
    a pixel wider), whatever the block shape; pixels outside it are never read."""
    geometries = [box(c, r, c + w, r + h) for c, r, w, h in rects]
    frame = regions(*geometries)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # overlaps and empty regions are expected here
        whole = run(frame, array=array, coverage=coverage)
        parts = run(frame, array=array, coverage=coverage, block_shape=block_shape)
    # block-wise equals whole-array
    np.testing.assert_allclose(
        parts["valid_area_ha"], whole["valid_area_ha"], rtol=1e-12, atol=1e-12
    )
    np.testing.assert_allclose(
        parts["stock_total_mg"], whole["stock_total_mg"], rtol=1e-12, atol=1e-9
    )
    # 1-ha pixels of the regions' extent: their boxes, a pixel wider (the rest is not read)
    extent = extent_mask(geometries, array.shape)
    valid_ha = float(np.isin(array[extent], [1, 2, 3]).sum())
    overlapping = any(
        shapely.intersection(a, b).area > 0
        for i, a in enumerate(geometries)
        for b in geometries[i + 1 :]
    )
    if not overlapping:
        assert whole["valid_area_ha"].sum() == pytest.approx(valid_ha, rel=1e-9, abs=1e-9)
        expected = sum(
            np.sum(array[extent] == code) * total for code, total in ((1, 86), (2, 28), (3, 8))
        )
        assert whole["stock_total_mg"].sum() == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_region_ids_of_the_table_that_match_no_region_warn():
    base = table()
    regional = CarbonTable(
        base.source,
        base.codes,
        base.names,
        base.density_mg_per_ha,
        None,
        {"ZZ": np.full_like(base.density_mg_per_ha, np.nan)},
    )
    with pytest.warns(UserWarning, match=r"region_id\(s\) ZZ, which match no region"):
        run(regions(box(0, 0, 4, 4)), densities=regional)


def test_unknown_codes_in_a_zonal_run_name_file_and_codes_and_write_nothing(
    raster_factory, tmp_path
):
    from geocarbon.errors import UnknownClassError

    path = raster_factory("lc.tif", np.array([[1, 42], [2, 3]], np.uint8))
    out = tmp_path / "zonal"
    with pytest.raises(UnknownClassError, match=r"42 \(1 px\) in .*lc.tif"):
        run_zonal(
            ZonalConfig(
                landcover=path,
                regions=regions(box(0, 0, 2, 2)),
                densities=table(),
                id_field="code",
                out_dir=out,
                progress=False,
            )
        )
    assert not out.exists() or not any(out.iterdir())
