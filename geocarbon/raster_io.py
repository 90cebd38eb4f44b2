"""Open land-cover rasters and read windows of class codes; report nodata and dtype honestly.

Nothing else here: no arithmetic, no writing. A :class:`WindowReader` keeps one dataset handle
per thread (GDAL handles are not thread-safe), so several threads can read blocks at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.enums import MaskFlags
from rasterio.errors import RasterioError
from rasterio.windows import Window

from geocarbon.blocks import Block
from geocarbon.errors import InputFileError, RasterFormatError
from geocarbon.grid import GridSpec


@dataclass(frozen=True)
class LandCoverSource:
    """A land-cover raster as geocarbon uses it.

    ``nodata`` is the nodata code when the raster declares one that its dtype can hold (else
    None); ``has_mask`` says a per-dataset or alpha mask marks further pixels invalid.
    """

    path: Path
    grid: GridSpec
    dtype: str
    nodata: int | None
    has_mask: bool
    block_shape: tuple[int, int]


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
            self._local.dataset = dataset
            with self._lock:
                self._handles.append(dataset)
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
