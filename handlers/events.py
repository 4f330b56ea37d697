"""Events Slack sends Mend: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from handlers.context import Deps
from handlers.home import publish_home
from handlers.ids import Event

EVENTS = (Event.APP_HOME_OPENED, Event.REACTION_ADDED)  # the second: from_message.py


def register(app: AsyncApp, deps: Deps) -> None:
    async def home_opened(body: dict[str, Any], event: dict[str, Any]):
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        team_id = str(body.get("team_id") or "")
        deps.home_viewers.add((team_id, event["user"]))
        deps.tasks.spawn(publish_home(deps, team_id, event["user"]), name="home")

    app.event(Event.APP_HOME_OPENED)(home_opened)
