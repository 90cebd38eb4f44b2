"""Open land-cover rasters and read windows of class codes; report nodata and dtype honestly.

Nothing else here: no arithmetic, no writing. A :class:`WindowReader` keeps one dataset handle
per thread (GDAL handles are not thread-safe), so several threads can read blocks at once.
"""

from __future__ import annotations

import re
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from numpy.typing import NDArray
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import MemoryFile
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from geocarbon.blocks import Block
from geocarbon.errors import InputFileError, NodataWarning, RasterFormatError, warn
from geocarbon.grid import GridSpec, check_georeferenced


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
    elif str(path).startswith(_VSI_PREFIX):
        source = _describe_virtual(str(path))
    elif Path(path).is_dir():
        source = _describe_mosaic(Path(path), _tiles_in(Path(path)))
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


_VSI_PREFIX = "/vsi"
#: Virtual file systems whose next part is a path on disk (absolute ones need a double slash).
_VSI_ON_DISK = ("vsizip", "vsitar", "vsigzip", "vsi7z", "vsirar", "vsisubfile", "vsicrypt")


def _describe_virtual(text: str) -> LandCoverSource:
    """A GDAL virtual path, repaired where pathlib folded ``//`` (``/vsizip//abs``, ``https://``)."""
    error: RasterioError | None = None
    candidates = _virtual_candidates(text)
    for name in candidates:
        try:
            with _quiet(), rasterio.open(name) as dataset:
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


@contextmanager
def _quiet() -> Iterator[None]:
    # A raster without geotransform is refused with its own message; GDAL's warning is noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        yield


def _describe_mosaic(label: Path, tiles: list[Path]) -> LandCoverSource:
    xml = mosaic_vrt(tiles)
    return replace(_describe_dataset(label, xml), dataset=xml)


def _describe_dataset(path: Path, name: str) -> LandCoverSource:
    try:
        with _quiet(), rasterio.open(name) as dataset:
            return _describe(str(path), path, dataset)
    except RasterioError as exc:
        raise InputFileError(
            f"Land-cover raster {str(path)!r} cannot be opened by GDAL: {exc}. Check that it is a "
            "complete raster file (gdalinfo shows what GDAL sees)."
        ) from exc


def _tiles_in(folder: Path) -> list[Path]:
    tiles = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".tif", ".tiff", ".vrt"))
    if not tiles:
        raise InputFileError(
            f"Folder {str(folder)!r} holds no .tif, .tiff or .vrt land-cover tiles; point to the "
            "folder that holds the tiles themselves, or to one raster."
        )
    return tiles


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
            _declared_nodata(dataset, dtype),
            dtype,
            label=label,
            fix=f"gdal_edit.py -a_nodata VALUE {label}",
        ),
        has_mask=MaskFlags.per_dataset in flags or MaskFlags.alpha in flags,
        block_shape=tuple(dataset.block_shapes[0]),
    )


def check_vrt_sources(label: str, dataset: rasterio.io.DatasetReader, depth: int = 0) -> None:
    """Raise :class:`InputFileError` naming the first tile of a VRT that is missing or unreadable.

    GDAL opens a VRT without looking at its tiles; a missing one would fail mid-run.
    """
    for tile in dataset.files[1:]:
        if not tile.startswith(_VSI_PREFIX) and not Path(tile).exists():
            raise InputFileError(
                f"VRT {label!r} refers to tile {tile!r}, which does not exist. Restore the tile, or "
                "rebuild the VRT from the tiles you have (gdalbuildvrt out.vrt tiles/*.tif)."
            )
        try:
            with _quiet(), rasterio.open(tile) as source:
                if source.driver == "VRT" and depth < 8:
                    check_vrt_sources(tile, source, depth + 1)
        except RasterioError as exc:
            raise InputFileError(
                f"VRT {label!r} refers to tile {tile!r}, which GDAL cannot open ({exc}). Replace "
                "the tile, or rebuild the VRT without it (gdalbuildvrt)."
            ) from exc


def _declared_nodata(dataset: rasterio.io.DatasetReader, dtype: np.dtype) -> float | int | None:
    """The raster's nodata as declared: exact for 64-bit integers (GDAL hands rasterio a double),
    and also when the dtype cannot hold it (rasterio then reports None)."""
    nodata = dataset.nodata
    if nodata is not None and (
        dtype.itemsize < 8 or not np.isfinite(nodata) or abs(nodata) < 2**53
    ):
        return nodata
    with MemoryFile() as copy:
        rasterio.shutil.copy(dataset, copy.name, driver="VRT")
        found = re.search(rb"<NoDataValue>\s*([^<\s]+)\s*</NoDataValue>", copy.read())
    if found is None:
        return nodata
    text = found.group(1).decode()
    try:
        return int(text)
    except ValueError:
        return float(text)


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
        with _quiet(), rasterio.open(source.gdal_name) as dataset:
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


def mosaic_vrt(
    tiles: list[Path],
    *,
    description: str | None = None,
    units: str | None = None,
    overviews: Sequence[Path] = (),
) -> str:
    """The XML of a VRT mosaic of ``tiles``, which must share CRS, pixel size, dtype and grid.

    ``description`` and ``units`` label the band (and the dataset's metadata) when given;
    ``overviews`` are single-band rasters of the mosaic at coarser resolutions, finest first.

    Raises
    ------
    RasterFormatError
        A tile differs from the first in CRS, pixel size, dtype or nodata, or is off its grid;
        the message names the tile and how it differs.
    """
    infos = [_tile_info(Path(tile)) for tile in tiles]
    first = infos[0]
    for info in infos[1:]:
        _check_tile(first, info)
    a, e = first["transform"].a, first["transform"].e
    west = min(i["transform"].c for i in infos)
    north = max(i["transform"].f for i in infos) if e < 0 else min(i["transform"].f for i in infos)
    placed = [
        (i, round((i["transform"].c - west) / a), round((i["transform"].f - north) / e))
        for i in infos
    ]
    width = max(col + i["shape"][1] for i, col, _ in placed)
    height = max(row + i["shape"][0] for i, _, row in placed)
    sources = "".join(
        f'<SimpleSource><SourceFilename relativeToVRT="0">{escape(str(i["path"].resolve()))}</SourceFilename>'
        f"<SourceBand>1</SourceBand>"
        f'<SrcRect xOff="0" yOff="0" xSize="{i["shape"][1]}" ySize="{i["shape"][0]}"/>'
        f'<DstRect xOff="{col}" yOff="{row}" xSize="{i["shape"][1]}" ySize="{i["shape"][0]}"/></SimpleSource>'
        for i, col, row in placed
    )
    nodata = (
        ""
        if first["nodata"] is None
        else f"<NoDataValue>{_nodata_text(first['nodata'])}</NoDataValue>"
    )
    block_rows, block_cols = first["block"]
    labels = {"description": description, "units": units}
    metadata = "".join(
        f'<MDI key="{key}">{escape(value)}</MDI>' for key, value in labels.items() if value
    )
    band_labels = (f"<Description>{escape(description)}</Description>" if description else "") + (
        f"<UnitType>{escape(units)}</UnitType>" if units else ""
    )
    return (
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><SRS>{escape(first["crs"].to_wkt())}</SRS>'
        f"<GeoTransform>{west!r}, {a!r}, 0, {north!r}, 0, {e!r}</GeoTransform>"
        + (f"<Metadata>{metadata}</Metadata>" if metadata else "")
        + f'<VRTRasterBand dataType="{_GDAL_TYPES[first["dtype"]]}" band="1" '
        f'blockXSize="{block_cols}" blockYSize="{block_rows}">{band_labels}{nodata}{sources}'
        + "".join(
            f'<Overview><SourceFilename relativeToVRT="0">{escape(str(Path(o).resolve()))}</SourceFilename>'
            "<SourceBand>1</SourceBand></Overview>"
            for o in overviews
        )
        + "</VRTRasterBand></VRTDataset>"
    )


def _nodata_text(nodata: float | int) -> str:
    """Nodata as VRT XML spells it: whole numbers exactly (64-bit codes lose nothing), else repr."""
    if isinstance(nodata, int | np.integer):
        return str(int(nodata))
    return str(int(nodata)) if np.isfinite(nodata) and nodata == int(nodata) else repr(nodata)


_GDAL_TYPES = {
    "uint8": "Byte",
    "int8": "Int8",
    "uint16": "UInt16",
    "int16": "Int16",
    "uint32": "UInt32",
    "int32": "Int32",
    "uint64": "UInt64",
    "int64": "Int64",
    "float32": "Float32",
}


def _tile_info(tile: Path) -> dict[str, Any]:
    if not tile.exists():
        raise InputFileError(f"Land-cover tile {str(tile)!r} does not exist.")
    try:
        with _quiet(), rasterio.open(tile) as dataset:
            info = {
                "path": tile,
                "crs": dataset.crs,
                "transform": dataset.transform,
                "shape": dataset.shape,
                "dtype": dataset.dtypes[0],
                "nodata": _declared_nodata(dataset, np.dtype(dataset.dtypes[0])),
                "block": dataset.block_shapes[0],
                "count": dataset.count,
            }
            check_georeferenced(
                str(tile),
                dataset.transform,
                shape=dataset.shape,
                has_gcps=bool(dataset.gcps[0]),
                has_rpcs=dataset.rpcs is not None,
            )
            if dataset.driver == "VRT":
                check_vrt_sources(str(tile), dataset)
    except RasterioError as exc:
        raise InputFileError(
            f"Land-cover tile {str(tile)!r} cannot be opened by GDAL: {exc}. Replace the tile, or "
            "move it out of the folder."
        ) from exc
    if info["count"] != 1:
        raise RasterFormatError(
            f"Land-cover tile {str(tile)!r} has {info['count']} bands; geocarbon reads one band of "
            "class codes. Extract it first, e.g. gdal_translate -b 1 in.tif out.tif."
        )
    if info["crs"] is None:
        raise RasterFormatError(
            f"Land-cover tile {str(tile)!r} has no CRS, so pixel areas cannot be known. "
            "Assign one, e.g. gdal_edit.py -a_srs EPSG:4326 file.tif."
        )
    return info


def _check_tile(first: dict[str, Any], info: dict[str, Any]) -> None:
    problems = []
    if info["crs"] != first["crs"]:
        problems.append(f"CRS {info['crs']} instead of {first['crs']}")
    a, e = first["transform"].a, first["transform"].e
    t = info["transform"]
    if abs(t.a - a) > 1e-9 * abs(a) or abs(t.e - e) > 1e-9 * abs(e) or t.b or t.d:
        problems.append(f"pixel size {(t.a, t.e)} instead of {(a, e)}")
    same_nodata = info["nodata"] == first["nodata"] or (
        info["nodata"] is not None
        and first["nodata"] is not None
        and np.isnan(info["nodata"])
        and np.isnan(first["nodata"])
    )
    if info["dtype"] != first["dtype"] or not same_nodata:
        problems.append(
            f"dtype/nodata {info['dtype']}/{info['nodata']} instead of {first['dtype']}/{first['nodata']}"
        )
    offsets = ((t.c - first["transform"].c) / a, (t.f - first["transform"].f) / e)
    if any(abs(v - round(v)) > 1e-6 for v in offsets):
        problems.append("an origin off the first tile's pixel grid")
    if problems:
        raise RasterFormatError(
            f"Tile {str(info['path'])!r} does not fit the mosaic of {str(first['path'])!r}: "
            f"{'; '.join(problems)}. Tiles must share one grid; warp them first (gdalwarp)."
        )
