"""Vector files as region layers: any format pyogrio reads or GeoParquet, one layer chosen
explicitly where a file holds several, and text decoded as declared, as UTF-8, or (for a
Shapefile without a code page, the common Chinese case) as GB18030 with a warning.
"""

from __future__ import annotations

import codecs
import math
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import pyogrio

from geocarbon.errors import EncodingGuessWarning, InputFileError, said, warn

GEOPARQUET_SUFFIXES = (".parquet", ".geoparquet")
#: Formats that may hold several layers (listing them is cheap): a layer must then be chosen.
MULTI_LAYER_SUFFIXES = (".gpkg", ".sqlite", ".gdb", ".kml", ".gml", ".zip")


def read_vector_file(path: Path, layer: str | None, encoding: str | None) -> gpd.GeoDataFrame:
    if not path.exists():
        raise InputFileError(f"Regions file {str(path)!r} does not exist.")
    if path.suffix.lower() in GEOPARQUET_SUFFIXES:
        # GeoParquet through pyarrow: GDAL's Parquet driver is not in every pyogrio build.
        try:
            return gpd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise InputFileError(
                f"Regions file {str(path)!r} cannot be read as GeoParquet: {said(exc)}"
            ) from exc
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputFileError(
                f"Unknown encoding {encoding!r} for regions file {str(path)!r}; give one such as "
                "GBK, GB18030, UTF-8 or CP1252 (--encoding)."
            ) from None
    guess = encoding is None and _undeclared_shapefile_encoding(path)
    try:
        _check_layer(path, layer)
        # pyogrio directly: geopandas.read_file would list (and so parse) the layers again.
        # Through Arrow: about half the time of feature-by-feature reading on large GeoJSON.
        # An undeclared Shapefile encoding is read as Latin-1 (bytes kept) and decoded below.
        frame = pyogrio.read_dataframe(
            path,
            layer=layer,
            use_arrow=True,
            fid_as_index=True,
            encoding="ISO-8859-1" if guess else encoding,
        )
    except pyogrio.errors.DataSourceError as exc:
        raise InputFileError(
            f"Regions file {str(path)!r} cannot be read as vector data: {said(exc)}"
        ) from exc
    frame = frame if isinstance(frame, gpd.GeoDataFrame) else gpd.GeoDataFrame(frame)
    return _decode_latin1(frame, path) if guess else _checked_text(frame, path)


def _check_layer(path: Path, layer: str | None) -> None:
    """A named layer must exist; a file with several layers needs one named."""
    if layer is None and not (path.is_dir() or path.suffix.lower() in MULTI_LAYER_SUFFIXES):
        return  # listing layers parses some formats (GeoJSON) whole
    layers = [str(name) for name, kind in pyogrio.list_layers(path) if layer or kind]
    if layer is not None and layer not in layers:
        raise InputFileError(
            f"Regions file {str(path)!r} has no layer {layer!r}; its layers are "
            f"{', '.join(layers)} (--layer)."
        )
    if layer is None and len(layers) > 1:
        raise InputFileError(
            f"Regions file {str(path)!r} has {len(layers)} layers ({', '.join(layers)}); "
            "choose one with --layer."
        )


def _undeclared_shapefile_encoding(path: Path) -> bool:
    """A Shapefile with neither a .cpg file nor a code page in its .dbf header."""
    if path.suffix.lower() != ".shp":
        return False
    if any(path.with_suffix(s).exists() for s in (".cpg", ".CPG")):
        return False
    dbf = next(
        (p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None
    )
    if dbf is None:
        return False
    with dbf.open("rb") as handle:
        header = handle.read(32)
    return len(header) == 32 and header[29] == 0  # byte 29: language driver id, 0 = none


def _decode_latin1(frame: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Text read as Latin-1 (each byte one character) decoded as UTF-8, else GB18030 with a
    warning, else left as Latin-1 (GDAL's own assumption)."""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    texts = [
        c for c in columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])
    ]
    raw = [str(c).encode("latin-1") for c in columns] + [
        str(v).encode("latin-1") for c in texts for v in frame[c].dropna().tolist()
    ]
    codec = next((name for name in ("utf-8", "gb18030") if _decodes(raw, name)), None)
    if codec is None or all(b.isascii() for b in raw):
        return frame
    if codec == "gb18030":
        warn(
            f"Regions file {str(path)!r} declares no encoding (no .cpg file) and its text is not "
            "UTF-8; it was read as GB18030 (GBK), the usual encoding of Chinese Shapefiles. To "
            f"silence this, give --encoding GBK or add {path.with_suffix('.cpg').name} holding GBK.",
            EncodingGuessWarning,
        )
    decoded = frame.copy()
    for column in texts:
        decoded[column] = frame[column].map(
            lambda v: (
                v
                if v is None or v is pd.NA or (isinstance(v, float) and v != v)
                else str(v).encode("latin-1").decode(codec)
            )
        )
    return decoded.rename(columns={c: str(c).encode("latin-1").decode(codec) for c in columns})


def _decodes(raw: list[bytes], codec: str) -> bool:
    try:
        for value in raw:
            value.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _checked_text(frame: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Text that is not valid UTF-8 fails later inside pyarrow: name the field and the fix now."""
    for column in frame.columns:
        if column == frame.geometry.name or not pd.api.types.is_string_dtype(frame[column]):
            continue
        try:
            frame[column].tolist()
        except (pa.ArrowException, UnicodeDecodeError):
            raise InputFileError(
                f"Regions file {str(path)!r}: field {column!r} is not valid text in the encoding "
                "it was read with; give its encoding, e.g. --encoding GBK (or add a .cpg file "
                "holding it next to a Shapefile)."
            ) from None
    return frame


def is_null(value: object) -> bool:
    """A missing attribute value as pandas and pyogrio give them (None, NA or NaN)."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
