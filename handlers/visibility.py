"""Who sees what.

Leads see every case of the workspace. Everyone else sees the cases they own
or reported, and the cases in channels they are a member of (asked of Slack
with users.conversations, remembered for a few minutes). Typing in a
channel proves membership of it. A case you may not see is answered as a
case that does not exist.
"""

from __future__ import annotations

from dataclasses import replace

from bot.domain.models import Case
from bot.domain.reports import Query
from handlers.context import Deps


async def viewer_query(deps: Deps, team_id: str, user_id: str, query: Query) -> Query:
    """The query narrowed to what this person may see."""
    if await deps.lifecycle.is_lead(team_id, user_id):
        return query
    channels = await deps.people.channels(team_id, user_id)
    return replace(query, where=replace(query.where, viewer=user_id,
                                        viewer_channels=tuple(channels)))


async def sees_case(deps: Deps, case: Case, user_id: str, here: str | None = None) -> bool | None:
    """Whether `user_id` may see `case` (None: only Slack can say, via their channels).
    `here` is the channel they are typing in: being there, they are a member."""
    if user_id in (case.owner_id, case.reporter_id) or case.channel_id == here or \
            await deps.lifecycle.is_lead(case.team_id, user_id):
        return True
    channels = deps.people.cached_channels(case.team_id, user_id)
    return None if channels is None else case.channel_id in channels


async def may_see(deps: Deps, case: Case, user_id: str, here: str | None = None) -> bool:
    known = await sees_case(deps, case, user_id, here)
    if known is not None:
        return known
    return case.channel_id in await deps.people.channels(case.team_id, user_id)


async def may_see_now(deps: Deps, team_id: str, user_id: str) -> bool:
    """True when no Web API call is needed to apply the rule above."""
    return await deps.lifecycle.is_lead(team_id, user_id) or \
        deps.people.cached_channels(team_id, user_id) is not None
