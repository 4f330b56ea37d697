"""When to nudge: the follow-up ladder and working hours (plain Python).

For a case whose follow-up is due, the ladder is:
  reminder 1 at the due time, then one every `remind_every`, up to
  `max_reminders`; one escalation to the leads once overdue by
  `escalate_after` or when the reminders are used up, whichever comes first;
  optionally, give the case back to the unowned queue after `unassign_after`.
A case is looked at again only when its next timer falls due (a queue ordered
by time, see the store), so a sweep's cost follows the number of due
follow-ups, not of open cases. Timers carry the ladder's progress; one that
no longer matches its case (follow-up moved, done, case closed) is dropped.
After downtime only the latest rung is sent (earlier ones are skipped), so a
case gets one nudge, not a burst of stale ones. Outside the owner's working
hours nothing is sent until they start again, unless the case is critical,
and the ladder's intervals count working time only: a follow-up due at 17:30
on Friday gets its next reminder on Monday morning, and the escalation later
that morning, not the moment Monday starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.models import Case, Timer
from bot.domain.playbook import NudgeRules
from bot.domain.times import from_iso, to_iso
from bot.domain.vocabulary import NudgeKind, Severity
from bot.domain.workspace import DAY_NAMES, Workspace


@dataclass(frozen=True)
class Hours:
    """Working days (0 = Monday) and hours, read in a person's own timezone."""

    days: tuple[int, ...]
    start: time
    end: time

    @classmethod
    def from_rules(cls, rules: NudgeRules, ws: Workspace | None = None) -> Hours:
        """The playbook's default hours, overridden by a workspace's own settings."""
        ws = ws or Workspace()
        days = rules.work_days
        if ws.work_days:
            days = tuple(DAY_NAMES.index(d) for d in ws.work_days.split(","))
        start = time.fromisoformat(ws.work_start) if ws.work_start else rules.work_start
        end = time.fromisoformat(ws.work_end) if ws.work_end else rules.work_end
        return cls(days, start, end)

    def describe(self) -> str:
        names = ", ".join(DAY_NAMES[d].title() for d in self.days)
        return f"{names} {self.start:%H:%M}–{self.end:%H:%M}"


def zone(tz: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def digest_moment(now: datetime, day: str, at: str, tz: str | None) -> datetime:
    """The latest digest time at or before `now` (UTC): `day` (mon..sun) at `at`
    (HH:MM) in `tz`. The latest one, not this calendar week's: a digest due on
    Sunday night is still owed on Monday morning after downtime."""
    local = now.astimezone(zone(tz))
    monday = local.date() - timedelta(days=local.weekday())
    when = datetime.combine(monday + timedelta(days=DAY_NAMES.index(day)),
                            time.fromisoformat(at), tzinfo=zone(tz))
    if when > local:
        when = datetime.combine(when.date() - timedelta(days=7), when.time(),
                                tzinfo=zone(tz))
    return when.astimezone(UTC)


def in_hours(moment: datetime, tz: str | None, hours: Hours) -> bool:
    local = moment.astimezone(zone(tz))
    return local.weekday() in hours.days and hours.start <= local.time() < hours.end


def next_working_moment(moment: datetime, tz: str | None, hours: Hours) -> datetime:
    """`moment` if it is within working hours, else the next start of them (UTC)."""
    if in_hours(moment, tz, hours) or not hours.days:
        return moment
    local = moment.astimezone(zone(tz))
    for days_ahead in range(8):
        day = local.date() + timedelta(days=days_ahead)
        start = datetime.combine(day, hours.start, tzinfo=zone(tz))
        if day.weekday() in hours.days and start > local:
            return start.astimezone(UTC)
    return moment


def add_working(start: datetime, span: timedelta, tz: str | None, hours: Hours) -> datetime:
    """`start` plus `span` of working time: the clock stops outside working hours,
    so a reminder due two hours after 16:30 on Friday comes at 10:30 on Monday."""
    return add_working_each(start, (span,), tz, hours)[0]


def add_working_each(start: datetime, spans: tuple[timedelta, ...], tz: str | None,
                     hours: Hours) -> list[datetime]:
    """`add_working` for several spans from one start, in one walk over the working
    days (a ladder's rungs, escalation and unassignment all count from its due time)."""
    if not hours.days:
        return [start + span for span in spans]
    order = sorted(range(len(spans)), key=spans.__getitem__)
    found: list[datetime] = [start] * len(spans)
    moment, used, next_one = next_working_moment(start, tz, hours), timedelta(0), 0
    for _ in range(400):  # a year of working days at most
        local = moment.astimezone(zone(tz))
        day_end = datetime.combine(local.date(), hours.end, tzinfo=zone(tz)).astimezone(UTC)
        while next_one < len(order) and spans[order[next_one]] - used < day_end - moment:
            found[order[next_one]] = moment + (spans[order[next_one]] - used)
            next_one += 1
        if next_one == len(order):
            break
        used += day_end - moment
        moment = next_working_moment(day_end, tz, hours)
    for index in order[next_one:]:
        found[index] = moment + (spans[index] - used)
    return found


def working_time(start: datetime, end: datetime, tz: str | None, hours: Hours) -> timedelta:
    """How much of `start`..`end` falls in working hours (how late, as the owner
    experiences it: Friday 17:30 to Monday 10:00 is 1h 30m with 09:00-18:00)."""
    if not hours.days:
        return max(end - start, timedelta(0))
    total, moment = timedelta(0), next_working_moment(start, tz, hours)
    for _ in range(400):
        if moment >= end:
            break
        local = moment.astimezone(zone(tz))
        day_end = datetime.combine(local.date(), hours.end, tzinfo=zone(tz)).astimezone(UTC)
        total += min(day_end, end) - moment
        moment = next_working_moment(day_end, tz, hours)
    return total


@dataclass(frozen=True)
class Plan:
    """What to enqueue for one due timer, and the timer that replaces it (if any)."""

    send: list[dict] = field(default_factory=list)
    skip: list[dict] = field(default_factory=list)
    next: dict | None = None

    @property
    def unassign(self) -> bool:
        return any(row["kind"] == NudgeKind.UNASSIGNED for row in self.send)


def followup_timer(due_iso: str) -> dict:
    """The first timer of a new follow-up: the ladder starts from its first rung."""
    return {"at": due_iso, "kind": NudgeKind.FOLLOWUP, "due_key": due_iso}


def update_timer(updated_iso: str, rules: NudgeRules) -> dict:
    """When a customer last heard from us, the check for the next update."""
    at = to_iso(from_iso(updated_iso) + rules.update_every)
    return {"at": at, "kind": NudgeKind.CUSTOMER_UPDATE, "due_key": updated_iso}


def plan_timer(case: Case, timer: Timer, now: datetime, rules: NudgeRules, hours: Hours,
               tz: str | None) -> Plan:
    planner = plan_followup if timer.kind == NudgeKind.FOLLOWUP else plan_update
    return planner(case, timer, now, rules, hours, tz)


def _later(timer: Timer, at: datetime, **progress: int) -> dict:
    return {"at": to_iso(at), "kind": timer.kind, "due_key": timer.due_key,
            "rung": progress.get("rung", timer.rung),
            "escalated": progress.get("escalated", timer.escalated),
            "unassigned": progress.get("unassigned", timer.unassigned)}


def plan_followup(case: Case, timer: Timer, now: datetime, rules: NudgeRules, hours: Hours,
                  tz: str | None) -> Plan:
    """The nudges a due follow-up needs now (see the module docstring)."""
    if case.status not in ("open", "resolved") or case.next_followup_at != timer.due_key:
        return Plan()  # the follow-up moved, was done, or the case closed
    if case.severity != Severity.CRITICAL and not in_hours(now, tz, hours):
        return Plan(next=_later(timer, next_working_moment(now, tz, hours)))
    due = from_iso(timer.due_key)
    # Overdue time counts in the owner's working hours: a follow-up that fell due on
    # Saturday is one hour late at 10:00 on Monday, not 49 (critical: every hour).
    spans = (*(k * rules.remind_every for k in range(rules.max_reminders)),
             rules.escalate_after, rules.max_reminders * rules.remind_every,
             rules.unassign_after or timedelta(0))
    times = ([due + span for span in spans] if case.severity == Severity.CRITICAL
             else add_working_each(due, spans, tz, hours))
    key = timer.due_key
    rungs = times[:rules.max_reminders]
    escalate_at = min(times[-3], times[-2])
    unassign_at = times[-1] if rules.unassign_after and case.owner_id else None

    reached = [k for k in range(timer.rung, len(rungs)) if rungs[k] <= now]
    escalate = not timer.escalated and escalate_at <= now
    unassign = bool(unassign_at and not timer.unassigned and unassign_at <= now)
    send, skip = [], [_row(NudgeKind.FOLLOWUP, k, key) for k in reached[:-1]]
    if reached and escalate:
        skip.append(_row(NudgeKind.FOLLOWUP, reached[-1], key))  # the escalation says it all
    elif reached:
        send.append(_row(NudgeKind.FOLLOWUP, reached[-1], key))
    if escalate:
        send.append(_row(NudgeKind.ESCALATION, 0, key))
    if unassign:
        send.append(_row(NudgeKind.UNASSIGNED, 0, key))

    rung = reached[-1] + 1 if reached else timer.rung
    escalated, unassigned = int(timer.escalated or escalate), int(timer.unassigned or unassign)
    later = [rungs[rung]] if rung < len(rungs) else []
    later += [escalate_at] if not escalated else []
    later += [unassign_at] if unassign_at and not unassigned else []
    upcoming = _later(timer, min(later), rung=rung, escalated=escalated,
                      unassigned=unassigned) if later else None
    return Plan(send, skip, upcoming)


def plan_update(case: Case, timer: Timer, now: datetime, rules: NudgeRules, hours: Hours,
                tz: str | None) -> Plan:
    """A nudge to update the customer, when an open case has gone quiet too long."""
    if case.status != "open" or case.customer_updated_at != timer.due_key:
        return Plan()  # closed or resolved, or the customer has heard from us since
    if case.next_followup_at and from_iso(case.next_followup_at) <= now + rules.update_every:
        # A follow-up is due (or soon will be) and its own ladder chases it: that
        # contact is the update, so look again a full period after it.
        return Plan(next=_later(timer, max(now, from_iso(case.next_followup_at))
                                + rules.update_every))
    if case.severity != Severity.CRITICAL and not in_hours(now, tz, hours):
        return Plan(next=_later(timer, next_working_moment(now, tz, hours)))
    return Plan(send=[_row(NudgeKind.CUSTOMER_UPDATE, timer.rung, timer.due_key)],
                next=_later(timer, now + rules.update_every, rung=timer.rung + 1))


def _row(kind: str, rung: int, due_key: str) -> dict:
    return {"kind": kind, "rung": rung, "due_key": due_key}
