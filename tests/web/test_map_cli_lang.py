"""`--map`/`--lang` on the run commands, `geocarbon map --lang zh --tiles`, Chinese labels and
class names, and web geometry simplified with shared edges kept."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from test_webmap import shown_layers

from geocarbon.cli import main
from geocarbon.errors import ConfigError
from geocarbon.i18n import label
from geocarbon.inputs.schemes import get_scheme
from geocarbon.web.assets import script_json
from geocarbon.web.basemap import tiles_url
from geocarbon.web.layers import web_geometry


def test_change_map_in_chinese_is_written_and_named(sample, tmp_path, capsys):
    out = tmp_path / "change"
    code = main(
        [
            "change", *map(str, sample.landcover), "--years", "2000", "--years", "2020",
            "-d", "china-clcd", "--regions", str(sample.regions), "--id-field", "adcode",
            "--name-field", "name", "--draws", "20", "-o", str(out), "--map", "--lang", "zh",
            "--report",
        ]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"wrote {out / 'map.html'}" in captured.out
    assert "map: drawing" in captured.err and "map: writing" in captured.err  # progress
    page = (out / "map.html").read_text(encoding="utf-8")
    opening = shown_layers(page)
    assert len(opening) == 1 and opening[0].startswith("净变化量 (")  # net change, in Chinese
    for text in ("年均净变化量", "碳密度变化 2000-2020 (Mg C/ha)", "区域", "主要地类转换", "底图"):
        assert script_json(text)[1:-1] in page, text
    for english in ("Net change", "Largest transitions", "Region", "Land cover"):
        assert script_json(english)[1:-1] not in page, english
    # the land-cover legend and transitions name CLCD classes as CLCD's Chinese legend does
    assert script_json("2 林地")[1:-1] in page
    assert "<title>geocarbon 地图</title>" in page
    # --report: the run's report, in the same language, written after the map and linking it
    assert f"wrote {out / 'report.html'}" in captured.out
    report = (out / "report.html").read_text(encoding="utf-8")
    assert 'href="map.html"' in report and '<html lang="zh' in report


def test_stock_map_opens_on_density(sample, tmp_path, capsys):
    out = tmp_path / "stock"
    code = main(
        [str(a) for a in ("stock", sample.landcover[1], "-d", "china-clcd", "-o", out, "--map")]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"wrote {out / 'map.html'}" in captured.out
    page = (out / "map.html").read_text(encoding="utf-8")
    assert shown_layers(page) == ["Carbon density (Mg C/ha)"]
    assert not (out / "report.html").exists()  # only with --report


def test_map_command_language_and_tiles(sample, tmp_path, capsys):
    out = tmp_path / "zonal"
    assert main(
        [
            "zonal", str(sample.landcover[1]), "--regions", str(sample.regions),
            "--id-field", "adcode", "--name-field", "name", "-d", "china-clcd", "-o", str(out),
            "-q",
        ]
    ) == 0  # fmt: skip
    tiles = tmp_path / "my tiles"
    (tiles / "3" / "6").mkdir(parents=True)
    (tiles / "3" / "6" / "3.jpg").write_bytes(b"\xff\xd8")
    page_path = tmp_path / "maps" / "map.html"
    code = main(["map", str(out), "-o", str(page_path), "--lang", "zh", "--tiles", str(tiles)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"wrote {page_path}" in captured.out and "map: reading" in captured.err
    page = page_path.read_text(encoding="utf-8")
    assert shown_layers(page) == ["平均碳密度 (Mg C/ha)"]  # zonal: mean density
    assert script_json("../my%20tiles/{z}/{x}/{y}.jpg") in page
    assert script_json("自定义底图") in page
    # a template without {z} is one line naming it, and nothing is written
    bad = "https://tiles.example.com/{x}/{y}.png"
    assert main(["map", str(out), "-o", str(tmp_path / "bad.html"), "--tiles", bad]) != 0
    error = capsys.readouterr().err.strip()
    assert error.startswith("Error: ") and "\n" not in error and bad in error and "{z}" in error
    assert not (tmp_path / "bad.html").exists()


def test_tiles_url_accepts_templates_and_names_what_is_wrong(tmp_path):
    template = "https://t{s}.tianditu.gov.cn/vec_w/wmts?x={x}&y={y}&l={z}"
    assert tiles_url(template, tmp_path / "map.html") == template
    with pytest.raises(ConfigError, match="no-such-folder"):
        tiles_url(str(tmp_path / "no-such-folder"), tmp_path / "map.html")


def test_labels_and_chinese_class_names():
    assert label("layer.net_change", "zh") == "净变化量"
    assert label("layer.net_change") == "Net change"
    with pytest.raises(ConfigError, match="'fr'"):
        label("layer.net_change", "fr")
    clcd = get_scheme("clcd")
    assert [clcd.name_zh_of(c) for c in (1, 2, 8)] == ["耕地", "林地", "不透水面"]
    assert get_scheme("cnlucc").name_zh_of(11) == "水田"
    assert get_scheme("cnlucc").name_zh_of(47) == "海域"
    assert get_scheme("globeland30").name_zh_of(80) == "人造地表"
    assert get_scheme("modis-igbp").name_zh_of(1) is None  # no published Chinese legend


def test_web_geometry_keeps_shared_edges(tmp_path):
    """Two regions sharing a wiggly border stay gap- and overlap-free once simplified."""
    import numpy as np

    xs = np.linspace(100.0, 101.0, 2001)
    border = [(x, 30.0 + 0.0001 * np.sin(x * 900)) for x in xs]  # ~10 m wiggles
    north = shapely.Polygon([*border, (101.0, 31.0), (100.0, 31.0)])
    south = shapely.Polygon([*border, (101.0, 29.0), (100.0, 29.0)])
    frame = gpd.GeoDataFrame({"id": [1, 2]}, geometry=[north, south], crs="EPSG:4326")
    simplified = web_geometry(frame, tolerance_deg=0.001)
    assert frame.geometry.to_numpy()[0].equals(north)  # the regions themselves are untouched
    assert sum(shapely.get_num_coordinates(simplified.to_numpy())) < 200  # was ~4000
    a, b = simplified.to_numpy()
    assert a.intersection(b).area < 1e-9
    union = shapely.union(a, b)
    assert abs(union.area - shapely.box(100.0, 29.0, 101.0, 31.0).area) < 1e-6


def test_china_provinces_map_is_a_few_mb_with_full_geometry_statistics(
    shared_data, tmp_path, capsys
):
    """China's 34 provinces (17.9 MB of GeoJSON) on MODIS IGBP: the page holds the outlines
    once, simplified (39 MB before, when every layer carried its own full-detail copy), while
    the regions' table still has the areas of the full geometry."""
    out = tmp_path / "zonal"
    code = main(
        [
            "zonal",
            str(shared_data / "landcover" / "modis_mcd12c1_china"
                / "MCD12C1.A2019001.006_LC_Type1_IGBP_China_crop.tif"),
            "--regions", str(shared_data / "boundaries" / "china_provinces.geojson"),
            "-d", "china-clcd", "--scheme", "modis-igbp", "--id-field", "adcode",
            "--name-field", "name_zh", "-o", str(out), "--map", "--lang", "zh", "-q",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    page = (out / "map.html").read_text(encoding="utf-8")
    assert len(page.encode("utf-8")) < 4_000_000
    assert page.count("FeatureCollection") == 1  # the outlines, once for every layer
    assert script_json("辽宁省")[1:-1] in page
    regions = gpd.read_file(out / "regions.gpkg")
    assert len(regions) == 34
    assert shapely.get_num_coordinates(regions.geometry.to_numpy()).sum() > 700_000  # full


@pytest.mark.parametrize(
    ("url", "system"),
    [
        ("https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}&style=8", "GCJ-02"),
        ("https://maponline{s}.bdimg.com/tile/?qt=vtile&x={x}&y={y}&z={z}", "BD-09"),
    ],
)
def test_offset_tile_providers_are_named_in_a_warning(url, system, tmp_path):
    from geocarbon.errors import GeoCarbonWarning

    with pytest.warns(GeoCarbonWarning, match=system) as caught:
        assert tiles_url(url, tmp_path / "map.html") == url
    assert "\n" not in str(caught[0].message)


def test_wgs84_tiles_give_no_warning(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiles_url("https://tile.openstreetmap.org/{z}/{x}/{y}.png", tmp_path / "map.html")
