"""Region layers read from a PostGIS table, through psycopg (pyogrio's GDAL has no PostgreSQL driver).

A source is a GDAL-style ``PG:"host=... dbname=..."`` string or a ``postgresql://`` URL; the
table is ``--layer TABLE``, ``schema.table`` or ``table(geometry_column)``. Every table or column
name is user text and reaches SQL only quoted (:class:`psycopg.sql.Identifier`) or as a bound
parameter. Integer columns stay integers, text stays text, the CRS comes from the SRID. Each
failure (no connection, no PostGIS, no such table or geometry column) is one line naming the
connection (password masked) and the table.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from pyproj import CRS

from geocarbon.errors import GeoCarbonError, InputFileError, said

_URL = re.compile(r"^postgres(?:ql)?:/", re.IGNORECASE)
_GDAL_PREFIX = "PG:"
_PASSWORD_WORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s\"']+)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)
_LAYER = re.compile(r"^(?:(?P<schema>[^.()]+)\.)?(?P<table>[^()]+?)(?:\((?P<column>[^()]+)\))?$")
CONNECT_TIMEOUT_S = 10
_INTEGER_TYPES = ("int2", "int4", "int8")
_FLOAT_TYPES = ("float4", "float8")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def is_postgis(source: object) -> bool:
    """``source`` names a PostgreSQL database (``PG:...`` or ``postgresql://...``), not a file."""
    if not isinstance(source, str | Path):
        return False
    text = str(source)
    return text[: len(_GDAL_PREFIX)].upper() == _GDAL_PREFIX or bool(_URL.match(text))


def conninfo(source: str | Path) -> str:
    """The libpq connection string of ``source``: ``PG:`` removed, a URL's ``//`` restored where a
    :class:`~pathlib.Path` collapsed it (``postgresql:/user@host/db``)."""
    text = str(source).strip()
    if text[: len(_GDAL_PREFIX)].upper() == _GDAL_PREFIX:
        return text[len(_GDAL_PREFIX) :].strip().strip('"')
    scheme, _, rest = text.partition(":")
    if rest.startswith("//"):
        return text
    # Path folds "//host/db" and "///db" (local socket) alike into "/...": a first segment
    # without user, port or further path, next to a ?host= parameter, was the database.
    rest = rest.lstrip("/")
    authority, _, query = rest.partition("?")
    socket = not re.search(r"[@:/]", authority) and bool(re.search(r"(^|&)host=", query))
    return f"{scheme}://{'/' if socket else ''}{rest}"


def masked(source: str | Path) -> str:
    """``source`` as messages show it: any password replaced by ``***``."""
    text = str(source).strip()
    if _URL.match(text):
        text = conninfo(text)
        parts = urlsplit(text)
        if parts.password is not None:
            host = parts.netloc.rpartition("@")[2]
            text = urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
        return _URL_PASSWORD.sub(r"\1***", text)
    return _PASSWORD_WORD.sub(r"\1***", text)


def connect(source: str | Path, *, error: type[GeoCarbonError], fix: str) -> psycopg.Connection:
    """An open connection to ``source`` (UTF-8, autocommit off), or ``error`` in one line."""
    try:
        return psycopg.connect(
            conninfo(source), connect_timeout=CONNECT_TIMEOUT_S, client_encoding="UTF8"
        )
    except psycopg.Error as exc:
        raise error(
            f"Cannot connect to PostgreSQL database {masked(source)!r}: {reason(exc, source)}. "
            f"Check its host, port, database name, user and password ({fix})."
        ) from None


def reason(exc: BaseException, source: str | Path) -> str:
    """The first line of a driver or server message (:func:`~geocarbon.errors.said`), the
    connection's password, where it stands as a word of its own, masked."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    text = said(RuntimeError(lines[0])) if lines else type(exc).__name__
    for password in sorted(_passwords(source), key=len, reverse=True):
        text = re.sub(rf"(?<![\w]){re.escape(password)}(?![\w])", "***", text)
    return text


def _passwords(source: str | Path) -> set[str]:
    """The connection's password as libpq reads it and as written (percent-encoded, quoted),
    also from a string libpq cannot parse (whose error may quote it)."""
    text = conninfo(source)
    found = set()
    with contextlib.suppress(psycopg.Error):
        found.add(str(psycopg.conninfo.conninfo_to_dict(text).get("password") or ""))
    written = re.match(r"^[a-z]+://[^/@:]*:([^@]*)@", text, re.IGNORECASE)
    words = [written.group(1)] if written else []
    words += [m.group(2) for m in _PASSWORD_WORD.finditer(text)]
    words += [m.group(0).split("=", 1)[1] for m in _URL_PASSWORD.finditer(text)]
    for word in words:
        found |= {word, word.strip("'"), unquote(word)}
    return {word for word in found if word}


def check_postgis(
    connection: psycopg.Connection, source: str | Path, error: type[Exception]
) -> None:
    """The database has the PostGIS extension."""
    row = connection.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone()
    if row is None:
        raise error(
            f"PostgreSQL database {masked(source)!r} has no PostGIS extension; run "
            "CREATE EXTENSION postgis; in it (as its owner) or choose another database."
        )


def postgis_label(source: str | Path, layer: str | None) -> str:
    """How region messages name a PostGIS layer: table and connection (password masked)."""
    return f"PostGIS table {layer or '?'!r} of {masked(source)!r}"


def read_postgis_layer(source: str | Path, layer: str | None) -> gpd.GeoDataFrame:
    """Table ``layer`` of the database ``source`` as a GeoDataFrame indexed by its primary key
    (when it has a single-column one, else 0, 1, ...), attributes typed, CRS from the SRID.

    Raises
    ------
    InputFileError
        No connection, no PostGIS, no such table, no geometry column, no SRID.
    """
    with connect(source, error=InputFileError, fix="--regions") as connection:
        connection.read_only = True  # a reader never changes the database
        try:
            return _read_layer(connection, source, layer)
        except psycopg.Error as exc:
            raise InputFileError(
                f"{postgis_label(source, layer)} cannot be read: {reason(exc, source)} (--regions)."
            ) from None


def _read_layer(
    connection: psycopg.Connection, source: str | Path, layer: str | None
) -> gpd.GeoDataFrame:
    """:func:`read_postgis_layer` on an open connection (server errors left to the caller)."""
    check_postgis(connection, source, InputFileError)
    schema, table, column, srid = _geometry_column(connection, source, layer)
    names, types = _attributes(connection, schema, table)
    key = _primary_key(connection, schema, table, names, types)
    query = sql.SQL("SELECT ST_AsBinary({g}), ST_SRID({g}){columns} FROM {s}.{t}{order}").format(
        g=sql.Identifier(column),
        columns=sql.SQL("").join(sql.SQL(", ") + sql.Identifier(n) for n in names),
        s=sql.Identifier(schema),
        t=sql.Identifier(table),
        order=sql.SQL(" ORDER BY {}").format(sql.Identifier(key)) if key else sql.SQL(""),
    )
    rows = connection.execute(query).fetchall()
    crs = _crs(connection, source, f"{schema}.{table}", srid, [r[1] for r in rows])
    values = {
        n: _typed(t, [r[i + 2] for r in rows])
        for i, (n, t) in enumerate(zip(names, types, strict=True))
    }
    index = pd.Index(values[key], name=None) if key else pd.RangeIndex(len(rows))
    geometry = shapely.from_wkb([r[0] for r in rows])
    return gpd.GeoDataFrame(
        {n: pd.Series(v, index=index) for n, v in values.items()},
        geometry=gpd.GeoSeries(geometry, index=index, crs=crs),
        crs=crs,
    )


def _geometry_column(
    connection: psycopg.Connection, source: str | Path, layer: str | None
) -> tuple[str, str, str, int]:
    """Schema, table, geometry column and declared SRID of ``layer`` (search path order)."""
    found = _LAYER.match(layer.strip()) if layer else None
    if layer is not None and found is None:
        raise InputFileError(
            f"--layer {layer!r} is not a table name of {masked(source)!r}; give TABLE, "
            "SCHEMA.TABLE or TABLE(GEOMETRY_COLUMN)."
        )
    wanted = found.groupdict() if found else {"schema": None, "table": None, "column": None}
    rows = connection.execute(
        "SELECT f_table_schema::text, f_table_name::text, f_geometry_column::text, srid "
        "FROM geometry_columns WHERE (%(table)s::text IS NULL OR f_table_name = %(table)s) "
        "AND (f_table_schema = %(schema)s OR (%(schema)s::text IS NULL AND "
        "f_table_schema::name = ANY(current_schemas(false)))) "
        "AND (%(column)s::text IS NULL OR f_geometry_column = %(column)s) "
        "ORDER BY array_position(current_schemas(false), f_table_schema::name), 2, 3",
        wanted,
    ).fetchall()
    tables = list(dict.fromkeys(f"{r[0]}.{r[1]}" for r in rows))
    if layer is None and len(tables) != 1:  # none or several on the search path: list them all
        everywhere = _geometry_tables(connection, with_column=False)
        raise InputFileError(
            f"PostgreSQL database {masked(source)!r} holds {len(everywhere)} tables with "
            f"geometries ({_listing(everywhere) or 'none'}); choose one with --layer "
            "(SCHEMA.TABLE for one outside the search path)."
        )
    if not rows:
        raise InputFileError(_missing(connection, source, str(layer), wanted))
    same_table = [r for r in rows if (r[0], r[1]) == (rows[0][0], rows[0][1])]
    if len(same_table) > 1:
        columns = ", ".join(r[2] for r in same_table)
        raise InputFileError(
            f"PostGIS table {tables[0]!r} of {masked(source)!r} has geometry columns {columns}; "
            f"choose one with --layer '{rows[0][1]}({same_table[0][2]})'."
        )
    return rows[0][0], rows[0][1], rows[0][2], int(rows[0][3])


def _missing(
    connection: psycopg.Connection, source: str | Path, layer: str, wanted: dict[str, Any]
) -> str:
    """Why ``layer`` has no geometry column: no such table, or a table without geometries."""
    exists = connection.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_name = %(table)s AND "
        "(table_schema = %(schema)s OR (%(schema)s::text IS NULL AND "
        "table_schema::name = ANY(current_schemas(false))))",
        wanted,
    ).fetchone()
    if exists and wanted["column"] is None:
        return (
            f"PostGIS table {layer!r} of {masked(source)!r} has no geometry column; give a "
            "table with one (listed in geometry_columns) as --layer."
        )
    geometry_tables = _geometry_tables(connection, with_column=bool(wanted["column"]))
    thing = "geometry column" if exists else "table"
    return (
        f"PostgreSQL database {masked(source)!r} has no {thing} {layer!r}; its tables with "
        f"geometries are: {_listing(geometry_tables) or 'none'} (--layer)."
    )


def _geometry_tables(connection: psycopg.Connection, *, with_column: bool) -> list[str]:
    """Every table with geometries, in any schema: ``schema.table`` (with ``(column)``)."""
    rows = connection.execute(
        "SELECT f_table_schema, f_table_name, f_geometry_column FROM geometry_columns "
        "ORDER BY 1, 2, 3"
    ).fetchall()
    names = [f"{r[0]}.{r[1]}" + (f"({r[2]})" if with_column else "") for r in rows]
    return list(dict.fromkeys(names))


def _listing(names: Sequence[str], limit: int = 20) -> str:
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" and {more} more" if more > 0 else "")


def _attributes(
    connection: psycopg.Connection, schema: str, table: str
) -> tuple[list[str], list[str]]:
    """Names and type names of the table's columns that are not geometries, in table order."""
    rows = connection.execute(
        "SELECT a.attname::text, t.typname::text FROM pg_attribute a "
        "JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = format('%%I.%%I', %s::text, %s::text)::regclass "
        "AND a.attnum > 0 AND NOT a.attisdropped AND t.typname NOT IN ('geometry', 'geography') "
        "ORDER BY a.attnum",
        (schema, table),
    ).fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


def _primary_key(
    connection: psycopg.Connection, schema: str, table: str, names: list[str], types: list[str]
) -> str | None:
    """The table's single integer primary-key column (its feature ids), if it has one."""
    rows = connection.execute(
        "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indisprimary AND "
        "i.indrelid = format('%%I.%%I', %s::text, %s::text)::regclass",
        (schema, table),
    ).fetchall()
    if len(rows) != 1 or rows[0][0] not in names:
        return None
    return rows[0][0] if types[names.index(rows[0][0])] in _INTEGER_TYPES else None


def _crs(
    connection: psycopg.Connection, source: str | Path, table: str, srid: int, srids: list[int]
) -> CRS:
    """The CRS of the declared SRID, else of the one SRID every geometry carries."""
    if srid == 0:
        found = sorted({s for s in srids if s is not None})
        if len(found) > 1:
            raise InputFileError(
                f"PostGIS table {table} of {masked(source)!r} mixes SRIDs {found}; transform its "
                "geometries to one (ST_Transform)."
            )
        srid = found[0] if found else 0
    if srid == 0:
        raise InputFileError(
            f"PostGIS table {table} of {masked(source)!r} has geometries without an SRID; set "
            "it, e.g. UPDATE the table SET geom = ST_SetSRID(geom, 4326)."
        )
    row = connection.execute(
        "SELECT auth_name, auth_srid, srtext FROM spatial_ref_sys WHERE srid = %s", (srid,)
    ).fetchone()
    if row is not None and str(row[0]).upper() == "EPSG":
        return CRS.from_epsg(int(row[1]))
    if row is not None and row[2]:
        return CRS.from_wkt(row[2])
    return CRS.from_epsg(srid)


def _typed(type_name: str, values: list[Any]) -> Any:
    """A column's values as pandas keeps them: integers as int64 (Int64 with nulls), floats as
    float64, integral numerics as integers, booleans as bool, everything else as read."""
    present = [v for v in values if v is not None]
    if type_name == "numeric":
        if all(v.is_finite() and v == v.to_integral_value() for v in present):
            if all(_INT64_MIN <= v <= _INT64_MAX for v in present):
                type_name = "int8"
            else:  # integers beyond int64 (ids up to 2**64 - 1): exact, as Python ints
                return [None if v is None else int(v) for v in values]
        else:
            return np.array([np.nan if v is None else float(v) for v in values])
    if type_name in _INTEGER_TYPES:
        if len(present) == len(values):
            return np.array([int(v) for v in values], dtype=np.int64)
        return pd.array([None if v is None else int(v) for v in values], dtype="Int64")
    if type_name in _FLOAT_TYPES:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if type_name == "bool":
        return (
            np.array(values, dtype=bool)
            if len(present) == len(values)
            else pd.array(values, dtype="boolean")
        )
    return values
