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

Regions that conflict in a mode (overlap, or touch in ``all-touched``) are put in different
*layers*, so each counts its own share. Histogram rows are the regions, then ``unassigned``,
then a ``discard`` row for pixels a layer does not cover (dropped at the end).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import shapely
from numpy.typing import NDArray
from rasterio.features import rasterize
from rasterio.windows import Window
from rasterio.windows import transform as window_transform

from geocarbon.blocks import Block
from geocarbon.choices import COVERAGE_MODES
from geocarbon.errors import InputFileError, RegionError
from geocarbon.grid import GridSpec
from geocarbon.tables import region_key

POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True, eq=False)
class ZoneIndex:
    """Regions ready for block-wise rasterization on one grid.

    ``ids`` are region ids as text (the key for region-specific densities); ``geometries`` are in
    the grid's CRS; ``layer_of`` gives each region's layer (no two regions of a layer conflict).
    """

    ids: tuple[str, ...]
    names: tuple[str, ...]
    parent_ids: tuple[str, ...] | None
    geometries: NDArray[np.object_]
    layer_of: NDArray[np.int32]
    mode: str
    overlaps: tuple[tuple[str, str], ...]
    tree: shapely.STRtree

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
) -> gpd.GeoDataFrame:
    """Read a region layer (any format pyogrio reads) and check its fields and geometries.

    Returns a GeoDataFrame with columns ``region_id`` (text), ``region_name``, ``parent_id``
    (when asked), the original attributes, and polygonal geometries (invalid ones repaired, with a
    warning naming them).

    Raises
    ------
    InputFileError
        Missing file or layer.
    RegionError
        Empty layer, missing fields, duplicate ids, null or non-polygon geometries, no CRS.
    """
    label = (
        "the regions GeoDataFrame" if isinstance(source, gpd.GeoDataFrame) else repr(str(source))
    )
    frame = (
        source.copy() if isinstance(source, gpd.GeoDataFrame) else _read_file(Path(source), layer)
    )
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
        raise RegionError(f"Regions {label} have no CRS; set one (e.g. ogr2ogr -a_srs EPSG:4326).")
    ids = frame[id_field].map(region_key)
    duplicated = sorted(set(ids[ids.duplicated()]))
    if duplicated:
        raise RegionError(
            f"Regions {label}: field {id_field!r} repeats id(s) {', '.join(duplicated)}; ids must be "
            "unique (dissolve the parts first, e.g. with ogr2ogr -dialect sqlite ST_Union)."
        )
    frame = frame.assign(region_id=ids)
    frame["region_name"] = frame[name_field].astype(str) if name_field else frame["region_id"]
    if parent_field:
        frame["parent_id"] = frame[parent_field].map(region_key)
    frame = frame.set_geometry(_polygonal_geometries(frame, label))
    return frame


def build_zone_index(regions: gpd.GeoDataFrame, grid: GridSpec, mode: str = "centre") -> ZoneIndex:
    """Reproject ``regions`` to ``grid``'s CRS and sort them into non-conflicting layers."""
    if mode not in COVERAGE_MODES:
        raise ValueError(f"coverage must be one of {COVERAGE_MODES}, got {mode!r}")
    geometries = np.asarray(regions.to_crs(grid.crs).geometry.values, dtype=object)
    tree = shapely.STRtree(geometries)
    ids = tuple(regions["region_id"])
    conflicts = _conflicts(geometries, tree, touching=mode == "all-touched")
    overlaps = tuple((ids[a], ids[b]) for a, b in _conflicts(geometries, tree, touching=False))
    if overlaps:
        pairs = ", ".join(f"{a}/{b}" for a, b in overlaps[:10])
        warnings.warn(
            f"{len(overlaps)} pair(s) of regions overlap ({pairs}{', ...' if len(overlaps) > 10 else ''}); "
            "each counts its own share, so region sums exceed the raster total.",
            UserWarning,
            stacklevel=2,
        )
    return ZoneIndex(
        ids=ids,
        names=tuple(regions["region_name"]),
        parent_ids=tuple(regions["parent_id"]) if "parent_id" in regions else None,
        geometries=geometries,
        layer_of=_colour(len(ids), conflicts),
        mode=mode,
        overlaps=overlaps,
        tree=tree,
    )


def block_zones(index: ZoneIndex, grid: GridSpec, block: Block) -> BlockZones:
    """Zone rows of ``block``: rasterize the regions that meet it, layer by layer."""
    shape = (block.height, block.width)
    transform = window_transform(
        Window(block.col_off, block.row_off, block.width, block.height), grid.transform
    )
    bounds = shapely.box(*_block_bounds(transform, shape))
    candidates = index.tree.query(bounds, predicate="intersects")
    exact = index.mode == "exact"
    boundary = (
        _boundary_pixels(index.geometries[candidates], transform, shape)
        if exact and len(candidates)
        else None
    )
    layers = []
    for layer in range(index.n_layers):
        members = candidates[index.layer_of[candidates] == layer]
        fill = index.unassigned_row if index.n_layers == 1 else index.discard_row
        rows = _rasterize(
            index.geometries, members, transform, shape, fill, index.mode == "all-touched"
        )
        if boundary is not None:
            rows[boundary] = index.discard_row
        layers.append(rows)
    if index.n_layers > 1:
        covered = np.any(np.stack(layers) < index.n_regions, axis=0)
        if boundary is not None:
            covered |= boundary
        layers.append(np.where(covered, index.discard_row, index.unassigned_row).astype(np.int32))
    if boundary is None:
        empty = np.empty(0, np.int64)
        return BlockZones(
            tuple(layers), empty, empty, np.empty(0, np.int32), np.empty(0, np.float64)
        )
    return BlockZones(
        tuple(layers), *_boundary_fractions(index, candidates, boundary, transform, shape)
    )


def _read_file(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    if not path.exists():
        raise InputFileError(f"Regions file {str(path)!r} does not exist.")
    try:
        layers = [name for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises several DataSourceError flavours
        raise InputFileError(
            f"Regions file {str(path)!r} cannot be read as vector data: {exc}"
        ) from exc
    if layer is not None and layer not in layers:
        raise InputFileError(
            f"Regions file {str(path)!r} has no layer {layer!r}; its layers are {', '.join(layers)} (--layer)."
        )
    return gpd.read_file(path, layer=layer, engine="pyogrio")


def _polygonal_geometries(frame: gpd.GeoDataFrame, label: str) -> gpd.GeoSeries:
    geometry = frame.geometry
    null = frame.loc[geometry.isna() | geometry.is_empty, "region_id"].tolist()
    if null:
        raise RegionError(
            f"Regions {label}: id(s) {', '.join(null)} have no geometry; remove or fix them."
        )
    wrong = ~geometry.geom_type.isin(POLYGONAL)
    if wrong.any():
        listing = ", ".join(
            f"{rid} ({kind})"
            for rid, kind in zip(
                frame.loc[wrong, "region_id"], geometry[wrong].geom_type, strict=True
            )
        )
        raise RegionError(f"Regions {label} must be polygons; id(s) {listing} are not.")
    invalid = ~geometry.is_valid
    if invalid.any():
        names = ", ".join(frame.loc[invalid, "region_id"])
        warnings.warn(
            f"Regions {label}: invalid geometries of id(s) {names} were repaired (shapely.make_valid).",
            UserWarning,
            stacklevel=3,
        )
        repaired = geometry.copy()
        repaired[invalid] = [
            _polygonal_part(g) for g in shapely.make_valid(geometry[invalid].values)
        ]
        geometry = repaired
    return geometry


def _polygonal_part(geometry: shapely.Geometry) -> shapely.Geometry:
    parts = [p for p in shapely.get_parts(geometry) if p.geom_type in POLYGONAL]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _conflicts(
    geometries: NDArray[np.object_], tree: shapely.STRtree, *, touching: bool
) -> list[tuple[int, int]]:
    """Pairs (a < b) that cannot share a layer: interiors overlap, or (``touching``) any contact."""
    left, right = tree.query(geometries, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not touching and len(left):
        inside = shapely.relate_pattern(geometries[left], geometries[right], "T********")
        left, right = left[inside], right[inside]
    return list(zip(left.tolist(), right.tolist(), strict=True))


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


def _rasterize(
    geometries, members, transform, shape, fill: int, all_touched: bool
) -> NDArray[np.int32]:
    if len(members) == 0:
        return np.full(shape, fill, np.int32)
    shapes = ((geometries[i], int(i)) for i in members)
    return rasterize(
        shapes,
        out_shape=shape,
        transform=transform,
        fill=fill,
        all_touched=all_touched,
        dtype="int32",
    )


def _block_bounds(transform, shape: tuple[int, int]) -> tuple[float, float, float, float]:
    a, b, c, d, e, f = tuple(transform)[:6]
    xs = [a * col + b * row + c for row in (0, shape[0]) for col in (0, shape[1])]
    ys = [d * col + e * row + f for row in (0, shape[0]) for col in (0, shape[1])]
    return min(xs), min(ys), max(xs), max(ys)


def _boundary_pixels(
    geometries: NDArray[np.object_], transform, shape: tuple[int, int]
) -> NDArray[np.bool_]:
    """Pixels that any region boundary passes through (GDAL all-touched line rasterization)."""
    clip = _block_bounds(transform, shape)
    lines = [shapely.clip_by_rect(g, *clip).boundary for g in geometries]
    lines = [(line, 1) for line in lines if not line.is_empty]
    if not lines:
        return np.zeros(shape, bool)
    return (
        rasterize(
            lines, out_shape=shape, transform=transform, fill=0, all_touched=True, dtype="uint8"
        )
        > 0
    )


def _boundary_fractions(
    index: ZoneIndex,
    candidates: NDArray[np.intp],
    boundary: NDArray[np.bool_],
    transform,
    shape: tuple[int, int],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int32], NDArray[np.float64]]:
    """Coverage fraction of every boundary pixel by every candidate region, remainder unassigned."""
    rows, cols = np.nonzero(boundary)
    pixels = _pixel_polygons(transform, rows, cols)
    pixel_area = shapely.area(pixels)
    pixel_tree = shapely.STRtree(pixels)
    out_rows, out_cols, out_zone, out_fraction = [], [], [], []
    covered = np.zeros(len(rows))
    clip = _block_bounds(transform, shape)
    for region in candidates:
        geometry = shapely.clip_by_rect(index.geometries[region], *clip)
        hits = pixel_tree.query(geometry, predicate="intersects")
        if len(hits) == 0:
            continue
        fraction = shapely.area(shapely.intersection(pixels[hits], geometry)) / pixel_area[hits]
        hits, fraction = hits[fraction > 0], fraction[fraction > 0]
        covered[hits] += fraction
        out_rows.append(rows[hits])
        out_cols.append(cols[hits])
        out_zone.append(np.full(len(hits), region, np.int32))
        out_fraction.append(fraction)
    remainder = 1.0 - covered
    rest = remainder > 1e-12
    out_rows.append(rows[rest])
    out_cols.append(cols[rest])
    out_zone.append(np.full(int(rest.sum()), index.unassigned_row, np.int32))
    out_fraction.append(remainder[rest])
    return (
        np.concatenate(out_rows).astype(np.int64),
        np.concatenate(out_cols).astype(np.int64),
        np.concatenate(out_zone),
        np.concatenate(out_fraction),
    )


def _pixel_polygons(
    transform, rows: NDArray[np.intp], cols: NDArray[np.intp]
) -> NDArray[np.object_]:
    corners = [(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]
    a, b, c, d, e, f = tuple(transform)[:6]
    coords = np.empty((len(rows), 5, 2))
    for k, (dc, dr) in enumerate(corners):
        coords[:, k, 0] = a * (cols + dc) + b * (rows + dr) + c
        coords[:, k, 1] = d * (cols + dc) + e * (rows + dr) + f
    return shapely.polygons(coords)


def region_area_ha(regions: gpd.GeoDataFrame) -> NDArray[np.float64]:
    """Each region's own area (ha) on the WGS84 ellipsoid (pyproj.Geod), whatever its CRS."""
    geod = pyproj.Geod(ellps="WGS84")
    lonlat = regions.geometry.to_crs("OGC:CRS84")
    return np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in lonlat]) / 1e4
