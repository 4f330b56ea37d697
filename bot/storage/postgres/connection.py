"""The PostgreSQL connection the aggregates share: a psycopg 3 async pool, versioned
migrations, transactions, and the engine's own answers (case numbers, leases).

Statements reach the server prepared by nobody (`prepare_threshold=None`), so a
PgBouncer in transaction mode between Mend and PostgreSQL is fine.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from bot.domain.models import Case, NewCase, Timer
from bot.domain.times import from_iso
from bot.domain.vocabulary import CardState, EventKind, Status
from bot.storage.dialect import POSTGRES
from bot.storage.engine import DISK_FULL, Engine, Params, StoreError
from bot.storage.postgres import sweep
from bot.storage.postgres.migrations import MIGRATIONS, ROLLUPS_VERSION, SCHEMA_VERSION
from bot.storage.rollups import opened_facts, rebuild
from bot.storage.schema import (
    NEW_CASE_COLUMNS,
    NEW_CASE_FIELDS,
    RECORD_REQUEST,
    customer_key,
)

T = TypeVar("T")
# A case opened in one statement (see `PgConnection.create_cases`).
ONE_CASE = (
    "WITH w AS (INSERT INTO workspaces (team_id, created_at) VALUES (?, ?) "
    "ON CONFLICT DO NOTHING), "
    # The counter row stays locked until the statement ends: numbering per workspace is
    # serial across replicas, and other workspaces never wait.
    "n AS (INSERT INTO case_numbers (team_id, last) VALUES (?, 1) ON CONFLICT (team_id) "
    "DO UPDATE SET last = case_numbers.last + 1 RETURNING last), "
    f"c AS (INSERT INTO cases (number, {', '.join(NEW_CASE_COLUMNS)}) SELECT n.last"
    f"{', ?' * len(NEW_CASE_COLUMNS)} FROM n RETURNING id, number), "
    "e AS (INSERT INTO events (team_id, case_id, at, actor_id, kind, detail) "
    "SELECT ?, c.id, ?, ?, ?, ? FROM c), "
    "t AS (INSERT INTO timers (team_id, at, case_id, kind, due_key, rung, escalated, "
    "unassigned) SELECT ?, x.at, c.id, x.kind, x.due_key, x.rung, x.escalated, "
    "x.unassigned FROM c, "
    "unnest(?::text[], ?::text[], ?::text[], ?::int[], ?::int[], ?::int[]) "
    "AS x(at, kind, due_key, rung, escalated, unassigned) ON CONFLICT DO NOTHING) "
    "SELECT id, number FROM c")
MIGRATION_LOCK = 0x6D656E64  # "mend": replicas starting together migrate one at a time
CONNECT = {"prepare_threshold": None, "autocommit": True}


def write_problem(exc: BaseException) -> str | None:
    """What a failed statement says about the storage ('read-only', 'disk full')."""
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return "read-only"  # a standby, or default_transaction_read_only
    if isinstance(exc, psycopg.errors.DiskFull):
        return DISK_FULL
    if isinstance(exc, psycopg.errors.IoError):
        return "I/O error"
    return None


class PgTx:
    """A transaction on one pooled connection; statements in SQLite's words."""

    __slots__ = ("conn", "counter", "fresh", "marked", "topics")

    def __init__(self, conn: psycopg.AsyncConnection, counter: list[int]):
        self.conn, self.counter = conn, counter
        self.topics: list[str] = []
        self.marked: set[tuple[str, int]] = set()  # roll-ups to bring up to date
        self.fresh: dict[tuple[str, int], tuple] = {}

    async def run(self, sql: str, params: Params = ()) -> int:
        self.counter[0] += 1
        return (await self.conn.execute(POSTGRES.sql(sql), params)).rowcount

    async def rows(self, sql: str, params: Params = ()) -> list[tuple]:
        self.counter[0] += 1
        return await (await self.conn.execute(POSTGRES.sql(sql), params)).fetchall()

    async def many(self, sql: str, seq: Iterable[Params]) -> None:
        self.counter[0] += 1  # one pipelined batch
        async with self.conn.cursor() as cur:
            await cur.executemany(POSTGRES.sql(sql), list(seq))

    async def insert(self, sql: str, params: Params) -> int:
        return (await self.rows(sql + " RETURNING id", params))[0][0]


class PgConnection(Engine):
    """One PostgreSQL database (a URL) for Mend, through a pool of connections."""

    d = POSTGRES
    engine = "postgres"

    def __init__(self, url: str, pool: AsyncConnectionPool | None = None):
        self.url = url
        self.pool = pool
        self.schema_version = 0
        self.round_trips = [0]  # statements sent (BEGIN and COMMIT included)

    @classmethod
    async def open(cls, url: str, min_size: int = 2, max_size: int = 10,
                   migrate: bool = True):
        """Open the pool and bring the schema up to date (unless `migrate` is False: a
        reader that must not change the database)."""
        pool = AsyncConnectionPool(url, min_size=min_size, max_size=max_size,
                                   kwargs=CONNECT, open=False)
        try:
            await pool.open(wait=True, timeout=10)
        except Exception as exc:  # noqa: BLE001 - said in one line
            await pool.close()
            raise StoreError(f"Cannot reach the PostgreSQL database in MEND_DATABASE_URL: "
                             f"{exc}.") from None
        store = cls(url, pool)
        if migrate:
            await store.migrate()
        else:
            store.schema_version = await store._value(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version")
        return store

    async def migrate(self) -> int:
        async with self._tx() as tx:
            await tx.run("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK])
            await tx.run("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
            current = (await tx.rows("SELECT COALESCE(MAX(version), 0) FROM schema_version"))[0][0]
            if current > SCHEMA_VERSION:
                raise StoreError(f"This database was written by a newer Mend (schema {current};"
                                 f" this version knows up to {SCHEMA_VERSION}).")
            for version in range(current, SCHEMA_VERSION):
                if MIGRATIONS[version]:
                    await tx.conn.execute(MIGRATIONS[version])
                if version + 1 == ROLLUPS_VERSION:  # filled from the timelines there are
                    await rebuild(tx, self.d)
                await tx.run("INSERT INTO schema_version (version) VALUES (?)", [version + 1])
        self.schema_version = SCHEMA_VERSION
        return SCHEMA_VERSION - current

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def ping(self) -> bool:
        try:
            return await asyncio.wait_for(self._value("SELECT 1"), 5) == 1
        except Exception:  # noqa: BLE001 - unreachable, for whatever reason
            return False

    def start_checkpoints(self, every: float = 0.5) -> None:
        """Nothing to do: the server checkpoints on its own."""

    # -- the engine's primitives ------------------------------------------------------
    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[PgTx]:
        try:
            async with self.pool.connection() as conn:
                self.round_trips[0] += 2  # BEGIN, COMMIT
                async with conn.transaction():
                    tx = PgTx(conn, self.round_trips)
                    yield tx
                    await self._rollups(tx)
        except psycopg.Error as exc:
            self._write_failed(write_problem(exc))
            raise
        self._committed(tx)

    async def _write(self, sql: str, params: Params = ()) -> int:
        # One statement in autocommit is its own transaction.
        self.round_trips[0] += 1
        try:
            async with self.pool.connection() as conn:
                count = (await conn.execute(self.d.sql(sql), params)).rowcount
        except psycopg.Error as exc:
            self._write_failed(write_problem(exc))
            raise
        self._write_worked()
        return count

    async def _rows(self, sql: str, params: Params = ()) -> list[tuple]:
        self.round_trips[0] += 1
        async with self.pool.connection() as conn:
            return await (await conn.execute(self.d.sql(sql), params)).fetchall()

    async def _next_number(self, tx: PgTx, team_id: str) -> int:
        # The counter row stays locked until this transaction ends: numbering per
        # workspace is serial across replicas, and other workspaces never wait.
        return (await tx.rows(
            "INSERT INTO case_numbers (team_id, last) VALUES (?, 1) ON CONFLICT (team_id) "
            "DO UPDATE SET last = case_numbers.last + 1 RETURNING last", [team_id]))[0][0]

    def _cursor(self, sql: str, params: Params = ()) -> Iterable[tuple]:
        return self._sync_rows(sql, params)

    def _sync_rows(self, sql: str, params: Params) -> Iterator[tuple]:
        """Rows of one long read on a connection of its own (run in a worker thread),
        streamed from a server-side cursor in one snapshot."""
        with self._sync_conn() as conn, conn.transaction(), \
                conn.cursor(name="mend_read") as cur:
            cur.execute(self.d.sql(sql), params)
            yield from cur

    @contextmanager
    def _sync_conn(self) -> Iterator[psycopg.Connection]:
        conn = psycopg.connect(self.url, **CONNECT)
        try:
            yield conn
        finally:
            conn.close()

    async def in_reader(self, work: Callable[[Any], T]) -> T:
        """Run `work(store)` in a worker thread: its reads open connections of their own,
        so the event loop (and everyone's ack) never waits for a long report."""
        return await asyncio.to_thread(work, self)

    # -- what PostgreSQL does its own way -----------------------------------------------
    async def create_cases(self, new: list[NewCase]) -> list[Case]:
        """One case is opened in one statement (its workspace row, number, case, opening
        event and timers as data-modifying CTEs), in a transaction with its roll-ups;
        several at once as the other engine does (group commit)."""
        if len(new) != 1:
            return await super().create_cases(new)
        item = new[0]
        row = {
            **{k: item.fields.get(k) for k in NEW_CASE_FIELDS},
            "team_id": item.team_id,
            "customer_key": customer_key(item.fields.get("customer")),
            "status": Status.OPEN,
            "created_at": item.at,
            "updated_at": item.at,
            "card_state": CardState.PENDING,
        }
        detail = {k: item.fields.get(k)
                  for k in ("category", "emotion", "contact", "severity", "owner_id")}
        detail["due"] = item.fields.get("next_followup_at")
        timers = [Timer(team_id=item.team_id, case_id=0, **t) for t in item.timers]
        async with self._tx() as tx:
            found = await tx.rows(ONE_CASE, [
                item.team_id, item.at, item.team_id, *map(row.get, NEW_CASE_COLUMNS),
                item.team_id, item.at, item.actor_id, EventKind.OPENED,
                json.dumps(detail, ensure_ascii=False), item.team_id,
                [t.at for t in timers], [t.kind for t in timers], [t.due_key for t in timers],
                [int(t.rung) for t in timers], [int(t.escalated) for t in timers],
                [int(t.unassigned) for t in timers]])
            case_id, number = found[0]
            tx.topics.append(f"case.{EventKind.OPENED}")
            row.pop("customer_key")
            case = Case(id=case_id, number=number, **row)
            if item.request_key:  # the request that opened it: what its retry looks up
                await tx.run(RECORD_REQUEST, [case_id, item.request_key])
            # In the same transaction, the roll-ups: its cohort row is known.
            tx.fresh[(item.team_id, case_id)] = opened_facts(case)
        return [case]

    async def apply_sweep(self, team_id: str, processed: list[Timer], timers: list[Timer],
                          send: list[tuple[int, dict[str, Any]]],
                          skip: list[tuple[int, dict[str, Any]]], at: str) -> None:
        """A sweep's decisions in one transaction, as on SQLite, but each of its
        changes one statement over arrays (see postgres/sweep.py)."""
        async with self._tx() as tx:
            await sweep.apply_sweep(tx, team_id, processed, timers, send, skip, at)

    async def _write_rows(self, sql: str, params: Params) -> list[tuple]:
        """The rows one writing statement returns, in a transaction of its own."""
        self.round_trips[0] += 1
        try:
            async with self.pool.connection() as conn:
                found = await (await conn.execute(self.d.sql(sql), params)).fetchall()
        except psycopg.Error as exc:
            self._write_failed(write_problem(exc))
            raise
        self._write_worked()
        return found

    def _claimable(self, where: str) -> str:
        # A row another replica is claiming right now is skipped, not waited for.
        return f"id = (SELECT id FROM nudges WHERE {where} FOR UPDATE SKIP LOCKED)"

    async def acquire_lease(self, name: str, holder: str, now: str, until: str) -> bool:
        """Hold `name` for as long as `now`..`until` lasts, on the database's clock
        (replicas' clocks may disagree), unless another holder's lease still runs."""
        seconds = _seconds_between(now, until)
        return await self._write(
                "INSERT INTO leases AS l (name, holder, expires_at) VALUES "
                "(?, ?, now() + make_interval(secs => ?)) ON CONFLICT (name) DO UPDATE SET "
                "holder = excluded.holder, expires_at = excluded.expires_at "
            "WHERE l.holder = excluded.holder OR l.expires_at < now()",
            [name, holder, seconds]) == 1

    async def release_lease(self, name: str, holder: str) -> None:
        await self._write("UPDATE leases SET expires_at = '-infinity' WHERE name = ? "
                          "AND holder = ?", [name, holder])

    async def lease_holder(self, name: str, now: str) -> str | None:
        """Who holds lease `name` now, on the database's clock (None: nobody)."""
        holder = await self._value("SELECT holder FROM leases WHERE name = ? AND "
                                   "expires_at >= now()", [name])
        return holder or None

    async def _tables_with(self, column: str) -> list[str]:
        return [r[0] for r in await self._rows(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND column_name = ? ORDER BY table_name", [column])]


def _seconds_between(start: str, end: str) -> float:
    return (from_iso(end) - from_iso(start)).total_seconds()
