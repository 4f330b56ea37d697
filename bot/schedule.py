"""When to nudge: the follow-up ladder and working hours (plain Python).

For a case whose follow-up is due, the ladder is:
  reminder 1 at the due time, then one every `remind_every`, up to
  `max_reminders`; one escalation to the leads once overdue by
  `escalate_after` or when the reminders are used up, whichever comes first;
  optionally, give the case back to the unowned queue after `unassign_after`.
A case is looked at again only when its next rung falls due (`nudge_at`), so
a sweep's cost follows the number of due follow-ups, not of open cases.
After downtime only the latest rung is sent (earlier ones are skipped), so a
case gets one nudge, not a burst of stale ones. Outside the owner's working
hours nothing is sent until they start again, unless the case is critical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.clock import from_iso, to_iso
from bot.models import Case
from bot.playbook import NudgeRules

FOLLOWUP, ESCALATION, UPDATE, UNASSIGNED = "followup", "escalation", "update", "unassigned"
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Hours:
    """Working days (0 = Monday) and hours, read in a person's own timezone."""

    days: tuple[int, ...]
    start: time
    end: time

    @classmethod
    def from_rules(cls, rules: NudgeRules, workspace: dict | None = None) -> Hours:
        """The playbook's default hours, overridden by a workspace's own settings."""
        ws = workspace or {}
        days = rules.work_days
        if ws.get("work_days"):
            days = tuple(DAY_NAMES.index(d) for d in ws["work_days"].split(","))
        start = time.fromisoformat(ws["work_start"]) if ws.get("work_start") else rules.work_start
        end = time.fromisoformat(ws["work_end"]) if ws.get("work_end") else rules.work_end
        return cls(days, start, end)

    def describe(self) -> str:
        names = ", ".join(DAY_NAMES[d].title() for d in self.days)
        return f"{names} {self.start:%H:%M}–{self.end:%H:%M}"


def zone(tz: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


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


@dataclass(frozen=True)
class Plan:
    """What to enqueue for one case, and the case's ladder state afterwards."""

    send: list[dict] = field(default_factory=list)
    skip: list[dict] = field(default_factory=list)
    changes: dict = field(default_factory=dict)

    @property
    def unassign(self) -> bool:
        return any(row["kind"] == UNASSIGNED for row in self.send)


def plan_followup(case: Case, now: datetime, rules: NudgeRules, hours: Hours,
                  tz: str | None) -> Plan:
    """The nudges a due follow-up needs now (see the module docstring)."""
    if not case.next_followup_at:
        return Plan(changes={"nudge_at": None})
    if case.severity != "critical" and not in_hours(now, tz, hours):
        return Plan(changes={"nudge_at": to_iso(next_working_moment(now, tz, hours))})
    due = from_iso(case.next_followup_at)
    if case.severity != "critical":
        # Overdue time starts counting when the owner's working day does: a follow-up
        # that fell due on Saturday is one hour late at 10:00 on Monday, not 49.
        due = next_working_moment(due, tz, hours)
    key = case.next_followup_at
    rungs = [due + k * rules.remind_every for k in range(rules.max_reminders)]
    escalate_at = min(due + rules.escalate_after, rungs[-1] + rules.remind_every)
    unassign_at = (due + rules.unassign_after
                   if rules.unassign_after and case.owner_id else None)

    reached = [k for k in range(case.nudge_rung, len(rungs)) if rungs[k] <= now]
    escalate = not case.nudge_escalated and escalate_at <= now
    unassign = bool(unassign_at and not case.nudge_unassigned and unassign_at <= now)
    send, skip = [], [_row(FOLLOWUP, k, key) for k in reached[:-1]]
    if reached and escalate:
        skip.append(_row(FOLLOWUP, reached[-1], key))  # the escalation says it all
    elif reached:
        send.append(_row(FOLLOWUP, reached[-1], key))
    if escalate:
        send.append(_row(ESCALATION, 0, key))
    if unassign:
        send.append(_row(UNASSIGNED, 0, key))

    rung = reached[-1] + 1 if reached else case.nudge_rung
    later = [rungs[rung]] if rung < len(rungs) else []
    later += [escalate_at] if not (case.nudge_escalated or escalate) else []
    later += [unassign_at] if unassign_at and not (case.nudge_unassigned or unassign) else []
    changes = {"nudge_rung": rung, "nudge_escalated": int(bool(case.nudge_escalated or escalate)),
               "nudge_unassigned": int(bool(case.nudge_unassigned or unassign)),
               "nudge_at": to_iso(min(later)) if later else None}
    return Plan(send, skip, changes)


def plan_update(case: Case, now: datetime, rules: NudgeRules, hours: Hours,
                tz: str | None) -> Plan:
    """A nudge to update the customer, when an open case has gone quiet too long."""
    if not case.update_due_at:
        return Plan()
    if case.next_followup_at and from_iso(case.next_followup_at) <= now + rules.update_every:
        # A follow-up is due (or soon will be) and its own ladder chases it: that
        # contact is the update, so look again a full period after it.
        later = max(now, from_iso(case.next_followup_at)) + rules.update_every
        return Plan(changes={"update_due_at": to_iso(later)})
    if case.severity != "critical" and not in_hours(now, tz, hours):
        return Plan(changes={"update_due_at": to_iso(next_working_moment(now, tz, hours))})
    return Plan(send=[_row(UPDATE, 0, case.update_due_at)],
                changes={"update_due_at": to_iso(now + rules.update_every)})


def ladder_reset(due_iso: str | None) -> dict:
    """Case fields for a new follow-up time: the ladder starts again from its first rung."""
    return {"next_followup_at": due_iso, "nudge_at": due_iso, "nudge_rung": 0,
            "nudge_escalated": 0, "nudge_unassigned": 0}


def _row(kind: str, rung: int, due_key: str) -> dict:
    return {"kind": kind, "rung": rung, "due_key": due_key}
