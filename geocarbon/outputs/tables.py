"""Table outputs: spreadsheet-facing CSV, JSON documents, vector layers (GeoPackage, ...) and
GeoParquet.

Tables are written to the staged temporary paths of :mod:`geocarbon.outputs.staging`. A
GeoPackage holds at most :data:`GPKG_MAX_COLUMNS` columns: a wider regions table leaves its
per-class columns to the long-form CSV and the GeoParquet file, with a
:class:`~geocarbon.errors.WideTableWarning`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geocarbon.errors import WideTableWarning, warn
from geocarbon.outputs.provenance import table_metadata, table_metadata_text
from geocarbon.outputs.spec import RUNS, identify
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


def write_vector(
    frame: Any,
    path: Path,
    *,
    driver: str = "GPKG",
    layer: str = "regions",
    summary: Mapping[str, Any] | None = None,
) -> None:
    """Write a GeoDataFrame with pyogrio (GeoPackage, FlatGeobuf, ...).

    A GeoPackage carries the provenance of the run whose ``summary`` document is given, with the
    units of its columns (:func:`~geocarbon.outputs.provenance.table_metadata_text`), in its
    metadata tables (``gpkg_metadata``, referenced to the layer in ``gpkg_metadata_reference``);
    the layer's description (``gpkg_contents``) is the spec's.

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
    options = {}
    if summary is not None and driver == "GPKG":
        # On the layer only: GDAL copies a GeoPackage's file-level metadata into a new
        # regions.gpkg.aux.xml each time a reader opens it.
        description = {"DESCRIPTION": _description(summary, path)}
        options = {"layer_metadata": table_metadata_text(summary, frame.columns) | description}
    frame.to_file(path, driver=driver, layer=layer, engine="pyogrio", **options)


def _description(summary: Mapping[str, Any], path: Path) -> str:
    found = (
        identify(str(summary.get("run")), final_name(path)) if summary.get("run") in RUNS else None
    )
    return found[0].describe(**found[1]) if found is not None else ""


def write_geoparquet(frame: Any, path: Path, summary: Mapping[str, Any] | None = None) -> None:
    """Write a GeoDataFrame as GeoParquet (geometry as WKB, CRS in the metadata); with a run's
    ``summary``, the Parquet file's key-value metadata also holds its provenance under the key
    ``geocarbon`` (a JSON object, :func:`~geocarbon.outputs.provenance.table_metadata`)."""
    frame.to_parquet(path, index=False)
    if summary is None:
        return
    import pyarrow.parquet as pq

    # geopandas writes the "geo" key alone: the (small) regions table is written again with ours.
    table = pq.read_table(path)
    document = json.dumps(table_metadata(summary, frame.columns), ensure_ascii=False)
    metadata = {**(table.schema.metadata or {}), b"geocarbon": document.encode("utf-8")}
    pq.write_table(table.replace_schema_metadata(metadata), path)
