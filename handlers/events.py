"""Events Slack sends Mend: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from handlers import blocks
from handlers.context import Deps
from handlers.ids import Event

EVENTS = (Event.APP_HOME_OPENED,)


async def publish_home(deps: Deps, team_id: str, user_id: str) -> None:
    """Show the user their open cases on Mend's Home tab."""
    cases = deps.store.open_cases_owned_by(team_id, user_id, limit=40)
    view = blocks.home_view(cases, deps.recovery.labels())
    await deps.client.views_publish(user_id=user_id, view=view)


def register(app: AsyncApp, deps: Deps) -> None:
    async def home_opened(body: dict[str, Any], event: dict[str, Any]):
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        deps.tasks.spawn(publish_home(deps, body.get("team_id", ""), event["user"]),
                         name="home")

    app.event(Event.APP_HOME_OPENED)(home_opened)
