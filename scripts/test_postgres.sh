#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: on 127.0.0.1, fsync off, in a temporary
# folder owned by the postgres user (initdb refuses root). Prints the URL to export as
# MEND_TEST_DATABASE_URL; `scripts/test_postgres.sh stop DIR` stops it.
set -euo pipefail
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "${1:-}" = stop ]; then
  as_pg "$BIN/pg_ctl" -D "$2/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$2"
  exit 0
fi
DIR=$(mktemp -d /tmp/mend-pg.XXXXXX)
chmod 755 "$DIR"
[ "$(id -u)" = 0 ] && chown postgres "$DIR"
PORT=${MEND_TEST_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
as_pg "$BIN/initdb" -D "$DIR/data" -U mend --auth=trust -E UTF8 --no-locale >/dev/null
as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o \
  "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
  start >/dev/null
as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U mend mend
echo "$DIR postgresql://mend@127.0.0.1:$PORT/mend"
