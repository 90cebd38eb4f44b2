"""Window arithmetic: blocks tile the grid exactly once and respect budget and alignment."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geocarbon.blocks import Block, block_shape_for_budget, count_blocks, iter_blocks

sizes = st.integers(1, 300)


@given(sizes, sizes, st.integers(1, 64), st.integers(1, 64))
def test_blocks_cover_every_pixel_once(height, width, block_rows, block_cols):
    cover = np.zeros((height, width), np.int32)
    blocks = list(iter_blocks((height, width), (block_rows, block_cols)))
    for block in blocks:
        cover[block.slices] += 1
        assert 1 <= block.height <= block_rows and 1 <= block.width <= block_cols
    assert np.all(cover == 1)
    assert len(blocks) == count_blocks((height, width), (block_rows, block_cols))


@given(
    st.integers(1, 100_000),
    st.integers(1, 100_000),
    st.integers(1, 10**8),
    st.sampled_from([1, 128, 256, 512]),
    st.sampled_from([1, 256, 512]),
)
def test_budget_shape_is_aligned_and_within_budget(
    height, width, max_pixels, align_rows, align_cols
):
    rows, cols = block_shape_for_budget(
        (height, width), max_pixels=max_pixels, align=(align_rows, align_cols)
    )
    assert rows % align_rows == 0 and cols % align_cols == 0
    # Never more than the budget, unless a single aligned tile is already over it.
    assert rows * cols <= max(max_pixels, align_rows * align_cols)


def test_full_width_strips_preferred():
    assert block_shape_for_budget((10_000, 1_000), max_pixels=300_000, align=(256, 256)) == (
        256,
        1024,
    )


def test_block_slices_select_the_window():
    array = np.arange(30).reshape(5, 6)
    block = Block(1, 2, 3, 2)
    assert array[block.slices].tolist() == [[8, 9], [14, 15], [20, 21]]


def test_nonpositive_block_shape_rejected():
    with pytest.raises(ValueError, match="block shape"):
        list(iter_blocks((4, 4), (0, 2)))
