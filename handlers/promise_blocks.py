"""Where an owner's day is, as Slack and the workspace say, and the words for when
the next nudge comes and why ("after 09:00 Kofi's time").

Inside an ack there is no time to ask Slack: `known_now` uses the owner's cached
timezone, else the workspace's. `from_slack` asks users.info (after the ack).
"""

from __future__ import annotations

from datetime import datetime

from bot.domain.cases import Opened
from bot.domain.models import Case
from bot.domain.promises import LocalTime, NextNudge, next_nudge
from bot.domain.schedule import Hours
from bot.domain.times import to_iso
from bot.domain.workspace import Workspace
from handlers.blocks import when
from handlers.context import Deps
from handlers.mrkdwn import escape, mention, truncate

NAME_MAX = 80


async def _hours(deps: Deps, team_id: str, ws: Workspace | None = None
                 ) -> tuple[Hours, str | None]:
    ws = ws or await deps.store.workspace(team_id)
    return Hours.from_rules(deps.recovery.playbook.nudges, ws), ws.tz


async def known_now(deps: Deps, team_id: str, user_id: str,
                    ws: Workspace | None = None) -> LocalTime | None:
    """The person's day without a Web API call (see `known_with`); `ws`: the
    workspace's settings when already read."""
    return known_with(deps, team_id, user_id, ws or await deps.store.workspace(team_id))


def known_with(deps: Deps, team_id: str, user_id: str, ws: Workspace) -> LocalTime | None:
    """The person's day given their workspace's settings `ws`: their cached timezone,
    else the workspace's; None when neither is known (a UTC guess would move a
    Californian's follow-up for nothing: the plain span stands until Slack says)."""
    hours = Hours.from_rules(deps.recovery.playbook.nudges, ws)
    person = deps.people.cached(team_id, user_id)
    if person is not None and person.known:
        return LocalTime(person.tz, hours, person.name)
    return LocalTime(ws.tz, hours) if ws.tz else None


def is_cached(deps: Deps, team_id: str, user_id: str) -> bool:
    person = deps.people.cached(team_id, user_id)
    return person is not None and person.known


async def from_slack(deps: Deps, team_id: str, user_id: str) -> LocalTime | None:
    """The person's day as Slack says it (users.info, cached); None if Slack can't say."""
    person = await deps.people.get(team_id, user_id)
    if not person.known:
        return None
    hours, _ = await _hours(deps, team_id)
    return LocalTime(person.tz, hours, person.name)


def opened_note(deps: Deps, opened: Opened) -> str:
    """For the answer to a new case: when its first reminder comes, and why then."""
    return nudge_note(opened.case, deps.clock.now(), opened.local)


def nudged(case: Case) -> str | None:
    """Whose day a case's reminders follow: its owner's, else its reporter's."""
    return case.owner_id or case.reporter_id


def nudge_note(case: Case, now: datetime, local: LocalTime | None) -> str:
    """When the next reminder of the case's follow-up comes, and why then (mrkdwn)."""
    return note_for(next_nudge(case, now, local), local, nudged(case))


def note_for(nudge: NextNudge | None, local: LocalTime | None, person: str | None) -> str:
    if nudge is None:
        return ""
    if nudge.overdue:
        how = "at any hour (critical)" if nudge.critical else "in working hours"
        return (f":red_circle: *Overdue*: the follow-up was due {when(_iso(nudge.due))}. "
                f"Reminders keep coming {how} until it is done or moved.")
    if local is None:  # their timezone is not known yet
        return (f":alarm_clock: Next reminder {when(_iso(nudge.at))} if that is inside "
                f"{mention(person)}'s working hours, else when their working day starts.")
    if nudge.critical:
        return (f":alarm_clock: Next reminder {when(_iso(nudge.at))}, when the follow-up "
                "falls due: a critical case is nudged at any hour.")
    who_ = who(local, person)
    if nudge.moved and local is not None and nudge.starts is not None:
        return (f":alarm_clock: Next reminder {when(_iso(nudge.at))}: after "
                f"{nudge.starts:%H:%M} {who_}'s time, when their working day starts "
                f"(nudges wait for working hours, {escape(local.hours.describe())}, "
                "unless a case is critical).")
    return (f":alarm_clock: Next reminder {when(_iso(nudge.at))}, when the follow-up falls "
            f"due (inside {who_}'s working hours).")


def who(local: LocalTime | None, person: str | None) -> str:
    """The person by the name Slack gave (escaped), else a mention."""
    return escape(truncate(local.name, NAME_MAX)) if local and local.name else mention(person)


def _iso(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment else None
