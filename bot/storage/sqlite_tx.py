"""A transaction on SQLite's connection, as the aggregates see one (`engine.Tx`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from bot.storage.engine import Params


class SqliteTx:
    """A transaction on the SQLite connection: each call answers at once."""

    __slots__ = ("conn", "fresh", "marked", "topics")

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.topics: list[str] = []
        # Cases whose roll-ups this transaction must bring up to date before it commits
        # (see rollups.py): those with a new event or nudge, and new cases with their row.
        self.marked: set[tuple[str, int]] = set()
        self.fresh: dict[tuple[str, int], tuple] = {}

    async def run(self, sql: str, params: Params = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    async def rows(self, sql: str, params: Params = ()) -> list[tuple]:
        return self.conn.execute(sql, params).fetchall()

    async def many(self, sql: str, seq: Iterable[Params]) -> None:
        self.conn.executemany(sql, seq)

    async def insert(self, sql: str, params: Params) -> int:
        return self.conn.execute(sql, params).lastrowid
