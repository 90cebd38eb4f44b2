"""VRT mosaics of tiles, and checks of the tiles a mosaic or a VRT file is made of.

:func:`mosaic_vrt` gives the XML of an in-memory VRT over tiles that share one grid (how CLCD
and WorldCover ship, and how tiled outputs are read back as one raster), so tiles are never
merged on disk; a tile that is missing, unreadable or off the grid is named with the fix.
Land cover (:mod:`geocarbon.inputs.landcover`) and raster outputs use it.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import MemoryFile

from geocarbon.errors import InputFileError, RasterFormatError, said
from geocarbon.grid import check_georeferenced

#: GDAL virtual file systems (/vsizip/, /vsicurl/, /vsis3/...) start with this.
VSI_PREFIX = "/vsi"


@contextmanager
def ignore_not_georeferenced() -> Iterator[None]:
    # A raster without geotransform is refused with its own message; GDAL's warning is noise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        yield


def tiles_in(folder: Path) -> list[Path]:
    """The .tif, .tiff and .vrt tiles of ``folder``, sorted by name."""
    tiles = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".tif", ".tiff", ".vrt"))
    if not tiles:
        raise InputFileError(
            f"Folder {str(folder)!r} holds no .tif, .tiff or .vrt land-cover tiles; point to the "
            "folder that holds the tiles themselves, or to one raster."
        )
    return tiles


def check_vrt_sources(label: str, dataset: rasterio.io.DatasetReader, depth: int = 0) -> None:
    """Raise :class:`InputFileError` naming the first tile of a VRT that is missing or unreadable.

    GDAL opens a VRT without looking at its tiles; a missing one would fail mid-run.
    """
    for tile in dataset.files[1:]:
        if not tile.startswith(VSI_PREFIX) and not Path(tile).exists():
            raise InputFileError(
                f"VRT {label!r} refers to tile {tile!r}, which does not exist. Restore the tile, or "
                "rebuild the VRT from the tiles you have (gdalbuildvrt out.vrt tiles/*.tif)."
            )
        try:
            with ignore_not_georeferenced(), rasterio.open(tile) as source:
                if source.driver == "VRT" and depth < 8:
                    check_vrt_sources(tile, source, depth + 1)
        except RasterioError as exc:
            raise InputFileError(
                f"VRT {label!r} refers to tile {tile!r}, which GDAL cannot open ({said(exc)}). Replace "
                "the tile, or rebuild the VRT without it (gdalbuildvrt)."
            ) from exc


def declared_nodata(dataset: rasterio.io.DatasetReader, dtype: np.dtype) -> float | int | None:
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
        with ignore_not_georeferenced(), rasterio.open(tile) as dataset:
            info = {
                "path": tile,
                "crs": dataset.crs,
                "transform": dataset.transform,
                "shape": dataset.shape,
                "dtype": dataset.dtypes[0],
                "nodata": declared_nodata(dataset, np.dtype(dataset.dtypes[0])),
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
            f"Land-cover tile {str(tile)!r} cannot be opened by GDAL: {said(exc)}. Replace the tile, or "
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
