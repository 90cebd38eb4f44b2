"""Regions as pixel runs of one land-cover grid, rasterized block by block.

The regions :func:`geocarbon.inputs.regions.read_regions` returns are reprojected to the grid's
CRS (parts moved by 360 degrees onto a geographic raster's longitudes) once
(:func:`build_zone_index`). Each block then gets its zone rows (:func:`block_zones`) from the
regions whose bounds meet it (an STR-tree query), so no full-size zone raster is ever held.

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

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
import shapely.affinity
from numpy.typing import NDArray

from geocarbon import kernels
from geocarbon.blocks import Block
from geocarbon.config import DEFAULT_COVERAGE, check_coverage
from geocarbon.errors import OverlapWarning, RegionError, RegionWarning, warn
from geocarbon.grid import GridSpec
from geocarbon.inputs.regions import id_text

#: Coverage fractions at or below this are float noise, not coverage (exact mode).
MIN_FRACTION = 1e-12
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
