"""The PostgreSQL connection the aggregates share: a psycopg 3 async pool, versioned
migrations, transactions, and the engine's own answers (case numbers, leases).

Statements reach the server prepared by nobody (`prepare_threshold=None`), so a
PgBouncer in transaction mode between Mend and PostgreSQL is fine. They are sent in
PostgreSQL's own placeholders ($1, $2…, `native`) through one raw cursor per connection
(`MendConnection.raw`): psycopg then parses no statement and builds no cursor per call,
and a case's opening (over 50 parameters, past psycopg's cache of parsed statements)
is not parsed again each time.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import lru_cache
from itertools import count
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from bot.domain.models import HISTORY_CASES, Case, CaseRef, Opening, Timer, Written
from bot.domain.rollups import day_of
from bot.domain.times import from_iso
from bot.domain.vocabulary import CardState, EventKind, Status
from bot.domain.workspace import SETTINGS, Workspace
from bot.storage.cases import CUSTOMER_HISTORY
from bot.storage.dialect import POSTGRES
from bot.storage.engine import DISK_FULL, Engine, Params, StoreError
from bot.storage.postgres import sweep
from bot.storage.postgres.migrations import MIGRATIONS, ROLLUPS_VERSION, SCHEMA_VERSION
from bot.storage.rollups import (
    OPENED_FACT_CTE,
    OPENED_SUMS_CTE,
    UNCOUNTED_KINDS,
    opened_facts,
    opened_sums,
    rebuild,
)
from bot.storage.schema import INSERT_EVENT, NEW_CASE_COLUMNS, NEW_CASE_FIELDS, customer_key

T = TypeVar("T")
# A case opened in one statement (see `PgConnection.open_cases`), with what it depends
# on read in the same snapshot: the workspace's settings (the case was drafted from the
# ones last seen; if they differ now nothing is written and they are returned) and the
# customer's newest cases (`h`, which set `repeat_of` unless it is given).
REPEAT_OF = ("COALESCE(?::integer, (SELECT h.number FROM h WHERE h.created_at >= ? "
             "ORDER BY h.created_at DESC, h.number DESC LIMIT 1))")
ONE_CASE = (
    "WITH g AS (SELECT 1 FROM (SELECT 1) one LEFT JOIN workspaces ws ON ws.team_id = ? "
    f"WHERE {' AND '.join(f'ws.{k} IS NOT DISTINCT FROM ?::text' for k in SETTINGS)}), "
    "w AS (INSERT INTO workspaces (team_id, created_at) VALUES (?, ?) "
    "ON CONFLICT DO NOTHING), "
    # The counter row stays locked until the statement ends: numbering per workspace is
    # serial across replicas, and other workspaces never wait.
    "n AS (INSERT INTO case_numbers (team_id, last) SELECT ?, 1 FROM g ON CONFLICT "
    "(team_id) DO UPDATE SET last = case_numbers.last + 1 RETURNING last), "
    f"h AS ({CUSTOMER_HISTORY}), "
    f"c AS (INSERT INTO cases (number, {', '.join(NEW_CASE_COLUMNS)}) SELECT n.last, "
    + ", ".join(REPEAT_OF if k == "repeat_of" else "?" for k in NEW_CASE_COLUMNS)
    + " FROM n RETURNING id, number, repeat_of), "
    "e AS (INSERT INTO events (team_id, case_id, at, actor_id, kind, detail) "
    "SELECT ?, c.id, ?, ?, ?, ? FROM c), "
    "t AS (INSERT INTO timers (team_id, at, case_id, kind, due_key, rung, escalated, "
    "unassigned) SELECT ?, x.at, c.id, x.kind, x.due_key, x.rung, x.escalated, "
    # (its timers as one JSON parameter: psycopg dumps a list in Python, one JSON text
    # in C)
    "x.unassigned FROM c, jsonb_to_recordset(?::jsonb) AS x(at text, kind text, "
    "due_key text, rung int, escalated int, unassigned int) ON CONFLICT DO NOTHING), "
    # The request that opened it (no row when it has no key): what its retry looks up.
    "r AS (UPDATE inbound SET case_id = c.id FROM c WHERE inbound.key = ?), "
    f"{OPENED_FACT_CTE}, {OPENED_SUMS_CTE} "
    # One row per case of the history (at least one): the case, the settings, the case.
    f"SELECT c.id, c.number, c.repeat_of, {', '.join(f'ws.{k}' for k in SETTINGS)}, "
    "h.number, h.owner_id, h.customer, h.status, h.created_at FROM (SELECT 1) one "
    "LEFT JOIN c ON true LEFT JOIN workspaces ws ON ws.team_id = ? LEFT JOIN h ON true "
    "ORDER BY h.created_at DESC, h.number DESC")
# A card posted: where it lives, and its event, in one statement (see `record_card`).
RECORD_CARD = ("WITH u AS (UPDATE cases SET card_channel = ?, card_ts = ?, card_state = ? "
               f"WHERE team_id = ? AND id = ?) {INSERT_EVENT}")
assert EventKind.CARD_POSTED in UNCOUNTED_KINDS  # so RECORD_CARD changes no roll-up
MIGRATION_LOCK = 0x6D656E64  # "mend": replicas starting together migrate one at a time
CONNECT = {"prepare_threshold": None, "autocommit": True}
_MARK = re.compile(r"%[s%]")


@lru_cache(maxsize=1024)
def native(statement: str) -> bytes:
    """A statement in SQLite's words, in PostgreSQL's own: the dialect's, with its
    placeholders numbered ($1, $2…) and its `%%` back to `%`, as a raw cursor sends it."""
    numbers = count(1)
    return _MARK.sub(lambda m: "%" if m[0] == "%%" else f"${next(numbers)}",
                     POSTGRES.sql(statement)).encode()


class MendConnection(psycopg.AsyncConnection):
    """A pooled connection that keeps one raw cursor for all its statements."""

    _raw: psycopg.AsyncRawCursor | None = None

    def raw(self) -> psycopg.AsyncRawCursor:
        if self._raw is None or self._raw.closed:
            self._raw = psycopg.AsyncRawCursor(self)
        return self._raw

    async def run(self, sql: str, params: Params) -> psycopg.AsyncRawCursor:
        """`sql` (SQLite's words) executed; its cursor, for the rows or the count."""
        cur = self.raw()
        await cur.execute(native(sql), params)
        return cur


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

    def __init__(self, conn: MendConnection, counter: list[int]):
        self.conn, self.counter = conn, counter
        self.topics: list[str] = []
        self.marked: set[tuple[str, int]] = set()  # roll-ups to bring up to date
        self.fresh: dict[tuple[str, int], tuple] = {}

    async def run(self, sql: str, params: Params = ()) -> int:
        self.counter[0] += 1
        return (await self.conn.run(sql, params)).rowcount

    async def rows(self, sql: str, params: Params = ()) -> list[tuple]:
        self.counter[0] += 1
        return await (await self.conn.run(sql, params)).fetchall()

    async def many(self, sql: str, seq: Iterable[Params]) -> None:
        self.counter[0] += 1  # one pipelined batch
        await self.conn.raw().executemany(native(sql), list(seq))

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
        # Each workspace's settings as last read: a case is drafted from them (checked
        # in the statement that opens it).
        self._settings_seen: dict[str, Workspace] = {}

    @classmethod
    async def open(cls, url: str, min_size: int = 2, max_size: int = 10,
                   migrate: bool = True):
        """Open the pool and bring the schema up to date (unless `migrate` is False: a
        reader that must not change the database)."""
        pool = AsyncConnectionPool(url, min_size=min_size, max_size=max_size,
                                   connection_class=MendConnection, kwargs=CONNECT,
                                   open=False)
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
    # Connections are taken with the pool's getconn and putconn, not its context
    # manager: that one's commit on leaving is nothing these connections need (they
    # autocommit, and `_tx` commits its own), for a few microseconds a statement.
    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[PgTx]:
        try:
            conn = await self.pool.getconn()
            try:
                self.round_trips[0] += 2  # BEGIN, COMMIT
                async with conn.transaction():
                    tx = PgTx(conn, self.round_trips)
                    yield tx
                    await self._rollups(tx)
            finally:
                await self.pool.putconn(conn)
        except psycopg.Error as exc:
            self._write_failed(write_problem(exc))
            raise
        self._committed(tx)

    async def _alone(self, sql: str, params: Params, fetch: bool) -> Any:
        """One statement on a connection of its own, in autocommit (its own
        transaction): its rows (`fetch`), or its row count."""
        self.round_trips[0] += 1
        conn = await self.pool.getconn()
        try:
            cur = await conn.run(sql, params)
            return await cur.fetchall() if fetch else cur.rowcount
        finally:
            await self.pool.putconn(conn)

    async def _write(self, sql: str, params: Params = ()) -> int:
        return await self._written(sql, params, False)

    async def _write_rows(self, sql: str, params: Params) -> list[tuple]:
        """The rows one writing statement returns, in a transaction of its own."""
        return await self._written(sql, params, True)

    async def _written(self, sql: str, params: Params, fetch: bool) -> Any:
        """One writing statement in a transaction of its own (see `_alone`), telling
        the store's observers whether the storage took it."""
        try:
            found = await self._alone(sql, params, fetch)
        except psycopg.Error as exc:
            self._write_failed(write_problem(exc))
            raise
        self._write_worked()
        return found

    async def _rows(self, sql: str, params: Params = ()) -> list[tuple]:
        return await self._alone(sql, params, True)

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
    async def open_cases(self, openings: list[Opening]) -> list[Written]:
        """One case is opened in one statement, its own transaction: its workspace row,
        number, case, opening event, timers, the request's key and the roll-ups, as
        data-modifying CTEs, with its workspace's settings and customer's history read
        in the same snapshot (one round trip, no BEGIN and COMMIT). It is drafted from
        the settings this process saw last; if they changed meanwhile, nothing is
        written and it is opened again as several are (the other engine's way, in a
        transaction, with group commit)."""
        if len(openings) == 1:
            guess = self._settings_seen.get(openings[0].team_id, Workspace(openings[0].team_id))
            written = await self._open_alone(openings[0], guess)
            if written is not None:
                return [written]
        found = await super().open_cases(openings)
        for item in found:
            self._settings_seen[item.workspace.team_id] = item.workspace
        return found

    async def _open_alone(self, opening: Opening, guess: Workspace) -> Written | None:
        """`opening` drafted from the settings `guess`, in one statement; None (nothing
        written) when the workspace's settings are not `guess` any more."""
        item = opening.draft(guess)
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
        # Its cohort row is known before it is written (all but its id; `repeat_of` is
        # not in it).
        facts = opened_facts(Case(id=0, number=0, **{k: v for k, v in row.items()
                                                     if k != "customer_key"}))
        values = [*map(row.get, NEW_CASE_COLUMNS)]
        at = NEW_CASE_COLUMNS.index("repeat_of")
        values[at:at + 1] = [row["repeat_of"], opening.since]
        found = await self._write_rows(ONE_CASE, [
            item.team_id, *(getattr(guess, k) for k in SETTINGS),
            item.team_id, item.at, item.team_id,
            item.team_id, customer_key(opening.customer), Status.OPEN, opening.since,
            HISTORY_CASES, *values,
            item.team_id, item.at, item.actor_id, EventKind.OPENED,
            json.dumps(detail, ensure_ascii=False), item.team_id,
            json.dumps([{"at": t.at, "kind": t.kind, "due_key": t.due_key,
                         "rung": int(t.rung), "escalated": int(t.escalated),
                         "unassigned": int(t.unassigned)} for t in timers]),
            item.request_key,
            item.team_id, day_of(item.at), *facts, opened_sums(item.team_id, facts),
            item.team_id])
        case_id, number, repeat = found[0][:3]
        ws = Workspace(item.team_id, *found[0][3:3 + len(SETTINGS)])
        self._settings_seen[item.team_id] = ws
        if case_id is None:
            return None  # the settings changed: drafted from the wrong ones
        history = tuple(CaseRef(*r[3 + len(SETTINGS):]) for r in found
                        if r[3 + len(SETTINGS)] is not None)
        row.pop("customer_key")
        row["repeat_of"] = repeat
        self._notify(f"case.{EventKind.OPENED}")  # committed: the statement was its own
        return Written(Case(id=case_id, number=number, **row), ws, history)

    async def record_card(self, team_id: str, case_id: int, channel: str, ts: str,
                          at: str) -> None:
        """Where a case's card lives, with its `card_posted` event, in one statement: its
        own transaction, one round trip (the event changes no roll-up)."""
        await self._write(RECORD_CARD, [
            channel, ts, CardState.POSTED, team_id, case_id, team_id, case_id, at, None,
            EventKind.CARD_POSTED, json.dumps({"ts": ts}, ensure_ascii=False)])
        self._notify(f"case.{EventKind.CARD_POSTED}")

    async def apply_sweep(self, team_id: str, processed: list[Timer], timers: list[Timer],
                          send: list[tuple[int, dict[str, Any]]],
                          skip: list[tuple[int, dict[str, Any]]], at: str) -> None:
        """A sweep's decisions in one transaction, as on SQLite, but each of its
        changes one statement over arrays (see postgres/sweep.py)."""
        async with self._tx() as tx:
            await sweep.apply_sweep(tx, team_id, processed, timers, send, skip, at)

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
