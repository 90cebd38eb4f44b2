"""Windows over a raster grid under a pixel budget.

A :class:`Block` is a plain immutable value; :func:`iter_blocks` yields them row-major and
:func:`block_shape_for_budget` chooses a block shape aligned to the source's storage tiles. Nothing
here reads or writes pixels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


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


def iter_blocks(grid_shape: tuple[int, int], block_shape: tuple[int, int]) -> Iterator[Block]:
    """Yield blocks of at most ``block_shape`` covering ``grid_shape`` exactly once, row-major."""
    height, width = grid_shape
    block_height, block_width = block_shape
    if block_height < 1 or block_width < 1:
        raise ValueError(f"block shape must be positive, got {block_shape}")
    for row_off in range(0, height, block_height):
        for col_off in range(0, width, block_width):
            yield Block(
                row_off,
                col_off,
                min(block_height, height - row_off),
                min(block_width, width - col_off),
            )


def count_blocks(grid_shape: tuple[int, int], block_shape: tuple[int, int]) -> int:
    """How many blocks :func:`iter_blocks` yields."""
    return -(-grid_shape[0] // block_shape[0]) * -(-grid_shape[1] // block_shape[1])


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
