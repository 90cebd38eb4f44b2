"""Chinese figures (labels, names, the CJK font), publication formats (dpi, SVG text, PDF fonts)
and the scheme's class colours, drawn from real runs of the sample in temporary folders."""

from __future__ import annotations

import os
import struct
import warnings
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.colors import to_hex

import geocarbon
from geocarbon.cli.main import main
from geocarbon.errors import ConfigError, MissingFontWarning
from geocarbon.figures import write_figures
from geocarbon.figures.charts import transitions_figure
from geocarbon.figures.fonts import cjk_family
from geocarbon.figures.labels import CHINESE, ENGLISH, class_names
from geocarbon.inputs.schemes import get_scheme

from conftest import N_REGIONS, REGION_OPTIONS

#: Chinese place names, one with a character of CJK Extension E (outside GB2312) and text that
#: a template or mathtext would run.
CHINESE_NAMES = ["浙江省", "杭州市", "临安区", "天目山镇", "淳安县", "𬌗{{7*7}} $x$"]
#: CLCD classes 1-9 in Chinese (the CLCD legend's own names).
CHINESE_CLASSES = ("耕地", "林地", "灌木", "草地", "水体", "冰雪", "裸地", "不透水面", "湿地")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def cjk_font() -> str:
    """The installed Noto Sans CJK family; skipped where absent, a failure in CI (.ci/run
    installs fonts-noto-cjk)."""
    family = cjk_family()
    if family is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Noto Sans CJK is missing in CI; .ci/run installs fonts-noto-cjk.")
        pytest.skip("fonts-noto-cjk is not installed")
    return family


@pytest.fixture(scope="module")
def chinese_change_dir(tmp_path_factory: pytest.TempPathFactory, sample) -> Path:
    """A change run over three dates whose regions and classes (the density table's names, as
    a user's own table would have them) have Chinese names."""
    import dataclasses

    import geopandas as gpd

    from geocarbon.inputs.densities import load_density_table

    folder = tmp_path_factory.mktemp("chinese")
    regions = gpd.read_file(sample.regions)
    assert len(regions) == N_REGIONS
    regions["name"] = CHINESE_NAMES
    regions.to_file(folder / "regions.gpkg")
    out_dir = folder / "out"
    table = load_density_table("china-clcd")
    assert len(table.names) == len(CHINESE_CLASSES)
    geocarbon.stock_change(
        [sample.landcover[0], sample.landcover[1], sample.landcover[1]],
        [2000, 2010, 2020],
        dataclasses.replace(table, names=CHINESE_CLASSES),
        regions=folder / "regions.gpkg",
        out_dir=out_dir,
        write_rasters=False,
        monte_carlo=geocarbon.MonteCarlo(draws=50, seed=1),
        **REGION_OPTIONS,
    )
    return out_dir


def svg_texts(path: Path) -> list[str]:
    """The text of every <text> element (svg.fonttype none: words are text, not glyph paths)."""
    root = ElementTree.parse(path).getroot()
    return ["".join(node.itertext()) for node in root.iter(f"{SVG}text")]


def test_chinese_names_and_labels_render_without_missing_glyphs(
    cjk_font, chinese_change_dir, tmp_path
):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = write_figures(
            chinese_change_dir, figures_dir=tmp_path, formats=("png", "svg"), lang="zh"
        )
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
    assert not [w for w in caught if issubclass(w.category, MissingFontWarning)]
    assert {path.stem for path in written} == {
        "stock_by_pool",
        "net_change",
        "transitions",
        "stock_series",
        "map",
    }
    net = svg_texts(tmp_path / "net_change.svg")
    for name in CHINESE_NAMES:
        assert name in net, name  # as typed: no template, no mathtext
    assert CHINESE.net_axis in net and CHINESE.sink in net
    assert any(text.startswith(CHINESE.net_title) for text in net)
    transitions = svg_texts(tmp_path / "transitions.svg")
    scheme_zh = class_names("clcd", CHINESE)  # the scheme's Chinese names, where it has them
    expected = {scheme_zh.get(code, name) for code, name in enumerate(CHINESE_CLASSES, start=1)}
    assert len(set(transitions) & expected) >= 2  # from and to classes of the conversions
    stock = svg_texts(tmp_path / "stock_by_pool.svg")
    assert CHINESE.pools["soil"] in stock and CHINESE.pool_title in stock
    # the CJK font is in the SVG's font list, after the Latin one
    assert cjk_font in (tmp_path / "net_change.svg").read_text(encoding="utf-8")


def test_english_figures_of_chinese_names_use_the_cjk_fallback(
    cjk_font, chinese_change_dir, tmp_path
):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_figures(chinese_change_dir, figures_dir=tmp_path, formats=("svg",))
    assert not [w for w in caught if "missing from font" in str(w.message)]
    net = svg_texts(tmp_path / "net_change.svg")
    assert ENGLISH.net_axis in net and set(CHINESE_NAMES) <= set(net)


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")
def test_a_missing_cjk_font_is_one_clear_warning(chinese_change_dir, tmp_path, monkeypatch):
    from geocarbon.figures import fonts

    monkeypatch.setattr(fonts, "cjk_family", lambda: None)
    with pytest.warns(MissingFontWarning, match="fonts-noto-cjk") as caught:
        written = write_figures(chinese_change_dir, figures_dir=tmp_path, formats=("svg",))
    (warned,) = [w for w in caught if issubclass(w.category, MissingFontWarning)]
    assert warned.filename == __file__  # points at the caller of write_figures
    assert len(written) == 5  # drawn anyway


def test_chinese_class_names_come_from_the_scheme_or_fall_back_to_the_run(change_dir):
    scheme = get_scheme("clcd")
    translated = class_names("clcd", CHINESE)
    assert translated == {c: n for c, n in zip(scheme.codes, scheme.names_zh, strict=True) if n}
    assert translated[2] == "林地"  # CLCD's published legend
    # esa-worldcover publishes no Chinese legend: its classes keep the run's names
    assert class_names("esa-worldcover", CHINESE) == {}
    assert class_names("clcd", ENGLISH) == {}
    assert class_names("my-own-table", CHINESE) == {}
    transitions = pd.read_csv(change_dir / "transitions.csv", dtype={"region_id": str})
    figure = transitions_figure(transitions, labels=CHINESE, scheme="clcd")
    labels = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    moved = transitions[transitions["class_from"] != transitions["class_to"]]
    pairs = zip(moved["class_from"], moved["name_from"], strict=True)
    expected = {translated.get(int(code), name) for code, name in pairs}
    assert set(labels) <= expected and labels
    assert not any(label.isascii() for label in labels)  # the run wrote English names
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend and set(legend) <= set(translated.values())
    assert figure.axes[0].get_xlabel() == CHINESE.transitions_axis


def test_transitions_use_the_scheme_class_colours(change_dir):
    transitions = pd.read_csv(change_dir / "transitions.csv", dtype={"region_id": str})
    figure = transitions_figure(transitions, scheme="clcd")
    scheme = get_scheme("clcd")
    legend = figure.legends[0]
    by_name = {
        text.get_text(): to_hex(handle.get_facecolor())
        for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)
    }
    assert by_name  # the sample has conversions
    for name, colour in by_name.items():
        assert colour == scheme.color_of(scheme.codes[scheme.names.index(name)]), name


def png_size(path: Path) -> tuple[int, int]:
    """Width and height in pixels, from the PNG's IHDR chunk."""
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_dpi_formats_and_editable_text(zonal_dir, tmp_path):
    low = write_figures(zonal_dir, figures_dir=tmp_path / "low", formats=("png",), dpi=100)
    written = write_figures(zonal_dir, figures_dir=tmp_path / "high", formats=("png", "svg", "pdf"))
    assert {path.suffix for path in written} == {".png", ".svg", ".pdf"}
    # default 300 dpi: three times the pixels of 100 dpi, each way (bbox "tight": +-2 px)
    low_w, low_h = png_size(low[0])
    high_w, high_h = png_size(tmp_path / "high" / "stock_by_pool.png")
    assert abs(high_w - 3 * low_w) <= 6 and abs(high_h - 3 * low_h) <= 6
    texts = svg_texts(tmp_path / "high" / "stock_by_pool.svg")
    assert ENGLISH.stock_axis in texts and ENGLISH.stock_title in texts
    regions = pd.read_csv(zonal_dir / "regions.csv", dtype={"region_id": str})
    assert set(regions["region_name"]) - {"unassigned"} <= set(texts)
    pdf = (tmp_path / "high" / "stock_by_pool.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"/FontFile2" in pdf  # TrueType embedded (fonttype 42)
    assert b"/Type3" not in pdf


@pytest.mark.parametrize(
    ("options", "culprit"),
    [({"dpi": 0}, "0"), ({"lang": "fr"}, "'fr'"), ({"formats": ("png", "tiffx")}, "tiffx")],
)
def test_bad_dpi_language_or_format_is_named_and_nothing_is_written(
    zonal_dir, tmp_path, options, culprit
):
    with pytest.raises(ConfigError) as raised:
        write_figures(zonal_dir, figures_dir=tmp_path / "figures", **options)
    assert culprit in str(raised.value) and "\n" not in str(raised.value)
    assert not (tmp_path / "figures").exists()


def test_figures_command_takes_format_dpi_and_lang(cjk_font, chinese_change_dir, tmp_path, capsys):
    out = tmp_path / "figs"
    args = ["figures", str(chinese_change_dir), "-o", str(out), "--format", "svg"]
    code = main([*args, "--format", "pdf", "--lang", "zh", "--dpi", "150"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{stem}.{suffix}"
        for stem in ("stock_by_pool", "net_change", "transitions", "stock_series", "map")
        for suffix in ("svg", "pdf")
    )
    assert CHINESE.net_axis in svg_texts(out / "net_change.svg")
    code = main(["figures", str(chinese_change_dir), "-o", str(tmp_path / "x"), "--dpi", "0"])
    captured = capsys.readouterr()
    assert code != 0 and "--dpi" in captured.err and not (tmp_path / "x").exists()
