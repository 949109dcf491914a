#!/usr/bin/env bash
# A throw-away PostgreSQL cluster on a loopback port for the store tests: `source scripts/postgres.sh; pg_start; ...; pg_stop`.
# Needs the Debian postgresql package (scripts/setup.sh installs it as root) and root (it runs the server as `postgres`).
PG_PORT=${PG_PORT:-54329}
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

pg_start() {
  local bin; bin=$(pg_bin)
  if [ -z "$bin" ] || [ "$(id -u)" != 0 ] || ! id postgres >/dev/null 2>&1; then
    echo "postgres: not available (needs root and the postgresql package); PostgreSQL store tests will skip"
    return 0
  fi
  PG_DIR=$(mktemp -d /tmp/fabric-pg.XXXXXX)
  chown postgres "$PG_DIR"
  runuser -u postgres -- "$bin/initdb" -D "$PG_DIR/data" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off" start >/dev/null
  "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE ROLE fabric LOGIN PASSWORD 'fabric';" >/dev/null 2>&1 \
    || runuser -u postgres -- psql -h 127.0.0.1 -p "$PG_PORT" -qc "CREATE ROLE fabric LOGIN PASSWORD 'fabric';" >/dev/null
  runuser -u postgres -- psql -h 127.0.0.1 -p "$PG_PORT" -qc "CREATE DATABASE fabric OWNER fabric;" >/dev/null
  export FABRIC_TEST_POSTGRES="Host=127.0.0.1;Port=$PG_PORT;Database=fabric;Username=fabric;Password=fabric"
  echo "postgres: throw-away cluster on 127.0.0.1:$PG_PORT ($PG_DIR)"
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] || return 0
  runuser -u postgres -- "$(pg_bin)/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
