"""The four figures, drawn from DataFrames shaped like geocarbon's output tables.

Each ``*_figure`` function returns a matplotlib :class:`~matplotlib.figure.Figure` on an Agg
canvas (no display, no pyplot state, nothing written); :func:`figure_builders` says which figures
a run's :class:`~geocarbon.figures.tables.FigureTables` allow. Every text is drawn as typed
(:func:`_literal_text`), and matplotlib is imported only inside the functions that draw.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geocarbon.accounts.regions import UNASSIGNED_ID
from geocarbon.figures.fonts import font_families
from geocarbon.figures.labels import ENGLISH, FigureLabels, class_colours, class_names
from geocarbon.figures.tables import FigureTables
from geocarbon.units import MG_PER_TG, POOLS

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Pool colours, fixed so that figures from different runs compare at a glance. Above, below and
#: dead are Okabe-Ito colours (distinguishable with the common colour-vision deficiencies); soil
#: is the dark brown of ColorBrewer's BrBG, darker than all three.
POOL_COLOURS: dict[str, str] = {
    "above": "#009E73",  # bluish green: living above-ground biomass
    "below": "#E69F00",  # orange: roots
    "dead": "#F0E442",  # yellow: dead wood and litter
    "soil": "#8C510A",  # brown: soil organic carbon
}
#: Net change colours (Okabe-Ito): a sink gains carbon, a source loses it.
SINK_COLOUR = "#0072B2"
SOURCE_COLOUR = "#D55E00"
NO_CHANGE_COLOUR = "#999999"
#: Colour maps of the destination classes in the transitions figure when the run's class scheme
#: is not a built-in one (whose legend colours are used, as on the web map), in class-code
#: order: tab10 up to ten classes, tab20 (light and dark pairs, harder to tell apart) beyond.
CLASS_COLOUR_MAPS = ("tab10", "tab20")
#: Whiskers of low-high ranges and Monte Carlo intervals.
WHISKER_COLOUR = "black"
FIGURE_WIDTH_IN = 8.0
#: Height per bar (or legend entry) and the fixed part (title, axis), in inches.
ROW_HEIGHT_IN = 0.32
BASE_HEIGHT_IN = 1.4


def figure_builders(
    tables: FigureTables, labels: FigureLabels = ENGLISH
) -> dict[str, Callable[[], Figure]]:
    """Figure name -> a function drawing it, for every figure the tables allow."""
    builders: dict[str, Callable[[], Figure]] = {}
    if tables.classes is not None:
        builders["stock_by_class"] = partial(
            stock_by_class_figure, tables.classes, labels=labels, scheme=tables.scheme
        )
    if tables.stocks is not None:
        builders["stock_by_pool"] = partial(stock_by_pool_figure, tables.stocks, labels=labels)
    if tables.change is not None:
        builders["net_change"] = partial(net_change_figure, tables.change, labels=labels)
    if tables.transitions is not None:
        builders["transitions"] = partial(
            transitions_figure, tables.transitions, labels=labels, scheme=tables.scheme
        )
    if tables.series is not None and tables.series["year"].nunique() > 2:
        builders["stock_series"] = partial(stock_series_figure, tables.series, labels=labels)
    return builders


def stock_by_pool_figure(stocks: pd.DataFrame, *, labels: FigureLabels = ENGLISH) -> Figure:
    """Horizontal bars of stock per region (Tg C) stacked by pool, largest region on top.

    ``stocks`` is regions.csv (zonal) or series.csv (change; its last year is drawn): one row per
    region with ``region_name`` and ``stock_<pool>_mg``. One bar segment per region and pool;
    whiskers span ``stock_total_mg_low`` to ``stock_total_mg_high`` when the table has them (a
    density table with low/high values), or the 5-95 % Monte Carlo interval of series.csv.
    """
    year = int(stocks["year"].max()) if "year" in stocks else None
    rows = stocks if year is None else stocks[stocks["year"] == year]
    rows = _regions_only(rows)
    names = rows["region_name"].astype(str).to_numpy()
    figure = _pool_bars(rows, names, labels=labels)
    title = labels.stock_title if year is None else labels.titled(labels.stock_title, year)
    figure.axes[0].set_title(title)
    return _literal_text(figure)


def stock_by_class_figure(
    classes: pd.DataFrame, *, labels: FigureLabels = ENGLISH, scheme: str | None = None
) -> Figure:
    """Horizontal bars of stock per land-cover class (Tg C) stacked by pool, for a stock run.

    ``classes`` is stock_summary.csv: one row per class (``class_code``, ``class_name``,
    ``stock_<pool>_mg``) and a TOTAL row, which is left out. Whiskers span the low-high range
    when the table has it. Class names are the scheme's Chinese names under ``labels.lang ==
    "zh"`` when it has them.
    """
    rows = classes[classes["class_code"].notna()]  # the TOTAL row has no class code
    codes = rows["class_code"].astype(int).to_numpy()
    names = _class_labels(codes, rows["class_name"].astype(str), scheme=scheme, labels=labels)
    figure = _pool_bars(rows, names, labels=labels)
    figure.axes[0].set_ylabel(labels.land_class)
    figure.axes[0].set_title(labels.class_stock_title)
    return _literal_text(figure)


def _pool_bars(rows: pd.DataFrame, names: NDArray[np.str_], *, labels: FigureLabels) -> Figure:
    """Bars of ``rows`` stacked by pool (Tg C), largest on top, with low-high whiskers."""
    pool_tg = rows[[f"stock_{pool}_mg" for pool in POOLS]].to_numpy(dtype=float) / MG_PER_TG
    order = pool_tg.sum(axis=1).argsort(kind="stable")
    figure, axes = _new_axes(len(names))
    positions = _bar_positions(axes, names[order])
    left_tg = np.zeros(len(names))
    for p, pool in enumerate(POOLS):
        axes.barh(
            positions,
            pool_tg[order, p],
            left=left_tg,
            color=POOL_COLOURS[pool],
            label=labels.pools[pool],
        )
        left_tg += pool_tg[order, p]
    handles, texts = axes.get_legend_handles_labels()
    for low, high, label in (
        ("stock_total_mg_low", "stock_total_mg_high", labels.range_label),
        ("stock_total_mg_p5", "stock_total_mg_p95", labels.interval),
    ):
        if {low, high} <= set(rows.columns):
            _draw_interval(
                axes,
                positions,
                low_tg=rows[low].to_numpy(dtype=float)[order] / MG_PER_TG,
                high_tg=rows[high].to_numpy(dtype=float)[order] / MG_PER_TG,
            )
            handles.append(_whisker_handle())
            texts.append(label)
            break
    axes.set_xlabel(labels.stock_axis)
    figure.legend(handles, texts, loc="outside right upper", title=labels.pool_title)
    return figure


def net_change_figure(change: pd.DataFrame, *, labels: FigureLabels = ENGLISH) -> Figure:
    """Horizontal bars of net change per region (Tg C) over the longest (first-to-last) period.

    Bars are blue for sinks (gain), vermillion for sources (loss); whiskers span the 5th to 95th
    percentile when ``net_change_mg_p5`` and ``net_change_mg_p95`` exist. One bar per region.
    """
    longest = change[change["years"] == change["years"].max()]
    rows = _regions_only(longest).sort_values("net_change_mg", kind="stable")
    net_tg = rows["net_change_mg"].to_numpy() / MG_PER_TG
    figure, axes = _new_axes(len(rows))
    positions = _bar_positions(axes, rows["region_name"].astype(str).to_numpy())
    axes.barh(positions, net_tg, color=[_sign_colour(value) for value in net_tg])
    with_interval = {"net_change_mg_p5", "net_change_mg_p95"} <= set(rows.columns)
    if with_interval:
        _draw_interval(
            axes,
            positions,
            low_tg=rows["net_change_mg_p5"].to_numpy() / MG_PER_TG,
            high_tg=rows["net_change_mg_p95"].to_numpy() / MG_PER_TG,
        )
    axes.axvline(0.0, color="black", linewidth=0.8)
    axes.set_xlabel(labels.net_axis)
    axes.set_title(labels.titled(labels.net_title, longest["period"].iloc[0]))
    figure.legend(
        handles=_sign_legend(with_interval=with_interval, labels=labels),
        loc="outside right upper",
    )
    return _literal_text(figure)


def transitions_figure(
    transitions: pd.DataFrame, *, labels: FigureLabels = ENGLISH, scheme: str | None = None
) -> Figure:
    """Stacked bars of the area (ha) converted from each class, stacked by destination class.

    Uses the first-to-last period (the longest), summed over regions (``unassigned`` excluded);
    persistence (``class_from == class_to``) and zero areas are left out. One bar per origin
    class that lost area, largest on top. Destination classes take the colours of the built-in
    class ``scheme`` (as the web map), else a qualitative colour map; names are the scheme's
    Chinese names under ``labels.lang == "zh"`` when it has them.
    """
    period = _longest_period(transitions["period"])
    rows = _regions_only(transitions[transitions["period"] == period])
    rows = rows[(rows["class_from"] != rows["class_to"]) & (rows["area_ha"] > 0)]
    area_ha = rows.pivot_table(
        index=["class_from", "name_from"],
        columns=["class_to", "name_to"],
        values="area_ha",
        aggfunc="sum",
        fill_value=0.0,
    )
    area_ha = area_ha.loc[area_ha.sum(axis=1).sort_values(kind="stable").index]
    figure, axes = _new_axes(max(len(area_ha), len(area_ha.columns)))
    from_codes = np.array([int(code) for code, _ in area_ha.index], dtype=np.int64)
    from_names = pd.Series([str(name) for _, name in area_ha.index], dtype=str)
    positions = _bar_positions(
        axes, _class_labels(from_codes, from_names, scheme=scheme, labels=labels)
    )
    to_codes = np.array([int(code) for code, _ in area_ha.columns], dtype=np.int64)
    to_names = _class_labels(
        to_codes,
        pd.Series([str(name) for _, name in area_ha.columns], dtype=str),
        scheme=scheme,
        labels=labels,
    )
    left_ha = np.zeros(len(area_ha))
    colours = _class_colours(to_codes, scheme=scheme)
    for column, colour, name in zip(area_ha.columns, colours, to_names, strict=True):
        widths_ha = area_ha[column].to_numpy()
        axes.barh(positions, widths_ha, left=left_ha, color=colour, label=name)
        left_ha += widths_ha
    if area_ha.empty:
        axes.text(0.5, 0.5, labels.no_conversion, ha="center", transform=axes.transAxes)
    axes.set_xlabel(labels.transitions_axis)
    axes.set_ylabel(labels.converted_from)
    axes.set_title(labels.titled(labels.transitions_title, period))
    if not area_ha.empty:
        figure.legend(loc="outside right upper", title=labels.converted_to)
    return _literal_text(figure)


def stock_series_figure(series: pd.DataFrame, *, labels: FigureLabels = ENGLISH) -> Figure:
    """Total stock per region over time (Tg C): one line per region, with the 5-95 % band when
    ``stock_total_mg_p5`` and ``stock_total_mg_p95`` exist. Legend ordered by the last stock."""
    rows = _regions_only(series).sort_values("year", kind="stable")
    last = rows[rows["year"] == rows["year"].max()]
    order = last.sort_values("stock_total_mg", ascending=False, kind="stable")["region_id"]
    bounds = {"stock_total_mg_p5", "stock_total_mg_p95"} <= set(rows.columns)
    figure, axes = _new_axes(len(order))
    for region_id in order:
        region = rows[rows["region_id"] == region_id]
        (line,) = axes.plot(
            region["year"],
            region["stock_total_mg"] / MG_PER_TG,
            marker="o",
            label=str(region["region_name"].iloc[0]),
        )
        if bounds:
            axes.fill_between(
                region["year"],
                region["stock_total_mg_p5"] / MG_PER_TG,
                region["stock_total_mg_p95"] / MG_PER_TG,
                color=line.get_color(),
                alpha=0.15,
                linewidth=0,
            )
    axes.set_xticks(sorted(rows["year"].unique()))
    axes.set_xlabel(labels.year)
    axes.set_ylabel(labels.series_axis)
    axes.set_title(labels.series_title + (labels.series_band if bounds else ""))
    figure.legend(loc="outside right upper", title=labels.region)
    return _literal_text(figure)


def _new_axes(n_rows: int) -> tuple[Figure, Axes]:
    """A figure on an Agg canvas (never shown, never registered with pyplot) and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    height_in = BASE_HEIGHT_IN + ROW_HEIGHT_IN * max(n_rows, 4)
    figure = Figure(figsize=(FIGURE_WIDTH_IN, height_in), layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _bar_positions(axes: Axes, names: NDArray[np.str_]) -> NDArray[np.intp]:
    """One y position per bar, labelled with its name (two regions may share a name)."""
    positions = np.arange(len(names))
    # tick labels are re-made from these at every draw, so they are made drawable here
    drawn = [drawable(str(name)) for name in names]
    axes.set_yticks(positions, labels=drawn, parse_math=False, usetex=False)
    axes.set_ylim(-0.6, max(len(names), 1) - 0.4)
    return positions


def _literal_text(figure: Figure) -> Figure:
    """Draw every text of ``figure`` as typed: a region or class name holding ``$`` is not
    mathtext (``$\\frac{$`` would crash it, ``$x$`` turn italic), nor LaTeX if ``text.usetex``;
    and in the figures' fonts, Noto Sans CJK after the Latin font, so that Chinese names and
    labels have glyphs wherever the figure is saved (numbers added at draw time need none)."""
    from matplotlib.text import Text

    families = font_families(needs_cjk=False)
    for text in figure.findobj(Text):
        text.set_parse_math(False)
        text.set_usetex(False)
        text.set_fontfamily(families)
        text.set_text(drawable(text.get_text()))
    return figure


def drawable(text: str) -> str:
    """``text`` with control characters other than line breaks (a tab, from a spreadsheet) as
    spaces: no font has a glyph for them, so each would be drawn as an empty box."""
    return "".join(" " if _is_control(character) else character for character in text)


def _is_control(character: str) -> bool:
    code = ord(character)
    return (code < 32 and character != "\n") or 127 <= code < 160  # C0 (but \n), DEL, C1


def _regions_only(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["region_id"].astype(str) != UNASSIGNED_ID]


def _longest_period(labels: pd.Series) -> str:
    """The period label ("2000-2020") spanning the most years: first-to-last."""

    def span_years(label: str) -> int:
        start, end = label.split("-")
        return int(end) - int(start)

    return max(labels.astype(str).unique(), key=span_years)


def _sign_colour(net_tg: float) -> str:
    if net_tg > 0:
        return SINK_COLOUR
    return SOURCE_COLOUR if net_tg < 0 else NO_CHANGE_COLOUR


def _draw_interval(
    axes: Axes,
    positions: NDArray[np.intp],
    *,
    low_tg: NDArray[np.float64],
    high_tg: NDArray[np.float64],
) -> None:
    """Whiskers from the 5th to the 95th percentile, drawn about their midpoint: the central
    estimate need not lie in the middle of the interval (nor inside it)."""
    axes.errorbar(
        (low_tg + high_tg) / 2,
        positions,
        xerr=(high_tg - low_tg) / 2,
        fmt="none",
        ecolor=WHISKER_COLOUR,
        capsize=3,
        linewidth=1,
    )


def _whisker_handle(label: str = "") -> Artist:
    from matplotlib.lines import Line2D

    return Line2D([], [], color=WHISKER_COLOUR, linewidth=1, label=label)


def _sign_legend(*, with_interval: bool, labels: FigureLabels) -> list[Artist]:
    from matplotlib.patches import Patch

    handles: list[Artist] = [
        Patch(color=SINK_COLOUR, label=labels.sink),
        Patch(color=SOURCE_COLOUR, label=labels.source),
    ]
    if with_interval:
        handles.append(_whisker_handle(labels.interval))
    return handles


def _class_labels(
    codes: NDArray[np.int64], names: pd.Series, *, scheme: str | None, labels: FigureLabels
) -> NDArray[np.str_]:
    """The name to draw for each class: the scheme's name in ``labels.lang`` if it has one,
    else the run's own."""
    translated = class_names(scheme, labels)
    own = names.astype(str).to_numpy()
    return np.array([translated.get(int(c), n) for c, n in zip(codes, own, strict=True)], dtype=str)


def _class_colours(
    codes: NDArray[np.int64], *, scheme: str | None
) -> list[str | tuple[float, ...]]:
    """The scheme's legend colour of each class code; a qualitative colour map when the scheme
    is not built in or lacks a code."""
    from matplotlib import colormaps

    by_code = class_colours(scheme)
    if all(int(code) in by_code for code in codes):
        return [by_code[int(code)] for code in codes]
    few, many = CLASS_COLOUR_MAPS
    colour_map = colormaps[few if len(codes) <= colormaps[few].N else many]
    return [colour_map(k % colour_map.N) for k in range(len(codes))]
