"""The App Home: each person's cases, and the team view for leads.

Each case in it links to its card and offers *Take* / *Assign* where the person may
use them. A click in the Home has no response URL to answer through: what it did is
shown at the top of the Home for a minute (`note_home`)."""

from __future__ import annotations

import time

from bot.domain.views import home
from handlers import card_links, lead_blocks
from handlers.context import Deps

NOTE_SECONDS = 60.0


async def home_for(deps: Deps, team_id: str, user_id: str) -> dict:
    now = deps.clock.now()
    channels = await deps.people.channels(team_id, user_id)
    is_lead = await deps.lifecycle.is_lead(team_id, user_id)
    seen = await home(deps.store, deps.recovery.playbook, team_id, user_id, channels, is_lead,
                      now)
    shown = seen.mine + seen.waiting + ([c for key in ("overdue_cases", "unowned_cases",
                                                       "oldest") for c in seen.team[key]]
                                        if seen.team else [])
    viewer = lead_blocks.Viewer(user_id, is_lead, await card_links.links(deps, shown))
    return lead_blocks.home_view(seen.mine, seen.waiting, seen.team, deps.recovery.labels(),
                                 seen.ticks, now, totals=seen.totals, viewer=viewer,
                                 notice=_note(deps, team_id, user_id))


def _note(deps: Deps, team_id: str, user_id: str) -> str | list:
    note = deps.home_notes.get((team_id, user_id))
    if note and time.monotonic() - note[1] < NOTE_SECONDS:
        return note[0]
    deps.home_notes.pop((team_id, user_id), None)
    return ""


async def publish_home(deps: Deps, team_id: str, user_id: str) -> None:
    """Show a person their App Home as it is now."""
    view = await home_for(deps, team_id, user_id)
    await (await deps.clients.for_team(team_id)).views_publish(user_id=user_id, view=view)


async def note_home(deps: Deps, team_id: str, user_id: str, note: str | list) -> None:
    """Tell a person in their Home what their click there did: mrkdwn-safe text, or
    blocks (an offer to confirm an assignment)."""
    deps.home_notes[(team_id, user_id)] = (note, time.monotonic())
    await publish_home(deps, team_id, user_id)
