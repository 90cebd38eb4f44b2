"""A run's vector layers (the layers it writes into GeoPackages) as PostGIS tables.

One table per layer, named ``prefix + layer`` in a schema: integer columns ``integer`` or
``bigint``, booleans ``boolean``, floats ``double precision``, text ``text``, the geometry
``geometry(MultiPolygon, SRID)`` with a GIST index (rows without one hold NULL). Rows travel by
COPY; table and column names are quoted identifiers, never text pasted into SQL. Every table is
built under a scratch name and renamed over the old one in ONE transaction, so a failure leaves
every old table as it was; an existing table is replaced only with ``overwrite`` (as files are).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from pyproj import CRS

from geocarbon.errors import ConfigError, OutputExistsError, OutputWriteError
from geocarbon.inputs.postgis import check_postgis, connect, masked, reason

DEFAULT_POSTGIS_SCHEMA = "public"
#: PostgreSQL's limits: identifier length (bytes) and columns per table.
MAX_IDENTIFIER_BYTES = 63
MAX_COLUMNS = 1600
GEOMETRY_COLUMN = "geom"
FID_COLUMN = "fid"
_OPTION = "--to-postgis"


@dataclass(frozen=True)
class PostgisTarget:
    """Where a run's layers go: a database (``PG:...`` or ``postgresql://...``), a schema, a
    table-name prefix, and whether existing tables may be replaced."""

    connection: str
    schema: str = DEFAULT_POSTGIS_SCHEMA
    prefix: str = ""
    overwrite: bool = False

    def table(self, layer: str) -> str:
        return f"{self.prefix}{layer}"

    def describe(self, layer: str) -> str:
        return f"{self.schema}.{self.table(layer)} of {masked(self.connection)!r}"


def run_layers(run: str) -> list[str]:
    """The layers a run writes into GeoPackages, from :mod:`geocarbon.outputs.spec`."""
    from geocarbon.outputs.spec import OUTPUTS

    return [e.layer for e in OUTPUTS[run] if e.kind == "vector" and e.layer]


def check_target(target: PostgisTarget, layers: Sequence[str]) -> None:
    """Before a run: the database answers and has PostGIS, the schema exists, every table name
    fits, and no table exists unless ``overwrite``; each failure one line."""
    if not layers:
        raise ConfigError(f"{_OPTION} writes the regions layer: give --regions too.")
    _check_identifier(target.schema, "schema", "--postgis-schema")
    for layer in layers:
        _check_identifier(target.table(layer), "table", "--postgis-prefix")
    with _session(target) as connection:
        for layer in layers:
            if not target.overwrite and _exists(connection, target.schema, target.table(layer)):
                raise _exists_error(target, layer)


@contextmanager
def _session(target: PostgisTarget) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a database with PostGIS and the target schema, closed
    afterwards; a server error inside it becomes one line (password masked)."""
    connection = connect(target.connection, error=OutputWriteError, fix=_OPTION)
    # Autocommit, so that connection.transaction() is a real BEGIN ... COMMIT (not a savepoint
    # inside an implicit transaction the checks would have opened).
    connection.autocommit = True
    with connection:
        try:
            check_postgis(connection, target.connection, OutputWriteError)
            _check_schema(connection, target)
            yield connection
        except psycopg.Error as exc:
            raise OutputWriteError(
                f"PostgreSQL database {masked(target.connection)!r} ({_OPTION}) failed: "
                f"{reason(exc, target.connection)}."
            ) from None


def write_layers(target: PostgisTarget, layers: Mapping[str, gpd.GeoDataFrame]) -> list[str]:
    """Write every layer as a table of ``target`` in one transaction; the tables written.

    Every layer is first built in full under a scratch name (the old tables stay readable
    meanwhile), then each old table is dropped and its scratch table renamed over it, its
    index and fid sequence renamed with it. The transaction commits only when all are done.

    Raises
    ------
    OutputExistsError
        A table exists and ``overwrite`` is off (nothing is written).
    OutputWriteError
        No connection, no PostGIS or schema, a CRS without an SRID, or the server refused the
        data (nothing is written; old tables are untouched).
    """
    for layer, frame in layers.items():
        _check_identifier(target.table(layer), "table", "--postgis-prefix")
        _check_columns(frame, target, layer)
    layer = next(iter(layers), "")
    with _session(target) as connection:
        try:
            with connection.transaction():
                replaced = _refuse_existing(connection, target, layers)
                scratches = []
                for layer, frame in layers.items():
                    scratches.append(_build_scratch(connection, target, layer, frame))
                for layer, scratch in zip(layers, scratches, strict=True):
                    _swap(connection, target, layer, scratch, replace=layer in replaced)
        except psycopg.Error as exc:
            raise OutputWriteError(
                f"PostGIS table {target.describe(layer)} could not be written: "
                f"{reason(exc, target.connection)}; no table was changed."
            ) from None
    return [f"{target.schema}.{target.table(layer)}" for layer in layers]


def _refuse_existing(
    connection: psycopg.Connection, target: PostgisTarget, layers: Mapping[str, Any]
) -> set[str]:
    """The layers whose table exists (to be replaced); an error if that needs ``overwrite``."""
    existing = {
        layer for layer in layers if _exists(connection, target.schema, target.table(layer))
    }
    for layer in layers:
        if layer in existing and not target.overwrite:
            raise _exists_error(target, layer)
    return existing


@dataclass(frozen=True)
class _Scratch:
    """A table built under a scratch name, and the names of the relations it owns."""

    table: str
    #: Suffix of the final name (``geom_idx``, ``pkey``, ``fid_seq``) -> scratch name.
    owned: dict[str, str]


def _build_scratch(
    connection: psycopg.Connection, target: PostgisTarget, layer: str, frame: gpd.GeoDataFrame
) -> _Scratch:
    """Create, fill (COPY) and index ``frame`` as a new table under a scratch name."""
    srid = _srid(connection, frame.crs, target, layer)
    labels = [c for c in frame.columns if c != frame.geometry.name]
    attributes, types = [str(c) for c in labels], [_column_type(frame[c]) for c in labels]
    geometry = GEOMETRY_COLUMN if GEOMETRY_COLUMN not in attributes else str(frame.geometry.name)
    fid = FID_COLUMN not in attributes and geometry != FID_COLUMN
    scratch = f"geocarbon_new_{uuid.uuid4().hex[:16]}"
    owned = {"geom_idx": f"{scratch}_geom_idx"}
    schema, table = sql.Identifier(target.schema), sql.Identifier(scratch)
    columns = [
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t))
        for c, t in zip(attributes, types, strict=True)
    ]
    columns.append(
        sql.SQL("{} geometry(MultiPolygon, {})").format(sql.Identifier(geometry), sql.Literal(srid))
    )
    if fid:
        # The identity's sequence gets a known name, so the swap can rename it with the table.
        owned |= {"pkey": f"{scratch}_pkey", "fid_seq": f"{scratch}_fid_seq"}
        columns.insert(
            0,
            sql.SQL("{} bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME {}.{})").format(
                sql.Identifier(FID_COLUMN), schema, sql.Identifier(owned["fid_seq"])
            ),
        )
    connection.execute(
        sql.SQL("CREATE TABLE {}.{} ({})").format(schema, table, sql.SQL(", ").join(columns))
    )
    names = sql.SQL(", ").join(sql.Identifier(c) for c in [*attributes, geometry])
    copy_sql = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(schema, table, names)
    with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in _rows(frame, labels, types, srid):
            copy.write_row(row)
    # Indexes after the COPY: one build instead of one update per row.
    connection.execute(
        sql.SQL("CREATE INDEX {} ON {}.{} USING GIST ({})").format(
            sql.Identifier(owned["geom_idx"]), schema, table, sql.Identifier(geometry)
        )
    )
    if fid:
        connection.execute(
            sql.SQL("ALTER TABLE {}.{} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                schema, table, sql.Identifier(owned["pkey"]), sql.Identifier(FID_COLUMN)
            )
        )
    return _Scratch(scratch, owned)


def _swap(
    connection: psycopg.Connection,
    target: PostgisTarget,
    layer: str,
    scratch: _Scratch,
    *,
    replace: bool,
) -> None:
    """Drop the old table (its index and sequence go with it), rename the scratch table over
    it, and rename what the scratch table owns after the new name (``regions_fid_seq``...)."""
    name, schema = target.table(layer), sql.Identifier(target.schema)
    if replace:
        connection.execute(sql.SQL("DROP TABLE {}.{}").format(schema, sql.Identifier(name)))
    connection.execute(
        sql.SQL("ALTER TABLE {}.{} RENAME TO {}").format(
            schema, sql.Identifier(scratch.table), sql.Identifier(name)
        )
    )
    for suffix, old in scratch.owned.items():
        kind = sql.SQL("SEQUENCE" if suffix == "fid_seq" else "INDEX")
        new = _free_name(connection, target.schema, f"{name}_{suffix}")
        # Renaming the primary key's index renames its constraint too.
        connection.execute(
            sql.SQL("ALTER {} {}.{} RENAME TO {}").format(
                kind, schema, sql.Identifier(old), sql.Identifier(new)
            )
        )


def _free_name(connection: psycopg.Connection, schema: str, wanted: str) -> str:
    """``wanted`` cut to PostgreSQL's 63 bytes, numbered (``_pkey1``...) if another relation
    of the schema holds it, as PostgreSQL names indexes itself."""
    for number in range(1000):
        ending = str(number) if number else ""
        room = MAX_IDENTIFIER_BYTES - len(ending)
        name = wanted.encode()[:room].decode(errors="ignore") + ending
        if not _exists(connection, schema, name):
            return name
    raise OutputWriteError(f"No free relation name like {wanted!r} in schema {schema!r}.")


def _rows(frame: gpd.GeoDataFrame, labels: list[Any], types: list[str], srid: int) -> Any:
    """Rows of Python values (NULL for NA and NaN) and the geometry as hex EWKB."""
    values = [_values(frame[c], t) for c, t in zip(labels, types, strict=True)]
    geometries = np.asarray(frame.geometry.values, dtype=object)
    single = shapely.get_type_id(geometries) == 3  # Polygon -> MultiPolygon
    geometries[single] = [shapely.MultiPolygon([g]) for g in geometries[single]]
    ewkb = shapely.to_wkb(shapely.set_srid(geometries, srid), hex=True, include_srid=True)
    return zip(*values, ewkb.tolist(), strict=True)


def _values(series: pd.Series, column_type: str) -> list[Any]:
    missing = pd.isna(series).to_numpy()
    values = series.astype(object).tolist()
    if column_type == "text":
        return [None if m else str(v) for v, m in zip(values, missing, strict=True)]
    if column_type in ("integer", "bigint", "numeric(20)"):
        return [None if m else int(v) for v, m in zip(values, missing, strict=True)]
    if column_type == "double precision":
        return [None if m else float(v) for v, m in zip(values, missing, strict=True)]
    if column_type == "boolean":
        return [None if m else bool(v) for v, m in zip(values, missing, strict=True)]
    return [None if m else v for v, m in zip(values, missing, strict=True)]


def _column_type(series: pd.Series) -> str:
    """The PostgreSQL type of a column: integers by width, floats, booleans, else text."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        bits = np.dtype(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype)
        if bits.itemsize < 4 or (bits.itemsize == 4 and bits.kind == "i"):
            return "integer"
        return "numeric(20)" if bits == np.uint64 else "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double precision"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamptz" if getattr(dtype, "tz", None) else "timestamp"
    if pd.api.types.is_object_dtype(dtype):
        kind = pd.api.types.infer_dtype(series, skipna=True)
        return {"integer": "bigint", "boolean": "boolean", "floating": "double precision"}.get(
            kind, "text"
        )
    return "text"


def _srid(
    connection: psycopg.Connection, crs: CRS | None, target: PostgisTarget, layer: str
) -> int:
    """The SRID of the run's CRS: its EPSG code, or its authority code in spatial_ref_sys."""
    authority = crs.to_authority() if crs is not None else None
    if authority is not None:
        row = connection.execute(
            "SELECT srid FROM spatial_ref_sys WHERE upper(auth_name) = upper(%s) AND auth_srid = %s",
            (authority[0], int(authority[1]) if authority[1].isdigit() else -1),
        ).fetchone()
        if row is not None:
            return int(row[0])
    raise OutputWriteError(
        f"PostGIS table {target.describe(layer)}: the run's CRS "
        f"({crs.name if crs is not None else 'none'}), the land cover's, has no SRID in "
        "spatial_ref_sys; warp the land cover to an EPSG CRS (e.g. gdalwarp -t_srs EPSG:4326) or "
        "add its CRS to spatial_ref_sys."
    )


def _check_identifier(name: str, what: str, option: str) -> None:
    if not name:
        raise ConfigError(f"PostGIS {what} name is empty; give one ({option}).")
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise ConfigError(
            f"PostGIS {what} name {name!r} is longer than {MAX_IDENTIFIER_BYTES} bytes "
            f"(PostgreSQL's limit); choose a shorter one ({option})."
        )


def _check_columns(frame: gpd.GeoDataFrame, target: PostgisTarget, layer: str) -> None:
    if len(frame.columns) + 1 > MAX_COLUMNS:
        raise OutputWriteError(
            f"PostGIS table {target.describe(layer)} would have {len(frame.columns) + 1} columns; "
            f"PostgreSQL allows {MAX_COLUMNS}. Use the GeoPackage or Parquet output instead."
        )
    for column in frame.columns:
        if len(str(column).encode()) > MAX_IDENTIFIER_BYTES:
            raise OutputWriteError(
                f"PostGIS table {target.describe(layer)}: column {str(column)!r} is longer than "
                f"{MAX_IDENTIFIER_BYTES} bytes, PostgreSQL's limit; rename it."
            )


def _check_schema(connection: psycopg.Connection, target: PostgisTarget) -> None:
    row = connection.execute(
        "SELECT 1 FROM pg_namespace WHERE nspname = %s", (target.schema,)
    ).fetchone()
    if row is None:
        raise OutputWriteError(
            f"PostgreSQL database {masked(target.connection)!r} has no schema {target.schema!r}; "
            "create it (CREATE SCHEMA) or choose another with --postgis-schema."
        )


def _exists(connection: psycopg.Connection, schema: str, table: str) -> bool:
    row = connection.execute(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, table),
    ).fetchone()
    return row is not None


def _exists_error(target: PostgisTarget, layer: str) -> OutputExistsError:
    return OutputExistsError(
        f"PostGIS table {target.describe(layer)} already exists; give --overwrite to replace "
        "it, or another --postgis-schema or --postgis-prefix."
    )


def run_target(
    run: str,
    connection: str | None,
    *,
    schema: str | None,
    prefix: str,
    overwrite: bool,
    regions: bool,
) -> PostgisTarget | None:
    """``--to-postgis`` of a ``run``, checked before the run starts (None when not asked)."""
    if connection is None:
        return None
    schema = DEFAULT_POSTGIS_SCHEMA if schema is None else schema
    target = PostgisTarget(connection, schema, prefix, overwrite)
    check_target(target, run_layers(run) if regions else [])
    return target


def write_run(
    target: PostgisTarget | None, run: str, regions: gpd.GeoDataFrame | None
) -> list[str]:
    """The run's GeoPackage layers (today one: the regions beside their statistics, as
    regions.gpkg holds them) written to ``target``; the tables written."""
    if target is None or regions is None:
        return []
    from geocarbon.accounts.regions import mapped_regions

    return write_layers(target, {layer: mapped_regions(regions) for layer in run_layers(run)})
