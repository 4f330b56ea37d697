"""The scheduler's side: the timer queue, the outbox of nudges and digests, the lease."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.domain.models import Case, Nudge, Timer
from bot.domain.times import from_iso, to_iso
from bot.domain.vocabulary import EventKind
from bot.storage.engine import Engine
from bot.storage.schema import (
    CASE_COLUMNS_C,
    INSERT_TIMER,
    NUDGE_COLUMNS,
    TIMER_COLUMNS,
    TIMER_COLUMNS_T,
)

MOVED_CHUNK = 400  # ids per statement (well under SQLite's parameter limit)
INSERT_NUDGES = ("INSERT OR IGNORE INTO nudges (team_id, case_id, kind, rung, due_key, state, "
                 "attempts, send_after, created_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)")


TIMER_FIELDS = tuple(Timer.__dataclass_fields__)
CASE_FIELDS = tuple(Case.__dataclass_fields__)
_new = object.__new__


def timers_with_cases(rows: list[tuple]) -> list[tuple[Timer, Case]]:
    """(Timer, Case) pairs from rows of the timer's columns then the case's.

    Built field by field: a frozen dataclass's __init__ sets each of a case's 31 fields
    through object.__setattr__, six times slower, and a sweep reads a thousand."""
    width, pairs = len(TIMER_FIELDS), []
    for row in rows:
        timer, case = _new(Timer), _new(Case)
        timer.__dict__.update(zip(TIMER_FIELDS, row[:width], strict=True))
        case.__dict__.update(zip(CASE_FIELDS, row[width:], strict=True))
        pairs.append((timer, case))
    return pairs


def first_nudges(*batches: list[tuple[int, dict[str, Any]]]) -> dict[int, str]:
    """Case id -> due time of each follow-up whose first nudge (rung 0, sent or skipped)
    is among the sweep's rows."""
    return {case_id: row["due_key"] for batch in batches for case_id, row in batch
            if row["rung"] == 0 and row["kind"] == "followup"}


def mark_moved(tx: Any, team_id: str, firsts: dict[int, str], ids: list[int],
               current: dict[int, str | None]) -> None:
    """Mark the cases of `ids` whose follow-up in force (`current`, read in the
    transaction; a case missing from it is marked too) is not the one nudged."""
    for case_id in ids:
        if case_id not in current or current[case_id] != firsts[case_id]:
            tx.marked.add((team_id, case_id))


class Outbox(Engine):
    """Timers, nudges and digests waiting to go out, and the sweeper's lease."""

    # -- follow-up nudges -------------------------------------------------------------
    async def due_timers(self, team_id: str, now: str,
                         limit: int = 5000) -> list[tuple[Timer, Case]]:
        """Timers due by `now`, each with its case: a range at the front of the queue."""
        if self.d.name == "postgres":
            # The due range first, then each case by its key: PostgreSQL would otherwise
            # hash-join the whole workspace's cases for a thousand due timers.
            sql = (f"SELECT {TIMER_COLUMNS_T}, {CASE_COLUMNS_C} FROM (SELECT * FROM timers "
                   "WHERE team_id = ? AND at <= ? ORDER BY at LIMIT ?) t CROSS JOIN LATERAL "
                   "(SELECT * FROM cases WHERE id = t.case_id AND team_id = t.team_id "
                   "LIMIT 1) c ORDER BY t.at")
        else:
            sql = (f"SELECT {TIMER_COLUMNS_T}, {CASE_COLUMNS_C} FROM timers t "
                   "JOIN cases c ON c.id = t.case_id AND c.team_id = t.team_id "
                   "WHERE t.team_id = ? AND t.at <= ? ORDER BY t.at LIMIT ?")
        return timers_with_cases(await self._rows(sql, [team_id, now, limit]))

    async def due_people(self, team_id: str, now: str, limit: int = 5000) -> list[str]:
        """Whose timezones planning `due_timers(team_id, now, limit)` needs: each case's
        owner, else its reporter (the ids alone, not the cases)."""
        cases = ("CROSS JOIN LATERAL (SELECT owner_id, reporter_id FROM cases WHERE "
                 "id = t.case_id AND team_id = t.team_id LIMIT 1) c"
                 if self.d.name == "postgres" else
                 "JOIN cases c ON c.id = t.case_id AND c.team_id = t.team_id")
        rows = await self._rows(
            "SELECT DISTINCT COALESCE(NULLIF(c.owner_id, ''), c.reporter_id) FROM "
            "(SELECT case_id, team_id FROM timers WHERE team_id = ? AND at <= ? "
            f"ORDER BY at LIMIT ?) t {cases}", [team_id, now, limit])
        return [person for (person,) in rows]

    async def timers_for_case(self, team_id: str, case_id: int) -> list[Timer]:
        """A case's pending timers (for tests and the timeline; not indexed by case)."""
        rows = await self._rows(
            f"SELECT {TIMER_COLUMNS} FROM timers WHERE team_id = ? AND case_id = ? ORDER BY at",
            [team_id, case_id])
        return [Timer(*row) for row in rows]

    async def apply_sweep(self, team_id: str, processed: list[Timer], timers: list[Timer],
                    send: list[tuple[int, dict[str, Any]]],
                    skip: list[tuple[int, dict[str, Any]]], at: str) -> None:
        """Record a sweep's decisions in one transaction.

        The processed timers go, the next ones come, and the outbox gets its
        rows. A timer is deleted by its full key, so if two schedulers raced
        only one of them deletes it; the outbox's unique key (case, kind, due
        time, rung) makes sure a rung is enqueued once whatever happens.
        """
        nudges = [(team_id, case_id, row["kind"], row["rung"], row["due_key"], state, at, at)
                  for rows, state in ((send, "pending"), (skip, "skipped"))
                  for case_id, row in rows]
        async with self._tx() as tx:
            if processed:
                await tx.many(
                    "DELETE FROM timers WHERE team_id = ? AND at = ? AND case_id = ? "
                    "AND kind = ? AND due_key = ?",
                    [(t.team_id, t.at, t.case_id, t.kind, t.due_key) for t in processed])
            if timers:
                await tx.many(INSERT_TIMER, [tuple(vars(t).values()) for t in timers])
            if nudges:
                await tx.many(INSERT_NUDGES, nudges)
            await self._mark_moved(tx, team_id, first_nudges(send, skip))

    async def _mark_moved(self, tx: Any, team_id: str, firsts: dict[int, str]) -> None:
        """Mark for the roll-ups the cases whose follow-up got its first nudge but is no
        longer the case's own (read in the transaction, which holds SQLite's write lock).

        A follow-up's first nudge counts in a case's figures only once the case has
        moved on from that follow-up (the one still in force is counted when asked);
        the event that moves it reads the case again. So for a follow-up still in
        force, reading the case again here would change nothing (and cost a thousand
        cohort rows a sweep)."""
        ids = sorted(firsts)
        for start in range(0, len(ids), MOVED_CHUNK):
            chunk = ids[start:start + MOVED_CHUNK]
            current = dict(await tx.rows(
                "SELECT id, next_followup_at FROM cases WHERE team_id = ? AND id IN "
                f"({', '.join('?' * len(chunk))})", [team_id, *chunk]))
            mark_moved(tx, team_id, firsts, chunk, current)

    async def sendable_nudges(self, team_id: str, now: str, limit: int = 500) -> list[Nudge]:
        return await self._nudges("team_id = ? AND state = 'pending' AND send_after <= ? "
                            "ORDER BY send_after, id LIMIT ?", [team_id, now, limit])

    async def nudges_in_doubt(self, team_id: str) -> list[Nudge]:
        """Nudges claimed for sending whose outcome was never recorded."""
        return await self._nudges("team_id = ? AND state = 'sending' ORDER BY id", [team_id])

    async def nudges_for_case(self, team_id: str, case_id: int) -> list[Nudge]:
        return await self._nudges("team_id = ? AND case_id = ? ORDER BY id", [team_id, case_id])

    async def claim_nudge(self, nudge: Nudge, channel: str, thread_ts: str | None, at: str) -> bool:
        """pending -> sending, recorded before the message goes out."""
        return await self._nudge_state(nudge, "pending", "sending", at, channel=channel,
                                 thread_ts=thread_ts, claimed_at=at,
                                 attempts=nudge.attempts + 1)

    async def nudge_sent(self, nudge: Nudge, ts: str, at: str) -> bool:
        return await self._nudge_state(nudge, "sending", "sent", at, sent_ts=ts, sent_at=at)

    async def nudge_retry(self, nudge: Nudge, send_after: str, error: str, at: str) -> bool:
        retried = await self._nudge_state(nudge, "sending", "pending", at,
                                          send_after=send_after, error=error)
        if retried:
            self._notify("nudge.retried")
        return retried

    async def nudge_dropped(self, nudge: Nudge, state: str, error: str, at: str,
                      before: str = "pending") -> bool:
        """A nudge that will never be sent (case moved on, or Slack refused for good)."""
        return await self._nudge_state(nudge, before, state, at, error=error)

    async def _nudge_state(self, nudge: Nudge, before: str, after: str, at: str,
                           **fields: Any) -> bool:
        sets = ", ".join(f"{k} = ?" for k in fields)
        if after not in ("sent", "failed"):  # a claim or a retry: one statement
            return await self._write(
                f"UPDATE nudges SET state = ?{', ' if sets else ''}{sets} "
                f"WHERE {self._claimable('team_id = ? AND id = ? AND state = ?')}",
                [after, *fields.values(), nudge.team_id, nudge.id, before]) == 1
        async with self._tx() as tx:
            changed = await tx.run(
                f"UPDATE nudges SET state = ?{', ' if sets else ''}{sets} "
                f"WHERE {self._claimable('team_id = ? AND id = ? AND state = ?')}",
                [after, *fields.values(), nudge.team_id, nudge.id, before]) == 1
            if changed and after in ("sent", "failed") and nudge.case_id:
                await self._event(
                    tx, nudge.team_id, nudge.case_id, at, None,
                    EventKind.NUDGE_SENT if after == "sent" else EventKind.NUDGE_FAILED,
                    {"kind": nudge.kind, "rung": nudge.rung,
                     **({"error": fields.get("error")} if after == "failed" else {})})
            if changed and after in ("sent", "failed"):
                tx.topics.append(f"nudge.{after}")
        return changed

    def _claimable(self, where: str) -> str:
        """The WHERE clause of an outbox row's compare-and-set (PostgreSQL skips a row
        another replica has locked instead of waiting for it)."""
        return where

    async def _nudges(self, where: str, params: list[Any]) -> list[Nudge]:
        sql = f"SELECT {NUDGE_COLUMNS} FROM nudges WHERE {where}"
        return [Nudge(*row) for row in await self._rows(sql, params)]

    # -- the scheduler's lease ---------------------------------------------------------
    async def acquire_lease(self, name: str, holder: str, now: str, until: str) -> bool:
        """Hold `name` until `until` unless another holder's lease is still running.

        Two Mend processes on one database (a rolling restart) never both send:
        only the holder schedules and sends nudges.
        """
        async with self._tx() as tx:
            await tx.run("INSERT OR IGNORE INTO leases (name, holder, expires_at) "
                         "VALUES (?, '', '')", [name])
            return await tx.run(
                "UPDATE leases SET holder = ?, expires_at = ? "
                "WHERE name = ? AND (holder = ? OR expires_at < ?)",
                [holder, until, name, holder, now]) == 1

    async def lease_holder(self, name: str, now: str) -> str | None:
        """Who holds lease `name` at `now` (None: nobody, or it ran out)."""
        row = await self._row("SELECT holder, expires_at FROM leases WHERE name = ?", [name])
        return row[0] if row and row[0] and row[1] >= now else None

    async def outbox_backlog(self) -> tuple[int, str | None]:
        """Nudges and digests not sent yet, across every workspace: how many, and when
        the oldest was queued (None when there are none). For operations' metrics, read
        from the database so that every replica reports the same."""
        count, oldest = 0, None
        for (team_id,) in await self._rows("SELECT team_id FROM workspaces"):
            n, first = await self._row(
                "SELECT COUNT(*), MIN(created_at) FROM nudges WHERE team_id = ? "
                "AND state IN ('pending', 'sending')", [team_id])
            count += n
            if first and (oldest is None or first < oldest):
                oldest = first
        return count, oldest

    async def release_lease(self, name: str, holder: str) -> None:
        async with self._tx() as tx:
            await tx.run("UPDATE leases SET expires_at = '' WHERE name = ? AND holder = ?",
                         [name, holder])


    async def enqueue_digest(self, team_id: str, week: str, at: str) -> bool:
        """The digest of one slot (the workspace's digest day and time in `week`) into
        the outbox: once per slot, and never within a day of the last one, so moving
        the digest later in the week moves this week's digest rather than dropping it,
        and moving it later on the day it went out does not send it again."""
        async with self._tx() as tx:
            day, clock, tz = (await tx.rows(
                "SELECT digest_day, digest_time, tz FROM workspaces WHERE team_id = ?",
                [team_id]) or [(None, None, None)])[0]
            slot = f"{week} {day or 'mon'} {clock or '09:00'} {tz or 'UTC'}"
            recent = await tx.rows(
                "SELECT 1 FROM nudges WHERE team_id = ? AND kind = 'digest' AND case_id = 0 "
                "AND state IN ('pending', 'sending', 'sent') AND created_at > ? LIMIT 1",
                [team_id, to_iso(from_iso(at) - timedelta(days=1))])
            if recent:
                return False
            return await tx.run(INSERT_NUDGES, [team_id, 0, "digest", 0, slot, "pending",
                                                at, at]) == 1

