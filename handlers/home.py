"""The App Home: each person's cases, and the team view for leads."""

from __future__ import annotations

from bot.domain.views import home
from handlers import lead_blocks
from handlers.context import Deps


async def home_for(deps: Deps, team_id: str, user_id: str) -> dict:
    now = deps.clock.now()
    channels = await deps.people.channels(team_id, user_id)
    is_lead = await deps.lifecycle.is_lead(team_id, user_id)
    seen = await home(deps.store, deps.recovery.playbook, team_id, user_id, channels, is_lead,
                      now)
    return lead_blocks.home_view(seen.mine, seen.waiting, seen.team, deps.recovery.labels(),
                                 seen.ticks, now, totals=seen.totals)


async def publish_home(deps: Deps, team_id: str, user_id: str) -> None:
    """Show a person their App Home as it is now."""
    view = await home_for(deps, team_id, user_id)
    await (await deps.clients.for_team(team_id)).views_publish(user_id=user_id, view=view)
