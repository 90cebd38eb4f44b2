"""Interactive folium maps of finished outputs (stock, zonal, change); folium is imported lazily.

Region layers are choropleths (quantile classes, or classes symmetric about zero for change) with
a legend carrying units, a tooltip (name and value) and a popup (per-pool table, top
transitions). Rasters become Web Mercator image overlays or tile pyramids (:mod:`overlays`).

User text (region names and ids, class names, the results folder's name, labels made from file
names) never reaches folium or branca: branca compiles what folium renders as a Jinja template,
so text there would be evaluated (``{{7*7}}`` shows 49) or crash the page (``{#``). folium draws
geometry, colours and numbers only; every text travels as JSON data in
:class:`geocarbon.web.text.PageText` to :func:`geocarbon.web.assets.map_script`, which sets it on
the page as text, never as HTML.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

import geopandas as gpd
import numpy as np

from geocarbon.errors import InputFileError, said
from geocarbon.i18n import check_lang, label, unit
from geocarbon.outputs.staging import refuse_run_files
from geocarbon.web import overlays
from geocarbon.web.files import refuse_outputs, replace_folder
from geocarbon.web.layers import RegionLayer, quantity_units, region_layers, web_geometry
from geocarbon.web.results import MapInputs, RasterInput, load_results
from geocarbon.web.text import (
    OverlayText,
    PageText,
    RegionText,
    class_legend,
    class_names,
    format_value,
    ramp_legend,
    region_legend,
    region_text,
)

BASEMAPS = (
    ("OpenStreetMap", "base.osm"),
    ("Esri.WorldGrayCanvas", "base.light"),
    ("Esri.WorldImagery", "base.satellite"),
)
#: Interactive region outlines take no focus rectangle when clicked.
PAGE_CSS = "<style>path.leaflet-interactive:focus { outline: none; }</style>"
Bounds = tuple[tuple[float, float], tuple[float, float]]


def build_map(
    inputs: MapInputs,
    files_dir: Path,
    *,
    files_url: str | None = None,
    max_overlay_px: int = 1024,
    tile_threshold_px: int = 4096,
    lang: str = "en",
    tiles: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Any:
    """Assemble the folium map; overlay images and tiles are written into ``files_dir``.

    ``files_url`` is how the page links that folder (default: its name, percent-encoded);
    ``lang`` the language of every label (``en``, ``zh``); ``tiles`` an XYZ URL template of a
    base map shown first; ``progress`` is told each step.
    """
    import folium
    from branca.element import Element
    from folium import plugins

    from geocarbon.web.assets import map_script

    check_lang(lang)
    say = progress or (lambda _: None)
    fmap = folium.Map(tiles=None, control_scale=True)
    # Only Leaflet itself: folium's jQuery/Bootstrap/awesome-markers defaults are not used here.
    fmap.default_js = [js for js in fmap.default_js if js[0] == "leaflet"]
    fmap.default_css = [css for css in fmap.default_css if css[0] == "leaflet_css"]
    root: Any = fmap.get_root()
    # fixed words only (the run's title is set by the page script, as text)
    root.header.add_child(Element(f"<title>{label('map_title', lang)}</title>{PAGE_CSS}"))
    bases = []
    for index, (provider, key) in enumerate(BASEMAPS):
        shown = index == 0 and tiles is None
        base = folium.TileLayer(provider, control=False, show=shown).add_to(fmap)
        bases.append((label(key, lang), base.get_name()))
    layers: list[OverlayText] = []
    regions: tuple[RegionText, ...] = ()
    outlines: dict[str, Any] | None = None
    bounds: list[Bounds] = []
    if inputs.regions is not None:
        say(f"drawing {len(inputs.regions)} regions")
        frame = inputs.regions.to_crs("EPSG:4326")
        units = quantity_units(frame, lang)
        names = class_names(_scheme(inputs.scheme), lang)
        regions = tuple(
            region_text(row, inputs.transitions, units, lang, names) for _, row in frame.iterrows()
        )
        region_layers_, outlines = _add_regions(fmap, frame, lang)
        layers += region_layers_
        west, south, east, north = frame.total_bounds
        bounds.append(((south, west), (north, east)))
    for raster in inputs.rasters:
        say(f"drawing {raster.path.name}")
        with _readable(raster.path):
            layer, raster_bounds = _add_raster(
                fmap,
                raster,
                files_dir=files_dir,
                files_url=quote(files_dir.name) if files_url is None else files_url,
                max_px=max_overlay_px,
                tile_px=tile_threshold_px,
                lang=lang,
                shown=not layers,
            )
        layers.append(layer)
        if inputs.regions is None:
            bounds.append(raster_bounds)
    if inputs.landcover is not None and inputs.scheme:
        say(f"drawing land cover {inputs.landcover.name}")
        with _readable(inputs.landcover):
            layer, class_bounds = _add_classes(
                fmap, inputs, files_dir, max_overlay_px, lang, shown=not layers
            )
        layers.append(layer)
        if not bounds:
            bounds.append(class_bounds)
    plugins.Fullscreen().add_to(fmap)
    page = PageText(
        inputs.title,
        tuple(bases),
        tuple(layers),
        regions,
        words=_page_words(lang),
        tiles=tiles,
        outlines=outlines,
    )
    map_script(fmap.get_name(), page.layer_names(), asdict(page)).add_to(fmap)
    south = min(b[0][0] for b in bounds)
    west = min(b[0][1] for b in bounds)
    north = max(b[1][0] for b in bounds)
    east = max(b[1][1] for b in bounds)
    fmap.fit_bounds([[south, west], [north, east]])
    return fmap


def _page_words(lang: str) -> dict[str, str]:
    """The fixed words the page script shows, in ``lang``."""
    keys = ("region", "largest_transitions", "control.base_maps", "control.layers", "base.custom")
    return {key.split(".")[-1]: label(key, lang) for key in keys}


def _scheme(name: str | None) -> Any:
    """The built-in class scheme ``name``, or None (a user's own table, or none recorded)."""
    from geocarbon.errors import SchemeError
    from geocarbon.inputs.schemes import get_scheme

    try:
        return get_scheme(name) if name else None
    except SchemeError:
        return None


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
    results: str | Path,
    out: str | Path,
    *,
    offline: bool = False,
    assets: Path | None = None,
    overwrite: bool = False,
    tile_threshold_px: int = 4096,
    lang: str = "en",
    tiles: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write ``out`` (HTML) and its ``<name>_files`` folder for a results folder.

    Rasters longer than ``tile_threshold_px`` on a side become XYZ tile pyramids beside the page.
    The page and its folder are written under hidden temporary names and renamed into place when
    both are complete: a failed map leaves nothing behind, and a previous map as it was.
    ``lang`` is the language of every label (``en``, ``zh``); ``tiles`` a base map shown first
    (:func:`geocarbon.web.basemap.tiles_url`: an XYZ URL template or a local tile folder);
    ``progress`` is told each step.
    """
    from geocarbon.web.basemap import tiles_url

    results, out = Path(results), Path(out)
    check_lang(lang)
    tiles_template = None if tiles is None else tiles_url(tiles, out)
    say = progress or (lambda _: None)
    from geocarbon.web.assets import default_assets_dir, localize

    files_dir = out.parent / f"{out.stem}_files"
    refuse_run_files([out, files_dir], results)
    refuse_outputs(out, files_dir, overwrite=overwrite)
    say(f"reading {results}")
    inputs = load_results(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = out.parent / f".{out.stem}.{uuid.uuid4().hex[:8]}.partial"
    staged_page = staged.with_name(f"{staged.name}.html")
    try:
        page = (
            build_map(
                inputs,
                staged,
                files_url=quote(files_dir.name),
                tile_threshold_px=tile_threshold_px,
                lang=lang,
                tiles=tiles_template,
                progress=say,
            )
            .get_root()
            .render()
        )
        say(f"writing {out}")
        if offline:
            page = localize(page, out, assets or default_assets_dir(), files_dir=staged)
        staged_page.write_text(page, encoding="utf-8")
        if staged.exists():
            replace_folder(staged, files_dir)
        staged_page.replace(out)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
        staged_page.unlink(missing_ok=True)
    return out


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """Turn a GDAL read failure of ``path`` into one line naming it."""
    from rasterio.errors import RasterioError

    try:
        yield
    except RasterioError as error:
        raise InputFileError(
            f"Cannot read {str(path)!r} for the map ({said(error)}). Run geocarbon again to rewrite it, "
            "or remove it from the results folder."
        ) from None


def _add_regions(
    fmap: Any, regions: gpd.GeoDataFrame, lang: str
) -> tuple[list[OverlayText], dict[str, Any]]:
    """One choropleth per quantity the regions hold, the opening one shown, and the regions'
    outlines as GeoJSON (simplified for the web once, and sent once: every layer draws the same
    shapes with its own colours and values). folium only makes the empty layer groups."""
    import folium

    frame = regions.copy()
    if {"net_change_mg_p5", "net_change_mg_p95"} <= set(frame.columns):
        frame["uncertainty_band_mg"] = frame["net_change_mg_p95"] - frame["net_change_mg_p5"]
    outlines = gpd.GeoDataFrame(
        {"region": np.arange(len(frame))}, geometry=web_geometry(frame).to_numpy(), crs=4326
    )
    layers: list[OverlayText] = []
    for layer in region_layers(frame, lang):
        values = frame[layer.column].to_numpy(dtype=float) / layer.display.mg_per_unit
        edges = (
            overlays.diverging_edges(values) if layer.diverging else overlays.quantile_edges(values)
        )
        colours = overlays.class_colours(len(edges) - 1, layer.diverging)
        group = folium.FeatureGroup(show=not layers).add_to(fmap)
        layers.append(
            OverlayText(
                layer.label,
                group.get_name(),
                region_legend(layer.name, layer.display.symbol, edges, colours, lang),
                shown=not layers,
                values=tuple(_value_text(v, layer, lang) for v in values),
                fills=tuple(overlays.colour_of(v, edges, colours) for v in values),
            )
        )
    return layers, json.loads(outlines.to_json(drop_id=True))


def _value_text(value: float, layer: RegionLayer, lang: str) -> str:
    return format_value(value, layer.display.symbol, lang, sign=layer.diverging)


def _add_raster(
    fmap: Any,
    raster: RasterInput,
    *,
    files_dir: Path,
    files_url: str,
    max_px: int,
    tile_px: int,
    lang: str,
    shown: bool,
) -> tuple[OverlayText, Bounds]:
    import folium
    import rasterio

    path, name = raster.path, raster.label(lang)
    ramp = overlays.ramp_for(path, diverging=raster.diverging, label=name, units=raster.units)
    values, overlay = overlays.mercator_overlay(path, max_px=max_px)
    with rasterio.open(path) as dataset:
        large = max(dataset.width, dataset.height) > tile_px
    group = folium.FeatureGroup(show=shown)
    tiles_url, max_zoom = None, None
    if large:
        tiles = files_dir / f"tiles_{path.stem}"
        zooms = overlays.tile_zooms(path)
        overlays.write_tiles(path, tiles, ramp, zooms)
        # percent-encoded: Leaflet reads {...} in a URL template, and # ? % break a URL
        tiles_url, max_zoom = f"{files_url}/{quote(tiles.name)}/{{z}}/{{x}}/{{y}}.png", zooms[1]
    else:
        image = files_dir / f"overlay_{path.stem}.png"
        overlays.write_png(overlays.colour(values, ramp), image)
        _image_overlay(image, overlay.bounds).add_to(group)
    group.add_to(fmap)
    units = unit(raster.units, lang)
    text = OverlayText(
        f"{name} ({units})",
        group.get_name(),
        ramp_legend(name, units, ramp, lang),
        shown=shown,
        tiles=tiles_url,
        max_native_zoom=max_zoom,
    )
    return text, overlay.bounds


def _add_classes(
    fmap: Any, inputs: MapInputs, files_dir: Path, max_px: int, lang: str, *, shown: bool
) -> tuple[OverlayText, Bounds]:
    """The land-cover classes, clipped to the regions when there are regions."""
    import folium
    from rasterio.enums import Resampling

    from geocarbon.inputs.schemes import get_scheme

    assert inputs.landcover is not None and inputs.scheme is not None
    landcover = inputs.landcover
    scheme = get_scheme(inputs.scheme)
    codes, overlay = overlays.mercator_overlay(landcover, max_px=max_px, resampling=Resampling.mode)
    if inputs.regions is not None:
        codes = overlays.clip_to(codes, overlay, inputs.regions)
    nodata_free = codes[np.isfinite(codes)]
    present = [c for c in scheme.codes if np.any(nodata_free == c)]
    image = files_dir / f"classes_{landcover.stem}.png"
    overlays.write_png(
        overlays.colour_classes(codes, {c: scheme.color_of(c) for c in present}), image
    )
    group = folium.FeatureGroup(show=shown)
    _image_overlay(image, overlay.bounds).add_to(group)
    group.add_to(fmap)
    legend = class_legend(scheme, present, lang)
    layer_name = f"{label('layer.land_cover', lang)} ({scheme.name})"
    return OverlayText(layer_name, group.get_name(), legend, shown=shown), overlay.bounds


def _image_overlay(image: Path, bounds: Bounds) -> Any:
    """An image overlay embedding the PNG (a data URL: no path reaches the page)."""
    import base64

    import folium

    data = base64.b64encode(image.read_bytes()).decode("ascii")
    return folium.raster_layers.ImageOverlay(
        f"data:image/png;base64,{data}",
        bounds=[list(bounds[0]), list(bounds[1])],
        opacity=0.8,
    )
