"""Events Slack sends Mend: the App Home tab."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from handlers import payload
from handlers.context import Deps
from handlers.home import publish_home
from handlers.ids import Event

EVENTS = (Event.APP_HOME_OPENED, Event.REACTION_ADDED)  # the second: from_message.py


def register(app: AsyncApp, deps: Deps) -> None:
    async def home_opened(context: Any):
        opened = payload.of(context)
        if opened.event.get("tab", "home") != "home" or not opened.user_id:
            return
        deps.home_viewers.add((opened.team_id, opened.user_id))
        deps.tasks.spawn(publish_home(deps, opened.team_id, opened.user_id), name="home")

    app.event(Event.APP_HOME_OPENED)(home_opened)
