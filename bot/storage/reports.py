"""Reads for the leads' views: lists in urgency order, workload, cohorts, export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from bot.domain.models import Case, CaseFilter, Event
from bot.domain.rollups import Sums
from bot.storage.cohort import cohort_facts_sql
from bot.storage.engine import Engine, drive
from bot.storage.live_counts import OVERDUE, PROBE, WORKLOAD
from bot.storage.rollups import READ_DAYS, READ_FIRST_DAY, read_due_now, rebuild
from bot.storage.schema import CASE_COLUMNS_C, EVENT_COLUMNS_E


def _in(column: str, values: tuple[str, ...]) -> str:
    """`column IN (…)`; of no values, false (PostgreSQL has no empty IN list)."""
    return f"{column} IN ({', '.join('?' for _ in values)})" if values else "1 = 0"


def filter_sql(f: CaseFilter, team_id: str) -> tuple[str, list[Any]]:
    """The WHERE clause and parameters of a list's filter."""
    clauses, params = ["team_id = ?", "status != 'closed'"], [team_id]
    if f.owner:
        clauses.append("owner_id = ?")
        params.append(f.owner)
    if f.unowned:
        clauses.append("owner_id IS NULL")
    if f.channel:
        clauses.append("channel_id = ?")
        params.append(f.channel)
    if f.category:
        clauses.append("category = ?")
        params.append(f.category)
    if f.overdue_before:
        clauses.append("next_followup_at <= ?")
        params.append(f.overdue_before)
    if f.channels is not None:
        clauses.append(_in("channel_id", f.channels))
        params += list(f.channels)
    if f.viewer is not None:  # an empty id sees nothing, never everything
        clauses.append(f"(owner_id = ? OR reporter_id = ? OR "
                       f"{_in('channel_id', f.viewer_channels)})")
        params += [f.viewer, f.viewer, *f.viewer_channels]
    return " AND ".join(clauses), params




class Reports(Engine):
    """Reads for lists and reports."""

    @property
    def _cohort_sql(self) -> str:
        return cohort_facts_sql(self.d)

    # -- leads' views ---------------------------------------------------------------
    async def live_cases(self, team_id: str, where: CaseFilter, limit: int,
                   offset: int = 0, now: str | None = None) -> tuple[list[Case], int]:
        """Cases not closed, matching `where`, most urgent first, and how many match.

        Urgency: overdue follow-ups (at `now`) oldest due first, then cases with no
        next step (no follow-up: they need one), oldest first, then follow-ups still to
        come, soonest first. (Without `now`: every follow-up by due time, then those
        with none.) Index-ordered ranges, so a page costs little at any size.
        """
        sql, params = filter_sql(where, team_id)
        # `id` last: cases opened in the same instant would otherwise come back in any
        # order, and PostgreSQL then pages the same case twice (and another never)
        due_order = "ORDER BY next_followup_at, created_at, id"
        none = (f"{sql} AND next_followup_at IS NULL", params, "ORDER BY created_at, id")
        if where.overdue_before is not None:
            parts = [(f"{sql} AND next_followup_at IS NOT NULL", params, due_order)]
        elif now is None:
            parts = [(f"{sql} AND next_followup_at IS NOT NULL", params, due_order), none]
        else:
            parts = [(f"{sql} AND next_followup_at <= ?", [*params, now], due_order), none,
                     (f"{sql} AND next_followup_at > ?", [*params, now], due_order)]
        found: list[Case] = []
        total = 0
        team_overdue = replace(where, overdue_before=None) == CaseFilter() and \
            where.overdue_before is not None
        for part_sql, part_params, order in parts:
            count = await (self._overdue_count(team_id, where.overdue_before, part_sql,
                                               part_params) if team_overdue
                           else self._count(part_sql, part_params))
            start = max(0, offset - total)
            if len(found) < limit and start < count:
                found += await self._cases(f"{part_sql} {order} LIMIT ? OFFSET ?",
                                     [*part_params, limit - len(found), start])
            total += count
        return found, total

    async def oldest_live(self, team_id: str, limit: int) -> list[Case]:
        return await self._cases("team_id = ? AND status != 'closed' ORDER BY created_at, id "
                                 "LIMIT ?",
                           [team_id, limit])


    async def _overdue_count(self, team_id: str, before: str, where: str,
                             params: list[Any]) -> int:
        """The workspace's overdue cases: its cases with a follow-up (kept counts) less
        those still to come, when these are few; else counted one by one (`where`)."""
        kept, later = (await self._rows(OVERDUE, [team_id, team_id, before, PROBE]))[0]
        if later < PROBE:
            return kept - later
        return await self._count(where, params)

    async def _count(self, where: str, params: list[Any]) -> int:
        return await self._value(f"SELECT COUNT(*) FROM cases WHERE {where}", params)

    async def step_counts(self, team_id: str, case_ids: list[int]) -> dict[int, int]:
        """How many checklist steps each case has ticked."""
        if not case_ids:
            return {}
        marks = ", ".join("?" for _ in case_ids)
        rows = await self._rows(
            f"SELECT case_id, COUNT(*) FROM steps WHERE team_id = ? AND case_id IN ({marks}) "
            "GROUP BY case_id", [team_id, *case_ids])
        return dict(rows)

    async def workload(self, team_id: str) -> list[tuple[str | None, int]]:
        """Open cases per owner (None: waiting for an owner), busiest first, from the kept
        counts (live_counts.py), not the cases."""
        return [tuple(r) for r in await self._rows(WORKLOAD, [team_id])]

    async def cohort_facts(self, team_id: str, since: str,
                           now: str | None = None) -> list[tuple]:
        """`cohort_facts_now` in a worker thread on a read-only connection."""
        return await self.in_reader(lambda r: r.cohort_facts_now(team_id, since, now))

    def cohort_facts_now(self, team_id: str, since: str, now: str | None = None) -> list[tuple]:
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
        return [tuple(r) for r in self._cursor(self._cohort_sql, [now, team_id, since])]

    async def export_people(self, team_id: str, since: str) -> list[str]:
        """Everyone who reported, owns or acted on a case opened since `since`."""
        rows = await self._rows(
            "SELECT reporter_id FROM cases WHERE team_id = ? AND created_at >= ? UNION "
            "SELECT owner_id FROM cases WHERE team_id = ? AND created_at >= ? UNION "
            "SELECT e.actor_id FROM events e JOIN cases c ON c.team_id = e.team_id AND "
            "c.id = e.case_id WHERE c.team_id = ? AND c.created_at >= ?",
            [team_id, since] * 3)
        return sorted(r[0] for r in rows if r[0] and r[0][:1] in "UW")

    async def outcome_sums(self, team_id: str, since: str, now: str) -> Sums:
        """The roll-ups of the cases opened since `since` (see `domain.rollups`): the rows
        of the days after `since`'s (one per day and group), the case rows of its day from
        `since` on, and the period's cases with a follow-up due at `now`: about a row per
        day and group, however big the workspace. On SQLite in a worker thread on a
        read-only connection; on PostgreSQL three pooled reads."""
        if self.engine == "sqlite":
            return await self.in_reader(
                lambda r: drive(r._outcome_sums(team_id, since, now)))
        return await self._outcome_sums(team_id, since, now)

    async def _outcome_sums(self, team_id: str, since: str, now: str) -> Sums:
        day = since[:10]
        # (times are fixed-width UTC text: every one of a day is below its "T24")
        whole = since[10:] == "T00:00:00.000000Z"  # a period from midnight: no part day
        first = [] if whole else await self._rows(READ_FIRST_DAY,
                                                  [team_id, since, day + "T24"])
        after = day if whole else day + "T"  # (day + "T": after that day, before the next)
        return Sums([tuple(r) for r in await self._rows(READ_DAYS, [team_id, after])],
                    [tuple(r) for r in first],
                    [tuple(r) for r in await self._rows(read_due_now(self.d),
                                                        [team_id, since, now])])

    async def rebuild_rollups(self, team_id: str | None = None) -> int:
        """Compute the roll-ups again from the timelines (after rows were written around
        the store, as benchmarks and tests do); returns how many cases they hold."""
        async with self._tx() as tx:
            return await rebuild(tx, self.d, team_id)

    def export_rows(self, team_id: str, since: str) -> Iterator[tuple[Case, Event]]:
        """Every event of the cases opened since `since`, with its case, in order.

        One statement, hence one snapshot: a case opened while a long export is read
        is either wholly in it or not at all."""
        width = len(Case.__dataclass_fields__)
        rows = self._cursor(
            f"SELECT {CASE_COLUMNS_C}, {EVENT_COLUMNS_E} FROM cases c "
            f"{self.d.join_in_order()} events e "
            "ON e.team_id = c.team_id AND e.case_id = c.id WHERE c.team_id = ? AND "
            "c.created_at >= ? ORDER BY c.number, e.id", [team_id, since])
        case: Case | None = None
        for row in rows:
            if case is None or case.id != row[0]:
                case = Case(*row[:width])
            yield case, Event.from_row(dict(zip(Event.__dataclass_fields__, row[width:],
                                                strict=True)))

