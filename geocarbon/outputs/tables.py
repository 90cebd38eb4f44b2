"""Table outputs: spreadsheet-facing CSV, JSON documents, vector layers (GeoPackage, ...) and
GeoParquet.

Tables are written to the staged temporary paths of :mod:`geocarbon.outputs.staging`. A
GeoPackage holds at most :data:`GPKG_MAX_COLUMNS` columns: a wider regions table leaves its
per-class columns to the long-form CSV and the GeoParquet file, with a
:class:`~geocarbon.errors.WideTableWarning`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geocarbon.errors import WideTableWarning, warn
from geocarbon.outputs.spreadsheet import neutralise_formulas
from geocarbon.outputs.staging import final_name

#: Encoding of every CSV geocarbon writes: UTF-8 with a byte-order mark (Excel needs the mark).
CSV_ENCODING = "utf-8-sig"


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A spreadsheet-facing CSV: text that Excel or WPS would run as a formula is quoted
    (:mod:`geocarbon.outputs.spreadsheet`), rows end in CRLF so a cell holding a bare CR stays one
    cell, and the file starts with a UTF-8 byte-order mark (:data:`CSV_ENCODING`) so Excel on a
    Chinese (GBK) Windows reads Chinese names as UTF-8 instead of mojibake. pandas' ``read_csv``
    skips the mark; other readers should open the file with ``encoding="utf-8-sig"``."""
    neutralise_formulas(frame).to_csv(
        path,
        index=False,
        float_format="%.10g",
        lineterminator="\r\n",
        encoding=CSV_ENCODING,
    )


def write_json(document: dict[str, Any], path: Path) -> None:
    path.write_text(
        json.dumps(document, indent=2, ensure_ascii=False, default=_json_default) + "\n", "utf-8"
    )


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


#: SQLite's default column limit, which GeoPackage inherits (the feature id and geometry included).
GPKG_MAX_COLUMNS = 2000


def write_vector(frame: Any, path: Path, *, driver: str, layer: str) -> None:
    """Write a GeoDataFrame with pyogrio (GeoPackage, FlatGeobuf, ...).

    A GeoPackage holds at most :data:`GPKG_MAX_COLUMNS` columns: wider frames (a table of
    thousands of classes) keep their per-class columns (``class_*``) out of it, with a warning;
    the long-form tables carry them.
    """
    if driver == "GPKG" and len(frame.columns) + 1 > GPKG_MAX_COLUMNS:
        per_class = [c for c in frame.columns if str(c).startswith("class_")]
        frame = frame.drop(columns=per_class)
        warn(
            f"{final_name(path)}: GeoPackage allows at most "
            f"{GPKG_MAX_COLUMNS} columns, so its {len(per_class)} per-class area columns are "
            "left out; the per-class areas are in the long-form table (regions_by_class.csv) and "
            "the GeoParquet file.",
            WideTableWarning,
        )
    frame.to_file(path, driver=driver, layer=layer, engine="pyogrio")


def write_geoparquet(frame: Any, path: Path) -> None:
    """Write a GeoDataFrame as GeoParquet (geometry as WKB, CRS in the metadata)."""
    frame.to_parquet(path, index=False)
