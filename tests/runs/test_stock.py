"""Whole stock runs on tiny GeoTIFFs with answers computed by hand, and the run's safety rules."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate

from geocarbon.errors import InputFileError, OutputExistsError, RasterFormatError, UnknownClassError
from geocarbon.outputs.spec import stock_outputs
from geocarbon.runs.stock import RASTER_NAMES, StockConfig, run_stock


def config(landcover, densities, out_dir, **options):
    return StockConfig(
        landcover=landcover, densities=densities, out_dir=out_dir, progress=False, **options
    )


def test_hand_computed_stocks(landcover_tif, pools_csv, tmp_path):
    out = tmp_path / "out"
    result = run_stock(config(landcover_tif, pools_csv, out))
    classes = result.classes.set_index("class_code")
    # 1-ha pixels: class 1 has 6 px x 86 = 516 Mg C; class 2 has 5 px x 28 = 140; class 3 has 4 px x 8 = 32.
    assert classes["pixel_count"].to_dict() == {1: 6, 2: 5, 3: 4}
    assert classes["area_ha"].to_dict() == pytest.approx({1: 6.0, 2: 5.0, 3: 4.0})
    assert classes["stock_total_mg"].to_dict() == pytest.approx({1: 516.0, 2: 140.0, 3: 32.0})
    # above-ground: 6 x 15 + 5 x 5 + 4 x 2 = 123 Mg C; soil: 6 x 60 + 5 x 20 + 4 x 5 = 480
    totals = result.summary["totals"]
    assert totals["stock_above_mg"] == pytest.approx(123.0)
    assert totals["stock_soil_mg"] == pytest.approx(480.0)
    assert totals["stock_total_mg"] == pytest.approx(688.0)
    assert result.summary["pixel_count"] == {"total": 16, "valid": 15, "unknown": 0, "nodata": 1}
    assert result.summary["area_method"] == "equal-area"
    csv = pd.read_csv(out / "stock_summary.csv")
    assert csv.iloc[-1]["class_name"] == "TOTAL" and csv.iloc[-1][
        "stock_total_mg"
    ] == pytest.approx(688.0)
    document = json.loads((out / "stock_summary.json").read_text())
    assert document["totals"]["stock_total_tg"] == pytest.approx(688e-6)


def test_density_rasters_are_valid_cogs_with_nan_nodata(landcover_tif, pools_csv, tmp_path):
    out = tmp_path / "out"
    run_stock(config(landcover_tif, pools_csv, out))
    for name in RASTER_NAMES:
        path = out / f"density_{name}_mg_per_ha.tif"
        valid, errors, _ = cog_validate(path)
        assert valid, errors
        with rasterio.open(path) as dataset:
            assert dataset.dtypes[0] == "float32" and np.isnan(dataset.nodata)
            assert dataset.profile["tiled"] and dataset.compression is not None
            band = dataset.read(1)
    with rasterio.open(out / "density_total_mg_per_ha.tif") as dataset:
        total = dataset.read(1)
    expected = np.array(
        [[86, 86, 28, 28], [86, 86, 28, 28], [8, 8, 28, np.nan], [8, 8, 86, 86]], np.float32
    )
    np.testing.assert_array_equal(total, expected)
    assert band.shape == (4, 4)


def test_cog_has_overviews_on_a_larger_raster(raster_factory, pools_csv, tmp_path):
    codes = np.tile(np.array([1, 2, 3], np.uint8), (1200, 400))
    path = raster_factory("big.tif", codes)
    run_stock(config(path, pools_csv, tmp_path / "out"))
    with rasterio.open(tmp_path / "out" / "density_total_mg_per_ha.tif") as dataset:
        assert dataset.overviews(1), "a 1200 x 1200 COG should carry overviews"
        assert dataset.block_shapes[0] == (512, 512)
    assert cog_validate(tmp_path / "out" / "density_total_mg_per_ha.tif")[0]


def test_streamed_overviews_equal_gdals(raster_factory, pools_csv, tmp_path):
    """Overviews averaged as blocks stream equal those GDAL's COG driver builds (which it does
    when odd blocks leave no whole overview pixels): same levels, same values, NaN included."""
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 4, (1100, 1300)).astype(np.uint8)  # 0 is nodata
    path = raster_factory("overviews.tif", codes, nodata=0)
    run_stock(config(path, pools_csv, tmp_path / "streamed", block_shape=(512, 512)))
    run_stock(config(path, pools_csv, tmp_path / "gdal", block_shape=(511, 1300)))
    name = "density_total_mg_per_ha.tif"
    with (
        rasterio.open(tmp_path / "streamed" / name) as ours,
        rasterio.open(tmp_path / "gdal" / name) as gdals,
    ):
        assert ours.overviews(1) == gdals.overviews(1) == [2, 4]
        for level in range(len(ours.overviews(1))):
            with (
                rasterio.open(tmp_path / "streamed" / name, overview_level=level) as a,
                rasterio.open(tmp_path / "gdal" / name, overview_level=level) as b,
            ):
                np.testing.assert_allclose(a.read(1), b.read(1), rtol=1e-6, equal_nan=True)
    assert cog_validate(tmp_path / "streamed" / name)[0]


@pytest.mark.parametrize("block_shape", [(1, 1), (3, 1), (1, 3), (3, 3), (4, 4)])
def test_blockwise_run_equals_whole(landcover_tif, pools_csv, tmp_path, block_shape):
    whole = run_stock(config(landcover_tif, pools_csv, tmp_path / "whole", block_shape=(4, 4)))
    parts = run_stock(
        config(landcover_tif, pools_csv, tmp_path / "parts", block_shape=block_shape, threads=2)
    )
    pd.testing.assert_frame_equal(whole.classes, parts.classes)
    with (
        rasterio.open(tmp_path / "whole" / "density_total_mg_per_ha.tif") as a,
        rasterio.open(tmp_path / "parts" / "density_total_mg_per_ha.tif") as b,
    ):
        np.testing.assert_array_equal(a.read(1), b.read(1))


def test_nodata_value_that_is_a_valid_output_number(raster_factory, pools_csv, tmp_path):
    # Nodata 28 equals class 2's total density: the output still tells them apart (NaN nodata).
    codes = np.array([[1, 28], [2, 28]], np.int16)
    path = raster_factory("lc.tif", codes, nodata=28)
    result = run_stock(config(path, pools_csv, tmp_path / "out"))
    assert result.summary["pixel_count"]["nodata"] == 2
    with rasterio.open(tmp_path / "out" / "density_total_mg_per_ha.tif") as dataset:
        total = dataset.read(1)
    assert total[0, 0] == 86 and total[1, 0] == 28 and np.isnan(total[:, 1]).all()


def test_internal_mask_is_nodata(tmp_path, pools_csv):
    path = tmp_path / "masked.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=2,
        width=2,
        count=1,
        dtype="uint8",
        crs="EPSG:3035",
        transform=rasterio.Affine(100, 0, 4321000, 0, -100, 3210000),
    ) as dataset:
        dataset.write(np.array([[1, 2], [3, 1]], np.uint8), 1)
        dataset.write_mask(np.array([[255, 0], [255, 255]], np.uint8))
    result = run_stock(config(path, pools_csv, tmp_path / "out", write_rasters=False))
    assert result.summary["pixel_count"]["nodata"] == 1
    assert result.summary["totals"]["stock_total_mg"] == pytest.approx(86 + 8 + 86)


# --- unknown codes ---------------------------------------------------------------------------


def test_unknown_codes_error_lists_codes_counts_and_file(raster_factory, pools_csv, tmp_path):
    codes = np.array([[1, 7, 7], [9, 2, 255]], np.uint8)
    path = raster_factory("lc_2020.tif", codes)
    out = tmp_path / "out"
    with pytest.raises(UnknownClassError) as info:
        run_stock(config(path, pools_csv, out))
    message = str(info.value)
    assert "7 (2 px)" in message and "9 (1 px)" in message
    assert "lc_2020.tif" in message and "pools.csv" in message and "--unknown" in message
    assert info.value.missing == {7: 2, 9: 1}
    assert not out.exists() or not any(out.iterdir()), "a failed run must leave nothing behind"


def test_unknown_zero_counts_them_as_valid_with_no_carbon(raster_factory, pools_csv, tmp_path):
    path = raster_factory("lc.tif", np.array([[1, 7], [7, 255]], np.uint8))
    result = run_stock(config(path, pools_csv, tmp_path / "out", unknown="zero"))
    assert result.summary["unknown_classes"] == [{"class_code": 7, "pixel_count": 2}]
    assert result.summary["pixel_count"]["valid"] == 3
    assert result.summary["totals"]["stock_total_mg"] == pytest.approx(86.0)
    with rasterio.open(tmp_path / "out" / "density_total_mg_per_ha.tif") as dataset:
        assert dataset.read(1)[0, 1] == 0.0


def test_unknown_nodata_excludes_and_counts_them(raster_factory, pools_csv, tmp_path):
    path = raster_factory("lc.tif", np.array([[1, 7], [7, 255]], np.uint8))
    result = run_stock(config(path, pools_csv, tmp_path / "out", unknown="nodata"))
    assert result.summary["pixel_count"] == {"total": 4, "valid": 1, "unknown": 2, "nodata": 1}
    with rasterio.open(tmp_path / "out" / "density_total_mg_per_ha.tif") as dataset:
        assert np.isnan(dataset.read(1)[0, 1])


# --- outputs are safe --------------------------------------------------------------------------


def test_existing_output_refused_and_named(landcover_tif, pools_csv, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "stock_summary.csv").write_text("precious")
    with pytest.raises(OutputExistsError, match=r"stock_summary.csv.*--overwrite"):
        run_stock(config(landcover_tif, pools_csv, out))
    assert (out / "stock_summary.csv").read_text() == "precious"
    run_stock(config(landcover_tif, pools_csv, out, overwrite=True))
    assert (out / "stock_summary.csv").read_text(encoding="utf-8-sig").startswith("class_code")


def test_failed_run_leaves_previous_outputs_and_no_temporaries(raster_factory, pools_csv, tmp_path):
    good = raster_factory("good.tif", np.array([[1, 2]], np.uint8))
    bad = raster_factory("bad.tif", np.array([[1, 42]], np.uint8))
    out = tmp_path / "out"
    run_stock(config(good, pools_csv, out))
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    with pytest.raises(UnknownClassError):
        run_stock(config(bad, pools_csv, out, overwrite=True))
    after = {path.name: path.read_bytes() for path in out.iterdir()}
    assert after == before, "a failed run must neither half-replace outputs nor leave temporaries"


def test_inputs_are_not_modified(landcover_tif, pools_csv, tmp_path):
    raster_bytes, table_bytes = landcover_tif.read_bytes(), pools_csv.read_bytes()
    run_stock(config(landcover_tif, pools_csv, tmp_path / "out"))
    assert landcover_tif.read_bytes() == raster_bytes and pools_csv.read_bytes() == table_bytes


def test_output_paths_named_with_units(tmp_path):
    names = {path.name for path in stock_outputs(tmp_path, rasters=True).values()}
    assert "density_total_mg_per_ha.tif" in names and "stock_summary.json" in names


# --- bad rasters --------------------------------------------------------------------------------


def test_missing_raster_named(pools_csv, tmp_path):
    with pytest.raises(InputFileError, match="absent.tif"):
        run_stock(config(tmp_path / "absent.tif", pools_csv, tmp_path / "out"))


def test_not_a_raster_named(pools_csv, tmp_path):
    path = tmp_path / "notes.tif"
    path.write_text("not a GeoTIFF")
    with pytest.raises(InputFileError, match="notes.tif.*cannot be opened"):
        run_stock(config(path, pools_csv, tmp_path / "out"))


def test_float_raster_refused(raster_factory, pools_csv, tmp_path):
    path = raster_factory("float.tif", np.ones((2, 2), np.float32), nodata=None)
    with pytest.raises(RasterFormatError, match=r"float.tif.*float32.*-ot Int16"):
        run_stock(config(path, pools_csv, tmp_path / "out"))


def test_multiband_raster_refused(raster_factory, pools_csv, tmp_path):
    path = raster_factory("rgb.tif", np.ones((3, 2, 2), np.uint8))
    with pytest.raises(RasterFormatError, match="rgb.tif.*3 bands"):
        run_stock(config(path, pools_csv, tmp_path / "out"))


def test_raster_without_crs_refused(raster_factory, pools_csv, tmp_path):
    path = raster_factory("nocrs.tif", np.ones((2, 2), np.uint8), crs=None)
    with pytest.raises(RasterFormatError, match="nocrs.tif.*no CRS"):
        run_stock(config(path, pools_csv, tmp_path / "out"))


def test_scratch_is_compressed_only_when_raw_would_crowd_the_disk(monkeypatch, tmp_path):
    from collections import namedtuple

    from geocarbon.outputs import rasters

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(rasters.shutil, "disk_usage", lambda _: usage(0, 0, 4 * 10**9))
    # 1e8 px x 5 bands x 4 B x 4/3 = 2.7 GB > a quarter of 4 GB free: compressed
    assert rasters.scratch_compressed(tmp_path, 10**8, 5)
    assert not rasters.scratch_compressed(tmp_path, 10**7, 5)  # 0.27 GB: raw
    monkeypatch.setattr(rasters, "RAW_SCRATCH_MAX_BYTES", 10**8)
    assert rasters.scratch_compressed(tmp_path, 10**7, 5)  # over the byte cap


def test_compressed_and_raw_scratch_give_the_same_cogs(
    monkeypatch, raster_factory, pools_csv, tmp_path
):
    from geocarbon.outputs import rasters

    codes = np.random.default_rng(5).integers(0, 4, (700, 900)).astype(np.uint8)
    path = raster_factory("scratch.tif", codes, nodata=0)
    run_stock(config(path, pools_csv, tmp_path / "raw"))
    monkeypatch.setattr(rasters, "RAW_SCRATCH_MAX_BYTES", 0)
    run_stock(config(path, pools_csv, tmp_path / "zstd"))
    for name in RASTER_NAMES:
        file = f"density_{name}_mg_per_ha.tif"
        assert cog_validate(tmp_path / "zstd" / file)[0]
        with (
            rasterio.open(tmp_path / "raw" / file) as a,
            rasterio.open(tmp_path / "zstd" / file) as b,
        ):
            assert a.overviews(1) == b.overviews(1) == [2]
            np.testing.assert_array_equal(a.read(1), b.read(1))
            np.testing.assert_array_equal(
                a.read(1, out_shape=(350, 450)), b.read(1, out_shape=(350, 450))
            )
