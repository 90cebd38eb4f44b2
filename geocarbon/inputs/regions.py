"""Regions (provinces, prefectures, reserves) from vector files, rasterized block by block.

Reading and validating the vector file, reprojecting it to the raster's CRS and repairing
geometries happen once (:func:`read_regions`, :func:`build_zone_index`). Each block then gets
its zone rows (:func:`block_zones`) from the regions whose bounds meet it (an STR-tree query),
so no full-size zone raster is ever held.

Coverage modes:

- ``centre``: a pixel belongs to a region when its centre does (GDAL's rasterization rule).
- ``all-touched``: every pixel a region touches belongs to it (neighbours share edge pixels).
- ``exact``: interior pixels count whole; pixels that a region boundary crosses count by the
  fraction of their area inside each region, and the rest of them is ``unassigned``.

Membership is computed once per run and grid as runs of pixels per row (scanline spans, with
GDAL's pixel-centre rule, and grid traversal of the boundaries for ``all-touched`` and
``exact``), so per block only those runs are copied. Regions that conflict in a mode (overlap,
or touch in ``all-touched``) are put in different *layers*, so each counts its own share. Histogram rows are the regions, then ``unassigned``,
then a ``discard`` row for pixels a layer does not cover (dropped at the end).
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely
import shapely.affinity
from numpy.typing import NDArray

from geocarbon import kernels
from geocarbon.blocks import Block
from geocarbon.config import DEFAULT_COVERAGE, check_coverage
from geocarbon.errors import (
    EncodingGuessWarning,
    InputFileError,
    OverlapWarning,
    RegionError,
    RegionWarning,
    warn,
)
from geocarbon.grid import GridSpec

POLYGONAL = ("Polygon", "MultiPolygon")
#: Coverage fractions at or below this are float noise, not coverage (exact mode).
MIN_FRACTION = 1e-12
POLYGONAL_TYPE_IDS = (3, 6)  # shapely.get_type_id of Polygon and MultiPolygon
#: Runs of pixels: row, first column, end column (exclusive) and zone, one entry per run.
Runs = tuple[NDArray[np.int32], NDArray[np.int32], NDArray[np.int32], NDArray[np.int32]]
#: A region's closed rings in pixel coordinates: xs, ys and where each ring starts.
Rings = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]


@dataclass(frozen=True, eq=False)
class ZoneIndex:
    """Regions ready for block-wise rasterization on one grid.

    ``ids`` are region ids as text (:func:`id_text`, the key for region-specific densities);
    ``parent_ids`` the parent values as read; ``geometries`` are in the grid's CRS (parts moved
    by 360 degrees onto a geographic raster's longitudes); ``layer_of`` gives each region's layer (no two regions of a layer conflict).
    ``layer_spans`` hold each layer's pixel runs, computed once for the whole grid (pixel
    centres; plus boundary pixels in ``all-touched``); ``boundary_spans`` the pixels a region
    boundary crosses (``exact``).
    """

    ids: tuple[str, ...]
    names: tuple[str, ...]
    parent_ids: tuple[object, ...] | None
    geometries: NDArray[np.object_]
    layer_of: NDArray[np.int32]
    mode: str
    overlaps: tuple[tuple[str, str], ...]
    tree: shapely.STRtree
    layer_spans: tuple[SpanTable, ...]
    boundary_spans: SpanTable | None
    #: ``exact``: each region's rings in grid pixel coordinates (xs, ys, ring starts).
    rings: tuple[Rings, ...] | None = None

    @property
    def n_regions(self) -> int:
        return len(self.ids)

    @property
    def unassigned_row(self) -> int:
        return self.n_regions

    @property
    def discard_row(self) -> int:
        return self.n_regions + 1

    @property
    def n_rows(self) -> int:
        return self.n_regions + 2

    @property
    def n_layers(self) -> int:
        return int(self.layer_of.max()) + 1 if len(self.layer_of) else 1


@dataclass(frozen=True, eq=False)
class SpanTable:
    """Runs of pixels ``[col0, col1)`` in a row belonging to ``zone``, sorted by row.

    ``row_offsets[r]:row_offsets[r + 1]`` are the runs of grid row ``r``.
    """

    row_offsets: NDArray[np.int64]
    col0: NDArray[np.int32]
    col1: NDArray[np.int32]
    zone: NDArray[np.int32]

    @classmethod
    def from_runs(cls, row, col0, col1, zone, height: int) -> SpanTable:  # type: ignore[no-untyped-def]
        order = np.lexsort((col0, row))
        offsets = np.searchsorted(row[order], np.arange(height + 1)).astype(np.int64)
        return cls(offsets, col0[order], col1[order], zone[order])

    def fill(self, block: Block, out: NDArray[np.int32]) -> None:
        """Write the zone of every run into ``out``, the (height, width) array of ``block``."""
        kernels.fill_spans(
            self.row_offsets, self.col0, self.col1, self.zone, block.row_off, block.col_off, out
        )

    def __len__(self) -> int:
        return len(self.zone)


@dataclass(frozen=True)
class BlockZones:
    """Zone rows of one block: whole-pixel layers, and fractional boundary pixels (exact mode)."""

    layers: tuple[NDArray[np.int32], ...]
    boundary_rows: NDArray[np.int64]
    boundary_cols: NDArray[np.int64]
    boundary_zone: NDArray[np.int32]
    boundary_fraction: NDArray[np.float64]


def read_regions(
    source: str | Path | gpd.GeoDataFrame,
    *,
    id_field: str,
    name_field: str | None = None,
    parent_field: str | None = None,
    layer: str | None = None,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    """Read a region layer (any format pyogrio reads) and check its fields and geometries.

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
    else:
        frame = _read_file(Path(source), layer, encoding)
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
            if not _is_null(values[position])
        ]
        suffix = f" ({', '.join(known)})" if known else ""
        return f"{self.kind} {self.index[position]}{suffix}"


def _feature_names(frame: pd.DataFrame, label: str, fields: list[str]) -> _FeatureNames:
    kind = "row" if label.startswith("the regions") else "FID"
    unique = tuple(dict.fromkeys(fields))
    return _FeatureNames(label, kind, frame.index, tuple((f, frame[f].tolist()) for f in unique))


def _is_null(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


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
            return pd.Series(series.tolist(), index=series.index, dtype=np.int64)
        if kinds == {"text"}:
            return series.astype(str)
    listing = ", ".join(sorted(kinds))
    raise RegionError(
        f"Regions {features.label}: field {field!r} holds {listing} values; region ids and parents "
        "must be all integers or all text (convert the field, e.g. with ogr2ogr -sql CAST)."
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
    null = [p for p, value in enumerate(values) if _is_null(value)]
    if null:
        warn(
            f"Regions {features.label}: field {name_field!r} is empty for "
            f"{features.describe(null)}; their id is used as the name.",
            RegionWarning,
        )
    return [
        id_text(ids.iloc[p]) if _is_null(value) else id_text(value)
        for p, value in enumerate(values)
    ]


def build_zone_index(
    regions: gpd.GeoDataFrame, grid: GridSpec, mode: str = DEFAULT_COVERAGE
) -> ZoneIndex:
    """Reproject ``regions`` to ``grid``'s CRS and sort them into non-conflicting layers."""
    check_coverage(mode)
    if mode == "exact" and grid.is_rotated:
        raise RegionError(
            "Exact coverage needs a north-up grid, and this land cover's geotransform is rotated. "
            "Warp it first (gdalwarp), or use --coverage centre."
        )
    ids = tuple(id_text(value) for value in regions["region_id"])
    geometries = _onto_raster_longitudes(
        np.asarray(regions.to_crs(grid.crs).geometry.values, dtype=object), grid, ids
    )
    tree = shapely.STRtree(geometries)
    centre, boundary, rings = _region_runs(geometries, grid, with_boundary=mode != "centre")
    # Conflicts are decided on the grid: regions conflict when they would claim the same pixel.
    candidates = _bbox_pairs(geometries, tree)
    overlapping = [(a, b) for a, b in candidates if _share_pixels(centre[a], centre[b])]
    if mode == "all-touched":
        touched = [_merge_runs(centre[r], boundary[r]) for r in range(len(ids))]
        conflicts = [(a, b) for a, b in candidates if _share_pixels(touched[a], touched[b])]
    else:
        conflicts = overlapping
    overlaps = tuple((ids[a], ids[b]) for a, b in overlapping)
    if overlaps:
        pairs = ", ".join(f"{a}/{b}" for a, b in overlaps[:10])
        warn(
            f"{len(overlaps)} pair(s) of regions overlap ({pairs}{', ...' if len(overlaps) > 10 else ''}): "
            "they share pixels; each counts its own share, so region sums exceed the raster total.",
            OverlapWarning,
        )
    layer_of = _colour(len(ids), conflicts)
    layer_spans = tuple(
        _span_table(
            [centre[r] for r in range(len(ids)) if layer_of[r] == layer]
            + (
                [boundary[r] for r in range(len(ids)) if layer_of[r] == layer]
                if mode == "all-touched"
                else []
            ),
            grid.height,
        )
        for layer in range(int(layer_of.max()) + 1 if len(ids) else 1)
    )
    return ZoneIndex(
        ids=ids,
        names=tuple(regions["region_name"]),
        parent_ids=tuple(regions["parent_id"]) if "parent_id" in regions else None,
        geometries=geometries,
        layer_of=layer_of,
        mode=mode,
        overlaps=overlaps,
        tree=tree,
        layer_spans=layer_spans,
        boundary_spans=_span_table(boundary, grid.height) if mode == "exact" else None,
        rings=tuple(rings) if mode == "exact" else None,
    )


def block_zones(index: ZoneIndex, grid: GridSpec, block: Block) -> BlockZones:
    """Zone rows of ``block``, filled from the precomputed pixel runs of each layer."""
    shape = (block.height, block.width)
    boundary = None
    if index.boundary_spans is not None:
        touched = np.full(shape, -1, np.int32)
        index.boundary_spans.fill(block, touched)
        boundary = touched >= 0
    layers = []
    fill = index.unassigned_row if index.n_layers == 1 else index.discard_row
    for spans in index.layer_spans:
        rows = np.full(shape, fill, np.int32)
        spans.fill(block, rows)
        if boundary is not None:
            rows[boundary] = index.discard_row
        layers.append(rows)
    if index.n_layers > 1:
        covered = np.any(np.stack(layers) < index.n_regions, axis=0)
        if boundary is not None:
            covered |= boundary
        layers.append(np.where(covered, index.discard_row, index.unassigned_row).astype(np.int32))
    if boundary is None or not boundary.any():
        empty = np.empty(0, np.int64)
        return BlockZones(
            tuple(layers), empty, empty, np.empty(0, np.int32), np.empty(0, np.float64)
        )
    transform = grid.block_transform(block.row_off, block.col_off)
    candidates = index.tree.query(
        shapely.box(*_block_bounds(transform, shape)), predicate="intersects"
    )
    return BlockZones(tuple(layers), *_boundary_fractions(index, candidates, boundary, block))


GEOPARQUET_SUFFIXES = (".parquet", ".geoparquet")
#: Formats that may hold several layers (listing them is cheap): a layer must then be chosen.
MULTI_LAYER_SUFFIXES = (".gpkg", ".sqlite", ".gdb", ".kml", ".gml", ".zip")


def _read_file(path: Path, layer: str | None, encoding: str | None) -> gpd.GeoDataFrame:
    if not path.exists():
        raise InputFileError(f"Regions file {str(path)!r} does not exist.")
    if path.suffix.lower() in GEOPARQUET_SUFFIXES:
        # GeoParquet through pyarrow: GDAL's Parquet driver is not in every pyogrio build.
        try:
            return gpd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise InputFileError(
                f"Regions file {str(path)!r} cannot be read as GeoParquet: {exc}"
            ) from exc
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputFileError(
                f"Unknown encoding {encoding!r} for regions file {str(path)!r}; give one such as "
                "GBK, GB18030, UTF-8 or CP1252 (--encoding)."
            ) from None
    guess = encoding is None and _undeclared_shapefile_encoding(path)
    try:
        _check_layer(path, layer)
        # pyogrio directly: geopandas.read_file would list (and so parse) the layers again.
        # Through Arrow: about half the time of feature-by-feature reading on large GeoJSON.
        # An undeclared Shapefile encoding is read as Latin-1 (bytes kept) and decoded below.
        frame = pyogrio.read_dataframe(
            path,
            layer=layer,
            use_arrow=True,
            fid_as_index=True,
            encoding="ISO-8859-1" if guess else encoding,
        )
    except pyogrio.errors.DataSourceError as exc:
        raise InputFileError(
            f"Regions file {str(path)!r} cannot be read as vector data: {exc}"
        ) from exc
    frame = frame if isinstance(frame, gpd.GeoDataFrame) else gpd.GeoDataFrame(frame)
    return _decode_latin1(frame, path) if guess else _checked_text(frame, path)


def _check_layer(path: Path, layer: str | None) -> None:
    """A named layer must exist; a file with several layers needs one named."""
    if layer is None and not (path.is_dir() or path.suffix.lower() in MULTI_LAYER_SUFFIXES):
        return  # listing layers parses some formats (GeoJSON) whole
    layers = [str(name) for name, kind in pyogrio.list_layers(path) if layer or kind]
    if layer is not None and layer not in layers:
        raise InputFileError(
            f"Regions file {str(path)!r} has no layer {layer!r}; its layers are "
            f"{', '.join(layers)} (--layer)."
        )
    if layer is None and len(layers) > 1:
        raise InputFileError(
            f"Regions file {str(path)!r} has {len(layers)} layers ({', '.join(layers)}); "
            "choose one with --layer."
        )


def _undeclared_shapefile_encoding(path: Path) -> bool:
    """A Shapefile with neither a .cpg file nor a code page in its .dbf header."""
    if path.suffix.lower() != ".shp":
        return False
    if any(path.with_suffix(s).exists() for s in (".cpg", ".CPG")):
        return False
    dbf = next(
        (p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None
    )
    if dbf is None:
        return False
    with dbf.open("rb") as handle:
        header = handle.read(32)
    return len(header) == 32 and header[29] == 0  # byte 29: language driver id, 0 = none


def _decode_latin1(frame: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Text read as Latin-1 (each byte one character) decoded as UTF-8, else GB18030 with a
    warning, else left as Latin-1 (GDAL's own assumption)."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    texts = [
        c for c in columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])
    ]
    raw = [str(c).encode("latin-1") for c in columns] + [
        str(v).encode("latin-1") for c in texts for v in frame[c].dropna().tolist()
    ]
    codec = next((name for name in ("utf-8", "gb18030") if _decodes(raw, name)), None)
    if codec is None or all(b.isascii() for b in raw):
        return frame
    if codec == "gb18030":
        warn(
            f"Regions file {str(path)!r} declares no encoding (no .cpg file) and its text is not "
            "UTF-8; it was read as GB18030 (GBK), the usual encoding of Chinese Shapefiles. To "
            f"silence this, give --encoding GBK or add {path.with_suffix('.cpg').name} holding GBK.",
            EncodingGuessWarning,
        )
    decoded = frame.copy()
    for column in texts:
        decoded[column] = frame[column].map(
            lambda v: v if _is_null(v) else str(v).encode("latin-1").decode(codec)
        )
    return decoded.rename(columns={c: str(c).encode("latin-1").decode(codec) for c in columns})


def _decodes(raw: list[bytes], codec: str) -> bool:
    try:
        for value in raw:
            value.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _checked_text(frame: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Text that is not valid UTF-8 fails later inside pyarrow: name the field and the fix now."""
    for column in frame.columns:
        if column == frame.geometry.name or not pd.api.types.is_string_dtype(frame[column]):
            continue
        try:
            frame[column].tolist()
        except (pa.ArrowException, UnicodeDecodeError):
            raise InputFileError(
                f"Regions file {str(path)!r}: field {column!r} is not valid text in the encoding "
                "it was read with; give its encoding, e.g. --encoding GBK (or add a .cpg file "
                "holding it next to a Shapefile)."
            ) from None
    return frame


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


def _onto_raster_longitudes(
    geometries: NDArray[np.object_], grid: GridSpec, ids: tuple[str, ...]
) -> NDArray[np.object_]:
    """In a geographic CRS, move each polygon part by +-360 degrees onto the raster's longitudes
    (regions split at the antimeridian over a raster crossing it, or a 0..360 raster), and warn
    about regions that still reach beyond the raster."""
    if not grid.crs.is_geographic or not len(geometries):
        return geometries
    west, south, east, north = _block_bounds(grid.transform, grid.shape)
    moved = np.array([_shift_parts(g, west, east) for g in geometries], dtype=object)
    area = shapely.area(moved)
    inside = shapely.area(shapely.intersection(moved, shapely.box(west, south, east, north)))
    share_out = np.where(area > 0, 1.0 - inside / np.where(area > 0, area, 1.0), 0.0)
    partly = np.flatnonzero((share_out > 1e-6) & (inside > 0))
    if len(partly):
        listing = ", ".join(f"{ids[r]} ({100 * share_out[r]:.2g} %)" for r in partly[:10])
        warn(
            f"{len(partly)} region(s) reach beyond the land cover's extent ({listing}"
            f"{', ...' if len(partly) > 10 else ''} of their area outside, in degrees squared): "
            "only their part inside the raster is counted.",
            RegionWarning,
        )
    return moved


def _shift_parts(geometry: shapely.Geometry, west: float, east: float) -> shapely.Geometry:
    parts = shapely.get_parts(geometry)
    shifts = [_best_shift(part, west, east) for part in parts]
    if not any(shifts):
        return geometry
    moved = [shapely.affinity.translate(p, xoff=s) for p, s in zip(parts, shifts, strict=True)]
    return shapely.union_all(moved)


def _best_shift(part: shapely.Geometry, west: float, east: float) -> float:
    """0, 360 or -360: the shift giving the part's longitudes the most overlap with the raster's."""
    x0, _, x1, _ = part.bounds

    def overlap(shift: float) -> float:
        return min(x1 + shift, east) - max(x0 + shift, west)

    return max((0.0, 360.0, -360.0), key=overlap)


def _bbox_pairs(geometries: NDArray[np.object_], tree: shapely.STRtree) -> list[tuple[int, int]]:
    """Pairs (a < b) of regions whose bounding boxes meet: the only ones that can share pixels."""
    left, right = tree.query(geometries)
    keep = left < right
    return list(zip(left[keep].tolist(), right[keep].tolist(), strict=True))


def _share_pixels(a: Runs, b: Runs) -> bool:
    return bool(kernels.runs_overlap(a[0], a[1], a[2], b[0], b[1], b[2]))


def _merge_runs(a: Runs, b: Runs) -> Runs:
    row, col0, col1, zone = (np.concatenate([x, y]) for x, y in zip(a, b, strict=True))
    order = np.lexsort((col0, row))
    return row[order], col0[order], col1[order], zone[order]


def _colour(n: int, conflicts: list[tuple[int, int]]) -> NDArray[np.int32]:
    """Greedy colouring: each region takes the lowest layer none of its conflicting regions has."""
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for a, b in conflicts:
        neighbours[a].add(b)
        neighbours[b].add(a)
    layer = np.full(n, -1, np.int32)
    for region in range(n):
        taken = {int(layer[other]) for other in neighbours[region] if layer[other] >= 0}
        layer[region] = next(k for k in range(n + 1) if k not in taken)
    return layer


def _block_bounds(transform, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    """CRS bounds of a block."""
    a, b, c, d, e, f = tuple(transform)[:6]
    rows, cols = (0, shape[0]), (0, shape[1])
    xs = [a * col + b * row + c for row in rows for col in cols]
    ys = [d * col + e * row + f for row in rows for col in cols]
    return min(xs), min(ys), max(xs), max(ys)


def _boundary_fractions(
    index: ZoneIndex,
    candidates: NDArray[np.intp],
    boundary: NDArray[np.bool_],
    block: Block,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int32], NDArray[np.float64]]:
    """Exact coverage of every boundary pixel by every candidate region, remainder unassigned."""
    assert index.rings is not None
    rows, cols = (axis.astype(np.int64) for axis in np.nonzero(boundary))
    out_rows, out_cols, out_zone, out_fraction = [], [], [], []
    covered = np.zeros(len(rows))
    for region in candidates:
        xs, ys, starts = index.rings[region]
        fraction = kernels.coverage_fractions(
            xs - block.col_off, ys - block.row_off, starts, block.height, block.width, rows, cols
        )
        # Float noise (~1e-17) on pixels a region does not touch is no coverage: counting it
        # would make the pixel count depend on the block shape.
        hits = np.flatnonzero(fraction > MIN_FRACTION)
        covered[hits] += fraction[hits]
        out_rows.append(rows[hits])
        out_cols.append(cols[hits])
        out_zone.append(np.full(len(hits), region, np.int32))
        out_fraction.append(fraction[hits])
    remainder = 1.0 - covered
    rest = remainder > MIN_FRACTION
    out_rows.append(rows[rest])
    out_cols.append(cols[rest])
    out_zone.append(np.full(int(rest.sum()), index.unassigned_row, np.int32))
    out_fraction.append(remainder[rest])
    return (
        np.concatenate(out_rows),
        np.concatenate(out_cols),
        np.concatenate(out_zone),
        np.concatenate(out_fraction),
    )


def _region_runs(
    geometries: NDArray[np.object_], grid: GridSpec, *, with_boundary: bool
) -> tuple[list[Runs], list[Runs], list[Rings]]:
    """Per region: pixel-centre runs, (``with_boundary``) one-pixel runs its boundary crosses,
    and its rings in pixel coordinates."""
    centre, boundary, rings = [], [], []
    for region, geometry in enumerate(geometries):
        xs, ys, starts = _pixel_rings(geometry, grid)
        rings.append((xs, ys, starts))
        row, col0, col1 = kernels.polygon_spans(xs, ys, starts, grid.height, grid.width)
        centre.append((row, col0, col1, np.full(len(row), region, np.int32)))
        if with_boundary:
            rows, cols = kernels.segment_pixels(xs, ys, starts, grid.height, grid.width)
            pixels = np.unique(rows.astype(np.int64) * grid.width + cols)
            row, col = (
                (pixels // grid.width).astype(np.int32),
                (pixels % grid.width).astype(np.int32),
            )
            boundary.append((row, col, col + 1, np.full(len(row), region, np.int32)))
    return centre, boundary, rings


def _span_table(runs: list[Runs], height: int) -> SpanTable:
    if not runs:
        empty = np.empty(0, np.int32)
        return SpanTable.from_runs(empty, empty, empty, empty, height)
    row, col0, col1, zone = (np.concatenate(parts) for parts in zip(*runs, strict=True))
    return SpanTable.from_runs(row, col0, col1, zone, height)


def _pixel_rings(
    geometry: shapely.Geometry, grid: GridSpec
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """All rings of a region in pixel coordinates, closed, one after another, and their starts.

    Exterior rings are oriented clockwise in CRS coordinates and pixel coordinates are computed
    as GDAL does (inverse geotransform), so centre membership matches GDAL's rasterization.
    """
    rings = shapely.get_rings(
        shapely.get_parts(shapely.orient_polygons(geometry, exterior_cw=True))
    )
    coords = [shapely.get_coordinates(ring) for ring in rings]
    starts = np.cumsum([0] + [len(c) for c in coords]).astype(np.int64)
    xy = np.concatenate(coords) if coords else np.empty((0, 2))
    a, b, c, d, e, f = tuple(grid.transform)[:6]
    if b == 0.0 and d == 0.0:
        xs = -c / a + xy[:, 0] * (1.0 / a)
        ys = -f / e + xy[:, 1] * (1.0 / e)
    else:
        inverse = ~grid.transform
        ia, ib, ic, id_, ie, if_ = tuple(inverse)[:6]
        xs = ic + xy[:, 0] * ia + xy[:, 1] * ib
        ys = if_ + xy[:, 0] * id_ + xy[:, 1] * ie
    return np.ascontiguousarray(xs), np.ascontiguousarray(ys), starts


#: WGS 84 / NSIDC EASE-Grid 2.0 Global: a cylindrical projection that preserves area exactly.
EQUAL_AREA_CRS = "EPSG:6933"


def region_area_ha(regions: gpd.GeoDataFrame) -> NDArray[np.float64]:
    """Each region's own area (ha) on the WGS84 ellipsoid, whatever its CRS.

    The regions are projected once into an equal-area projection of the ellipsoid (EPSG:6933),
    where planar area is ellipsoidal area; with outlines as dense as administrative boundaries,
    straight projected edges differ from geodesic ones far below 0.01 %.
    """
    return np.asarray(regions.geometry.to_crs(EQUAL_AREA_CRS).area, dtype=np.float64) / 1e4
