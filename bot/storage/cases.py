"""Cases and their timelines: opening (one at a time or a batch per commit),
cards, compare-and-set changes with their events, checklist steps."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from bot.domain.models import Case, CaseRef, Event, NewCase, StepMark
from bot.domain.vocabulary import CardState, EventKind, Status
from bot.storage.connection import Connection
from bot.storage.rollups import opened_facts
from bot.storage.schema import (
    CASE_COLUMNS,
    INSERT_CASE,
    NEW_CASE_COLUMNS,
    NEW_CASE_FIELDS,
    NEXT_NUMBER,
    add_timers,
    customer_key,
)


class _Abandoned(Exception):
    """A change found a case it also writes to closed: roll the whole change back."""



class Cases(Connection):
    """Cases, events and checklist steps."""

    # -- cases -------------------------------------------------------------
    async def create_case(
        self, team_id: str, fields: dict[str, Any], actor_id: str, at: str
    ) -> Case:
        """Insert a case numbered next in its workspace, with its first event."""
        return self.create_cases_now([NewCase(team_id, fields, actor_id, at)])[0]

    async def create_cases(self, new: list[NewCase]) -> list[Case]:
        """Insert several cases in one transaction (one commit for all of them)."""
        return self.create_cases_now(new)

    def create_cases_now(self, new: list[NewCase]) -> list[Case]:
        """`create_cases` without a coroutine: group commit calls it from a loop callback."""
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
            "customer_key": customer_key(new.fields.get("customer")),
            "status": Status.OPEN,
            "created_at": new.at,
            "updated_at": new.at,
            "card_state": CardState.PENDING,
        }
        cursor = conn.execute(INSERT_CASE, [row["number"], *map(row.get, NEW_CASE_COLUMNS)])
        row.pop("customer_key")
        case = Case(id=cursor.lastrowid, **row)
        detail = {k: new.fields.get(k)
                  for k in ("category", "emotion", "contact", "severity", "owner_id")}
        detail["due"] = new.fields.get("next_followup_at")  # the first follow-up, for stats
        self._event(conn, new.team_id, case.id, new.at, new.actor_id, EventKind.OPENED, detail)
        add_timers(conn, new.team_id, case.id, new.timers)
        if self._fresh is not None:  # its cohort row, known without reading it back
            key = (new.team_id, case.id)
            self._marked.discard(key)
            self._fresh[key] = opened_facts(case)
        return case

    async def case_by_id(self, team_id: str, case_id: int) -> Case | None:
        return self._one("team_id = ? AND id = ?", [team_id, case_id])

    async def case_by_number(self, team_id: str, number: int) -> Case | None:
        return self._one("team_id = ? AND number = ?", [team_id, number])

    async def teams_awaiting_cards(self) -> list[str]:
        """Workspaces with a case whose card is not known to be posted."""
        rows = self.db.execute(
            "SELECT DISTINCT team_id FROM cases WHERE card_state IN (?, ?)",
            [CardState.PENDING, CardState.POSTING]).fetchall()
        return [r[0] for r in rows]

    async def cases_awaiting_card(self, team_id: str, limit: int = 100_000) -> list[Case]:
        """Cases whose card was never posted, or may have been (a post that timed out)."""
        return self._cases("team_id = ? AND card_state IN (?, ?) ORDER BY id LIMIT ?",
                           [team_id, CardState.PENDING, CardState.POSTING, limit])

    async def set_card_state(self, team_id: str, case_id: int, before: str, after: str,
                       at: str) -> bool:
        """Move a case's card between pending and posting (compare-and-set)."""
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE cases SET card_state = ?, card_claimed_at = ? "
                "WHERE team_id = ? AND id = ? AND card_state = ?",
                [after, at, team_id, case_id, before])
        return cur.rowcount == 1

    async def record_card(self, team_id: str, case_id: int, channel: str, ts: str, at: str) -> None:
        """Remember where the case card lives so it can be updated in place."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE cases SET card_channel = ?, card_ts = ?, card_state = ? "
                "WHERE team_id = ? AND id = ?",
                [channel, ts, CardState.POSTED, team_id, case_id],
            )
            self._event(conn, team_id, case_id, at, None, EventKind.CARD_POSTED, {"ts": ts})

    async def record_card_failed(self, team_id: str, case_id: int, error: str, at: str) -> None:
        """The card could not be posted for a reason a retry will not fix."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE cases SET card_state = ? WHERE team_id = ? AND id = ?",
                [CardState.FAILED, team_id, case_id],
            )
            self._event(conn, team_id, case_id, at, None, EventKind.CARD_FAILED, {"error": error})

    async def recent_events(self, team_id: str, case_id: int, limit: int,
                      kind: str | None = None) -> tuple[list[Event], int]:
        """The case's last `limit` events (oldest first) and how many it has in all."""
        where = "team_id = ? AND case_id = ?" + (" AND kind = ?" if kind else "")
        params = [team_id, case_id, *([kind] if kind else [])]
        total = self.db.conn.execute(f"SELECT COUNT(*) FROM events WHERE {where}",
                                     params).fetchone()[0]
        rows = self.db.query(f"SELECT * FROM events WHERE {where} ORDER BY id DESC LIMIT ?",
                             [*params, limit])
        return [Event.from_row(r) for r in rows][::-1], total

    async def events(self, team_id: str, case_id: int) -> list[Event]:
        rows = self.db.query(
            "SELECT * FROM events WHERE team_id = ? AND case_id = ? ORDER BY id",
            [team_id, case_id],
        )
        return [Event.from_row(r) for r in rows]

    # -- lifecycle -----------------------------------------------------------
    async def change_case(self, team_id: str, case_id: int, *, changes: dict[str, Any],
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
                    self._tick(conn, team_id, case_id, step, actor_id, at)
                self._event(conn, team_id, case_id, at, actor_id, kind, detail)
                for step in untick:  # after the change they follow from
                    self._untick(conn, team_id, case_id, step, actor_id, at, reason=kind)
                for other, other_kind, other_detail in also:
                    self._touch_open(conn, team_id, other, at)
                    self._event(conn, team_id, other, at, actor_id, other_kind, other_detail)
                add_timers(conn, team_id, case_id, timers)
                return Case(*rows[0])
        except _Abandoned:
            return None

    async def add_event(self, team_id: str, case_id: int, actor_id: str | None, kind: str,
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

    async def mark_step(self, team_id: str, case_id: int, step: str, actor_id: str,
                        at: str) -> bool:
        """Tick a checklist step; False if it was already ticked."""
        with self._tx() as conn:
            return self._tick(conn, team_id, case_id, step, actor_id, at)

    async def unmark_step(self, team_id: str, case_id: int, step: str, actor_id: str,
                          at: str) -> bool:
        """Untick a checklist step; False if it was not ticked."""
        with self._tx() as conn:
            return self._untick(conn, team_id, case_id, step, actor_id, at)

    def _tick(self, conn: sqlite3.Connection, team_id: str, case_id: int, step: str,
              actor_id: str | None, at: str) -> bool:
        """Tick a step with its event, unless it is ticked already."""
        if conn.execute("INSERT OR IGNORE INTO steps (team_id, case_id, step, done_by, "
                        "done_at) VALUES (?, ?, ?, ?, ?)",
                        [team_id, case_id, step, actor_id, at]).rowcount != 1:
            return False
        self._event(conn, team_id, case_id, at, actor_id, EventKind.STEP_DONE, {"step": step})
        return True

    def _untick(self, conn: sqlite3.Connection, team_id: str, case_id: int, step: str,
                actor_id: str | None, at: str, reason: str | None = None) -> bool:
        """Untick a step with its event (saying why, when a change did it)."""
        if conn.execute("DELETE FROM steps WHERE team_id = ? AND case_id = ? AND step = ?",
                        [team_id, case_id, step]).rowcount != 1:
            return False
        detail = {"step": step, **({"reason": reason} if reason else {})}
        self._event(conn, team_id, case_id, at, actor_id, EventKind.STEP_UNDONE, detail)
        return True

    @staticmethod
    def _touch_open(conn: sqlite3.Connection, team_id: str, case_id: int, at: str) -> None:
        """Another case a change writes to must still be open or resolved."""
        if conn.execute("UPDATE cases SET updated_at = ? WHERE team_id = ? AND id = ? "
                        "AND status IN ('open', 'resolved')",
                        [at, team_id, case_id]).rowcount != 1:
            raise _Abandoned  # rolls the whole change back

    async def steps(self, team_id: str, case_id: int) -> dict[str, StepMark]:
        rows = self.db.conn.execute(
            "SELECT step, done_by, done_at FROM steps WHERE team_id = ? AND case_id = ?",
            [team_id, case_id])
        return {step: StepMark(step, by, at) for step, by, at in rows}

    async def open_count(self, team_id: str, owner_id: str) -> int:
        """How many open cases `owner_id` owns (their workload)."""
        # "status != closed" lets SQLite use the partial index of live cases by owner.
        return self.db.conn.execute(
            "SELECT COUNT(*) FROM cases WHERE team_id = ? AND owner_id = ? "
            "AND status != 'closed' AND status = ?", [team_id, owner_id, Status.OPEN]).fetchone()[0]

    async def customer_history(self, team_id: str, customer: str, since: str,
                         limit: int = 5) -> list[CaseRef]:
        """The customer's newest few cases that are open or opened since `since`
        (one indexed query: it runs while the agent waits for the ack)."""
        rows = self.db.conn.execute(
            "SELECT number, owner_id, customer, status, created_at FROM cases "
            "WHERE team_id = ? AND customer_key = ? AND (status = ? OR created_at >= ?) "
            "ORDER BY created_at DESC LIMIT ?",
            [team_id, customer_key(customer), Status.OPEN, since, limit])
        return [CaseRef(*row) for row in rows]



class GroupCommit:
    """Batches the case inserts that arrive together into one commit.

    A commit writes several pages to the WAL (the case, its indexes, its event
    and timers); when many requests come at once most of a case's cost would be
    its own commit. The first case of a batch schedules the commit two event
    loop turns later: every request already received by then joins it. A lone
    case waits only those two turns (microseconds), not a fixed window, and
    each caller gets its answer only once its case is committed.
    """

    def __init__(self, store: Cases, most: int = 64):
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
            results = self.store.create_cases_now([new for new, _ in batch])
        except Exception:  # noqa: BLE001 - one bad row must not sink the others
            for new, future in batch:
                self._settle_one(new, future)
            return
        for (_, future), case in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(case)

    def _settle_one(self, new: NewCase, future: asyncio.Future) -> None:
        try:
            case = self.store.create_cases_now([new])[0]
        except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(case)

