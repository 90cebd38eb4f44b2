"""Dense lookup arrays the kernels index by class code.

A :class:`ClassLookup` maps every code a raster's dtype can hold (or, for 32-bit and wider
dtypes, the span of the table's codes) to a histogram bin: the class's index in the table,
``unknown_bin`` for codes with no table row, and ``nodata_bin`` for nodata and masked pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from geocarbon.errors import RasterFormatError

#: Widest code span a lookup array may have for 32-bit rasters (64 Mi entries of int32 = 256 MiB).
MAX_LOOKUP_SPAN = 1 << 26


@dataclass(frozen=True, eq=False)
class ClassLookup:
    """``class_index_by_code[code - code_offset]`` is the bin of ``code``.

    The kernels see codes as int64: ``code_offset`` is the lowest code of the span as an int64,
    so for uint64 rasters a code above 2**63 - 1 wraps to a negative number, and so does the
    offset; the wrapping subtraction still gives the right slot (both live in the same 2**64
    ring and the span fits the dtype). :meth:`code_of_slot` gives the true code back.
    """

    code_offset: int
    class_index_by_code: NDArray[np.int32]
    n_classes: int
    unsigned_64: bool = False

    @property
    def unknown_bin(self) -> int:
        return self.n_classes

    @property
    def nodata_bin(self) -> int:
        return self.n_classes + 1

    @property
    def n_bins(self) -> int:
        return self.n_classes + 2

    def code_of_slot(self, slot: int) -> int:
        code = slot + self.code_offset
        return code % 2**64 if self.unsigned_64 else code


def build_class_lookup(
    table_codes: NDArray[np.int64] | NDArray[np.uint64], *, dtype: str
) -> ClassLookup:
    """Lookup from raster codes of ``dtype`` to table class indices (unknown codes -> unknown bin).

    Codes are compared as Python integers, exactly over the whole int64 and uint64 ranges (NumPy
    would compare uint64 with int64 through float64); table codes the dtype cannot hold are left
    out, as no pixel can carry them.
    """
    raster_dtype = np.dtype(dtype)
    info = np.iinfo(raster_dtype)
    codes = [int(code) for code in table_codes.tolist()]
    if raster_dtype.itemsize <= 2:
        low, high = int(info.min), int(info.max)
    else:
        in_range = [code for code in codes if info.min <= code <= info.max]
        low, high = (min(in_range), max(in_range)) if in_range else (0, 0)
        if high - low + 1 > MAX_LOOKUP_SPAN:
            raise RasterFormatError(
                f"The density table's codes span {low}..{high}, too wide for a lookup array "
                f"({MAX_LOOKUP_SPAN} codes at most). Renumber the classes to a compact range."
            )
    n_classes = len(codes)
    class_index = np.full(high - low + 1, n_classes, dtype=np.int32)
    for index, code in enumerate(codes):
        if low <= code <= high:
            class_index[code - low] = index
    offset_as_int64 = low - 2**64 if low > np.iinfo(np.int64).max else low
    return ClassLookup(offset_as_int64, class_index, n_classes, raster_dtype == np.uint64)


def density_by_bin(
    density_mg_per_ha: NDArray[np.float64], *, unknown_as_zero: bool
) -> NDArray[np.float32]:
    """(n_bins, n_pools + 1) output densities per bin: each pool, then the total.

    Unknown codes get 0 when ``unknown_as_zero`` else NaN (nodata); the nodata bin is NaN.
    Totals are summed in float64 before the cast to float32.
    """
    n_classes, n_pools = density_mg_per_ha.shape
    table = np.full((n_classes + 2, n_pools + 1), np.nan, dtype=np.float64)
    table[:n_classes, :n_pools] = density_mg_per_ha
    table[:n_classes, n_pools] = density_mg_per_ha.sum(axis=1)
    if unknown_as_zero:
        table[n_classes, :] = 0.0
    return table.astype(np.float32)
