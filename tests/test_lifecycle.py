"""The case lifecycle rules, straight against the domain (no Slack)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from bot.domain.lifecycle import Done, Lifecycle, NeedsConfirmation, NotFound, OutOfDate, Refused
from bot.domain.playbook import load_playbook
from bot.domain.reports import compute_stats, export_csv
from bot.domain.times import to_iso
from bot.domain.vocabulary import FollowupKind, Status
from bot.runtime.clock import ManualClock
from bot.runtime.config import DEFAULT_PLAYBOOK


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
async def life(database, clock):
    store = await database.open("l.db")
    yield Lifecycle(store, load_playbook(DEFAULT_PLAYBOOK), clock, initial_leads=("ULEAD",))
    await store.close()


async def open_case(life, owner="U1", team="T1", customer="Acme"):
    fields = dict(channel_id="C1", reporter_id=owner, owner_id=owner, summary="late order",
                  category="broken_promise", emotion="upset", contact="email",
                  severity="normal", customer=customer)
    return await life.store.create_case(team, fields, owner, to_iso(life.clock.now()))


async def kinds(life, case, team="T1"):
    return [e.kind for e in await life.store.events(team, case.id)]


SINCE = "2000-01-01T00:00:00.000000Z"


async def followups(life) -> tuple[int, int]:
    """(follow-ups that fell due, done on time) over the workspace, as stats count them."""
    now = life.clock.now()
    stats = compute_stats(await life.store.cohort_facts("T1", SINCE, to_iso(now)), now, now)
    return stats.overall.followups_due, stats.overall.followups_on_time


async def test_owner_cannot_be_taken_over_by_a_colleague(life):
    case = await open_case(life)
    with pytest.raises(Refused) as refused:
        await life.take("T1", case.number, "U2")
    assert refused.value.owner == "U1" and "ULEAD" in refused.value.who_can


async def test_released_case_can_be_taken_by_anyone(life):
    case = await open_case(life)
    await life.release("T1", case.number, "U1")
    done = await life.take("T1", case.number, "U2")
    assert done.case.owner_id == "U2"
    assert (await kinds(life, case))[-2:] == ["released", "taken"]


async def test_taking_twice_changes_nothing_twice(life):
    case = await open_case(life)
    await life.release("T1", case.number, "U1")
    await life.take("T1", case.number, "U2")
    again = await life.take("T1", case.number, "U2")
    assert again.changed is False and (await kinds(life, case)).count("taken") == 1


async def test_lead_may_reassign_but_colleague_may_not(life):
    case = await open_case(life)
    with pytest.raises(Refused):
        await life.assign("T1", case.number, "U2", "U3")
    done = await life.assign("T1", case.number, "ULEAD", "U3")
    assert done.case.owner_id == "U3"
    [event] = [e for e in await life.store.events("T1", case.id) if e.kind == "assigned"]
    assert event.detail == {"before": "U1", "after": "U3"} and event.actor_id == "ULEAD"


async def test_assigning_an_overloaded_person_asks_first(life):
    for _ in range(life.playbook.settings.max_open_per_owner):
        await open_case(life, owner="U9")
    case = await open_case(life)
    ask = await life.assign("T1", case.number, "U1", "U9")
    assert isinstance(ask, NeedsConfirmation) and ask.open_count == ask.limit
    assert (await life.get("T1", case.number)).owner_id == "U1"
    done = await life.assign("T1", case.number, "U1", "U9", confirmed=True)
    assert done.case.owner_id == "U9"


async def test_resolve_schedules_satisfaction_followup(life, clock):
    case = await open_case(life)
    done = await life.resolve("T1", case.number, "U1", "refunded", "10% off", "yes")
    assert done.case.status == Status.RESOLVED
    assert done.case.followup_kind == FollowupKind.SATISFACTION
    days = life.playbook.settings.satisfaction_followup_days
    assert done.case.next_followup_at == to_iso(clock.now() + timedelta(days=days))
    assert done.case.compensation_accepted == "yes"


async def test_recording_satisfaction_followup_closes_resolved_case(life):
    case = await open_case(life)
    await life.resolve("T1", case.number, "U1")
    done = await life.step("T1", case.number, "U1", "follow-up")
    assert done.case.status == Status.CLOSED and done.case.next_followup_at is None
    assert (await kinds(life, case))[-2:] == ["step_done", "closed"]


async def test_owner_cannot_close_before_followup_but_lead_can_with_reason(life):
    case = await open_case(life)
    with pytest.raises(Refused) as refused:
        await life.close("T1", case.number, "U1")
    assert "ULEAD" in refused.value.who_can
    with pytest.raises(Refused, match="reason"):
        await life.close("T1", case.number, "ULEAD")
    done = await life.close("T1", case.number, "ULEAD", "customer unreachable")
    assert done.case.status == Status.CLOSED
    assert (await life.store.events("T1", case.id))[-1].detail["reason"] == "customer unreachable"


async def test_reopen_returns_case_to_open(life):
    case = await open_case(life)
    await life.close("T1", case.number, "ULEAD", "dup")
    done = await life.reopen("T1", case.number, "U1")
    assert done.case.status == Status.OPEN and done.case.next_followup_at


async def test_closed_case_refuses_checklist_and_followup(life, clock):
    case = await open_case(life)
    await life.close("T1", case.number, "ULEAD", "dup")
    with pytest.raises(Refused, match="reopen"):
        await life.step("T1", case.number, "U1", "apologize")
    with pytest.raises(Refused, match="reopen"):
        await life.set_followup("T1", case.number, "U1", clock.now() + timedelta(hours=1))


async def test_step_names_are_checked(life):
    case = await open_case(life)
    with pytest.raises(Refused, match="apologize"):
        await life.step("T1", case.number, "U1", "dance")
    assert (await life.step("T1", case.number, "U1", "apologise")).changed
    assert (await life.step("T1", case.number, "U1", "apologize")).changed is False


async def test_unknown_case_and_other_workspace(life):
    case = await open_case(life, team="TA")
    with pytest.raises(NotFound):
        await life.get("TB", case.number)
    with pytest.raises(NotFound):
        await life.take("TB", case.number, "U1")
    with pytest.raises(NotFound):
        await life.note("TB", case.number, "U1", "hello")
    assert await kinds(life, case, team="TA") == ["opened"]


async def test_merge_folds_duplicate_into_open_case(life):
    first = await open_case(life)
    second = await open_case(life)
    done = await life.merge("T1", second.number, "U1", first.number)
    assert isinstance(done, Done) and done.case.number == first.number
    assert (await life.get("T1", second.number)).duplicate_of == first.number
    notes = [e for e in await life.store.events("T1", first.id) if e.kind == "note"]
    assert notes[0].detail["from_case"] == second.number


async def test_leads_seeded_from_settings_once(life):
    assert await life.leads("T1") == ["ULEAD"]
    await life.store.set_leads("T1", ["UX"], "ULEAD", "2026-01-01T00:00:00.000000Z")
    assert await life.leads("T1") == ["UX"]


# -- the satisfaction check belongs to the latest resolution ------------------------------
async def test_satisfaction_done_after_reopen_and_second_resolve_closes(life):
    """Resolve, satisfaction recorded (closed), the customer comes back: reopen, resolve
    again; the second satisfaction check closes the case too."""
    case = await open_case(life)
    await life.resolve("T1", case.number, "U1", "reshipped")
    await life.followup_done("T1", case.number, "U1")
    assert (await life.get("T1", case.number)).status == Status.CLOSED
    await life.reopen("T1", case.number, "U1")
    assert "follow_up" not in await life.steps("T1", case.id)  # the card no longer shows it done
    await life.resolve("T1", case.number, "U1", "refunded")
    done = await life.followup_done("T1", case.number, "U1")
    assert done.changed and (await life.get("T1", case.number)).status == Status.CLOSED
    assert (await kinds(life, case))[-2:] == ["step_done", "closed"]


async def test_followup_step_ticked_while_open_is_not_the_satisfaction_check(life):
    case = await open_case(life)
    await life.step("T1", case.number, "U1", "follow-up")  # ticked while open
    await life.resolve("T1", case.number, "U1", "reshipped")
    assert "follow_up" not in await life.steps("T1", case.id)
    with pytest.raises(Refused):
        await life.close("T1", case.number, "U1")  # no satisfaction check yet
    done = await life.step("T1", case.number, "U1", "follow-up")  # the check itself
    assert done.case.status == Status.CLOSED


async def test_accepted_without_any_compensation_is_not_recorded_as_accepted(life):
    case = await open_case(life)
    done = await life.resolve("T1", case.number, "U1", "reshipped", compensation=" ",
                        accepted="yes")
    assert done.case.compensation_accepted == "not_offered"


# -- applied once -------------------------------------------------------------------------
async def test_merge_of_a_closed_duplicate_is_refused_and_adds_no_note(life):
    first, second = await open_case(life), await open_case(life)
    duplicate = await open_case(life, owner="U2")
    await life.merge("T1", duplicate.number, "U2", first.number)
    with pytest.raises(Refused, match="added to case #1"):
        await life.merge("T1", duplicate.number, "U2", second.number)  # an older offer, clicked
    assert (await kinds(life, duplicate)).count("closed") == 1
    assert (await life.get("T1", duplicate.number)).duplicate_of == first.number
    assert "note" not in await kinds(life, second)


async def test_snooze_submitted_twice_writes_one_event(life, clock):
    case = await open_case(life)
    until = clock.now() + timedelta(hours=1)
    await life.snooze("T1", case.number, "U1", until, "call back")
    again = await life.snooze("T1", case.number, "U1", until, "call back")
    assert again.changed is False and (await kinds(life, case)).count("snoozed") == 1


async def test_a_form_key_applies_a_change_once(life, clock):
    case = await open_case(life)
    await life.set_followup("T1", case.number, "U1", clock.now() + timedelta(hours=1),
                      once_key="view:V1")
    clock.advance(seconds=1)
    again = await life.set_followup("T1", case.number, "U1", clock.now() + timedelta(hours=1),
                              once_key="view:V1")
    assert again.changed is False and (await kinds(life, case)).count("followup_set") == 1


# -- a reminder's answer applies to the follow-up it was sent for ---------------------------
async def test_done_for_an_older_followup_is_refused_as_out_of_date(life, clock):
    case = await open_case(life)
    first = (await life.set_followup("T1", case.number, "U1", clock.now())).case.next_followup_at
    newer = (await life.set_followup("T1", case.number, "U1",
                              clock.now() + timedelta(days=1))).case.next_followup_at
    with pytest.raises(OutOfDate, match="out of date"):
        await life.followup_done("T1", case.number, "U1", due_key=first)
    with pytest.raises(OutOfDate):
        await life.snooze("T1", case.number, "U1", clock.now() + timedelta(hours=1), due_key=first)
    assert (await life.get("T1", case.number)).next_followup_at == newer
    assert (await life.followup_done("T1", case.number, "U1", due_key=newer)).changed


async def test_satisfaction_reminder_from_before_a_reopen_is_out_of_date(life, clock):
    case = await open_case(life)
    old = (await life.resolve("T1", case.number, "U1")).case.next_followup_at
    await life.step("T1", case.number, "U1", "follow-up")  # closed by the checkbox
    clock.advance(minutes=1)
    await life.reopen("T1", case.number, "U1")
    with pytest.raises(OutOfDate):
        await life.followup_done("T1", case.number, "U1", due_key=old)
    assert (await life.get("T1", case.number)).next_followup_at  # the new follow-up is kept


# -- a new owner of an overdue case gets a ladder of their own --------------------------------
async def test_new_owner_of_an_overdue_case_gets_it_due_after_the_reminder_pause(life, clock):
    case = await open_case(life)
    was = (await life.set_followup("T1", case.number, "U1", clock.now())).case.next_followup_at
    clock.advance(hours=5)
    done = await life.assign("T1", case.number, "ULEAD", "U3")
    now = to_iso(clock.now() + life.playbook.nudges.remind_every)  # 2h by default
    assert done.case.next_followup_at == now and done.before.owner_id == "U1"
    assert (await kinds(life, case))[-2:] == ["assigned", "followup_set"]
    moved = (await life.store.events("T1", case.id))[-1]
    assert moved.detail == {"before": was, "after": now, "kind": "update",
                            "reason": "new owner"}
    assert now in {t.due_key for t in await life.store.timers_for_case("T1", case.id)}


async def test_owner_change_before_the_followup_is_due_keeps_it(life, clock):
    case = await open_case(life)
    due = (await life.set_followup("T1", case.number, "U1",
                            clock.now() + timedelta(hours=2))).case.next_followup_at
    await life.release("T1", case.number, "U1")
    done = await life.take("T1", case.number, "U2")
    assert done.case.next_followup_at == due
    assert "followup_set" not in (await kinds(life, case))[-2:]


# -- a new owner of an overdue case: a grace, and the miss counted once --------------------
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


# -- a merge into a case closed meanwhile ------------------------------------------------
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


# -- step five unticked by resolving or reopening -----------------------------------------
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
    assert [(r["event_text"], r["event_step"]) for r in rows] == [("resolved", "follow_up")]
