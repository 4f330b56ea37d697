"""Background work started after an ack, kept track of until it finishes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("mend.tasks")


class Tasks:
    """Holds references to running tasks (so they aren't garbage-collected)
    and lets shutdown wait for them."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._running.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The class name only: an exception's text may carry customer words.
            exc = task.exception()
            log.error("background task %s failed: %s", task.get_name(), type(exc).__name__)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for running tasks (at shutdown, or in tests), and for those they start
        meanwhile, all within `timeout`: a new case's card is queued once its owner's
        timezone is known, and work that waits on a networked database starts its
        follow-up work (a card update after a change) a few turns later."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._running and loop.time() < deadline:
            await asyncio.wait(set(self._running), timeout=deadline - loop.time())

    def __len__(self) -> int:
        return len(self._running)
