"""Region layers of a map: which quantities, in which unit, which one opens, and web geometry.

Every region quantity is a thematic layer; one shows at a time (the page script puts them in one
radio group). The layer the map opens on answers the run's question: net change for a change
run, mean density for stock and zonal runs. Masses get one unit per quantity, chosen for its
magnitude (Mg, Gg or Tg C), shared by the legend, the tooltip and the popup. Geometry drawn on
the web is simplified with shared edges kept (:func:`web_geometry`); statistics were computed
from the full geometry by the run and are only read here.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
from numpy.typing import NDArray

from geocarbon.i18n import label, unit

#: (label key, source column, unit kind, diverging); unit kind "mass", "rate" or a fixed symbol
REGION_LAYERS = (
    ("layer.net_change", "net_change_mg", "mass", True),
    ("layer.density_mean", "density_mean_mg_per_ha", "Mg C/ha", False),
    ("layer.stock_total", "stock_total_mg", "mass", False),
    ("layer.stock_end", "stock_end_mg", "mass", False),
    ("layer.annual_net_change", "annual_net_change_mg_per_yr", "rate", True),
    ("layer.uncertainty_band", "uncertainty_band_mg", "mass", False),
)
#: The layer a map opens on, first present first: the run's question.
OPENING_COLUMNS = ("net_change_mg", "density_mean_mg_per_ha", "stock_total_mg", "stock_end_mg")
#: Web geometry keeps detail down to 1/WEB_DETAIL of the regions' extent: ~600 m for China's
#: provinces (below a screen pixel at the zoom that shows the country), ~20 m for a county.
WEB_DETAIL = 10_000


@dataclass(frozen=True)
class DisplayUnit:
    """A unit to show values in: its symbol (in the page's language) and Mg per unit."""

    symbol: str
    mg_per_unit: float

    def of(self, value_mg: float) -> float:
        return value_mg / self.mg_per_unit


def mass_unit(
    values_mg: NDArray[np.float64], *, per_year: bool = False, lang: str = "en"
) -> DisplayUnit:
    """Mg, Gg or Tg C, whichever keeps the largest magnitude of ``values_mg`` below 1000 units
    (Tg above that)."""
    finite = np.abs(values_mg[np.isfinite(values_mg)])
    largest = float(finite.max()) if finite.size else 0.0
    symbol, mg = (
        ("Tg C", 1e6) if largest >= 1e6 else ("Gg C", 1e3) if largest >= 1e3 else ("Mg C", 1.0)
    )
    return DisplayUnit(unit(f"{symbol}/yr" if per_year else symbol, lang), mg)


@dataclass(frozen=True)
class RegionLayer:
    """One thematic region layer: label (without unit), column, unit, diverging colours."""

    name: str
    column: str
    display: DisplayUnit
    diverging: bool

    @property
    def label(self) -> str:
        return f"{self.name} ({self.display.symbol})"


def region_layers(frame: gpd.GeoDataFrame, lang: str = "en") -> list[RegionLayer]:
    """The thematic layers ``frame``'s columns offer, the opening one first."""
    present = [entry for entry in REGION_LAYERS if entry[1] in frame.columns]
    opening = next((c for c in OPENING_COLUMNS if c in frame.columns), None)
    present.sort(key=lambda entry: entry[1] != opening)
    units = quantity_units(frame, lang)
    layers = []
    for key, column, kind, diverging in present:
        if kind == "mass":
            display = column_unit(column, units)
        else:
            display = units[kind] if kind in units else DisplayUnit(unit(kind, lang), 1.0)
        layers.append(RegionLayer(label(key, lang), column, display, diverging))
    return layers


def quantity_units(frame: gpd.GeoDataFrame, lang: str = "en") -> dict[str, DisplayUnit]:
    """One unit per quantity, for the magnitude of its values: "stock" (stock columns),
    "change" (net change, its interval and per-pool changes), "rate" (annual net change);
    "mass" is the fallback of mass columns."""
    units: dict[str, DisplayUnit] = {}
    stock = [c for c in ("stock_total_mg", "stock_end_mg") if c in frame.columns]
    change = [c for c in ("net_change_mg",) if c in frame.columns]
    if stock:
        units["stock"] = mass_unit(frame[stock].to_numpy(dtype=float).ravel(), lang=lang)
    if change:
        units["change"] = mass_unit(frame[change].to_numpy(dtype=float).ravel(), lang=lang)
    if "annual_net_change_mg_per_yr" in frame.columns:
        values = frame["annual_net_change_mg_per_yr"].to_numpy(dtype=float)
        units["rate"] = mass_unit(values, per_year=True, lang=lang)
    units["mass"] = (
        units.get("change") or units.get("stock") or DisplayUnit(unit("Mg C", lang), 1.0)
    )
    return units


def column_unit(column: str, units: dict[str, DisplayUnit]) -> DisplayUnit:
    """The unit a mass column shows in: a change's or a stock's."""
    kind = "change" if "change" in column or column.endswith("band_mg") else "stock"
    return units.get(kind, units["mass"])


def web_geometry(frame: gpd.GeoDataFrame, tolerance_deg: float | None = None) -> gpd.GeoSeries:
    """``frame``'s geometry in EPSG:4326, simplified for the web with shared edges kept.

    ``tolerance_deg`` defaults to the larger side of the regions' extent / :data:`WEB_DETAIL`.

    ``shapely.coverage_simplify`` simplifies each shared edge once, so neighbours stay gap- and
    overlap-free; without it (shapely < 2.1), or for geometry that is not a valid coverage,
    ``simplify(preserve_topology=True)`` per region.
    """
    import shapely

    geometry = frame.geometry.to_crs("EPSG:4326")
    values = geometry.to_numpy()
    if tolerance_deg is None:
        west, south, east, north = geometry.total_bounds
        tolerance_deg = max(east - west, north - south) / WEB_DETAIL
    simplify = getattr(shapely, "coverage_simplify", None)
    simplified = None
    if simplify is not None:
        try:
            simplified = simplify(values, tolerance_deg)
        except Exception:  # a coverage with overlaps or invalid rings: per region below
            simplified = None
    if simplified is None:
        simplified = shapely.simplify(values, tolerance_deg, preserve_topology=True)
    # 1e-5 degrees (~1 m) is finer than any web zoom shows; shorter numbers, smaller pages
    simplified = shapely.transform(simplified, lambda xy: np.round(xy, 5))
    empty = shapely.is_empty(simplified) | shapely.is_missing(simplified)
    simplified[empty] = values[empty]
    return gpd.GeoSeries(simplified, index=frame.index, crs="EPSG:4326")
