"""Raster sinks for the chunks of a distributed pass: each worker writes its chunk's bands.

The run hands a :class:`ChunkRasters` (picklable) to the Dask runner; on a worker it opens one
tiled GeoTIFF per band for one chunk, in a scratch folder the run staged (shared storage), and
the client mosaics every band's chunks into a COG (:func:`geocarbon.outputs.writers.cogs_from_chunks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from geocarbon.blocks import Block
from geocarbon.grid import GridSpec
from geocarbon.outputs.writers import TiledRasters


@dataclass(frozen=True)
class ChunkRasters:
    """Opens the tiled GeoTIFFs of one chunk's bands (description, units) in ``folder``."""

    folder: Path
    grid: GridSpec
    bands: tuple[tuple[str, str], ...]

    def __call__(self, chunk: Block) -> TiledRasters:
        """Rasters taking blocks in whole-grid pixel coordinates, covering ``chunk``."""
        chunk_grid = GridSpec(
            self.grid.crs,
            self.grid.block_transform(chunk.row_off, chunk.col_off),
            chunk.height,
            chunk.width,
        )
        paths = [
            self.folder / f"chunk_r{chunk.row_off}_c{chunk.col_off}_b{band}.tif"
            for band in range(len(self.bands))
        ]
        return TiledRasters(paths, chunk_grid, self.bands, origin=(chunk.row_off, chunk.col_off))
