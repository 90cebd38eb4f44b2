"""Land cover as a folder or list of tiles: read as one mosaic, never merged on disk."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from geocarbon.errors import RasterFormatError
from geocarbon.inputs.landcover import open_landcover
from geocarbon.runs.zonal import ZonalConfig, run_zonal


def split(source, folder, cuts_rows, cuts_cols):
    """Cut a GeoTIFF into tiles of uneven sizes (as CLCD and WorldCover ship), files in ``folder``."""
    folder.mkdir()
    with rasterio.open(source) as dataset:
        data, profile, transform = dataset.read(1), dataset.profile, dataset.transform
    tiles = []
    for r0, r1 in zip(cuts_rows[:-1], cuts_rows[1:], strict=True):
        for c0, c1 in zip(cuts_cols[:-1], cuts_cols[1:], strict=True):
            tile_profile = dict(
                profile,
                height=r1 - r0,
                width=c1 - c0,
                transform=transform * Affine.translation(c0, r0),
            )
            path = folder / f"tile_{r0}_{c0}.tif"
            with rasterio.open(path, "w", **tile_profile) as out:
                out.write(data[r0:r1, c0:c1], 1)
            tiles.append(path)
    return tiles


def test_folder_of_tiles_equals_the_whole_raster(tmp_path, sample):
    tiles = split(sample.landcover[1], tmp_path / "tiles", [0, 250, 600], [0, 333, 512, 800])
    options = dict(
        regions=sample.regions, densities="china-clcd", id_field="adcode", progress=False
    )
    whole = run_zonal(ZonalConfig(landcover=sample.landcover[1], **options))
    folder = run_zonal(ZonalConfig(landcover=open_landcover(tmp_path / "tiles"), **options))
    listed = run_zonal(ZonalConfig(landcover=open_landcover(list(reversed(tiles))), **options))
    for mosaic in (folder, listed):
        np.testing.assert_array_equal(mosaic.by_class["pixel_count"], whole.by_class["pixel_count"])
        np.testing.assert_allclose(
            mosaic.regions["stock_total_mg"], whole.regions["stock_total_mg"], rtol=1e-12
        )
    assert not list((tmp_path / "tiles").glob("*.vrt"))  # nothing written beside the inputs


def test_tiles_off_the_grid_are_refused_by_name(tmp_path, sample):
    tiles = split(sample.landcover[1], tmp_path / "tiles", [0, 300, 600], [0, 800])
    with rasterio.open(tiles[1], "r+") as dataset:
        t = dataset.transform
        dataset.transform = Affine(t.a, 0, t.c + t.a / 3, 0, t.e, t.f)
    with pytest.raises(RasterFormatError, match=r"tile_300_0.tif.*off the first tile's pixel grid"):
        open_landcover(tmp_path / "tiles")


def test_empty_folder(tmp_path):
    from geocarbon.errors import InputFileError

    (tmp_path / "none").mkdir()
    with pytest.raises(InputFileError, match="no .tif"):
        open_landcover(tmp_path / "none")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"crs": "EPSG:3857"}, "CRS EPSG:3857 instead of"),
        ({"transform": "half"}, "pixel size"),
        ({"dtype": "int16"}, "dtype/nodata int16"),
        ({"count": 2}, "2 bands"),
        ({"crs": None}, "has no CRS"),
    ],
)
def test_a_tile_unlike_the_others_is_named(tmp_path, change, expected):
    from tests.conftest import LANDCOVER_4X4, ONE_HA_TRANSFORM, write_raster

    folder = tmp_path / "tiles"
    folder.mkdir()
    write_raster(folder / "a.tif", LANDCOVER_4X4)
    transform = ONE_HA_TRANSFORM * Affine.translation(4, 0)
    array = LANDCOVER_4X4.astype(change.get("dtype", "uint8"))
    if change.get("count") == 2:
        array = np.stack([array, array])
    if change.get("transform") == "half":
        transform = transform * Affine.scale(0.5)
    crs = change.get("crs", "EPSG:3035")
    write_raster(folder / "odd one.tif", array, transform=transform, crs=crs)
    with pytest.raises(RasterFormatError, match=rf"odd one.tif.*{expected}"):
        open_landcover(folder)
