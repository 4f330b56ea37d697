"""Reads for the leads' views: lists in urgency order, workload, cohorts, export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bot.domain.models import Case, CaseFilter, Event
from bot.storage.dialect import POSTGRES, SQLITE, Dialect
from bot.storage.engine import Engine
from bot.storage.schema import CASE_COLUMNS_C, EVENT_COLUMNS_E

# Events after which the follow-up in force is the one they set (none after done or closed).
_SETTER_KINDS = ("'opened', 'reopened', 'followup_set', 'snoozed', 'followup_done', "
                 "'resolved', 'closed'")
# Events that end a follow-up (or show that it fell due).
_FOLLOWUP_KINDS = ("'followup_done', 'followup_set', 'snoozed', 'resolved', 'closed', "
                   "'reopened'")


def _previous_setter(alias: str) -> str:
    """SQL: for a resolution, reopening or close `alias`, the id of the case's last
    earlier event that set or ended a follow-up (NULL: none, or another kind). Joined
    once per event as the `prev` of `_followup_in_force`, so the look back is not
    repeated in every expression that needs it."""
    a = alias
    return (f"CASE WHEN {a}.kind IN ('resolved', 'closed', 'reopened') THEN (SELECT q.id "
            f"FROM events q WHERE q.team_id = {a}.team_id AND q.case_id = {a}.case_id AND "
            f"q.id < {a}.id AND q.kind IN ({_SETTER_KINDS}) ORDER BY q.id DESC LIMIT 1) END")


def _followup_in_force(d: Dialect, p: str) -> str:
    """SQL: the due time of the follow-up in force just before an event, read from
    `p`, its previous setter joined on `_previous_setter` (NULL when none, or when
    the timeline does not say: cases opened before `opened` and `reopened` events
    recorded their follow-up)."""
    return (f"CASE {p}.kind WHEN 'followup_set' THEN {d.json(p, 'after')} "
            f"WHEN 'snoozed' THEN {d.json(p, 'until')} WHEN 'resolved' THEN "
            f"{d.json(p, 'satisfaction_due')} WHEN 'opened' THEN {d.json(p, 'due')} "
            f"WHEN 'reopened' THEN {d.json(p, 'due')} END")


def _followup_ended(d: Dialect, a: str, prev: str) -> str:
    """SQL: the due time of the follow-up that event `a` shows fell due (NULL: none;
    `prev` is its previous setter, see `_previous_setter`).
    Done (on time or not); moved or snoozed after its due time; the satisfaction check
    recorded (which closes the case); dropped by a resolution, reopening or close after
    its due time. Handled at the very instant it is due, as when done then, is in time."""
    in_force = _followup_in_force(d, prev)
    return (f"CASE WHEN {a}.kind = 'followup_done' THEN {d.json(a, 'due')} "
            f"WHEN {a}.kind IN ('followup_set', 'snoozed') THEN NULLIF("
            f"{d.least(d.json(a, 'before'), f'{a}.at')}, {a}.at) "
            f"WHEN {a}.kind = 'closed' AND {d.json_is_one(a, 'satisfaction')} "
            f"THEN {in_force} WHEN {a}.kind IN ('resolved', 'closed', "
            f"'reopened') THEN NULLIF({d.least(in_force, f'{a}.at')}, {a}.at) END")


def _cohort_firsts(d: Dialect) -> str:
    """SQL: the first times (ownership, apology, action, customer update, resolution)
    and the counts of resolutions, closes and reopenings."""
    counts = ", ".join(f"SUM({d.as_int(f'e.kind = {kind!r}')})"
                       for kind in ("resolved", "closed", "reopened"))
    return (
        # Owned from the start (the opening event names an owner), or first taken.
        f"MIN(CASE WHEN e.kind = 'opened' AND {d.json('e', 'owner_id')} "
        "IS NOT NULL THEN e.at WHEN e.kind IN ('taken', 'assigned') THEN e.at END), "
        f"MIN(CASE WHEN e.kind = 'step_done' AND {d.json('e', 'step')} = "
        "'apologize' THEN e.at END), "
        f"MIN(CASE WHEN e.kind = 'step_done' AND {d.json('e', 'step')} = 'act' "
        "THEN e.at END), "
        "MIN(CASE WHEN e.kind IN ('customer_updated', 'followup_done') THEN e.at END), "
        f"MIN(CASE WHEN e.kind = 'resolved' THEN e.at END), {counts}, ")


def _cohort_followups(d: Dialect, ended: str) -> str:
    """SQL: follow-ups that fell due, and those done on time."""
    due_now = d.as_int("c.status != 'closed' AND c.next_followup_at <= ?")
    # (CASE, not AND: SQLite's AND works out both sides, JSON and all)
    on_time = d.total(
        f"CASE WHEN e.kind = 'followup_done' THEN e.at <= {d.json('e', 'due')} "
        f"WHEN e.kind = 'closed' AND {d.json_is_one('e', 'satisfaction')} "
        f"THEN e.at <= {_followup_in_force(d, 'p')} END")
    return (
        # Every follow-up that fell due, once (told apart by due time): those the
        # timeline shows, those nudged (the case's first nudges, less those whose due
        # time the timeline shows: `m`), and the one still due now. A missed
        # follow-up counts against the share, not out of it.
        f"COUNT(DISTINCT {ended}) + "
        # (by case: not a scan of the workspace's nudges for each case)
        f"(SELECT COUNT(*) FROM nudges n{d.indexed_by('idx_nudges_team_id_case_id')} "
        "WHERE n.team_id = c.team_id AND n.case_id = c.id AND n.kind = 'followup' AND "
        f"n.rung = 0 AND {d.is_not('n.due_key', 'c.next_followup_at')}) - "
        f"COUNT(DISTINCT m.id) + COALESCE({due_now}, 0), {on_time}, ")


def _cohort_outcomes(d: Dialect) -> str:
    """SQL: per case, however often it was resolved or closed: satisfaction checked,
    compensation offered, accepted. (ELSE: 0, or NULL for a case without events, as
    `kind = … AND …` gives.)"""
    offered = f"{d.json('e', 'compensation')} != ''"
    accepted = f"{offered} AND {d.json('e', 'accepted')} = 'yes'"
    satisfied = d.json_is_one("e", "satisfaction")
    return ", ".join(
        f"MAX({d.as_int(f'CASE WHEN e.kind = {kind!r} THEN {then} ELSE e.kind = {kind!r} END')})"
        for kind, then in (("closed", satisfied), ("resolved", offered),
                           ("resolved", accepted))) + " "


def cohort_sql(d: Dialect) -> str:
    """The cohort query (see `Reports.cohort_facts_now`) in dialect `d`."""
    ended = _followup_ended(d, "e", "p")
    return (
        "SELECT c.category, c.owner_id, c.reporter_id, c.created_at, "
        + _cohort_firsts(d) + _cohort_followups(d, ended) + _cohort_outcomes(d) +
        # The period's cases by their opening date (not a scan of all cases in id
        # order, which GROUP BY would otherwise tempt SQLite into).
        f"FROM cases c{d.indexed_by('idx_cases_team_id_created_at')} LEFT JOIN events e "
        "ON e.team_id = c.team_id AND e.case_id = c.id AND e.kind IN ('opened', 'taken', "
        f"'assigned', 'step_done', 'customer_updated', {_FOLLOWUP_KINDS}) "
        # The follow-up in force before a resolution, reopening or close.
        f"LEFT JOIN events p ON p.id = {_previous_setter('e')} AND p.team_id = c.team_id "
        # The case's first nudge for the due time the event shows fell due (one at
        # most: a nudge is unique per case, kind, rung and due time).
        "LEFT JOIN nudges m"
        f"{d.indexed_by('idx_nudges_team_id_due_key_case_id_kind_rung')} "
        f"ON m.team_id = c.team_id AND m.due_key = {ended} AND m.case_id = c.id AND "
        "m.kind = 'followup' AND m.rung = 0 AND "
        f"{d.is_not('m.due_key', 'c.next_followup_at')} "
        # Grouped in the index's order (opening date, then id), so the events need
        # no sorting; the rows come out in id order.
        # Withdrawn cases (opened by mistake) count in no statistic.
        "WHERE c.team_id = ? AND c.created_at >= ? AND c.withdrawn_at IS NULL "
        "GROUP BY c.created_at, c.id ORDER BY c.id")


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


_COHORT_SQL = {d.name: cohort_sql(d) for d in (SQLITE, POSTGRES)}


class Reports(Engine):
    """Reads for lists and reports."""

    @property
    def _cohort_sql(self) -> str:
        return _COHORT_SQL[self.d.name]

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
        due_order = "ORDER BY next_followup_at, created_at"
        none = (f"{sql} AND next_followup_at IS NULL", params, "ORDER BY created_at")
        if where.overdue_before is not None:
            parts = [(f"{sql} AND next_followup_at IS NOT NULL", params, due_order)]
        elif now is None:
            parts = [(f"{sql} AND next_followup_at IS NOT NULL", params, due_order), none]
        else:
            parts = [(f"{sql} AND next_followup_at <= ?", [*params, now], due_order), none,
                     (f"{sql} AND next_followup_at > ?", [*params, now], due_order)]
        found: list[Case] = []
        total = 0
        for part_sql, part_params, order in parts:
            count = await self._count(part_sql, part_params)
            start = max(0, offset - total)
            if len(found) < limit and start < count:
                found += await self._cases(f"{part_sql} {order} LIMIT ? OFFSET ?",
                                     [*part_params, limit - len(found), start])
            total += count
        return found, total

    async def oldest_live(self, team_id: str, limit: int) -> list[Case]:
        return await self._cases("team_id = ? AND status != 'closed' ORDER BY created_at "
                                 "LIMIT ?",
                           [team_id, limit])


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
        """Open cases per owner (None: waiting for an owner), busiest first."""
        return [tuple(r) for r in await self._rows(
            # "status != closed" lets SQLite use the partial index of live cases.
            "SELECT owner_id, COUNT(*) FROM cases WHERE team_id = ? AND status != 'closed' "
            "AND status = 'open' GROUP BY owner_id ORDER BY COUNT(*) DESC", [team_id])]

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

