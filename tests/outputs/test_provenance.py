"""Provenance tags inside the COGs a run writes, and the QGIS styles beside them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rio_cogeo.cogeo import cog_validate

from geocarbon._version import __version__
from geocarbon.blocks import iter_blocks
from geocarbon.grid import GridSpec
from geocarbon.outputs.provenance import RunProvenance, raster_tags
from geocarbon.outputs.rasters import RasterSetWriter, cogs_from_chunks, to_cogs
from geocarbon.outputs.staging import StagedOutputs

# 600 x 700 pixels of 100 m: more than one 512-pixel tile, so the COGs have overviews.
GRID = GridSpec("EPSG:3035", Affine(100.0, 0.0, 4_321_000.0, 0.0, -100.0, 3_210_000.0), 600, 700)


def density_table(folder: Path) -> Path:
    path = folder / "densities.csv"
    path.write_text("class_code,name,above\n1,Forest,120.5\n2,Cropland,5\n", "utf-8")
    return path


def write_rasters(
    folder: Path, bands: dict[Path, tuple[str, str]], provenance: RunProvenance, **kwargs
) -> None:
    """Constant bands (1.5, -2.0, ...) written as runs write them: blocks, then COGs."""
    stack = np.stack(
        [np.full(GRID.shape, (-1) ** i * (1.5 + i), np.float32) for i in range(len(bands))]
    )
    with StagedOutputs(list(bands), overwrite=False) as staged:
        writer = RasterSetWriter(staged, GRID, bands, provenance=provenance, **kwargs)
        try:
            for block in iter_blocks(GRID.shape, (256, 256)):
                writer.write(block, np.ascontiguousarray(stack[(slice(None), *block.slices)]))
            to_cogs(writer.finish(), threads=2)
        finally:
            writer.close()


def test_stock_cogs_carry_version_pool_unit_table_hash_scheme_and_area_method(tmp_path):
    table = density_table(tmp_path)
    provenance = RunProvenance.of(str(table), scheme="esa_cci", area_method="geodesic")
    bands = {
        tmp_path / "density_soil_mg_per_ha.tif": ("carbon density, soil pool", "Mg C/ha"),
        tmp_path / "density_total_mg_per_ha.tif": ("carbon density, all pools", "Mg C/ha"),
    }
    write_rasters(tmp_path, bands, provenance)
    for path, (description, units) in bands.items():
        assert cog_validate(path)[0], path.name
        with rasterio.open(path) as dataset:
            tags = dataset.tags()
            assert dataset.descriptions == (description,)  # kept as before
            assert dataset.units == (units,)
        assert tags["geocarbon_version"] == __version__
        assert tags["units"] == "Mg C/ha"
        assert tags["run"] == "stock"
        assert tags["density_table"] == str(table)
        assert tags["density_table_sha256"] == hashlib.sha256(table.read_bytes()).hexdigest()
        assert tags["scheme"] == "esa_cci"
        assert tags["area_method"] == "geodesic"
    with rasterio.open(tmp_path / "density_soil_mg_per_ha.tif") as dataset:
        assert dataset.tags()["pool"] == dataset.tags()["band"] == "soil"


def test_change_cogs_carry_their_date_or_period_on_streamed_overviews(tmp_path):
    provenance = RunProvenance.of("ipcc_tier1", scheme=None, area_method="planar")
    bands = {
        tmp_path / "density_2000_total_mg_per_ha.tif": ("carbon density 2000, total", "Mg C/ha"),
        tmp_path / "change_2000-2020_soil_mg_per_ha.tif": (
            "carbon density change 2000-2020, soil",
            "Mg C/ha",
        ),
    }
    write_rasters(tmp_path, bands, provenance, block_shape=(256, 256))
    with rasterio.open(tmp_path / "density_2000_total_mg_per_ha.tif") as dataset:
        dated = dataset.tags()
        assert dataset.overviews(1)  # the streamed overviews went through a tagged VRT
    with rasterio.open(tmp_path / "change_2000-2020_soil_mg_per_ha.tif") as dataset:
        change = dataset.tags()
    assert (dated["year"], dated["band"], dated["run"]) == ("2000", "total", "change")
    assert (change["period"], change["band"]) == ("2000-2020", "soil")
    # a built-in table has no file to hash, and no scheme was given: neither tag is invented
    assert change["density_table"] == "ipcc_tier1"
    assert "density_table_sha256" not in change and "scheme" not in change
    assert all(cog_validate(path)[0] for path in bands)


def test_mosaicked_chunks_are_tagged_like_streamed_rasters(tmp_path):
    chunks = tmp_path / "chunks"
    chunks.mkdir()
    chunk = chunks / "chunk.tif"
    profile = dict(driver="GTiff", dtype="float32", count=1, crs=GRID.crs, nodata=float("nan"))
    with rasterio.open(
        chunk, "w", transform=GRID.transform, height=GRID.height, width=GRID.width, **profile
    ) as dataset:
        dataset.write(np.full((1, *GRID.shape), 3.0, np.float32))
    final = tmp_path / "density_total_mg_per_ha.tif"
    bands = {final: ("carbon density, all pools", "Mg C/ha")}
    provenance = RunProvenance.of("", scheme="corine", area_method="auto")
    with StagedOutputs([final], overwrite=False) as staged:
        cogs_from_chunks(staged, bands, [[chunk]], provenance=provenance)
    with rasterio.open(final) as dataset:
        tags = dataset.tags()
    assert cog_validate(final)[0]
    assert (tags["band"], tags["scheme"], tags["area_method"]) == ("total", "corine", "auto")
    assert tags["geocarbon_version"] == __version__


def test_tags_of_a_name_no_run_declares_keep_version_and_unit_only():
    tags = raster_tags(Path("elsewhere.tif"), "a map", "Mg C/ha")
    assert tags == {"geocarbon_version": __version__, "description": "a map", "units": "Mg C/ha"}
