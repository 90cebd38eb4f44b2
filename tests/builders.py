"""Builders shared by tests: boxes on the hand-checkable 4x4 grid, the hand-made density table,
and a pass plan over in-memory dates (with its NumPy-checkable block-by-block run)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine

from geocarbon.area import pixel_area
from geocarbon.blocks import iter_blocks
from geocarbon.engine import PassPlan, RasterMaps
from geocarbon.engine.block import run_block
from geocarbon.engine.zones import build_zone_index
from geocarbon.inputs.densities import CarbonTable
from geocarbon.inputs.landcover import WindowReader, landcover_from_array
from geocarbon.lookup import build_class_lookup, density_by_bin

from conftest import EQUAL_AREA_CRS, ONE_HA_TRANSFORM

X0, Y0 = ONE_HA_TRANSFORM.c, ONE_HA_TRANSFORM.f  # upper-left corner; pixels are 100 m


def box(col0, row0, col1, row1):
    """A rectangle in pixel units (columns, rows) of the 4x4 grid, in CRS coordinates."""
    return shapely.box(X0 + 100 * col0, Y0 - 100 * row1, X0 + 100 * col1, Y0 - 100 * row0)


def table():
    # class 1 = 86, class 2 = 28, class 3 = 8 Mg C/ha in total (see conftest.POOLS_CSV)
    density = np.array([[15, 10, 1, 60], [5, 3, 0, 20], [2, 1, 0, 5]], float)
    return CarbonTable(
        "hand",
        np.array([1, 2, 3]),
        ("Forest", "Grass", "Urban"),
        np.repeat(density[:, :, None], 3, 2),
    )


#: 1-ha pixels (100 m) in an equal-area CRS: the planar area is exact.
TRANSFORM = Affine(100.0, 0.0, 4_321_000.0, 0.0, -100.0, 3_210_000.0)


def build(dates, table_codes, rectangles, pairs, *, rasters=True, npv=0.5):
    sources = tuple(
        landcover_from_array(
            np.ma.masked_array(codes, mask=~valid) if valid is not None else codes,
            transform=TRANSFORM,
            crs=EQUAL_AREA_CRS,
            nodata=nodata,
        )
        for codes, nodata, valid in dates
    )
    lookups = tuple(build_class_lookup(table_codes, dtype=s.dtype) for s in sources)
    grid = sources[0].grid
    zones = None
    zone_raster = np.zeros(grid.shape, np.int32)
    if rectangles:
        # Disjoint regions: each rectangle keeps only what earlier ones did not claim.
        claimed = np.zeros(grid.shape, bool)
        geometries, ids = [], []
        for index, (row, col, height, width) in enumerate(rectangles):
            cells = np.zeros(grid.shape, bool)
            cells[row : row + height, col : col + width] = True
            cells &= ~claimed
            if not cells.any():
                continue
            claimed |= cells
            boxes = [
                shapely.box(*(TRANSFORM * (c, r + 1)), *(TRANSFORM * (c + 1, r)))
                for r, c in zip(*np.nonzero(cells), strict=True)
            ]
            geometries.append(shapely.union_all(boxes))
            ids.append(f"R{index}")
            zone_raster[cells] = len(ids) - 1
        frame = gpd.GeoDataFrame({"region_id": ids}, geometry=geometries, crs=EQUAL_AREA_CRS)
        frame["region_name"] = frame["region_id"]
        zones = build_zone_index(frame, grid, "centre")
        zone_raster[~claimed] = zones.unassigned_row
    density = density_by_bin(
        np.arange(1, 4 * len(table_codes) + 1, dtype=float).reshape(-1, 4), unknown_as_zero=True
    )
    maps = RasterMaps(
        density,
        dates=tuple(range(len(dates))),
        pairs=tuple(range(len(pairs))),
        npv_constants=tuple(npv if k % 2 == 0 else None for k in range(len(pairs))),
    )
    plan = PassPlan(
        sources,
        lookups,
        pixel_area(grid, "planar"),
        zones=zones,
        pairs=pairs,
        rasters=maps if rasters else None,
    )
    return plan, zone_raster


def blockwise(plan, block_shape):
    """Sum of the block step over blocks of ``block_shape``, and the stitched raster bands."""
    totals = plan.empty()
    stitched = np.full((plan.n_bands, *plan.grid.shape), -7.0, np.float32)
    readers = [WindowReader(source) for source in plan.sources]
    for block in iter_blocks(plan.grid.shape, block_shape):
        output = run_block(plan, readers, block)
        totals.add(output.totals)
        if output.stack is not None:
            stitched[(slice(None), *block.slices)] = output.stack
    return totals, stitched
