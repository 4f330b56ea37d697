"""The cohort query: one row per case with what its timeline says (see
`Reports.cohort_facts_now`), for a period's cases or for given ones (the roll-ups)."""

from __future__ import annotations

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


# The cohort query, built once (see `Reports.cohort_facts_now`).
_ENDED = _followup_ended("e", "p")


def _cohort(cases: str, where: str, head: str = "") -> str:
    """The cohort query over `cases` (a FROM item naming `c`), for the cases `where` says
    (`head`: columns before the row's own)."""
    return (
        f"SELECT {head}c.category, c.owner_id, c.reporter_id, c.created_at, "
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
        f"COUNT(DISTINCT {_ENDED}) + "
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
        f"FROM {cases} LEFT JOIN events e "
        "ON e.team_id = c.team_id AND e.case_id = c.id AND e.kind IN ('opened', 'taken', "
        f"'assigned', 'step_done', 'customer_updated', {_FOLLOWUP_KINDS}) "
        # The follow-up in force before a resolution, reopening or close.
        f"LEFT JOIN events p ON p.id = {_previous_setter('e')} AND p.team_id = c.team_id "
        # The case's first nudge for the due time the event shows fell due (one at
        # most: a nudge is unique per case, kind, rung and due time).
        "LEFT JOIN nudges m INDEXED BY idx_nudges_team_id_due_key_case_id_kind_rung "
        f"ON m.team_id = c.team_id AND m.due_key = {_ENDED} AND m.case_id = c.id AND "
        "m.kind = 'followup' AND m.rung = 0 AND m.due_key IS NOT c.next_followup_at "
        f"WHERE {where} ORDER BY c.id")


# The period's cases by their opening date (not a scan of all cases in id order, which
# GROUP BY would otherwise tempt SQLite into), grouped in the index's order (opening
# date, then id), so the events need no sorting; the rows come out in id order.
# Withdrawn cases (opened by mistake) count in no statistic.
COHORT_FACTS = _cohort("cases c INDEXED BY idx_cases_team_id_created_at",
                       "c.team_id = ? AND c.created_at >= ? AND c.withdrawn_at IS NULL "
                       "GROUP BY c.created_at, c.id")


def case_facts_sql(count: int) -> str:
    """The cohort query, each row led by the case's id, for `count` given cases of one
    workspace (parameters: now, team_id, then the ids); a withdrawn one gives no row."""
    marks = ", ".join("?" for _ in range(count))
    return _cohort("cases c", f"c.team_id = ? AND c.id IN ({marks}) AND c.withdrawn_at IS NULL "
                   "GROUP BY c.id", "c.id, ")


# Every case of a workspace, led by its id (parameters: now, team_id).
TEAM_FACTS = _cohort("cases c", "c.team_id = ? AND c.withdrawn_at IS NULL GROUP BY c.id",
                     "c.id, ")
