"""What every handler needs, built once by the app factory."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.cases import Recovery
from bot.domain.delivery import Delivery
from bot.domain.lifecycle import Lifecycle
from bot.domain.workspace import WorkspaceRules
from bot.runtime.clients import Clients
from bot.runtime.clock import Clock
from bot.runtime.pacing import ChannelPacer
from bot.runtime.tasks import Tasks
from bot.storage.sqlite import Store
from handlers.people import People

log = logging.getLogger("mend")


@dataclass
class Deps:
    """Shared services handed to each listener module's `register`."""

    recovery: Recovery
    store: Store
    clock: Clock
    client: AsyncWebClient
    tasks: Tasks
    pacer: ChannelPacer
    lifecycle: Lifecycle
    people: People
    poster: AsyncWebClient  # posts that must not repeat: timeouts are not retried blindly
    workspaces: WorkspaceRules | None = None  # settings and leads, with their rules
    delivery: Delivery | None = None  # cards' and outbox rows' states
    coach: Any = None  # the reply coach's rules (bot.domain.coach.Rules)
    # Every Web API call: `await clients.for_team(team_id)` (or `.poster(team_id)`), the
    # workspace's own token. `client` and `poster` are the shared, token-less ones when
    # Mend is installed through OAuth: only for response URLs.
    clients: Clients | None = None
    retention: timedelta = timedelta(days=30)  # an uninstalled workspace's cases, then purged
    refreshing: set[int] = field(default_factory=set)  # cases with a card update queued
    carding: set[int] = field(default_factory=set)  # cases whose card post is queued here
    home_viewers: set[tuple[str, str]] = field(default_factory=set)  # (team, user) seen home
    # (team, channel, ts) of a card -> its permalink, for lists (handlers/card_links.py)
    permalinks: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # (team, user) -> (what their last click in the Home did, when): shown in it a while
    home_notes: dict[tuple[str, str], tuple[Any, float]] = field(default_factory=dict)
    # inbound key -> a command's ack given here and not yet written for its duplicates
    unwritten_answers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.clients is None:
            self.clients = Clients(self.client, self.poster)
