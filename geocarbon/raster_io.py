"""Open land-cover rasters and read windows of class codes; report nodata and dtype honestly.

Nothing else here: no arithmetic, no writing. A :class:`WindowReader` keeps one dataset handle
per thread (GDAL handles are not thread-safe), so several threads can read blocks at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from geocarbon.blocks import Block
from geocarbon.errors import InputFileError, RasterFormatError
from geocarbon.grid import GridSpec


@dataclass(frozen=True)
class LandCoverSource:
    """A land-cover raster as geocarbon uses it.

    ``nodata`` is the nodata code when the raster declares one that its dtype can hold (else
    None); ``has_mask`` says a per-dataset or alpha mask marks further pixels invalid. An
    in-memory land cover carries its ``array`` (and a descriptive ``path`` for messages).
    """

    path: Path
    grid: GridSpec
    dtype: str
    nodata: int | None
    has_mask: bool
    block_shape: tuple[int, int]
    array: NDArray[np.integer] | None = field(default=None, repr=False, compare=False)
    warped_from: GridSpec | None = None

    def warped_to(self, grid: GridSpec) -> LandCoverSource:
        """The same raster read on ``grid`` by nearest-neighbour resampling (a GDAL WarpedVRT).

        Pixels of ``grid`` outside the raster read as masked (nodata).
        """
        return replace(
            self, grid=grid, has_mask=True, warped_from=self.grid, block_shape=(512, 512)
        )


def open_landcover(path: str | Path) -> LandCoverSource:
    """Check that ``path`` is a single-band integer raster with a CRS, and describe it.

    Raises
    ------
    InputFileError
        Missing or unreadable file.
    RasterFormatError
        No CRS, more than one band, or a non-integer data type.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"Land-cover raster {str(path)!r} does not exist.")
    try:
        with rasterio.open(path) as dataset:
            return _describe(path, dataset)
    except RasterioError as exc:
        raise InputFileError(
            f"Land-cover raster {str(path)!r} cannot be opened by GDAL: {exc}"
        ) from exc


def landcover_from_array(
    array: Any,
    *,
    transform: Any = None,
    crs: Any = None,
    nodata: float | None = None,
    name: str = "<array>",
) -> LandCoverSource:
    """Describe an in-memory land cover: a 2-D integer NumPy array with ``transform`` and ``crs``,
    or an xarray DataArray carrying them through rioxarray (``.rio``)."""
    if hasattr(array, "rio"):
        transform = array.rio.transform() if transform is None else transform
        crs = array.rio.crs if crs is None else crs
        nodata = array.rio.nodata if nodata is None else nodata
        name = str(array.name or name)
        array = array.squeeze().values
    codes = np.asarray(array)
    if codes.ndim != 2 or codes.dtype.kind not in "iu":
        raise RasterFormatError(
            f"Land cover {name} must be a 2-D integer array of class codes, got {codes.ndim}-D {codes.dtype}."
        )
    if transform is None or crs is None:
        raise RasterFormatError(
            f"Land cover {name} needs transform= and crs= to know where its pixels are."
        )
    grid = GridSpec(
        rasterio.crs.CRS.from_user_input(crs), transform, codes.shape[0], codes.shape[1]
    )
    return LandCoverSource(
        Path(name),
        grid,
        codes.dtype.name,
        _representable_nodata(nodata, codes.dtype),
        False,
        (min(codes.shape[0], 512), codes.shape[1]),
        codes,
    )


def _describe(path: Path, dataset: rasterio.io.DatasetReader) -> LandCoverSource:
    if dataset.count != 1:
        raise RasterFormatError(
            f"Land-cover raster {str(path)!r} has {dataset.count} bands; geocarbon reads one band of "
            "class codes. Extract it first, e.g. gdal_translate -b 1 in.tif out.tif."
        )
    dtype = np.dtype(dataset.dtypes[0])
    if dtype.kind not in "iu":
        raise RasterFormatError(
            f"Land-cover raster {str(path)!r} stores {dtype.name} values; class codes must be integers. "
            "Convert it, e.g. gdal_translate -ot Int16 in.tif out.tif."
        )
    if dataset.crs is None:
        raise RasterFormatError(
            f"Land-cover raster {str(path)!r} has no CRS, so pixel areas cannot be known. "
            "Assign one, e.g. gdal_edit.py -a_srs EPSG:4326 file.tif."
        )
    flags = dataset.mask_flag_enums[0]
    return LandCoverSource(
        path=path,
        grid=GridSpec(dataset.crs, dataset.transform, dataset.height, dataset.width),
        dtype=dtype.name,
        nodata=_representable_nodata(dataset.nodata, dtype),
        has_mask=MaskFlags.per_dataset in flags or MaskFlags.alpha in flags,
        block_shape=tuple(dataset.block_shapes[0]),
    )


def _representable_nodata(nodata: float | None, dtype: np.dtype) -> int | None:
    # A nodata value the dtype cannot hold (NaN, -9999 on uint8, 1.5) marks no pixel at all.
    if nodata is None or not np.isfinite(nodata) or nodata != int(nodata):
        return None
    info = np.iinfo(dtype)
    return int(nodata) if info.min <= nodata <= info.max else None


class WindowReader:
    """Read class-code windows of one raster, one GDAL handle per calling thread."""

    def __init__(self, source: LandCoverSource) -> None:
        self.source = source
        self._local = threading.local()
        self._handles: list[rasterio.io.DatasetReader] = []
        self._lock = threading.Lock()

    def read(self, block: Block) -> tuple[NDArray[np.integer], NDArray[np.bool_] | None]:
        """Class codes of ``block`` and, where the raster has a mask, the valid-pixel mask."""
        if self.source.array is not None:
            return self.source.array[block.slices], None
        dataset = self._dataset()
        window = Window(block.col_off, block.row_off, block.width, block.height)
        try:
            codes = dataset.read(1, window=window)
            valid = dataset.read_masks(1, window=window) > 0 if self.source.has_mask else None
        except RasterioError as exc:
            raise InputFileError(
                f"Reading rows {block.row_off}-{block.row_off + block.height} of {str(self.source.path)!r} "
                f"failed: {exc}. The file may be truncated or corrupt."
            ) from exc
        return codes, valid

    def _dataset(self) -> rasterio.io.DatasetReader:
        dataset = getattr(self._local, "dataset", None)
        if dataset is None:
            dataset = rasterio.open(self.source.path)
            handles = [dataset]
            if self.source.warped_from is not None:
                grid = self.source.grid
                dataset = WarpedVRT(
                    dataset,
                    crs=grid.crs,
                    transform=grid.transform,
                    width=grid.width,
                    height=grid.height,
                    resampling=Resampling.nearest,
                )
                handles.append(dataset)
            self._local.dataset = dataset
            with self._lock:
                self._handles.extend(reversed(handles))
        return dataset

    def close(self) -> None:
        with self._lock:
            for dataset in self._handles:
                dataset.close()
            self._handles.clear()

    def __enter__(self) -> WindowReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
