"""A sweep's decisions on PostgreSQL: one statement over arrays (a thousand due timers
are one statement for the server to parse, not thousands; one round trip, not four).

The arrays go in PostgreSQL's binary format (`%b`): as text, each of a thousand strings
is checked for characters to quote, which cost more than the statements themselves.
What is the same for every row (the workspace, the sweep's moment) is one parameter.
"""

from __future__ import annotations

from typing import Any

from bot.domain.models import Timer
from bot.storage.outbox import first_nudges, mark_moved

# One statement (named psycopg placeholders; `%b` a binary parameter): its changes as
# data-modifying CTEs, and the cases of the first nudges read back.
SWEEP = (
    "WITH gone AS (DELETE FROM timers t USING unnest(%(d_at)b::text[], "
    "%(d_case)b::bigint[], %(d_kind)b::text[], %(d_key)b::text[]) AS d(at, case_id, kind, "
    "due_key) WHERE t.team_id = %(team)b AND t.at = d.at AND t.case_id = d.case_id AND "
    "t.kind = d.kind AND t.due_key = d.due_key RETURNING 1), "
    # The next timers go in once the processed ones are gone (reading `gone` runs it
    # first): a next timer with a processed one's key is then written, not skipped.
    "added AS (INSERT INTO timers (team_id, at, case_id, kind, due_key, rung, escalated, "
    "unassigned) SELECT %(team)b, * FROM unnest(%(t_at)b::text[], %(t_case)b::bigint[], "
    "%(t_kind)b::text[], %(t_key)b::text[], %(t_rung)b::int[], %(t_esc)b::int[], "
    "%(t_un)b::int[]) WHERE (SELECT count(*) FROM gone) >= 0 ON CONFLICT DO NOTHING), "
    "queued AS (INSERT INTO nudges (team_id, case_id, kind, rung, due_key, state, attempts, "
    "send_after, created_at) SELECT %(team)b, c, k, r, d, s, 0, %(at)b, %(at)b FROM "
    "unnest(%(n_case)b::bigint[], %(n_kind)b::text[], %(n_rung)b::int[], "
    "%(n_key)b::text[], %(n_state)b::text[]) AS x(c, k, r, d, s) ON CONFLICT DO NOTHING) "
    # FOR SHARE: a change of one of these cases' follow-up that commits before this
    # transaction is read here (the latest committed row, and marks its case); one that
    # comes later waits for it, and its own roll-ups then count this sweep's nudge.
    "SELECT id, next_followup_at FROM cases WHERE team_id = %(team)b AND "
    "id = ANY(%(firsts)b::bigint[]) ORDER BY id FOR SHARE")


async def apply_sweep(tx: Any, team_id: str, processed: list[Timer], timers: list[Timer],
                      send: list[tuple[int, dict[str, Any]]],
                      skip: list[tuple[int, dict[str, Any]]], at: str) -> None:
    """Delete the processed timers (by their full key), add the next ones and the outbox
    rows, and mark for the roll-ups the cases whose nudged follow-up moved meanwhile, in
    `tx` (a `PgTx`), in one statement. Every timer is the workspace `team_id`'s (the
    sweep read them so)."""
    rows = [(case_id, row, state) for batch, state in ((send, "pending"), (skip, "skipped"))
            for case_id, row in batch]
    firsts = first_nudges(send, skip)
    ids = sorted(firsts)
    tx.counter[0] += 1
    found = await (await tx.conn.execute(SWEEP, {
        "team": team_id, "at": at,
        "d_at": [t.at for t in processed], "d_case": [t.case_id for t in processed],
        "d_kind": [t.kind for t in processed], "d_key": [t.due_key for t in processed],
        "t_at": [t.at for t in timers], "t_case": [t.case_id for t in timers],
        "t_kind": [t.kind for t in timers], "t_key": [t.due_key for t in timers],
        "t_rung": [int(t.rung) for t in timers], "t_esc": [int(t.escalated) for t in timers],
        "t_un": [int(t.unassigned) for t in timers],
        "n_case": [c for c, _, _ in rows], "n_kind": [str(r["kind"]) for _, r, _ in rows],
        "n_rung": [r["rung"] for _, r, _ in rows], "n_key": [r["due_key"] for _, r, _ in rows],
        "n_state": [s for _, _, s in rows], "firsts": ids})).fetchall()
    if firsts:
        mark_moved(tx, team_id, firsts, ids, dict(found))
