"""The case lifecycle rules, straight against the domain (no Slack)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.lifecycle import Done, Lifecycle, NeedsConfirmation, NotFound, OutOfDate, Refused
from bot.domain.models import CLOSED, OPEN, RESOLVED, SATISFACTION
from bot.domain.playbook import load_playbook
from bot.runtime.clock import ManualClock, to_iso
from bot.runtime.config import DEFAULT_PLAYBOOK
from bot.storage.sqlite import Store


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def life(tmp_path, clock):
    store = Store(tmp_path / "l.db")
    yield Lifecycle(store, load_playbook(DEFAULT_PLAYBOOK), clock, initial_leads=("ULEAD",))
    store.close()


def open_case(life, owner="U1", team="T1", customer="Acme"):
    fields = dict(channel_id="C1", reporter_id=owner, owner_id=owner, summary="late order",
                  category="broken_promise", emotion="upset", contact="email",
                  severity="normal", customer=customer)
    return life.store.create_case(team, fields, owner, to_iso(life.clock.now()))


def kinds(life, case, team="T1"):
    return [e.kind for e in life.store.events(team, case.id)]


def test_owner_cannot_be_taken_over_by_a_colleague(life):
    case = open_case(life)
    with pytest.raises(Refused) as refused:
        life.take("T1", case.number, "U2")
    assert refused.value.owner == "U1" and "ULEAD" in refused.value.who_can


def test_released_case_can_be_taken_by_anyone(life):
    case = open_case(life)
    life.release("T1", case.number, "U1")
    done = life.take("T1", case.number, "U2")
    assert done.case.owner_id == "U2"
    assert kinds(life, case)[-2:] == ["released", "taken"]


def test_taking_twice_changes_nothing_twice(life):
    case = open_case(life)
    life.release("T1", case.number, "U1")
    life.take("T1", case.number, "U2")
    again = life.take("T1", case.number, "U2")
    assert again.changed is False and kinds(life, case).count("taken") == 1


def test_lead_may_reassign_but_colleague_may_not(life):
    case = open_case(life)
    with pytest.raises(Refused):
        life.assign("T1", case.number, "U2", "U3")
    done = life.assign("T1", case.number, "ULEAD", "U3")
    assert done.case.owner_id == "U3"
    [event] = [e for e in life.store.events("T1", case.id) if e.kind == "assigned"]
    assert event.detail == {"before": "U1", "after": "U3"} and event.actor_id == "ULEAD"


def test_assigning_an_overloaded_person_asks_first(life):
    for _ in range(life.playbook.settings.max_open_per_owner):
        open_case(life, owner="U9")
    case = open_case(life)
    ask = life.assign("T1", case.number, "U1", "U9")
    assert isinstance(ask, NeedsConfirmation) and ask.open_count == ask.limit
    assert life.get("T1", case.number).owner_id == "U1"
    done = life.assign("T1", case.number, "U1", "U9", confirmed=True)
    assert done.case.owner_id == "U9"


def test_resolve_schedules_satisfaction_followup(life, clock):
    case = open_case(life)
    done = life.resolve("T1", case.number, "U1", "refunded", "10% off", "yes")
    assert done.case.status == RESOLVED and done.case.followup_kind == SATISFACTION
    days = life.playbook.settings.satisfaction_followup_days
    assert done.case.next_followup_at == to_iso(clock.now() + timedelta(days=days))
    assert done.case.compensation_accepted == "yes"


def test_recording_satisfaction_followup_closes_resolved_case(life):
    case = open_case(life)
    life.resolve("T1", case.number, "U1")
    done = life.step("T1", case.number, "U1", "follow-up")
    assert done.case.status == CLOSED and done.case.next_followup_at is None
    assert kinds(life, case)[-2:] == ["step_done", "closed"]


def test_owner_cannot_close_before_followup_but_lead_can_with_reason(life):
    case = open_case(life)
    with pytest.raises(Refused) as refused:
        life.close("T1", case.number, "U1")
    assert "ULEAD" in refused.value.who_can
    with pytest.raises(Refused, match="reason"):
        life.close("T1", case.number, "ULEAD")
    done = life.close("T1", case.number, "ULEAD", "customer unreachable")
    assert done.case.status == CLOSED
    assert life.store.events("T1", case.id)[-1].detail["reason"] == "customer unreachable"


def test_reopen_returns_case_to_open(life):
    case = open_case(life)
    life.close("T1", case.number, "ULEAD", "dup")
    done = life.reopen("T1", case.number, "U1")
    assert done.case.status == OPEN and done.case.next_followup_at


def test_closed_case_refuses_checklist_and_followup(life, clock):
    case = open_case(life)
    life.close("T1", case.number, "ULEAD", "dup")
    with pytest.raises(Refused, match="reopen"):
        life.step("T1", case.number, "U1", "apologize")
    with pytest.raises(Refused, match="reopen"):
        life.set_followup("T1", case.number, "U1", clock.now() + timedelta(hours=1))


def test_step_names_are_checked(life):
    case = open_case(life)
    with pytest.raises(Refused, match="apologize"):
        life.step("T1", case.number, "U1", "dance")
    assert life.step("T1", case.number, "U1", "apologise").changed
    assert life.step("T1", case.number, "U1", "apologize").changed is False


def test_unknown_case_and_other_workspace(life):
    case = open_case(life, team="TA")
    with pytest.raises(NotFound):
        life.get("TB", case.number)
    with pytest.raises(NotFound):
        life.take("TB", case.number, "U1")
    with pytest.raises(NotFound):
        life.note("TB", case.number, "U1", "hello")
    assert kinds(life, case, team="TA") == ["opened"]


def test_merge_folds_duplicate_into_open_case(life):
    first = open_case(life)
    second = open_case(life)
    done = life.merge("T1", second.number, "U1", first.number)
    assert isinstance(done, Done) and done.case.number == first.number
    assert life.get("T1", second.number).duplicate_of == first.number
    notes = [e for e in life.store.events("T1", first.id) if e.kind == "note"]
    assert notes[0].detail["from_case"] == second.number


def test_leads_seeded_from_settings_once(life):
    assert life.leads("T1") == ["ULEAD"]
    life.store.set_leads("T1", ["UX"], "ULEAD", "2026-01-01T00:00:00.000000Z")
    assert life.leads("T1") == ["UX"]


# -- the satisfaction check belongs to the latest resolution ------------------------------
def test_satisfaction_done_after_reopen_and_second_resolve_closes(life):
    """Resolve, satisfaction recorded (closed), the customer comes back: reopen, resolve
    again; the second satisfaction check closes the case too."""
    case = open_case(life)
    life.resolve("T1", case.number, "U1", "reshipped")
    life.followup_done("T1", case.number, "U1")
    assert life.get("T1", case.number).status == CLOSED
    life.reopen("T1", case.number, "U1")
    assert "follow_up" not in life.steps("T1", case.id)  # the card no longer shows it done
    life.resolve("T1", case.number, "U1", "refunded")
    done = life.followup_done("T1", case.number, "U1")
    assert done.changed and life.get("T1", case.number).status == CLOSED
    assert kinds(life, case)[-2:] == ["step_done", "closed"]


def test_followup_step_ticked_while_open_is_not_the_satisfaction_check(life):
    case = open_case(life)
    life.step("T1", case.number, "U1", "follow-up")  # ticked while open
    life.resolve("T1", case.number, "U1", "reshipped")
    assert "follow_up" not in life.steps("T1", case.id)
    with pytest.raises(Refused):
        life.close("T1", case.number, "U1")  # no satisfaction check yet
    done = life.step("T1", case.number, "U1", "follow-up")  # the check itself
    assert done.case.status == CLOSED


def test_accepted_without_any_compensation_is_not_recorded_as_accepted(life):
    case = open_case(life)
    done = life.resolve("T1", case.number, "U1", "reshipped", compensation=" ",
                        accepted="yes")
    assert done.case.compensation_accepted == "not_offered"


# -- applied once -------------------------------------------------------------------------
def test_merge_of_a_closed_duplicate_is_refused_and_adds_no_note(life):
    first, second = open_case(life), open_case(life)
    duplicate = open_case(life, owner="U2")
    life.merge("T1", duplicate.number, "U2", first.number)
    with pytest.raises(Refused, match="added to case #1"):
        life.merge("T1", duplicate.number, "U2", second.number)  # an older offer, clicked
    assert kinds(life, duplicate).count("closed") == 1
    assert life.get("T1", duplicate.number).duplicate_of == first.number
    assert "note" not in kinds(life, second)


def test_snooze_submitted_twice_writes_one_event(life, clock):
    case = open_case(life)
    until = clock.now() + timedelta(hours=1)
    life.snooze("T1", case.number, "U1", until, "call back")
    again = life.snooze("T1", case.number, "U1", until, "call back")
    assert again.changed is False and kinds(life, case).count("snoozed") == 1


def test_a_form_key_applies_a_change_once(life, clock):
    case = open_case(life)
    life.set_followup("T1", case.number, "U1", clock.now() + timedelta(hours=1),
                      once_key="view:V1")
    clock.advance(seconds=1)
    again = life.set_followup("T1", case.number, "U1", clock.now() + timedelta(hours=1),
                              once_key="view:V1")
    assert again.changed is False and kinds(life, case).count("followup_set") == 1


# -- a reminder's answer applies to the follow-up it was sent for ---------------------------
def test_done_for_an_older_followup_is_refused_as_out_of_date(life, clock):
    case = open_case(life)
    first = life.set_followup("T1", case.number, "U1", clock.now()).case.next_followup_at
    newer = life.set_followup("T1", case.number, "U1",
                              clock.now() + timedelta(days=1)).case.next_followup_at
    with pytest.raises(OutOfDate, match="out of date"):
        life.followup_done("T1", case.number, "U1", due_key=first)
    with pytest.raises(OutOfDate):
        life.snooze("T1", case.number, "U1", clock.now() + timedelta(hours=1), due_key=first)
    assert life.get("T1", case.number).next_followup_at == newer
    assert life.followup_done("T1", case.number, "U1", due_key=newer).changed


def test_satisfaction_reminder_from_before_a_reopen_is_out_of_date(life, clock):
    case = open_case(life)
    old = life.resolve("T1", case.number, "U1").case.next_followup_at
    life.step("T1", case.number, "U1", "follow-up")  # closed by the checkbox
    clock.advance(minutes=1)
    life.reopen("T1", case.number, "U1")
    with pytest.raises(OutOfDate):
        life.followup_done("T1", case.number, "U1", due_key=old)
    assert life.get("T1", case.number).next_followup_at  # the new follow-up is kept


# -- a new owner of an overdue case gets a ladder of their own --------------------------------
def test_new_owner_of_an_overdue_case_gets_it_due_after_the_reminder_pause(life, clock):
    case = open_case(life)
    was = life.set_followup("T1", case.number, "U1", clock.now()).case.next_followup_at
    clock.advance(hours=5)
    done = life.assign("T1", case.number, "ULEAD", "U3")
    now = to_iso(clock.now() + life.playbook.nudges.remind_every)  # 2h by default
    assert done.case.next_followup_at == now and done.before.owner_id == "U1"
    assert kinds(life, case)[-2:] == ["assigned", "followup_set"]
    moved = life.store.events("T1", case.id)[-1]
    assert moved.detail == {"before": was, "after": now, "kind": "update",
                            "reason": "new owner"}
    assert now in {t.due_key for t in life.store.timers_for_case("T1", case.id)}


def test_owner_change_before_the_followup_is_due_keeps_it(life, clock):
    case = open_case(life)
    due = life.set_followup("T1", case.number, "U1",
                            clock.now() + timedelta(hours=2)).case.next_followup_at
    life.release("T1", case.number, "U1")
    done = life.take("T1", case.number, "U2")
    assert done.case.next_followup_at == due and "followup_set" not in kinds(life, case)[-2:]
