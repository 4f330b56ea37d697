"""The cohort query: one row per case with what its timeline says (see
`Reports.cohort_facts_now`), for a period's cases or for given ones (the roll-ups), in
either engine's dialect (JSON fields, booleans summed and index hints differ)."""

from __future__ import annotations

from functools import lru_cache

from bot.storage.dialect import Dialect

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


def _cohort(d: Dialect, cases: str, where: str, head: str = "") -> str:
    """The cohort query in dialect `d` over `cases` (a FROM item naming `c`), for the
    cases `where` says (`head`: columns before the row's own)."""
    ended = _followup_ended(d, "e", "p")
    return (
        f"SELECT {head}c.category, c.owner_id, c.reporter_id, c.created_at, "
        + _cohort_firsts(d) + _cohort_followups(d, ended) + _cohort_outcomes(d) +
        f"FROM {cases} LEFT JOIN events e "
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
        f"WHERE {where} ORDER BY c.id")


@lru_cache(maxsize=8)
def cohort_facts_sql(d: Dialect) -> str:
    """The period's cases (parameters: now, team_id, since) by their opening date (not a
    scan of all cases in id order, which GROUP BY would otherwise tempt SQLite into),
    grouped in the index's order (opening date, then id), so the events need no
    sorting; the rows come out in id order. Withdrawn cases (opened by mistake) count in
    no statistic."""
    return _cohort(d, f"cases c{d.indexed_by('idx_cases_team_id_created_at')}",
                   "c.team_id = ? AND c.created_at >= ? AND c.withdrawn_at IS NULL "
                   "GROUP BY c.created_at, c.id")


@lru_cache(maxsize=64)
def case_facts_sql(d: Dialect, count: int) -> str:
    """The cohort query, each row led by the case's id, for `count` given cases of one
    workspace (parameters: now, team_id, then the ids); a withdrawn one gives no row."""
    marks = ", ".join("?" for _ in range(count))
    return _cohort(d, "cases c", f"c.team_id = ? AND c.id IN ({marks}) AND "
                   "c.withdrawn_at IS NULL GROUP BY c.id", "c.id, ")


@lru_cache(maxsize=8)
def team_facts_sql(d: Dialect) -> str:
    """Every case of a workspace, led by its id (parameters: now, team_id)."""
    return _cohort(d, "cases c", "c.team_id = ? AND c.withdrawn_at IS NULL GROUP BY c.id",
                   "c.id, ")
