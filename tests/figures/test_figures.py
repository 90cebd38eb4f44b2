"""Figures drawn from real zonal and change outputs of the bundled sample.

The outputs come from the Python API run once per module on the synthetic sample (six regions,
CLCD classes, 2000 and 2020), written to a temporary folder. Bars are counted and measured
against the tables they were drawn from; files, refusals and missing inputs are checked.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.container import ErrorbarContainer
from matplotlib.patches import Rectangle

import geocarbon
from geocarbon.errors import ConfigError, InputFileError, OutputExistsError
from geocarbon.figures import write_figures
from geocarbon.figures.charts import (
    POOL_COLOURS,
    SINK_COLOUR,
    SOURCE_COLOUR,
    net_change_figure,
    stock_by_class_figure,
    stock_by_pool_figure,
    stock_series_figure,
    transitions_figure,
)
from geocarbon.figures.tables import INPUT_NAMES, read_figure_tables
from geocarbon.outputs.folder import MANIFEST_NAME
from geocarbon.units import MG_PER_TG, POOLS

from conftest import N_REGIONS, REGION_OPTIONS


def read(path: Path) -> pd.DataFrame:
    """A run's table as geocarbon reads it back (spreadsheet quotes undone)."""
    from geocarbon.outputs.spreadsheet import restore_formulas

    return restore_formulas(pd.read_csv(path, dtype={"region_id": str}))


def regions_only(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["region_id"] != "unassigned"]


def bars(figure) -> list[Rectangle]:
    return [patch for patch in figure.axes[0].patches if isinstance(patch, Rectangle)]


def tick_labels(figure) -> list[str]:
    return [label.get_text() for label in figure.axes[0].get_yticklabels()]


def bar_totals_by_row(figure) -> dict[str, float]:
    """Sum of bar widths at each y tick, keyed by the tick's label."""
    labels = tick_labels(figure)
    totals = dict.fromkeys(labels, 0.0)
    for bar in bars(figure):
        row = round(bar.get_y() + bar.get_height() / 2)
        totals[labels[row]] += bar.get_width()
    return totals


def test_stock_by_pool_has_one_bar_per_region_and_pool(zonal_dir):
    regions = read(zonal_dir / "regions.csv")
    figure = stock_by_pool_figure(regions)
    assert isinstance(figure.canvas, FigureCanvasAgg)
    figure.canvas.draw()
    # 6 regions x 4 pools; unassigned is not a region.
    assert len(bars(figure)) == N_REGIONS * len(POOLS)
    expected = regions_only(regions).sort_values("stock_total_mg")
    assert tick_labels(figure) == expected["region_name"].tolist()  # largest on top
    totals = bar_totals_by_row(figure)
    for row in expected.itertuples():
        assert totals[row.region_name] == pytest.approx(row.stock_total_mg / MG_PER_TG)
    colours = {tuple(bar.get_facecolor()) for bar in bars(figure)}
    assert len(colours) == len(POOL_COLOURS)
    assert "Tg C" in figure.axes[0].get_xlabel()


def assert_whiskers(figure, low_mg: pd.Series, high_mg: pd.Series) -> None:
    """One whisker per bar, spanning low to high (Mg C in the table, Tg C drawn), bottom up."""
    (whiskers,) = [c for c in figure.axes[0].containers if isinstance(c, ErrorbarContainer)]
    segments = whiskers.lines[2][0].get_segments()
    np.testing.assert_allclose([s[0][0] for s in segments], low_mg / MG_PER_TG)
    np.testing.assert_allclose([s[1][0] for s in segments], high_mg / MG_PER_TG)


def test_stock_by_pool_shows_the_low_high_range(zonal_dir):
    """The density table has low and high values: regions.csv has stock_total_mg_low/_high."""
    regions = read(zonal_dir / "regions.csv")
    expected = regions_only(regions).sort_values("stock_total_mg", kind="stable")
    figure = stock_by_pool_figure(regions)
    assert_whiskers(figure, expected["stock_total_mg_low"], expected["stock_total_mg_high"])
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legend == [*POOLS, "low-high range"]
    plain = stock_by_pool_figure(
        regions.drop(columns=["stock_total_mg_low", "stock_total_mg_high"])
    )
    assert not [c for c in plain.axes[0].containers if isinstance(c, ErrorbarContainer)]


def test_stock_by_pool_after_change_uses_the_last_year(change3_dir):
    series = read(change3_dir / "series.csv")
    figure = stock_by_pool_figure(series)
    assert len(bars(figure)) == N_REGIONS * len(POOLS)
    assert figure.axes[0].get_title().endswith("2020")
    last = regions_only(series[series["year"] == 2020])
    totals = bar_totals_by_row(figure)
    for row in last.itertuples():
        assert totals[row.region_name] == pytest.approx(row.stock_total_mg / MG_PER_TG)


@pytest.mark.parametrize("fixture", ["change_dir", "change3_dir"])
def test_net_change_has_one_bar_per_region_with_whiskers(fixture, request):
    change = read(request.getfixturevalue(fixture) / "change.csv")
    figure = net_change_figure(change)
    axes = figure.axes[0]
    assert len(bars(figure)) == N_REGIONS
    assert axes.get_title().endswith("2000-2020")
    expected = regions_only(change[change["period"] == "2000-2020"]).sort_values("net_change_mg")
    assert tick_labels(figure) == expected["region_name"].tolist()
    widths_tg = [bar.get_width() for bar in bars(figure)]
    np.testing.assert_allclose(widths_tg, expected["net_change_mg"] / MG_PER_TG)
    colours = [SINK_COLOUR if width > 0 else SOURCE_COLOUR for width in widths_tg]
    assert [bar.get_facecolor() for bar in bars(figure)] == [
        pytest.approx(to_rgba(colour)) for colour in colours
    ]
    (whiskers,) = [c for c in axes.containers if isinstance(c, ErrorbarContainer)]
    segments = whiskers.lines[2][0].get_segments()
    np.testing.assert_allclose(
        [s[0][0] for s in segments], expected["net_change_mg_p5"] / MG_PER_TG
    )
    np.testing.assert_allclose(
        [s[1][0] for s in segments], expected["net_change_mg_p95"] / MG_PER_TG
    )
    assert "Tg C" in axes.get_xlabel()


def test_net_change_without_bounds_has_no_whiskers(change_dir):
    change = read(change_dir / "change.csv").drop(columns=["net_change_mg_p5", "net_change_mg_p95"])
    figure = net_change_figure(change)
    assert len(bars(figure)) == N_REGIONS
    assert not [c for c in figure.axes[0].containers if isinstance(c, ErrorbarContainer)]


@pytest.mark.parametrize("fixture", ["change_dir", "change3_dir"])
def test_transitions_bars_are_the_classes_that_lost_area(fixture, request):
    transitions = read(request.getfixturevalue(fixture) / "transitions.csv")
    figure = transitions_figure(transitions)
    moved = regions_only(transitions[transitions["period"] == "2000-2020"])
    moved = moved[(moved["class_from"] != moved["class_to"]) & (moved["area_ha"] > 0)]
    from_names = set(moved["name_from"])
    assert from_names  # the sample has conversions
    assert set(tick_labels(figure)) == from_names
    assert len(tick_labels(figure)) == len(from_names)
    # Every from-class bar is stacked from one segment per to-class (zero where none).
    assert len(bars(figure)) == len(from_names) * moved["class_to"].nunique()
    totals = bar_totals_by_row(figure)
    by_origin = moved.groupby("name_from")["area_ha"].sum()
    for name, area_ha in by_origin.items():
        assert totals[name] == pytest.approx(area_ha)
    assert figure.axes[0].get_title().endswith("2000-2020")
    assert "(ha)" in figure.axes[0].get_xlabel()


def test_stock_series_draws_lines_and_bands(change3_dir):
    series = read(change3_dir / "series.csv")
    figure = stock_series_figure(series)
    axes = figure.axes[0]
    assert len(axes.lines) == N_REGIONS
    assert len(axes.collections) == N_REGIONS  # one 5-95 % band per region
    for line in axes.lines:
        assert list(line.get_xdata()) == [2000, 2010, 2020]
    assert "Tg C" in axes.get_ylabel()
    plain = stock_series_figure(series.drop(columns=["stock_total_mg_p5", "stock_total_mg_p95"]))
    assert len(plain.axes[0].collections) == 0


def test_stock_series_only_with_more_than_two_years(change_dir, change3_dir, tmp_path):
    two = write_figures(change_dir, figures_dir=tmp_path / "two")
    three = write_figures(change3_dir, figures_dir=tmp_path / "three")
    assert {path.stem for path in two} == {"stock_by_pool", "net_change", "transitions", "map"}
    assert {path.stem for path in three} == {
        "stock_by_pool",
        "net_change",
        "transitions",
        "stock_series",
        "map",
    }


def test_zonal_outputs_give_the_stock_figure_and_the_map(zonal_dir, tmp_path):
    written = write_figures(zonal_dir, figures_dir=tmp_path)
    assert [path.name for path in written] == [
        "stock_by_pool.png",
        "stock_by_pool.svg",
        "map.png",
        "map.svg",
    ]


def test_png_and_svg_files_exist_and_are_not_empty(change3_dir, tmp_path):
    written = write_figures(change3_dir, figures_dir=tmp_path / "figures")
    assert len(written) == 5 * 2
    for path in written:
        assert path.parent == tmp_path / "figures" and path.stat().st_size > 1000
        if path.suffix == ".png":
            assert path.read_bytes().startswith(b"\x89PNG")
        else:
            assert "<svg" in path.read_text()
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(
        p.name for p in written
    )  # no temporary file left behind


def test_default_figures_dir_is_inside_out_dir(zonal_dir):
    written = write_figures(zonal_dir, formats=("png",), overwrite=True)
    assert written == [zonal_dir / "figures" / name for name in ("stock_by_pool.png", "map.png")]


def test_existing_figure_is_refused_by_name_and_kept(change_dir, tmp_path):
    figures_dir = tmp_path / "figures"
    write_figures(change_dir, figures_dir=figures_dir)
    (figures_dir / "transitions.svg").write_text("keep me")
    with pytest.raises(OutputExistsError, match="transitions.svg") as raised:
        write_figures(change_dir, figures_dir=figures_dir)
    assert "overwrite" in str(raised.value)
    assert (figures_dir / "transitions.svg").read_text() == "keep me"
    write_figures(change_dir, figures_dir=figures_dir, overwrite=True)
    assert "<svg" in (figures_dir / "transitions.svg").read_text()


@pytest.mark.parametrize("folder", ["empty", "missing"])
def test_a_folder_without_a_run_is_named_and_nothing_is_written(folder, tmp_path):
    out_dir = tmp_path / folder
    if folder == "empty":
        out_dir.mkdir()
    with pytest.raises(InputFileError) as raised:
        write_figures(out_dir)
    message = str(raised.value)
    assert str(out_dir) in message and "zonal or change run" in message
    assert "\n" not in message
    assert not (out_dir / "figures").exists()


def test_a_stock_run_gets_its_stock_by_class_figure(stock_dir, tmp_path):
    """stock_summary.csv: one bar per class stacked by pool, the TOTAL row left out, whiskers
    from stock_total_mg_low to stock_total_mg_high (china-clcd has low/high densities)."""
    written = write_figures(stock_dir, figures_dir=tmp_path, formats=("png",))
    assert [path.name for path in written] == ["stock_by_class.png"]
    classes = read(stock_dir / "stock_summary.csv")
    classes = classes[classes["class_code"].notna()].sort_values("stock_total_mg", kind="stable")
    figure = stock_by_class_figure(classes)
    assert tick_labels(figure) == classes["class_name"].tolist()
    assert len(bars(figure)) == len(classes) * len(POOLS)
    totals = bar_totals_by_row(figure)
    for row in classes.itertuples():
        assert totals[row.class_name] == pytest.approx(row.stock_total_mg / MG_PER_TG)
    assert_whiskers(figure, classes["stock_total_mg_low"], classes["stock_total_mg_high"])


def test_a_stock_run_without_its_table_is_named(stock_dir, tmp_path):
    folder = tmp_path / "stock"
    shutil.copytree(stock_dir, folder)
    (folder / "stock_summary.csv").unlink()
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(InputFileError) as raised:
        write_figures(folder)
    message = str(raised.value)
    assert "stock run" in message and str(folder) in message
    for name in INPUT_NAMES:
        assert name in message
    assert sorted(p.name for p in folder.iterdir()) == before  # no figures folder


def test_table_without_the_needed_columns_is_named(tmp_path):
    """A folder of an older geocarbon (no manifest): its summary says which run wrote it."""
    (tmp_path / "change_summary.json").write_text(
        json.dumps({"years": [2000, 2020], "periods": {"2000-2020": {}}}), encoding="utf-8"
    )
    pd.DataFrame({"region_id": ["1"], "net_change_mg": [1.0]}).to_csv(
        tmp_path / "change.csv", index=False
    )
    with pytest.raises(InputFileError, match=r"change\.csv.*region_name, period, years"):
        write_figures(tmp_path)
    assert not (tmp_path / "figures").exists()


def test_stale_tables_of_an_earlier_run_are_not_drawn(zonal_dir, change3_dir, tmp_path):
    """Tables the manifest does not list (left by an earlier change run) are ignored."""
    folder = tmp_path / "zonal"
    shutil.copytree(zonal_dir, folder)
    for name in ("change.csv", "series.csv", "transitions.csv"):
        shutil.copy(change3_dir / name, folder / name)
    written = write_figures(folder, figures_dir=tmp_path / "figures", formats=("png",))
    assert [path.name for path in written] == ["stock_by_pool.png", "map.png"]
    # the zonal stocks, not the change run's series
    tables = read_figure_tables(folder)
    assert tables.change is None and tables.series is None
    assert "year" not in tables.stocks.columns


def test_a_folder_without_manifest_is_read_from_its_summary(change3_dir, zonal_dir, tmp_path):
    """Written by a geocarbon without manifests: the summary's periods and years name the files;
    a stale zonal regions.csv beside a change run is not taken for its stocks."""
    folder = tmp_path / "old"
    shutil.copytree(change3_dir, folder)
    (folder / MANIFEST_NAME).unlink()
    shutil.copy(zonal_dir / "regions.csv", folder / "regions.csv")
    written = write_figures(folder, figures_dir=tmp_path / "figures", formats=("png",))
    assert {path.stem for path in written} == {
        "stock_by_pool",
        "net_change",
        "transitions",
        "stock_series",
        "map",
    }
    assert "year" in read_figure_tables(folder).stocks.columns  # series.csv


def test_unknown_format_is_refused(zonal_dir, tmp_path):
    with pytest.raises(ConfigError, match="bmpx"):
        write_figures(zonal_dir, figures_dir=tmp_path, formats=("png", "bmpx"))
    assert not tmp_path.joinpath("stock_by_pool.png").exists()


# Names that matplotlib would read as mathtext: "$\frac{$" crashes it, "$x$" turns italic
MATH_NAMES = [
    "$\\frac{$",
    "$x$",
    "cost $5 or $6",
    "$\\alpha_1^{2}$ county",
    "{{7*7}} $",
    "=1+1 a$b {#",
]


@pytest.fixture(scope="module")
def math_change_dir(tmp_path_factory: pytest.TempPathFactory, sample) -> Path:
    """A change run whose region names and density-table class names hold mathtext."""
    import dataclasses

    import geopandas as gpd

    from geocarbon.inputs.densities import load_density_table

    folder = tmp_path_factory.mktemp("mathtext")
    regions = gpd.read_file(sample.regions)
    assert len(regions) == N_REGIONS
    regions["name"] = MATH_NAMES
    regions.to_file(folder / "regions.gpkg")
    table = load_density_table("china-clcd")
    names = tuple(
        f"${name}$" if k % 2 else f"$\\frac{{$ {name}" for k, name in enumerate(table.names)
    )
    out_dir = folder / "out"
    geocarbon.stock_change(
        list(sample.landcover),
        [2000, 2020],
        dataclasses.replace(table, names=names),
        regions=folder / "regions.gpkg",
        out_dir=out_dir,
        write_rasters=False,
        monte_carlo=None,
        **REGION_OPTIONS,
    )
    return out_dir


def test_names_with_dollars_are_drawn_as_typed(math_change_dir, tmp_path):
    import matplotlib
    from matplotlib.text import Text

    change = read(math_change_dir / "change.csv")
    transitions = read(math_change_dir / "transitions.csv")
    series = read(math_change_dir / "series.csv")
    figures = {
        "stock_by_pool": stock_by_pool_figure(series),
        "net_change": net_change_figure(change),
        "transitions": transitions_figure(transitions),
        "stock_series": stock_series_figure(series),
    }
    assert set(tick_labels(figures["net_change"])) == set(MATH_NAMES)
    assert set(tick_labels(figures["stock_by_pool"])) == set(MATH_NAMES)
    moved = transitions[transitions["class_from"] != transitions["class_to"]]
    assert set(tick_labels(figures["transitions"])) <= set(moved["name_from"])
    legend_texts = {t.get_text() for t in figures["transitions"].legends[0].get_texts()}
    assert legend_texts <= set(moved["name_to"]) and any("$" in t for t in legend_texts)
    series_legend = {t.get_text() for t in figures["stock_series"].legends[0].get_texts()}
    assert series_legend == set(MATH_NAMES)
    for figure in figures.values():
        figure.canvas.draw()  # "$\frac{$" as mathtext would raise here
        for text in figure.findobj(Text):
            assert not text.get_parse_math(), text.get_text()
    # written as SVG with real text, every name appears exactly as typed, not as math glyphs
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        written = write_figures(math_change_dir, figures_dir=tmp_path, formats=("svg",))
    assert len(written) == 4  # two dates: no stock series
    svg = (tmp_path / "net_change.svg").read_text(encoding="utf-8")
    for name in MATH_NAMES:
        assert f">{name}<" in svg, name
    svg = (tmp_path / "transitions.svg").read_text(encoding="utf-8")
    for name in legend_texts:
        assert f">{name}<" in svg, name


def test_figures_read_quoted_spreadsheet_cells_back_as_typed(zonal_dir, tmp_path):
    """regions.csv cells that spreadsheets would run as formulas carry a leading ' (see
    spreadsheet.py); the figure shows the names as typed."""
    from geocarbon.outputs.spreadsheet import neutralise_formulas

    regions = read(zonal_dir / "regions.csv")
    names = ["=SUM(A1)", "-North", "+East", "@West", "\tSouth", "Centre"]
    regions.loc[regions["region_id"] != "unassigned", "region_name"] = names
    folder = tmp_path / "zonal"
    folder.mkdir()
    shutil.copy(zonal_dir / "zonal_summary.json", folder)  # no manifest: the summary names the run
    neutralise_formulas(regions).to_csv(folder / "regions.csv", index=False, lineterminator="\r\n")
    assert "'=SUM(A1)" in (folder / "regions.csv").read_text(encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_figures(folder, formats=("png",))
    assert not [w for w in caught if "missing from font" in str(w.message)]  # the tab
    drawn = set(tick_labels(stock_by_pool_figure(read_figure_tables(folder).stocks)))
    assert drawn == {name.replace("\t", " ") for name in names}  # a tab has no glyph: a space
