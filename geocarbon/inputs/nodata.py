"""Hints about nodata that a land cover declares wrongly or not at all.

:func:`undeclared_nodata_hint` completes the unknown-code message when codes look like an
undeclared nodata value (a usual one, the dtype's extreme, or most of the raster's border);
:func:`nodata_class_conflict` warns when the declared nodata is also a class of the density
table. Both say how to declare the right value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.errors import RasterioError
from rasterio.windows import Window

from geocarbon.vrt import ignore_not_georeferenced

if TYPE_CHECKING:
    from geocarbon.inputs.landcover import LandCoverSource


def nodata_class_conflict(
    source: LandCoverSource,
    table_codes: Sequence[int] | NDArray[np.integer],
    class_names: Sequence[str] | None = None,
) -> str | None:
    """The warning to give when the raster's nodata value is also a class of the density table.

    Such pixels are excluded as no data, so the class silently loses them. None when no conflict.
    """
    codes = [int(code) for code in table_codes]
    if source.nodata is None or source.nodata not in codes:
        return None
    code = source.nodata
    index = codes.index(code)
    name = (
        f" ({class_names[index]})" if class_names is not None and index < len(class_names) else ""
    )
    return (
        f"Nodata {code} of {source.label!r} is also class {code}{name} of the density table: its "
        f"pixels are excluded as no data, not counted as that class. If {code} is a real class "
        f"there, declare the value that marks no data instead ({_nodata_fix(source, 'VALUE')})."
    )


#: Values that tools write where there is no data, besides each dtype's minimum and maximum.
USUAL_NODATA_VALUES = frozenset({0, -1, 127, 255, 32767, 65535, -128, -9999, -32768, -32767})
#: Share of the raster's border a code must fill to look like a nodata frame.
BORDER_SHARE = 0.5


def undeclared_nodata_hint(source: LandCoverSource, codes: Iterable[int]) -> str:
    """A sentence for the unknown-code message when some ``codes`` look like undeclared nodata
    (a usual nodata value, the dtype's extreme, or filling most of the raster's border); else "".

    It warns against ``--unknown zero`` (which would count those pixels as land) and says how
    to declare the value.
    """
    info = np.iinfo(np.dtype(source.dtype))
    usual = USUAL_NODATA_VALUES | {int(info.min), int(info.max)}
    border = _border_codes(source)
    suspects = []
    for code in codes:
        reasons = ["a usual nodata value"] if int(code) in usual else []
        share = float(np.mean(border == code)) if border.size else 0.0
        if share >= BORDER_SHARE:
            reasons.append(f"{share:.0%} of the raster's border")
        if reasons:
            suspects.append(f"{code} ({' and '.join(reasons)})")
    if not suspects:
        return ""
    first = suspects[0].split(" ", 1)[0]
    return (
        f" Code {', '.join(suspects)} looks like an undeclared nodata value: do not pass --unknown "
        f"zero, which would count those pixels as land; declare it ({_nodata_fix(source, first)})."
    )


def _nodata_fix(source: LandCoverSource, value: str) -> str:
    if source.array is not None:
        return f"nodata={value}"
    target = "each tile" if source.dataset.startswith("<") else source.label
    return f"gdal_edit.py -a_nodata {value} {target}, or --nodata {value} / nodata={value}"


def _border_codes(source: LandCoverSource, max_samples: int = 4096) -> NDArray[np.integer]:
    """Codes along the four edges of the raster as stored (sampled to ``max_samples`` per edge)."""
    if source.array is not None:
        array = source.array
        row_step = max(1, array.shape[0] // max_samples)
        col_step = max(1, array.shape[1] // max_samples)
        edges = [
            array[0, ::col_step],
            array[-1, ::col_step],
            array[::row_step, 0],
            array[::row_step, -1],
        ]
        return np.concatenate(edges)
    try:
        with ignore_not_georeferenced(), rasterio.open(source.gdal_name) as dataset:
            height, width = dataset.shape
            rows = (min(width, max_samples),)
            cols = (min(height, max_samples),)
            edges = [
                dataset.read(1, window=Window(0, 0, width, 1), out_shape=(1, *rows)),
                dataset.read(1, window=Window(0, height - 1, width, 1), out_shape=(1, *rows)),
                dataset.read(1, window=Window(0, 0, 1, height), out_shape=(*cols, 1)),
                dataset.read(1, window=Window(width - 1, 0, 1, height), out_shape=(*cols, 1)),
            ]
    except RasterioError:
        return np.empty(0, np.int64)  # only a hint: the caller's error still stands
    return np.concatenate([edge.ravel() for edge in edges])
