"""Remote land cover: URLs, STAC items, and a province read out of a national COG by window.

A local HTTP server (:mod:`range_server`: HEAD, single and multiple byte ranges, bytes counted
per path) serves a "national" COG made from the real MODIS IGBP 2019 raster of China, upsampled
four times (5040 x 4080 pixels of 0.0125 deg, 256 x 256 DEFLATE tiles). A Zhejiang run over
``http://127.0.0.1:PORT/national.tif`` must give the local file's tables while fetching only
the tiles of the blocks around Zhejiang.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import pandas as pd
import pytest
import rasterio
import rasterio.windows
from national_cog import TILE, box_window, upsampled, write
from range_server import RangeServer, serve

from geocarbon.cli import main
from geocarbon.errors import InputFileError
from geocarbon.inputs.landcover import open_landcover
from geocarbon.inputs.remote import remote_name, remote_reading
from geocarbon.runs.change import ChangeConfig, run_change
from geocarbon.runs.zonal import ZonalConfig, run_zonal

from conftest import IN_CI, SHARED_DATA

MODIS = SHARED_DATA / "landcover" / "modis_mcd12c1_china"
PROVINCES = SHARED_DATA / "boundaries" / "china_provinces.geojson"
UPSAMPLE = 4
ZHEJIANG = 330000
#: What a zonal run of Zhejiang needs besides the land cover (as the other MODIS tests run it).
RUN: dict[str, Any] = dict(
    densities="china-clcd", scheme="modis-igbp", id_field="adcode", progress=False
)


# -- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://example.org/lc/2020.tif", "/vsicurl/https://example.org/lc/2020.tif"),
        ("http://127.0.0.1:8000/a.tif?x=1", "/vsicurl/http://127.0.0.1:8000/a.tif?x=1"),
        ("https:/example.org/lc/2020.tif", "/vsicurl/https://example.org/lc/2020.tif"),  # folded
        ("s3://bucket/lc/2020.tif", "/vsis3/bucket/lc/2020.tif"),
        ("s3:/bucket/lc/2020.tif", "/vsis3/bucket/lc/2020.tif"),
        ("gs://bucket/lc.tif", "/vsigs/bucket/lc.tif"),
        ("/vsicurl/https://example.org/a.tif", None),  # GDAL's own name: opened as given
        ("rasters/clcd_2020.tif", None),
        ("C:/data/lc.tif", None),  # a Windows drive, not a URL scheme
        ("ftp://example.org/a.tif", None),
    ],
)
def test_remote_name_maps_urls_to_gdal_virtual_paths(given, expected):
    assert remote_name(given) == expected
    assert remote_name(str(Path(given))) == expected  # as pathlib folds it in a config


def test_remote_reading_sets_gdal_options_only_for_remote_rasters():
    from rasterio.env import get_gdal_config

    with remote_reading("/vsicurl/http://example.org/a.tif"):
        assert get_gdal_config("GDAL_DISABLE_READDIR_ON_OPEN") == "EMPTY_DIR"
        assert get_gdal_config("GDAL_HTTP_MERGE_CONSECUTIVE_RANGES") == "YES"
    with remote_reading("/data/a.tif"):
        assert get_gdal_config("GDAL_DISABLE_READDIR_ON_OPEN") is None


# -- the national COG and its server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def national(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MODIS IGBP 2019 over China upsampled x4 by nearest neighbour (each pixel a 4 x 4 square),
    a COG with 256 x 256 DEFLATE tiles; ``changed.tif`` beside it is a second date in which a
    square of Zhejiang became urban (IGBP 13)."""
    rasters = list(MODIS.glob("*.tif")) if MODIS.is_dir() else []
    if not rasters:
        if IN_CI:
            pytest.fail(f"{MODIS} is missing in CI; the real-data tests must run there.")
        pytest.skip(f"{MODIS} not present")
    folder = tmp_path_factory.mktemp("served")
    codes, profile = upsampled(rasters[0], UPSAMPLE)
    write(folder / "national.tif", codes, profile)
    row, col = rasterio.transform.rowcol(profile["transform"], 120.0, 29.5)  # inland Zhejiang
    codes[row : row + 40, col : col + 40] = 13
    write(folder / "changed.tif", codes, profile)
    return folder


@pytest.fixture(scope="module")
def server(national: Path) -> Iterator[RangeServer]:
    with serve(national) as running:
        yield running


@pytest.fixture
def served(server: RangeServer) -> RangeServer:
    """The server with its counters at zero."""
    server.served.reset()
    return server


@pytest.fixture(scope="module")
def zhejiang() -> gpd.GeoDataFrame:
    provinces = gpd.read_file(PROVINCES)
    return provinces[provinces["adcode"] == ZHEJIANG].reset_index(drop=True)


def fresh_url(server: RangeServer, name: str) -> str:
    """A URL of ``name`` that GDAL has never read: GDAL caches what it fetched per URL for the
    life of the process, so each test counts bytes on a new name (a hard link) of the file."""
    folder = server.folder
    alias = f"{Path(name).stem}-{next(_ALIASES)}{Path(name).suffix}"
    os.link(folder / name, folder / alias)
    return f"{server.url}/{alias}"


_ALIASES = itertools.count()


def bytes_fetched(server: RangeServer, url: str) -> int:
    return server.served.bytes_by_path[urlsplit(url).path]


def fetch_bound(tif: Path, regions: gpd.GeoDataFrame) -> float:
    """The most a pass over ``regions`` should fetch of ``tif``, worked out from the regions
    alone (not from what the pass says it read): the full-resolution tiles meeting their bounding
    box widened by a pixel; GDAL's /vsicurl/ reads whole 16 KB chunks, so the chunks holding those
    tiles, half again for merged ranges and read-ahead, plus 64 KB for the header (IFDs and tile
    index) read at open."""
    offsets, sizes, tiles_across = tile_index(tif)
    window = box_window(tif, regions)
    row0, col0 = window.row_off, window.col_off
    row1, col1 = row0 + window.height, col0 + window.width
    chunks: set[int] = set()
    for tile_row in range(row0 // TILE, math.ceil(row1 / TILE)):
        for tile_col in range(col0 // TILE, math.ceil(col1 / TILE)):
            tile = tile_row * tiles_across + tile_col
            first, last = offsets[tile], offsets[tile] + max(sizes[tile], 1) - 1
            chunks.update(range(first // CHUNK, last // CHUNK + 1))
    return 1.5 * CHUNK * len(chunks) + 64 * 1024


#: GDAL's /vsicurl/ reads in chunks of this many bytes (CPL_VSIL_CURL_CHUNK_SIZE's default).
CHUNK = 16384


def tile_index(tif: Path) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """The full-resolution tiles' byte offsets and sizes (the first IFD of a little-endian
    classic TIFF, which GDAL writes for a small COG), and tiles per row."""
    data = tif.read_bytes()
    assert data[:4] == b"II*\x00", "a little-endian classic TIFF"
    (ifd,) = struct.unpack_from("<I", data, 4)
    (n_tags,) = struct.unpack_from("<H", data, ifd)
    values: dict[int, tuple[int, ...]] = {}
    for index in range(n_tags):
        entry = ifd + 2 + 12 * index
        tag, kind, count, value = struct.unpack_from("<HHII", data, entry)
        item = {3: "H", 4: "I"}.get(kind)
        if item is None:
            continue
        where = entry + 8 if count * struct.calcsize(item) <= 4 else value
        values[tag] = struct.unpack_from(f"<{count}{item}", data, where)
    width, tile_width = values[256][0], values[322][0]
    return values[324], values[325], math.ceil(width / tile_width)


def regions_frame(result) -> pd.DataFrame:
    return pd.DataFrame(result.regions.drop(columns="geometry"))


# -- a province out of the national COG, over HTTP -------------------------------------------------


def test_zhejiang_over_http_equals_the_local_file_and_fetches_only_its_windows(
    national, served, zhejiang
):
    url = fresh_url(served, "national.tif")
    remote = run_zonal(ZonalConfig(landcover=url, regions=zhejiang, **RUN))
    local = run_zonal(ZonalConfig(landcover=national / "national.tif", regions=zhejiang, **RUN))
    pd.testing.assert_frame_equal(regions_frame(remote), regions_frame(local), check_exact=True)
    pd.testing.assert_frame_equal(remote.by_class, local.by_class, check_exact=True)
    assert local.regions.loc[0, "region_area_ha"] > 9e6  # Zhejiang is ~10.5 Mha: the run counted it
    assert remote.summary["landcover"] == f"/vsicurl/{url}"

    summary = remote.summary
    assert summary["blocks_read"] < summary["blocks_total"]
    assert summary["pixels_outside_extent"] > 0.9 * 5040 * 4080
    fetched = bytes_fetched(served, url)
    size = (national / "national.tif").stat().st_size
    bound = fetch_bound(national / "national.tif", zhejiang)
    assert 0 < fetched < bound, (fetched, bound, size)
    assert fetched < 0.1 * size, (fetched, size)


def test_zhejiang_on_the_local_national_cog_reads_only_its_blocks(national, zhejiang):
    result = run_zonal(
        ZonalConfig(
            landcover=national / "national.tif", regions=zhejiang, block_shape=(256, 256), **RUN
        )
    )
    summary = result.summary
    # Zhejiang spans lon 118.03-122.95, lat 27.04-31.18: columns 3602-3996 and rows 1825-2157
    # of 0.0125 deg pixels from (73, 54), i.e. tile columns 14-15 and tile rows 7-8: 4 tiles.
    assert (summary["blocks_read"], summary["blocks_total"]) == (4, 20 * 16)
    assert summary["pixels_outside_extent"] > 5040 * 4080 - 4 * 256 * 256


def test_change_over_http_reads_only_zhejiang_windows(national, served, zhejiang):
    options = dict(
        years=(2019, 2020),
        regions=zhejiang,
        write_rasters=False,
        monte_carlo=None,
        **RUN,
    )
    names = ("national.tif", "changed.tif")
    urls = tuple(fresh_url(served, name) for name in names)
    remote = run_change(ChangeConfig(landcovers=urls, **options))
    local = run_change(ChangeConfig(landcovers=tuple(national / n for n in names), **options))
    pd.testing.assert_frame_equal(regions_frame(remote), regions_frame(local), check_exact=True)
    # The 40 x 40 px square turned urban; a pixel of 0.0125 deg at 29.5 N is ~168.5 ha
    # (1.392 km x 1.211 km), so at most 1600 x 168.5 ha changed (less the urban ones already).
    changed_ha = remote.regions.loc[remote.regions["region_id"] == ZHEJIANG, "changed_area_ha"]
    assert 0.5 * 1600 * 168.5 < changed_ha.sum() < 1600 * 169
    assert remote.summary["blocks_read"] < remote.summary["blocks_total"]
    for name, url in zip(names, urls, strict=True):
        fetched = bytes_fetched(served, url)
        bound = fetch_bound(national / name, zhejiang)
        assert 0 < fetched < bound, (name, fetched, bound)
        assert fetched < 0.1 * (national / name).stat().st_size


# -- STAC items ----------------------------------------------------------------------------------


def stac_item(assets: dict) -> dict:
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "modis-2019",
        "geometry": None,
        "properties": {"datetime": "2019-01-01T00:00:00Z"},
        "links": [],
        "assets": assets,
    }


COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


def test_stac_item_file_with_an_http_asset(national, served, zhejiang, tmp_path):
    url = fresh_url(served, "national.tif")
    item = tmp_path / "item.json"
    item.write_text(
        json.dumps(
            stac_item(
                {
                    "thumbnail": {"href": "thumb.png", "type": "image/png", "roles": ["thumbnail"]},
                    "landcover": {"href": url, "type": COG_TYPE},
                }
            )
        )
    )
    assert remote_name(str(item)) == f"/vsicurl/{url}"
    result = run_zonal(ZonalConfig(landcover=item, regions=zhejiang, **RUN))
    local = run_zonal(ZonalConfig(landcover=national / "national.tif", regions=zhejiang, **RUN))
    pd.testing.assert_frame_equal(regions_frame(result), regions_frame(local), check_exact=True)
    assert 0 < bytes_fetched(served, url) < 0.1 * (national / "national.tif").stat().st_size


def test_stac_item_over_http_with_a_relative_href(national, served):
    (national / "items").mkdir(exist_ok=True)
    (national / "items" / "modis.json").write_text(
        json.dumps(
            stac_item(
                {
                    "lc": {"href": "../national.tif", "type": COG_TYPE, "roles": ["data"]},
                    "lc_changed": {"href": "../changed.tif", "type": COG_TYPE},
                }
            )
        )
    )
    url = f"{served.url}/items/modis.json"
    assert remote_name(url) == f"/vsicurl/{served.url}/national.tif"  # the one "data" asset
    assert remote_name(f"{url}#lc_changed") == f"/vsicurl/{served.url}/changed.tif"
    source = open_landcover(Path(f"{url}#lc_changed"))  # pathlib folds "//": still the item
    assert source.grid.shape == (1020 * UPSAMPLE, 1260 * UPSAMPLE)
    assert source.label == f"/vsicurl/{served.url}/changed.tif"
    assert served.served.requests_by_path["/items/modis.json"] == 3


def test_stac_asset_key_that_is_not_there_lists_the_assets(tmp_path):
    item = tmp_path / "item.json"
    bands = {"b1": {"href": "b1.tif", "type": COG_TYPE}, "b2": {"href": "b2.tif", "type": COG_TYPE}}
    item.write_text(json.dumps(stac_item(bands)))
    with pytest.raises(InputFileError) as error:
        open_landcover(f"{item}#landcover")
    message = str(error.value)
    assert "\n" not in message
    assert "'landcover'" in message and "b1, b2" in message and f"{item}#b1" in message
    with pytest.raises(InputFileError, match=r"several data or GeoTIFF assets.*b1, b2.*#KEY"):
        open_landcover(item)  # both are equally likely: the user must pick
    (tmp_path / "untyped.json").write_text(json.dumps(stac_item({"a": {"href": "a.bin"}})))
    with pytest.raises(InputFileError, match=r"no data or GeoTIFF assets \(assets: a\)"):
        open_landcover(tmp_path / "untyped.json")
    (tmp_path / "plain.json").write_text('{"type": "FeatureCollection"}')
    with pytest.raises(InputFileError, match=r"is not a STAC item.*#b1"):
        open_landcover(f"{tmp_path / 'plain.json'}#b1")


def test_broken_or_empty_stac_items_say_so(tmp_path, national, served):
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "Feature", "stac_version": "1.0.0", "assets": {')
    with pytest.raises(InputFileError, match=r"broken\.json' is not valid JSON \(") as error:
        open_landcover(f"{broken}#lc")
    assert "\n" not in str(error.value)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(stac_item({})))
    with pytest.raises(InputFileError, match=r"has no assets; the item is incomplete") as error:
        open_landcover(empty)
    assert "#data" not in str(error.value)  # no asset to suggest
    # A raster URL with a #fragment is sniffed, not downloaded whole to look for an item.
    url = fresh_url(served, "national.tif")
    with pytest.raises(InputFileError, match="is not a STAC item"):
        open_landcover(f"{url}#lc")
    assert bytes_fetched(served, url) < 64 * 1024, bytes_fetched(served, url)


def test_a_vsi_href_of_a_remote_item_is_kept(tmp_path, served):
    href = "/vsis3/bucket/lc.tif"
    (served.folder / "vsi-item.json").write_text(
        json.dumps(stac_item({"lc": {"href": href, "type": COG_TYPE}}))
    )
    assert remote_name(f"{served.url}/vsi-item.json#lc") == href  # not joined onto the URL


def test_stac_item_with_a_local_relative_asset(tmp_path, landcover_tif):
    item = tmp_path / "items" / "item.json"
    item.parent.mkdir()
    item.write_text(
        json.dumps(stac_item({"data": {"href": "../landcover.tif", "roles": ["data"]}}))
    )
    assert remote_name(str(item)) == str(landcover_tif)
    assert open_landcover(item).grid.shape == (4, 4)


# -- errors and the command line -------------------------------------------------------------------


def test_missing_url_is_one_line_naming_it(served):
    url = f"{served.url}/no-such-file.tif"
    with pytest.raises(InputFileError) as error:
        open_landcover(url)
    message = str(error.value)
    assert url in message and "\n" not in message and "Traceback" not in message
    with pytest.raises(
        InputFileError, match=r"STAC item .*missing\.json.* cannot be fetched: HTTP 404"
    ):
        open_landcover(f"{served.url}/missing.json")


def test_cli_zonal_reads_a_url(national, served, zhejiang, tmp_path, capsys):
    regions = tmp_path / "zhejiang.geojson"
    zhejiang.to_file(regions)
    out = tmp_path / "out"
    url = fresh_url(served, "national.tif")
    code = main(
        [
            "zonal",
            url,
            "--regions",
            str(regions),
            "--id-field",
            "adcode",
            "--name-field",
            "name_en",
            "--densities",
            "china-clcd",
            "--scheme",
            "modis-igbp",
            "-o",
            str(out),
            "-q",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    table = pd.read_csv(out / "regions.csv")
    assert table.loc[0, "region_name"] == "Zhejiang" and table.loc[0, "valid_area_ha"] > 9e6
    summary = json.loads((out / "zonal_summary.json").read_text())
    assert summary["blocks_read"] < summary["blocks_total"]
    size = (national / "national.tif").stat().st_size
    assert 0 < bytes_fetched(served, url) < 0.1 * size
