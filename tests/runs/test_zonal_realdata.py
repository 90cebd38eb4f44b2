"""Zonal statistics on real data, against independent tools used only here as oracles:
China's provinces over MODIS IGBP 2019 (0.05 degree, lon/lat)."""

from __future__ import annotations

import numpy as np
import pytest

from geocarbon.runs.zonal import ZonalConfig, run_zonal

from conftest import require

BIG_PROVINCE_KM2 = 50_000


@pytest.fixture
def modis_and_provinces(shared_data):
    shared = shared_data
    raster = next((shared / "landcover" / "modis_mcd12c1_china").glob("*.tif"))
    return raster, shared / "boundaries" / "china_provinces.geojson"


def run(raster, provinces, coverage):
    return run_zonal(
        ZonalConfig(
            landcover=raster,
            regions=provinces,
            densities="china-clcd",
            scheme="modis-igbp",
            id_field="adcode",
            name_field="name_en",
            coverage=coverage,
            progress=False,
            block_shape=(256, 512),
        )
    )


def class_counts(by_class, column):
    return {
        (row.region_id, int(row.class_code)): getattr(row, column)
        for row in by_class.itertuples()
        if row.region_id != "unassigned"
    }


def test_centre_counts_equal_rasterstats(modis_and_provinces):
    rasterstats = require("rasterstats")
    import geopandas as gpd

    raster, provinces = modis_and_provinces
    result = run(raster, provinces, "centre")
    ours = class_counts(result.by_class, "pixel_count")
    frame = gpd.read_file(provinces)
    stats = rasterstats.zonal_stats(
        frame, str(raster), categorical=True, all_touched=False, nodata=255
    )
    theirs = {
        (str(adcode), int(code)): count
        for adcode, counts in zip(frame["adcode"], stats, strict=True)
        for code, count in counts.items()
    }
    assert len(theirs) > 300
    assert ours == theirs


def test_exact_coverage_counts_agree_with_exactextract(modis_and_provinces):
    exactextract = require("exactextract")
    import geopandas as gpd

    raster, provinces = modis_and_provinces
    result = run(raster, provinces, "exact")
    ours = class_counts(result.by_class, "coverage_px")
    frame = gpd.read_file(provinces)
    with pytest.warns(
        RuntimeWarning
    ):  # exactextract notes Clarke 1866 vs WGS84; no shift is applied
        table = exactextract.exact_extract(
            str(raster),
            frame,
            ["unique", "frac", "count"],
            output="pandas",
            include_cols=["adcode", "area_km2_albers"],
        )
    compared = 0
    for row in table.itertuples():
        if row.area_km2_albers < BIG_PROVINCE_KM2:
            continue
        for code, frac in zip(row.unique, row.frac, strict=True):
            theirs = frac * row.count
            if theirs < 1.0:  # classes with under one pixel of coverage say little about agreement
                continue
            assert ours[(str(row.adcode), int(code))] == pytest.approx(theirs, rel=5e-3), (
                row.adcode,
                code,
            )
            compared += 1
    assert compared > 100


def test_province_areas_match_their_polygons(modis_and_provinces):
    import geopandas as gpd

    raster, provinces = modis_and_provinces
    result = run(raster, provinces, "centre")
    # Region ids keep the id field's type (integers here); the unassigned row's id is text.
    frame = gpd.read_file(provinces).rename(columns={"area_km2_albers": "area_km2_albers_ref"})
    regions = result.regions[result.regions["region_id"] != "unassigned"]
    assert regions["region_id"].map(lambda value: isinstance(value, int)).all()
    merged = regions.astype({"region_id": "int64"}).merge(
        frame[["adcode", "area_km2_albers_ref"]], left_on="region_id", right_on="adcode"
    )
    big = merged[merged["area_km2_albers_ref"] > BIG_PROVINCE_KM2]
    assert len(big) >= 25
    ratio = big["covered_area_ha"] / (big["area_km2_albers_ref"] * 100.0)
    assert np.all(np.abs(ratio - 1.0) < 0.02), big.loc[
        np.abs(ratio - 1) >= 0.02, ["region_id", "covered_area_ha"]
    ]
    # and the polygons' own geodesic areas agree with the Albers areas far more closely
    geodesic = big["region_area_ha"] / (big["area_km2_albers_ref"] * 100.0)
    assert np.all(np.abs(geodesic - 1.0) < 1e-3)


def test_closure_regions_plus_unassigned_equal_raster(modis_and_provinces):
    raster, provinces = modis_and_provinces
    result = run(raster, provinces, "centre")
    area, summary = result.summary["area_ha"], result.summary
    # Pixels outside the provinces' bounding boxes are never read; the rest is in some row.
    not_read = summary.get("area_outside_extent_ha", 0.0)
    assert 0 < not_read < area["raster"] and summary["blocks_read"] <= summary["blocks_total"]
    assert area["regions_plus_unassigned"] + not_read == pytest.approx(area["raster"], rel=1e-9)
    assert result.summary["overlapping_regions"] == []
