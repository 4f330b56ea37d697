"""`python -m bot migrate --from data/mend.db --to postgresql://…`: a SQLite database
copied into an empty PostgreSQL one, ids, case numbers, timers and outbox included.

The SQLite file is read through a copy taken with SQLite's backup API, so a Mend still
running on it is fine (the copy is one consistent moment).
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

import psycopg

from bot.storage.engine import StoreError
from bot.storage.postgres.migrations import TABLES
from bot.storage.postgres.store import PgStore
from bot.storage.sqlite import Store

SEQUENCED = ("cases", "events", "nudges")  # tables whose ids come from an identity


def snapshot(source: str, folder: str) -> Path:
    """A consistent copy of the SQLite database `source`, migrated to today's schema."""
    if not Path(source).is_file():
        raise StoreError(f"No SQLite database at {source}.")
    copy = Path(folder) / "mend.db"
    src = sqlite3.connect(f"file:{Path(source).resolve()}?mode=ro", uri=True)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    Store(copy).db.conn.close()  # brings an older schema up to date, in the copy only
    return copy


def counts(conn, tables=TABLES) -> dict[str, int]:
    return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables}


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE "
                        "table_name = %s AND table_schema = current_schema()", [table])
    return [r[0] for r in rows]


def _copy_table(src: sqlite3.Connection, dst: psycopg.Connection, table: str) -> None:
    """One table, row for row, with COPY (the columns both sides have)."""
    have = {r[1] for r in src.execute(f"PRAGMA table_info({table})")}
    columns = [c for c in _columns(dst, table) if c in have]
    names = ", ".join(columns)
    with dst.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in src.execute(f"SELECT {names} FROM {table}"):
            copy.write_row(row)


def _refuse_non_empty(dst: psycopg.Connection) -> None:
    filled = {t: n for t, n in counts(dst).items() if n}
    if filled:
        raise StoreError("The PostgreSQL database is not empty (" + ", ".join(
            f"{t}: {n}" for t, n in filled.items()) + "); migrate into an empty one.")


def _after_copy(dst: psycopg.Connection) -> None:
    """Identities continue after the copied ids; each workspace numbers on from its
    highest case number."""
    for table in SEQUENCED:
        dst.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)")
    dst.execute("INSERT INTO case_numbers (team_id, last) SELECT team_id, MAX(number) "
                "FROM cases GROUP BY team_id")


async def migrate(source: str, url: str) -> tuple[dict[str, int], dict[str, int]]:
    """Copy SQLite `source` into PostgreSQL `url`; the row counts of both sides."""
    store = await PgStore.open(url, min_size=1, max_size=1)  # the schema, up to date
    await store.close()
    with tempfile.TemporaryDirectory(prefix="mend-migrate-") as folder:
        src = sqlite3.connect(snapshot(source, folder))
        try:
            with psycopg.connect(url) as dst:  # one transaction: all or nothing
                _refuse_non_empty(dst)
                for table in TABLES:
                    _copy_table(src, dst, table)
                _after_copy(dst)
                return counts(src), counts(dst)
        finally:
            src.close()
