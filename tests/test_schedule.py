"""The ladder and working hours, as plain functions."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, time, timedelta

import pytest

from bot.domain.models import Case, Timer
from bot.domain.playbook import PlaybookError, load_playbook
from bot.domain.schedule import (
    Hours,
    add_working,
    add_working_each,
    in_hours,
    next_working_moment,
    plan_followup,
    plan_update,
    working_time,
)
from bot.domain.times import to_iso
from bot.domain.vocabulary import NudgeKind
from bot.domain.workspace import Workspace
from bot.runtime.config import DEFAULT_PLAYBOOK

UTC_TZ = "UTC"

RULES = load_playbook(DEFAULT_PLAYBOOK).nudges
HOURS = Hours((0, 1, 2, 3, 4), time(9), time(18))
THU_10_UTC = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def case(due: datetime | None, **over) -> Case:
    base = dict(id=1, team_id="T1", number=1, channel_id="C1", reporter_id="U1",
                owner_id="U1", customer=None, summary="s", category="general", emotion="calm",
                contact="email", severity="normal", status="open", created_at="x",
                updated_at="x", next_followup_at=to_iso(due) if due else None)
    return dataclasses.replace(Case(**base), **over)


def timer(c: Case, kind: str = NudgeKind.FOLLOWUP, **over) -> Timer:
    due_key = c.next_followup_at if kind == NudgeKind.FOLLOWUP else c.customer_updated_at
    return dataclasses.replace(Timer("T1", due_key, c.id, kind, due_key), **over)


def then(t: Timer, plan) -> Timer:
    """The timer a plan leaves behind."""
    return Timer(team_id=t.team_id, case_id=t.case_id, **plan.next)


def test_within_hours_is_now_and_outside_is_next_start():
    assert next_working_moment(THU_10_UTC, "UTC", HOURS) == THU_10_UTC
    night = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)
    assert next_working_moment(night, "UTC", HOURS) == datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_friday_evening_waits_for_monday_in_the_owners_zone():
    friday_evening_la = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # Fri 19:00 in LA
    start = next_working_moment(friday_evening_la, "America/Los_Angeles", HOURS)
    assert start == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # Mon 09:00 in LA
    assert in_hours(start, "America/Los_Angeles", HOURS)


def test_ladder_first_reminder_then_every_remind_every():
    due = THU_10_UTC
    c = case(due)
    first = plan_followup(c, timer(c), due, RULES, HOURS, "UTC")
    assert first.send == [{"kind": NudgeKind.FOLLOWUP, "rung": 0, "due_key": to_iso(due)}]
    assert first.next["at"] == to_iso(due + RULES.remind_every) and first.next["rung"] == 1
    nothing = plan_followup(c, then(timer(c), first), due + timedelta(minutes=30), RULES,
                            HOURS, "UTC")
    assert nothing.send == []


def test_a_timer_for_a_moved_followup_is_dropped():
    c = case(THU_10_UTC)
    old = timer(c, due_key=to_iso(THU_10_UTC - timedelta(hours=5)))
    plan = plan_followup(c, old, THU_10_UTC, RULES, HOURS, "UTC")
    assert plan.send == [] and plan.next is None


def test_downtime_sends_only_the_latest_rung():
    due = THU_10_UTC
    plan = plan_followup(case(due), timer(case(due)), due + timedelta(hours=3), RULES, HOURS,
                         "UTC")
    assert plan.send == [{"kind": NudgeKind.FOLLOWUP, "rung": 1, "due_key": to_iso(due)}]
    assert plan.skip == [{"kind": NudgeKind.FOLLOWUP, "rung": 0, "due_key": to_iso(due)}]


def test_escalation_once_overdue_by_escalate_after():
    due = THU_10_UTC
    c = case(due)
    plan = plan_followup(c, timer(c), due + RULES.escalate_after, RULES, HOURS, "UTC")
    assert [r["kind"] for r in plan.send] == [NudgeKind.ESCALATION]
    assert plan.next is None  # reminders used up and leads told: nothing more to do


def test_out_of_hours_postpones_without_sending_unless_critical():
    night = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
    c = case(night)
    waiting = plan_followup(c, timer(c), night, RULES, HOURS, "UTC")
    assert waiting.send == []
    assert waiting.next["at"] == to_iso(datetime(2026, 11, 27, 9, tzinfo=UTC))
    urgent = case(night, severity="critical")
    assert plan_followup(urgent, timer(urgent), night, RULES, HOURS, "UTC").send


def test_update_nudge_defers_to_a_followup_that_is_due():
    now = THU_10_UTC
    quiet = case(None, customer_updated_at=to_iso(now - RULES.update_every))
    plan = plan_update(quiet, timer(quiet, NudgeKind.CUSTOMER_UPDATE), now, RULES, HOURS, "UTC")
    assert [r["kind"] for r in plan.send] == [NudgeKind.CUSTOMER_UPDATE]
    assert plan.next["at"] == to_iso(now + RULES.update_every)
    chased = case(now + timedelta(hours=2), customer_updated_at=to_iso(now))
    chased_timer = timer(chased, NudgeKind.CUSTOMER_UPDATE)
    assert plan_update(chased, chased_timer, now, RULES, HOURS, "UTC").send == []
    heard = dataclasses.replace(quiet, customer_updated_at=to_iso(now))
    quiet_timer = timer(quiet, NudgeKind.CUSTOMER_UPDATE)
    assert plan_update(heard, quiet_timer, now, RULES, HOURS, "UTC").next is None


def test_workspace_hours_override_the_playbook():
    hours = Hours.from_rules(RULES, Workspace(work_days="sat,sun", work_start="10:00",
                                              work_end="14:00"))
    assert hours.days == (5, 6) and hours.start == time(10) and "Sat, Sun 10:00–14:00" \
        == hours.describe()


@pytest.mark.parametrize("bad, needle", [
    ("remind_every: 2h", "remind_every: soon"),
    ("work_end: \"18:00\"", "work_end: \"08:00\""),
    ("work_days: [mon, tue, wed, thu, fri]", "work_days: [mon, someday]"),
])
def test_bad_nudge_settings_name_the_line(tmp_path, bad, needle):
    text = DEFAULT_PLAYBOOK.read_text()
    path = tmp_path / "p.yaml"
    path.write_text(text.replace(bad, needle))
    with pytest.raises(PlaybookError) as err:
        load_playbook(path)
    line = text.replace(bad, needle).splitlines().index(
        next(line for line in text.replace(bad, needle).splitlines() if needle in line)) + 1
    assert f"line {line}" in str(err.value) and "nudges." in str(err.value)


def test_digest_owed_on_sunday_night_is_still_owed_on_monday_morning():
    from bot.domain.schedule import digest_moment

    monday_early = datetime(2026, 11, 30, 0, 30, tzinfo=UTC)
    moment = digest_moment(monday_early, "sun", "23:00", "UTC")
    assert moment == datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
    thursday = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert digest_moment(thursday, "mon", "09:00", "Europe/Paris") == datetime(
        2026, 11, 23, 8, 0, tzinfo=UTC)


LA = "America/Los_Angeles"


def la(day: int, hour: int, minute: int = 0) -> datetime:
    """November 2026 in Los Angeles (UTC-8), as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) + timedelta(hours=8)


def test_working_time_stops_outside_working_hours():
    assert add_working(la(27, 16, 30), timedelta(hours=2), LA, HOURS) == la(30, 9, 30)
    assert add_working(la(26, 10), timedelta(hours=2), LA, HOURS) == la(26, 12)
    assert add_working(la(28, 12), timedelta(0), LA, HOURS) == la(30, 9)  # Saturday
    assert add_working(la(26, 10), timedelta(hours=18), LA, HOURS) == la(30, 10)


def test_a_followup_due_late_friday_is_reminded_on_monday_before_any_escalation():
    due = la(27, 17, 30)  # half an hour before the end of Friday
    c = case(due)
    friday = plan_followup(c, timer(c), due, RULES, HOURS, LA)
    assert [r["kind"] for r in friday.send] == [NudgeKind.FOLLOWUP]
    monday = plan_followup(c, then(timer(c), friday), la(30, 9), RULES, HOURS, LA)
    assert monday.send == []  # 30 working minutes late: not yet the next rung
    assert monday.next["at"] == to_iso(la(30, 10, 30))  # 2 working hours after the due time
    later = plan_followup(c, then(timer(c), friday), la(30, 10, 30), RULES, HOURS, LA)
    assert [r["kind"] for r in later.send] == [NudgeKind.FOLLOWUP]
    escalation = plan_followup(c, then(timer(c), later), la(30, 12, 30), RULES, HOURS, LA)
    assert [r["kind"] for r in escalation.send] == [NudgeKind.ESCALATION]  # 4 working hours late


def test_a_critical_followup_counts_every_hour():
    due = la(27, 17, 30)
    c = case(due, severity="critical")
    plan = plan_followup(c, timer(c), due + RULES.escalate_after, RULES, HOURS, LA)
    assert NudgeKind.ESCALATION in [r["kind"] for r in plan.send]


def test_lateness_counts_working_time_only():
    assert working_time(la(27, 17, 30), la(30, 10), LA, HOURS) == timedelta(hours=1, minutes=30)
    assert working_time(la(26, 10), la(26, 12), LA, HOURS) == timedelta(hours=2)
    assert working_time(la(28, 10), la(29, 10), LA, HOURS) == timedelta(0)  # the weekend


def test_one_walk_gives_the_same_times_as_one_walk_per_span():
    rng = random.Random(7)
    zones = (LA, "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe", "UTC")
    spring = datetime(2026, 3, 1, tzinfo=UTC)  # both DST changes fall in the range
    for _ in range(120):
        start = spring + timedelta(minutes=rng.randrange(0, 60 * 24 * 300))
        spans = tuple(timedelta(minutes=rng.randrange(0, 60 * 20)) for _ in range(5))
        tz = rng.choice(zones)
        assert add_working_each(start, spans, tz, HOURS) == \
            [add_working_one_by_one(start, span, tz) for span in spans]


def add_working_one_by_one(start: datetime, span: timedelta, tz: str) -> datetime:
    """The plain definition: walk working hours a minute's worth at a time (slow, obvious)."""
    moment, left = next_working_moment(start, tz, HOURS), span
    while left > timedelta(0):
        step = min(left, timedelta(minutes=1))
        if in_hours(moment + step - timedelta(microseconds=1), tz, HOURS):
            moment, left = moment + step, left - step
        else:
            moment = next_working_moment(moment + step, tz, HOURS)
    return next_working_moment(moment, tz, HOURS) if span else moment
