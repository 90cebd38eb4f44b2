"""What a results folder offers a map: regions, transitions, rasters, land cover and scheme.

Files are found through the output spec (:func:`geocarbon.outputs.find.find_outputs`), so a
stale file an earlier run left is never drawn. Labels are not made here: a raster carries its
kind and period, and the map names it in the page's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geocarbon.errors import InputFileError
from geocarbon.i18n import label
from geocarbon.outputs.spreadsheet import restore_formulas

#: Raster layer label keys by output kind
RASTER_KEYS = {"density": "layer.carbon_density", "change": "layer.density_change"}


@dataclass(frozen=True)
class RasterInput:
    """A raster to draw: its kind (``density``, ``change``), period, path, colours and units."""

    kind: str
    period: str
    path: Path
    diverging: bool
    units: str

    def label(self, lang: str) -> str:
        return f"{label(RASTER_KEYS[self.kind], lang)} {self.period}".strip()


@dataclass(frozen=True)
class MapInputs:
    """What a results folder offers a map."""

    regions: gpd.GeoDataFrame | None
    transitions: pd.DataFrame | None
    rasters: tuple[RasterInput, ...]
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
    rasters = (
        [] if density is None else [RasterInput("density", "", density.path, False, density.units)]
    )
    rasters += [
        RasterInput("change", period, raster.path, True, raster.units)
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
