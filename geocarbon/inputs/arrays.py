"""Land covers held in memory or lazily: NumPy (masked) arrays and (rio)xarray DataArrays.

:func:`landcover_from_array` describes one as a :class:`~geocarbon.inputs.landcover.LandCoverSource`
whose ``array`` is an :class:`ArrayCodes`, read block by block like a file. A dask-backed array
(``rioxarray.open_rasterio(path, chunks=...)``) stays lazy: a block computes only the chunks it
overlaps, and is checked when it is read. Dask itself is never imported here.

Float arrays (``open_rasterio(masked=True)`` gives float32 with NaN for nodata) must hold whole
class codes; NaN cells are no data. Their integer dtype decides which kernels run (8-bit codes
take the fastest paths), and is chosen without a pass over a lazy array:

1. ``dtype=`` when given (``"uint8"``);
2. else the integer dtype the DataArray says it was stored as: ``encoding["dtype"]`` or
   ``encoding["rasterio_dtype"]`` (set by rioxarray), ``attrs["dtype"]``, or the smallest dtype
   holding its ``valid_range`` (attrs or encoding) and its encoded nodata;
3. else, for an array in memory, the smallest dtype holding its values (it is scanned anyway);
4. else (lazy, undeclared) a wide dtype that holds every whole value of the float type exactly:
   int32 for float16/float32, int64 for float64.

A block holding a value that is not a whole code, or one its dtype cannot hold, stops the run
with one line naming the array, the block's rows and the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray

from geocarbon.blocks import Block
from geocarbon.errors import ConfigError, NodataWarning, RasterFormatError, warn
from geocarbon.grid import GridSpec, check_georeferenced

if TYPE_CHECKING:
    from geocarbon.inputs.landcover import LandCoverSource

#: Rows of a block of an in-memory land cover (whole rows: the array is already in memory).
ARRAY_BLOCK_ROWS = 512


@dataclass(frozen=True, eq=False)
class ArrayCodes:
    """The class codes of a 2-D land cover held in ``values``: a NumPy array of integer codes,
    or a lazy (dask) array of integer or float codes, read a block at a time.

    ``dtype`` is the codes' integer dtype as blocks return them; ``valid`` (False where a NumPy
    mask or NaN marks no data) is kept for in-memory arrays that had such cells, while lazy float
    arrays mark their NaN cells block by block.
    """

    values: Any
    dtype: np.dtype[Any]
    name: str
    valid: NDArray[np.bool_] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self.values.shape
        return int(rows), int(cols)

    @property
    def lazy(self) -> bool:
        """Whether blocks are computed on demand (a dask array), not sliced from memory."""
        return is_lazy(self.values)

    def read(self, block: Block) -> tuple[NDArray[np.integer], NDArray[np.bool_] | None]:
        """Class codes of ``block`` and, where cells are no data, the valid-cell mask."""
        part = _computed(self.values[block.slices])
        valid = None if self.valid is None else self.valid[block.slices]
        if isinstance(part, np.ma.MaskedArray):
            masked = ~np.ma.getmaskarray(part)
            valid = masked if valid is None else valid & masked
            part = np.ma.getdata(part)
        if part.dtype.kind == "f":
            rows = (block.row_off, block.row_off + block.height)
            return _whole_codes(part, valid, name=self.name, dtype=self.dtype, rows=rows)
        return part, valid

    def __getitem__(self, key: Any) -> NDArray[np.integer]:
        """The valid codes at ``key`` (NumPy indexing, e.g. an edge ``[0, ::step]``), flattened
        when the array has no-data cells: what the nodata hints sample."""
        part = np.asarray(np.ma.getdata(_computed(self.values[key])))
        if part.dtype.kind != "f":
            return part if self.valid is None else part[self.valid[key]]
        usable = part[~np.isnan(part)]
        return usable[(usable == np.trunc(usable))].astype(self.dtype)


def is_lazy(values: object) -> bool:
    """Whether ``values`` is a dask collection (computed on demand)."""
    return hasattr(values, "__dask_graph__") and not isinstance(values, np.ndarray)


def _computed(part: Any) -> Any:
    return part.compute() if is_lazy(part) else part


def landcover_from_array(
    array: Any,
    *,
    transform: Any = None,
    crs: Any = None,
    nodata: float | None = None,
    name: str = "<array>",
    dtype: Any = None,
) -> LandCoverSource:
    """Describe an in-memory or lazy land cover: a 2-D NumPy (masked) array with ``transform`` and
    ``crs``, or an xarray DataArray carrying them through rioxarray (``.rio``), dask-backed or not.

    Masked cells of a :class:`numpy.ma.MaskedArray` and NaN cells of a float array are no data;
    a float array must otherwise hold whole class codes, read as ``dtype`` (see the module notes
    for how it is chosen when not given).
    """
    from geocarbon.inputs.landcover import LandCoverSource

    declared = _integer_dtype(dtype, name) if dtype is not None else None
    if hasattr(array, "rio"):
        name = str(array.name or array.encoding.get("source") or name)  # rioxarray: its file
        _check_codes_kind(array.dtype, name)
        transform = array.rio.transform() if transform is None else transform
        crs = array.rio.crs if crs is None else crs
        nodata = _declared_nodata(array) if nodata is None else nodata
        declared = declared or _declared_dtype(array, name)
        array = _band_data(array, name)
    values = array if is_lazy(array) else np.ma.getdata(array)
    shape = tuple(values.shape)
    if len(shape) != 2:
        raise RasterFormatError(
            f"Land cover {name} must be a 2-D array of integer class codes, got {len(shape)}-D "
            f"{values.dtype}. Pass one band, e.g. array[0]."
        )
    _check_codes_kind(values.dtype, name)
    missing = [word for word, value in (("transform=", transform), ("crs=", crs)) if value is None]
    if missing:
        fix = (
            "set it with array.rio.write_crs('EPSG:4326') or give crs="
            if missing == ["crs="]
            else f"give {' and '.join(missing)}"
        )
        raise RasterFormatError(
            f"Land cover {name} has no {' and no '.join(w[:-1] for w in missing)}, so where its "
            f"pixels are is unknown; {fix}."
        )
    transform = Affine(*tuple(transform)[:6])
    check_georeferenced(name, transform, shape=shape)
    grid = GridSpec(rasterio.crs.CRS.from_user_input(crs), transform, *shape, name=name)
    if is_lazy(values):
        codes = _lazy_codes(values, declared, name=name)
        block_shape = _chunk_shape(values)
    else:
        codes = _memory_codes(array, declared, name=name, nodata=nodata)
        block_shape = (min(shape[0], ARRAY_BLOCK_ROWS), shape[1])
    return LandCoverSource(
        Path(name),
        grid,
        codes.dtype.name,
        _code_nodata(nodata, codes.dtype, name=name),
        codes.valid is not None or (codes.lazy and values.dtype.kind == "f"),
        block_shape,
        codes,
    )


def check_lazy_off_dask(sources: Sequence[LandCoverSource], dask: str | None) -> None:
    """Refuse a dask-backed land cover on a Dask cluster (``dask=``): its graph lives in this
    session, and the workers read inputs themselves, from paths they can reach."""
    if not dask:
        return
    for source in sources:
        if source.lazy:
            raise ConfigError(
                f"Land cover {source.label} is a dask-backed array, which Dask workers (dask="
                f"{dask!r}) cannot read from this session; pass the raster's file path instead, "
                "or drop dask= to process it chunk by chunk on threads."
            )


def _band_data(array: Any, name: str) -> Any:
    """The DataArray's one band as (y, x) data: dask stays lazy, a file-backed lazy DataArray
    becomes dask (so it is read by windows too), NumPy stays NumPy."""
    y_dim, x_dim = array.rio.y_dim, array.rio.x_dim
    extra = [dim for dim in array.dims if dim not in (y_dim, x_dim)]
    many = [f"{dim}={array.sizes[dim]}" for dim in extra if array.sizes[dim] != 1]
    if many:
        raise RasterFormatError(
            f"Land cover {name} has {', '.join(many)}; geocarbon reads one band of class codes. "
            f"Select one, e.g. array.isel({many[0].split('=')[0]}=0)."
        )
    band = array.squeeze(dim=extra).transpose(y_dim, x_dim)
    if not is_lazy(band.data) and not getattr(band, "_in_memory", True):
        band = band.chunk({y_dim: ARRAY_BLOCK_ROWS, x_dim: -1})
    return band.data


def _check_codes_kind(dtype: Any, name: str) -> None:
    if np.dtype(dtype).kind not in "iuf":
        raise RasterFormatError(
            f"Land cover {name} holds {np.dtype(dtype)} values, not class codes; convert them to "
            "integers first (e.g. array.astype('uint8'))."
        )


def _declared_nodata(array: Any) -> float | None:
    """The DataArray's nodata: its own, else (masked, NaN) the value it was stored with."""
    own = array.rio.nodata
    if own is not None and np.isfinite(own):
        return float(own) if np.dtype(array.dtype).kind == "f" else own
    encoded = array.rio.encoded_nodata
    return None if encoded is None or not np.isfinite(encoded) else float(encoded)


def _declared_dtype(array: Any, name: str) -> np.dtype[Any] | None:
    """The integer dtype a float DataArray says its codes were stored as (None: not said)."""
    if np.dtype(array.dtype).kind != "f":
        return None
    for where in (array.encoding, array.attrs):
        for key in ("dtype", "rasterio_dtype"):
            if key in where and np.dtype(where[key]).kind in "iu":
                return np.dtype(where[key])
    for where in (array.attrs, array.encoding):
        if "valid_range" in where:
            low, high = (float(value) for value in where["valid_range"])
            nodata = _declared_nodata(array)
            ends = [low, high] + ([] if nodata is None else [nodata])
            return _smallest_dtype(min(ends), max(ends))
    return None


def _integer_dtype(dtype: Any, name: str) -> np.dtype[Any]:
    try:
        found = np.dtype(dtype)
    except TypeError:
        found = np.dtype(np.float64)
    if found.kind not in "iu":
        raise ConfigError(
            f"dtype= for land cover {name} got {dtype!r}; give the integer dtype of its class "
            "codes, e.g. dtype='uint8'."
        )
    return found


def _smallest_dtype(low: float, high: float) -> np.dtype[Any]:
    return np.result_type(np.min_scalar_type(int(low)), np.min_scalar_type(int(high)))


def _lazy_codes(values: Any, declared: np.dtype[Any] | None, *, name: str) -> ArrayCodes:
    if values.dtype.kind in "iu":
        return ArrayCodes(values, np.dtype(values.dtype), name)
    wide = np.dtype(np.int64) if values.dtype.itemsize > 4 else np.dtype(np.int32)
    return ArrayCodes(values, declared or wide, name)


def _memory_codes(
    array: Any, declared: np.dtype[Any] | None, *, name: str, nodata: float | None
) -> ArrayCodes:
    valid = ~np.ma.getmaskarray(array) if isinstance(array, np.ma.MaskedArray) else None
    values = np.asarray(np.ma.getdata(array))
    if values.dtype.kind == "f":
        values, valid = _whole_codes(values, valid, name=name, dtype=declared, nodata=nodata)
    return ArrayCodes(values, values.dtype, name, valid)


def _chunk_shape(values: Any) -> tuple[int, int]:
    """Blocks of a lazy array follow its chunks when they tile the 512-pixel output tiles."""
    rows, cols = (int(chunks[0]) for chunks in values.chunks)
    height, width = (int(side) for side in values.shape)

    def aligned(chunk: int, side: int) -> int:
        fits = chunk >= side or ARRAY_BLOCK_ROWS % chunk == 0 or chunk % ARRAY_BLOCK_ROWS == 0
        return chunk if fits else min(side, ARRAY_BLOCK_ROWS)

    return aligned(rows, height), aligned(cols, width)


def _whole_codes(
    values: NDArray[np.floating],
    valid: NDArray[np.bool_] | None,
    *,
    name: str,
    dtype: np.dtype[Any] | None,
    nodata: Any = None,
    rows: tuple[int, int] | None = None,
) -> tuple[NDArray[np.integer], NDArray[np.bool_]]:
    """Float class codes as ``dtype`` (None: the smallest integer dtype holding them and
    ``nodata``); NaN cells become invalid. ``rows`` names the block in messages (None: whole)."""
    usable = ~np.isnan(values) if valid is None else valid & ~np.isnan(values)
    codes = values[usable]
    where = "" if rows is None else f" in rows {rows[0]}-{rows[1] - 1}"
    bad = codes[~np.isfinite(codes) | (codes != np.trunc(codes))]
    if len(bad):
        raise RasterFormatError(
            f"Land cover {name} holds {len(bad)} non-integral values{where} (e.g. {float(bad[0])}); "
            "class codes must be whole numbers. Reclassify it, or mark no-data cells with NaN or "
            "a mask."
        )
    exact_limit = 2.0 ** (np.finfo(values.dtype).nmant + 1)
    if len(codes) and max(abs(float(codes.min())), abs(float(codes.max()))) > exact_limit:
        raise RasterFormatError(
            f"Land cover {name} holds codes beyond {exact_limit:.0f}{where}, which "
            f"{values.dtype} cannot store exactly; pass the codes as an integer array."
        )
    if dtype is None:
        extremes = [float(codes.min()), float(codes.max())] if len(codes) else [0.0]
        if nodata is not None and np.isfinite(nodata) and nodata == int(nodata):
            extremes.append(float(nodata))
        dtype = _smallest_dtype(min(extremes), max(extremes))
    elif len(codes):
        _check_range(codes, dtype, name=name, where=where)
    whole = np.zeros(values.shape, dtype)
    whole[usable] = codes.astype(dtype)
    return whole, usable


def _check_range(
    codes: NDArray[np.floating], dtype: np.dtype[Any], *, name: str, where: str
) -> None:
    info = np.iinfo(dtype)
    outside = codes[(codes < info.min) | (codes > info.max)]
    if len(outside):
        raise RasterFormatError(
            f"Land cover {name} holds {float(outside[0]):.0f}{where}, which its {dtype.name} codes "
            f"cannot hold ({info.min}..{info.max}, as declared by dtype= or the array's "
            "encoding/attrs); pass dtype= with a wider integer type, e.g. dtype='int32'."
        )


def _code_nodata(nodata: float | None, dtype: np.dtype[Any], *, name: str) -> int | None:
    """``nodata`` as a code of ``dtype``; NaN (no-data cells of a float array) is no code at all,
    and a value the dtype cannot hold is ignored with a warning."""
    if nodata is not None and np.isnan(nodata):
        return None
    code = representable_nodata(nodata, dtype)
    if nodata is not None and code is None:
        warn(
            f"Land cover {name!r} declares nodata {nodata}, which its {dtype.name} codes cannot "
            "hold, so no pixel is nodata. If a value marks no data, declare it (pass nodata= "
            "with a value it holds).",
            NodataWarning,
        )
    return code


def representable_nodata(nodata: float | None, dtype: np.dtype[Any]) -> int | None:
    """``nodata`` as an integer code of ``dtype``, or None: a value the dtype cannot hold (NaN,
    -9999 on uint8, 1.5) marks no pixel at all."""
    if nodata is None or not np.isfinite(nodata) or nodata != int(nodata):
        return None
    info = np.iinfo(dtype)
    return int(nodata) if info.min <= int(nodata) <= info.max else None
