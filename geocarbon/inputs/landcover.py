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
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import RasterioError
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from geocarbon.blocks import Block
from geocarbon.errors import InputFileError, NodataWarning, RasterFormatError, warn
from geocarbon.grid import GridSpec, check_georeferenced
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
    in-memory land cover carries its ``array`` (and a descriptive ``path`` for messages), and
    ``valid`` (False where a NumPy mask or NaN marks no data) when it had such cells.
    """

    path: Path
    grid: GridSpec
    dtype: str
    nodata: int | None
    has_mask: bool
    block_shape: tuple[int, int]
    array: NDArray[np.integer] | None = field(default=None, repr=False, compare=False)
    warped_from: GridSpec | None = None
    #: What GDAL opens: the path, a GDAL virtual path (/vsizip/...), or the XML of a mosaic of
    #: tiles (``path`` names the folder).
    dataset: str = field(default="", repr=False)
    valid: NDArray[np.bool_] | None = field(default=None, repr=False, compare=False)

    @property
    def gdal_name(self) -> str:
        return self.dataset or str(self.path)

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
    ``/vsis3/``...), a folder of tiles or a list of tiles (how CLCD and WorldCover ship): tiles are
    read as one mosaic through an in-memory VRT, never merged on disk. ``nodata`` replaces the
    raster's own nodata value (as ``gdal_edit.py -a_nodata`` would), e.g. for an undeclared
    border of zeros.

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
    elif str(path).startswith(VSI_PREFIX):
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
            with ignore_not_georeferenced(), rasterio.open(name) as dataset:
                return replace(_describe(name, Path(name), dataset), dataset=name)
        except RasterioError as exc:
            error = error or exc
    raise InputFileError(
        f"Land-cover raster {candidates[0]!r} cannot be opened by GDAL: {error}. Check the path inside "
        "the archive or the URL (an absolute path in a zip reads /vsizip//home/me/file.zip/inner.tif)."
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
            f"Land-cover raster {str(path)!r} cannot be opened by GDAL: {exc}. Check that it is a "
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
    code = _representable_nodata(nodata, dtype)
    if nodata is not None and code is None:
        warn(
            f"Land cover {label!r} declares nodata {nodata}, which its {dtype.name} codes cannot "
            "hold, so no pixel is nodata. If a value marks no data, declare it "
            f"({fix}, or nodata=VALUE).",
            NodataWarning,
        )
    return code


def landcover_from_array(
    array: Any,
    *,
    transform: Any = None,
    crs: Any = None,
    nodata: float | None = None,
    name: str = "<array>",
) -> LandCoverSource:
    """Describe an in-memory land cover: a 2-D NumPy array with ``transform`` and ``crs``, or an
    xarray DataArray carrying them through rioxarray (``.rio``).

    Masked cells of a :class:`numpy.ma.MaskedArray` and NaN cells of a float array are no data;
    a float array must otherwise hold whole class codes.
    """
    if hasattr(array, "rio"):
        transform = array.rio.transform() if transform is None else transform
        crs = array.rio.crs if crs is None else crs
        nodata = array.rio.nodata if nodata is None else nodata
        name = str(array.name or name)
        array = array.squeeze().values
    valid = ~np.ma.getmaskarray(array) if isinstance(array, np.ma.MaskedArray) else None
    values = np.asarray(np.ma.getdata(array))
    if values.ndim != 2 or values.dtype.kind not in "iuf":
        raise RasterFormatError(
            f"Land cover {name} must be a 2-D array of integer class codes, got {values.ndim}-D "
            f"{values.dtype}. Pass one band, e.g. array[0]."
        )
    if values.dtype.kind == "f":
        values, valid = _whole_codes(values, valid, name=name, nodata=nodata)
    if transform is None or crs is None:
        raise RasterFormatError(
            f"Land cover {name} needs transform= and crs= to know where its pixels are."
        )
    transform = Affine(*tuple(transform)[:6])
    check_georeferenced(name, transform, shape=values.shape)
    grid = GridSpec(
        rasterio.crs.CRS.from_user_input(crs),
        transform,
        values.shape[0],
        values.shape[1],
        name=name,
    )
    return LandCoverSource(
        Path(name),
        grid,
        values.dtype.name,
        _usable_nodata(nodata, values.dtype, label=name, fix="pass nodata= with a value it holds"),
        valid is not None,
        (min(values.shape[0], 512), values.shape[1]),
        values,
        valid=valid,
    )


def _whole_codes(
    values: NDArray[np.floating], valid: NDArray[np.bool_] | None, *, name: str, nodata: Any
) -> tuple[NDArray[np.integer], NDArray[np.bool_]]:
    """Float class codes as the smallest integer dtype holding them; NaN cells become invalid."""
    usable = ~np.isnan(values) if valid is None else valid & ~np.isnan(values)
    codes = values[usable]
    bad = codes[~np.isfinite(codes) | (codes != np.trunc(codes))]
    if len(bad):
        raise RasterFormatError(
            f"Land cover {name} holds {len(bad)} non-integral values (e.g. {float(bad[0])}); class codes "
            "must be whole numbers. Reclassify it, or mark no-data cells with NaN or a mask."
        )
    exact_limit = 2.0 ** (np.finfo(values.dtype).nmant + 1)
    if len(codes) and max(abs(float(codes.min())), abs(float(codes.max()))) > exact_limit:
        raise RasterFormatError(
            f"Land cover {name} holds codes beyond {exact_limit:.0f}, which {values.dtype} cannot "
            "store exactly; pass the codes as an integer array."
        )
    extremes = [float(codes.min()), float(codes.max())] if len(codes) else [0.0]
    if nodata is not None and np.isfinite(nodata) and nodata == int(nodata):
        extremes.append(float(nodata))
    dtype = np.result_type(
        np.min_scalar_type(int(min(extremes))), np.min_scalar_type(int(max(extremes)))
    )
    whole = np.zeros(values.shape, dtype)
    whole[usable] = codes.astype(dtype)
    return whole, usable


def _representable_nodata(nodata: float | None, dtype: np.dtype) -> int | None:
    # A nodata value the dtype cannot hold (NaN, -9999 on uint8, 1.5) marks no pixel at all.
    if nodata is None or not np.isfinite(nodata) or nodata != int(nodata):
        return None
    info = np.iinfo(dtype)
    return int(nodata) if info.min <= int(nodata) <= info.max else None


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
            valid = self.source.valid
            return self.source.array[block.slices], None if valid is None else valid[block.slices]
        dataset = self._dataset()
        window = Window(block.col_off, block.row_off, block.width, block.height)
        try:
            codes = dataset.read(1, window=window)
            valid = dataset.read_masks(1, window=window) > 0 if self.source.has_mask else None
        except RasterioError as exc:
            # GDAL's own reason (which tile, which file) is the cause of rasterio's generic error.
            reason = exc.__cause__ or exc
            raise InputFileError(
                f"Reading rows {block.row_off}-{block.row_off + block.height} of {self.source.label!r} "
                f"failed: {reason}. The file may be truncated or corrupt; gdalinfo -checksum shows it."
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
