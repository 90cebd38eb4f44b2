"""The static map of the regions: a choropleth with its legend, scale bar and north arrow.

:func:`region_map_figure` draws one value per region (mean stock density after a zonal run, net
change over the first-to-last period after a change run) on an equal-area Albers projection
centred on the regions, so the scale bar holds across the map. When the regions cover China,
the map follows the usual layout of Chinese national maps: the main map stops south of Hainan,
and an inset at the lower right shows the South China Sea islands; lines given as
``maritime_lines`` (the maritime boundary lines) are drawn on both. No file is read here except
those lines, and only when given: the package bundles no boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from geocarbon.choices import CHANGE_COLOUR_MAP, DENSITY_COLOUR_MAP
from geocarbon.errors import InputFileError
from geocarbon.figures.charts import _literal_text
from geocarbon.figures.labels import ENGLISH, FigureLabels

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes
    from matplotlib.cm import ScalarMappable
    from matplotlib.figure import Figure

#: Longitude/latitude box of China's territory (incl. the South China Sea islands), degrees.
CHINA_BOX_DEG = (73.0, 3.0, 136.0, 54.0)
#: Regions "cover China" when their extent spans this much of it in both directions (the
#: provinces, the country outline; not one province).
CHINA_COVER_SHARE = 0.6
#: The main map's southern edge (degrees N): the islands south of it go in the inset.
MAIN_MAP_SOUTH_DEG = 17.0
#: The inset's lon/lat box: the South China Sea islands down to Zengmu Ansha (about 4 N).
SOUTH_CHINA_SEA_BOX_DEG = (106.5, 2.5, 123.5, 24.5)
#: Inset position in the main axes' coordinates (left, bottom, width, height).
INSET_BOUNDS = (0.80, 0.0, 0.20, 0.30)
NO_DATA_COLOUR = "#d9d9d9"
EDGE_COLOUR = "#4d4d4d"
LINE_COLOUR = "#1f3f8f"
MAP_SIZE_IN = (8.0, 6.5)
#: Margin around the regions of a map that is not China's, as a share of their larger side.
EXTENT_MARGIN = 0.03
#: Scale bar: about this share of the map's width, rounded to 1, 2 or 5 x 10^n km.
SCALE_BAR_SHARE = 0.2


@dataclass(frozen=True)
class MapValue:
    """What a map shows: the column of the regions layer, its title, unit and colour map;
    ``diverging`` maps centre the colours on zero."""

    column: str
    title: str
    unit: str
    colour_map: str
    diverging: bool


def density_value(labels: FigureLabels = ENGLISH) -> MapValue:
    """Mean stock density per region (zonal runs)."""
    return MapValue(
        "density_mean_mg_per_ha",
        labels.density_map_title,
        labels.density_unit,
        DENSITY_COLOUR_MAP,
        diverging=False,
    )


def net_change_value(labels: FigureLabels = ENGLISH, period: str = "") -> MapValue:
    """Net change per region over the first-to-last period, Tg C (change runs)."""
    title = labels.titled(labels.net_map_title, period) if period else labels.net_map_title
    return MapValue("net_change_tg", title, labels.net_unit, CHANGE_COLOUR_MAP, diverging=True)


def annual_change_value(labels: FigureLabels = ENGLISH, period: str = "") -> MapValue:
    """Annual net change per region over the first-to-last period, Tg C/yr (change runs; a
    positive value is an annual sink)."""
    title = labels.titled(labels.annual_map_title, period) if period else labels.annual_map_title
    return MapValue(
        "annual_net_change_tg_per_yr",
        title,
        labels.annual_unit,
        CHANGE_COLOUR_MAP,
        diverging=True,
    )


def map_value_for(
    regions: gpd.GeoDataFrame, labels: FigureLabels = ENGLISH, *, annual: bool = False
) -> MapValue | None:
    """What the map of a run's regions layer shows: net change (or, if ``annual``, annual net
    change) if the layer has it (a change run, first-to-last period), else mean density (a zonal
    run); None if neither."""
    if "net_change_tg" in regions.columns:
        periods = regions["period"].dropna().astype(str).unique() if "period" in regions else []
        period = str(periods[0]) if len(periods) == 1 else ""
        if annual and "annual_net_change_tg_per_yr" in regions.columns:
            return annual_change_value(labels, period)
        return net_change_value(labels, period)
    if "density_mean_mg_per_ha" in regions.columns:
        return density_value(labels)
    return None


def region_map_figure(
    regions: gpd.GeoDataFrame,
    value: MapValue,
    *,
    labels: FigureLabels = ENGLISH,
    maritime_lines: gpd.GeoDataFrame | None = None,
) -> Figure:
    """A choropleth of ``value.column`` over ``regions`` (any CRS), with a colour bar, a scale
    bar and a north arrow; the South China Sea inset and ``maritime_lines`` when the regions
    cover China (:func:`covers_china`). Regions with no value are grey."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    crs = albers_for(regions)
    projected = regions.to_crs(crs)
    lines = None if maritime_lines is None else maritime_lines.to_crs(crs)
    figure = Figure(figsize=MAP_SIZE_IN, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    mappable = _draw_layers(axes, projected, value, lines)
    china = covers_china(regions)
    if china:
        _set_extent(axes, crs, (CHINA_BOX_DEG[0], MAIN_MAP_SOUTH_DEG, *CHINA_BOX_DEG[2:]))
        inset = axes.inset_axes(INSET_BOUNDS)
        inset.set_label("south_china_sea_inset")
        _draw_layers(inset, projected, value, lines)
        _set_extent(inset, crs, SOUTH_CHINA_SEA_BOX_DEG)
        _bare(inset, frame=True)
        inset.text(
            0.5,
            0.02,
            labels.south_china_sea,
            transform=inset.transAxes,
            ha="center",
            va="bottom",
            fontsize="x-small",
        )
    else:
        _fit_extent(axes, projected)  # lines given reach beyond the regions: not the map's extent
    _bare(axes, frame=False)
    figure.colorbar(mappable, ax=axes, shrink=0.6, label=value.unit)
    if not np.isfinite(regions[value.column].to_numpy(dtype=float)).all():
        _no_data_legend(axes, labels)
    axes.set_title(value.title)
    _scale_bar(axes, labels)
    _north_arrow(axes, labels)
    return _literal_text(figure)


def read_lines(path: str | Path) -> gpd.GeoDataFrame:
    """Read the lines given as ``--maritime-lines``; one line naming the file if it cannot."""
    import geopandas as gpd

    try:
        lines = gpd.read_file(path)
    except Exception as error:  # pyogrio/GDAL errors: say which file and what to give
        raise InputFileError(
            f"Cannot read the maritime boundary lines {str(path)!r} ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else 'unreadable'}). Give a vector file "
            "(GeoJSON, GeoPackage, Shapefile) of lines with a CRS."
        ) from None
    if lines.crs is None or lines.empty:
        raise InputFileError(
            f"The maritime boundary lines {str(path)!r} have "
            f"{'no features' if lines.empty else 'no CRS'}. Give a vector file of lines with a CRS."
        )
    return lines


def covers_china(regions: gpd.GeoDataFrame) -> bool:
    """Whether the regions' extent spans most of China's (the provinces or the country)."""
    west, south, east, north = regions.to_crs("EPSG:4326").total_bounds
    box_west, box_south, box_east, box_north = CHINA_BOX_DEG
    lon_overlap = min(east, box_east) - max(west, box_west)
    lat_overlap = min(north, box_north) - max(south, box_south)
    return bool(
        lon_overlap >= CHINA_COVER_SHARE * (box_east - box_west)
        and lat_overlap >= CHINA_COVER_SHARE * (box_north - box_south)
    )


def albers_for(regions: gpd.GeoDataFrame) -> str:
    """An Albers equal-area projection centred on the regions, standard parallels at 1/6 and
    5/6 of their latitude span (for China: 25 N and 47 N, the national atlas' choice)."""
    if covers_china(regions):
        return "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +datum=WGS84 +units=m"
    west, south, east, north = regions.to_crs("EPSG:4326").total_bounds
    span = max(north - south, 1e-3)
    return (
        f"+proj=aea +lat_1={south + span / 6:.6f} +lat_2={north - span / 6:.6f} "
        f"+lat_0={(south + north) / 2:.6f} +lon_0={(west + east) / 2:.6f} +datum=WGS84 +units=m"
    )


def _draw_layers(
    axes: Axes, regions: gpd.GeoDataFrame, value: MapValue, lines: gpd.GeoDataFrame | None
) -> ScalarMappable:
    """The filled regions and the lines; returns the colour scale for the colour bar."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize, TwoSlopeNorm, to_rgba

    values = regions[value.column].to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if value.diverging:
        bound = max(abs(low), abs(high), 1e-12)
        norm: Normalize = TwoSlopeNorm(vcenter=0.0, vmin=-bound, vmax=bound)
    else:
        norm = Normalize(vmin=low, vmax=high if high > low else low + 1.0)
    colour_map = colormaps[value.colour_map]
    colours = np.array(  # one RGBA row per region; grey where it has no value
        [colour_map(norm(v)) if np.isfinite(v) else to_rgba(NO_DATA_COLOUR) for v in values]
    ).reshape(-1, 4)
    regions.plot(ax=axes, color=colours, edgecolor=EDGE_COLOUR, linewidth=0.3)
    if lines is not None:
        lines.plot(ax=axes, color=LINE_COLOUR, linewidth=0.8)
    return ScalarMappable(norm=norm, cmap=colour_map)


def _set_extent(axes: Axes, crs: str, box_deg: tuple[float, float, float, float]) -> None:
    """Limit ``axes`` to the projected extent of a lon/lat box."""
    from pyproj import Transformer

    to_map = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    west, south, east, north = box_deg
    lons = np.concatenate([np.linspace(west, east, 50), np.full(50, east), np.full(50, west)])
    lats = np.concatenate([np.full(50, south), np.linspace(south, north, 50), np.full(50, north)])
    x_m, y_m = to_map.transform(lons, lats)
    axes.set_xlim(float(np.min(x_m)), float(np.max(x_m)))
    axes.set_ylim(float(np.min(y_m)), float(np.max(y_m)))
    axes.set_aspect("equal")


def _fit_extent(axes: Axes, regions: gpd.GeoDataFrame) -> None:
    """Limit ``axes`` to the regions' extent plus a margin of :data:`EXTENT_MARGIN` each side."""
    west, south, east, north = regions.total_bounds
    margin_m = EXTENT_MARGIN * max(east - west, north - south)
    axes.set_xlim(west - margin_m, east + margin_m)
    axes.set_ylim(south - margin_m, north + margin_m)
    axes.set_aspect("equal")


def _bare(axes: Axes, *, frame: bool) -> None:
    """No ticks, no axis labels (a map's coordinates are not its message)."""
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_xlabel("")
    axes.set_ylabel("")
    for spine in axes.spines.values():
        spine.set_visible(frame)


def _no_data_legend(axes: Axes, labels: FigureLabels) -> None:
    from matplotlib.patches import Patch

    patch = Patch(facecolor=NO_DATA_COLOUR, edgecolor=EDGE_COLOUR, label=labels.no_data)
    axes.legend(handles=[patch], loc="upper right", frameon=False)


def _scale_bar(axes: Axes, labels: FigureLabels) -> None:
    """A bar of a round length (1, 2 or 5 x 10^n km) at the lower left of the map."""
    from matplotlib.patches import Rectangle

    x_min, x_max = axes.get_xlim()
    y_min, y_max = axes.get_ylim()
    length_km = _round_length_km((x_max - x_min) / 1000.0 * SCALE_BAR_SHARE)
    left_m, bottom_m = x_min + 0.04 * (x_max - x_min), y_min + 0.05 * (y_max - y_min)
    height_m = 0.012 * (y_max - y_min)
    axes.add_patch(
        Rectangle((left_m, bottom_m), length_km * 1000.0, height_m, color="black", label="scale")
    )
    axes.text(
        left_m + length_km * 500.0,
        bottom_m + 1.8 * height_m,
        f"{length_km:g} {labels.kilometres}",
        ha="center",
        va="bottom",
    )


def _round_length_km(target_km: float) -> float:
    """The largest of 1, 2, 5 x 10^n km not above ``target_km``."""
    power = 10.0 ** np.floor(np.log10(max(target_km, 1e-3)))
    return float(max(step * power for step in (1.0, 2.0, 5.0) if step * power <= target_km))


def _north_arrow(axes: Axes, labels: FigureLabels) -> None:
    """An arrow pointing up (north, on a map centred on its central meridian), upper left."""
    axes.annotate(
        labels.north,
        xy=(0.06, 0.95),
        xytext=(0.06, 0.83),
        xycoords="axes fraction",
        textcoords="axes fraction",
        ha="center",
        va="center",
        fontweight="bold",
        arrowprops={"facecolor": "black", "width": 3, "headwidth": 9, "headlength": 9},
    )
