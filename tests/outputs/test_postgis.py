"""Regions read from, and results written to, a REAL PostgreSQL + PostGIS server.

The server is the one GEOCARBON_TEST_POSTGRES names (``.ci/postgres.sh start`` starts a throwaway
one; .ci/run does so in CI, where these tests fail rather than skip without it). Every test works
in its own schema, whose name holds a quote, a space and Chinese text so that every identifier
must be quoted, and drops it afterwards.
"""

from __future__ import annotations

import os
import uuid

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pyogrio
import pytest
import shapely
from psycopg import sql

from geocarbon.cli import main
from geocarbon.errors import InputFileError, OutputExistsError, OutputWriteError, RegionError
from geocarbon.inputs.postgis import conninfo, is_postgis, masked, read_postgis_layer, reason
from geocarbon.inputs.regions import read_regions
from geocarbon.outputs.postgis import PostgisTarget, write_layers
from geocarbon.runs.zonal import ZonalConfig, run_zonal

from conftest import EQUAL_AREA_CRS, IN_CI

NASTY_NAMES = ["'); DROP TABLE regions; -- {#", "=1+1 {{7*7}}", "北京市 朝阳区"]


@pytest.fixture(scope="module")
def postgres_url() -> str:
    url = os.environ.get("GEOCARBON_TEST_POSTGRES", "").strip()
    if not url:
        if IN_CI:
            pytest.fail(
                "GEOCARBON_TEST_POSTGRES is not set in CI; .ci/run must start the PostGIS "
                "cluster (.ci/postgres.sh start) and export its URL.",
                pytrace=False,
            )
        pytest.skip("GEOCARBON_TEST_POSTGRES not set (start a server with .ci/postgres.sh start)")
    return url


@pytest.fixture
def schema(postgres_url):
    """A fresh schema for one test, dropped with everything in it afterwards."""
    name = f'gc "t" {uuid.uuid4().hex[:8]} 区'
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def query(url: str, statement: sql.Composed | sql.SQL | str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(url) as connection:
        return connection.execute(statement, params).fetchall()


def table_rows(url: str, schema: str, table: str) -> list[tuple]:
    return query(
        url,
        sql.SQL("SELECT *, ST_AsText(geom) FROM {}.{} ORDER BY fid").format(
            sql.Identifier(schema), sql.Identifier(table)
        ),
    )


def relation_oid(url: str, schema: str, table: str) -> int | None:
    rows = query(
        url,
        "SELECT c.oid::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, table),
    )
    return rows[0][0] if rows else None


def column_types(url: str, schema: str, table: str) -> dict[str, str]:
    rows = query(
        url,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    )
    return dict(rows)


def relations(url: str, schema: str) -> list[str]:
    """Every table, index and sequence of the schema (a scratch one would show here)."""
    rows = query(
        url,
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s ORDER BY 1",
        (schema,),
    )
    return [r[0] for r in rows]


def owned_by(table: str) -> list[str]:
    """The relations a written table owns, named after it."""
    return sorted([table, f"{table}_fid_seq", f"{table}_geom_idx", f"{table}_pkey"])


def halves(**columns) -> gpd.GeoDataFrame:
    """Two regions splitting the 4x4 one-hectare raster of conftest into left and right halves."""
    x0, y0 = 4_321_000.0, 3_210_000.0
    return gpd.GeoDataFrame(
        columns,
        geometry=[
            shapely.box(x0, y0 - 400, x0 + 200, y0),
            shapely.box(x0 + 200, y0 - 400, x0 + 400, y0),
        ],
        crs=EQUAL_AREA_CRS,
    )


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("Error:") and err.count("\n") == 1, err
    return err


# -- connection strings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        ("postgresql://me:s3cret@db.example:5432/gis", "postgresql://me:***@db.example:5432/gis"),
        ("postgres://me@h/gis?password=s3cret", "postgres://me@h/gis?password=***"),
        (
            "postgres://h/gis?password=s3cret&sslmode=require",
            "postgres://h/gis?password=***&sslmode=require",
        ),
        ("PG:host=h dbname=gis password=s3cret", "PG:host=h dbname=gis password=***"),
        ("PG:host=h password='s3 cret' dbname=gis", "PG:host=h password=*** dbname=gis"),
        ('PG:"host=h dbname=gis password=s3cret"', 'PG:"host=h dbname=gis password=***"'),
    ],
)
def test_connection_strings_are_recognised_and_shown_without_password(source, shown):
    assert is_postgis(source) and masked(source) == shown
    assert "s3cret" not in masked(source) and "s3 cret" not in masked(source)


def test_a_driver_message_is_one_clause_with_only_the_password_word_masked():
    url = "postgresql://postgres:e@127.0.0.1:1/db"  # a one-letter password, as in "refused"
    said = reason(RuntimeError("connection to server refused.\nDETAIL: e at e"), url)
    assert said == "connection to server refused"
    assert reason(RuntimeError('bad word "e" here.'), url) == 'bad word "***" here'


def test_a_path_folded_url_is_restored_and_files_are_not_connections(tmp_path):
    from pathlib import Path

    url = "postgresql://postgres@127.0.0.1:55432/geocarbon_test"
    assert conninfo(Path(url)) == url  # Path folds '//' into '/'
    socket = "postgresql:///geocarbon_test?host=/var/run/postgresql"  # no host: a local socket
    assert conninfo(Path(socket)) == socket == masked(Path(socket))
    assert not is_postgis(tmp_path / "regions.gpkg") and not is_postgis("PGregions.gpkg")


# -- results into PostGIS ----------------------------------------------------------------------


def test_zonal_writes_regions_table_typed_and_as_typed(
    postgres_url, schema, landcover_tif, pools_csv, tmp_path, capsys
):
    regions = tmp_path / "regions.gpkg"
    halves(code=["007", "010"], name=NASTY_NAMES[:2]).to_file(regions, layer="regions")
    out = tmp_path / "out"
    argv = [
        "zonal", str(landcover_tif), "--regions", str(regions), "--id-field", "code",
        "--name-field", "name", "-d", str(pools_csv), "-o", str(out),
        "--to-postgis", postgres_url, "--postgis-schema", schema, "--postgis-prefix", "z_",
    ]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert f"wrote PostGIS table {schema}.z_regions" in capsys.readouterr().out
    types = column_types(postgres_url, schema, "z_regions")
    assert types["region_id"] == "text" and types["region_name"] == "text"
    assert types["stock_total_mg"] == "double precision"
    assert types["geom"] == "USER-DEFINED" and types["fid"] == "bigint"
    geometry = query(
        postgres_url,
        "SELECT type, srid FROM geometry_columns WHERE f_table_schema = %s AND f_table_name = %s",
        (schema, "z_regions"),
    )
    assert geometry == [("MULTIPOLYGON", 3035)]
    indexes = query(
        postgres_url,
        "SELECT indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
        (schema, "z_regions"),
    )
    assert any("USING gist (geom)" in i[0] for i in indexes)
    # The same table the run wrote into regions.gpkg, value for value.
    gpkg = pyogrio.read_dataframe(out / "regions.gpkg")
    back = read_postgis_layer(postgres_url, f"{schema}.z_regions").drop(columns="fid")
    assert back["region_id"].tolist() == ["007", "010"]
    assert back["region_name"].tolist() == NASTY_NAMES[:2]
    assert back.crs.to_epsg() == 3035
    pd.testing.assert_frame_equal(
        pd.DataFrame(back.drop(columns="geometry")).reset_index(drop=True),
        pd.DataFrame(gpkg.drop(columns="geometry")),
        check_dtype=False,
    )
    assert back.geometry.reset_index(drop=True).geom_equals(gpkg.geometry).all()
    assert query(postgres_url, "SELECT to_regclass('public.regions')")[0][0] is None


def test_layers_keep_integers_booleans_floats_text_and_null_geometry(postgres_url, schema):
    frame = halves(
        region_id=np.array([2**62 + 1, 7], dtype=np.int64),
        code=np.array([1, 255], dtype=np.uint8),
        region_name=[NASTY_NAMES[2], NASTY_NAMES[0]],
        flag=[True, False],
        stock_total_mg=[0.1 + 0.2, np.nan],
    )
    frame.loc[1, "geometry"] = None
    target = PostgisTarget(postgres_url, schema=schema)
    assert write_layers(target, {"regions": frame}) == [f"{schema}.regions"]
    types = column_types(postgres_url, schema, "regions")
    assert [types[c] for c in ("region_id", "code", "flag", "stock_total_mg")] == [
        "bigint",
        "integer",
        "boolean",
        "double precision",
    ]
    rows = query(
        postgres_url,
        sql.SQL(
            "SELECT region_id, code, region_name, flag, stock_total_mg, ST_SRID(geom), "
            "ST_GeometryType(geom) FROM {}.regions ORDER BY fid"
        ).format(sql.Identifier(schema)),
    )
    assert rows == [
        (2**62 + 1, 1, NASTY_NAMES[2], True, 0.1 + 0.2, 3035, "ST_MultiPolygon"),
        (7, 255, NASTY_NAMES[0], False, None, None, None),
    ]


# -- regions from PostGIS ----------------------------------------------------------------------


def test_provinces_from_postgis_give_the_same_zonal_tables_as_from_geopackage(
    postgres_url, schema, shared_data, tmp_path
):
    raster = next((shared_data / "landcover" / "modis_mcd12c1_china").glob("*.tif"))
    provinces = gpd.read_file(shared_data / "boundaries" / "china_provinces.geojson")
    gpkg = tmp_path / "provinces.gpkg"
    provinces.to_file(gpkg, layer="provinces")
    write_layers(PostgisTarget(postgres_url, schema=schema), {"provinces": provinces})
    types = column_types(postgres_url, schema, "provinces")
    assert [types[c] for c in ("adcode", "name_zh", "area_km2_albers", "geometry_fixed")] == [
        "integer",
        "text",
        "double precision",
        "boolean",
    ]
    srid = query(postgres_url, "SELECT Find_SRID(%s, 'provinces', 'geom')", (schema,))
    assert srid == [(4326,)]
    back = read_postgis_layer(postgres_url, f"{schema}.provinces")
    assert back["adcode"].dtype == np.int64 and back["geometry_fixed"].dtype == bool
    assert back["name_zh"].tolist() == provinces["name_zh"].tolist()  # 北京市, ...
    assert back.crs.to_epsg() == 4326

    def zonal(regions, layer):
        return run_zonal(
            ZonalConfig(
                landcover=raster,
                regions=regions,
                layer=layer,
                densities="china-clcd",
                scheme="modis-igbp",
                id_field="adcode",
                name_field="name_zh",
                progress=False,
            )
        )

    from_gpkg = zonal(gpkg, None)
    from_postgis = zonal(postgres_url, f"{schema}.provinces")
    assert from_postgis.regions["region_id"].tolist()[:3] == provinces["adcode"].tolist()[:3]
    assert all(type(v) is int for v in from_postgis.regions["region_id"].tolist()[:-1])
    names = from_postgis.regions["region_name"].tolist()
    assert names[:3] == provinces["name_zh"].tolist()[:3] and "北京市" in names
    pd.testing.assert_frame_equal(
        pd.DataFrame(from_postgis.regions.drop(columns="geometry")),
        pd.DataFrame(from_gpkg.regions.drop(columns="geometry")),
        check_exact=False,
        rtol=1e-12,
    )
    pd.testing.assert_frame_equal(from_postgis.by_class, from_gpkg.by_class)


@pytest.mark.parametrize("form", ["PG: string", "URL"])
def test_change_reads_regions_from_a_pg_string_and_writes_them_back(
    form, postgres_url, schema, raster_factory, landcover_4x4, pools_csv, tmp_path, capsys
):
    write_layers(
        PostgisTarget(postgres_url, schema=schema),
        {"input regions": halves(code=[1, 2], name=NASTY_NAMES[1:])},
    )
    first = raster_factory("lc2000.tif", landcover_4x4)
    later = landcover_4x4.copy()
    later[0, 0] = 3
    second = raster_factory("lc2020.tif", later)
    keywords = psycopg.conninfo.conninfo_to_dict(postgres_url)
    pg_string = "PG:" + " ".join(f"{k}={v}" for k, v in keywords.items())
    source = pg_string if form == "PG: string" else postgres_url
    argv = [
        "change", str(first), str(second), "--years", "2000", "--years", "2020",
        "-d", str(pools_csv), "-o", str(tmp_path / "out"), "--regions", source,
        "--layer", f"{schema}.input regions", "--id-field", "code", "--name-field", "name",
        "--draws", "0", "--to-postgis", postgres_url, "--postgis-schema", schema, "-q",
    ]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert capsys.readouterr().out == ""
    back = read_postgis_layer(postgres_url, f"{schema}.regions")
    gpkg = pyogrio.read_dataframe(tmp_path / "out" / "regions.gpkg")
    assert back["region_id"].tolist() == [1, 2] == gpkg["region_id"].tolist()
    assert back["region_name"].tolist() == NASTY_NAMES[1:]
    assert back["region_id"].dtype == np.int64


# -- atomic replace and --overwrite ------------------------------------------------------------


def test_a_failing_write_leaves_every_old_table_and_no_scratch_table(postgres_url, schema):
    target = PostgisTarget(postgres_url, schema=schema, overwrite=True)
    old = halves(region_id=[1, 2], region_name=["a", "b"])
    write_layers(target, {"regions": old, "other": old})
    before = {t: table_rows(postgres_url, schema, t) for t in ("regions", "other")}
    oids = {t: relation_oid(postgres_url, schema, t) for t in ("regions", "other")}
    new = halves(region_id=[3, 4], region_name=["c", "d"])
    broken = halves(region_id=[5, 6], region_name=["e", "NUL \x00 inside"])  # text cannot hold NUL
    with pytest.raises(OutputWriteError) as error:
        write_layers(target, {"regions": new, "other": broken})
    message = str(error.value)
    assert (
        "\n" not in message and f"{schema}.other" in message and "no table was changed" in message
    )
    assert {t: table_rows(postgres_url, schema, t) for t in before} == before
    assert {t: relation_oid(postgres_url, schema, t) for t in oids} == oids
    assert relations(postgres_url, schema) == sorted(owned_by("regions") + owned_by("other"))


def test_names_held_by_other_relations_are_numbered_like_postgresql_does(postgres_url, schema):
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("CREATE TABLE {}.regions_pkey (id integer)").format(sql.Identifier(schema))
        )
    write_layers(PostgisTarget(postgres_url, schema=schema), {"regions": halves(code=[1, 2])})
    owned = ["regions", "regions_fid_seq", "regions_geom_idx", "regions_pkey1"]
    assert relations(postgres_url, schema) == sorted([*owned, "regions_pkey"])


def test_an_existing_table_needs_overwrite_and_nothing_changes_without_it(
    postgres_url, schema, landcover_tif, pools_csv, tmp_path, capsys
):
    regions = tmp_path / "regions.gpkg"
    halves(code=[1, 2]).to_file(regions)

    def zonal(out, *extra):
        argv = [
            "zonal", str(landcover_tif), "--regions", str(regions), "--id-field", "code",
            "-d", str(pools_csv), "-o", str(tmp_path / out), "-q",
            "--to-postgis", postgres_url, "--postgis-schema", schema, *extra,
        ]  # fmt: skip
        return main(argv)

    assert zonal("first") == 0
    before = table_rows(postgres_url, schema, "regions")
    oid = relation_oid(postgres_url, schema, "regions")
    assert zonal("second") == 1
    err = one_line_error(capsys)
    assert f"{schema}.regions" in err and "--overwrite" in err
    assert not (tmp_path / "second").exists()  # refused before the run wrote anything
    assert table_rows(postgres_url, schema, "regions") == before
    assert relation_oid(postgres_url, schema, "regions") == oid
    with pytest.raises(OutputExistsError):
        write_layers(PostgisTarget(postgres_url, schema=schema), {"regions": halves(a=[1, 2])})
    assert zonal("third", "--overwrite") == 0
    assert relation_oid(postgres_url, schema, "regions") != oid
    assert table_rows(postgres_url, schema, "regions") == before
    assert relations(postgres_url, schema) == owned_by("regions")  # no scratch name left
    sequence = query(  # the fid's identity sequence, renamed with its table
        postgres_url,
        "SELECT relname::text FROM pg_class WHERE oid = "
        "pg_get_serial_sequence(format('%%I.%%I', %s::text, 'regions'), 'fid')::regclass",
        (schema,),
    )
    assert sequence == [("regions_fid_seq",)]


# -- bad input: one line, password masked ------------------------------------------------------


def with_password(url: str, password: str, database: str | None = None) -> str:
    keywords = psycopg.conninfo.conninfo_to_dict(url)
    user, host, port = keywords["user"], keywords["host"], keywords["port"]
    return f"postgresql://{user}:{password}@{host}:{port}/{database or keywords['dbname']}"


@pytest.mark.parametrize("where", ["--regions", "--to-postgis"])
def test_a_bad_connection_is_one_line_with_the_password_masked(
    postgres_url, where, landcover_tif, pools_csv, tmp_path, capsys
):
    bad = with_password(postgres_url, "s3cret", database="no_such_database")
    regions = tmp_path / "regions.gpkg"
    halves(code=[1, 2]).to_file(regions)
    source = {"--regions": bad, "--to-postgis": postgres_url}[where]
    argv = [
        "zonal", str(landcover_tif), "--id-field", "code", "-d", str(pools_csv),
        "-o", str(tmp_path / "out"), "--regions", str(regions), "--layer", "regions",
        "--to-postgis", bad if where == "--to-postgis" else postgres_url,
    ]  # fmt: skip
    if where == "--regions":
        argv[argv.index(str(regions))] = source
    assert main(argv) == 1
    err = one_line_error(capsys)
    assert "s3cret" not in err and ":***@" in err
    assert "no_such_database" in err and where in err
    assert not (tmp_path / "out").exists()


def test_numeric_ids_beyond_int64_stay_exact_or_are_refused_by_row(postgres_url, schema):
    """numeric ids are integers read exactly: up to 2**64 - 1 as uint64, beyond it refused."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        for table, ids in (("big", (2**63 + 5, 7)), ("huge", (2**64 + 1, 3))):
            name = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            connection.execute(
                sql.SQL("CREATE TABLE {} (code numeric, geom geometry(Polygon, 4326))").format(name)
            )
            connection.execute(
                sql.SQL(
                    "INSERT INTO {} VALUES (%s, ST_MakeEnvelope(0, 0, 1, 1, 4326)),"
                    " (%s, ST_MakeEnvelope(1, 0, 2, 1, 4326))"
                ).format(name),
                ids,
            )
    regions = read_regions(postgres_url, id_field="code", layer=f"{schema}.big")
    ids = regions["region_id"]
    assert ids.dtype == np.uint64 and ids.tolist() == [2**63 + 5, 7]
    with pytest.raises(RegionError, match="fit no 64-bit type") as error:
        read_regions(postgres_url, id_field="code", layer=f"{schema}.huge")
    assert str(2**64 + 1) in str(error.value) and "\n" not in str(error.value)


def test_missing_table_geometry_column_and_postgis_are_one_line_each(postgres_url, schema):
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(
            sql.SQL("CREATE TABLE {}.plain (id integer)").format(sql.Identifier(schema))
        )
    write_layers(PostgisTarget(postgres_url, schema=schema), {"zones": halves(code=[1, 2])})
    with pytest.raises(InputFileError, match="has no geometry column") as error:
        read_postgis_layer(postgres_url, f"{schema}.plain")
    assert "\n" not in str(error.value)
    with pytest.raises(InputFileError, match=f"has no table '{schema}.absent'") as error:
        read_postgis_layer(postgres_url, f"{schema}.absent")
    assert f"{schema}.zones" in str(error.value) and "--layer" in str(error.value)
    database = f"geocarbon_no_postgis_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        no_postgis = with_password(postgres_url, "s3cret", database=database)
        with pytest.raises(InputFileError, match="has no PostGIS extension") as error:
            read_postgis_layer(no_postgis, "zones")
        assert "s3cret" not in str(error.value) and database in str(error.value)
        with pytest.raises(OutputWriteError, match="CREATE EXTENSION postgis"):
            write_layers(PostgisTarget(no_postgis), {"regions": halves(code=[1, 2])})
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(database)))


def test_a_write_that_fails_in_the_run_leaves_no_file_and_no_table(
    postgres_url, schema, pools_csv, tmp_path, capsys
):
    """The PostGIS tables are written inside the run, before its files are put in place: a land
    cover whose CRS has no SRID fails the write, and the run leaves neither files nor tables."""
    from conftest import LANDCOVER_4X4, write_raster

    custom = "+proj=laea +lat_0=52 +lon_0=10.3 +x_0=4321000 +y_0=3210000 +ellps=GRS80 +units=m"
    landcover = write_raster(tmp_path / "custom.tif", LANDCOVER_4X4, crs=custom)
    regions = tmp_path / "regions.gpkg"
    halves(code=[1, 2]).set_crs(custom, allow_override=True).to_file(regions)
    out = tmp_path / "out"
    argv = [
        "zonal", str(landcover), "--regions", str(regions), "--id-field", "code",
        "-d", str(pools_csv), "-o", str(out), "--area", "planar",
        "--to-postgis", postgres_url, "--postgis-schema", schema,
    ]  # fmt: skip
    assert main(argv) == 1
    err = one_line_error(capsys)
    assert "has no SRID" in err and "land cover" in err and "gdalwarp" in err
    assert not out.exists() or not any(out.iterdir())
    assert relations(postgres_url, schema) == []


def test_passwords_stay_out_of_the_summary_and_of_messages_libpq_cannot_parse(
    postgres_url, schema, landcover_tif, pools_csv, tmp_path, monkeypatch, capsys
):
    """The summary records the command line with every connection's password masked (the
    server trusts local connections, so any password connects); a URL libpq cannot parse has
    its password masked in libpq's own complaint too."""
    import json

    regions = tmp_path / "regions.gpkg"
    halves(code=[1, 2]).to_file(regions)
    out = tmp_path / "out"
    secret = with_password(postgres_url, "s3cretpw")
    argv = [
        "zonal", str(landcover_tif), "--regions", str(regions), "--id-field", "code",
        "-d", str(pools_csv), "-o", str(out), f"--to-postgis={secret}",
        "--postgis-schema", schema, "-q",
    ]  # fmt: skip
    monkeypatch.setattr("sys.argv", ["geocarbon", *argv])
    assert main(argv) == 0, capsys.readouterr().err
    text = (out / "zonal_summary.json").read_text(encoding="utf-8")
    assert "s3cretpw" not in text
    assert f"--to-postgis={masked(secret)}" in json.loads(text)["command_line"]
    for bad in ("my secret", "pa%zzword"):
        argv = [
            "zonal", str(landcover_tif), "--regions", with_password(postgres_url, bad),
            "--layer", "regions", "--id-field", "code", "-d", str(pools_csv),
            "-o", str(tmp_path / "bad"),
        ]  # fmt: skip
        assert main(argv) == 1
        err = one_line_error(capsys)
        assert bad not in err and "***" in err and not (tmp_path / "bad").exists()


def test_without_layer_the_tables_outside_the_search_path_are_listed(postgres_url, schema):
    write_layers(PostgisTarget(postgres_url, schema=schema), {"a": halves(code=[1, 2])})
    write_layers(PostgisTarget(postgres_url, schema=schema), {"b": halves(code=[1, 2])})
    with pytest.raises(InputFileError) as error:
        read_postgis_layer(postgres_url, None)
    message = str(error.value)
    assert f"{schema}.a" in message and f"{schema}.b" in message, message
    assert "SCHEMA.TABLE" in message and "\n" not in message


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--postgis-schema", "", "schema name is empty"),
        ("--postgis-prefix", "p" * 60, "longer than 63 bytes"),
        ("--postgis-schema", "no_such_schema", "has no schema 'no_such_schema'"),
    ],
)
def test_bad_schema_or_prefix_is_one_line_before_the_run(
    postgres_url, option, value, words, landcover_tif, pools_csv, tmp_path, capsys
):
    regions = tmp_path / "regions.gpkg"
    halves(code=[1, 2]).to_file(regions)
    argv = [
        "zonal", str(landcover_tif), "--regions", str(regions), "--id-field", "code",
        "-d", str(pools_csv), "-o", str(tmp_path / "out"), "--to-postgis", postgres_url,
        option, value,
    ]  # fmt: skip
    assert main(argv) == 1
    err = one_line_error(capsys)
    assert words in err and option in err, err
    assert not (tmp_path / "out").exists()
