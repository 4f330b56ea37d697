"""What every handler needs, built once by the app factory."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.cases import Recovery
from bot.clock import Clock
from bot.pacing import ChannelPacer
from bot.store import Store
from bot.tasks import Tasks

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
