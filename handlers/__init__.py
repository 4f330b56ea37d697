"""Slack in and out: listeners grouped by surface, each with `register`."""

from slack_bolt.async_app import AsyncApp

from handlers import (
    actions,
    case_commands,
    coach,
    commands,
    events,
    inbound,
    installs,
    lead_commands,
    views,
)
from handlers.context import Deps

_ = (case_commands, lead_commands)  # their sub-commands register themselves on import


def register_all(app: AsyncApp, deps: Deps) -> None:
    for module in (inbound, commands, actions, views, events, coach, installs):
        module.register(app, deps)
