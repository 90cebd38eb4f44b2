"""Derive stock tables from the area histogram and the density table, without touching pixels.

stock (Mg C) = area (ha) x density (Mg C/ha), per class and pool; low and high totals use the
table's low and high densities. Everything here is arithmetic on small arrays.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geocarbon._version import __version__
from geocarbon.area import PixelArea
from geocarbon.engine.extent import PassReading
from geocarbon.engine.histogram import Histogram
from geocarbon.errors import run_warnings
from geocarbon.inputs.densities import CarbonTable
from geocarbon.inputs.landcover import LandCoverSource
from geocarbon.inputs.postgis import is_postgis, masked
from geocarbon.lookup import ClassLookup
from geocarbon.units import LEVELS, MG_PER_TG, POOLS


@dataclass(frozen=True)
class StockTotals:
    """Grand totals of a stock run (pixels, areas in ha, stocks in Mg C)."""

    pixel_count: dict[str, int]
    area_ha: dict[str, float]
    stock_mg: dict[str, float]


def class_stock_table(
    area_ha: NDArray[np.float64],
    pixel_count: NDArray[np.int64],
    table: CarbonTable,
) -> pd.DataFrame:
    """One row per table class present in the histogram.

    ``area_ha`` and ``pixel_count`` are one zone's histogram row over bins (classes, unknown,
    nodata). Columns carry their units: ``area_ha``, ``density_<pool>_mg_per_ha``,
    ``stock_<pool>_mg``, ``stock_total_mg`` and, for tables with ranges, ``stock_total_mg_low``
    and ``stock_total_mg_high``.
    """
    n = table.n_classes
    present = np.flatnonzero(pixel_count[:n])
    central = table.central_mg_per_ha[present]
    stock = area_ha[present, None] * central
    frame = pd.DataFrame(
        {
            "class_code": table.codes[present],
            "class_name": [table.names[i] for i in present],
            "pixel_count": pixel_count[present],
            "area_ha": area_ha[present],
        }
    )
    for p, pool in enumerate(POOLS):
        frame[f"density_{pool}_mg_per_ha"] = central[:, p]
    for p, pool in enumerate(POOLS):
        frame[f"stock_{pool}_mg"] = stock[:, p]
    frame["stock_total_mg"] = stock.sum(axis=1)
    if table.has_ranges:
        for level in ("low", "high"):
            density = table.density_mg_per_ha[present, :, LEVELS.index(level)].sum(axis=1)
            frame[f"stock_total_mg_{level}"] = area_ha[present] * density
    return frame


def stock_totals(
    area_ha: NDArray[np.float64],
    pixel_count: NDArray[np.int64],
    lookup: ClassLookup,
    classes: pd.DataFrame,
    *,
    unknown_mode: str,
) -> StockTotals:
    """Grand totals: valid / unknown / nodata pixels and areas, and stock per pool (Mg C and Tg C).

    In ``zero`` mode unknown pixels are valid land with zero carbon; in ``nodata`` mode they are
    excluded like nodata but counted separately.
    """
    unknown, nodata = lookup.unknown_bin, lookup.nodata_bin
    known_count = int(pixel_count[: lookup.n_classes].sum())
    known_area = float(area_ha[: lookup.n_classes].sum())
    unknown_valid = unknown_mode == "zero"
    pixels = {
        "total": int(pixel_count.sum()),
        "valid": known_count + (int(pixel_count[unknown]) if unknown_valid else 0),
        "unknown": int(pixel_count[unknown]),
        "nodata": int(pixel_count[nodata]),
    }
    areas = {
        "total": float(area_ha.sum()),
        "valid": known_area + (float(area_ha[unknown]) if unknown_valid else 0.0),
        "unknown": float(area_ha[unknown]),
        "nodata": float(area_ha[nodata]),
    }
    stock = {f"stock_{pool}_mg": float(classes[f"stock_{pool}_mg"].sum()) for pool in POOLS}
    stock["stock_total_mg"] = float(classes["stock_total_mg"].sum())
    for level in ("low", "high"):
        column = f"stock_total_mg_{level}"
        if column in classes:
            stock[column] = float(classes[column].sum())
    stock["stock_total_tg"] = stock["stock_total_mg"] / MG_PER_TG
    return StockTotals(pixels, areas, stock)


def with_total_row(classes: pd.DataFrame, totals: StockTotals) -> pd.DataFrame:
    """The class table with a final ``TOTAL`` row (densities blank, area-weighted means elsewhere)."""
    total: dict[str, object] = {column: np.nan for column in classes.columns}
    total.update({"class_code": pd.NA, "class_name": "TOTAL"})
    total["pixel_count"] = int(classes["pixel_count"].sum())
    total["area_ha"] = float(classes["area_ha"].sum())
    for column in classes.columns:
        if column.startswith("stock_"):
            total[column] = float(classes[column].sum())
    # Codes stay exact integers (uint64 codes beyond the int64 range included).
    codes = classes["class_code"].astype(
        "UInt64" if classes["class_code"].dtype == np.uint64 else "Int64"
    )
    frame = pd.concat([classes.assign(class_code=codes), pd.DataFrame([total])], ignore_index=True)
    frame["class_code"] = frame["class_code"].astype(codes.dtype)
    return frame


def run_summary(
    run: str,
    *,
    sources: Sequence[LandCoverSource],
    years: Sequence[int] | None,
    table: CarbonTable,
    area: PixelArea,
    dates: Sequence[tuple[Histogram, ClassLookup]],
    unknown_mode: str,
    nodata_override: int | None,
    coverage: str | None,
    reading: PassReading | None,
    section: Mapping[str, Any],
) -> dict[str, Any]:
    """The summary document of any run: what every run reports, then its own ``section``.

    Common keys: the version and run kind, the land cover(s) and years, table and scheme, grid
    (CRS, shape), area method, nodata (declared per date, and any override), coverage, the
    unknown codes (summed over dates in ``unknown_classes``, and per date), and what the pass
    read (``reading``, the pass's): ``blocks_read`` of ``blocks_total``, and
    ``pixels_outside_extent`` and ``area_outside_extent_ha``: the pixels outside the regions'
    extent (their bounding boxes), in no row, and not read unless the run maps rasters.
    """
    grid = sources[0].grid
    date_years: list[int | None] = list(years) if years is not None else [None] * len(sources)
    found = [
        (source.label, year, code, count)
        for source, year, (histogram, lookup) in zip(sources, date_years, dates, strict=True)
        for code, count in sorted(histogram.unknown_codes(lookup).items())
    ]
    summed: dict[int, int] = {}
    for _, _, code, count in found:
        summed[code] = summed.get(code, 0) + count
    by_date = [
        {"landcover": landcover, "year": year, "class_code": code, "pixel_count": count}
        for landcover, year, code, count in found
    ]
    return {
        "geocarbon_version": __version__,
        "run": run,
        "landcover": sources[-1].label,  # a URL as GDAL reads it, not folded by pathlib
        "landcovers": [source.label for source in sources],
        "years": None if years is None else [int(year) for year in years],
        "resampled": [s.label for s in sources if s.warped_from is not None],
        "densities": table.source,
        "regional_densities": sorted(table.regional),
        "scheme": table.scheme,
        "crs": grid.crs.to_string(),
        "shape": list(grid.shape),
        "area_method": area.method,
        "nominal_pixel_area_ha": None if np.isnan(area.nominal_ha) else area.nominal_ha,
        "raster_nodata": sources[0].nodata,
        "nodata_by_date": [source.nodata for source in sources],
        "nodata_override": nodata_override,
        "nodata_pixels_by_date": [int(h.pixel_count[:, -1].sum()) for h, _ in dates],
        "coverage": coverage,
        "unknown_mode": unknown_mode,
        "unknown_classes": [
            {"class_code": code, "pixel_count": count} for code, count in sorted(summed.items())
        ],
        "unknown_classes_by_date": by_date,
        **({} if reading is None else reading.summary()),
        "command_line": command_line(),
        "warnings": run_warnings(),
        **section,
    }


def command_line() -> list[str] | None:
    """The command that started the run, when it is the ``geocarbon`` command line; database
    connections (``--regions``, ``--to-postgis``) shown with their password masked."""
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    if program in ("geocarbon", "geocarbon.exe") or sys.argv[0].endswith(
        os.path.join("geocarbon", "cli", "__main__.py")
    ):
        return ["geocarbon", *map(_shown, sys.argv[1:])]
    return None


def _shown(argument: str) -> str:
    option, equals, value = argument.partition("=")
    if equals and option.startswith("--") and is_postgis(value):
        return f"{option}={masked(value)}"
    return masked(argument) if is_postgis(argument) else argument
