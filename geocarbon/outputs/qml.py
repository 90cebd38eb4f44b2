"""QGIS layer styles (``.qml``, the raster's stem) written beside the rasters a run writes.

Densities get a single-band pseudocolor ramp (light to dark green) from their smallest to their
largest value; changes (and the NPV of a change) a diverging ramp centred on zero, losses red,
gains green; a land-cover raster paletted classes with the scheme's names and colours
(:func:`scheme_palette`, or a density table's classes: :func:`table_palette`; written by
``geocarbon style``). Labels carry the unit. Names and units are data: they are escaped by
:mod:`xml.etree.ElementTree`, never pasted into markup, and characters XML cannot hold at all
(control characters) are dropped. No pixels are read here: the ramp's range comes from the band
statistics the writer computed (:func:`geocarbon.outputs.provenance.band_range`).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geocarbon.choices import CHANGE_COLOUR_MAP, DENSITY_COLOUR_MAP

if TYPE_CHECKING:
    from geocarbon.inputs.densities import CarbonTable
    from geocarbon.inputs.schemes import ClassScheme

STYLE_SUFFIX = ".qml"
_QGIS_VERSION = "3.28.0-Firenze"
_DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
#: Characters XML 1.0 cannot hold, even escaped (lone surrogates: text decoded with
#: ``surrogateescape`` from bytes that were not UTF-8).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: Qualitative colours (matplotlib's tab20) for the classes of a table whose scheme has none.
_CLASS_COLOURS = (
    "#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896",
    "#9467bd", "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7",
    "#bcbd22", "#dbdb8d", "#17becf", "#9edae5",
)  # fmt: skip


@dataclass(frozen=True)
class PaletteClass:
    """One land-cover class of a paletted style: its code, name and ``#rrggbb`` colour."""

    code: int
    name: str
    colour: str


def ramp_colours(colour_map: str, n: int = 5) -> list[str]:
    """``n`` evenly spaced ``#rrggbb`` stops of a matplotlib colour map, ends included."""
    import matplotlib

    cmap = matplotlib.colormaps[colour_map]
    return [matplotlib.colors.to_hex(cmap(k / (n - 1))) for k in range(n)]


def style_path(raster: Path) -> Path:
    """The QGIS style beside ``raster``: same folder and stem (QGIS loads it with the raster)."""
    return raster.with_suffix(STYLE_SUFFIX)


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _document(renderer: ET.Element) -> str:
    root = ET.Element("qgis", version=_QGIS_VERSION, styleCategories="AllStyleCategories")
    pipe = ET.SubElement(root, "pipe")
    pipe.append(renderer)
    ET.indent(root)
    return _DOCTYPE + ET.tostring(root, encoding="unicode") + "\n"


def _number(value: float) -> str:
    return repr(float(value))


def _label(value: float, units: str, suffix: str = "") -> str:
    return " ".join(part for part in (f"{float(value):.6g}", _text(units), suffix) if part)


def ramp_limits(minimum: float, maximum: float, *, diverging: bool) -> tuple[float, float]:
    """The ramp's end values: the data's range, symmetric about zero when ``diverging``; a
    range that is empty or not finite (an all-nodata raster) widens to one unit."""
    if not (math.isfinite(minimum) and math.isfinite(maximum)):
        minimum, maximum = 0.0, 0.0
    minimum, maximum = float(minimum), float(maximum)
    if diverging:
        limit = max(abs(minimum), abs(maximum))
        minimum, maximum = -limit, limit
    if maximum <= minimum:
        return (minimum - 1.0, minimum + 1.0) if diverging else (minimum, minimum + 1.0)
    return minimum, maximum


def pseudocolor_qml(minimum: float, maximum: float, units: str, *, diverging: bool) -> str:
    """A single-band pseudocolor style over [``minimum``, ``maximum``] (data values, ``units``);
    ``diverging``: centred on zero, the maps' and figures' change colours (red losses, blue
    gains), else their density colours (:mod:`geocarbon.choices`). Out-of-range values take the
    end colours; nodata stays transparent."""
    low, high = ramp_limits(minimum, maximum, diverging=diverging)
    colours = ramp_colours(CHANGE_COLOUR_MAP if diverging else DENSITY_COLOUR_MAP)
    renderer = ET.Element(
        "rasterrenderer",
        type="singlebandpseudocolor",
        band="1",
        opacity="1",
        alphaBand="-1",
        nodataColor="",
        classificationMin=_number(low),
        classificationMax=_number(high),
    )
    ET.SubElement(renderer, "rasterTransparency")
    origin = ET.SubElement(renderer, "minMaxOrigin")
    for name, text in (
        ("limits", "None"),
        ("extent", "WholeRaster"),
        ("statAccuracy", "Estimated"),
    ):
        ET.SubElement(origin, name).text = text
    shader = ET.SubElement(ET.SubElement(renderer, "rastershader"), "colorrampshader")
    shader.attrib.update(
        colorRampType="INTERPOLATED",
        classificationMode="1",
        clip="0",
        minimumValue=_number(low),
        maximumValue=_number(high),
        labelPrecision="2",
    )
    ends = ("loss", "gain") if diverging else ("", "")
    for index, colour in enumerate(colours):
        value = low + (high - low) * index / (len(colours) - 1)
        suffix = ends[0] if index == 0 else ends[1] if index == len(colours) - 1 else ""
        ET.SubElement(
            shader,
            "item",
            value=_number(value),
            color=colour,
            alpha="255",
            label=_label(value, units, f"({suffix})" if suffix else ""),
        )
    return _document(renderer)


def paletted_qml(classes: Sequence[PaletteClass]) -> str:
    """A paletted style: one entry per land-cover class, labelled ``<code> <name>``, in its colour."""
    renderer = ET.Element(
        "rasterrenderer", type="paletted", band="1", opacity="1", alphaBand="-1", nodataColor=""
    )
    ET.SubElement(renderer, "rasterTransparency")
    palette = ET.SubElement(renderer, "colorPalette")
    for item in classes:
        ET.SubElement(
            palette,
            "paletteEntry",
            value=str(int(item.code)),
            color=item.colour,
            alpha="255",
            label=_text(f"{int(item.code)} {item.name}"),
        )
    return _document(renderer)


def scheme_palette(scheme: ClassScheme, *, lang: str = "en") -> list[PaletteClass]:
    """The classes of a land-cover ``scheme`` (built-in CSV), with their legend names (the
    published Chinese ones when ``lang`` is ``zh`` and the scheme has them) and colours."""
    return [
        PaletteClass(code, _name_in(scheme, code, name, lang), colour)
        for code, name, colour in zip(scheme.codes, scheme.names, scheme.colors, strict=True)
    ]


def table_palette(table: CarbonTable, *, lang: str = "en") -> list[PaletteClass]:
    """The classes of a density ``table``: its codes and names, in the colours (and, for ``lang``
    ``zh``, the Chinese names) of its built-in scheme where it has one, else qualitative
    colours (:data:`_CLASS_COLOURS`, repeated after 20 classes)."""
    from geocarbon.errors import SchemeError
    from geocarbon.inputs.schemes import get_scheme

    try:
        scheme = get_scheme(table.scheme) if table.scheme else None
    except SchemeError:
        scheme = None
    known = set(scheme.codes) if scheme is not None else set()
    classes = []
    for index, (code, name) in enumerate(zip(table.codes.tolist(), table.names, strict=True)):
        if scheme is not None and code in known:
            classes.append(
                PaletteClass(code, _name_in(scheme, code, name, lang), scheme.color_of(code))
            )
        else:
            classes.append(PaletteClass(code, name, _CLASS_COLOURS[index % len(_CLASS_COLOURS)]))
    return classes


def _name_in(scheme: ClassScheme, code: int, name: str, lang: str) -> str:
    """``name``, or the scheme's Chinese name of ``code`` when ``lang`` is ``zh`` and it has one."""
    return (scheme.name_zh_of(code) or name) if lang == "zh" else name
