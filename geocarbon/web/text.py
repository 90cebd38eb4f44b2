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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geocarbon.units import MG_PER_TG, POOLS

if TYPE_CHECKING:
    from geocarbon.inputs.schemes import ClassScheme
    from geocarbon.web.overlays import Ramp


@dataclass(frozen=True)
class Legend:
    """A legend: title, units and (label, ``#rrggbb``) stops."""

    title: str
    units: str
    stops: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class OverlayText:
    """One switchable layer: its label and legend, and the folium variables that draw it.

    ``group`` is the JavaScript variable of its FeatureGroup; ``shapes`` that of the GeoJson
    whose features (property ``region``: index into :attr:`PageText.regions`, ``value``: the
    formatted value) get tooltips and popups; ``tiles`` the relative URL template of an XYZ
    pyramid, added to the group by the page script.
    """

    label: str
    group: str
    legend: Legend
    shown: bool = False
    shapes: str | None = None
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

    def layer_names(self) -> list[str]:
        """The JavaScript variables of every layer the page text refers to."""
        names = [variable for _, variable in self.bases]
        for overlay in self.overlays:
            names += [overlay.group] + ([overlay.shapes] if overlay.shapes else [])
        return names


def region_legend(name: str, units: str, edges: Any, colours: Sequence[str]) -> Legend:
    """The legend of a choropleth: one range of values per class colour."""
    return Legend(name, units, tuple((range_label(edges, k), c) for k, c in enumerate(colours)))


def ramp_legend(label: str, units: str, ramp: Ramp) -> Legend:
    """The legend of a raster drawn with ``ramp``: evenly spaced values and their colours."""
    return Legend(label, units, tuple((format_value(v, units), c) for v, c in ramp.colours()))


def class_legend(scheme: ClassScheme, present: Sequence[int]) -> Legend:
    """The legend of a land-cover layer: code and name of every class ``present``."""
    import matplotlib.colors

    stops = tuple(
        (f"{c} {scheme.name_of(c)}", matplotlib.colors.to_hex(scheme.color_of(c))) for c in present
    )
    return Legend(f"Land cover ({scheme.title})", "", stops)


def region_text(row: pd.Series, transitions: pd.DataFrame | None) -> RegionText:
    """A region's name, per-pool rows and largest transitions, as plain text."""
    pools = []
    for pool in POOLS:
        for column, label in ((f"stock_{pool}_mg", "stock"), (f"change_{pool}_mg", "change")):
            if column in row and pd.notna(row[column]):
                pools.append((f"{pool} {label}", format_value(row[column] / MG_PER_TG, "Tg C")))
    moves: list[tuple[str, str, str]] = []
    if transitions is not None and "period" in row and pd.notna(row.get("period")):
        moved = transitions[
            (transitions["region_id"].astype(str) == str(row["region_id"]))
            & (transitions["period"] == row["period"])
        ]
        moved = moved[moved["class_from"] != moved["class_to"]]
        top = moved.reindex(moved["change_total_mg"].abs().sort_values(ascending=False).index)
        moves = [
            (
                str(t.name_from),
                str(t.name_to),
                f"{t.area_ha:,.1f} ha, {t.change_total_mg:+,.0f} Mg C",
            )
            for t in top.head(3).itertuples()
        ]
    return RegionText(str(row.get("region_name", row["region_id"])), tuple(pools), tuple(moves))


def range_label(edges: Any, k: int) -> str:
    """The legend label of class ``k`` between ``edges[k]`` and ``edges[k + 1]``."""
    return f"{edges[k]:,.4g} to {edges[k + 1]:,.4g}"


def format_value(value: float, units: str) -> str:
    """``value`` with four significant digits and its units; ``no data`` if not finite."""
    if not np.isfinite(value):
        return "no data"
    return f"{value:,.4g} {units}".strip()
