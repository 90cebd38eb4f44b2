"""Web maps: built from real outputs, checked in a real headless Chromium, overlays aligned.

The browser test serves the page and its Leaflet copy from 127.0.0.1 (fetched from the npm
registry by `geocarbon web-assets`, as .ci/run does); requests to any other host are aborted.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import quote

import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer

from geocarbon.api import stock_change
from geocarbon.cli import main
from geocarbon.errors import InputFileError, OutputExistsError
from geocarbon.inputs.densities import CarbonTable
from geocarbon.outputs.folder import MANIFEST_NAME, read_manifest
from geocarbon.web.assets import default_assets_dir, localize, required_packages, script_json
from geocarbon.web.map import empty_map_html, write_map
from geocarbon.web.overlays import mercator_overlay

from conftest import IN_CI, require

HOSTILE = "<script>alert(1)</script>"
# Template syntax in every text a user controls: none may be evaluated, all must show as typed
JINJA = "{{7*7}}"
STATEMENT = "{% if 1 %}x{% endif %}"
COMMENT = "{#"
PWN = "{{ cycler.__init__.__globals__.os.makedirs('PWNED') }}"
IMG = "<img src=x onerror=alert(2)>"
HOSTILE_NAMES = [f"{JINJA} county", f"{PWN} {HOSTILE}", f"=1+1 {STATEMENT} {COMMENT} {IMG}"]
HOSTILE_IDS = [JINJA, f"{COMMENT} {STATEMENT}", PWN]
HOSTILE_CLASSES = (f"Crop {JINJA}", f"Forest {STATEMENT}", f"Grass {COMMENT} {IMG}")
HOSTILE_FOLDER = f"results {JINJA} {STATEMENT} {COMMENT} {PWN} {IMG}"
HOSTILE_PERIOD = "{{7*7}}{#%"  # a raster named change_<period>_total_mg_per_ha.tif
HOSTILE_PAGE = "map {{7*7}} {# #?%'\"&"  # the page's name, and so its _files folder's
CHROMIUM = Path("/usr/bin/chromium")
# 0.002 degree pixels over a hilly corner of Zhejiang (synthetic classes)
TRANSFORM = Affine(0.002, 0, 119.6, 0, -0.002, 30.1)


def table(class_names: tuple[str, str, str]) -> CarbonTable:
    density = np.zeros((3, 4, 3))
    density[:, 3, :] = [[10, 10, 10], [90, 100, 110], [40, 50, 60]]
    return CarbonTable("web test", np.array([1, 2, 3]), class_names, density, "clcd")


def change_results(
    folder: Path,
    *,
    names: list[str],
    ids: list[str],
    class_names: tuple[str, str, str] = ("Crop", "Forest", "Grass"),
    out_name: str = "change",
) -> Path:
    """A change run (2000, 2020) over three regions with the given names, ids and class names."""
    rows, cols = np.mgrid[0:60, 0:90]
    start = np.where(cols < 30, 1, np.where(rows < 30, 2, 3)).astype(np.uint8)
    end = start.copy()
    end[10:25, 20:45] = 2  # afforestation straddling two regions
    end[40:55, 60:80] = 1  # grassland ploughed
    paths = []
    for name, array in (("lc_2000.tif", start), ("lc_2020.tif", end)):
        with rasterio.open(
            folder / name,
            "w",
            driver="GTiff",
            height=60,
            width=90,
            count=1,
            dtype="uint8",
            crs="EPSG:4326",
            transform=TRANSFORM,
            nodata=0,
        ) as dataset:
            dataset.write(array, 1)
        paths.append(folder / name)
    lon = lambda c: 119.6 + 0.002 * c  # noqa: E731
    lat = lambda r: 30.1 - 0.002 * r  # noqa: E731
    regions = gpd.GeoDataFrame(
        {"code": ids, "name": names},
        geometry=[
            shapely.box(lon(0), lat(60), lon(30), lat(0)),
            shapely.box(lon(30), lat(30), lon(90), lat(0)),
            shapely.box(lon(30), lat(60), lon(90), lat(30)),
        ],
        crs="EPSG:4326",
    )
    regions.to_file(folder / "regions.gpkg")
    out = folder / out_name
    stock_change(
        paths,
        [2000, 2020],
        table(class_names),
        regions=folder / "regions.gpkg",
        id_field="code",
        name_field="name",
        out_dir=out,
        progress=False,
        monte_carlo=None,
    )
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    return change_results(
        tmp_path_factory.mktemp("results"),
        names=["West county", HOSTILE, "South-east <b>county</b>"],
        ids=["W", "NE", "SE"],
    )


@pytest.fixture(scope="module")
def hostile_results(tmp_path_factory) -> Path:
    out = change_results(
        tmp_path_factory.mktemp("hostile"),
        names=HOSTILE_NAMES,
        ids=HOSTILE_IDS,
        class_names=HOSTILE_CLASSES,
        out_name=HOSTILE_FOLDER,
    )
    hostile = out / f"change_{HOSTILE_PERIOD}_total_mg_per_ha.tif"
    shutil.copy(out / "change_2000-2020_total_mg_per_ha.tif", hostile)
    list_in_manifest(out, hostile)  # only the files a run's manifest lists are drawn
    return out


def list_in_manifest(folder: Path, path: Path) -> None:
    """Record ``path`` in ``folder``'s manifest as a file its run wrote."""
    manifest = read_manifest(folder)
    assert manifest is not None
    manifest["files"].append({"name": path.name, "bytes": path.stat().st_size})
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest), encoding="utf-8")


def hostile_texts() -> list[str]:
    return [
        *HOSTILE_NAMES,
        *HOSTILE_CLASSES,
        f"geocarbon: {HOSTILE_FOLDER}",
        f"Density change {HOSTILE_PERIOD} (Mg C/ha)",
    ]


@pytest.fixture(scope="module")
def assets() -> Path:
    folder = default_assets_dir()
    if not all(
        (folder / "node_modules" / name / "package.json").exists()
        for name in required_packages(empty_map_html())
    ):
        if IN_CI:
            pytest.fail(f"web assets missing in {folder}: .ci/run must run `geocarbon web-assets`")
        pytest.skip(f"web assets not fetched into {folder} (run `geocarbon web-assets`)")
    return folder


def shown_layers(page: str) -> list[str]:
    """The labels of the layers a page opens with (from its JSON page text)."""
    pattern = r'\{"label": ("[^"]*"), "group": "[^"]*", "legend": \{[^{}]*\}, "shown": true'
    return [json.loads(label) for label in re.findall(pattern, page)]


def test_map_page_escapes_names_and_has_layers(results, tmp_path):
    page = write_map(results, tmp_path / "map.html").read_text(encoding="utf-8")
    assert HOSTILE not in page  # it travels only as JSON data, "<" and "/" escaped
    assert script_json(HOSTILE) in page
    # stocks of ~10^5 Mg show in Gg, one unit per quantity for its magnitude
    for layer in (
        "Stock at end (Gg C)",
        "Net change (Gg C)",
        "Annual net change (Gg C/yr)",  # ~3 x 10^3 Mg C/yr
        "Density change 2000-2020 (Mg C/ha)",
        "Land cover (clcd)",
        "OpenStreetMap",
        "Satellite",
    ):
        assert script_json(layer) in page, layer
    assert "<title>geocarbon map</title>" in page
    assert "path.leaflet-interactive:focus { outline: none; }" in page
    assert shown_layers(page) == ["Net change (Gg C)"]  # a change run opens on its net change
    assert (tmp_path / "map_files" / "overlay_change_2000-2020_total_mg_per_ha.png").exists()
    with pytest.raises(OutputExistsError, match="map.html"):
        write_map(results, tmp_path / "map.html")


def test_map_opens_on_the_regions_bounds_not_the_rasters(results, tmp_path):
    """With regions over part of the raster, the map is fitted to the regions."""
    from dataclasses import replace

    import folium

    from geocarbon.web.map import build_map, load_results

    inputs = load_results(results)
    assert inputs.regions is not None
    west_only = replace(inputs, regions=inputs.regions[inputs.regions["region_id"] == "W"])
    fmap = build_map(west_only, tmp_path / "files")
    fits = [c for c in fmap._children.values() if isinstance(c, folium.map.FitBounds)]
    west, south, east, north = west_only.regions.to_crs("EPSG:4326").total_bounds
    assert fits and np.allclose(fits[-1].bounds, [[south, west], [north, east]])
    assert east < 119.7  # the raster reaches 119.78
    assert np.allclose(fits[-1].bounds, [[29.98, 119.6], [30.1, 119.66]])


def test_offline_page_links_only_local_copies(results, tmp_path, assets):
    page = write_map(results, tmp_path / "map.html", offline=True, assets=assets).read_text(
        encoding="utf-8"
    )
    assert "cdn.jsdelivr.net" not in page
    assert (tmp_path / "map_files" / "lib" / "leaflet" / "dist" / "leaflet.js").exists()


def test_offline_without_assets_says_how_to_fetch(results, tmp_path):
    with pytest.raises(InputFileError, match="geocarbon web-assets"):
        localize(empty_map_html(), tmp_path / "map.html", tmp_path / "nothing-here")


def test_map_of_nothing_is_a_clear_error(tmp_path):
    with pytest.raises(InputFileError, match="holds no geocarbon run"):
        write_map(tmp_path, tmp_path / "map.html")
    assert list(tmp_path.iterdir()) == []


def test_stale_raster_not_in_the_manifest_is_not_drawn(results, tmp_path):
    """A raster an earlier run left (not listed in the folder's manifest) is not drawn; without
    a manifest (an older geocarbon's folder) the summary's periods decide, with the same result."""
    folder = tmp_path / "results"
    shutil.copytree(results, folder)
    stale = folder / "change_1990-2000_total_mg_per_ha.tif"
    shutil.copy(folder / "change_2000-2020_total_mg_per_ha.tif", stale)
    for manifest in (True, False):
        if not manifest:
            (folder / MANIFEST_NAME).unlink()
        out = tmp_path / f"manifest-{manifest}" / "map.html"
        page = write_map(folder, out).read_text(encoding="utf-8")
        assert script_json("Density change 2000-2020 (Mg C/ha)") in page
        assert "1990-2000" not in page
        overlays = sorted(p.name for p in (out.parent / "map_files").iterdir())
        assert overlays == ["classes_lc_2020.png", "overlay_change_2000-2020_total_mg_per_ha.png"]


def test_a_run_with_nothing_to_map_is_named(tmp_path):
    """A change run without regions or rasters: its tables alone make no map."""
    rows = np.ones((4, 4), np.uint8)
    out = tmp_path / "change"
    stock_change(
        [rows, rows + 1],
        [2000, 2020],
        table(("Crop", "Forest", "Grass")),
        transform=TRANSFORM,
        crs="EPSG:4326",
        nodata=0,
        out_dir=out,
        write_rasters=False,
        progress=False,
        monte_carlo=None,
    )
    with pytest.raises(InputFileError) as raised:
        write_map(out, tmp_path / "map.html")
    message = str(raised.value)
    assert str(out) in message and "change run" in message and "\n" not in message
    assert not (tmp_path / "map.html").exists() and not (tmp_path / "map_files").exists()


def test_overlay_puts_a_known_pixel_at_its_lat_lon(tmp_path):
    """A marked pixel of a lon/lat raster lands, in the Web Mercator overlay, within half a pixel."""
    transform = Affine(0.01, 0, 100.0, 0, -0.01, 45.0)  # 0.01 degree pixels at 45 N
    array = np.zeros((200, 300), np.float32)
    array[123, 217] = 1.0
    path = tmp_path / "marked.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=200,
        width=300,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=transform,
        nodata=-1,
    ) as dataset:
        dataset.write(array, 1)
    values, overlay = mercator_overlay(path, max_px=2000)
    row, col = np.unravel_index(np.nanargmax(values), values.shape)
    # Leaflet stretches the image linearly in Web Mercator between the overlay's lat/lon bounds
    (south, west), (north, east) = overlay.bounds
    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    x0, y0 = to_merc.transform(west, north)
    x1, y1 = to_merc.transform(east, south)
    x = x0 + (col + 0.5) / values.shape[1] * (x1 - x0)
    y = y0 + (row + 0.5) / values.shape[0] * (y1 - y0)
    lon, lat = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True).transform(x, y)
    assert abs(lon - (100.0 + 0.01 * 217.5)) <= 0.005
    assert abs(lat - (45.0 - 0.01 * 123.5)) <= 0.005
    # left in lon/lat and stretched between the same bounds, the pixel would be ~0.2 px off here;
    # Web Mercator is what keeps it in place at every latitude


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail("Debian's chromium is missing in CI: .ci/run must install it")
        pytest.skip("chromium not installed")
    playwright = require("playwright.sync_api")
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def served(tmp_path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def tooltips(page, paths) -> dict[str, str]:
    """Hover every region: its name (the first cell, exactly as on the page) -> the value row."""
    seen = {}
    for k in range(paths.count()):
        paths.nth(k).hover()
        tooltip = page.locator(".leaflet-tooltip").last
        tooltip.wait_for()
        cells = tooltip.locator("td")
        seen[cells.nth(0).text_content()] = cells.nth(1).text_content()
    return seen


def test_map_in_a_real_browser(results, assets, browser, served):
    """The map opens on net change; one thematic layer and one legend show at a time; the
    tooltip, popup and legend give the value in one unit, the table's value in that unit."""
    folder, base_url = served
    write_map(results, folder / "map.html", offline=True, assets=assets)
    regions = gpd.read_file(results / "regions.gpkg").set_index("region_id")
    # no network but this machine: base-map tiles are refused, the page and Leaflet are local
    page, errors, dialogs = open_page(browser, f"{base_url}/map.html")
    page.wait_for_selector("path.leaflet-interactive")
    paths = page.locator("path.leaflet-interactive")
    assert paths.count() == len(regions)  # one interactive path per region
    assert page.title() == f"geocarbon: {results.name}"
    thematic = page.locator(".geocarbon-thematic")
    checked = thematic.locator("label").filter(has=page.locator("input:checked"))
    assert checked.count() == 1 and checked.inner_text().strip() == "Net change (Gg C)"
    legend = page.locator(".geocarbon-legend:visible")
    assert legend.count() == 1
    assert legend.locator("div").first.inner_text() == "Net change (Gg C)"
    stops = legend.locator("div").all_inner_texts()[1:]
    assert stops[0].startswith("< ") and stops[-1].startswith(">= "), stops
    seen = tooltips(page, paths)
    assert HOSTILE in seen, seen  # shown as text
    assert page.locator(".leaflet-tooltip script, .leaflet-popup script").count() == 0
    expected_gg = regions.loc["W", "net_change_mg"] / 1e3
    assert abs(expected_gg) > 10  # afforestation there
    shown_value, shown_unit = seen["West county"].split(" ", 1)
    assert shown_unit == "Gg C"
    assert float(shown_value.replace(",", "")) == pytest.approx(expected_gg, rel=5e-4)
    # the popup gives the same number in the same unit
    popups_checked = 0
    for k in range(paths.count()):
        paths.nth(k).click()
        popup = page.locator(".leaflet-popup-content .geocarbon-popup").last
        popup.wait_for()
        if popup.locator("b").first.text_content() == "West county":
            rows = dict(
                zip(
                    popup.locator("th").all_text_contents(),
                    popup.locator("td").all_text_contents(),
                    strict=True,
                )
            )
            assert rows["Net change"].startswith(seen["West county"]), rows
            popups_checked += 1
            focused = paths.nth(k).element_handle()
            assert page.evaluate("p => getComputedStyle(p).outlineStyle", focused) == "none"
    assert popups_checked == 1
    # switch to the change raster: the regions go, its image loads, its legend alone shows
    thematic.get_by_text("Density change 2000-2020 (Mg C/ha)").click()
    image = page.locator("img.leaflet-image-layer")
    image.first.wait_for()
    assert image.count() == 1
    assert page.evaluate(
        "img => img.complete && img.naturalWidth > 0", image.first.element_handle()
    )
    assert page.locator("path.leaflet-interactive").count() == 0
    legends = page.locator(".geocarbon-legend:visible")
    assert legends.count() == 1 and "Density change 2000-2020" in legends.inner_text()
    ramp_stops = legends.locator("div").all_inner_texts()[1:]
    assert ramp_stops[0].startswith("<= ") and ramp_stops[-1].startswith(">= "), ramp_stops
    assert thematic.locator("input:checked").count() == 1
    # and to the land cover: still one image, one legend
    thematic.get_by_text("Land cover (clcd)").click()
    page.wait_for_function("document.querySelectorAll('img.leaflet-image-layer').length === 1")
    legends = page.locator(".geocarbon-legend:visible")
    assert legends.count() == 1 and "Land cover" in legends.inner_text()
    page.screenshot(path=str(folder / "map.png"))
    assert (folder / "map.png").stat().st_size > 10_000
    assert not errors, errors
    assert not dialogs, dialogs


def test_large_rasters_become_a_tile_pyramid_in_the_right_place(results, tmp_path):
    from geocarbon.web.overlays import MERCATOR_HALF_WIDTH, TILE_PX, Ramp, write_tiles

    page = write_map(results, tmp_path / "map.html", tile_threshold_px=50).read_text(
        encoding="utf-8"
    )
    tiles = sorted(
        (tmp_path / "map_files").glob("tiles_change_2000-2020_total_mg_per_ha/*/*/*.png")
    )
    url = "map_files/tiles_change_2000-2020_total_mg_per_ha/{z}/{x}/{y}.png"
    assert tiles and script_json(url) in page
    # a marked pixel of a lon/lat raster is drawn where XYZ tile arithmetic puts its lon/lat
    transform = Affine(0.01, 0, 100.0, 0, -0.01, 45.0)
    array = np.zeros((100, 100), np.float32)
    array[40, 60] = 1.0
    path = tmp_path / "marked.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=100,
        width=100,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=transform,
        nodata=-1,
    ) as dataset:
        dataset.write(array, 1)
    zoom = 10
    write_tiles(path, tmp_path / "tiles", Ramp("Greys", 0.0, 1.0, "marked", ""), (zoom, zoom))
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(100.605, 44.595)
    size = 2 * MERCATOR_HALF_WIDTH / 2**zoom
    tile_x, tile_y = int((x + MERCATOR_HALF_WIDTH) // size), int((MERCATOR_HALF_WIDTH - y) // size)
    col = int((x + MERCATOR_HALF_WIDTH - tile_x * size) / size * TILE_PX)
    row = int((MERCATOR_HALF_WIDTH - y - tile_y * size) / size * TILE_PX)
    import matplotlib.image

    image = matplotlib.image.imread(tmp_path / "tiles" / str(zoom) / str(tile_x) / f"{tile_y}.png")
    dark = image[..., :3].mean(axis=2) < 0.5  # "Greys": the marked pixel is the dark one
    rows, cols = np.nonzero(dark)
    assert len(rows) and abs(rows.mean() - row) <= 2 and abs(cols.mean() - col) <= 2


def test_map_of_a_stock_run(tmp_path, sample):
    from geocarbon.runs.stock import StockConfig, run_stock

    run_stock(
        StockConfig(
            landcover=sample.landcover[1],
            densities="china-clcd",
            out_dir=tmp_path / "stock",
            progress=False,
        )
    )
    page = write_map(tmp_path / "stock", tmp_path / "map.html").read_text(encoding="utf-8")
    assert script_json("Carbon density (Mg C/ha)") in page
    assert script_json("Land cover (clcd)") in page
    assert shown_layers(page) == ["Carbon density (Mg C/ha)"]  # no regions: a raster shows
    assert "data:image/png;base64" in page  # overlays travel inside the page


def test_user_text_never_reaches_a_template(hostile_results, tmp_path, monkeypatch):
    """Region names and ids, class names, the results folder's and a raster's name hold Jinja
    syntax; the page carries them as JSON data only, and nothing is evaluated."""
    monkeypatch.chdir(tmp_path)  # where the PWNED payload would create its folder
    out = tmp_path / f"{HOSTILE_PAGE}.html"
    tiles = f"https://tiles.example.org/{{z}}/{{x}}/{{y}}.png?q={JINJA}{COMMENT}{HOSTILE}"
    page = write_map(hostile_results, out, tile_threshold_px=50, tiles=tiles).read_text(
        encoding="utf-8"
    )
    assert not list(tmp_path.rglob("PWNED")) and not (hostile_results / "PWNED").exists()
    for text in [*hostile_texts(), tiles]:
        assert script_json(text) in page, text
    for raw in ("{{", "{%", "{#", "<script>alert", IMG, "49 county", "Crop 49"):
        assert raw not in page, raw
    # inert even if a template engine read the whole page once more
    assert jinja2.Template(page, keep_trailing_newline=True).render() == page
    # the tile URL names the page's folder and the raster percent-encoded ({ } # ? % ' " &)
    tiles = f"tiles_change_{HOSTILE_PERIOD}_total_mg_per_ha"
    url = f"{quote(f'{HOSTILE_PAGE}_files')}/{quote(tiles)}/{{z}}/{{x}}/{{y}}.png"
    assert script_json(url) in page
    assert list((tmp_path / f"{HOSTILE_PAGE}_files" / tiles).glob("*/*/*.png"))
    # nothing staged is left beside the page
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, f"{HOSTILE_PAGE}_files"])


def test_script_json_reads_back_exactly_and_is_inert():
    from hypothesis import given
    from hypothesis import strategies as st

    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=20,
    )

    @given(values)
    def check(value):
        text = script_json(value)
        assert json.loads(text) == value
        assert text.isascii()
        for forbidden in ("{{", "{%", "{#", "<", ">", "&", "'"):
            assert forbidden not in text
        assert jinja2.Template(text, keep_trailing_newline=True).render() == text

    check()
    assert json.loads(script_json([PWN, HOSTILE, "\u2028"])) == [PWN, HOSTILE, "\u2028"]


def test_out_naming_a_folder_is_one_line_and_writes_nothing(results, tmp_path, capsys):
    folder = tmp_path / "maps"
    folder.mkdir()
    for extra in ([], ["--overwrite"]):
        assert main(["map", str(results), "--out", str(folder), *extra]) != 0
        error = capsys.readouterr().err.strip()
        assert error.startswith("Error: ") and "\n" not in error, error
        assert "is a folder" in error and str(folder / "map.html") in error
    assert list(tmp_path.iterdir()) == [folder] and not list(folder.iterdir())


def test_files_folder_is_replaced_only_when_asked_and_only_if_a_map_wrote_it(results, tmp_path):
    files = tmp_path / "map_files"
    files.mkdir()
    (files / "overlay_old.png").write_bytes(b"old")
    with pytest.raises(OutputExistsError, match="map_files.*--overwrite"):
        write_map(results, tmp_path / "map.html")
    assert not (tmp_path / "map.html").exists()
    write_map(results, tmp_path / "map.html", overwrite=True)
    assert not (files / "overlay_old.png").exists()  # the old map's files are gone
    assert (files / "overlay_change_2000-2020_total_mg_per_ha.png").exists()
    (files / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="notes.txt"):
        write_map(results, tmp_path / "map.html", overwrite=True)
    assert (files / "notes.txt").read_text() == "mine"


def test_unreadable_raster_is_named_and_the_failed_map_leaves_nothing(results, tmp_path):
    broken = tmp_path / "results"
    shutil.copytree(results, broken)
    raster = broken / "change_2000-2020_total_mg_per_ha.tif"  # read after the regions
    data = raster.read_bytes()
    raster.write_bytes(data[: len(data) // 2])
    maps = tmp_path / "maps"
    with pytest.raises(InputFileError, match="change_2000-2020_total_mg_per_ha.tif"):
        write_map(broken, maps / "map.html")
    assert list(maps.iterdir()) == []  # no page, no files folder, no staged leftovers


def open_page(browser, url: str):
    """A page on ``url`` with no network but this machine; (page, errors, dialogs)."""
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors, dialogs = [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda m: (
            m.type == "error" and "Failed to load resource" not in m.text and errors.append(m.text)
        ),
    )
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.route(re.compile(r"^https?://(?!127\.0\.0\.1)"), lambda route: route.abort())
    page.goto(url)
    return page, errors, dialogs


def test_hostile_text_shows_as_typed_in_a_real_browser(
    hostile_results, assets, browser, served, monkeypatch
):
    folder, base_url = served
    monkeypatch.chdir(folder)
    write_map(
        hostile_results,
        folder / f"{HOSTILE_PAGE}.html",
        offline=True,
        assets=assets,
        tile_threshold_px=50,
    )
    page, errors, dialogs = open_page(browser, f"{base_url}/{quote(HOSTILE_PAGE)}.html")
    page.wait_for_selector("path.leaflet-interactive")
    title = f"geocarbon: {HOSTILE_FOLDER}"
    assert page.title() == title
    assert page.locator(".geocarbon-title").text_content() == title
    paths = page.locator("path.leaflet-interactive")
    assert set(tooltips(page, paths)) == set(HOSTILE_NAMES)
    shown_names, moves = set(), []
    for k in range(paths.count()):
        paths.nth(k).click()
        popup = page.locator(".leaflet-popup-content .geocarbon-popup").last
        popup.wait_for()
        shown_names.add(popup.locator("b").first.text_content())
        moves += popup.locator("li").all_text_contents()
    assert shown_names == set(HOSTILE_NAMES)
    for name in HOSTILE_CLASSES:  # class names of the density table, in the transitions
        assert any(
            move.startswith(f"{name} \u2192 ") or f"\u2192 {name}:" in move for move in moves
        )
    labels = [t.strip() for t in page.locator(".leaflet-control-layers label").all_text_contents()]
    raster_label = f"Density change {HOSTILE_PERIOD} (Mg C/ha)"
    assert raster_label in labels and "Net change (Gg C)" in labels
    page.locator(".leaflet-control-layers label").filter(has_text=HOSTILE_PERIOD).click()
    legend = page.locator(".geocarbon-legend").filter(has_text=HOSTILE_PERIOD)
    assert legend.locator("b").text_content() == f"Density change {HOSTILE_PERIOD}"
    # its tiles load from the page's folder, whose name and the raster's are percent-encoded
    page.wait_for_selector("img.leaflet-tile-loaded")
    body = page.locator("body").inner_text()
    assert "49 county" not in body and "Crop 49" not in body and "Forest x" not in body
    assert page.locator("img[src=x], .leaflet-popup script, .leaflet-tooltip script").count() == 0
    assert not list(folder.rglob("PWNED"))
    assert not errors, errors
    assert not dialogs, dialogs


def test_map_reads_quoted_spreadsheet_cells_back_as_typed(tmp_path):
    """CSV text cells that spreadsheets would run as formulas carry a leading ' (spreadsheet.py);
    the map takes it off, so class names and region ids match and show as typed."""
    from geocarbon.outputs.spreadsheet import neutralise_formulas

    classes = ("-Crop", "=Forest", "@Grass")
    out = change_results(
        tmp_path,
        names=['=HYPERLINK("http://x","y")', "+2 county", "@3 county"],
        ids=["-1", "+2", "@3"],
        class_names=classes,
    )
    for table_path in out.glob("*.csv"):
        frame = pd.read_csv(table_path, dtype={"region_id": str}, keep_default_na=False)
        neutralise_formulas(frame).to_csv(table_path, index=False, lineterminator="\r\n")
    assert "'-1" in (out / "transitions.csv").read_text(encoding="utf-8")
    page = write_map(out, tmp_path / "map.html").read_text(encoding="utf-8")
    for name in classes:  # in the popups' transitions: only when region ids matched
        assert script_json(f"{name}") + ", " in page or script_json(name) + "]" in page, name
        assert script_json(f"'{name}")[1:-1] not in page


def test_chinese_map_in_a_real_browser(results, assets, browser, served):
    """--lang zh: layer names, legend, tooltip and popup words in Chinese; CLCD classes by
    their Chinese names."""
    folder, base_url = served
    write_map(results, folder / "map.html", offline=True, assets=assets, lang="zh")
    page, errors, dialogs = open_page(browser, f"{base_url}/map.html")
    page.wait_for_selector("path.leaflet-interactive")
    labels = [t.strip() for t in page.locator(".geocarbon-thematic label").all_text_contents()]
    assert labels == [
        "净变化量 (Gg C)",
        "期末碳储量 (Gg C)",
        "年均净变化量 (Gg C/年)",
        "碳密度变化 2000-2020 (Mg C/ha)",
        "土地覆被 (clcd)",
    ], labels
    bases = page.locator(".leaflet-control-layers").first.inner_text()
    assert "底图" in bases and "卫星影像" in bases
    legend = page.locator(".geocarbon-legend:visible")
    assert legend.count() == 1 and legend.locator("b").text_content() == "净变化量"
    paths = page.locator("path.leaflet-interactive")
    paths.first.hover()
    tooltip = page.locator(".leaflet-tooltip").last
    tooltip.wait_for()
    assert tooltip.locator("th").first.text_content() == "区域"
    paths.first.click()
    popup = page.locator(".leaflet-popup-content .geocarbon-popup").last
    popup.wait_for()
    headers = popup.locator("th").all_text_contents()
    assert "面积" in headers and "净变化量" in headers, headers
    page.locator(".geocarbon-thematic").get_by_text("土地覆被 (clcd)").click()
    legend = page.locator(".geocarbon-legend:visible")
    assert legend.count() == 1 and "林地" in legend.inner_text()
    page.screenshot(path=str(folder / "map_zh.png"))  # kept in the test's folder to look at
    assert (folder / "map_zh.png").stat().st_size > 10_000
    assert not errors, errors
    assert not dialogs, dialogs


def test_land_cover_is_clipped_to_the_regions(results, tmp_path):
    """With only the western region, the land-cover image is transparent east of it."""
    from dataclasses import replace

    import matplotlib.image

    from geocarbon.web.map import build_map, load_results

    inputs = load_results(results)
    assert inputs.regions is not None and inputs.landcover is not None
    west_only = replace(inputs, regions=inputs.regions[inputs.regions["region_id"] == "W"])
    build_map(west_only, tmp_path / "files")
    image = matplotlib.image.imread(tmp_path / "files" / "classes_lc_2020.png")
    alpha = image[..., 3]
    # the region spans the western third of the raster (columns 0-30 of 90)
    third = alpha.shape[1] // 3
    assert alpha[:, : third - 2].min() > 0  # inside: every pixel drawn
    assert alpha[:, third + 2 :].max() == 0  # outside: none


def test_popup_gives_the_interval_rate_and_value(tmp_path):
    """A change run with draws and a price: the popup has the 5-95 % interval of net change
    (in the unit of the net change), the annual rate and the NPV."""
    import geocarbon.web.text as text
    from geocarbon.web.layers import quantity_units

    out = change_results(tmp_path, names=["a", "b", "c"], ids=["1", "2", "3"])
    regions = gpd.read_file(out / "regions.gpkg")
    regions["net_change_mg_p5"] = regions["net_change_mg"] - 2000.0
    regions["net_change_mg_p95"] = regions["net_change_mg"] + 3000.0
    regions["npv"] = 1234.5
    row = regions.iloc[0]
    units = quantity_units(regions)
    rows = dict(text.region_text(row, None, units).pools)
    low, high = (row["net_change_mg"] - 2000.0) / 1e3, (row["net_change_mg"] + 3000.0) / 1e3
    net = f"{row['net_change_mg'] / 1e3:+,.4g} Gg C"
    assert rows["Net change"] == f"{net} (5-95 % interval {low:+,.4g} to {high:+,.4g})"
    assert rows["Annual net change"].endswith("C/yr")
    assert rows["Net present value"] == "1,234"
    assert rows["Area"].endswith(" ha")
    assert text.format_value(14_830_000.4, "ha") == "14,830,000 ha"  # never 1.483e+07
    assert text.format_value(-12_345.6, "Mg C", sign=True) == "-12,346 Mg C"
    assert text.format_value(float("nan"), "Mg C", "zh") == "无数据"


def test_offline_map_with_own_tiles(results, tmp_path, assets):
    template = "https://tile.example.org/{z}/{x}/{y}.png"
    page = write_map(
        results, tmp_path / "map.html", offline=True, assets=assets, tiles=template
    ).read_text(encoding="utf-8")
    assert script_json(template) in page and "cdn.jsdelivr.net" not in page
