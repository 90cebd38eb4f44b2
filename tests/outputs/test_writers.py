"""COG writing: the user's creation options (``--co``), valid COGs, streamed overviews."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from rio_cogeo.cogeo import cog_validate

from geocarbon.blocks import iter_blocks
from geocarbon.errors import ConfigError
from geocarbon.grid import GridSpec
from geocarbon.outputs.creation_options import (
    DEFAULT_CREATION_OPTIONS,
    cog_creation_options,
    parse_creation_options,
)
from geocarbon.outputs.rasters import RasterSetWriter, to_cogs
from geocarbon.outputs.staging import StagedOutputs

# Sides halve evenly down to the last overview with 512- and 256-pixel tiles: GDAL's COG driver
# sizes overviews by rounding down, geocarbon's streamed ones round up (equal on these sides).
GRID = GridSpec("EPSG:3035", Affine(100.0, 0.0, 4_321_000.0, 0.0, -100.0, 3_210_000.0), 1088, 1280)
BANDS = (("carbon density, total", "Mg C/ha"), ("carbon density, soil", "Mg C/ha"))


def densities(seed: int = 3) -> np.ndarray:
    """Two piecewise-constant float32 bands like density maps: 40 x 40 patches of 5 classes,
    single NaN pixels and a NaN border (nodata)."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 5, (GRID.height // 40 + 1, GRID.width // 40 + 1))
    codes = np.kron(classes, np.ones((40, 40), int))[: GRID.height, : GRID.width]
    table = np.array([[np.nan, 12.5, 80.25, 3.0, 151.0], [np.nan, 7.0, 60.5, 1.25, 99.0]])
    stack = table[:, codes].astype(np.float32)
    stack[:, rng.random(GRID.shape) < 0.01] = np.nan
    stack[:, :7], stack[:, :, -3:] = np.nan, np.nan
    return stack


def write_cogs(
    folder: Path,
    stack: np.ndarray,
    *,
    block_shape: tuple[int, int] = (512, 512),
    creation_options: dict[str, str] | None = None,
    threads: int = 2,
) -> list[Path]:
    """The stack's bands as COGs in ``folder``, written as runs write them (blocks, then COGs)."""
    labels = (
        BANDS if len(stack) == len(BANDS) else [(f"band {i}", "Mg C/ha") for i in range(len(stack))]
    )
    finals = {folder / f"band_{i}.tif": label for i, label in enumerate(labels)}
    with StagedOutputs(list(finals), overwrite=False) as staged:
        writer = RasterSetWriter(
            staged,
            GRID,
            finals,
            block_shape=block_shape,
            creation_options=creation_options,
            threads=threads,
        )
        try:
            for block in iter_blocks(GRID.shape, block_shape):
                writer.write(block, np.ascontiguousarray(stack[(slice(None), *block.slices)]))
            to_cogs(writer.finish(), threads=2, creation_options=creation_options)
        finally:
            writer.close()
    return list(finals)


def gdal_cogs(folder: Path, stack: np.ndarray, **options: str) -> list[Path]:
    """The stack's bands written by GDAL's COG driver from memory, with ``options``."""
    folder.mkdir()
    profile = dict(driver="MEM", dtype="float32", count=1, height=GRID.height, width=GRID.width)
    profile |= dict(crs=GRID.crs, transform=GRID.transform, nodata=np.nan)
    paths = []
    for index, band in enumerate(stack):
        with rasterio.open("memory", "w", **profile) as memory:
            memory.write(band, 1)
            paths.append(folder / f"band_{index}.tif")
            rasterio.shutil.copy(memory, paths[-1], driver="COG", **options)
    return paths


def assert_same_overviews(ours: Path, gdals: Path) -> None:
    with rasterio.open(ours) as a, rasterio.open(gdals) as b:
        assert a.overviews(1) == b.overviews(1) and a.overviews(1)
        levels = len(a.overviews(1))
    for level in range(levels):
        with (
            rasterio.open(ours, overview_level=level) as a,
            rasterio.open(gdals, overview_level=level) as b,
        ):
            np.testing.assert_allclose(a.read(1), b.read(1), rtol=1e-6, equal_nan=True)


def full_resolution_bytes(path: Path) -> int:
    """Compressed bytes of the full-resolution tiles (GDAL's TIFF BLOCK_SIZE_x_y items)."""
    with rasterio.open(path) as dataset:
        rows, cols = dataset.block_shapes[0]
        return sum(
            int(dataset.get_tag_item(f"BLOCK_SIZE_{x}_{y}", "TIFF", bidx=1))
            for y in range(-(-dataset.height // rows))
            for x in range(-(-dataset.width // cols))
        )


def structure(path: Path) -> dict[str, str]:
    with rasterio.open(path) as dataset:
        return dataset.tags(ns="IMAGE_STRUCTURE")


def test_default_cogs_are_deflate_without_predictor_valid_and_overviews_equal_gdals(tmp_path):
    stack = densities()
    ours = write_cogs(tmp_path / "ours", stack)
    gdals = gdal_cogs(tmp_path / "gdal", stack, **DEFAULT_CREATION_OPTIONS)
    for path, reference, band in zip(ours, gdals, stack, strict=True):
        assert structure(path)["COMPRESSION"] == "DEFLATE"
        assert "PREDICTOR" not in structure(path)
        valid, errors, _ = cog_validate(path)
        assert valid, errors
        with rasterio.open(path) as dataset:
            np.testing.assert_array_equal(dataset.read(1), band)
            assert dataset.block_shapes == [(512, 512)]
        assert_same_overviews(path, reference)


def test_zstd_level_and_predictor_are_honoured(tmp_path):
    stack = densities()
    fast = write_cogs(tmp_path / "fast", stack, creation_options={"compress": "zstd"})
    options = {"Compress": "ZSTD", "level": "19", "PREDICTOR": "2", "blocksize": "256"}
    small = write_cogs(tmp_path / "small", stack, creation_options=options)
    for fast_path, small_path, band in zip(fast, small, stack, strict=True):
        assert structure(fast_path)["COMPRESSION"] == "ZSTD"
        assert structure(small_path)["COMPRESSION"] == "ZSTD"
        assert structure(small_path)["PREDICTOR"] == "2"
        assert "PREDICTOR" not in structure(fast_path)
        # TIFF keeps no level: level 19 shows as GDAL's own level-19 tiles, smaller than level 1's
        gdal_options = dict(DEFAULT_CREATION_OPTIONS) | parse_creation_options(
            [f"{key}={value}" for key, value in options.items()]
        )
        reference = gdal_cogs(tmp_path / f"gdal_{fast_path.stem}", band[None], **gdal_options)[0]
        assert full_resolution_bytes(small_path) == full_resolution_bytes(reference)
        assert full_resolution_bytes(small_path) < 0.9 * full_resolution_bytes(fast_path)
        with rasterio.open(small_path) as dataset:
            np.testing.assert_array_equal(dataset.read(1), band)
            assert dataset.block_shapes == [(256, 256)]
        assert cog_validate(small_path)[0]
        # one more level with 256-pixel tiles, still streamed and equal to GDAL's
        assert_same_overviews(small_path, reference)


@pytest.mark.skipif("LERC_ZSTD" not in cog_creation_options()["COMPRESS"].values, reason="no LERC")
def test_lerc_zstd_with_max_error_is_within_it(tmp_path):
    stack = densities()
    options = parse_creation_options(["COMPRESS=LERC_ZSTD", "MAX_Z_ERROR=0.01"])
    paths = write_cogs(tmp_path / "lerc", stack, creation_options=options)
    with rasterio.open(paths[0]) as dataset:
        assert dataset.tags(ns="IMAGE_STRUCTURE")["COMPRESSION"] == "LERC_ZSTD"
        np.testing.assert_allclose(dataset.read(1), stack[0], atol=0.0101, equal_nan=True)
    assert cog_validate(paths[0])[0]


def test_nearest_overviews_are_gdals_not_streamed_means(tmp_path):
    """Streamed overviews are means: asked for another resampling, GDAL builds them."""
    stack = densities()
    options = {"OVERVIEW_RESAMPLING": "nearest"}
    ours = write_cogs(tmp_path / "ours", stack, creation_options=options)
    gdals = gdal_cogs(tmp_path / "gdal", stack, **(dict(DEFAULT_CREATION_OPTIONS) | options))
    assert_same_overviews(ours[0], gdals[0])
    with rasterio.open(ours[0], overview_level=0) as overview:
        picked = overview.read(1)
        assert np.isin(picked[~np.isnan(picked)], stack[0]).all()  # picked pixels, no means


def test_bands_written_on_threads_give_the_same_files(tmp_path):
    """Bands split over 2 or 4 writing threads (5 bands: uneven shares) give byte-identical COGs."""
    stack = np.concatenate([densities(3), densities(4), densities(5)[:1]])
    serial = write_cogs(tmp_path / "one", stack, threads=1)
    for threads in (2, 4):
        threaded = write_cogs(tmp_path / f"threads_{threads}", stack, threads=threads)
        for a, b in zip(serial, threaded, strict=True):
            assert a.read_bytes() == b.read_bytes()
    with rasterio.open(serial[4]) as last:
        np.testing.assert_array_equal(last.read(1), stack[4])


def test_user_options_override_defaults_case_insensitively():
    assert parse_creation_options(["compress=zstd", "Level=3", "predictor=floating_point"]) == {
        "COMPRESS": "ZSTD",
        "LEVEL": "3",
        "PREDICTOR": "FLOATING_POINT",
    }
    assert parse_creation_options([" num_threads = all_cpus "]) == {"NUM_THREADS": "ALL_CPUS"}


@pytest.mark.parametrize(
    ("items", "culprit", "says"),
    [
        (["COMPRESS"], "'COMPRESS'", "expected KEY=VALUE"),
        (["=ZSTD"], "'=ZSTD'", "expected KEY=VALUE"),
        (["COMPRESS="], "'COMPRESS='", "expected KEY=VALUE"),
        (["LEVEL=1", "COLOUR=red"], "'COLOUR=red'", "no option COLOUR"),
        (["COMPRESS=ZIP"], "'COMPRESS=ZIP'", "one of NONE, LZW"),
        (["COMPRESS=JPEG"], "'COMPRESS=JPEG'", "cannot hold float32"),
        (["OVERVIEW_COMPRESS=webp"], "'OVERVIEW_COMPRESS=WEBP'", "cannot hold float32"),
        (["COMPRESS=ZSTD", "LEVEL=23"], "'LEVEL=23'", "ZSTD takes LEVEL 1 to 22"),
        (["LEVEL=13"], "'LEVEL=13'", "DEFLATE takes LEVEL 1 to 12"),
        (["LEVEL=fast"], "'LEVEL=fast'", "LEVEL must be a whole number"),
        (["BLOCKSIZE=64"], "'BLOCKSIZE=64'", "whole number >= 128"),
        (["MAX_Z_ERROR=small"], "'MAX_Z_ERROR=small'", "must be a number"),
        (["SPARSE_OK=perhaps"], "'SPARSE_OK=perhaps'", "YES or NO"),
        (["NUM_THREADS=0"], "'NUM_THREADS=0'", "ALL_CPUS"),
        (["OVERVIEW_RESAMPLING=smooth"], "'OVERVIEW_RESAMPLING=smooth'", "one of NEAREST"),
        (["TARGET_SRS=EPSG:3857"], "'TARGET_SRS=EPSG:3857'", "off the run's grid"),
        (["TILING_SCHEME=GoogleMapsCompatible"], "TILING_SCHEME", "off the run's grid"),
    ],
)
def test_invalid_items_are_one_line_naming_the_item(items, culprit, says):
    with pytest.raises(ConfigError) as raised:
        parse_creation_options(items)
    message = str(raised.value)
    assert "\n" not in message
    assert culprit in message and says in message and "(--co)" in message
    if "KEY=VALUE" in says or "no option" in says or "off the run" in says:
        assert "valid keys: BIGTIFF, BLOCKSIZE, COMPRESS" in message
        assert "TARGET_SRS" not in message.split("valid keys:")[1]


def test_without_gdals_option_list_keys_are_still_checked(monkeypatch):
    """Where the running GDAL's list cannot be read, GDAL 3.10's keys are checked; a LEVEL that
    is not a number is still one line, not a ValueError from int()."""
    from geocarbon.outputs import creation_options

    monkeypatch.setattr(creation_options, "_driver_metadata", lambda driver, key: None)
    creation_options.cog_creation_options.cache_clear()
    try:
        # values go to GDAL as typed (GDAL takes them in any case)
        assert parse_creation_options(["compress=zstd", "level=3"]) == {
            "COMPRESS": "zstd",
            "LEVEL": "3",
        }
        for item in ("LEVEL=fast", "COLOUR=red", "COMPRESS=jpeg"):
            with pytest.raises(ConfigError, match=f"'{item}'"):
                parse_creation_options([item])
    finally:
        monkeypatch.undo()  # before the cache is refilled, for the tests after this one
        creation_options.cog_creation_options.cache_clear()
    assert cog_creation_options()["COMPRESS"].kind == "string-select"


def test_bad_options_fail_before_anything_is_written(tmp_path):
    stack = densities()
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="'COLOUR=red'"):
        write_cogs(out, stack, creation_options={"colour": "red"})
    assert list(out.iterdir()) == []
    source = write_cogs(tmp_path / "good", stack)[0]
    before = source.read_bytes()
    with pytest.raises(ConfigError, match="'LEVEL=0'"):
        to_cogs([(source, out / "copy.tif")], creation_options={"LEVEL": "0"})
    assert list(out.iterdir()) == [] and source.read_bytes() == before
