#!/usr/bin/env bash
# Set up and run Mend's tests: the README's test command, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install -q -r requirements-dev.txt
# The browser tests drive Debian's Chromium (Playwright downloads no browser here), with
# a colour emoji font so the screenshots show the emoji the page renders.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && { [ ! -x /usr/bin/chromium ] ||
    [ ! -d /usr/share/fonts/truetype/noto ] || ! fc-list 2>/dev/null | grep -qi "color emoji"; }; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
    fonts-noto-color-emoji >/dev/null
fi
if [ -x /usr/bin/chromium ]; then
  export MEND_REQUIRE_BROWSER=1  # a browser is here: its tests must run, not skip
fi
# PostgreSQL's tests run on a throwaway cluster (127.0.0.1, fsync off), and must not skip.
if [ ! -d /usr/lib/postgresql ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
if [ -z "${MEND_TEST_DATABASE_URL:-}" ] && [ -d /usr/lib/postgresql ]; then
  PG_DIR="" MEND_TEST_DATABASE_URL=""
  read -r PG_DIR MEND_TEST_DATABASE_URL < <(scripts/test_postgres.sh) || true
  if [ -n "$PG_DIR" ]; then
    trap 'scripts/test_postgres.sh stop "$PG_DIR"' EXIT
  fi
  if [ -n "$MEND_TEST_DATABASE_URL" ]; then  # started: its tests must run, not skip
    export MEND_TEST_DATABASE_URL MEND_REQUIRE_POSTGRES=1
  else
    echo "test.sh: PostgreSQL could not be started; its tests skip" >&2
  fi
fi
.venv/bin/python -m pytest -q "$@"
