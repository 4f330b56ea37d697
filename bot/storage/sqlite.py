"""All of Mend's SQL lives here (SQLite through sqlite-utils, WAL mode).

Every query takes a team_id: a workspace never sees another's rows. Every
change to a case is written together with its timeline event in one
transaction. Another engine would be a second implementation of this module.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from bot.domain.models import OPEN, Case, CaseRef, Event, Nudge, StepMark, Timer
from bot.runtime.clock import from_iso, to_iso


class StoreError(Exception):
    """The database cannot be used as it is; the message says why."""


@dataclass(frozen=True)
class CaseFilter:
    """Which not-closed cases a list shows (all conditions together)."""

    owner: str | None = None
    unowned: bool = False
    channel: str | None = None
    category: str | None = None
    overdue_before: str | None = None  # follow-up due before this instant
    channels: tuple[str, ...] | None = None  # only cases in these channels
    # Who is looking, when they are not a lead: only cases they own or reported,
    # or in channels they are in.
    viewer: str | None = None
    viewer_channels: tuple[str, ...] = ()

    def sql(self, team_id: str) -> tuple[str, list[Any]]:
        where, params = ["team_id = ?", "status != 'closed'"], [team_id]
        if self.owner:
            where.append("owner_id = ?")
            params.append(self.owner)
        if self.unowned:
            where.append("owner_id IS NULL")
        if self.channel:
            where.append("channel_id = ?")
            params.append(self.channel)
        if self.category:
            where.append("category = ?")
            params.append(self.category)
        if self.overdue_before:
            where.append("next_followup_at <= ?")
            params.append(self.overdue_before)
        if self.channels is not None:
            where.append(f"channel_id IN ({', '.join('?' for _ in self.channels)})")
            params += list(self.channels)
        if self.viewer is not None:  # an empty id sees nothing, never everything
            marks = ", ".join("?" for _ in self.viewer_channels)
            where.append(f"(owner_id = ? OR reporter_id = ? OR channel_id IN ({marks}))")
            params += [self.viewer, self.viewer, *self.viewer_channels]
        return " AND ".join(where), params


@dataclass(frozen=True)
class NewCase:
    """A case to be inserted: its workspace, fields, who opened it and when."""

    team_id: str
    fields: dict[str, Any]
    actor_id: str
    at: str
    timers: tuple[dict[str, Any], ...] = ()  # the case's first scheduler timers


def _v1(db: sqlite_utils.Database) -> None:
    db["cases"].create(
        {
            "id": int,
            "team_id": str,
            "number": int,
            "channel_id": str,
            "reporter_id": str,
            "owner_id": str,
            "customer": str,
            "customer_key": str,
            "summary": str,
            "category": str,
            "emotion": str,
            "contact": str,
            "severity": str,
            "status": str,
            "created_at": str,
            "updated_at": str,
            "next_followup_at": str,
            "card_channel": str,
            "card_ts": str,
            "card_state": str,
        },
        pk="id",
        not_null={"team_id", "number", "channel_id", "reporter_id", "summary", "status"},
    )
    db["cases"].create_index(["team_id", "number"], unique=True)
    db["cases"].create_index(["team_id", "customer_key", "created_at"])
    db["cases"].create_index(["card_state", "team_id"])
    db["events"].create(
        {
            "id": int,
            "team_id": str,
            "case_id": int,
            "at": str,
            "actor_id": str,
            "kind": str,
            "detail": str,
        },
        pk="id",
        not_null={"team_id", "case_id", "at", "kind"},
        foreign_keys=[("case_id", "cases", "id")],
    )
    db["events"].create_index(["team_id", "case_id", "id"])


def _v2(db: sqlite_utils.Database) -> None:
    """Lifecycle: resolution, checklist, leads, repeat customers, seen interactions."""
    for column in ("followup_kind", "resolved_at", "closed_at", "resolution", "compensation",
                   "compensation_accepted"):
        db["cases"].add_column(column, str)
    db["cases"].add_column("repeat_of", int)
    db["cases"].add_column("duplicate_of", int)
    db["steps"].create(
        {"team_id": str, "case_id": int, "step": str, "done_by": str, "done_at": str},
        pk=("team_id", "case_id", "step"),
    )
    db["leads"].create(
        {"team_id": str, "user_id": str, "added_by": str, "added_at": str},
        pk=("team_id", "user_id"),
    )
    db["seen"].create({"team_id": str, "key": str, "at": str}, pk=("team_id", "key"))


def _v3(db: sqlite_utils.Database) -> None:
    """Follow-up nudges: a timer queue, the outbox, the sweeper's lease, settings."""
    db["cases"].add_column("customer_updated_at", str)
    db["cases"].add_column("card_claimed_at", str)  # when a card post was last attempted
    # Ordered by time, so due timers sit together at the front: a sweep reads and
    # rewrites a few pages however many cases are open.
    db.execute(
        "CREATE TABLE timers (team_id TEXT NOT NULL, at TEXT NOT NULL, "
        "case_id INTEGER NOT NULL, kind TEXT NOT NULL, due_key TEXT NOT NULL, "
        "rung INTEGER NOT NULL DEFAULT 0, escalated INTEGER NOT NULL DEFAULT 0, "
        "unassigned INTEGER NOT NULL DEFAULT 0, "
        "PRIMARY KEY (team_id, at, case_id, kind, due_key)) WITHOUT ROWID")
    db["nudges"].create(
        {"id": int, "team_id": str, "case_id": int, "kind": str, "rung": int, "due_key": str,
         "state": str, "attempts": int, "send_after": str, "channel": str, "thread_ts": str,
         "sent_ts": str, "created_at": str, "claimed_at": str, "sent_at": str, "error": str},
        pk="id", not_null={"team_id", "case_id", "kind", "rung", "due_key", "state"},
        defaults={"attempts": 0},
    )
    # The nudge key: a case's reminder for one due time exists once, whatever happens.
    # Due time first, so new keys land together at the end of the index.
    db["nudges"].create_index(["team_id", "due_key", "case_id", "kind", "rung"], unique=True)
    db["nudges"].create_index(["team_id", "state", "send_after"])
    db["nudges"].create_index(["team_id", "case_id"])
    db["leases"].create({"name": str, "holder": str, "expires_at": str}, pk="name")
    db["workspaces"].create(
        {"team_id": str, "lead_channel": str, "work_days": str, "work_start": str,
         "work_end": str, "created_at": str}, pk="team_id")
    db.execute("INSERT OR IGNORE INTO workspaces (team_id, created_at) "
               "SELECT team_id, MIN(created_at) FROM cases GROUP BY team_id")


def _v4(db: sqlite_utils.Database) -> None:
    """Leads' views: the not-closed cases in urgency order, cohorts by opening date,
    and each workspace's digest schedule and timezone."""
    # Partial indexes: only cases still in play, in the order the lists show them.
    db.execute("CREATE INDEX idx_cases_live_due ON cases (team_id, next_followup_at, "
               "created_at) WHERE status != 'closed'")
    db.execute("CREATE INDEX idx_cases_live_owner ON cases (team_id, owner_id, "
               "next_followup_at) WHERE status != 'closed'")
    db["cases"].create_index(["team_id", "created_at"])
    for column in ("digest_day", "digest_time", "tz"):
        db["workspaces"].add_column(column, str)


# Append only: a migration, once released, never changes.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4]
SCHEMA_VERSION = len(MIGRATIONS)

WORKSPACE_SETTINGS = ("lead_channel", "work_days", "work_start", "work_end", "digest_day",
                      "digest_time", "tz")
# pending -> posting (recorded just before the post) -> posted | failed
CARD_PENDING, CARD_POSTING, CARD_POSTED, CARD_FAILED = "pending", "posting", "posted", "failed"

# Statements built once: columns listed in Case's field order, so a row
# becomes a Case without building a dict first.
CASE_COLUMNS = ", ".join(Case.__dataclass_fields__)
NEW_CASE_FIELDS = ("channel_id", "reporter_id", "owner_id", "customer", "summary", "category",
                   "emotion", "contact", "severity", "next_followup_at", "followup_kind",
                   "repeat_of", "customer_updated_at")
_NEW_CASE_COLUMNS = ("team_id", "customer_key", "status", "created_at", "updated_at",
                     "card_state", *NEW_CASE_FIELDS)
INSERT_CASE = (f"INSERT INTO cases (number, {', '.join(_NEW_CASE_COLUMNS)}) "
               f"VALUES (?{', ?' * len(_NEW_CASE_COLUMNS)})")
NEXT_NUMBER = "SELECT COALESCE(MAX(number), 0) + 1 FROM cases WHERE team_id = ?"
NUDGE_COLUMNS = ", ".join(Nudge.__dataclass_fields__)
TIMER_COLUMNS = ", ".join(Timer.__dataclass_fields__)
TIMER_COLUMNS_T = ", ".join(f"t.{c}" for c in Timer.__dataclass_fields__)
CASE_COLUMNS_C = ", ".join(f"c.{c}" for c in Case.__dataclass_fields__)
INSERT_EVENT = ("INSERT INTO events (team_id, case_id, at, actor_id, kind, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)")
EVENT_COLUMNS_E = ", ".join(f"e.{c}" for c in Event.__dataclass_fields__)


# Events after which the follow-up in force is the one they set (none after done or closed).
_SETTER_KINDS = ("'opened', 'reopened', 'followup_set', 'snoozed', 'followup_done', "
                 "'resolved', 'closed'")


def _previous_setter(alias: str) -> str:
    """SQL: for a resolution, reopening or close `alias`, the id of the case's last
    earlier event that set or ended a follow-up (NULL: none, or another kind). Joined
    once per event as the `prev` of `_followup_in_force`, so the look back is not
    repeated in every expression that needs it."""
    a = alias
    return (f"CASE WHEN {a}.kind IN ('resolved', 'closed', 'reopened') THEN (SELECT q.id "
            f"FROM events q WHERE q.team_id = {a}.team_id AND q.case_id = {a}.case_id AND "
            f"q.id < {a}.id AND q.kind IN ({_SETTER_KINDS}) ORDER BY q.id DESC LIMIT 1) END")


def _followup_in_force(prev: str) -> str:
    """SQL: the due time of the follow-up in force just before an event, read from
    `prev`, its previous setter joined on `_previous_setter` (NULL when none, or when
    the timeline does not say: cases opened before `opened` and `reopened` events
    recorded their follow-up)."""
    p = prev
    return (f"CASE {p}.kind WHEN 'followup_set' THEN json_extract({p}.detail, '$.after') "
            f"WHEN 'snoozed' THEN json_extract({p}.detail, '$.until') WHEN 'resolved' THEN "
            f"json_extract({p}.detail, '$.satisfaction_due') WHEN 'opened' THEN "
            f"json_extract({p}.detail, '$.due') WHEN 'reopened' THEN "
            f"json_extract({p}.detail, '$.due') END")


# Events that end a follow-up (or show that it fell due).
_FOLLOWUP_KINDS = ("'followup_done', 'followup_set', 'snoozed', 'resolved', 'closed', "
                   "'reopened'")


def _followup_ended(alias: str, prev: str) -> str:
    """SQL: the due time of the follow-up that event `alias` shows fell due (NULL: none;
    `prev` is its previous setter, see `_previous_setter`).
    Done (on time or not); moved or snoozed after its due time; the satisfaction check
    recorded (which closes the case); dropped by a resolution, reopening or close after
    its due time. Handled at the very instant it is due, as when done then, is in time."""
    a, in_force = alias, _followup_in_force(prev)
    return (f"CASE WHEN {a}.kind = 'followup_done' THEN json_extract({a}.detail, '$.due') "
            f"WHEN {a}.kind IN ('followup_set', 'snoozed') THEN NULLIF(MIN(json_extract("
            f"{a}.detail, '$.before'), {a}.at), {a}.at) "
            f"WHEN {a}.kind = 'closed' AND json_extract({a}.detail, '$.satisfaction') = 1 "
            f"THEN {in_force} WHEN {a}.kind IN ('resolved', 'closed', "
            f"'reopened') THEN NULLIF(MIN({in_force}, {a}.at), {a}.at) END")


class _Abandoned(Exception):
    """A change found a case it also writes to closed: roll the whole change back."""


class Store:
    """Owns one SQLite database file for Mend."""

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = str(path)
        self._checkpoints: Checkpointer | None = None
        if readonly:
            self._open_readonly()
            return
        try:
            self._open(path)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"Cannot use the database at {self.path}: {exc}. Set MEND_DB to "
                             "a SQLite file Mend can create or write.") from None

    def _open(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Autocommit connection: transactions are explicit (BEGIN IMMEDIATE)
        # so that case numbering cannot race between writers.
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=10)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        # Keep hot index pages in memory: every new case touches several indexes.
        self.db.execute("PRAGMA cache_size=-65536")
        self.db.execute("PRAGMA mmap_size=268435456")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.migrate()

    def _open_readonly(self) -> None:
        """A connection that can only read: for reports run off the event loop (in a
        thread of their own) and for exports, which must never change the database."""
        uri = f"file:{Path(self.path).resolve()}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10,
                                   check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            version = self.schema_version
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot read the database at {self.path}: {exc}.") from None
        if version != SCHEMA_VERSION:
            raise StoreError(f"The database at {self.path} has schema {version}; this Mend "
                             f"reads schema {SCHEMA_VERSION}. Start Mend once to migrate it.")

    def reader(self) -> Store:
        """A read-only Store on the same file (use it from one other thread)."""
        return Store(self.path, readonly=True)

    # -- schema -----------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> int:
        """Bring the schema up to date; returns how many migrations ran."""
        with self._tx():
            current = self.schema_version
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"This database was written by a newer Mend (schema {current}; this "
                    f"version knows up to {SCHEMA_VERSION}). Upgrade Mend or set MEND_DB "
                    "to another file."
                )
            for version in range(current, SCHEMA_VERSION):
                MIGRATIONS[version](self.db)
                self.db.execute(f"PRAGMA user_version = {version + 1}")
        return SCHEMA_VERSION - current

    def start_checkpoints(self, every: float = 0.5) -> None:
        """Checkpoint the WAL from a thread of its own from now on, not in commits.

        SQLite's automatic checkpoint runs inside whichever commit crosses its
        threshold: that request's event loop turn copies pages and syncs the
        file. The thread's connection does it instead; sqlite releases the GIL
        while it works."""
        if self._checkpoints is None and self.path != ":memory:":
            self.db.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpoints = Checkpointer(self.path, every)
            self._checkpoints.start()

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.stop()
            self._checkpoints = None
        self.db.conn.close()  # the last connection to close checkpoints the rest

    def ping(self) -> bool:
        """True when the database answers a query."""
        try:
            return self.db.execute("SELECT 1").fetchone()[0] == 1
        except sqlite3.Error:
            return False

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- cases -------------------------------------------------------------
    def create_case(
        self, team_id: str, fields: dict[str, Any], actor_id: str, at: str
    ) -> Case:
        """Insert a case numbered next in its workspace, with its first event."""
        return self.create_cases([NewCase(team_id, fields, actor_id, at)])[0]

    def create_cases(self, new: list[NewCase]) -> list[Case]:
        """Insert several cases in one transaction (one commit for all of them)."""
        with self._tx() as conn:
            for team_id in {item.team_id for item in new}:
                conn.execute("INSERT OR IGNORE INTO workspaces (team_id, created_at) "
                             "VALUES (?, ?)", [team_id, new[0].at])
            return [self._insert_case(conn, item) for item in new]

    def _insert_case(self, conn: sqlite3.Connection, new: NewCase) -> Case:
        # The Case is built from what was written: reading it back (RETURNING)
        # cost more than the insert itself.
        row = {
            **{k: new.fields.get(k) for k in NEW_CASE_FIELDS},
            "team_id": new.team_id,
            "number": conn.execute(NEXT_NUMBER, [new.team_id]).fetchone()[0],
            "customer_key": _customer_key(new.fields.get("customer")),
            "status": OPEN,
            "created_at": new.at,
            "updated_at": new.at,
            "card_state": CARD_PENDING,
        }
        cursor = conn.execute(INSERT_CASE, [row["number"], *map(row.get, _NEW_CASE_COLUMNS)])
        row.pop("customer_key")
        case = Case(id=cursor.lastrowid, **row)
        detail = {k: new.fields.get(k)
                  for k in ("category", "emotion", "contact", "severity", "owner_id")}
        detail["due"] = new.fields.get("next_followup_at")  # the first follow-up, for stats
        self._event(conn, new.team_id, case.id, new.at, new.actor_id, "opened", detail)
        _add_timers(conn, new.team_id, case.id, new.timers)
        return case

    def case_by_id(self, team_id: str, case_id: int) -> Case | None:
        return self._one("team_id = ? AND id = ?", [team_id, case_id])

    def case_by_number(self, team_id: str, number: int) -> Case | None:
        return self._one("team_id = ? AND number = ?", [team_id, number])

    def teams_awaiting_cards(self) -> list[str]:
        """Workspaces with a case whose card is not known to be posted."""
        rows = self.db.execute(
            "SELECT DISTINCT team_id FROM cases WHERE card_state IN (?, ?)",
            [CARD_PENDING, CARD_POSTING]).fetchall()
        return [r[0] for r in rows]

    def cases_awaiting_card(self, team_id: str, limit: int = 100_000) -> list[Case]:
        """Cases whose card was never posted, or may have been (a post that timed out)."""
        return self._cases("team_id = ? AND card_state IN (?, ?) ORDER BY id LIMIT ?",
                           [team_id, CARD_PENDING, CARD_POSTING, limit])

    def set_card_state(self, team_id: str, case_id: int, before: str, after: str,
                       at: str) -> bool:
        """Move a case's card between pending and posting (compare-and-set)."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE cases SET card_state = ?, card_claimed_at = ? "
                "WHERE team_id = ? AND id = ? AND card_state = ?",
                [after, at, team_id, case_id, before])
        return cur.rowcount == 1

    def record_card(self, team_id: str, case_id: int, channel: str, ts: str, at: str) -> None:
        """Remember where the case card lives so it can be updated in place."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE cases SET card_channel = ?, card_ts = ?, card_state = ? "
                "WHERE team_id = ? AND id = ?",
                [channel, ts, CARD_POSTED, team_id, case_id],
            )
            self._event(conn, team_id, case_id, at, None, "card_posted", {"ts": ts})

    def record_card_failed(self, team_id: str, case_id: int, error: str, at: str) -> None:
        """The card could not be posted for a reason a retry will not fix."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE cases SET card_state = ? WHERE team_id = ? AND id = ?",
                [CARD_FAILED, team_id, case_id],
            )
            self._event(conn, team_id, case_id, at, None, "card_failed", {"error": error})

    def recent_events(self, team_id: str, case_id: int, limit: int,
                      kind: str | None = None) -> tuple[list[Event], int]:
        """The case's last `limit` events (oldest first) and how many it has in all."""
        where = "team_id = ? AND case_id = ?" + (" AND kind = ?" if kind else "")
        params = [team_id, case_id, *([kind] if kind else [])]
        total = self.db.conn.execute(f"SELECT COUNT(*) FROM events WHERE {where}",
                                     params).fetchone()[0]
        rows = self.db.query(f"SELECT * FROM events WHERE {where} ORDER BY id DESC LIMIT ?",
                             [*params, limit])
        return [Event.from_row(r) for r in rows][::-1], total

    def events(self, team_id: str, case_id: int) -> list[Event]:
        rows = self.db.query(
            "SELECT * FROM events WHERE team_id = ? AND case_id = ? ORDER BY id",
            [team_id, case_id],
        )
        return [Event.from_row(r) for r in rows]

    # -- lifecycle -----------------------------------------------------------
    def change_case(self, team_id: str, case_id: int, *, changes: dict[str, Any],
                    expect: dict[str, Any], actor_id: str | None, kind: str,
                    detail: dict[str, Any], at: str,
                    timers: tuple[dict[str, Any], ...] = (), once_key: str | None = None,
                    tick: tuple[str, ...] = (), untick: tuple[str, ...] = (),
                    also: tuple[tuple[int, str, dict[str, Any]], ...] = ()) -> Case | None:
        """Compare-and-set: apply `changes` only if the case still matches `expect`.

        Returns the changed case, or None when someone else changed it first
        (so of two simultaneous "take ownership" clicks, exactly one wins), or
        when `once_key` was seen already (a retried submission is applied once).
        In the same transaction: the timeline event, the checklist steps to
        `tick` (each with its event) and `untick` (each that was ticked with a
        `step_undone` event giving `kind` as its reason), and `also` more events
        (case id, kind, detail), e.g. the note a merge adds to the other case. A
        case in `also` must still be open or resolved: if one is not (a lead closed
        the merge's target meanwhile), nothing at all is written and None is returned.
        """
        assignments = ", ".join(f"{col} = ?" for col in changes)
        checks = "".join(
            f" AND {col} IS NULL" if value is None else f" AND {col} = ?"
            for col, value in expect.items()
        )
        params = [*changes.values(), at, team_id, case_id,
                  *(v for v in expect.values() if v is not None)]
        try:
            with self._tx() as conn:
                if once_key and self._seen(conn, team_id, once_key):
                    return None
                rows = conn.execute(
                    f"UPDATE cases SET {assignments}, updated_at = ? "
                    f"WHERE team_id = ? AND id = ?{checks} RETURNING {CASE_COLUMNS}",
                    params,
                ).fetchall()
                if not rows:
                    return None
                if once_key:
                    conn.execute("INSERT INTO seen (team_id, key, at) VALUES (?, ?, ?)",
                                 [team_id, once_key, at])
                for step in tick:
                    if conn.execute(
                            "INSERT OR IGNORE INTO steps (team_id, case_id, step, done_by, "
                            "done_at) VALUES (?, ?, ?, ?, ?)",
                            [team_id, case_id, step, actor_id, at]).rowcount == 1:
                        self._event(conn, team_id, case_id, at, actor_id, "step_done",
                                    {"step": step})
                self._event(conn, team_id, case_id, at, actor_id, kind, detail)
                for step in untick:  # after the change they follow from
                    if conn.execute(
                            "DELETE FROM steps WHERE team_id = ? AND case_id = ? AND step = ?",
                            [team_id, case_id, step]).rowcount == 1:
                        self._event(conn, team_id, case_id, at, actor_id, "step_undone",
                                    {"step": step, "reason": kind})
                for other, other_kind, other_detail in also:
                    if conn.execute(
                            "UPDATE cases SET updated_at = ? WHERE team_id = ? AND id = ? "
                            "AND status IN ('open', 'resolved')",
                            [at, team_id, other]).rowcount != 1:
                        raise _Abandoned  # rolls the whole change back
                    self._event(conn, team_id, other, at, actor_id, other_kind, other_detail)
                _add_timers(conn, team_id, case_id, timers)
                return Case(*rows[0])
        except _Abandoned:
            return None

    def add_event(self, team_id: str, case_id: int, actor_id: str | None, kind: str,
                  detail: dict[str, Any], at: str, once_key: str | None = None) -> bool:
        """A timeline entry that changes no field (a note). With `once_key`, an entry
        already added under that key (a retried submission) is not added again."""
        with self._tx() as conn:
            if once_key and conn.execute(
                    "INSERT OR IGNORE INTO seen (team_id, key, at) VALUES (?, ?, ?)",
                    [team_id, once_key, at]).rowcount != 1:
                return False
            conn.execute("UPDATE cases SET updated_at = ? WHERE team_id = ? AND id = ?",
                         [at, team_id, case_id])
            self._event(conn, team_id, case_id, at, actor_id, kind, detail)
        return True

    def mark_step(self, team_id: str, case_id: int, step: str, actor_id: str,
                  at: str) -> bool:
        """Tick a checklist step; False if it was already ticked."""
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO steps (team_id, case_id, step, done_by, done_at) "
                "VALUES (?, ?, ?, ?, ?)", [team_id, case_id, step, actor_id, at])
            if cur.rowcount != 1:
                return False
            self._event(conn, team_id, case_id, at, actor_id, "step_done", {"step": step})
        return True

    def unmark_step(self, team_id: str, case_id: int, step: str, actor_id: str,
                    at: str) -> bool:
        """Untick a checklist step; False if it was not ticked."""
        with self._tx() as conn:
            cur = conn.execute(
                "DELETE FROM steps WHERE team_id = ? AND case_id = ? AND step = ?",
                [team_id, case_id, step])
            if cur.rowcount != 1:
                return False
            self._event(conn, team_id, case_id, at, actor_id, "step_undone", {"step": step})
        return True

    def steps(self, team_id: str, case_id: int) -> dict[str, StepMark]:
        rows = self.db.conn.execute(
            "SELECT step, done_by, done_at FROM steps WHERE team_id = ? AND case_id = ?",
            [team_id, case_id])
        return {step: StepMark(step, by, at) for step, by, at in rows}

    def open_count(self, team_id: str, owner_id: str) -> int:
        """How many open cases `owner_id` owns (their workload)."""
        # "status != closed" lets SQLite use the partial index of live cases by owner.
        return self.db.conn.execute(
            "SELECT COUNT(*) FROM cases WHERE team_id = ? AND owner_id = ? "
            "AND status != 'closed' AND status = ?", [team_id, owner_id, OPEN]).fetchone()[0]

    def customer_history(self, team_id: str, customer: str, since: str,
                         limit: int = 5) -> list[CaseRef]:
        """The customer's newest few cases that are open or opened since `since`
        (one indexed query: it runs while the agent waits for the ack)."""
        rows = self.db.conn.execute(
            "SELECT number, owner_id, customer, status, created_at FROM cases "
            "WHERE team_id = ? AND customer_key = ? AND (status = ? OR created_at >= ?) "
            "ORDER BY created_at DESC LIMIT ?",
            [team_id, _customer_key(customer), OPEN, since, limit])
        return [CaseRef(*row) for row in rows]

    # -- leads and seen interactions ------------------------------------------
    def leads(self, team_id: str) -> list[str]:
        rows = self.db.conn.execute(
            "SELECT user_id FROM leads WHERE team_id = ? ORDER BY added_at, user_id", [team_id])
        return [r[0] for r in rows]

    def set_leads(self, team_id: str, user_ids: list[str], actor_id: str, at: str) -> None:
        """Replace the workspace's leads."""
        with self._tx() as conn:
            conn.execute("DELETE FROM leads WHERE team_id = ?", [team_id])
            conn.executemany(
                "INSERT INTO leads (team_id, user_id, added_by, added_at) VALUES (?, ?, ?, ?)",
                [(team_id, u, actor_id, at) for u in dict.fromkeys(user_ids)])

    def seen_before(self, team_id: str, key: str) -> bool:
        """Whether `key` was recorded (by `first_time` or a change's `once_key`)."""
        return self._seen(self.db.conn, team_id, key)

    @staticmethod
    def _seen(conn: sqlite3.Connection, team_id: str, key: str) -> bool:
        return conn.execute("SELECT 1 FROM seen WHERE team_id = ? AND key = ?",
                            [team_id, key]).fetchone() is not None

    def first_time(self, team_id: str, key: str, at: str) -> bool:
        """True the first time `key` is seen: a retried interaction is done once."""
        with self._tx() as conn:
            cur = conn.execute("INSERT OR IGNORE INTO seen (team_id, key, at) VALUES (?, ?, ?)",
                               [team_id, key, at])
        return cur.rowcount == 1

    # -- leads' views ---------------------------------------------------------------
    def live_cases(self, team_id: str, where: CaseFilter, limit: int,
                   offset: int = 0) -> tuple[list[Case], int]:
        """Cases not closed, matching `where`, most urgent first, and how many match.

        Urgency: follow-ups soonest due (overdue first), then cases with no follow-up,
        oldest first. Two index-ordered ranges, so a page costs little at any size.
        """
        sql, params = where.sql(team_id)
        due_part = f"{sql} AND next_followup_at IS NOT NULL"
        none_part = f"{sql} AND next_followup_at IS NULL"
        with_due = self._count(due_part, params)
        without = self._count(none_part, params) if where.overdue_before is None else 0
        found: list[Case] = []
        if offset < with_due:
            found = self._cases(f"{due_part} ORDER BY next_followup_at, created_at "
                                "LIMIT ? OFFSET ?", [*params, limit, offset])
        if len(found) < limit and without:
            found += self._cases(f"{none_part} ORDER BY created_at LIMIT ? OFFSET ?",
                                 [*params, limit - len(found), max(0, offset - with_due)])
        return found, with_due + without

    def oldest_live(self, team_id: str, limit: int) -> list[Case]:
        return self._cases("team_id = ? AND status != 'closed' ORDER BY created_at LIMIT ?",
                           [team_id, limit])

    def enqueue_digest(self, team_id: str, week: str, at: str) -> bool:
        """The digest of one slot (the workspace's digest day and time in `week`) into
        the outbox: once per slot, and never within a day of the last one, so moving
        the digest later in the week moves this week's digest rather than dropping it,
        and moving it later on the day it went out does not send it again."""
        with self._tx() as conn:
            day, clock, tz = conn.execute(
                "SELECT digest_day, digest_time, tz FROM workspaces WHERE team_id = ?",
                [team_id]).fetchone() or (None, None, None)
            slot = f"{week} {day or 'mon'} {clock or '09:00'} {tz or 'UTC'}"
            recent = conn.execute(
                "SELECT 1 FROM nudges WHERE team_id = ? AND kind = 'digest' AND case_id = 0 "
                "AND state IN ('pending', 'sending', 'sent') AND created_at > ? LIMIT 1",
                [team_id, to_iso(from_iso(at) - timedelta(days=1))]).fetchone()
            if recent:
                return False
            cur = conn.execute(
                "INSERT OR IGNORE INTO nudges (team_id, case_id, kind, rung, due_key, state, "
                "attempts, send_after, created_at) VALUES (?, 0, 'digest', 0, ?, 'pending', 0, "
                "?, ?)", [team_id, slot, at, at])
        return cur.rowcount == 1

    def _count(self, where: str, params: list[Any]) -> int:
        return self.db.conn.execute(f"SELECT COUNT(*) FROM cases WHERE {where}",
                                    params).fetchone()[0]

    def step_counts(self, team_id: str, case_ids: list[int]) -> dict[int, int]:
        """How many checklist steps each case has ticked."""
        if not case_ids:
            return {}
        marks = ", ".join("?" for _ in case_ids)
        rows = self.db.conn.execute(
            f"SELECT case_id, COUNT(*) FROM steps WHERE team_id = ? AND case_id IN ({marks}) "
            "GROUP BY case_id", [team_id, *case_ids])
        return dict(rows.fetchall())

    def workload(self, team_id: str) -> list[tuple[str | None, int]]:
        """Open cases per owner (None: waiting for an owner), busiest first."""
        rows = self.db.conn.execute(
            # "status != closed" lets SQLite use the partial index of live cases.
            "SELECT owner_id, COUNT(*) FROM cases WHERE team_id = ? AND status != 'closed' "
            "AND status = 'open' GROUP BY owner_id ORDER BY COUNT(*) DESC", [team_id])
        return rows.fetchall()

    def cohort_facts(self, team_id: str, since: str, now: str | None = None) -> list[tuple]:
        """One row per case opened since `since`, with what its timeline says:
        (category, owner, reporter, created_at, first ownership, first apology, first
        action, first customer update, first resolution, resolved, closed, reopened,
        follow-ups that fell due, done on time, satisfaction check done, compensation
        offered, accepted; the last three 0 or 1 per case). Aggregated inside SQLite:
        one pass over the period's events, each looked at once (its previous follow-up
        and its nudge found by index), so a case's cost grows with its events, not with
        their square.

        A follow-up (the satisfaction follow-up included) is identified by its due
        time. It fell due when it was done (on time if done by then), moved or snoozed
        after that time, dropped by a resolution, reopening or early close after that
        time, nudged, or is still due at `now` (None: leave those out)."""
        ended = _followup_ended("e", "p")
        return self.db.conn.execute(
            "SELECT c.category, c.owner_id, c.reporter_id, c.created_at, "
            # Owned from the start (the opening event names an owner), or first taken.
            "MIN(CASE WHEN e.kind = 'opened' AND json_extract(e.detail, '$.owner_id') "
            "IS NOT NULL THEN e.at WHEN e.kind IN ('taken', 'assigned') THEN e.at END), "
            "MIN(CASE WHEN e.kind = 'step_done' AND json_extract(e.detail, '$.step') = "
            "'apologize' THEN e.at END), "
            "MIN(CASE WHEN e.kind = 'step_done' AND json_extract(e.detail, '$.step') = 'act' "
            "THEN e.at END), "
            "MIN(CASE WHEN e.kind IN ('customer_updated', 'followup_done') THEN e.at END), "
            "MIN(CASE WHEN e.kind = 'resolved' THEN e.at END), "
            "SUM(e.kind = 'resolved'), SUM(e.kind = 'closed'), SUM(e.kind = 'reopened'), "
            # Every follow-up that fell due, once (told apart by due time): those the
            # timeline shows, those nudged (the case's first nudges, less those whose due
            # time the timeline shows: `m`), and the one still due now. A missed
            # follow-up counts against the share, not out of it.
            f"COUNT(DISTINCT {ended}) + "
            # (by case: not a scan of the workspace's nudges for each case)
            "(SELECT COUNT(*) FROM nudges n INDEXED BY idx_nudges_team_id_case_id WHERE "
            "n.team_id = c.team_id AND n.case_id = c.id AND n.kind = 'followup' AND "
            "n.rung = 0 AND n.due_key IS NOT c.next_followup_at) - COUNT(DISTINCT m.id) + "
            "COALESCE(c.status != 'closed' AND c.next_followup_at <= ?, 0), "
            # (CASE, not AND: SQLite's AND works out both sides, JSON and all)
            "CAST(TOTAL(CASE WHEN e.kind = 'followup_done' THEN e.at <= json_extract(e.detail, "
            "'$.due') WHEN e.kind = 'closed' AND json_extract(e.detail, '$.satisfaction') = 1 "
            f"THEN e.at <= {_followup_in_force('p')} END) AS INTEGER), "
            # Per case, however often it was resolved or closed. (ELSE: 0, or NULL for a
            # case without events, as `kind = … AND …` gives.)
            "MAX(CASE WHEN e.kind = 'closed' THEN json_extract(e.detail, '$.satisfaction') "
            "= 1 ELSE e.kind = 'closed' END), "
            "MAX(CASE WHEN e.kind = 'resolved' THEN json_extract(e.detail, '$.compensation') "
            "!= '' ELSE e.kind = 'resolved' END), "
            "MAX(CASE WHEN e.kind = 'resolved' THEN json_extract(e.detail, '$.compensation') "
            "!= '' AND json_extract(e.detail, '$.accepted') = 'yes' ELSE e.kind = 'resolved' "
            "END) "
            # The period's cases by their opening date (not a scan of all cases in id
            # order, which GROUP BY would otherwise tempt SQLite into).
            "FROM cases c INDEXED BY idx_cases_team_id_created_at LEFT JOIN events e "
            "ON e.team_id = c.team_id AND e.case_id = c.id AND e.kind IN ('opened', 'taken', "
            f"'assigned', 'step_done', 'customer_updated', {_FOLLOWUP_KINDS}) "
            # The follow-up in force before a resolution, reopening or close.
            f"LEFT JOIN events p ON p.id = {_previous_setter('e')} AND p.team_id = c.team_id "
            # The case's first nudge for the due time the event shows fell due (one at
            # most: a nudge is unique per case, kind, rung and due time).
            "LEFT JOIN nudges m INDEXED BY idx_nudges_team_id_due_key_case_id_kind_rung "
            f"ON m.team_id = c.team_id AND m.due_key = {ended} AND m.case_id = c.id AND "
            "m.kind = 'followup' AND m.rung = 0 AND m.due_key IS NOT c.next_followup_at "
            # Grouped in the index's order (opening date, then id), so the events need
            # no sorting; the rows come out in id order.
            "WHERE c.team_id = ? AND c.created_at >= ? GROUP BY c.created_at, c.id "
            "ORDER BY c.id",
            [now, team_id, since]
        ).fetchall()

    def export_rows(self, team_id: str, since: str) -> Iterator[tuple[Case, Event]]:
        """Every event of the cases opened since `since`, with its case, in order.

        One statement, hence one snapshot: a case opened while a long export is read
        is either wholly in it or not at all."""
        width = len(Case.__dataclass_fields__)
        rows = self.db.conn.execute(
            f"SELECT {CASE_COLUMNS_C}, {EVENT_COLUMNS_E} FROM cases c CROSS JOIN events e "
            "ON e.team_id = c.team_id AND e.case_id = c.id WHERE c.team_id = ? AND "
            "c.created_at >= ? ORDER BY c.number, e.id", [team_id, since])
        case: Case | None = None
        for row in rows:
            if case is None or case.id != row[0]:
                case = Case(*row[:width])
            yield case, Event.from_row(dict(zip(Event.__dataclass_fields__, row[width:],
                                                strict=True)))

    # -- workspaces ----------------------------------------------------------------
    def workspaces(self) -> list[str]:
        """Every workspace Mend has seen (the scheduler visits each in turn)."""
        return [r[0] for r in self.db.conn.execute("SELECT team_id FROM workspaces")]

    def workspace(self, team_id: str) -> dict[str, Any]:
        """A workspace's own settings (None where it uses the defaults)."""
        row = self.db.conn.execute(
            f"SELECT {', '.join(WORKSPACE_SETTINGS)} FROM workspaces WHERE team_id = ?",
            [team_id]).fetchone()
        return dict(zip(WORKSPACE_SETTINGS, row or (None,) * len(WORKSPACE_SETTINGS),
                        strict=True))

    def set_workspace(self, team_id: str, at: str, **fields: str | None) -> None:
        allowed = set(WORKSPACE_SETTINGS)
        assert set(fields) <= allowed, fields
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO workspaces (team_id, created_at) VALUES (?, ?)",
                         [team_id, at])
            assignments = ", ".join(f"{k} = ?" for k in fields)
            conn.execute(f"UPDATE workspaces SET {assignments} WHERE team_id = ?",
                         [*fields.values(), team_id])

    # -- follow-up nudges -------------------------------------------------------------
    def due_timers(self, team_id: str, now: str, limit: int = 5000) -> list[tuple[Timer, Case]]:
        """Timers due by `now`, each with its case: a range at the front of the queue."""
        rows = self.db.conn.execute(
            f"SELECT {TIMER_COLUMNS_T}, {CASE_COLUMNS_C} FROM timers t "
            "JOIN cases c ON c.id = t.case_id AND c.team_id = t.team_id "
            "WHERE t.team_id = ? AND t.at <= ? ORDER BY t.at LIMIT ?", [team_id, now, limit])
        width = len(Timer.__dataclass_fields__)
        return [(Timer(*row[:width]), Case(*row[width:])) for row in rows]

    def timers_for_case(self, team_id: str, case_id: int) -> list[Timer]:
        """A case's pending timers (for tests and the timeline; not indexed by case)."""
        rows = self.db.conn.execute(
            f"SELECT {TIMER_COLUMNS} FROM timers WHERE team_id = ? AND case_id = ? ORDER BY at",
            [team_id, case_id])
        return [Timer(*row) for row in rows]

    def apply_sweep(self, team_id: str, processed: list[Timer], timers: list[Timer],
                    send: list[tuple[int, dict[str, Any]]],
                    skip: list[tuple[int, dict[str, Any]]], at: str) -> None:
        """Record a sweep's decisions in one transaction.

        The processed timers go, the next ones come, and the outbox gets its
        rows. A timer is deleted by its full key, so if two schedulers raced
        only one of them deletes it; the outbox's unique key (case, kind, due
        time, rung) makes sure a rung is enqueued once whatever happens.
        """
        with self._tx() as conn:
            conn.executemany(
                "DELETE FROM timers WHERE team_id = ? AND at = ? AND case_id = ? AND kind = ? "
                "AND due_key = ?", [(t.team_id, t.at, t.case_id, t.kind, t.due_key)
                                    for t in processed])
            conn.executemany(
                f"INSERT OR IGNORE INTO timers ({TIMER_COLUMNS}) VALUES ({_marks(Timer)})",
                [tuple(vars(t).values()) for t in timers])
            conn.executemany(
                "INSERT OR IGNORE INTO nudges (team_id, case_id, kind, rung, due_key, state, "
                "attempts, send_after, created_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
                [(team_id, case_id, row["kind"], row["rung"], row["due_key"], state, at, at)
                 for rows, state in ((send, "pending"), (skip, "skipped"))
                 for case_id, row in rows])

    def sendable_nudges(self, team_id: str, now: str, limit: int = 500) -> list[Nudge]:
        return self._nudges("team_id = ? AND state = 'pending' AND send_after <= ? "
                            "ORDER BY send_after, id LIMIT ?", [team_id, now, limit])

    def nudges_in_doubt(self, team_id: str) -> list[Nudge]:
        """Nudges claimed for sending whose outcome was never recorded."""
        return self._nudges("team_id = ? AND state = 'sending' ORDER BY id", [team_id])

    def nudges_for_case(self, team_id: str, case_id: int) -> list[Nudge]:
        return self._nudges("team_id = ? AND case_id = ? ORDER BY id", [team_id, case_id])

    def claim_nudge(self, nudge: Nudge, channel: str, thread_ts: str | None, at: str) -> bool:
        """pending -> sending, recorded before the message goes out."""
        return self._nudge_state(nudge, "pending", "sending", at, channel=channel,
                                 thread_ts=thread_ts, claimed_at=at,
                                 attempts=nudge.attempts + 1)

    def nudge_sent(self, nudge: Nudge, ts: str, at: str) -> bool:
        return self._nudge_state(nudge, "sending", "sent", at, sent_ts=ts, sent_at=at)

    def nudge_retry(self, nudge: Nudge, send_after: str, error: str, at: str) -> bool:
        return self._nudge_state(nudge, "sending", "pending", at, send_after=send_after,
                                 error=error)

    def nudge_dropped(self, nudge: Nudge, state: str, error: str, at: str,
                      before: str = "pending") -> bool:
        """A nudge that will never be sent (case moved on, or Slack refused for good)."""
        return self._nudge_state(nudge, before, state, at, error=error)

    def _nudge_state(self, nudge: Nudge, before: str, after: str, at: str,
                     **fields: Any) -> bool:
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._tx() as conn:
            cur = conn.execute(
                f"UPDATE nudges SET state = ?{', ' if sets else ''}{sets} "
                "WHERE team_id = ? AND id = ? AND state = ?",
                [after, *fields.values(), nudge.team_id, nudge.id, before])
            if cur.rowcount == 1 and after in ("sent", "failed") and nudge.case_id:
                self._event(conn, nudge.team_id, nudge.case_id, at, None,
                            "nudge_sent" if after == "sent" else "nudge_failed",
                            {"kind": nudge.kind, "rung": nudge.rung,
                             **({"error": fields.get("error")} if after == "failed" else {})})
        return cur.rowcount == 1

    def _nudges(self, where: str, params: list[Any]) -> list[Nudge]:
        sql = f"SELECT {NUDGE_COLUMNS} FROM nudges WHERE {where}"
        return [Nudge(*row) for row in self.db.conn.execute(sql, params)]

    # -- the scheduler's lease ---------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, now: str, until: str) -> bool:
        """Hold `name` until `until` unless another holder's lease is still running.

        Two Mend processes on one database (a rolling restart) never both send:
        only the holder schedules and sends nudges.
        """
        with self._tx() as conn:
            conn.execute("INSERT OR IGNORE INTO leases (name, holder, expires_at) "
                         "VALUES (?, '', '')", [name])
            cur = conn.execute(
                "UPDATE leases SET holder = ?, expires_at = ? "
                "WHERE name = ? AND (holder = ? OR expires_at < ?)",
                [holder, until, name, holder, now])
        return cur.rowcount == 1

    def release_lease(self, name: str, holder: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE leases SET expires_at = '' WHERE name = ? AND holder = ?",
                         [name, holder])

    # -- helpers -----------------------------------------------------------
    def _cases(self, where: str, params: list[Any]) -> list[Case]:
        """Cases matching a WHERE clause (with ORDER/LIMIT); callers scope by team."""
        sql = f"SELECT {CASE_COLUMNS} FROM cases WHERE {where}"
        return [Case(*row) for row in self.db.conn.execute(sql, params)]

    def _one(self, where: str, params: list[Any]) -> Case | None:
        found = self._cases(where, params)
        return found[0] if found else None

    @staticmethod
    def _event(conn, team_id, case_id, at, actor_id, kind, detail) -> None:
        conn.execute(INSERT_EVENT, [team_id, case_id, at, actor_id, kind,
                                    json.dumps(detail, ensure_ascii=False)])


def _marks(record: type) -> str:
    return ", ".join("?" for _ in record.__dataclass_fields__)


def _add_timers(conn: sqlite3.Connection, team_id: str, case_id: int,
                timers: tuple[dict[str, Any], ...]) -> None:
    """Queue scheduler timers for a case (dicts with at, kind, due_key, ...)."""
    conn.executemany(
        f"INSERT OR IGNORE INTO timers ({TIMER_COLUMNS}) VALUES ({_marks(Timer)})",
        [tuple(vars(Timer(team_id=team_id, case_id=case_id, **t)).values()) for t in timers])


def _customer_key(name: str | None) -> str | None:
    """Case- and space-insensitive key used to spot repeat customers."""
    return " ".join(name.casefold().split()) if name else None


class Checkpointer(threading.Thread):
    """Copies committed WAL pages into the database file every `every` seconds."""

    def __init__(self, path: str, every: float):
        super().__init__(name="mend-checkpoint", daemon=True)
        self.path = path
        self.every = every
        self._stopping = threading.Event()

    def run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=10)
        try:
            while not self._stopping.wait(self.every):
                try:
                    # PASSIVE: never waits for the writer or for readers.
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    pass  # busy or locked: the next round catches up
        finally:
            conn.close()

    def stop(self) -> None:
        self._stopping.set()
        self.join()


class GroupCommit:
    """Batches the case inserts that arrive together into one commit.

    A commit writes several pages to the WAL (the case, its indexes, its event
    and timers); when many requests come at once most of a case's cost would be
    its own commit. The first case of a batch schedules the commit two event
    loop turns later: every request already received by then joins it. A lone
    case waits only those two turns (microseconds), not a fixed window, and
    each caller gets its answer only once its case is committed.
    """

    def __init__(self, store: Store, most: int = 64):
        self.store = store
        self.most = most
        self._pending: list[tuple[NewCase, asyncio.Future]] = []
        self._timer: asyncio.Handle | None = None

    async def create_case(self, new: NewCase) -> Case:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((new, future))
        if len(self._pending) >= self.most:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_soon(self._next_turn, loop)
        return await future

    def _next_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        # One turn lets the requests whose bytes arrived with ours reach here too.
        self._timer = loop.call_soon(self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            results = self.store.create_cases([new for new, _ in batch])
        except Exception:  # noqa: BLE001 - one bad row must not sink the others
            for new, future in batch:
                self._settle_one(new, future)
            return
        for (_, future), case in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(case)

    def _settle_one(self, new: NewCase, future: asyncio.Future) -> None:
        try:
            case = self.store.create_cases([new])[0]
        except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(case)
