#!/usr/bin/env bash
# Set up and run Mend's tests: the README's test command, and what CI runs.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install -q -r requirements-dev.txt
# The browser tests drive Debian's Chromium (Playwright downloads no browser here).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if [ -x /usr/bin/chromium ]; then
  export MEND_REQUIRE_BROWSER=1  # a browser is here: its tests must run, not skip
fi
# PostgreSQL's tests run on a throwaway cluster (127.0.0.1, fsync off), and must not skip.
if [ ! -d /usr/lib/postgresql ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
if [ -z "${MEND_TEST_DATABASE_URL:-}" ] && [ -d /usr/lib/postgresql ]; then
  read -r PG_DIR MEND_TEST_DATABASE_URL < <(scripts/test_postgres.sh)
  trap 'scripts/test_postgres.sh stop "$PG_DIR"' EXIT
  export MEND_TEST_DATABASE_URL MEND_REQUIRE_POSTGRES=1
fi
.venv/bin/python -m pytest -q "$@"
