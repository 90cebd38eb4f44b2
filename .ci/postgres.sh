#!/usr/bin/env bash
# A throwaway PostgreSQL + PostGIS cluster for the PostGIS tests, the same here and in CI.
#
#   .ci/postgres.sh start   initdb into $GEOCARBON_PG_DIR, start it on 127.0.0.1:$GEOCARBON_PG_PORT
#                           (trust auth, socket inside the folder), create the database with the
#                           postgis extension, and print its URL (GEOCARBON_TEST_POSTGRES)
#   .ci/postgres.sh stop    stop the cluster and delete its folder
#
# A folder left by a cluster that is no longer running (a killed run, a rebooted machine) is
# cleared on start; a cluster still running there is refused. A port already in use is refused
# before initdb, naming the port.
#
# Needs Debian's postgresql and postgis packages. Run as root, the server runs as `postgres`.
set -euo pipefail

dir="${GEOCARBON_PG_DIR:-/tmp/geocarbon-postgres}"
port="${GEOCARBON_PG_PORT:-55432}"
database="${GEOCARBON_PG_DATABASE:-geocarbon_test}"
bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

sql() {  # sql DATABASE STATEMENT
  as_postgres "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres \
    -d "$1" -c "$2"
}

running() {  # does a server answer on the cluster's socket? (a stale postmaster.pid does not)
  local status=0
  [ -S "$dir/socket/.s.PGSQL.$port" ] || return 1
  "$bindir/pg_isready" -q -h "$dir/socket" -p "$port" || status=$?
  [ "$status" -ne 2 ] && [ "$status" -ne 3 ]  # 0 accepting, 1 starting or stopping
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

case "${1:-}" in
  start)
    if running; then
      echo "A cluster is already running in $dir; run $0 stop first." >&2
      exit 1
    fi
    if port_in_use; then
      echo "Port $port on 127.0.0.1 is in use; set GEOCARBON_PG_PORT to a free port." >&2
      exit 1
    fi
    rm -rf "$dir"
    mkdir -p "$dir/socket"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
    as_postgres "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log"
    as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir/socket -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    sql postgres "CREATE DATABASE $database"
    sql "$database" "CREATE EXTENSION postgis"
    echo "postgresql://postgres@127.0.0.1:$port/$database"
    ;;
  stop)
    if running; then
      as_postgres "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
