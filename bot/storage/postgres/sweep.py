"""A sweep's decisions on PostgreSQL: each of its changes one statement over arrays (a
thousand due timers are a few statements for the server to parse, not thousands).

The arrays go in PostgreSQL's binary format (`%b`): as text, each of a thousand strings
is checked for characters to quote, which cost more than the statements themselves.
What is the same for every row (the workspace, the sweep's moment) is one parameter.
"""

from __future__ import annotations

from typing import Any

from bot.domain.models import Timer
from bot.storage.outbox import first_nudges, mark_moved

# In psycopg's own placeholders (not the dialect's `?`): `%b` is a binary parameter.
DELETE = (
    "DELETE FROM timers t USING unnest(%b::text[], %b::bigint[], %b::text[], %b::text[]) "
    "AS d(at, case_id, kind, due_key) WHERE t.team_id = %b AND t.at = d.at AND "
    "t.case_id = d.case_id AND t.kind = d.kind AND t.due_key = d.due_key")
TIMERS = (
    "INSERT INTO timers (team_id, at, case_id, kind, due_key, rung, escalated, unassigned) "
    "SELECT %b, * FROM unnest(%b::text[], %b::bigint[], %b::text[], %b::text[], "
    "%b::int[], %b::int[], %b::int[]) ON CONFLICT DO NOTHING")
NUDGES = (
    "INSERT INTO nudges (team_id, case_id, kind, rung, due_key, state, attempts, send_after, "
    "created_at) SELECT %b, c, k, r, d, s, 0, %b, %b FROM unnest(%b::bigint[], %b::text[], "
    "%b::int[], %b::text[], %b::text[]) AS x(c, k, r, d, s) ON CONFLICT DO NOTHING")
# FOR SHARE: a change of one of these cases' follow-up that commits before this
# transaction is read here (and marks its case); one that comes later waits for it, and
# its own roll-ups then count this sweep's nudge.
FOLLOWUPS = ("SELECT id, next_followup_at FROM cases WHERE team_id = %b AND "
             "id = ANY(%b::bigint[]) ORDER BY id FOR SHARE")


async def apply_sweep(tx: Any, team_id: str, processed: list[Timer], timers: list[Timer],
                      send: list[tuple[int, dict[str, Any]]],
                      skip: list[tuple[int, dict[str, Any]]], at: str) -> None:
    """Delete the processed timers (by their full key), add the next ones and the outbox
    rows, and mark for the roll-ups the cases whose nudged follow-up moved meanwhile, in
    `tx` (a `PgTx`). Every timer is the workspace `team_id`'s (the sweep read them so)."""
    if processed:
        await _run(tx, DELETE, [[t.at for t in processed], [t.case_id for t in processed],
                                [t.kind for t in processed], [t.due_key for t in processed],
                                team_id])
    if timers:
        await _run(tx, TIMERS, [team_id, [t.at for t in timers], [t.case_id for t in timers],
                                [t.kind for t in timers], [t.due_key for t in timers],
                                [int(t.rung) for t in timers],
                                [int(t.escalated) for t in timers],
                                [int(t.unassigned) for t in timers]])
    rows = [(case_id, row, state) for batch, state in ((send, "pending"), (skip, "skipped"))
            for case_id, row in batch]
    if rows:
        await _run(tx, NUDGES, [team_id, at, at, [c for c, _, _ in rows],
                                [str(r["kind"]) for _, r, _ in rows],
                                [r["rung"] for _, r, _ in rows],
                                [r["due_key"] for _, r, _ in rows], [s for _, _, s in rows]])
    firsts = first_nudges(send, skip)
    if firsts:
        ids = sorted(firsts)
        tx.counter[0] += 1
        found = await (await tx.conn.execute(FOLLOWUPS, [team_id, ids])).fetchall()
        mark_moved(tx, team_id, firsts, ids, dict(found))


async def _run(tx: Any, sql: str, params: list) -> None:
    tx.counter[0] += 1
    await tx.conn.execute(sql, params)
