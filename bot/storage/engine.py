"""What the aggregates (cases, outbox, workspaces, reports) ask of a database engine.

The aggregates are written once, against this class; `bot.storage.connection` (SQLite)
and `bot.storage.postgres.connection` (PostgreSQL) implement it. Statements are
written in SQLite's words and go through the engine's dialect (`self.d`) on their way.

Inside a transaction the aggregates talk to a `Tx`: `run` (row count), `rows`, `many`
and `insert` (the new row's id); `topics` tell the store's observers what the
transaction recorded once it commits; `marked` and `fresh` the cases whose roll-ups
(rollups.py) it brings up to date before it commits (`Engine._rollups`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeVar

from bot.domain.models import Case, Timer
from bot.storage.dialect import Dialect
from bot.storage.rollups import UNCOUNTED_KINDS, refresh
from bot.storage.schema import CASE_COLUMNS, INSERT_EVENT, INSERT_TIMER

T = TypeVar("T")
DISK_FULL = "disk full"  # what write_problem says when the disk has no room
DISK_FULL_HOLD = 30.0  # seconds of working writes before "disk full" is forgotten
Params = Sequence[Any]


class StoreError(Exception):
    """The database cannot be used as it is; the message says why."""


class Tx(Protocol):
    topics: list[str]  # what the transaction recorded, told to observers once committed
    # Cases whose roll-ups the transaction brings up to date before it commits (see
    # rollups.py): those with a new event or nudge (read again), and new cases with
    # their row (known without reading it).
    marked: set[tuple[str, int]]
    fresh: dict[tuple[str, int], tuple]

    async def run(self, sql: str, params: Params = ()) -> int: ...

    async def rows(self, sql: str, params: Params = ()) -> list[tuple]: ...

    async def many(self, sql: str, seq: Iterable[Params]) -> None: ...

    async def insert(self, sql: str, params: Params) -> int: ...


class Engine:
    """The primitives each engine provides, and the helpers built on them."""

    d: Dialect
    # Callbacks told, after each commit, what it recorded ("case.opened", "nudge.sent"…):
    # topics name kinds of change, never their content. Metrics count them.
    _observers: tuple[Callable[[str], None], ...] = ()
    write_problem: str | None = None  # why the last write failed ('read-only'…), until one works
    _full_since = 0.0  # monotonic time of the last write refused for a full disk

    def _write_failed(self, problem: str | None) -> None:
        if problem == DISK_FULL:
            self._full_since = time.monotonic()
        self.write_problem = problem or self.write_problem

    def _write_worked(self) -> None:
        """A write went through. A full disk still takes small writes (a lease renewed in a
        page already there) while refusing new cases, so "disk full" is only forgotten
        once writes have gone through for DISK_FULL_HOLD seconds since the last refusal."""
        if self.write_problem == DISK_FULL and \
                time.monotonic() - self._full_since < DISK_FULL_HOLD:
            return
        self.write_problem = None

    def observe(self, callback: Callable[[str], None]) -> None:
        """Call `callback(topic)` for each change once its transaction commits."""
        self._observers = (*self._observers, callback)

    def _notify(self, topic: str) -> None:
        for callback in self._observers:
            callback(topic)

    def _committed(self, tx: Tx) -> None:
        """A transaction committed: tell the observers what it recorded."""
        self._write_worked()
        for topic in tx.topics:
            self._notify(topic)

    async def _rollups(self, tx: Tx) -> None:
        """Before a transaction commits: the roll-ups of the cases it changed."""
        if tx.marked or tx.fresh:
            await refresh(tx, self.d, tx.marked, tx.fresh)

    async def _rows(self, sql: str, params: Params = ()) -> list[tuple]:
        """Rows of one statement outside any transaction (autocommit read)."""
        raise NotImplementedError

    def _tx(self) -> AbstractAsyncContextManager[Tx]:
        """One transaction: committed on leaving, rolled back on an exception."""
        raise NotImplementedError

    async def _next_number(self, tx: Tx, team_id: str) -> int:
        """The next case number of a workspace, inside the transaction that uses it."""
        raise NotImplementedError

    def _cursor(self, sql: str, params: Params = ()) -> Iterable[tuple]:
        """A synchronous cursor, for the long reads run off the event loop."""
        raise NotImplementedError

    async def _write(self, sql: str, params: Params = ()) -> int:
        """One statement that writes, on its own; its row count. (PostgreSQL sends it
        without BEGIN and COMMIT: one round trip, not three.)"""
        async with self._tx() as tx:
            return await tx.run(sql, params)

    async def _write_rows(self, sql: str, params: Params = ()) -> list[tuple]:
        """The rows one writing statement returns (RETURNING), on its own."""
        async with self._tx() as tx:
            return await tx.rows(sql, params)

    async def _tables_with(self, column: str) -> list[str]:
        """The tables that have `column` (a workspace's purge finds its rows by it)."""
        raise NotImplementedError

    # -- helpers -----------------------------------------------------------------------
    async def _row(self, sql: str, params: Params = ()) -> tuple | None:
        found = await self._rows(sql, params)
        return found[0] if found else None

    async def _value(self, sql: str, params: Params = ()) -> Any:
        row = await self._row(sql, params)
        return row[0] if row else None

    async def _cases(self, where: str, params: list[Any]) -> list[Case]:
        """Cases matching a WHERE clause (with ORDER/LIMIT); callers scope by team."""
        sql = f"SELECT {CASE_COLUMNS} FROM cases WHERE {where}"
        return [Case(*row) for row in await self._rows(sql, params)]

    async def _one(self, where: str, params: list[Any]) -> Case | None:
        found = await self._cases(where, params)
        return found[0] if found else None

    @staticmethod
    async def _seen(tx: Tx, team_id: str, key: str) -> bool:
        return bool(await tx.rows("SELECT 1 FROM seen WHERE team_id = ? AND key = ?",
                                  [team_id, key]))

    @staticmethod
    async def _event(tx: Tx, team_id, case_id, at, actor_id, kind, detail) -> None:
        await tx.run(INSERT_EVENT, [team_id, case_id, at, actor_id, kind,
                                    json.dumps(detail, ensure_ascii=False)])
        if kind not in UNCOUNTED_KINDS:
            tx.marked.add((team_id, case_id))
        tx.topics.append(f"case.{kind}")

    @staticmethod
    def _mark_nudged(tx: Tx, team_id: str, *rows: list[tuple[int, dict[str, Any]]]) -> None:
        """A follow-up's first nudge counts the follow-up as due: its case's roll-ups
        change."""
        for batch in rows:
            for case_id, row in batch:
                if row["kind"] == "followup" and row["rung"] == 0:
                    tx.marked.add((team_id, case_id))

    @staticmethod
    async def _add_timers(tx: Tx, team_id: str, case_id: int,
                          timers: tuple[dict[str, Any], ...]) -> None:
        """Queue scheduler timers for a case (dicts with at, kind, due_key, ...)."""
        if timers:
            await tx.many(INSERT_TIMER, [
                tuple(vars(Timer(team_id=team_id, case_id=case_id, **t)).values())
                for t in timers])


def drive(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never suspends (SQLite's: every await in it is a
    call that answers at once), without an event loop turn: group commit writes its
    batch from a loop callback."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a SQLite storage coroutine suspended")
