"""Cases and their timelines: opening (one at a time or a batch per commit),
cards, compare-and-set changes with their events, checklist steps."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, NamedTuple, Protocol

from bot.domain.models import (
    HISTORY_CASES,
    Case,
    CaseRef,
    Event,
    NewCase,
    Opening,
    StepMark,
    Written,
    repeat_of,
)
from bot.domain.vocabulary import CardState, EventKind, Status
from bot.domain.workspace import SETTINGS, Workspace
from bot.storage.engine import Engine, Tx
from bot.storage.rollups import opened_facts
from bot.storage.schema import (
    CASE_COLUMNS,
    EVENT_COLUMNS,
    INSERT_CASE,
    NEW_CASE_COLUMNS,
    NEW_CASE_FIELDS,
    RECORD_REQUEST,
    customer_key,
)

# A card claimed (pending -> posting) with what it shows, in one statement: the case as
# claimed, whether it has checklist steps (a case just opened has none: they are read
# only when there are some) and its workspace's settings.
CLAIM_CARD = (
    "UPDATE cases SET card_state = ?, card_claimed_at = ? "
    "WHERE team_id = ? AND id = ? AND card_state = ? "
    f"RETURNING {CASE_COLUMNS}, EXISTS (SELECT 1 FROM steps s "
    "WHERE s.team_id = cases.team_id AND s.case_id = cases.id)"
    + "".join(f", (SELECT w.{name} FROM workspaces w WHERE w.team_id = cases.team_id)"
              for name in SETTINGS))
CASE_WIDTH = len(Case.__dataclass_fields__)
WORKSPACE_SETTINGS = f"SELECT {', '.join(SETTINGS)} FROM workspaces WHERE team_id = ?"
# A customer's newest cases that are open or were opened since a moment (indexed).
CUSTOMER_HISTORY = (
    "SELECT number, owner_id, customer, status, created_at FROM cases "
    "WHERE team_id = ? AND customer_key = ? AND (status = ? OR created_at >= ?) "
    "ORDER BY created_at DESC, number DESC LIMIT ?")


class ClaimedCard(NamedTuple):
    """A card claimed for posting, and what it shows."""

    case: Case
    steps: dict[str, StepMark]
    workspace: Workspace


class _Abandoned(Exception):
    """A change found a case it also writes to closed: roll the whole change back."""


class Cases(Engine):
    """Cases, events and checklist steps."""

    # -- cases -------------------------------------------------------------
    async def create_case(
        self, team_id: str, fields: dict[str, Any], actor_id: str, at: str
    ) -> Case:
        """Insert a case numbered next in its workspace, with its first event."""
        return (await self.create_cases([NewCase(team_id, fields, actor_id, at)]))[0]

    async def create_cases(self, new: list[NewCase]) -> list[Case]:
        """Insert several cases in one transaction (one commit for all of them)."""
        return [w.case for w in await self.open_cases([Opening.fixed(n) for n in new])]

    async def open_cases(self, openings: list[Opening]) -> list[Written]:
        """Open several cases in one transaction (one commit for all of them), each made
        from its workspace's settings and marked a repeat from its customer's history,
        both read in that transaction."""
        async with self._tx() as tx:
            for team_id in sorted({item.team_id for item in openings}):
                await tx.run("INSERT OR IGNORE INTO workspaces (team_id, created_at) "
                             "VALUES (?, ?)", [team_id, openings[0].at])
            return [await self._open_one(tx, item) for item in openings]

    async def _open_one(self, tx: Tx, opening: Opening) -> Written:
        rows = await tx.rows(WORKSPACE_SETTINGS, [opening.team_id])
        ws = Workspace(opening.team_id, *(rows[0] if rows else (None,) * len(SETTINGS)))
        new = opening.draft(ws)
        history: tuple[CaseRef, ...] = ()
        if opening.customer:
            history = tuple(CaseRef(*row) for row in await tx.rows(
                CUSTOMER_HISTORY, [opening.team_id, customer_key(opening.customer),
                                   Status.OPEN, opening.since, HISTORY_CASES]))
            new = replace(new, fields={**new.fields,
                                       "repeat_of": repeat_of(history, opening.since)})
        return Written(await self._insert_case(tx, new), ws, history)

    async def _insert_case(self, tx: Tx, new: NewCase) -> Case:
        # The Case is built from what was written: reading it back (RETURNING)
        # cost more than the insert itself.
        row = {
            **{k: new.fields.get(k) for k in NEW_CASE_FIELDS},
            "team_id": new.team_id,
            "number": await self._next_number(tx, new.team_id),
            "customer_key": customer_key(new.fields.get("customer")),
            "status": Status.OPEN,
            "created_at": new.at,
            "updated_at": new.at,
            "card_state": CardState.PENDING,
        }
        case_id = await tx.insert(INSERT_CASE, [row["number"], *map(row.get, NEW_CASE_COLUMNS)])
        row.pop("customer_key")
        case = Case(id=case_id, **row)
        detail = {k: new.fields.get(k)
                  for k in ("category", "emotion", "contact", "severity", "owner_id")}
        detail["due"] = new.fields.get("next_followup_at")  # the first follow-up, for stats
        await self._event(tx, new.team_id, case.id, new.at, new.actor_id, EventKind.OPENED,
                          detail)
        await self._add_timers(tx, new.team_id, case.id, new.timers)
        if new.request_key:  # the request that opened it: what its retry looks up
            await tx.run(RECORD_REQUEST, [case.id, new.request_key])
        # Its cohort row, known without reading it back.
        tx.marked.discard((new.team_id, case.id))
        tx.fresh[(new.team_id, case.id)] = opened_facts(case)
        return case

    async def case_by_id(self, team_id: str, case_id: int) -> Case | None:
        return await self._one("team_id = ? AND id = ?", [team_id, case_id])

    async def case_by_number(self, team_id: str, number: int) -> Case | None:
        return await self._one("team_id = ? AND number = ?", [team_id, number])

    async def teams_awaiting_cards(self) -> list[str]:
        """Workspaces with a case whose card is not known to be posted."""
        rows = await self._rows("SELECT DISTINCT team_id FROM cases WHERE card_state IN (?, ?)",
                                [CardState.PENDING, CardState.POSTING])
        return [r[0] for r in rows]

    async def cases_awaiting_card(self, team_id: str, limit: int = 100_000) -> list[Case]:
        """Cases whose card was never posted, or may have been (a post that timed out)."""
        return await self._cases("team_id = ? AND card_state IN (?, ?) ORDER BY id LIMIT ?",
                                 [team_id, CardState.PENDING, CardState.POSTING, limit])

    async def set_card_state(self, team_id: str, case_id: int, before: str, after: str,
                       at: str) -> bool:
        """Move a case's card between pending and posting (compare-and-set)."""
        return await self._write(
            "UPDATE cases SET card_state = ?, card_claimed_at = ? "
            "WHERE team_id = ? AND id = ? AND card_state = ?",
            [after, at, team_id, case_id, before]) == 1

    async def claim_card(self, team_id: str, case_id: int, at: str) -> ClaimedCard | None:
        """pending -> posting (compare-and-set), with the case as claimed, its steps and
        its workspace's settings; None when its card is not pending."""
        found = await self._write_rows(CLAIM_CARD, [CardState.POSTING, at, team_id, case_id,
                                                    CardState.PENDING])
        if not found:
            return None
        row = found[0]
        steps = await self.steps(team_id, case_id) if row[CASE_WIDTH] else {}
        return ClaimedCard(Case(*row[:CASE_WIDTH]), steps,
                           Workspace(team_id, *row[CASE_WIDTH + 1:]))

    async def record_card(self, team_id: str, case_id: int, channel: str, ts: str, at: str) -> None:
        """Remember where the case card lives so it can be updated in place."""
        async with self._tx() as tx:
            await tx.run(
                "UPDATE cases SET card_channel = ?, card_ts = ?, card_state = ? "
                "WHERE team_id = ? AND id = ?",
                [channel, ts, CardState.POSTED, team_id, case_id],
            )
            await self._event(tx, team_id, case_id, at, None, EventKind.CARD_POSTED, {"ts": ts})

    async def record_card_failed(self, team_id: str, case_id: int, error: str, at: str) -> None:
        """The card could not be posted for a reason a retry will not fix."""
        async with self._tx() as tx:
            await tx.run("UPDATE cases SET card_state = ? WHERE team_id = ? AND id = ?",
                         [CardState.FAILED, team_id, case_id])
            await self._event(tx, team_id, case_id, at, None, EventKind.CARD_FAILED,
                              {"error": error})

    async def recent_events(self, team_id: str, case_id: int, limit: int,
                      kind: str | None = None) -> tuple[list[Event], int]:
        """The case's last `limit` events (oldest first) and how many it has in all."""
        where = "team_id = ? AND case_id = ?" + (" AND kind = ?" if kind else "")
        params = [team_id, case_id, *([kind] if kind else [])]
        total = await self._value(f"SELECT COUNT(*) FROM events WHERE {where}", params)
        found = await self._events(f"{where} ORDER BY id DESC LIMIT ?", [*params, limit])
        return found[::-1], total

    async def events(self, team_id: str, case_id: int) -> list[Event]:
        return await self._events("team_id = ? AND case_id = ? ORDER BY id", [team_id, case_id])

    async def _events(self, where: str, params: list[Any]) -> list[Event]:
        rows = await self._rows(f"SELECT {EVENT_COLUMNS} FROM events WHERE {where}", params)
        return [Event.from_row(dict(zip(Event.__dataclass_fields__, row, strict=True)))
                for row in rows]

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
            async with self._tx() as tx:
                if once_key and await self._seen(tx, team_id, once_key):
                    return None
                rows = await tx.rows(
                    f"UPDATE cases SET {assignments}, updated_at = ? "
                    f"WHERE team_id = ? AND id = ?{checks} RETURNING {CASE_COLUMNS}",
                    params,
                )
                if not rows:
                    return None
                await self._after_change(tx, team_id, case_id, actor_id, kind, detail, at,
                                         once_key, tick, untick, also)
                await self._add_timers(tx, team_id, case_id, timers)
                return Case(*rows[0])
        except _Abandoned:
            return None

    async def _after_change(self, tx: Tx, team_id: str, case_id: int, actor_id: str | None,
                            kind: str, detail: dict[str, Any], at: str, once_key: str | None,
                            tick: tuple[str, ...], untick: tuple[str, ...],
                            also: tuple[tuple[int, str, dict[str, Any]], ...]) -> None:
        """What a change writes besides the case itself (see `change_case`)."""
        if once_key:
            await tx.run("INSERT INTO seen (team_id, key, at) VALUES (?, ?, ?)",
                         [team_id, once_key, at])
        for step in tick:
            await self._tick(tx, team_id, case_id, step, actor_id, at)
        await self._event(tx, team_id, case_id, at, actor_id, kind, detail)
        for step in untick:  # after the change they follow from
            await self._untick(tx, team_id, case_id, step, actor_id, at, reason=kind)
        for other, other_kind, other_detail in also:
            await self._touch_open(tx, team_id, other, at)
            await self._event(tx, team_id, other, at, actor_id, other_kind, other_detail)

    async def add_event(self, team_id: str, case_id: int, actor_id: str | None, kind: str,
                  detail: dict[str, Any], at: str, once_key: str | None = None) -> bool:
        """A timeline entry that changes no field (a note). With `once_key`, an entry
        already added under that key (a retried submission) is not added again."""
        async with self._tx() as tx:
            if once_key and await tx.run(
                    "INSERT OR IGNORE INTO seen (team_id, key, at) VALUES (?, ?, ?)",
                    [team_id, once_key, at]) != 1:
                return False
            await tx.run("UPDATE cases SET updated_at = ? WHERE team_id = ? AND id = ?",
                         [at, team_id, case_id])
            await self._event(tx, team_id, case_id, at, actor_id, kind, detail)
        return True

    async def mark_step(self, team_id: str, case_id: int, step: str, actor_id: str,
                        at: str) -> bool:
        """Tick a checklist step; False if it was already ticked."""
        async with self._tx() as tx:
            return await self._tick(tx, team_id, case_id, step, actor_id, at)

    async def unmark_step(self, team_id: str, case_id: int, step: str, actor_id: str,
                          at: str) -> bool:
        """Untick a checklist step; False if it was not ticked."""
        async with self._tx() as tx:
            return await self._untick(tx, team_id, case_id, step, actor_id, at)

    async def _tick(self, tx: Tx, team_id: str, case_id: int, step: str,
                    actor_id: str | None, at: str) -> bool:
        """Tick a step with its event, unless it is ticked already."""
        if await tx.run("INSERT OR IGNORE INTO steps (team_id, case_id, step, done_by, "
                        "done_at) VALUES (?, ?, ?, ?, ?)",
                        [team_id, case_id, step, actor_id, at]) != 1:
            return False
        await self._event(tx, team_id, case_id, at, actor_id, EventKind.STEP_DONE,
                          {"step": step})
        return True

    async def _untick(self, tx: Tx, team_id: str, case_id: int, step: str,
                      actor_id: str | None, at: str, reason: str | None = None) -> bool:
        """Untick a step with its event (saying why, when a change did it)."""
        if await tx.run("DELETE FROM steps WHERE team_id = ? AND case_id = ? AND step = ?",
                        [team_id, case_id, step]) != 1:
            return False
        detail = {"step": step, **({"reason": reason} if reason else {})}
        await self._event(tx, team_id, case_id, at, actor_id, EventKind.STEP_UNDONE, detail)
        return True

    @staticmethod
    async def _touch_open(tx: Tx, team_id: str, case_id: int, at: str) -> None:
        """Another case a change writes to must still be open or resolved."""
        if await tx.run("UPDATE cases SET updated_at = ? WHERE team_id = ? AND id = ? "
                        "AND status IN ('open', 'resolved')", [at, team_id, case_id]) != 1:
            raise _Abandoned  # rolls the whole change back

    async def steps(self, team_id: str, case_id: int) -> dict[str, StepMark]:
        rows = await self._rows(
            "SELECT step, done_by, done_at FROM steps WHERE team_id = ? AND case_id = ?",
            [team_id, case_id])
        return {step: StepMark(step, by, at) for step, by, at in rows}

    async def open_count(self, team_id: str, owner_id: str) -> int:
        """How many open cases `owner_id` owns (their workload)."""
        # "status != closed" lets SQLite use the partial index of live cases by owner.
        return await self._value(
            "SELECT COUNT(*) FROM cases WHERE team_id = ? AND owner_id = ? "
            "AND status != 'closed' AND status = ?", [team_id, owner_id, Status.OPEN])

    async def customer_history(self, team_id: str, customer: str, since: str,
                         limit: int = 5) -> list[CaseRef]:
        """The customer's newest few cases that are open or opened since `since`
        (one indexed query: it runs while the agent waits for the ack)."""
        rows = await self._rows(CUSTOMER_HISTORY,
                                [team_id, customer_key(customer), Status.OPEN, since, limit])
        return [CaseRef(*row) for row in rows]


class Writer:
    """What Recovery opens cases through (`open_case`); `create_case` for a case whose
    fields depend on nothing read."""

    async def open_case(self, opening: Opening) -> Written:
        raise NotImplementedError

    async def create_case(self, new: NewCase) -> Case:
        return (await self.open_case(Opening.fixed(new))).case


class OneByOne(Writer):
    """Opens each case in a transaction of its own, as it comes (PostgreSQL's writer)."""

    def __init__(self, store: Cases):
        self.store = store

    async def open_case(self, opening: Opening) -> Written:
        return (await self.store.open_cases([opening]))[0]


class AsyncGroupCommit(Writer):
    """Group commit for an engine whose writes wait on the network (PostgreSQL): the
    cases that arrive while a batch is being written form the next batch, written in
    one transaction when it is done. One batch in flight at a time; a lone case is
    written at once."""

    def __init__(self, store: Cases, most: int = 64):
        self.store = store
        self.most = most
        self._pending: list[tuple[Opening, asyncio.Future]] = []
        self._writing = False

    async def open_case(self, new: Opening) -> Written:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((new, future))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._write_all())
        return await future

    async def _write_all(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[:self.most], self._pending[self.most:]
                try:
                    results = await self.store.open_cases([new for new, _ in batch])
                except Exception:  # noqa: BLE001 - one bad row must not sink the others
                    for new, future in batch:
                        await _settle(future, self.store.open_cases([new]))
                    continue
                for (_, future), case in zip(batch, results, strict=True):
                    _hand_over(future, case)
        finally:
            self._writing = False


async def _settle(future: asyncio.Future, work) -> None:
    try:
        [case] = await work
    except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
        _hand_over(future, error=exc)
    else:
        _hand_over(future, case)


def _hand_over(future: asyncio.Future, case: Written | None = None,
               error: Exception | None = None) -> None:
    """Give the waiting caller its case, or the error that kept it from being written
    (unless the caller has stopped waiting)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(case)


class BatchWriter(Protocol):
    def open_cases_now(self, openings: list[Opening]) -> list[Written]:
        """`open_cases` at once, without a coroutine (SQLite's Store)."""


class GroupCommit(Writer):
    """Batches the case inserts that arrive together into one commit.

    A commit writes several pages to the WAL (the case, its indexes, its event
    and timers); when many requests come at once most of a case's cost would be
    its own commit. The first case of a batch schedules the commit two event
    loop turns later: every request already received by then joins it. A lone
    case waits only those two turns (microseconds), not a fixed window, and
    each caller gets its answer only once its case is committed.
    """

    def __init__(self, store: BatchWriter, most: int = 64):
        self.store = store
        self.most = most
        self._pending: list[tuple[Opening, asyncio.Future]] = []
        self._timer: asyncio.Handle | None = None

    async def open_case(self, new: Opening) -> Written:
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
            results = self.store.open_cases_now([new for new, _ in batch])
        except Exception:  # noqa: BLE001 - one bad row must not sink the others
            for new, future in batch:
                self._settle_one(new, future)
            return
        for (_, future), case in zip(batch, results, strict=True):
            _hand_over(future, case)

    def _settle_one(self, new: Opening, future: asyncio.Future) -> None:
        try:
            case = self.store.open_cases_now([new])[0]
        except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
            _hand_over(future, error=exc)
        else:
            _hand_over(future, case)

