"""Roll-ups of the recovery figures, kept in the transaction that changes them.

`case_facts` holds each case's cohort row as its timeline stands (follow-ups due now
left out: they depend on the moment asked); `stat_days` one row per opening day and
group (everything, each category, each owner) with the sums of those rows and, per
measure, a histogram of their durations (log-spaced buckets, see domain/histogram.py).
Every event and every follow-up nudge marks its case; before the transaction commits
the marked cases' rows are read again and, where they changed, the old row is taken
out of the sums and the new one put in. The counts are added in place; a histogram is
read, changed and written back, which the transaction's write lock makes safe here (an
engine whose writers run side by side must read those rows FOR UPDATE).

A withdrawn case has no cohort row: when one is withdrawn its row leaves the sums and
`case_facts`; reopened, it comes back.

Every statement that keeps or reads the roll-ups is in this module, in SQL both engines
accept (CREATE TABLE and partial indexes, INSERT … ON CONFLICT … DO UPDATE with
`excluded`, plain UPDATE/DELETE/SELECT), through a transaction (`engine.Tx`) and with
the engine's dialect for what differs: the index hint of `read_due_now` (left out on
PostgreSQL), the cohort query a case's row is read with (cohort.py), and the rows read
to be written back (`FOR UPDATE` on PostgreSQL, whose writers run side by side: the
case's `case_facts` row, so two transactions changing one case take turns, and the
histograms).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from bot.domain.histogram import encode, merge
from bot.domain.models import Case
from bot.domain.reports import MEASURES
from bot.domain.rollups import COUNTS, contribution, day_of, groups_of
from bot.storage.cohort import case_facts_sql, team_facts_sql
from bot.storage.dialect import Dialect

FACT_COLUMNS = ("category", "owner_id", "reporter_id", "created_at", "owned_at",
                "apology_at", "action_at", "update_at", "resolved_at", "resolved", "closed",
                "reopened", "due", "on_time", "satisfaction", "offered", "accepted")
SUM_COLUMNS = ("opened", "resolved", "closed", "reopened", "due", "on_time", "satisfaction",
               "offered", "accepted")
# Durations of no time (under a second: owned from the opening, mostly) are counted in
# columns of their own, so a new case only adds to counts, never rewrites a histogram.
ZERO_COLUMNS = tuple(f"z_{m}" for m in MEASURES)
ADDED = (*SUM_COLUMNS, *ZERO_COLUMNS)
HIST_COLUMNS = tuple(f"h_{m}" for m in MEASURES)
assert len(SUM_COLUMNS) == len(COUNTS)

TABLES = (
    "CREATE TABLE case_facts (team_id TEXT NOT NULL, case_id INTEGER NOT NULL, "
    "day TEXT NOT NULL, category TEXT, owner_id TEXT, reporter_id TEXT, created_at TEXT, "
    "owned_at TEXT, apology_at TEXT, action_at TEXT, update_at TEXT, resolved_at TEXT, "
    + ", ".join(f"{c} INTEGER NOT NULL" for c in FACT_COLUMNS[9:])
    + ", PRIMARY KEY (team_id, case_id))",
    "CREATE INDEX idx_case_facts_team_id_created_at ON case_facts (team_id, created_at)",
    "CREATE TABLE stat_days (team_id TEXT NOT NULL, day TEXT NOT NULL, dim TEXT NOT NULL, "
    "key TEXT NOT NULL, " + ", ".join(f"{c} INTEGER NOT NULL" for c in ADDED) + ", "
    + ", ".join(f"{c} TEXT" for c in HIST_COLUMNS) + ", PRIMARY KEY (team_id, day, dim, key))",
    # The cases still in play (withdrawn ones left out, as from every figure): the
    # period's, for the follow-ups due now, and the open
    # ones per owner, in owner order, for the Home's workload (read from the indexes
    # alone, no case row looked up).
    # (status and withdrawn_at are columns too: SQLite reads the row for a term of the
    # query that its columns do not hold, even one the index's WHERE implies; and the
    # WHERE is live cases alone, so the oldest live cases are read from it in order)
    "CREATE INDEX idx_cases_live_created ON cases (team_id, created_at, next_followup_at, "
    "category, owner_id, status, withdrawn_at) WHERE status != 'closed'",
    "CREATE INDEX idx_cases_live_status_owner ON cases (team_id, status, owner_id) "
    "WHERE status != 'closed'",
)

_FACT_MARKS = ", ".join("?" for _ in range(len(FACT_COLUMNS) + 3))
UPSERT_FACT = (
    f"INSERT INTO case_facts (team_id, case_id, day, {', '.join(FACT_COLUMNS)}) "
    f"VALUES ({_FACT_MARKS}) ON CONFLICT (team_id, case_id) DO UPDATE SET day = excluded.day, "
    + ", ".join(f"{c} = excluded.{c}" for c in FACT_COLUMNS))
_DAY_COLUMNS = ", ".join((*ADDED, *HIST_COLUMNS))
ADD_SUMS = (
    f"INSERT INTO stat_days (team_id, day, dim, key, {', '.join(ADDED)}) VALUES "
    f"(?, ?, ?, ?{', ?' * len(ADDED)}) ON CONFLICT (team_id, day, dim, key) DO UPDATE SET "
    + ", ".join(f"{c} = stat_days.{c} + excluded.{c}" for c in ADDED))
SET_HISTOGRAMS = (f"UPDATE stat_days SET {', '.join(f'{c} = ?' for c in HIST_COLUMNS)} "
                  "WHERE team_id = ? AND day = ? AND dim = ? AND key = ?")
READ_HISTOGRAMS = (f"SELECT {', '.join(HIST_COLUMNS)} FROM stat_days WHERE team_id = ? AND "
                   "day = ? AND dim = ? AND key = ?")
# Old rows of the cases read again, in id order (the order two writers lock them in).
_READ_OLD = "SELECT case_id, {} FROM case_facts WHERE team_id = ? AND case_id IN ({}) " \
            "ORDER BY case_id"
DELETE_FACT = "DELETE FROM case_facts WHERE team_id = ? AND case_id = ?"
# Events that change no case's figures (nor its owner, category or follow-up): a case
# with only these in a transaction is not read again.
UNCOUNTED_KINDS = frozenset(("note", "card_posted", "card_failed", "nudge_sent",
                             "nudge_failed", "step_undone"))
CHUNK = 400  # ids per statement (well under every engine's parameter limit)


class Delta:
    """Changes to the sums, gathered over a transaction's cases, written once per row."""

    def __init__(self) -> None:
        self.sums: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(ADDED))
        self.buckets: dict[tuple, dict[str, dict[int, int]]] = defaultdict(dict)
        self.facts: list[tuple] = []
        self.gone: list[tuple[str, int]] = []  # cases no longer counted (withdrawn)

    def add(self, team_id: str, row: tuple, sign: int, known: tuple | None = None) -> None:
        counts, buckets = known or contribution(row)
        day = day_of(row[3])
        for dim, key in groups_of(row):
            where = (team_id, day, dim, key)
            total = self.sums[where]
            for i, n in enumerate(counts):
                total[i] += sign * n
            for measure, index in buckets.items():
                if index == 0:
                    total[len(COUNTS) + MEASURES.index(measure)] += sign
                    continue
                histogram = self.buckets[where].setdefault(measure, {})
                histogram[index] = histogram.get(index, 0) + sign

    def change(self, team_id: str, case_id: int, old: tuple | None, new: tuple | None,
               known: tuple | None = None) -> None:
        """Take `old` (None: none) out of the sums and put `new` in (None: the case counts
        no more, as a withdrawn one; `known`: what it adds, when the caller knows it
        without reading the times)."""
        if old == new:
            return
        if old is not None:
            self.add(team_id, old, -1)
        if new is None:
            self.gone.append((team_id, case_id))
            return
        self.add(team_id, new, 1, known)
        self.facts.append((team_id, case_id, day_of(new[3]), *new))

    async def write(self, tx: Any, d: Dialect) -> None:
        """Write the facts, add to the day rows, and rewrite the histograms that
        changed (rows in key order: the order concurrent writers lock them in)."""
        if self.facts:
            await tx.many(UPSERT_FACT, self.facts)
        if self.gone:
            await tx.many(DELETE_FACT, self.gone)
        added = [(*where, *added) for where, added in sorted(self.sums.items())
                 if any(added)]
        if added:
            await tx.many(ADD_SUMS, added)
        rows = []
        for where, buckets in sorted(self.buckets.items()):
            changed = {m: h for m, h in buckets.items() if any(h.values())}
            if not changed:
                continue
            kept = (await tx.rows(READ_HISTOGRAMS + d.for_update(), where))[0]
            histograms = []
            for measure, text in zip(MEASURES, kept, strict=True):
                if measure in changed:
                    merge(changed[measure], text)
                    text = encode(changed[measure])
                histograms.append(text)
            rows.append((*histograms, *where))
        if rows:
            await tx.many(SET_HISTOGRAMS, rows)


# What a case just opened adds: one opened, and no time to an owner if it has one.
UNOWNED = ((1, *(0,) * (len(COUNTS) - 1)), {})
OWNED = (UNOWNED[0], {"ownership": 0})


def opened_facts(case: Case) -> tuple:
    """The cohort row of a case just opened (its only event the opening): owned from
    the start if it has an owner, nothing else yet."""
    return (case.category, case.owner_id, case.reporter_id, case.created_at,
            case.created_at if case.owner_id is not None else None, None, None, None, None,
            0, 0, 0, 0, 0, 0, 0, 0)


# PostgreSQL opens a case in one statement (postgres/connection.py, ONE_CASE): its
# roll-ups are two of the statement's data-modifying CTEs, the new case's id read from
# its CTE `c`: its `case_facts` row (team, day, then FACT_COLUMNS), and its additions to
# the day rows (`opened_sums`, one JSON parameter), written in key order, the order
# concurrent writers lock them in.
OPENED_FACT_CTE = (
    f"f AS (INSERT INTO case_facts (team_id, case_id, day, {', '.join(FACT_COLUMNS)}) "
    f"SELECT ?, c.id{', ?' * (len(FACT_COLUMNS) + 1)} FROM c)")
OPENED_SUMS_CTE = (
    f"s AS (INSERT INTO stat_days (team_id, day, dim, key, {', '.join(ADDED)}) "
    f"SELECT x.team_id, x.day, x.dim, x.key, {', '.join(f'x.{a}' for a in ADDED)} FROM c, "
    "jsonb_to_recordset(?::jsonb) AS x(i int, team_id text, day text, dim text, key text, "
    + ", ".join(f"{a} int" for a in ADDED) + ") ORDER BY x.i "
    "ON CONFLICT (team_id, day, dim, key) DO UPDATE SET "
    + ", ".join(f"{c} = stat_days.{c} + excluded.{c}" for c in ADDED) + ")")


def opened_sums(team_id: str, row: tuple) -> str:
    """What a case just opened (cohort row `row`, see `opened_facts`) adds to its day
    rows, as OPENED_SUMS_CTE takes it: JSON, the rows in key order (`i`). It adds to
    counts only, never to a histogram."""
    delta = Delta()
    delta.change(team_id, 0, None, row, OWNED if row[4] else UNOWNED)
    assert not delta.buckets, "a new case rewrites no histogram"
    return json.dumps([
        {"i": i, **dict(zip(("team_id", "day", "dim", "key", *ADDED), (*where, *added),
                            strict=True))}
        for i, (where, added) in enumerate(sorted(delta.sums.items()))])


async def refresh(tx: Any, d: Dialect, marked: Iterable[tuple[str, int]],
                  fresh: dict[tuple[str, int], tuple]) -> None:
    """Bring the roll-ups up to date for the `marked` cases (read again) and the `fresh`
    ones (new cases whose row is known: nothing else happened to them yet)."""
    delta = Delta()
    by_team: dict[str, list[int]] = defaultdict(list)
    for team_id, case_id in marked:
        by_team[team_id].append(case_id)
    for (team_id, case_id), row in fresh.items():
        if case_id not in by_team.get(team_id, ()):
            delta.change(team_id, case_id, None, row, OWNED if row[4] else UNOWNED)
    for team_id, ids in sorted(by_team.items()):
        ids.sort()
        for start in range(0, len(ids), CHUNK):
            await _reread(tx, d, delta, team_id, ids[start:start + CHUNK])
    await delta.write(tx, d)


async def _reread(tx: Any, d: Dialect, delta: Delta, team_id: str, ids: list[int]) -> None:
    marks = ", ".join("?" for _ in ids)
    old = {row[0]: tuple(row[1:]) for row in await tx.rows(
        _READ_OLD.format(", ".join(FACT_COLUMNS), marks) + d.for_update(), [team_id, *ids])}
    counted = set()
    for case_id, *new in await tx.rows(case_facts_sql(d, len(ids)), [None, team_id, *ids]):
        counted.add(case_id)
        delta.change(team_id, case_id, old.get(case_id), _normal(new))
    for case_id in old.keys() - counted:  # withdrawn (or gone): out of the sums
        delta.change(team_id, case_id, old[case_id], None)


def _normal(row: list) -> tuple:
    """A cohort row as `case_facts` keeps it (counts never NULL)."""
    return (*row[:9], *(n or 0 for n in row[9:]))


async def rebuild(tx: Any, d: Dialect, team_id: str | None = None) -> int:
    """Compute the roll-ups again from the timelines (of one workspace, or all); returns
    how many cases they hold. For the migration, and for data written around the store."""
    teams = [team_id] if team_id else [t for (t,) in await tx.rows(
        "SELECT DISTINCT team_id FROM cases ORDER BY team_id")]
    total = 0
    for team in teams:
        for table in ("case_facts", "stat_days"):
            await tx.run(f"DELETE FROM {table} WHERE team_id = ?", [team])
        delta = Delta()
        for case_id, *row in await tx.rows(team_facts_sql(d), [None, team]):
            delta.change(team, case_id, None, _normal(row))
            total += 1
            if len(delta.facts) >= 50_000:
                await tx.many(UPSERT_FACT, delta.facts)
                delta.facts.clear()
        await delta.write(tx, d)
    return total


# -- reading ------------------------------------------------------------------------------
READ_DAYS = (f"SELECT dim, key, {_DAY_COLUMNS} FROM stat_days WHERE team_id = ? AND "
             "day >= ? AND opened != 0")
READ_FIRST_DAY = (f"SELECT {', '.join(FACT_COLUMNS)} FROM case_facts WHERE team_id = ? "
                  "AND created_at >= ? AND created_at < ?")


def read_due_now(d: Dialect) -> str:
    """The period's live cases with a follow-up due now, per category and owner, from the
    index of live cases by opening date, which holds every column read (no case row is
    read). SQLite's planner otherwise takes the index of live cases by due time and
    reads every overdue case of the workspace, whatever the period (189 ms at 1,000,000
    cases in bench/leads.py): the hint is SQLite's; PostgreSQL's dialect leaves it out."""
    return (f"SELECT category, owner_id, COUNT(*) FROM cases"
            f"{d.indexed_by('idx_cases_live_created')} WHERE team_id = ? AND "
            "status != 'closed' AND withdrawn_at IS NULL AND created_at >= ? AND "
            "next_followup_at <= ? GROUP BY category, owner_id")
