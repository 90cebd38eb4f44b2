"""The part of the grid a pass by region counts, and reads: its regions' extent.

A pass with regions counts only the pixels inside the regions' *extent*, the union of their
bounding boxes in pixels (widened by one pixel, so that the pixels all-touched and exact coverage
give a region on its box's edge are in it). Pixels outside it are in no row, and the
``unassigned`` row counts the pixels of the extent that are in no region. The extent depends on
the regions alone, never on the block shape nor on the rasters a run writes, so a run's tables
are the same whatever it writes, and a pass in blocks equals one over the whole array.

A pass that maps no raster never reads outside the extent (a province out of a national mosaic
reads that province's windows): a block the extent covers only in part is read and counted piece
by piece (:func:`run_in_extent`). Maps are per-pixel products of the whole land cover, so a pass
that maps rasters reads every block, maps it whole and counts its pieces in the extent.
:class:`PassReading` says what was read and what was counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from geocarbon.blocks import Block, BlockReader, blocks_meeting
from geocarbon.engine.block import BlockOutput, run_block
from geocarbon.engine.plan import PassPlan
from geocarbon.engine.zones import ZoneIndex
from geocarbon.grid import GridSpec


@dataclass(frozen=True, eq=False)
class Extent:
    """A union of pixel boxes ``(row0, col0, row1, col1)`` (ends exclusive) inside the grid."""

    boxes: NDArray[np.int64]

    def parts(self, block: Block) -> list[Block]:
        """``block`` cut into the rectangles of it inside the extent (none, itself, or pieces):
        rows cut at every box edge, each band's columns the union of its boxes' columns."""
        row0, col0 = block.row_off, block.col_off
        row1, col1 = row0 + block.height, col0 + block.width
        boxes = self.boxes
        meets = (
            (boxes[:, 0] < row1)
            & (boxes[:, 2] > row0)
            & (boxes[:, 1] < col1)
            & (boxes[:, 3] > col0)
        )
        boxes = np.clip(boxes[meets], [row0, col0, row0, col0], [row1, col1, row1, col1])
        if not len(boxes):
            return []
        if (
            (boxes[:, 0] == row0)
            & (boxes[:, 1] == col0)
            & (boxes[:, 2] == row1)
            & (boxes[:, 3] == col1)
        ).any():
            return [block]
        cuts = np.unique(np.concatenate([boxes[:, 0], boxes[:, 2]]))
        parts: list[Block] = []
        previous: list[tuple[int, int]] = []
        band_start = int(cuts[0])
        for top, bottom in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
            spans = _union((boxes[:, 0] <= top) & (boxes[:, 2] >= bottom), boxes)
            if spans != previous:  # a new band: close the one before
                parts += _band(band_start, top, previous)
                band_start, previous = top, spans
        parts += _band(band_start, int(cuts[-1]), previous)
        return parts


def _union(in_band: NDArray[np.bool_], boxes: NDArray[np.int64]) -> list[tuple[int, int]]:
    """The union of the column spans of the boxes ``in_band``, as sorted disjoint spans."""
    spans: list[tuple[int, int]] = []
    for start, end in sorted(boxes[in_band][:, [1, 3]].tolist()):
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def _band(top: int, bottom: int, spans: list[tuple[int, int]]) -> list[Block]:
    return [Block(top, start, bottom - top, end - start) for start, end in spans if bottom > top]


def region_pixel_boxes(zones: ZoneIndex, grid: GridSpec) -> NDArray[np.int64]:
    """Each region's bounding box (in the grid's CRS, as the zone index holds the regions) as
    pixel offsets ``(row0, col0, row1, col1)``, ends exclusive, widened by one pixel on every
    side and clipped to the grid; regions without coordinates, or outside the grid, give none."""
    bounds = shapely.bounds(zones.geometries)
    bounds = bounds[np.isfinite(bounds).all(axis=1)]
    inverse = ~grid.transform
    boxes = []
    for west, south, east, north in bounds.tolist():
        corners = [inverse @ (x, y) for x in (west, east) for y in (south, north)]
        cols, rows = zip(*corners, strict=True)
        row0, col0 = max(math.floor(min(rows)) - 1, 0), max(math.floor(min(cols)) - 1, 0)
        row1 = min(math.ceil(max(rows)) + 1, grid.height)
        col1 = min(math.ceil(max(cols)) + 1, grid.width)
        if row0 < row1 and col0 < col1:
            boxes.append((row0, col0, row1, col1))
    return np.array(boxes, np.int64).reshape(-1, 4)


@dataclass(frozen=True, eq=False)
class PassReading:
    """What a pass counts and reads: the ``extent`` it counts (None: the whole grid), the pixels
    and area (ha) of the grid outside it (in no row), and its blocks of ``block_shape`` it reads
    (``read``: one flag per block; every block when it ``maps`` rasters)."""

    extent: Extent | None
    pixels_total: int
    pixels_counted: int
    area_outside_ha: float
    maps: bool
    block_shape: tuple[int, int] = (0, 0)
    read: NDArray[np.bool_] = field(default_factory=lambda: np.ones((0, 0), bool))

    @property
    def pixels_outside(self) -> int:
        return self.pixels_total - self.pixels_counted

    def in_blocks(self, grid_shape: tuple[int, int], block_shape: tuple[int, int]) -> PassReading:
        """This reading in blocks of ``block_shape``: the blocks it reads flagged."""
        whole = np.array([[0, 0, *grid_shape]], np.int64)
        boxes = whole if self.extent is None or self.maps else self.extent.boxes
        read = blocks_meeting(grid_shape, block_shape, boxes)
        return replace(self, block_shape=block_shape, read=read)

    def summary(self) -> dict[str, Any]:
        """The run summary's keys: blocks read of all, and the pixels and area outside the
        regions' extent (in no row; not read, unless the run maps rasters)."""
        return {
            "blocks_read": int(self.read.sum()),
            "blocks_total": int(self.read.size),
            "pixels_outside_extent": self.pixels_outside,
            "area_outside_extent_ha": self.area_outside_ha,
        }


def pass_reading(plan: PassPlan, block_shape: tuple[int, int], *, mapped: bool) -> PassReading:
    """What a pass of ``plan`` in blocks of ``block_shape`` counts and reads: with regions, their
    extent; without, the whole grid. A pass that maps rasters (``mapped``) reads every block."""
    grid = plan.grid
    whole = PassReading(None, grid.n_pixels, grid.n_pixels, 0.0, mapped)
    if plan.zones is None:
        return whole.in_blocks(grid.shape, block_shape)
    extent = Extent(region_pixel_boxes(plan.zones, grid))
    pieces = extent.parts(Block(0, 0, *grid.shape))  # disjoint rectangles covering the extent
    counted = sum(piece.n_pixels for piece in pieces)
    if counted == grid.n_pixels:
        return whole.in_blocks(grid.shape, block_shape)
    inside_ha = sum(plan.area.window_ha(piece) for piece in pieces)
    outside_ha = max(plan.area.total_ha(grid.shape) - inside_ha, 0.0)
    reading = PassReading(extent, grid.n_pixels, counted, outside_ha, mapped)
    return reading.in_blocks(grid.shape, block_shape)


def run_in_extent(
    plan: PassPlan,
    readers: Sequence[BlockReader],
    block: Block,
    extent: Extent | None,
    *,
    map_rasters: bool = True,
) -> BlockOutput:
    """:func:`~geocarbon.engine.block.run_block` counting the part of ``block`` inside ``extent``
    (all of it when None): a block met in part is counted piece by piece, so no pixel outside the
    extent is counted, nor read unless ``map_rasters`` (GDAL's block cache serves a storage tile
    that pieces share). With ``map_rasters`` the whole block is mapped: maps have every pixel."""
    parts = [block] if extent is None else extent.parts(block)
    if parts == [block]:
        return run_block(plan, readers, block, map_rasters=map_rasters)
    stack = None
    if map_rasters and plan.n_bands:  # the block mapped whole; its counts are the pieces'
        stack = run_block(plan, readers, block).stack
    totals = plan.empty()
    for part in parts:
        totals.add(run_block(plan, readers, part, map_rasters=False).totals)
    return BlockOutput(totals, stack)
