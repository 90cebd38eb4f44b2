"""Provenance written into every raster a run writes, as GDAL metadata tags.

:class:`RunProvenance` holds what a raster's name cannot say (the density table, its SHA-256 when
it is a file, the class scheme, the area method); :func:`raster_tags` adds what the name does say
(pool or band, date or period, found through :mod:`geocarbon.outputs.spec`), the unit, the band
description and the geocarbon version. :func:`tag_raster` writes them into the intermediate (a
GeoTIFF or VRT) that the COG is copied from, so the COG carries them (GDAL copies metadata) and
stays cloud-optimized (nothing is rewritten after the copy). No pixels are read here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import rasterio

from geocarbon._version import __version__
from geocarbon.outputs import spec
from geocarbon.outputs.columns import CARBON_BANDS

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


def tag_raster(path: Path, tags: Mapping[str, str]) -> None:
    """Add ``tags`` to the dataset metadata of the GeoTIFF or VRT at ``path``."""
    with rasterio.open(path, "r+") as dataset:
        dataset.update_tags(**tags)
