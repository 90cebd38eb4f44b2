"""Open land-cover rasters and read windows of class codes; report nodata and dtype honestly.

Nothing else here: no arithmetic, no writing. A :class:`WindowReader` keeps one dataset handle
per thread (GDAL handles are not thread-safe), so several threads can read blocks at once.
Mosaics of tiles are :mod:`geocarbon.vrt`; hints about undeclared nodata are
:mod:`geocarbon.inputs.nodata`.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from geocarbon.blocks import Block
from geocarbon.errors import InputFileError, NodataWarning, RasterFormatError, said, warn
from geocarbon.grid import GridSpec, check_georeferenced
from geocarbon.inputs.arrays import ArrayCodes, representable_nodata
from geocarbon.inputs.arrays import landcover_from_array as landcover_from_array  # its old home
from geocarbon.inputs.remote import is_remote, remote_name, remote_reading
from geocarbon.vrt import (
    VSI_PREFIX,
    check_vrt_sources,
    declared_nodata,
    ignore_not_georeferenced,
    mosaic_vrt,
    tiles_in,
)


@dataclass(frozen=True)
class LandCoverSource:
    """A land-cover raster as geocarbon uses it.

    ``nodata`` is the nodata code when the raster declares one that its dtype can hold (else
    None); ``has_mask`` says a per-dataset or alpha mask marks further pixels invalid. An
    in-memory or dask-backed land cover carries its ``array`` (see :mod:`geocarbon.inputs.arrays`;
    ``path`` is then a descriptive name for messages).
    """

    path: Path
    grid: GridSpec
    dtype: str
    nodata: int | None
    has_mask: bool
    block_shape: tuple[int, int]
    array: ArrayCodes | None = field(default=None, repr=False, compare=False)
    warped_from: GridSpec | None = None
    #: What GDAL opens: the path, a GDAL virtual path (/vsizip/...), or the XML of a mosaic of
    #: tiles (``path`` names the folder).
    dataset: str = field(default="", repr=False)

    @property
    def gdal_name(self) -> str:
        return self.dataset or str(self.path)

    @property
    def lazy(self) -> bool:
        """A dask-backed array: read one chunk per block, never loaded whole."""
        return self.array is not None and self.array.lazy

    @property
    def label(self) -> str:
        """How messages name this land cover: the path as GDAL opens it, or the folder of tiles."""
        return self.dataset if self.dataset and not self.dataset.startswith("<") else str(self.path)

    def warped_to(self, grid: GridSpec) -> LandCoverSource:
        """The same raster read on ``grid`` by nearest-neighbour resampling (a GDAL WarpedVRT).

        Pixels of ``grid`` outside the raster read as masked (nodata).
        """
        return replace(
            self, grid=grid, has_mask=True, warped_from=self.grid, block_shape=(512, 512)
        )


def open_landcover(path: str | Path | list[Path], *, nodata: int | None = None) -> LandCoverSource:
    """Check that ``path`` is a single-band integer raster on a georeferenced grid, and describe it.

    ``path`` may be a GeoTIFF, a VRT, a GDAL virtual path (``/vsizip/``, ``/vsicurl/``,
    ``/vsis3/``...), an ``http(s)://``, ``s3://`` or ``gs://`` URL, a STAC item (``item.json``,
    ``item.json#asset``; see :func:`~geocarbon.inputs.remote.remote_name`), a folder of tiles or
    a list of tiles (how CLCD and WorldCover ship): tiles are read as one mosaic through an
    in-memory VRT, never merged on disk. Remote rasters are read block by block with HTTP range
    requests. ``nodata`` replaces the raster's own nodata value (as ``gdal_edit.py -a_nodata``
    would), e.g. for an undeclared border of zeros.

    Raises
    ------
    InputFileError
        Missing or unreadable file, or a VRT whose tiles are missing or unreadable.
    RasterFormatError
        No CRS, no geotransform (or only GCPs), more than one band, a non-integer data type, or a
        ``nodata`` its data type cannot hold.
    """
    if isinstance(path, list):
        if not path:
            raise InputFileError("No land-cover tiles were given; pass at least one raster.")
        tiles = sorted(Path(p) for p in path)
        source = _describe_mosaic(Path(f"{len(tiles)} tiles in {tiles[0].parent}"), tiles)
        return source if nodata is None else with_nodata(source, nodata)
    path = remote_name(str(path)) or path
    if str(path).startswith(VSI_PREFIX):
        source = _describe_virtual(str(path))
    elif Path(path).is_dir():
        source = _describe_mosaic(Path(path), tiles_in(Path(path)))
    else:
        if not Path(path).exists():
            raise InputFileError(
                f"Land-cover raster {str(path)!r} does not exist. Check the path (GDAL virtual paths "
                "such as /vsizip//abs/path/file.zip/inner.tif are accepted too)."
            )
        source = _describe_dataset(Path(path), str(path))
    return source if nodata is None else with_nodata(source, nodata)


def as_source(
    landcover: str | Path | list[Path] | LandCoverSource, *, nodata: int | None = None
) -> LandCoverSource:
    """``landcover`` opened (see :func:`open_landcover`), or as given when already a source;
    ``nodata`` replaces its nodata value either way."""
    if not isinstance(landcover, LandCoverSource):
        return open_landcover(landcover, nodata=nodata)
    return landcover if nodata is None else with_nodata(landcover, nodata)


def with_nodata(source: LandCoverSource, nodata: int) -> LandCoverSource:
    """``source`` with ``nodata`` as its nodata code instead of its own (which becomes a code)."""
    if isinstance(nodata, bool) or not isinstance(nodata, int | np.integer):
        raise RasterFormatError(
            f"The nodata override for {source.label!r} must be an integer class code, got {nodata!r}."
        )
    info = np.iinfo(np.dtype(source.dtype))
    if not info.min <= int(nodata) <= info.max:
        raise RasterFormatError(
            f"Nodata {nodata} cannot occur in {source.label!r}, whose {source.dtype} codes run "
            f"{info.min}..{info.max}; pick the value that really marks no data."
        )
    return replace(source, nodata=int(nodata))


#: Virtual file systems whose next part is a path on disk (absolute ones need a double slash).
_VSI_ON_DISK = ("vsizip", "vsitar", "vsigzip", "vsi7z", "vsirar", "vsisubfile", "vsicrypt")


def _describe_virtual(text: str) -> LandCoverSource:
    """A GDAL virtual path, repaired where pathlib folded ``//`` (``/vsizip//abs``, ``https://``)."""
    error: RasterioError | None = None
    candidates = _virtual_candidates(text)
    for name in candidates:
        try:
            with remote_reading(name), ignore_not_georeferenced(), rasterio.open(name) as dataset:
                return replace(_describe(name, Path(name), dataset), dataset=name)
        except RasterioError as exc:
            error = error or exc
    assert error is not None  # there is always a candidate, and each one failed
    fix = (
        "Check the URL (curl -I URL shows whether the server answers and accepts range requests)."
        if is_remote(candidates[0])
        else "Check the path inside the archive (an absolute path in a zip reads "
        "/vsizip//home/me/file.zip/inner.tif)."
    )
    raise InputFileError(
        f"Land-cover raster {candidates[0]!r} cannot be opened by GDAL: {said(error)}. {fix}"
    )


def _virtual_candidates(text: str) -> list[str]:
    match = re.match(r"^((?:/vsi[a-z0-9_]+/)+)(.*)$", text)
    if match is None:
        return [text]
    prefixes, rest = match.groups()
    rest = re.sub(r"^(https?|ftps?):/(?!/)", r"\1://", rest)
    candidates = [prefixes + rest]
    last = prefixes.rstrip("/").rsplit("/", 1)[-1]
    if last in _VSI_ON_DISK and rest and not rest.startswith("/"):
        absolute = prefixes + "/" + rest
        first_part = "/" + rest.split("/", 1)[0]
        candidates.insert(0 if Path(first_part).exists() else 1, absolute)
    return candidates


def _describe_mosaic(label: Path, tiles: list[Path]) -> LandCoverSource:
    xml = mosaic_vrt(tiles)
    return replace(_describe_dataset(label, xml), dataset=xml)


def _describe_dataset(path: Path, name: str) -> LandCoverSource:
    try:
        with ignore_not_georeferenced(), rasterio.open(name) as dataset:
            return _describe(str(path), path, dataset)
    except RasterioError as exc:
        raise InputFileError(
            f"Land-cover raster {str(path)!r} cannot be opened by GDAL: {said(exc)}. Check that it is a "
            "complete raster file (gdalinfo shows what GDAL sees)."
        ) from exc


def _describe(label: str, path: Path, dataset: rasterio.io.DatasetReader) -> LandCoverSource:
    if dataset.count != 1:
        raise RasterFormatError(
            f"Land-cover raster {label!r} has {dataset.count} bands; geocarbon reads one band of "
            "class codes. Extract it first, e.g. gdal_translate -b 1 in.tif out.tif."
        )
    dtype = np.dtype(dataset.dtypes[0])
    if dtype.kind not in "iu":
        raise RasterFormatError(
            f"Land-cover raster {label!r} stores {dtype.name} values; class codes must be integers. "
            "Convert it, e.g. gdal_translate -ot Int16 -a_nodata -32768 in.tif out.tif "
            "(non-integral values mean it is not a class map)."
        )
    check_georeferenced(
        label,
        dataset.transform,
        shape=dataset.shape,
        has_gcps=bool(dataset.gcps[0]),
        has_rpcs=dataset.rpcs is not None,
    )
    if dataset.crs is None:
        raise RasterFormatError(
            f"Land-cover raster {label!r} has no CRS, so pixel areas cannot be known. "
            "Assign one, e.g. gdal_edit.py -a_srs EPSG:4326 file.tif."
        )
    if dataset.driver == "VRT" and not dataset.name.startswith("<"):
        check_vrt_sources(label, dataset)
    flags = dataset.mask_flag_enums[0]
    return LandCoverSource(
        path=path,
        grid=GridSpec(dataset.crs, dataset.transform, dataset.height, dataset.width, name=label),
        dtype=dtype.name,
        nodata=_usable_nodata(
            declared_nodata(dataset, dtype),
            dtype,
            label=label,
            fix=f"gdal_edit.py -a_nodata VALUE {label}",
        ),
        has_mask=MaskFlags.per_dataset in flags or MaskFlags.alpha in flags,
        block_shape=tuple(dataset.block_shapes[0]),
    )


def _usable_nodata(nodata: float | None, dtype: np.dtype, *, label: str, fix: str) -> int | None:
    """``nodata`` as a code of ``dtype``; a value the dtype cannot hold is ignored with a warning."""
    code = representable_nodata(nodata, dtype)
    if nodata is not None and code is None:
        warn(
            f"Land cover {label!r} declares nodata {nodata}, which its {dtype.name} codes cannot "
            "hold, so no pixel is nodata. If a value marks no data, declare it "
            f"({fix}, or nodata=VALUE).",
            NodataWarning,
        )
    return code


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
            return self.source.array.read(block)
        window = Window(block.col_off, block.row_off, block.width, block.height)
        try:
            # A remote raster is opened and read under the GDAL settings for range requests.
            with remote_reading(self.source.gdal_name):
                dataset = self._dataset()
                codes = dataset.read(1, window=window)
                valid = dataset.read_masks(1, window=window) > 0 if self.source.has_mask else None
        except RasterioError as exc:
            # GDAL's own reason (which tile, which file) is the cause of rasterio's generic error.
            reason = said(exc.__cause__ or exc)
            rows = f"{block.row_off}-{block.row_off + block.height - 1}"
            raise InputFileError(
                f"Reading rows {rows} of {self.source.label!r} failed: {reason}. The file may be "
                "truncated or corrupt; gdalinfo -checksum shows it."
            ) from exc
        return codes, valid

    def _dataset(self) -> rasterio.io.DatasetReader:
        dataset = getattr(self._local, "dataset", None)
        if dataset is None:
            dataset = rasterio.open(self.source.gdal_name)
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
