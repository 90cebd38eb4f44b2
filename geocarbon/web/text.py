"""Every text a map page shows, as plain data: legends, layer labels, region popups, numbers.

This module is the page-text side of :mod:`geocarbon.web.map`: frozen dataclasses sent to the
page as JSON by :func:`geocarbon.web.assets.map_script` (set there as text, never as HTML), and
the few functions that turn table rows and numbers into that text. It imports neither folium nor
branca, so nothing here can reach a Jinja template. Legends stay in this module rather than a
``legend.py`` of their own: a :class:`Legend` is one of the texts a :class:`PageText` carries,
and its labels are made with the same number formatting as the tooltips and popups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geocarbon import i18n
from geocarbon.units import POOLS
from geocarbon.web.layers import DisplayUnit, column_unit

if TYPE_CHECKING:
    from geocarbon.inputs.schemes import ClassScheme
    from geocarbon.web.overlays import Ramp


#: (column, label key) of the stocks a region popup lists
STOCK_ROWS = (
    ("stock_total_mg", "layer.stock_total"),
    ("stock_start_mg", "layer.stock_start"),
    ("stock_end_mg", "layer.stock_end"),
)


@dataclass(frozen=True)
class Legend:
    """A legend: title, units and (label, ``#rrggbb``) stops."""

    title: str
    units: str
    stops: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class OverlayText:
    """One switchable layer: its label and legend, and the folium variables that draw it.

    ``group`` is the JavaScript variable of its FeatureGroup. A region layer has ``values``
    (formatted, for tooltips) and ``fills`` (colours), one per region in the order of
    :attr:`PageText.regions`; the page script draws :attr:`PageText.outlines` into the group
    with them. ``tiles`` is the relative URL template of an XYZ pyramid, added to the group by
    the page script.
    """

    label: str
    group: str
    legend: Legend
    shown: bool = False
    values: tuple[str, ...] | None = None
    fills: tuple[str, ...] | None = None
    tiles: str | None = None
    max_native_zoom: int | None = None


@dataclass(frozen=True)
class RegionText:
    """A region's name, its (pool, value) rows and (from, to, amounts) largest transitions."""

    name: str
    pools: tuple[tuple[str, str], ...]
    transitions: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class PageText:
    """Every text a map page shows, with the folium layers it belongs to (sent as JSON)."""

    title: str
    bases: tuple[tuple[str, str], ...]  # (label, JavaScript variable of the tile layer)
    overlays: tuple[OverlayText, ...]
    regions: tuple[RegionText, ...]
    words: dict[str, str] = field(default_factory=dict)  # the page script's fixed words
    tiles: str | None = None  # URL template of a base map shown first
    outlines: dict[str, Any] | None = None  # GeoJSON of the regions (property region: index)

    def layer_names(self) -> list[str]:
        """The JavaScript variables of every layer the page text refers to."""
        names = [variable for _, variable in self.bases]
        for overlay in self.overlays:
            names.append(overlay.group)
        return names


def region_legend(
    name: str, units: str, edges: Any, colours: Sequence[str], lang: str = "en"
) -> Legend:
    """The legend of a choropleth: one range of values per class colour."""
    stops = tuple((range_label(edges, k, lang), c) for k, c in enumerate(colours))
    return Legend(name, units, stops)


def ramp_legend(label: str, units: str, ramp: Ramp, lang: str = "en") -> Legend:
    """The legend of a raster drawn with ``ramp``: evenly spaced values and their colours; the
    ends read ``<= low`` and ``>= high`` (values beyond the ramp take its end colours)."""
    colours = ramp.colours()
    labels = [format_value(v, "", lang) for v, _ in colours]
    labels[0], labels[-1] = f"<= {labels[0]}", f">= {labels[-1]}"
    return Legend(label, units, tuple(zip(labels, (c for _, c in colours), strict=True)))


def class_legend(scheme: ClassScheme, present: Sequence[int], lang: str = "en") -> Legend:
    """The legend of a land-cover layer: code and name (Chinese where the scheme publishes one
    and ``lang`` is ``zh``) of every class ``present``."""
    import matplotlib.colors

    names = class_names(scheme, lang)
    stops = tuple(
        (f"{c} {names.get(c) or scheme.name_of(c)}", matplotlib.colors.to_hex(scheme.color_of(c)))
        for c in present
    )
    return Legend(f"{i18n.label('layer.land_cover', lang)} ({scheme.title})", "", stops)


def class_names(scheme: ClassScheme | None, lang: str) -> dict[int, str]:
    """Class code -> Chinese name from the scheme (``name_zh``) when ``lang`` is ``zh``."""
    if scheme is None or lang != "zh":
        return {}
    names_zh = getattr(scheme, "names_zh", None) or ()
    return {code: name for code, name in zip(scheme.codes, names_zh, strict=False) if name}


def region_text(
    row: pd.Series,
    transitions: pd.DataFrame | None,
    units: dict[str, DisplayUnit],
    lang: str = "en",
    class_names_zh: dict[int, str] | None = None,
) -> RegionText:
    """A region's name, its figures (area, mean density, net change with its 5-95 % interval,
    annual rate, NPV, per-pool stock and change, each mass in its quantity's unit) and largest
    transitions, as plain text in ``lang``."""
    rows = _region_rows(row, units, lang)
    moves: list[tuple[str, str, str]] = []
    if transitions is not None and "period" in row and pd.notna(row.get("period")):
        moved = transitions[
            (transitions["region_id"].astype(str) == str(row["region_id"]))
            & (transitions["period"] == row["period"])
        ]
        moved = moved[moved["class_from"] != moved["class_to"]]
        top = moved.reindex(moved["change_total_mg"].abs().sort_values(ascending=False).index)
        change = column_unit("change_total_mg", units)
        names = class_names_zh or {}
        area = i18n.unit("ha", lang)
        moves = [
            (
                _class_name(t.class_from, t.name_from, names),
                _class_name(t.class_to, t.name_to, names),
                f"{t.area_ha:,.1f} {area}, "
                f"{format_value(change.of(t.change_total_mg), change.symbol, lang, sign=True)}",
            )
            for t in top.head(3).itertuples()
        ]
    return RegionText(str(row.get("region_name", row["region_id"])), tuple(rows), tuple(moves))


def _class_name(code: object, name: object, names: dict[int, str]) -> str:
    try:
        return names.get(int(str(code)), str(name))
    except ValueError:
        return str(name)


def _region_rows(row: pd.Series, units: dict[str, DisplayUnit], lang: str) -> list[tuple[str, str]]:
    label = i18n.label
    rows: list[tuple[str, str]] = []
    for column in ("valid_area_ha", "compared_area_ha"):
        if column in row and pd.notna(row[column]):
            rows.append((label("area", lang), format_value(row[column], i18n.unit("ha", lang))))
            break
    if "density_mean_mg_per_ha" in row:
        density = format_value(row["density_mean_mg_per_ha"], "Mg C/ha", lang)
        rows.append((label("layer.density_mean", lang), density))
    for column, key in STOCK_ROWS:
        if column in row and pd.notna(row[column]):
            shown = column_unit(column, units)
            rows.append((label(key, lang), format_value(shown.of(row[column]), shown.symbol, lang)))
    if "net_change_mg" in row:
        change = column_unit("net_change_mg", units)
        text = format_value(change.of(row["net_change_mg"]), change.symbol, lang, sign=True)
        if {"net_change_mg_p5", "net_change_mg_p95"} <= set(row.index):
            low, high = (change.of(row[f"net_change_mg_{p}"]) for p in ("p5", "p95"))
            text += f" ({label('interval', lang)} {low:+,.4g} {label('to', lang)} {high:+,.4g})"
        rows.append((label("layer.net_change", lang), text))
    if "annual_net_change_mg_per_yr" in row and "rate" in units:
        rate = units["rate"]
        value = rate.of(row["annual_net_change_mg_per_yr"])
        rows.append(
            (label("layer.annual_net_change", lang), format_value(value, rate.symbol, lang, True))
        )
    if "npv" in row and pd.notna(row["npv"]):
        rows.append((label("npv", lang), f"{row['npv']:,.0f}"))
    for pool in POOLS:
        for column, word in ((f"stock_{pool}_mg", "stock"), (f"change_{pool}_mg", "change")):
            if column in row and pd.notna(row[column]):
                shown = column_unit(column, units)
                separator = "" if lang == "zh" else " "  # 地上生物量储量
                name = f"{label(f'pool.{pool}', lang)}{separator}{label(word, lang)}"
                rows.append((name, format_value(shown.of(row[column]), shown.symbol, lang)))
    return rows


def range_label(edges: Any, k: int, lang: str = "en") -> str:
    """The legend label of class ``k`` between ``edges[k]`` and ``edges[k + 1]``: the lowest
    class reads ``< edges[1]``, the highest ``>= edges[k]``, the others ``a to b``."""
    last = len(edges) - 2
    if last > 0 and k == 0:
        return f"< {edges[1]:,.4g}"
    if last > 0 and k == last:
        return f">= {edges[k]:,.4g}"
    return f"{edges[k]:,.4g} {i18n.label('to', lang)} {edges[k + 1]:,.4g}"


def format_value(value: float, units: str, lang: str = "en", sign: bool = False) -> str:
    """``value`` with four significant digits (whole numbers from 10,000) and its units;
    ``no data`` in ``lang`` if not finite."""
    if not np.isfinite(value):
        return i18n.label("no_data", lang)
    digits = ",.0f" if abs(value) >= 10_000 else ",.4g"  # 14,830,000 ha, not 1.483e+07
    number = format(value, f"+{digits}" if sign else digits)
    return f"{number} {units}".strip()
