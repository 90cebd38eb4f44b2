"""Interactive folium maps of finished outputs (stock, zonal, change); folium is imported lazily.

Region layers are choropleths (quantile classes, or classes symmetric about zero for change) with
a legend carrying units, a tooltip (name and value) and a popup (per-pool table, top
transitions). Rasters become Web Mercator image overlays or tile pyramids (:mod:`overlays`). All
user text is HTML-escaped before it reaches the page: folium puts tooltip and popup values into
``innerHTML`` as they are.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geocarbon import overlays
from geocarbon.errors import InputFileError
from geocarbon.units import MG_PER_TG, POOLS

#: (layer name, source column, scale, units, diverging)
REGION_LAYERS = (
    ("Total stock", "stock_total_mg", 1 / MG_PER_TG, "Tg C", False),
    ("Mean density", "density_mean_mg_per_ha", 1.0, "Mg C/ha", False),
    ("Stock at end", "stock_end_mg", 1 / MG_PER_TG, "Tg C", False),
    ("Net change", "net_change_mg", 1 / MG_PER_TG, "Tg C", True),
    ("Annual net change", "annual_net_change_mg_per_yr", 1.0, "Mg C/yr", True),
    ("Uncertainty band (5-95 %)", "uncertainty_band_mg", 1 / MG_PER_TG, "Tg C", False),
)
BASEMAPS = (
    ("OpenStreetMap", "OpenStreetMap"),
    ("Esri.WorldGrayCanvas", "Light"),
    ("Esri.WorldImagery", "Satellite"),
)


@dataclass(frozen=True)
class MapInputs:
    """What a results folder offers a map."""

    regions: gpd.GeoDataFrame | None
    transitions: pd.DataFrame | None
    rasters: tuple[tuple[str, Path, bool, str], ...]  # (label, path, diverging, units)
    landcover: Path | None
    scheme: str | None
    title: str


def load_results(folder: Path) -> MapInputs:
    """Read what a stock, zonal or change run wrote into ``folder``."""
    if not folder.is_dir():
        raise InputFileError(f"Results folder {str(folder)!r} does not exist.")
    regions = gpd.read_file(folder / "regions.gpkg") if (folder / "regions.gpkg").exists() else None
    transitions = (
        pd.read_csv(folder / "transitions.csv") if (folder / "transitions.csv").exists() else None
    )
    rasters = [
        ("Carbon density", p, False, "Mg C/ha")
        for p in sorted(folder.glob("density_total_mg_per_ha.tif"))
    ]
    rasters += [
        (f"Density change {p.name.split('_')[1]}", p, True, "Mg C/ha")
        for p in sorted(folder.glob("change_*_total_mg_per_ha.tif"))
    ]
    summary = _summary(folder)
    landcover = summary.get("landcover") or (summary.get("landcovers") or [None])[-1]
    if regions is None and not rasters:
        raise InputFileError(
            f"{str(folder)!r} holds no regions.gpkg and no density or change rasters; run geocarbon "
            "stock, zonal or change into it first."
        )
    return MapInputs(
        regions,
        transitions,
        tuple(rasters),
        Path(landcover) if landcover and Path(landcover).exists() else None,
        summary.get("scheme"),
        f"geocarbon: {folder.name}",
    )


def _summary(folder: Path) -> dict[str, Any]:
    for name in ("change_summary.json", "zonal_summary.json", "stock_summary.json"):
        if (folder / name).exists():
            return dict(json.loads((folder / name).read_text(encoding="utf-8")))
    return {}


def build_map(
    inputs: MapInputs, files_dir: Path, *, max_overlay_px: int = 1024, tile_threshold_px: int = 4096
) -> Any:
    """Assemble the folium map; overlay images and tiles are written into ``files_dir``."""
    import folium
    from folium import plugins

    fmap = folium.Map(tiles=None, control_scale=True)
    # Only Leaflet itself: folium's jQuery/Bootstrap/awesome-markers defaults are not used here.
    fmap.default_js = [js for js in fmap.default_js if js[0] == "leaflet"]
    fmap.default_css = [css for css in fmap.default_css if css[0] == "leaflet_css"]
    for index, (provider, name) in enumerate(BASEMAPS):
        folium.TileLayer(provider, name=name, control=True, show=index == 0).add_to(fmap)
    bounds = []
    if inputs.regions is not None:
        bounds.append(_add_regions(fmap, inputs.regions.to_crs("EPSG:4326"), inputs.transitions))
    for label, path, diverging, units in inputs.rasters:
        bounds.append(
            _add_raster(
                fmap, path, label, diverging, units, files_dir, max_overlay_px, tile_threshold_px
            )
        )
    if inputs.landcover is not None and inputs.scheme:
        bounds.append(
            _add_classes(fmap, inputs.landcover, inputs.scheme, files_dir, max_overlay_px)
        )
    folium.LayerControl(collapsed=False).add_to(fmap)
    plugins.Fullscreen().add_to(fmap)
    _add_title(fmap, inputs.title)
    south = min(b[0][0] for b in bounds)
    west = min(b[0][1] for b in bounds)
    north = max(b[1][0] for b in bounds)
    east = max(b[1][1] for b in bounds)
    fmap.fit_bounds([[south, west], [north, east]])
    return fmap


def empty_map_html() -> str:
    """A page with every control a geocarbon map uses (to learn which web assets it links)."""
    import folium
    from folium import plugins

    fmap = folium.Map(tiles=None)
    fmap.default_js = [js for js in fmap.default_js if js[0] == "leaflet"]
    fmap.default_css = [css for css in fmap.default_css if css[0] == "leaflet_css"]
    plugins.Fullscreen().add_to(fmap)
    return str(fmap.get_root().render())


def write_map(
    results: Path,
    out: Path,
    *,
    offline: bool = False,
    assets: Path | None = None,
    overwrite: bool = False,
    tile_threshold_px: int = 4096,
) -> Path:
    """Write ``out`` (HTML) and its ``<name>_files`` folder for a results folder.

    Rasters longer than ``tile_threshold_px`` on a side become XYZ tile pyramids beside the page.
    """
    from geocarbon.webassets import default_assets_dir, localize
    from geocarbon.writers import refuse_existing

    files_dir = out.parent / f"{out.stem}_files"
    refuse_existing([out], overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    page = (
        build_map(load_results(results), files_dir, tile_threshold_px=tile_threshold_px)
        .get_root()
        .render()
    )
    if offline:
        page = localize(page, out, assets or default_assets_dir())
    temp = out.with_name(f".{out.stem}.partial{out.suffix}")
    temp.write_text(page, encoding="utf-8")
    temp.replace(out)
    return out


def _add_regions(fmap: Any, regions: gpd.GeoDataFrame, transitions: pd.DataFrame | None) -> Any:
    import folium

    frame = regions.copy()
    if {"net_change_mg_p5", "net_change_mg_p95"} <= set(frame.columns):
        frame["uncertainty_band_mg"] = frame["net_change_mg_p95"] - frame["net_change_mg_p5"]
    frame["name_html"] = [
        html.escape(str(name)) for name in frame.get("region_name", frame["region_id"])
    ]
    frame["popup_html"] = [_popup(row, transitions) for _, row in frame.iterrows()]
    shown = False
    for name, column, scale, units, diverging in REGION_LAYERS:
        if column not in frame.columns:
            continue
        values = frame[column].to_numpy(dtype=float) * scale
        edges = _diverging_edges(values) if diverging else _quantile_edges(values)
        colours = _class_colours(len(edges) - 1, diverging)
        layer_frame = frame[["region_id", "name_html", "popup_html", frame.geometry.name]].copy()
        layer_frame["value"] = [_format(v, units) for v in values]
        layer_frame["fill"] = [_colour_of(v, edges, colours) for v in values]
        group = folium.FeatureGroup(name=f"{name} ({units})", show=not shown)
        folium.GeoJson(
            layer_frame.to_json(drop_id=True),
            style_function=lambda f: {
                "fillColor": f["properties"]["fill"],
                "color": "#333333",
                "weight": 1,
                "fillOpacity": 0.75,
            },
            highlight_function=lambda f: {"weight": 3},
            tooltip=folium.GeoJsonTooltip(
                fields=["name_html", "value"], aliases=["Region", f"{name} ({units})"]
            ),
            popup=folium.GeoJsonPopup(fields=["popup_html"], labels=False),
        ).add_to(group)
        group.add_to(fmap)
        Legend(
            group,
            f"{name}",
            units,
            [(_range_label(edges, k), c) for k, c in enumerate(colours)],
            shown=not shown,
        ).add_to(fmap)
        shown = True
    west, south, east, north = frame.total_bounds
    return ((south, west), (north, east))


def _add_raster(
    fmap: Any,
    path: Path,
    label: str,
    diverging: bool,
    units: str,
    files_dir: Path,
    max_px: int,
    tile_px: int,
) -> Any:
    import folium
    import rasterio

    ramp = overlays.ramp_for(path, diverging=diverging, label=label, units=units)
    values, overlay = overlays.mercator_overlay(path, max_px=max_px)
    with rasterio.open(path) as dataset:
        large = max(dataset.width, dataset.height) > tile_px
    group = folium.FeatureGroup(name=f"{label} ({units})", show=False)
    if large:
        tiles = files_dir / f"tiles_{path.stem}"
        zooms = overlays.tile_zooms(path)
        overlays.write_tiles(path, tiles, ramp, zooms)
        folium.TileLayer(
            tiles=f"{files_dir.name}/{tiles.name}/{{z}}/{{x}}/{{y}}.png",
            attr="geocarbon",
            name=label,
            min_zoom=0,
            max_native_zoom=zooms[1],
            overlay=True,
            opacity=0.8,
        ).add_to(group)
    else:
        image = files_dir / f"overlay_{path.stem}.png"
        overlays.write_png(overlays.colour(values, ramp), image)
        folium.raster_layers.ImageOverlay(
            str(image.resolve()),
            bounds=[list(overlay.bounds[0]), list(overlay.bounds[1])],
            opacity=0.8,
        ).add_to(group)
    group.add_to(fmap)
    stops = [(_format(v, units), c) for v, c in ramp.colours()]
    Legend(group, label, units, stops, shown=False).add_to(fmap)
    return overlay.bounds


def _add_classes(fmap: Any, landcover: Path, scheme_name: str, files_dir: Path, max_px: int) -> Any:
    import folium
    from rasterio.enums import Resampling

    from geocarbon.schemes import get_scheme

    scheme = get_scheme(scheme_name)
    codes, overlay = overlays.mercator_overlay(landcover, max_px=max_px, resampling=Resampling.mode)
    nodata_free = codes[np.isfinite(codes)]
    present = [c for c in scheme.codes if np.any(nodata_free == c)]
    image = files_dir / f"classes_{landcover.stem}.png"
    overlays.write_png(
        overlays.colour_classes(codes, {c: scheme.color_of(c) for c in present}), image
    )
    group = folium.FeatureGroup(name=f"Land cover ({scheme.name})", show=False)
    folium.raster_layers.ImageOverlay(
        str(image.resolve()),
        bounds=[list(overlay.bounds[0]), list(overlay.bounds[1])],
        opacity=0.8,
    ).add_to(group)
    group.add_to(fmap)
    Legend(
        group,
        f"Land cover ({scheme.title})",
        "",
        [(f"{c} {scheme.name_of(c)}", scheme.color_of(c)) for c in present],
        shown=False,
    ).add_to(fmap)
    return overlay.bounds


def _popup(row: pd.Series, transitions: pd.DataFrame | None) -> str:
    """Per-pool table (and the region's largest transitions), every text escaped."""
    lines = [f"<b>{html.escape(str(row.get('region_name', row['region_id'])))}</b><table>"]
    for pool in POOLS:
        for column, scale, units in (
            (f"stock_{pool}_mg", 1 / MG_PER_TG, "Tg C"),
            (f"change_{pool}_mg", 1 / MG_PER_TG, "Tg C"),
        ):
            if column in row and pd.notna(row[column]):
                label = "stock" if column.startswith("stock") else "change"
                lines.append(
                    f"<tr><td>{pool} {label}</td><td>{_format(row[column] * scale, units)}</td></tr>"
                )
    lines.append("</table>")
    if transitions is not None and "period" in row and pd.notna(row.get("period")):
        moved = transitions[
            (transitions["region_id"].astype(str) == str(row["region_id"]))
            & (transitions["period"] == row["period"])
        ]
        moved = moved[moved["class_from"] != moved["class_to"]]
        top = moved.reindex(moved["change_total_mg"].abs().sort_values(ascending=False).index).head(
            3
        )
        items = [
            f"<li>{html.escape(str(t.name_from))} &rarr; {html.escape(str(t.name_to))}: "
            f"{t.area_ha:,.1f} ha, {t.change_total_mg:+,.0f} Mg C</li>"
            for t in top.itertuples()
        ]
        if items:
            lines.append("<b>Largest transitions</b><ul>" + "".join(items) + "</ul>")
    return "".join(lines)


def _quantile_edges(values: NDArray[np.float64], k: int = 5) -> NDArray[np.float64]:
    import mapclassify

    finite = values[np.isfinite(values)]
    if len(np.unique(finite)) < 2:
        low = float(finite.min()) if finite.size else 0.0
        return np.array([low, low + 1.0])
    bins = mapclassify.Quantiles(finite, k=min(k, len(np.unique(finite)))).bins
    return np.concatenate([[finite.min()], bins])


def _diverging_edges(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Classes symmetric about zero: +-1/3, 2/3 and all of the largest magnitude."""
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    steps = np.unique(np.quantile(np.concatenate([finite, [top]]), [1 / 3, 2 / 3, 1.0]))
    steps = steps[steps > 0]
    return np.concatenate([-steps[::-1], [0.0], steps])


def _class_colours(n: int, diverging: bool) -> list[str]:
    import matplotlib

    if diverging:
        # red = carbon source (negative), blue = sink (positive), centred on zero
        cmap = matplotlib.colormaps["RdBu"]
        half = n // 2
        return [
            matplotlib.colors.to_hex(cmap(0.1 + 0.35 * k / max(half - 1, 1))) for k in range(half)
        ] + [
            matplotlib.colors.to_hex(cmap(0.55 + 0.35 * k / max(half - 1, 1)))
            for k in range(n - half)
        ]
    cmap = matplotlib.colormaps["YlGn"]
    return [matplotlib.colors.to_hex(cmap(0.15 + 0.8 * k / max(n - 1, 1))) for k in range(n)]


def _colour_of(value: float, edges: NDArray[np.float64], colours: list[str]) -> str:
    if not np.isfinite(value):
        return "#bdbdbd"
    index = int(np.clip(np.searchsorted(edges, value, side="left") - 1, 0, len(colours) - 1))
    return colours[index]


def _range_label(edges: NDArray[np.float64], k: int) -> str:
    return f"{edges[k]:,.4g} to {edges[k + 1]:,.4g}"


def _format(value: float, units: str) -> str:
    if not np.isfinite(value):
        return "no data"
    return f"{value:,.4g} {units}".strip()


def _add_title(fmap: Any, title: str) -> None:
    from branca.element import Element

    box = (
        '<div style="position: fixed; top: 10px; left: 50px; z-index: 1000; background: white; '
        f'padding: 4px 8px; font: 14px sans-serif; border-radius: 4px;">{html.escape(title)}</div>'
    )
    fmap.get_root().html.add_child(Element(box))


def _legend_template() -> Any:
    from jinja2 import Template

    return Template(
        """
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.control({position: 'bottomright'});
{{ this.get_name() }}.onAdd = function () {
  var div = L.DomUtil.create('div', 'geocarbon-legend');
  div.style.cssText = 'background: white; padding: 6px 8px; font: 12px sans-serif; border-radius: 4px; box-shadow: 0 0 4px #888;';
  div.innerHTML = {{ this.body|tojson }};
  return div;
};
{% if this.shown %}{{ this.get_name() }}.addTo({{ this.map_name }});{% endif %}
{{ this.map_name }}.on('overlayadd', function (e) {
  if (e.layer === {{ this.layer_name }}) { {{ this.get_name() }}.addTo({{ this.map_name }}); }
});
{{ this.map_name }}.on('overlayremove', function (e) {
  if (e.layer === {{ this.layer_name }}) { {{ this.get_name() }}.remove(); }
});
{% endmacro %}
"""
    )


def legend_html(title: str, units: str, stops: list[tuple[str, str]]) -> str:
    """The legend's inner HTML; every text escaped (it is set as innerHTML)."""
    head = (
        f"<div><b>{html.escape(title)}</b>"
        + (f" ({html.escape(units)})" if units else "")
        + "</div>"
    )
    rows = "".join(
        f'<div><span style="display:inline-block;width:14px;height:10px;background:{html.escape(colour)};'
        f'margin-right:4px;"></span>{html.escape(label)}</div>'
        for label, colour in stops
    )
    return head + rows


def Legend(layer: Any, title: str, units: str, stops: list[tuple[str, str]], *, shown: bool) -> Any:  # noqa: N802
    """A Leaflet control with the legend of ``layer``, on the map while the layer is."""
    from branca.element import MacroElement

    class _Legend(MacroElement):  # type: ignore[misc]
        _template = _legend_template()

        def __init__(self) -> None:
            super().__init__()
            self._name = "Legend"
            self.body, self.shown = legend_html(title, units, stops), shown
            self.layer_name = layer.get_name()

        def render(self, **kwargs: Any) -> Any:
            assert self._parent is not None
            self.map_name = self._parent.get_name()
            return super().render(**kwargs)

    return _Legend()
