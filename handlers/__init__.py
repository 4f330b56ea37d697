"""Slack in and out: listeners grouped by surface, each with `register`."""

from slack_bolt.async_app import AsyncApp

from handlers import commands, events, views
from handlers.context import Deps


def register_all(app: AsyncApp, deps: Deps) -> None:
    for module in (commands, views, events):
        module.register(app, deps)
