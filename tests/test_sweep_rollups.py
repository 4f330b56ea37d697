"""A sweep reads a case again for the roll-ups only when the follow-up it nudged first
is no longer the case's own: either way the roll-ups equal a rebuild. On both engines."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from bot.domain.models import Timer
from bot.domain.times import to_iso
from tests.test_cohort_equivalence import BASE
from tests.test_rollups import table_rows


def at(hours: float) -> str:
    return to_iso(BASE + timedelta(hours=hours))


async def open_case(store, due: str):
    return await store.create_case("T1", {"channel_id": "C1", "reporter_id": "U1",
                                          "owner_id": "U1", "summary": "s",
                                          "category": "billing", "next_followup_at": due},
                                   "U1", at(0))


def first_nudge(case_id: int, due: str) -> tuple[int, dict]:
    return (case_id, {"kind": "followup", "rung": 0, "due_key": due})


async def test_a_first_nudge_counts_at_once_for_a_follow_up_moved_meanwhile(database):
    store = await database.open()
    try:
        still, moved = await open_case(store, at(5)), await open_case(store, at(5))
        # Moved before it fell due (the timeline does not show it due): only the
        # nudge the sweep planned from the old follow-up says it was.
        await store.change_case("T1", moved.id, changes={"next_followup_at": at(9)},
                                expect={"next_followup_at": at(5)}, actor_id="U1",
                                kind="followup_set",
                                detail={"before": at(5), "after": at(9)}, at=at(4))
        await store.apply_sweep("T1", [], [], [first_nudge(still.id, at(5))],
                                [first_nudge(moved.id, at(5))], at(6))
        kept = await table_rows(store)
        due = {row[1]: row[-5] for row in kept["case_facts"]}
        assert due == {still.id: 0, moved.id: 1}  # the one in force counts when asked
        await store.rebuild_rollups()
        assert await table_rows(store) == kept
    finally:
        await store.close()


async def test_a_next_timer_with_a_processed_ones_key_is_kept(database):
    """The processed timers go before the next ones come (PostgreSQL writes both in one
    statement): a next timer with a processed one's key is written, not lost."""
    store = await database.open()
    try:
        case = await open_case(store, at(5))
        timer = Timer(team_id="T1", at=at(5), case_id=case.id, kind="followup",
                      due_key=at(5))
        await store.apply_sweep("T1", [], [timer], [], [], at(4))
        again = dataclasses.replace(timer, rung=1)
        await store.apply_sweep("T1", [timer], [again], [], [], at(6))
        kept = [t for t, _ in await store.due_timers("T1", at(6)) if t.case_id == case.id
                and t.kind == "followup"]
        assert [(t.at, t.due_key, t.rung) for t in kept] == [(timer.at, timer.due_key, 1)]
    finally:
        await store.close()
