"""Files that carry their meaning, on real runs: a QGIS style (``.qml``) beside every raster, the
provenance in the COGs' tags and band descriptions, in regions.gpkg's layer metadata and in
regions.parquet's key-value metadata.

The rasters come from stock and change runs on InVEST's Willamette sample (1889 x 1325 pixels of
30 m, an InVEST pools table keyed by ``lucode``; no class scheme) and on the bundled CLCD sample
(built-in table ``china-clcd``, scheme ``clcd``); the region tables from the session's zonal and
change runs on the sample (tests/conftest.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow.parquet as pq
import pyogrio
import pytest
import rasterio

from geocarbon import carbon_stock, stock_change
from geocarbon._version import __version__
from geocarbon.accounts.valuation import Valuation
from geocarbon.choices import CHANGE_COLOUR_MAP, DENSITY_COLOUR_MAP
from geocarbon.inputs.schemes import get_scheme
from geocarbon.outputs import spec
from geocarbon.outputs.folder import MANIFEST_NAME, read_manifest
from geocarbon.outputs.qml import (
    PaletteClass,
    paletted_qml,
    pseudocolor_qml,
    scheme_palette,
    style_path,
)
from geocarbon.web.overlays import Ramp

from conftest import IN_CI, REGION_OPTIONS, SHARED_DATA

DENSITY_UNITS = "Mg C/ha"
#: Names that must stay text in a style: template syntax, markup, entities, CDATA ends, quotes,
#: control characters (dropped: XML cannot hold them) and a lone surrogate (dropped likewise).
HOSTILE_NAMES = (
    "{{7*7}}",
    "{% if 1 %}x{% endif %}{# c #}",
    "<script>alert(1)</script>",
    "Forest & <b>shrub</b>",
    "a ]]> b <![CDATA[ c",
    "\"double\" and 'single'",
    '=HYPERLINK("http://x")',
    "bell\x07null\x00esc\x1b end",
    "tab\there\nnewline",
    "lone \ud800 surrogate",
    "森林 &amp; 草地",
    "=1+1",
    "{# open comment",
)
_DROPPED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


# -- runs on real data (once for the module) ----------------------------------------------------


def _willamette() -> Path:
    folder = SHARED_DATA / "landcover" / "invest_willamette"
    if not folder.is_dir():
        if IN_CI:
            pytest.fail(f"{folder} is missing in CI; the real-data tests must run there.")
        pytest.skip(f"{folder} not present")
    return folder


@pytest.fixture(scope="module")
def willamette_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A stock run and a change run (dates, change and NPV rasters) on the Willamette sample."""
    folder = _willamette()
    current, future = folder / "lulc_current_willamette.tif", folder / "lulc_future_willamette.tif"
    pools = folder / "carbon_pools_willamette.csv"
    out = tmp_path_factory.mktemp("willamette")
    stock = carbon_stock(
        current, pools, out_dir=out / "stock", area_method="planar", progress=False
    )
    change = stock_change(
        [current, future],
        [2016, 2030],
        pools,
        out_dir=out / "change",
        area_method="planar",
        monte_carlo=None,
        valuation=Valuation(43, -7.1, 2.8),
        date_rasters=True,
        progress=False,
    )
    for result in (stock, change):  # the run's own list of its files names the styles too
        names = {path.name for path in result.outputs}
        assert {n for n in names if n.endswith(".qml")} == {
            style_path(Path(n)).name for n in names if n.endswith(".tif")
        }
    return {"stock": out / "stock", "change": out / "change", "pools": pools}


def _files(folder: Path, suffix: str) -> list[Path]:
    """The files of ``suffix`` the run's manifest lists (found through it, never by globbing)."""
    manifest = read_manifest(folder) or {}
    return [folder / entry["name"] for entry in manifest["files"] if entry["name"].endswith(suffix)]


def _renderer(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "qgis"
    renderer = root.find("pipe/rasterrenderer")
    assert renderer is not None, path.name
    return renderer


def _real_range(path: Path) -> tuple[float, float]:
    with rasterio.open(path) as dataset:
        values = dataset.read(1, masked=True).astype(np.float64)
    return float(values.min()), float(values.max())


def _ramp(renderer: ET.Element) -> tuple[float, float, list[ET.Element]]:
    shader = renderer.find("rastershader/colorrampshader")
    assert shader is not None
    items = shader.findall("item")
    low, high = float(shader.get("minimumValue", "nan")), float(shader.get("maximumValue", "nan"))
    classification = [float(renderer.get(f"classification{end}", "nan")) for end in ("Min", "Max")]
    assert classification == [low, high]
    return low, high, items


# -- (a) a style beside every raster ------------------------------------------------------------


@pytest.mark.parametrize("run", ["stock", "change"])
def test_every_raster_has_its_style_and_nothing_else_is_left(willamette_runs, run):
    folder = willamette_runs[run]
    rasters, styles = _files(folder, ".tif"), _files(folder, ".qml")
    # stock: 4 pools + total; change: 2 dates x 5 bands, 5 change bands, 1 NPV
    assert len(rasters) == {"stock": 5, "change": 16}[run]
    assert sorted(styles) == sorted(style_path(raster) for raster in rasters)
    listed = {entry["name"] for entry in (read_manifest(folder) or {})["files"]}
    assert {path.name for path in folder.iterdir()} == listed | {MANIFEST_NAME}  # no .aux.xml
    for style in styles:  # each style is declared by the spec, as the raster it styles
        entry, _ = spec.identify(run, style.name) or (None, None)
        assert entry is not None and entry.kind == "style", style.name


@pytest.mark.parametrize("run", ["stock", "change"])
def test_styles_are_pseudocolor_ramps_labelled_in_the_rasters_unit(willamette_runs, run):
    for raster in _files(willamette_runs[run], ".tif"):
        renderer = _renderer(style_path(raster))
        assert renderer.get("type") == "singlebandpseudocolor" and renderer.get("band") == "1"
        low, high, items = _ramp(renderer)
        with rasterio.open(raster) as dataset:
            units = dataset.units[0]
            diverging = "period" in dataset.tags()
        assert units == ("currency/ha" if raster.name.startswith("npv") else DENSITY_UNITS)
        values = [float(item.get("value", "nan")) for item in items]
        assert (
            len(items) == 5 and values == sorted(values) and (values[0], values[-1]) == (low, high)
        )
        assert all(item.get("label", "").split(" ", 1)[1].startswith(units) for item in items)
        assert all(re.fullmatch(r"#[0-9a-f]{6}", item.get("color", "")) for item in items)
        real_low, real_high = _real_range(raster)
        colours = [item.get("color") for item in items]
        if diverging:  # change and NPV: centred on zero, losses red, gains blue (as the maps)
            assert low == -high and values[2] == 0.0, raster.name
            assert "(loss)" in items[0].get("label", "") and "(gain)" in items[-1].get("label", "")
            assert colours == [c for _, c in Ramp(CHANGE_COLOUR_MAP, low, high, "", "").colours(5)]
            red, blue = (int(colours[i][1:3], 16) - int(colours[i][5:7], 16) for i in (0, -1))
            assert red > 0 > blue, colours
            assert high <= max(abs(real_low), abs(real_high)) * (1 + 1e-6), raster.name
        else:  # densities: from the smallest to the largest value, never beyond; the maps' YlGn
            assert colours == [c for _, c in Ramp(DENSITY_COLOUR_MAP, 0, 1, "", "").colours(5)]
            assert real_low - 1e-3 <= low < high <= real_high + 1e-3, raster.name


@pytest.mark.parametrize("run", ["stock", "change"])
def test_style_ramps_span_the_real_range_of_their_raster(willamette_runs, run):
    """The ramps end at the exact extremes the writer saw (the change run's soil change has a
    small patch at -80.5 Mg C/ha that approximate overview statistics would miss)."""
    for raster in _files(willamette_runs[run], ".tif"):
        low, high, _ = _ramp(_renderer(style_path(raster)))
        real_low, real_high = _real_range(raster)
        if low == -high:
            real_low, real_high = -max(-real_low, real_high), max(-real_low, real_high)
        span = real_high - real_low
        assert low == pytest.approx(real_low, abs=0.01 * span), raster.name
        assert high == pytest.approx(real_high, abs=0.01 * span), raster.name


def test_a_constant_or_empty_raster_still_gets_a_usable_ramp():
    for low, high, diverging in ((5.0, 5.0, False), (np.nan, np.nan, False), (0.0, 0.0, True)):
        renderer = ET.fromstring(pseudocolor_qml(low, high, DENSITY_UNITS, diverging=diverging))
        ramp_low, ramp_high, _ = _ramp(renderer.find("pipe/rasterrenderer"))  # type: ignore[arg-type]
        assert np.isfinite([ramp_low, ramp_high]).all() and ramp_low < ramp_high


def test_units_in_ramp_labels_are_data():
    units = '<b>Mg</b> & "C"/ha ]]> {{7*7}}\x01'
    renderer = ET.fromstring(pseudocolor_qml(-2.0, 3.0, units, diverging=True))
    labels = [item.get("label") for item in renderer.iter("item")]
    assert labels[0] == '-3 <b>Mg</b> & "C"/ha ]]> {{7*7}} (loss)'
    assert labels[2] == '0 <b>Mg</b> & "C"/ha ]]> {{7*7}}'


# -- (b) paletted styles of land-cover classes --------------------------------------------------


def test_clcd_palette_has_one_entry_per_class_with_code_colour_and_name(tmp_path):
    clcd = get_scheme("clcd")
    path = tmp_path / "clcd.qml"
    path.write_text(paletted_qml(scheme_palette(clcd)), "utf-8")
    renderer = _renderer(path)
    assert renderer.get("type") == "paletted"
    entries = renderer.findall("colorPalette/paletteEntry")
    assert [int(e.get("value", "")) for e in entries] == list(clcd.codes) == list(range(1, 10))
    assert [e.get("color") for e in entries] == list(clcd.colors)
    assert [e.get("label") for e in entries] == [
        f"{code} {name}" for code, name in zip(clcd.codes, clcd.names, strict=True)
    ]
    assert entries[1].get("label") == "2 Forest" and entries[1].get("color") == "#446f33"
    chinese = ET.fromstring(paletted_qml(scheme_palette(clcd, lang="zh")))
    assert [e.get("label") for e in chinese.iter("paletteEntry")][:2] == ["1 耕地", "2 林地"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_class_names_survive_as_data(tmp_path, name):
    classes = [PaletteClass(7, name, "#123456"), PaletteClass(8, "plain", "#abcdef")]
    path = tmp_path / "hostile.qml"
    path.write_bytes(paletted_qml(classes).encode("utf-8"))  # every character encodable
    entries = _renderer(path).findall("colorPalette/paletteEntry")
    assert [e.get("label") for e in entries] == [f"7 {_DROPPED.sub('', name)}", "8 plain"]
    assert [e.get("value") for e in entries] == ["7", "8"]
    assert "49" not in path.read_text("utf-8")  # nothing evaluated {{7*7}}


# -- (c) provenance inside the COGs --------------------------------------------------------------


def test_cogs_carry_description_unit_and_provenance(willamette_runs):
    pools = willamette_runs["pools"]
    checksum = hashlib.sha256(pools.read_bytes()).hexdigest()
    for run in ("stock", "change"):
        for raster in _files(willamette_runs[run], ".tif"):
            entry, values = spec.identify(run, raster.name) or (None, {})
            assert entry is not None
            with rasterio.open(raster) as dataset:
                tags, band_tags = dataset.tags(), dataset.tags(1)
                assert dataset.descriptions == (entry.describe(**values),)
                assert dataset.units == (entry.units,)
            assert tags["geocarbon_version"] == __version__ and tags["run"] == run
            assert tags["units"] == band_tags["units"] == entry.units
            assert tags["density_table"] == str(pools)
            assert tags["density_table_sha256"] == checksum
            assert tags["area_method"] == "planar"
            assert "scheme" not in tags  # an InVEST table names none: nothing is invented
            for key in ("band", "pool", "year", "period"):
                if key in values:
                    assert tags[key] == band_tags[key] == values[key], (raster.name, key)
            if "pool" in values:
                assert tags["band"] == values["pool"]
            if raster.name == "density_total_mg_per_ha.tif":
                assert tags["band"] == "total"


def test_cogs_of_a_built_in_table_name_it_and_its_scheme(sample, tmp_path):
    result = carbon_stock(sample.landcover[1], "china-clcd", out_dir=tmp_path, progress=False)
    total = next(path for path in result.outputs if path.name == "density_total_mg_per_ha.tif")
    with rasterio.open(total) as dataset:
        tags = dataset.tags()
    assert (tags["density_table"], tags["scheme"], tags["band"]) == ("china-clcd", "clcd", "total")
    assert "density_table_sha256" not in tags  # no file to hash
    assert tags["area_method"] == result.summary["area_method"]


# -- (d) provenance in regions.gpkg and regions.parquet -----------------------------------------

#: Columns that hold no quantity (ids, names, calendar years, class codes, pool names).
UNITLESS = {
    "region_id",
    "region_name",
    "parent_id",
    "period",
    "year_start",
    "year_end",
    "top_variance_class",
    "top_variance_pool",
}


def _gpkg_metadata(path: Path) -> dict[str, str]:
    """The layer metadata of ``regions`` as stored: gpkg_metadata referenced from the table."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT m.metadata FROM gpkg_metadata_reference r JOIN gpkg_metadata m "
            "ON m.id = r.md_file_id WHERE r.reference_scope = 'table' AND r.table_name = ?",
            ("regions",),
        ).fetchall()
    assert len(rows) == 1
    root = ET.fromstring(rows[0][0])
    return {item.get("key", ""): item.text or "" for item in root.iter("MDI")}


@pytest.mark.parametrize("run", ["zonal", "change"])
def test_region_tables_carry_provenance_and_column_units(request, run):
    folder = request.getfixturevalue(f"{run}_dir")
    summary = json.loads((folder / f"{run}_summary.json").read_text("utf-8"))
    gpkg = folder / "regions.gpkg"
    info = pyogrio.read_info(gpkg, layer="regions")
    metadata = info["layer_metadata"]
    assert metadata == _gpkg_metadata(gpkg) | {"DESCRIPTION": metadata["DESCRIPTION"]}
    entry, _ = spec.identify(run, "regions.gpkg") or (None, None)
    assert entry is not None and metadata["DESCRIPTION"] == entry.description
    assert metadata["geocarbon_version"] == __version__ and metadata["run"] == run
    assert (metadata["density_table"], metadata["scheme"]) == ("china-clcd", "clcd")
    assert metadata["area_method"] == summary["area_method"]
    assert metadata["landcover"].endswith("clcd_2020.tif")
    if run == "change":
        assert (metadata["years"], metadata["periods"]) == ("2000, 2020", "2000-2020")
    units = json.loads(metadata["column_units"])
    fields = list(info["fields"])
    assert set(fields) - set(units) <= UNITLESS, "columns without a unit"
    assert units["stock_total_tg" if run == "zonal" else "net_change_tg"] == "Tg C"
    if run == "change":  # Monte Carlo percentiles keep their quantity's unit
        assert units["net_change_mg_p95"] == "Mg C"
        assert units["annual_net_change_mg_per_yr_p5"] == "Mg C/yr"

    parquet = folder / "regions.parquet"
    key_values = pq.read_schema(parquet).metadata
    document = json.loads(key_values[b"geocarbon"].decode("utf-8"))
    assert {key: value for key, value in metadata.items() if key != "DESCRIPTION"} == {
        **document,
        "column_units": json.dumps(document["column_units"], ensure_ascii=False),
    }
    geo = json.loads(key_values[b"geo"])
    assert geo["primary_column"] == "geometry" and "geometry" in geo["columns"]
    frame = gpd.read_parquet(parquet)
    layer = pyogrio.read_dataframe(gpkg, layer="regions")
    assert frame.crs == layer.crs and len(frame) == len(layer)
    for table in (frame, layer):
        assert table["region_id"].dtype == np.int64
        assert table["region_id"].tolist() == layer["region_id"].tolist()


def test_hostile_file_names_reach_tags_and_layer_metadata_as_typed(sample, tmp_path, pools_csv):
    """The paths the provenance records are user text: COG tags, GeoPackage layer metadata
    (XML inside SQLite) and GeoParquet key-value metadata keep them as typed."""
    import shutil

    from geocarbon import zonal_stocks

    hostile = tmp_path / "h {{7*7}} {% if %} {# =1+1 <script>&x"
    hostile.mkdir()
    table = shutil.copy(pools_csv, hostile / "=HYPERLINK(1) {{7*7}}.csv")
    landcover = shutil.copy(sample.landcover[1], hostile / "<b>{{7*7}}&.tif")
    stock = carbon_stock(landcover, table, out_dir=tmp_path / "s", unknown="zero", progress=False)
    total = next(path for path in stock.outputs if path.name == "density_total_mg_per_ha.tif")
    with rasterio.open(total) as dataset:
        assert dataset.tags()["density_table"] == str(table)
    out = tmp_path / "z"
    zonal_stocks(landcover, sample.regions, table, out_dir=out, unknown="zero", **REGION_OPTIONS)
    metadata = _gpkg_metadata(out / "regions.gpkg")
    assert metadata["density_table"] == str(table) and metadata["landcover"] == str(landcover)
    document = json.loads(pq.read_schema(out / "regions.parquet").metadata[b"geocarbon"])
    assert document["density_table"] == str(table) and document["landcover"] == str(landcover)
