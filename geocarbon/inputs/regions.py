"""Region layers (provinces, prefectures, reserves) read from vector files and validated.

:func:`read_regions` reads any format pyogrio reads (GeoParquet through pyarrow), recognises
undeclared Shapefile encodings, types the id field (integers stay integers, text stays text),
and repairs geometries, each problem in one line naming the feature. Turning the regions into
pixel runs on a land-cover grid is :mod:`geocarbon.engine.zones`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geocarbon.errors import RegionError, RegionWarning, warn
from geocarbon.inputs.postgis import is_postgis, postgis_label, read_postgis_layer
from geocarbon.inputs.vector_files import is_null, read_vector_file

POLYGONAL = ("Polygon", "MultiPolygon")
POLYGONAL_TYPE_IDS = (3, 6)  # shapely.get_type_id of Polygon and MultiPolygon


def read_regions(
    source: str | Path | gpd.GeoDataFrame,
    *,
    id_field: str,
    name_field: str | None = None,
    parent_field: str | None = None,
    layer: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a region layer (any format pyogrio reads, or a PostGIS table: ``source`` a ``PG:``
    string or ``postgresql://`` URL and ``layer`` the table) and check fields and geometries.

    Returns a GeoDataFrame with only ``region_id`` (the id field's values, type and text kept:
    integers stay int64, text stays text), ``region_name`` (text), ``parent_id`` (when asked, as
    read) and polygonal 2-D geometries (invalid ones repaired, collections reduced to their
    polygons, each with a warning naming them). Other attributes are dropped, so they never
    collide with the statistics written next to these columns.

    ``encoding`` is the text encoding of a Shapefile's attributes; without it and without a
    ``.cpg`` file, UTF-8 and then GB18030 (GBK) are recognised, the latter with a warning.

    Raises
    ------
    InputFileError
        Missing file or layer, several layers and none chosen, unknown encoding.
    RegionError
        Empty layer, missing fields, null/duplicate/mixed-type ids, null parents, null or
        non-polygon geometries, no CRS.
    """
    label = (
        "the regions GeoDataFrame" if isinstance(source, gpd.GeoDataFrame) else repr(str(source))
    )
    if isinstance(source, gpd.GeoDataFrame):
        frame = source.copy()
    elif is_postgis(source):
        frame, label = read_postgis_layer(source, layer), postgis_label(source, layer)
    else:
        frame = read_vector_file(Path(source), layer, encoding)
    if frame.empty:
        raise RegionError(f"Regions {label} hold no features; give a layer with region polygons.")
    missing = [f for f in (id_field, name_field, parent_field) if f and f not in frame.columns]
    if missing:
        fields = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name)
        raise RegionError(
            f"Regions {label} have no field(s) {', '.join(missing)}. Fields present: {fields}. "
            "Choose them with --id-field / --name-field / --parent-field."
        )
    if frame.crs is None:
        raise RegionError(
            f"Regions {label} have no CRS; set one, e.g. ogr2ogr -a_srs EPSG:4326 fixed.gpkg "
            "regions.shp (or add the .prj file of a Shapefile)."
        )
    features = _feature_names(frame, label, [f for f in (id_field, name_field) if f])
    ids = _id_values(frame[id_field], id_field, features)
    regions = gpd.GeoDataFrame(
        {"region_id": ids.to_numpy(), "region_name": _names(frame, name_field, ids, features)},
        geometry=_polygonal_geometries(frame.geometry, features).values,
        crs=frame.crs,
    )
    if parent_field:
        parents = _typed_values(frame[parent_field], parent_field, features)
        regions.insert(2, "parent_id", parents.to_numpy())
    return regions


#: Text ids reserved for the row of pixels outside every region.
RESERVED_IDS = ("unassigned",)


def id_text(value: object) -> str:
    """A region id as text, exactly as written: integers in decimal, text unchanged.

    This is the key a density table's ``region_id`` is matched on; outputs keep the values.
    """
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    return str(value)


@dataclass(frozen=True)
class _FeatureNames:
    """How messages name features: FID (files) or row (GeoDataFrames), with id and name."""

    label: str
    kind: str
    index: pd.Index
    fields: tuple[tuple[str, list[object]], ...]

    def describe(self, positions: Sequence[int] | NDArray[np.intp], limit: int = 10) -> str:
        shown = [self._one(int(p)) for p in list(positions)[:limit]]
        more = len(positions) - limit
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "")

    def _one(self, position: int) -> str:
        known = [
            f"{field} {values[position]!r}"
            for field, values in self.fields
            if not is_null(values[position])
        ]
        suffix = f" ({', '.join(known)})" if known else ""
        return f"{self.kind} {self.index[position]}{suffix}"


def _feature_names(frame: pd.DataFrame, label: str, fields: list[str]) -> _FeatureNames:
    kind = "row" if label.startswith("the regions") else "FID"
    unique = tuple(dict.fromkeys(fields))
    return _FeatureNames(label, kind, frame.index, tuple((f, frame[f].tolist()) for f in unique))


def _typed_values(series: pd.Series, field: str, features: _FeatureNames) -> pd.Series:
    """An id-like field as integers (int64), text or floats; nulls and mixed types refused."""
    null = np.flatnonzero(series.isna().to_numpy())
    if len(null):
        raise RegionError(
            f"Regions {features.label}: field {field!r} is empty (null) for "
            f"{features.describe(null)}; give every region a value, or drop those features."
        )
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        kinds = {"bool"}
    elif pd.api.types.is_integer_dtype(dtype):
        return series.astype(np.uint64 if dtype == np.uint64 else np.int64)
    elif pd.api.types.is_float_dtype(dtype):
        return series.astype(np.float64)
    elif pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
        return series
    else:
        kinds = {_value_kind(v) for v in series.tolist()}
        if kinds == {"integer"}:
            return _integer_series(series, field, features)
        if kinds == {"text"}:
            return series.astype(str)
    listing = ", ".join(sorted(kinds))
    raise RegionError(
        f"Regions {features.label}: field {field!r} holds {listing} values; region ids and parents "
        "must be all integers or all text (convert the field, e.g. with ogr2ogr -sql CAST)."
    )


def _integer_series(series: pd.Series, field: str, features: _FeatureNames) -> pd.Series:
    """Python integers as int64, or uint64 when some exceed int64 and none is negative; exactly,
    never through float."""
    values = [int(v) for v in series.tolist()]
    for dtype in (np.int64, np.uint64):
        limits = np.iinfo(dtype)
        if all(limits.min <= v <= limits.max for v in values):
            return pd.Series(values, index=series.index, dtype=dtype)
    beyond = np.flatnonzero([not -(2**63) <= v < 2**63 for v in values])
    raise RegionError(
        f"Regions {features.label}: field {field!r} holds integers that fit no 64-bit type "
        f"(beyond int64, with negative ones beside them, or beyond uint64) for "
        f"{features.describe(beyond)}; give ids that fit in 64-bit integers, or store them as text."
    )


def _value_kind(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | np.integer):
        return "integer"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def _id_values(series: pd.Series, field: str, features: _FeatureNames) -> pd.Series:
    """The id field, typed, unique (compared exactly) and not a reserved word."""
    ids = _typed_values(series, field, features)
    text = ids.map(id_text)
    repeated = np.flatnonzero(ids.duplicated(keep=False).to_numpy())
    if len(repeated):
        values = ", ".join(dict.fromkeys(text.iloc[repeated]))
        raise RegionError(
            f"Regions {features.label}: field {field!r} repeats id(s) {values} "
            f"({features.describe(repeated)}); ids must be unique (dissolve the parts first, e.g. "
            "with ogr2ogr -dialect sqlite ST_Union ... GROUP BY the id)."
        )
    reserved = np.flatnonzero(text.isin(RESERVED_IDS).to_numpy())
    if len(reserved):
        raise RegionError(
            f"Regions {features.label}: id {RESERVED_IDS[0]!r} ({features.describe(reserved)}) "
            "is the name of the row for pixels outside every region; rename that region."
        )
    padded = np.flatnonzero((text != text.str.strip()).to_numpy())
    if len(padded):
        warn(
            f"Regions {features.label}: id(s) {', '.join(repr(t) for t in text.iloc[padded][:10])} "
            f"of field {field!r} start or end with spaces; they are kept as written, so a density "
            "table's region_id (spaces stripped) will not match them. Strip them to match.",
            RegionWarning,
        )
    return ids


def _names(
    frame: pd.DataFrame, name_field: str | None, ids: pd.Series, features: _FeatureNames
) -> list[str]:
    """Display names as text; a null name falls back to the region's id, with a warning."""
    if name_field is None:
        return [id_text(v) for v in ids]
    values = frame[name_field].tolist()
    null = [p for p, value in enumerate(values) if is_null(value)]
    if null:
        warn(
            f"Regions {features.label}: field {name_field!r} is empty for "
            f"{features.describe(null)}; their id is used as the name.",
            RegionWarning,
        )
    return [
        id_text(ids.iloc[p]) if is_null(value) else id_text(value) for p, value in enumerate(values)
    ]


def _polygonal_geometries(geometry: gpd.GeoSeries, features: _FeatureNames) -> gpd.GeoSeries:
    """2-D polygons: nulls refused, collections reduced to their polygons, invalid ones repaired."""
    values = np.asarray(geometry.values, dtype=object)
    null = np.flatnonzero(shapely.is_missing(values) | shapely.is_empty(values))
    if len(null):
        raise RegionError(
            f"Regions {features.label}: {features.describe(null)} have no geometry (null or "
            "empty); remove or fix them."
        )
    values = np.where(shapely.has_z(values), shapely.force_2d(values), values)
    kinds = shapely.get_type_id(values)
    mixed = np.flatnonzero(~np.isin(kinds, POLYGONAL_TYPE_IDS))
    if len(mixed):
        parts = np.array([_polygonal_part(values[p]) for p in mixed], dtype=object)
        unusable = mixed[shapely.is_empty(parts)]
        if len(unusable):
            listing = ", ".join(
                f"{features.describe([p])} is a {values[p].geom_type}" for p in unusable[:10]
            )
            raise RegionError(
                f"Regions {features.label} must be polygons: {listing} without any polygon; "
                "remove those features or give them their polygons."
            )
        warn(
            f"Regions {features.label}: only the polygons of {features.describe(mixed)} "
            f"({', '.join(sorted({values[p].geom_type for p in mixed}))}) are used; their points "
            "and lines cover no area.",
            RegionWarning,
        )
        values[mixed] = parts
    invalid = np.flatnonzero(~shapely.is_valid(values))
    if len(invalid):
        warn(
            f"Regions {features.label}: invalid geometries of {features.describe(invalid)} "
            "were repaired (shapely.make_valid).",
            RegionWarning,
        )
        values[invalid] = [_polygonal_part(g) for g in shapely.make_valid(values[invalid])]
    return gpd.GeoSeries(values, index=geometry.index, crs=geometry.crs)


def _polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry:
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in POLYGONAL]
    return shapely.union_all(parts) if parts else shapely.Polygon()


#: WGS 84 / NSIDC EASE-Grid 2.0 Global: a cylindrical projection that preserves area exactly.
EQUAL_AREA_CRS = "EPSG:6933"


def region_area_ha(regions: gpd.GeoDataFrame) -> NDArray[np.float64]:
    """Each region's own area (ha) on the WGS84 ellipsoid, whatever its CRS.

    The regions are projected once into an equal-area projection of the ellipsoid (EPSG:6933),
    where planar area is ellipsoidal area; with outlines as dense as administrative boundaries,
    straight projected edges differ from geodesic ones far below 0.01 %.
    """
    return np.asarray(regions.geometry.to_crs(EQUAL_AREA_CRS).area, dtype=np.float64) / 1e4
