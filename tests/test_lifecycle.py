"""The case lifecycle rules, straight against the domain (no Slack)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import ManualClock, to_iso
from bot.config import DEFAULT_PLAYBOOK
from bot.lifecycle import Done, Lifecycle, NeedsConfirmation, NotFound, Refused
from bot.models import CLOSED, OPEN, RESOLVED, SATISFACTION
from bot.playbook import load_playbook
from bot.store import Store


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
