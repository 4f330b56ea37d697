"""Slack in and out: listeners grouped by surface, each with `register`."""

from slack_bolt.async_app import AsyncApp

from bot.runtime.boundary import well_formed
from handlers import (
    actions,
    case_commands,
    coach,
    commands,
    events,
    from_message,
    inbound,
    installs,
    lead_commands,
    payload,
    views,
)
from handlers.context import Deps

_ = (case_commands, lead_commands)  # their sub-commands register themselves on import


def register_all(app: AsyncApp, deps: Deps) -> None:
    app.middleware(well_formed)  # Socket Mode's payloads: HTTP ones are checked on arrival
    app.middleware(payload.middleware)  # read once, for the inbound claim and every listener
    for module in (inbound, commands, actions, views, events, coach, from_message, installs):
        module.register(app, deps)
