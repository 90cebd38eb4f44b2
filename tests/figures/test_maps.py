"""The map figure: a choropleth of the regions with colour bar, scale bar and north arrow; for
regions covering China (the real provinces in ../shared/data), the South China Sea inset and the
maritime boundary lines given as a file."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.colors import to_hex
from matplotlib.patches import Rectangle

import geocarbon
from geocarbon.errors import InputFileError
from geocarbon.figures import write_figures
from geocarbon.figures.labels import CHINESE, ENGLISH
from geocarbon.figures.maps import (
    NO_DATA_COLOUR,
    covers_china,
    density_value,
    map_value_for,
    net_change_value,
    read_lines,
    region_map_figure,
)
from geocarbon.figures.tables import read_figure_tables

PROVINCES = "boundaries/china_provinces_simplified_0.01deg.geojson"
MARITIME_LINES = "boundaries/china_maritime_lines.geojson"


@pytest.fixture
def provinces(shared_data):
    import geopandas as gpd

    layer = gpd.read_file(shared_data / PROVINCES)
    layer["density_mean_mg_per_ha"] = np.linspace(40.0, 200.0, len(layer))
    layer.loc[0, "density_mean_mg_per_ha"] = np.nan  # one region without a value
    return layer


def insets(figure):
    return [child for axes in figure.axes for child in axes.child_axes]


def test_china_map_has_the_south_china_sea_inset_and_the_maritime_lines(
    provinces, shared_data, tmp_path
):
    lines = read_lines(shared_data / MARITIME_LINES)
    assert covers_china(provinces)
    figure = region_map_figure(
        provinces, density_value(CHINESE), labels=CHINESE, maritime_lines=lines
    )
    (inset,) = insets(figure)
    assert inset.get_label() == "south_china_sea_inset"
    assert [text.get_text() for text in inset.texts] == [CHINESE.south_china_sea]
    # the inset reaches the southernmost islands (about 4 N); the main map stops at 17 N
    main = figure.axes[0]
    assert inset.get_ylim()[0] < main.get_ylim()[0]
    for axes in (main, inset):
        assert [c for c in axes.collections if isinstance(c, LineCollection)]  # maritime lines
        assert len(axes.collections) >= 2  # the regions and the lines
    # regions coloured by value, the one without a value grey
    faces = main.collections[0].get_facecolors()
    assert to_hex(faces[0]) == NO_DATA_COLOUR
    assert len({to_hex(face) for face in faces}) > len(provinces) // 2
    # colour bar, scale bar, north arrow, all in Chinese
    colour_bar = figure.axes[1]
    assert colour_bar.get_ylabel() == CHINESE.density_unit
    texts = [text.get_text() for text in main.texts]
    assert CHINESE.north in texts
    assert any(text.endswith(CHINESE.kilometres) for text in texts)
    assert [p for p in main.patches if isinstance(p, Rectangle) and p.get_label() == "scale"]
    assert main.get_title() == CHINESE.density_map_title
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.savefig(tmp_path / "map.png", dpi=60)
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_a_map_of_a_province_has_no_inset_and_keeps_its_extent(provinces, shared_data):
    """Lines given for a province's map are drawn, but the map stays on the province."""
    hainan = provinces[provinces["name_en"] == "Hainan"]
    assert len(hainan) == 1 and not covers_china(hainan)
    lines = read_lines(shared_data / MARITIME_LINES)
    plain = region_map_figure(hainan, density_value())
    figure = region_map_figure(hainan, density_value(), maritime_lines=lines)
    assert insets(figure) == [] and insets(plain) == []
    assert figure.axes[0].get_xlim() == plain.axes[0].get_xlim()
    assert figure.axes[0].get_ylim() == plain.axes[0].get_ylim()
    assert [c for c in figure.axes[0].collections if isinstance(c, LineCollection)]


def test_change_map_is_centred_on_zero(change_dir, tmp_path):
    """A change run's map shows net change, sinks blue and sources red, in the run's folder."""
    regions = read_figure_tables(change_dir).regions
    assert regions is not None and not covers_china(regions)
    value = net_change_value(ENGLISH, "2000-2020")
    figure = region_map_figure(regions, value)
    assert figure.axes[0].get_title() == "Net carbon stock change, 2000-2020"
    low, high = figure.axes[1].get_ylim()  # the colour bar
    assert low == pytest.approx(-high) and high > 0  # symmetric about zero
    net = regions.set_index("region_id")["net_change_tg"]
    faces = [to_hex(face) for face in figure.axes[0].collections[0].get_facecolors()]
    for region_id, face in zip(regions["region_id"], faces, strict=True):
        red, _, blue = (int(face[k : k + 2], 16) for k in (1, 3, 5))
        assert (blue > red) == (net[region_id] > 0), region_id  # RdBu: sinks blue
    written = write_figures(change_dir, figures_dir=tmp_path, formats=("png",))
    assert tmp_path / "map.png" in written
    assert figure.axes[0].get_legend() is None  # every region has a value


def test_annual_map_of_a_change_run(change_dir, tmp_path, capsys):
    from geocarbon.cli.main import main

    regions = read_figure_tables(change_dir).regions
    value = map_value_for(regions, CHINESE, annual=True)
    assert value.column == "annual_net_change_tg_per_yr" and value.unit == CHINESE.annual_unit
    figure = region_map_figure(regions, value, labels=CHINESE)
    assert figure.axes[0].get_title() == CHINESE.titled(CHINESE.annual_map_title, "2000-2020")
    assert map_value_for(regions).column == "net_change_tg"
    code = main(["figures", str(change_dir), "-o", str(tmp_path), "--format", "svg", "--annual"])
    assert code == 0, capsys.readouterr().err
    assert ENGLISH.annual_unit in (tmp_path / "map.svg").read_text(encoding="utf-8")


def test_regions_without_a_value_are_grey_and_explained(provinces):
    figure = region_map_figure(provinces, density_value())
    legend = figure.axes[0].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [ENGLISH.no_data]


def test_unreadable_maritime_lines_are_named_and_nothing_is_written(zonal_dir, tmp_path):
    bad = tmp_path / "lines.geojson"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputFileError) as raised:
        write_figures(zonal_dir, figures_dir=tmp_path / "figures", maritime_lines=bad)
    message = str(raised.value)
    assert str(bad) in message and "\n" not in message and "maritime" in message
    assert not (tmp_path / "figures").exists()


def test_figures_of_a_zonal_run_over_china_draw_the_inset(shared_data, tmp_path, capsys):
    """End to end: a coarse land cover over China (0.5 degree pixels, classes 1-9 at random),
    the real provinces with their Chinese names, `geocarbon figures --lang zh --maritime-lines`."""
    from affine import Affine

    from geocarbon.cli.main import main
    from tests.conftest import write_raster

    west_deg, north_deg, pixel_deg = 73.0, 54.0, 0.5
    codes = np.random.default_rng(1).integers(1, 10, size=(102, 126)).astype(np.uint8)
    landcover = write_raster(
        tmp_path / "lc_2020.tif",
        codes,
        crs="EPSG:4326",
        transform=Affine(pixel_deg, 0, west_deg, 0, -pixel_deg, north_deg),
    )
    out = tmp_path / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # provinces partly outside the coarse grid, etc.
        geocarbon.zonal_stocks(
            landcover,
            shared_data / PROVINCES,
            "china-clcd",
            out_dir=out,
            id_field="adcode",
            name_field="name_zh",
            progress=False,
        )
    figures_dir = tmp_path / "figures"
    args = ["figures", str(out), "-o", str(figures_dir), "--format", "svg", "--lang", "zh"]
    code = main([*args, "--maritime-lines", str(shared_data / MARITIME_LINES)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    svg = (figures_dir / "map.svg").read_text(encoding="utf-8")
    assert CHINESE.south_china_sea in svg and CHINESE.density_map_title in svg
    regions = read_figure_tables(out).regions
    assert covers_china(regions)
    figure = region_map_figure(regions, map_value_for(regions, CHINESE), labels=CHINESE)
    assert [inset.get_label() for inset in insets(figure)] == ["south_china_sea_inset"]
    assert "浙江省" in (figures_dir / "stock_by_pool.svg").read_text(encoding="utf-8")
