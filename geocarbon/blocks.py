"""Windows over a raster grid under a pixel budget.

A :class:`Block` is a plain immutable value; :func:`iter_blocks` yields them row-major and
:func:`block_shape_for_budget` chooses a block shape aligned to the source's storage tiles. Nothing
here reads or writes pixels. :func:`blocks_meeting` says which blocks meet given pixel boxes
(a run by region reads only those).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

#: A block's class codes and, where the raster has a mask, its valid-pixel mask.
Read = tuple[NDArray[np.integer], NDArray[np.bool_] | None]


@dataclass(frozen=True)
class Block:
    """A rectangular window of a grid, in pixel offsets (rows, columns)."""

    row_off: int
    col_off: int
    height: int
    width: int

    @property
    def n_pixels(self) -> int:
        return self.height * self.width

    @property
    def slices(self) -> tuple[slice, slice]:
        """NumPy slices selecting this block out of a whole-grid array."""
        return (
            slice(self.row_off, self.row_off + self.height),
            slice(self.col_off, self.col_off + self.width),
        )


class BlockReader(Protocol):
    """What reads a block of a land cover (:class:`geocarbon.inputs.landcover.WindowReader`)."""

    def read(self, block: Block) -> Read: ...


def iter_blocks(
    grid_shape: tuple[int, int],
    block_shape: tuple[int, int],
    *,
    only: NDArray[np.bool_] | None = None,
) -> Iterator[Block]:
    """Yield blocks of at most ``block_shape`` covering ``grid_shape`` exactly once, row-major.

    ``only`` (one flag per block, shape :func:`block_grid_shape`) keeps the flagged blocks alone.
    """
    height, width = grid_shape
    block_height, block_width = block_shape
    if block_height < 1 or block_width < 1:
        raise ValueError(f"block shape must be positive, got {block_shape}")
    for row_off in range(0, height, block_height):
        for col_off in range(0, width, block_width):
            if only is not None and not only[row_off // block_height, col_off // block_width]:
                continue
            yield Block(
                row_off,
                col_off,
                min(block_height, height - row_off),
                min(block_width, width - col_off),
            )


def count_blocks(grid_shape: tuple[int, int], block_shape: tuple[int, int]) -> int:
    """How many blocks :func:`iter_blocks` yields."""
    rows, cols = block_grid_shape(grid_shape, block_shape)
    return rows * cols


def block_grid_shape(grid_shape: tuple[int, int], block_shape: tuple[int, int]) -> tuple[int, int]:
    """Blocks per column and per row of the grid: (block rows, block columns)."""
    return (-(-grid_shape[0] // block_shape[0]), -(-grid_shape[1] // block_shape[1]))


def blocks_meeting(
    grid_shape: tuple[int, int], block_shape: tuple[int, int], boxes: NDArray[np.int64]
) -> NDArray[np.bool_]:
    """Per block (shape :func:`block_grid_shape`), whether it shares a pixel with any of
    ``boxes``: rows ``(row0, col0, row1, col1)`` of pixel offsets, ends exclusive, which may
    reach beyond the grid (the part outside is ignored)."""
    height, width = grid_shape
    block_height, block_width = block_shape
    meets = np.zeros(block_grid_shape(grid_shape, block_shape), np.bool_)
    for row0, col0, row1, col1 in np.asarray(boxes, np.int64).reshape(-1, 4).tolist():
        row0, col0 = max(row0, 0), max(col0, 0)
        row1, col1 = min(row1, height), min(col1, width)
        if row0 < row1 and col0 < col1:
            meets[
                row0 // block_height : (row1 - 1) // block_height + 1,
                col0 // block_width : (col1 - 1) // block_width + 1,
            ] = True
    return meets


def windowed_block_shape(block_shape: tuple[int, int], *, align_cols: int) -> tuple[int, int]:
    """``block_shape`` made about as wide as it is tall (its width a multiple of ``align_cols``,
    never wider than before), so a pass that reads only the blocks meeting some boxes reads
    windows around them rather than full-width strips across the grid."""
    rows, cols = block_shape
    return rows, min(cols, _round_up(rows, max(1, align_cols)))


def block_shape_for_budget(
    grid_shape: tuple[int, int], *, max_pixels: int, align: tuple[int, int] = (1, 1)
) -> tuple[int, int]:
    """The largest block shape of at most ``max_pixels`` whose sides are multiples of ``align``.

    Full-width strips are preferred (they read storage tiles and rows in order); a grid too wide
    for one aligned strip gets blocks narrower than the grid. When even one aligned tile exceeds
    the budget, one aligned tile is returned: storage tiles are never split.
    """
    height, width = grid_shape
    align_rows, align_cols = max(1, align[0]), max(1, align[1])
    strip_width = _round_up(width, align_cols)
    if strip_width * align_rows <= max_pixels:
        rows = max(align_rows, (max_pixels // strip_width) // align_rows * align_rows)
        return (min(rows, _round_up(height, align_rows)), strip_width)
    cols = max(align_cols, (max_pixels // align_rows) // align_cols * align_cols)
    return (align_rows, cols)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple
