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

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import geopandas as gpd
import numpy as np
import pandas as pd

from geocarbon.errors import InputFileError
from geocarbon.outputs.spreadsheet import restore_formulas
from geocarbon.units import MG_PER_TG
from geocarbon.web import overlays
from geocarbon.web.files import refuse_outputs, replace_folder
from geocarbon.web.text import (
    OverlayText,
    PageText,
    RegionText,
    class_legend,
    format_value,
    ramp_legend,
    region_legend,
    region_text,
)

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
Bounds = tuple[tuple[float, float], tuple[float, float]]


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
    """Read what a stock, zonal or change run wrote into ``folder``: the files the output spec
    finds there (:func:`geocarbon.outputs.find.find_outputs`), so a stale file is never drawn."""
    from geocarbon.outputs.find import find_outputs

    outputs = find_outputs(folder)
    layer = outputs.regions_layer
    regions = None if layer is None else gpd.read_file(layer.path, layer=layer.entry.layer)
    transitions_csv = outputs.path("transitions.csv")
    transitions = (
        restore_formulas(pd.read_csv(transitions_csv, dtype={"region_id": str}))
        if transitions_csv is not None
        else None
    )
    density = outputs.density_raster
    rasters = [] if density is None else [("Carbon density", density.path, False, density.units)]
    rasters += [
        (f"Density change {period}", raster.path, True, raster.units)
        for period, raster in outputs.change_rasters.items()
    ]
    if regions is None and not rasters:
        raise InputFileError(
            f"{str(folder)!r} holds no regions.gpkg and no density or change rasters of its "
            f"{outputs.run} run; run geocarbon zonal, or stock or change with rasters, into it."
        )
    landcover = outputs.landcover
    scheme = outputs.summary.get("scheme")
    return MapInputs(
        regions,
        transitions,
        tuple(rasters),
        Path(landcover) if landcover and Path(landcover).exists() else None,
        scheme if isinstance(scheme, str) else None,
        f"geocarbon: {folder.resolve().name}",
    )


def build_map(
    inputs: MapInputs,
    files_dir: Path,
    *,
    files_url: str | None = None,
    max_overlay_px: int = 1024,
    tile_threshold_px: int = 4096,
) -> Any:
    """Assemble the folium map; overlay images and tiles are written into ``files_dir``.

    ``files_url`` is how the page links that folder (default: its name, percent-encoded).
    """
    import folium
    from folium import plugins

    from geocarbon.web.assets import map_script

    fmap = folium.Map(tiles=None, control_scale=True)
    # Only Leaflet itself: folium's jQuery/Bootstrap/awesome-markers defaults are not used here.
    fmap.default_js = [js for js in fmap.default_js if js[0] == "leaflet"]
    fmap.default_css = [css for css in fmap.default_css if css[0] == "leaflet_css"]
    bases = []
    for index, (provider, label) in enumerate(BASEMAPS):
        base = folium.TileLayer(provider, control=False, show=index == 0).add_to(fmap)
        bases.append((label, base.get_name()))
    layers: list[OverlayText] = []
    regions: tuple[RegionText, ...] = ()
    bounds: list[Bounds] = []
    if inputs.regions is not None:
        frame = inputs.regions.to_crs("EPSG:4326")
        regions = tuple(region_text(row, inputs.transitions) for _, row in frame.iterrows())
        layers += _add_regions(fmap, frame)
        west, south, east, north = frame.total_bounds
        bounds.append(((south, west), (north, east)))
    for raster in inputs.rasters:
        with _readable(raster[1]):
            layer, raster_bounds = _add_raster(
                fmap,
                raster,
                files_dir=files_dir,
                files_url=quote(files_dir.name) if files_url is None else files_url,
                max_px=max_overlay_px,
                tile_px=tile_threshold_px,
            )
        layers.append(layer)
        bounds.append(raster_bounds)
    if inputs.landcover is not None and inputs.scheme:
        with _readable(inputs.landcover):
            layer, class_bounds = _add_classes(
                fmap, inputs.landcover, inputs.scheme, files_dir, max_overlay_px
            )
        layers.append(layer)
        bounds.append(class_bounds)
    plugins.Fullscreen().add_to(fmap)
    page = PageText(inputs.title, tuple(bases), tuple(layers), regions)
    map_script(fmap.get_name(), page.layer_names(), asdict(page)).add_to(fmap)
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
    results: str | Path,
    out: str | Path,
    *,
    offline: bool = False,
    assets: Path | None = None,
    overwrite: bool = False,
    tile_threshold_px: int = 4096,
) -> Path:
    """Write ``out`` (HTML) and its ``<name>_files`` folder for a results folder.

    Rasters longer than ``tile_threshold_px`` on a side become XYZ tile pyramids beside the page.
    The page and its folder are written under hidden temporary names and renamed into place when
    both are complete: a failed map leaves nothing behind, and a previous map as it was.
    """
    results, out = Path(results), Path(out)
    from geocarbon.web.assets import default_assets_dir, localize

    files_dir = out.parent / f"{out.stem}_files"
    refuse_outputs(out, files_dir, overwrite=overwrite)
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
            )
            .get_root()
            .render()
        )
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
            f"Cannot read {str(path)!r} for the map ({error}). Run geocarbon again to rewrite it, "
            "or remove it from the results folder."
        ) from None


def _add_regions(fmap: Any, regions: gpd.GeoDataFrame) -> list[OverlayText]:
    """One choropleth per quantity the regions hold; no text but formatted numbers in folium."""
    import folium

    frame = regions.copy()
    if {"net_change_mg_p5", "net_change_mg_p95"} <= set(frame.columns):
        frame["uncertainty_band_mg"] = frame["net_change_mg_p95"] - frame["net_change_mg_p5"]
    layers: list[OverlayText] = []
    for name, column, scale, units, diverging in REGION_LAYERS:
        if column not in frame.columns:
            continue
        values = frame[column].to_numpy(dtype=float) * scale
        edges = overlays.diverging_edges(values) if diverging else overlays.quantile_edges(values)
        colours = overlays.class_colours(len(edges) - 1, diverging)
        shapes = gpd.GeoDataFrame(
            {
                "region": np.arange(len(frame)),
                "value": [format_value(v, units) for v in values],
                "fill": [overlays.colour_of(v, edges, colours) for v in values],
            },
            geometry=frame.geometry.to_numpy(),
            crs=frame.crs,
        )
        group = folium.FeatureGroup(show=not layers)
        geojson = folium.GeoJson(
            shapes.to_json(drop_id=True),
            style_function=lambda f: {
                "fillColor": f["properties"]["fill"],
                "color": "#333333",
                "weight": 1,
                "fillOpacity": 0.75,
            },
            highlight_function=lambda f: {"weight": 3},
        ).add_to(group)
        group.add_to(fmap)
        layers.append(
            OverlayText(
                f"{name} ({units})",
                group.get_name(),
                region_legend(name, units, edges, colours),
                shown=not layers,
                shapes=geojson.get_name(),
            )
        )
    return layers


def _add_raster(
    fmap: Any,
    raster: tuple[str, Path, bool, str],
    *,
    files_dir: Path,
    files_url: str,
    max_px: int,
    tile_px: int,
) -> tuple[OverlayText, Bounds]:
    import folium
    import rasterio

    label, path, diverging, units = raster
    ramp = overlays.ramp_for(path, diverging=diverging, label=label, units=units)
    values, overlay = overlays.mercator_overlay(path, max_px=max_px)
    with rasterio.open(path) as dataset:
        large = max(dataset.width, dataset.height) > tile_px
    group = folium.FeatureGroup(show=False)
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
    text = OverlayText(
        f"{label} ({units})",
        group.get_name(),
        ramp_legend(label, units, ramp),
        tiles=tiles_url,
        max_native_zoom=max_zoom,
    )
    return text, overlay.bounds


def _add_classes(
    fmap: Any, landcover: Path, scheme_name: str, files_dir: Path, max_px: int
) -> tuple[OverlayText, Bounds]:
    import folium
    from rasterio.enums import Resampling

    from geocarbon.inputs.schemes import get_scheme

    scheme = get_scheme(scheme_name)
    codes, overlay = overlays.mercator_overlay(landcover, max_px=max_px, resampling=Resampling.mode)
    nodata_free = codes[np.isfinite(codes)]
    present = [c for c in scheme.codes if np.any(nodata_free == c)]
    image = files_dir / f"classes_{landcover.stem}.png"
    overlays.write_png(
        overlays.colour_classes(codes, {c: scheme.color_of(c) for c in present}), image
    )
    group = folium.FeatureGroup(show=False)
    _image_overlay(image, overlay.bounds).add_to(group)
    group.add_to(fmap)
    legend = class_legend(scheme, present)
    return OverlayText(f"Land cover ({scheme.name})", group.get_name(), legend), overlay.bounds


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
