"""Findings of the review of the overdue re-base, the merge and the checklist: each
test failed before its fix."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from bot.domain.lifecycle import Lifecycle, Refused
from bot.domain.playbook import load_playbook
from bot.domain.reports import compute_stats, export_csv
from bot.domain.times import to_iso
from bot.domain.vocabulary import Status
from bot.runtime.clock import ManualClock
from bot.runtime.config import DEFAULT_PLAYBOOK
from bot.storage.sqlite import Store
from tests.test_lifecycle import kinds, open_case

SINCE = "2000-01-01T00:00:00.000000Z"


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
async def life(tmp_path, clock):
    store = Store(tmp_path / "r.db")
    yield Lifecycle(store, load_playbook(DEFAULT_PLAYBOOK), clock, initial_leads=("ULEAD",))
    await store.close()


async def followups(life) -> tuple[int, int]:
    """(follow-ups that fell due, done on time) over the workspace, as stats count them."""
    now = life.clock.now()
    stats = compute_stats(await life.store.cohort_facts("T1", SINCE, to_iso(now)), now, now)
    return stats.overall.followups_due, stats.overall.followups_on_time


# -- (2) a new owner of an overdue case -----------------------------------------------------
async def test_a_new_owner_of_an_overdue_case_gets_a_grace_and_the_miss_counts_once(life, clock):
    case = await open_case(life)
    was = (await life.set_followup("T1", case.number, "U1",
                            clock.now() + timedelta(hours=1))).case.next_followup_at
    clock.advance(hours=2)  # overdue by an hour
    await life.release("T1", case.number, "U1")
    done = await life.take("T1", case.number, "U2")
    grace = life.playbook.nudges.remind_every
    due = to_iso(clock.now() + grace)
    assert done.case.next_followup_at == due
    moved = (await life.store.events("T1", case.id))[-1]
    assert moved.kind == "followup_set"
    assert moved.detail == {"before": was, "after": due, "kind": "update",
                            "reason": "new owner"}
    assert due in {t.due_key for t in await life.store.timers_for_case("T1", case.id)}
    assert await followups(life) == (1, 0)  # the old owner's miss, once
    clock.advance(minutes=5)
    await life.followup_done("T1", case.number, "U2")  # the new owner calls at once
    assert await followups(life) == (2, 1)  # the miss once; the new owner's, on time


async def test_a_new_owner_who_misses_their_own_followup_counts_as_a_second_miss(life, clock):
    case = await open_case(life)
    await life.set_followup("T1", case.number, "U1", clock.now() + timedelta(hours=1))
    clock.advance(hours=2)
    await life.assign("T1", case.number, "ULEAD", "U2")
    clock.advance(hours=3)  # past the new owner's own due time as well
    await life.followup_done("T1", case.number, "U2")
    assert await followups(life) == (2, 0)


# -- (8) a merge into a case closed meanwhile ------------------------------------------------
async def test_merge_into_a_target_closed_meanwhile_writes_nothing(life):
    target, dup = await open_case(life), await open_case(life)
    real_get, fired = life.get, []

    async def get(team, number):  # the lead closes the target between the read and the write
        got = await real_get(team, number)
        if number == target.number and not fired:
            fired.append(1)
            await life.close("T1", target.number, "ULEAD", "spam")
        return got

    life.get = get
    try:
        with pytest.raises(Refused, match=r"Case #1 was closed just now, so case #2 was "
                                          r"not added to it"):
            await life.merge("T1", dup.number, "U1", target.number)
    finally:
        life.get = real_get
    assert await kinds(life, target) == ["opened", "closed"]  # no note after its close
    assert await kinds(life, dup) == ["opened"]  # and the duplicate was not closed either
    assert (await life.get("T1", dup.number)).status == Status.OPEN
    assert (await life.get("T1", dup.number)).duplicate_of is None
    assert (await life.get("T1", target.number)).status == Status.CLOSED


async def test_merge_into_an_open_target_still_adds_the_note(life):
    target, dup = await open_case(life), await open_case(life)
    done = await life.merge("T1", dup.number, "U1", target.number)
    assert done.changed and (await kinds(life, target))[-1] == "note"
    assert (await life.get("T1", dup.number)).duplicate_of == target.number


# -- (9) step five unticked by resolving or reopening -----------------------------------------
async def test_resolving_and_reopening_say_they_unticked_step_five(life, clock):
    case = await open_case(life)
    await life.step("T1", case.number, "U1", "follow_up")
    await life.resolve("T1", case.number, "U1", "refunded")
    assert "follow_up" not in await life.steps("T1", case.id)
    undone = (await life.store.events("T1", case.id))[-1]
    assert (undone.kind, undone.detail, undone.actor_id) == (
        "step_undone", {"step": "follow_up", "reason": "resolved"}, "U1")
    assert (await kinds(life, case))[-2:] == ["resolved", "step_undone"]

    await life.step("T1", case.number, "U1", "follow_up")  # the satisfaction check: closes it
    await life.reopen("T1", case.number, "U1")
    assert (await kinds(life, case))[-2:] == ["reopened", "step_undone"]
    assert (await life.store.events("T1", case.id))[-1].detail == {"step": "follow_up",
                                                            "reason": "reopened"}


async def test_nothing_unticked_means_no_step_undone_event(life):
    case = await open_case(life)
    await life.resolve("T1", case.number, "U1", "refunded")
    await life.reopen("T1", case.number, "U1")
    assert "step_undone" not in await kinds(life, case)


async def test_the_export_carries_the_untick_and_its_reason(life):
    case = await open_case(life)
    await life.step("T1", case.number, "U1", "follow_up")
    await life.resolve("T1", case.number, "U1", "refunded")
    out = io.StringIO()
    export_csv(life.store.export_rows("T1", SINCE), out)
    rows = [r for r in csv.DictReader(io.StringIO(out.getvalue())) if r["event"] ==
            "step_undone"]
    assert [json.loads(r["event_detail"]) for r in rows] == [{"reason": "resolved",
                                                              "step": "follow_up"}]
