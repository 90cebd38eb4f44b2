"""Provenance written into every raster a run writes, as GDAL metadata tags, with the band's
statistics and the QGIS style beside it; and the provenance of a run's region tables.

:class:`RunProvenance` holds what a raster's name cannot say (the density table, its SHA-256 when
it is a file, the class scheme, the area method); :func:`raster_tags` adds what the name does say
(pool or band, date or period, found through :mod:`geocarbon.outputs.spec`), the unit, the band
description and the geocarbon version. :func:`tag_raster` writes them into the intermediate (a
GeoTIFF or VRT) that the COG is copied from, so the COG carries them (GDAL copies metadata) and
stays cloud-optimized (nothing is rewritten after the copy). :func:`tag_sources` does that for
every raster of a run, with its statistics (:func:`band_range`: the exact range of the values
written, which the block writer tracks with :func:`widened`) and its QGIS style
(:mod:`geocarbon.outputs.qml`). No pixels are read here, beyond GDAL's approximate statistics.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
import rasterio.errors
from numpy.typing import NDArray

from geocarbon._version import __version__
from geocarbon.outputs import spec
from geocarbon.outputs.columns import CARBON_BANDS
from geocarbon.outputs.qml import pseudocolor_qml, style_path

if TYPE_CHECKING:
    from geocarbon.outputs.staging import StagedOutputs

#: Bytes read at a time while hashing the density table.
_HASH_CHUNK_BYTES = 2**20


@dataclass(frozen=True, kw_only=True)
class RunProvenance:
    """What produced a run's rasters: ``density_table`` (a path, or the name of a built-in or
    in-memory table), its ``density_table_sha256`` (only for a file on disk), the land cover's
    class ``scheme`` and the pixel ``area_method``. Empty text: not known."""

    density_table: str = ""
    density_table_sha256: str = ""
    scheme: str = ""
    area_method: str = ""

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> RunProvenance:
        """Provenance of the run whose summary document is ``summary`` (its density table hashed
        again: the output folder never replaces an input, so it is the table the run read)."""
        return cls.of(
            str(summary.get("densities") or ""),
            scheme=summary.get("scheme"),
            area_method=str(summary.get("area_method") or ""),
        )

    @classmethod
    def of(cls, table_source: str, *, scheme: str | None, area_method: str) -> RunProvenance:
        """Provenance of a run on the table read from ``table_source`` (hashed when it is a file)."""
        return cls(
            density_table=table_source,
            density_table_sha256=file_sha256(Path(table_source)) if table_source else "",
            scheme=scheme or "",
            area_method=area_method,
        )

    def tags(self) -> dict[str, str]:
        fields = {
            "density_table": self.density_table,
            "density_table_sha256": self.density_table_sha256,
            "scheme": self.scheme,
            "area_method": self.area_method,
        }
        return {name: value for name, value in fields.items() if value}


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of the file at ``path``; empty when ``path`` is not a readable file."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_HASH_CHUNK_BYTES):
                digest.update(chunk)
    except OSError:  # a built-in table's name, a /vsi path, a folder: nothing to hash
        return ""
    return digest.hexdigest()


def name_tags(final: Path) -> dict[str, str]:
    """The run kind and the placeholders (pool, band, year, period) of the output named ``final``."""
    for run in spec.RUNS:
        found = spec.identify(run, final.name)
        if found is not None and found[0].kind == "raster":
            entry, values = found
            # a file of one fixed band (the stock run's total) names it by its key
            if not values.keys() & {"pool", "band"} and entry.key in CARBON_BANDS:
                values = {**values, "band": str(entry.key)}
            return {"run": run, **values}
    return {}


def raster_tags(
    final: Path, description: str, units: str, provenance: RunProvenance | None = None
) -> dict[str, str]:
    """The metadata tags of the raster whose final path is ``final``."""
    tags = {
        "geocarbon_version": __version__,
        "description": description,
        "units": units,
        **name_tags(final),
    }
    if "pool" in tags:  # a pool is a band too: one key to read, whatever the run
        tags["band"] = tags["pool"]
    return tags | (provenance.tags() if provenance is not None else {})


#: Tags repeated on the band itself (its pool or band, date or period, and unit).
BAND_TAG_KEYS = ("band", "pool", "year", "period", "units")


def tag_raster(path: Path, tags: Mapping[str, str]) -> None:
    """Add ``tags`` to the dataset metadata of the GeoTIFF or VRT at ``path``; give its band the
    description and unit (GDAL's band description and unit type, what QGIS shows) and the
    :data:`BAND_TAG_KEYS` tags."""
    with rasterio.open(path, "r+") as dataset:
        dataset.update_tags(**tags)
        dataset.update_tags(1, **{key: tags[key] for key in BAND_TAG_KEYS if key in tags})
        if "description" in tags:
            dataset.set_band_description(1, tags["description"])
        if "units" in tags:
            dataset.set_band_unit(1, tags["units"])


def tag_sources(
    pairs: Sequence[tuple[Path, Path]],
    bands: Mapping[Path, tuple[str, str]],
    provenance: RunProvenance | None,
    staged: StagedOutputs | None = None,
    ranges: Sequence[tuple[float, float]] | None = None,
) -> None:
    """Tag each pair's source (GeoTIFF or VRT) for the final raster of ``bands`` in the same
    place, before the COG is copied from it (tagging the COG afterwards would break its layout);
    its statistics (:func:`band_range`, with the exact ``ranges`` of the values written where
    known) go with them, and into its QGIS style when ``staged`` declares one
    (:func:`geocarbon.outputs.qml.style_path`)."""
    written: Sequence[tuple[float, float] | None] = (
        list(ranges) if ranges is not None else [None] * len(pairs)
    )
    for (source, _), (final, (description, units)), extent in zip(
        pairs, bands.items(), written, strict=True
    ):
        tags = raster_tags(final, description, units, provenance)
        tag_raster(source, tags)
        low, high = band_range(source, extent)
        style = style_path(final)
        if staged is not None and style in staged.finals:
            # a change (and its NPV) is named by its period: a ramp centred on zero
            qml = pseudocolor_qml(low, high, units, diverging="period" in tags)
            staged.temp(style).write_text(qml, "utf-8")


def band_range(path: Path, written: tuple[float, float] | None = None) -> tuple[float, float]:
    """(min, max) of band 1 of the GeoTIFF or VRT at ``path``: ``written``, the exact range of
    the values written (:func:`widened` block by block), where known (not NaN), else approximate.

    GDAL's approximate statistics (from the smallest overview of enough pixels, or sampled
    tiles: never a second full read) are stored in it as ``STATISTICS_*`` metadata, which the
    COG copy keeps, their minimum and maximum replaced by ``written``: overviews averaged 2 x 2
    and sampled tiles miss extremes (a small patch of heavy loss). (NaN, NaN): no data.
    """
    # No .aux.xml side-car beside a source GDAL opens read-only (a VRT's tiles).
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(path, "r+") as dataset:
        try:
            found = dataset.stats(indexes=1, approx=True)[0]
        except rasterio.errors.RasterioError:
            return written or (math.nan, math.nan)
        valid = dataset.tags(1).get("STATISTICS_VALID_PERCENT", "100")
        if written is not None and not math.isnan(written[0]):
            low, high = (repr(float(end)) for end in written)
            dataset.update_tags(1, STATISTICS_MINIMUM=low, STATISTICS_MAXIMUM=high)
            return written
    if float(valid) == 0.0:
        return math.nan, math.nan
    return float(found.min), float(found.max)


def widened(found: tuple[float, float], values: NDArray[np.floating]) -> tuple[float, float]:
    """The range ``found`` (min, max; NaN: nothing yet) widened to ``values`` (NaN: nodata)."""
    low = float(np.fmin.reduce(values, axis=None))  # NaN only when every value is
    high = float(np.fmax.reduce(values, axis=None))
    if math.isnan(low):
        return found
    if math.isnan(found[0]):
        return low, high
    return min(found[0], low), max(found[1], high)


def written_range(paths: Sequence[Path]) -> tuple[float, float]:
    """The exact (min, max) over the rasters at ``paths`` (one band's chunks on a Dask run), as
    the block writer recorded them in ``STATISTICS_MINIMUM``/``MAXIMUM``; (NaN, NaN): no data."""
    found = (math.nan, math.nan)
    for path in paths:
        with rasterio.open(path) as dataset:
            tags = dataset.tags(1)
        if "STATISTICS_MINIMUM" in tags and "STATISTICS_MAXIMUM" in tags:
            ends = [float(tags["STATISTICS_MINIMUM"]), float(tags["STATISTICS_MAXIMUM"])]
            found = widened(found, np.array(ends))
    return found


#: Units of a table column, by the end of its name (longest first; see geocarbon.outputs.columns).
_COLUMN_UNITS = (
    ("_mg_co2e_per_yr", "Mg CO2e/yr"),
    ("_mg_co2e", "Mg CO2e"),
    ("_mg_co2", "Mg CO2"),
    ("_mg_c_per_yr", "Mg C/yr"),
    ("_mg_per_yr", "Mg C/yr"),
    ("_tg_per_yr", "Tg C/yr"),
    ("_mg_per_ha", "Mg C/ha"),
    ("_mg_c", "Mg C"),
    ("_mg", "Mg C"),
    ("_tg", "Tg C"),
    ("_ha", "ha"),
    ("_px", "pixels"),
    ("pixel_count", "pixels"),
    ("_share", "fraction"),
    ("years", "years"),
    ("npv", "currency"),
)
#: A statistic of a quantity keeps its unit: ``net_change_mg_p95``, ``stock_total_tg_low``.
_STATISTIC_SUFFIX = re.compile(r"_(?:p\d+|low|central|high)$")


def column_units(columns: Iterable[object]) -> dict[str, str]:
    """The unit of each of ``columns`` that its name gives (``stock_total_tg`` -> ``Tg C``,
    ``net_change_mg_p95`` -> ``Mg C``, ``npv`` -> the valuation's ``currency``)."""
    units = {}
    for column in map(str, columns):
        quantity = _STATISTIC_SUFFIX.sub("", column)
        found = next((unit for end, unit in _COLUMN_UNITS if quantity.endswith(end)), None)
        if found is not None:
            units[column] = found
    return units


def run_metadata(summary: Mapping[str, Any]) -> dict[str, str]:
    """The provenance of a run's tables, as text (GeoPackage metadata, GeoParquet key-value
    metadata): what a raster's tags say (:func:`raster_tags`), for the run of ``summary``."""
    periods = summary.get("periods")
    years = summary.get("years") or []
    landcovers = summary.get("landcovers") or [summary.get("landcover") or ""]
    fields = {
        "geocarbon_version": str(summary.get("geocarbon_version") or __version__),
        "run": str(summary.get("run") or ""),
        "landcover": ", ".join(map(str, landcovers)),
        "years": ", ".join(map(str, years)),
        "periods": ", ".join(periods) if isinstance(periods, dict) else "",
        **RunProvenance.from_summary(summary).tags(),
    }
    return {name: value for name, value in fields.items() if value}


def table_metadata(summary: Mapping[str, Any], columns: Iterable[object]) -> dict[str, Any]:
    """:func:`run_metadata` and the units of ``columns`` (``column_units``), as a JSON object."""
    return {**run_metadata(summary), "column_units": column_units(columns)}


def table_metadata_text(summary: Mapping[str, Any], columns: Iterable[object]) -> dict[str, str]:
    """:func:`table_metadata` as text items (``column_units`` a JSON object)."""
    document = table_metadata(summary, columns)
    units = json.dumps(document.pop("column_units"), ensure_ascii=False)
    return {**document, "column_units": units}
