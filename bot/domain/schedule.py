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
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.models import Case, Timer
from bot.domain.playbook import NudgeRules
from bot.domain.times import from_iso, to_iso
from bot.domain.vocabulary import NudgeKind, Severity
from bot.domain.workspace import DAY_NAMES, Workspace

# The members a sweep compares and writes per timer, read once (an enum's attribute
# costs a lookup through its class each time).
FOLLOWUP, ESCALATION, UNASSIGNED = NudgeKind.FOLLOWUP, NudgeKind.ESCALATION, NudgeKind.UNASSIGNED
CUSTOMER_UPDATE, CRITICAL = NudgeKind.CUSTOMER_UPDATE, Severity.CRITICAL


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


class Calendar:
    """One person's working hours in their timezone, with the day boundaries worked out
    once: a sweep plans many follow-ups in few timezones, and each ladder walks the
    same days."""

    __slots__ = ("ends", "hours", "starts", "zone")

    def __init__(self, tz: str | None, hours: Hours):
        self.zone, self.hours = zone(tz), hours
        self.ends: dict[date, datetime] = {}  # local day -> its end of work (UTC)
        self.starts: dict[date, datetime] = {}

    def _end(self, day: date) -> datetime:
        end = self.ends.get(day)
        if end is None:
            end = self.ends[day] = datetime.combine(day, self.hours.end,
                                                    tzinfo=self.zone).astimezone(UTC)
        return end

    def _start(self, day: date) -> datetime:
        start = self.starts.get(day)
        if start is None:
            start = self.starts[day] = datetime.combine(day, self.hours.start,
                                                        tzinfo=self.zone)
        return start

    def in_hours(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        hours = self.hours
        return local.weekday() in hours.days and hours.start <= local.time() < hours.end

    def next_working_moment(self, moment: datetime) -> datetime:
        """`moment` if it is within working hours, else the next start of them (UTC)."""
        hours = self.hours
        if not hours.days:
            return moment
        local = moment.astimezone(self.zone)
        if local.weekday() in hours.days and hours.start <= local.time() < hours.end:
            return moment
        for days_ahead in range(8):
            day = local.date() + timedelta(days=days_ahead)
            start = self._start(day)
            if day.weekday() in hours.days and start > local:
                return start.astimezone(UTC)
        return moment

    def add_working_each(self, start: datetime, spans: tuple[timedelta, ...]
                         ) -> list[datetime]:
        """See `add_working_each`."""
        if not self.hours.days:
            return [start + span for span in spans]
        moment = self.next_working_moment(start)
        day_end = self._end(moment.astimezone(self.zone).date())
        if max(spans) < day_end - moment:  # the whole ladder within the day (most)
            return [moment + span for span in spans]
        order = sorted(range(len(spans)), key=spans.__getitem__)
        found: list[datetime] = [start] * len(spans)
        used, next_one = timedelta(0), 0
        for _ in range(400):  # a year of working days at most
            day_end = self._end(moment.astimezone(self.zone).date())
            while next_one < len(order) and spans[order[next_one]] - used < day_end - moment:
                found[order[next_one]] = moment + (spans[order[next_one]] - used)
                next_one += 1
            if next_one == len(order):
                break
            used += day_end - moment
            moment = self.next_working_moment(day_end)
        for index in order[next_one:]:
            found[index] = moment + (spans[index] - used)
        return found

    def working_time(self, start: datetime, end: datetime) -> timedelta:
        """See `working_time`."""
        if not self.hours.days:
            return max(end - start, timedelta(0))
        total, moment = timedelta(0), self.next_working_moment(start)
        for _ in range(400):
            if moment >= end:
                break
            day_end = self._end(moment.astimezone(self.zone).date())
            total += min(day_end, end) - moment
            moment = self.next_working_moment(day_end)
        return total


def in_hours(moment: datetime, tz: str | None, hours: Hours) -> bool:
    return Calendar(tz, hours).in_hours(moment)


def next_working_moment(moment: datetime, tz: str | None, hours: Hours) -> datetime:
    """`moment` if it is within working hours, else the next start of them (UTC)."""
    return Calendar(tz, hours).next_working_moment(moment)


def add_working(start: datetime, span: timedelta, tz: str | None, hours: Hours) -> datetime:
    """`start` plus `span` of working time: the clock stops outside working hours,
    so a reminder due two hours after 16:30 on Friday comes at 10:30 on Monday."""
    return add_working_each(start, (span,), tz, hours)[0]


def add_working_each(start: datetime, spans: tuple[timedelta, ...], tz: str | None,
                     hours: Hours) -> list[datetime]:
    """`add_working` for several spans from one start, in one walk over the working
    days (a ladder's rungs, escalation and unassignment all count from its due time)."""
    return Calendar(tz, hours).add_working_each(start, spans)


def working_time(start: datetime, end: datetime, tz: str | None, hours: Hours) -> timedelta:
    """How much of `start`..`end` falls in working hours (how late, as the owner
    experiences it: Friday 17:30 to Monday 10:00 is 1h 30m with 09:00-18:00)."""
    return Calendar(tz, hours).working_time(start, end)


@dataclass(frozen=True)
class Plan:
    """What to enqueue for one due timer, and the timer that replaces it (if any)."""

    send: list[dict] = field(default_factory=list)
    skip: list[dict] = field(default_factory=list)
    next: dict | None = None

    @property
    def unassign(self) -> bool:
        return any(row["kind"] == UNASSIGNED for row in self.send)


def followup_timer(due_iso: str) -> dict:
    """The first timer of a new follow-up: the ladder starts from its first rung."""
    return {"at": due_iso, "kind": NudgeKind.FOLLOWUP, "due_key": due_iso}


def update_timer(updated_iso: str, rules: NudgeRules) -> dict:
    """When a customer last heard from us, the check for the next update."""
    at = to_iso(from_iso(updated_iso) + rules.update_every)
    return {"at": at, "kind": NudgeKind.CUSTOMER_UPDATE, "due_key": updated_iso}


class Planner:
    """Plans one sweep's due timers (one workspace, one moment): what does not depend on
    the case (the ladder's spans, whether `now` is within each timezone's working
    hours, when they next start) is worked out once, not per timer."""

    def __init__(self, now: datetime, rules: NudgeRules, hours: Hours):
        self.now, self.rules, self.hours = now, rules, hours
        self.after_now = now + rules.update_every
        # From the due time: each reminder, the escalation, the last reminder's slot,
        # the unassignment.
        self.spans = (*(k * rules.remind_every for k in range(rules.max_reminders)),
                      rules.escalate_after, rules.max_reminders * rules.remind_every,
                      rules.unassign_after or timedelta(0))
        self.calendars: dict[str | None, Calendar] = {}
        self.waits: dict[str | None, datetime | None] = {}  # tz -> next start (None: now)

    def calendar(self, tz: str | None) -> Calendar:
        found = self.calendars.get(tz)
        if found is None:
            found = self.calendars[tz] = Calendar(tz, self.hours)
        return found

    def wait(self, tz: str | None) -> datetime | None:
        """None within working hours at `now` in `tz`, else when they next start."""
        if tz not in self.waits:
            calendar = self.calendar(tz)
            self.waits[tz] = None if calendar.in_hours(self.now) else \
                calendar.next_working_moment(self.now)
        return self.waits[tz]

    def plan(self, case: Case, timer: Timer, tz: str | None) -> Plan:
        if timer.kind == FOLLOWUP:
            return self.followup(case, timer, tz)
        return self.update(case, timer, tz)

    def followup(self, case: Case, timer: Timer, tz: str | None) -> Plan:
        """The nudges a due follow-up needs now (see the module docstring)."""
        key = timer.due_key
        if case.status not in ("open", "resolved") or case.next_followup_at != key:
            return Plan()  # the follow-up moved, was done, or the case closed
        critical = case.severity == CRITICAL
        if not critical:
            wait = self.wait(tz)
            if wait is not None:
                return Plan(next=_later(timer, wait))
        rules, now = self.rules, self.now
        due = from_iso(key)
        # Overdue time counts in the owner's working hours: a follow-up that fell due on
        # Saturday is one hour late at 10:00 on Monday, not 49 (critical: every hour).
        times = ([due + span for span in self.spans] if critical
                 else self.calendar(tz).add_working_each(due, self.spans))
        count = rules.max_reminders
        escalate_at = min(times[-3], times[-2])
        unassign_at = times[-1] if rules.unassign_after and case.owner_id else None

        rung = timer.rung
        while rung < count and times[rung] <= now:  # the rungs reached (in time order)
            rung += 1
        escalate = not timer.escalated and escalate_at <= now
        unassign = bool(unassign_at and not timer.unassigned and unassign_at <= now)
        send: list[dict] = []
        skip = [_row(FOLLOWUP, k, key) for k in range(timer.rung, rung - 1)]
        if rung > timer.rung:
            latest = _row(FOLLOWUP, rung - 1, key)
            (skip if escalate else send).append(latest)  # an escalation says it all
        if escalate:
            send.append(_row(ESCALATION, 0, key))
        if unassign:
            send.append(_row(UNASSIGNED, 0, key))

        escalated, unassigned = int(timer.escalated or escalate), int(timer.unassigned or unassign)
        later = times[rung] if rung < count else None
        if not escalated and (later is None or escalate_at < later):
            later = escalate_at
        if unassign_at and not unassigned and (later is None or unassign_at < later):
            later = unassign_at
        upcoming = _later(timer, later, rung=rung, escalated=escalated,
                          unassigned=unassigned) if later is not None else None
        return Plan(send, skip, upcoming)

    def update(self, case: Case, timer: Timer, tz: str | None) -> Plan:
        """A nudge to update the customer, when an open case has gone quiet too long."""
        if case.status != "open" or case.customer_updated_at != timer.due_key:
            return Plan()  # closed or resolved, or the customer has heard from us since
        every = self.rules.update_every
        if case.next_followup_at and from_iso(case.next_followup_at) <= self.after_now:
            # A follow-up is due (or soon will be) and its own ladder chases it: that
            # contact is the update, so look again a full period after it.
            return Plan(next=_later(timer, max(self.now, from_iso(case.next_followup_at))
                                    + every))
        if case.severity != CRITICAL:
            wait = self.wait(tz)
            if wait is not None:
                return Plan(next=_later(timer, wait))
        return Plan(send=[_row(CUSTOMER_UPDATE, timer.rung, timer.due_key)],
                    next=_later(timer, self.now + every, rung=timer.rung + 1))


def plan_timer(case: Case, timer: Timer, now: datetime, rules: NudgeRules, hours: Hours,
               tz: str | None) -> Plan:
    """One timer's plan (a sweep plans all of its timers with one `Planner`)."""
    return Planner(now, rules, hours).plan(case, timer, tz)


def plan_followup(case: Case, timer: Timer, now: datetime, rules: NudgeRules, hours: Hours,
                  tz: str | None) -> Plan:
    return Planner(now, rules, hours).followup(case, timer, tz)


def plan_update(case: Case, timer: Timer, now: datetime, rules: NudgeRules, hours: Hours,
                tz: str | None) -> Plan:
    return Planner(now, rules, hours).update(case, timer, tz)


def _later(timer: Timer, at: datetime, rung: int | None = None, escalated: int | None = None,
           unassigned: int | None = None) -> dict:
    return {"at": to_iso(at), "kind": timer.kind, "due_key": timer.due_key,
            "rung": timer.rung if rung is None else rung,
            "escalated": timer.escalated if escalated is None else escalated,
            "unassigned": timer.unassigned if unassigned is None else unassigned}


def _row(kind: str, rung: int, due_key: str) -> dict:
    return {"kind": kind, "rung": rung, "due_key": due_key}
