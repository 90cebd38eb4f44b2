"""Open land-cover rasters and read windows of class codes; report nodata and dtype honestly.

Nothing else here: no arithmetic, no writing. A :class:`WindowReader` keeps one dataset handle
per thread (GDAL handles are not thread-safe), so several threads can read blocks at once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

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
    #: What GDAL opens: the path, or the XML of a mosaic of tiles (``path`` names the folder).
    dataset: str = field(default="", repr=False)

    @property
    def gdal_name(self) -> str:
        return self.dataset or str(self.path)

    def warped_to(self, grid: GridSpec) -> LandCoverSource:
        """The same raster read on ``grid`` by nearest-neighbour resampling (a GDAL WarpedVRT).

        Pixels of ``grid`` outside the raster read as masked (nodata).
        """
        return replace(
            self, grid=grid, has_mask=True, warped_from=self.grid, block_shape=(512, 512)
        )


def open_landcover(path: str | Path | list[Path]) -> LandCoverSource:
    """Check that ``path`` is a single-band integer raster with a CRS, and describe it.

    ``path`` may be a GeoTIFF, a VRT, a folder of tiles or a list of tiles (how CLCD and
    WorldCover ship): tiles are read as one mosaic through an in-memory VRT, never merged on disk.

    Raises
    ------
    InputFileError
        Missing or unreadable file.
    RasterFormatError
        No CRS, more than one band, or a non-integer data type.
    """
    if isinstance(path, list):
        tiles = sorted(Path(p) for p in path)
        return _describe_mosaic(Path(f"{len(tiles)} tiles in {tiles[0].parent}"), tiles)
    if Path(path).is_dir():
        return _describe_mosaic(Path(path), _tiles_in(Path(path)))
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"Land-cover raster {str(path)!r} does not exist.")
    return _describe_dataset(path, str(path))


def _describe_mosaic(label: Path, tiles: list[Path]) -> LandCoverSource:
    xml = mosaic_vrt(tiles)
    return replace(_describe_dataset(label, xml), dataset=xml)


def _describe_dataset(path: Path, name: str) -> LandCoverSource:
    try:
        with rasterio.open(name) as dataset:
            return _describe(path, dataset)
    except RasterioError as exc:
        raise InputFileError(
            f"Land-cover raster {str(path)!r} cannot be opened by GDAL: {exc}"
        ) from exc


def _tiles_in(folder: Path) -> list[Path]:
    tiles = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".tif", ".tiff", ".vrt"))
    if not tiles:
        raise InputFileError(
            f"Folder {str(folder)!r} holds no .tif, .tiff or .vrt land-cover tiles."
        )
    return tiles


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
    nodata = "" if first["nodata"] is None else f"<NoDataValue>{first['nodata']:g}</NoDataValue>"
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
        with rasterio.open(tile) as dataset:
            return {
                "path": tile,
                "crs": dataset.crs,
                "transform": dataset.transform,
                "shape": dataset.shape,
                "dtype": dataset.dtypes[0],
                "nodata": dataset.nodata,
                "block": dataset.block_shapes[0],
            }
    except RasterioError as exc:
        raise InputFileError(
            f"Land-cover tile {str(tile)!r} cannot be opened by GDAL: {exc}"
        ) from exc


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
