"""The counts of cases in play kept by triggers (live_counts.py) stay equal to counting
the cases, through the store's own writes, on both engines: the team's workload and its
overdue count, read from them, are what a count of the cases gives."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from bot.domain.models import CaseFilter
from bot.domain.times import to_iso
from bot.storage import reports
from tests.test_cohort_equivalence import BASE

OWNERS = (None, "U1", "U2", "U3")


def at(hours: float) -> str:
    return to_iso(BASE + timedelta(hours=hours))


async def counted(store, team: str) -> dict[tuple, int]:
    """live_counts as counting the cases gives it."""
    rows = await store._rows(
        "SELECT owner_id, status, next_followup_at IS NOT NULL, COUNT(*) FROM cases "
        "WHERE team_id = ? AND status != 'closed' GROUP BY owner_id, status, "
        "next_followup_at IS NOT NULL", [team])
    return {(o or "", s, int(f)): n for o, s, f, n in rows}


async def kept(store, team: str) -> dict[tuple, int]:
    rows = await store._rows("SELECT owner_id, status, followup, n FROM live_counts "
                             "WHERE team_id = ? AND n != 0", [team])
    return {(o, s, f): n for o, s, f, n in rows}


async def random_changes(store, rng: random.Random, team: str, n: int) -> None:
    cases = []
    for i in range(n):
        owner = rng.choice(OWNERS)
        fields = {"channel_id": "C1", "reporter_id": "U9", "summary": f"s{i}",
                  "category": "billing",
                  "next_followup_at": at(rng.randrange(-50, 50)) if rng.random() < .8 else None}
        if owner:
            fields["owner_id"] = owner
        cases.append(await store.create_case(team, fields, "U9", at(-60)))
    for step in range(3 * n):
        case = rng.choice(cases)
        change = rng.choice(("owner", "followup", "status", "withdraw"))
        if change == "owner":
            changes = {"owner_id": rng.choice(OWNERS)}
        elif change == "followup":
            changes = {"next_followup_at": rng.choice((None, at(rng.randrange(-50, 50))))}
        elif change == "status":
            changes = {"status": rng.choice(("open", "resolved", "closed"))}
        else:
            changes = {"status": "closed", "withdrawn_at": at(step), "next_followup_at": None}
        await store.change_case(team, case.id, changes=changes, expect={}, actor_id="U9",
                                kind="note", detail={}, at=at(step))


@pytest.mark.parametrize("seed", [1, 2])
async def test_kept_counts_match_the_cases_through_every_change(database, seed, monkeypatch):
    store = await database.open()
    try:
        rng = random.Random(seed)
        await random_changes(store, rng, "T1", 30)
        await random_changes(store, rng, "T2", 10)  # another workspace, counted apart
        for team in ("T1", "T2"):
            assert await kept(store, team) == await counted(store, team)
            by_owner: dict = {}
            for (owner, status, _), n in (await counted(store, team)).items():
                if status == "open":
                    by_owner[owner or None] = by_owner.get(owner or None, 0) + n
            assert dict(await store.workload(team)) == by_owner
            for probe in (reports.PROBE, 1):  # few follow-ups to come, or counted one by one
                monkeypatch.setattr(reports, "PROBE", probe)
                for hour in (-100, -10, 0, 10, 100):
                    where = CaseFilter(overdue_before=at(hour))
                    _, total = await store.live_cases(team, where, 5)
                    assert total == await store._value(
                        "SELECT COUNT(*) FROM cases WHERE team_id = ? AND status != "
                        "'closed' AND next_followup_at <= ?", [team, at(hour)])
    finally:
        await store.close()
