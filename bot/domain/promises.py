"""Promises Mend can keep (plain Python).

A new case's first follow-up, and the time its apology promises, fall inside the
owner's working hours: a follow-up that would fall at night or at the weekend moves
to the start of the next working day, unless the case is critical (then nudges come
at any hour, so the plain span stands). The apology then names that day ("by Monday
morning") rather than promising "by this time tomorrow".

`next_nudge` says when the owner will next be reminded of a case's follow-up and why
then: at the due time, at the start of their working day when it falls outside their
hours, at any hour when critical; or that the follow-up is overdue already.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bot.domain.advice import promise_for
from bot.domain.models import Case
from bot.domain.schedule import Hours, next_working_moment, zone
from bot.domain.times import from_iso
from bot.domain.vocabulary import Severity, Status

WHOLE_HOURS_SLACK = timedelta(minutes=1)  # "24 hours" even if a second went by
PLAIN_HOURS = 8  # up to this many whole hours, "within N hours" reads best
DAY_WORDS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class LocalTime:
    """Where a person's day is: their timezone (None: unknown, read as UTC), their
    team's working hours, and their name as Slack shows it ('' if not known yet)."""

    tz: str | None
    hours: Hours
    name: str = ""


def default_due(now: datetime, span: timedelta, local: LocalTime | None,
                severity: str | None) -> datetime:
    """`now + span`, moved to the next start of the owner's working hours when it
    falls outside them (never for a critical case)."""
    due = now + span
    if local is None or severity == Severity.CRITICAL:
        return due
    return next_working_moment(due, local.tz, local.hours)


def promise_words(now: datetime, due: datetime, tz: str | None) -> str:
    """What the apology promises for a follow-up due at `due`: a few whole hours or
    whole days as before ("within 4 hours", "by this time tomorrow"); otherwise the day
    and part of it in the owner's timezone ("by tomorrow morning", "by Monday
    morning"), which is when their follow-up really falls due."""
    span = due - now
    hours = round(span.total_seconds() / 3600)
    whole = abs(span - timedelta(hours=hours)) <= WHOLE_HOURS_SLACK
    if span < timedelta(hours=1) or (whole and (hours <= PLAIN_HOURS or hours % 24 == 0)):
        return promise_for(span.total_seconds() / 3600)
    local_now, local_due = now.astimezone(zone(tz)), due.astimezone(zone(tz))
    part = _part_of_day(local_due.time())
    days = (local_due.date() - local_now.date()).days
    if days <= 0:
        return f"by this {part}" if part != "evening" else "by this evening"
    if days == 1:
        return f"by tomorrow {part}"
    if days < 7:
        return f"by {DAY_WORDS[local_due.weekday()]} {part}"
    return f"by {local_due.day} {local_due:%B}"


def _part_of_day(clock: time) -> str:
    return "morning" if clock < time(12) else "afternoon" if clock < time(17) else "evening"


@dataclass(frozen=True)
class NextNudge:
    """When the next reminder of a case's follow-up comes, and why then."""

    due: datetime  # the follow-up's own time
    at: datetime | None  # the next reminder (None: overdue, reminders already running)
    overdue: bool = False
    critical: bool = False  # reminded at any hour
    moved: bool = False  # due outside working hours (or at their start): waits for them
    starts: time | None = None  # the working day's start, in the owner's clock


def next_nudge(case: Case, now: datetime, local: LocalTime | None) -> NextNudge | None:
    """The next reminder of `case`'s follow-up (None: no follow-up, or closed)."""
    if case.status == Status.CLOSED or case.withdrawn_at or not case.next_followup_at:
        return None
    due = from_iso(case.next_followup_at)
    critical = case.severity == Severity.CRITICAL
    if due <= now:
        return NextNudge(due, None, overdue=True, critical=critical)
    if critical or local is None:
        return NextNudge(due, due, critical=critical)
    at = next_working_moment(due, local.tz, local.hours)
    # Due at the very start of their day (the first follow-up moved there, or set so):
    # said the same way as one that waits for it.
    waits = at != due or due.astimezone(zone(local.tz)).time() == local.hours.start
    return NextNudge(due, at, moved=waits, starts=local.hours.start if waits else None)


def overdue(case: Case, now: datetime) -> bool:
    """An open (or resolved) case whose follow-up time has passed."""
    return bool(case.status != Status.CLOSED and not case.withdrawn_at
                and case.next_followup_at and from_iso(case.next_followup_at) <= now)
