"""Pacing messages per channel, as Slack asks (about one message a second).

Work for a channel waits in that channel's queue; one worker per busy
channel sends it at most once per `interval`. A burst to one channel is
queued and spread out, never dropped, and other channels are not held up.
Nothing is rendered or sent before its turn, so a burst costs nothing on the
ack path. This is real (monotonic) time, not the business clock: it is about
Slack's rate limits, not about when follow-ups fall due.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from bot.runtime.tasks import Tasks

log = logging.getLogger("mend.pacing")

Job = Callable[[], Awaitable[object]]


class ChannelPacer:
    """Runs jobs per channel in order, at most one per `interval` seconds."""

    def __init__(self, tasks: Tasks, interval: float = 1.0, concurrency: int = 4):
        self.tasks = tasks
        self.interval = interval
        self._queues: dict[str, deque[Job]] = {}
        self._last: dict[str, float] = {}
        self._sending = asyncio.Semaphore(concurrency)
        self._waiting: dict[str, asyncio.Task] = {}  # channel workers between turns
        self._stopping = False

    def submit(self, channel: str, job: Job) -> None:
        """Queue `job` for `channel`; it runs in its turn."""
        queue = self._queues.get(channel)
        if queue is None:
            queue = self._queues[channel] = deque()
            self.tasks.spawn(self._drain(channel, queue), name=f"pace-{channel}")
        queue.append(job)

    def backlog(self, channel: str) -> int:
        return len(self._queues.get(channel, ()))

    def stop(self) -> None:
        """At shutdown: jobs already running finish, queued ones are not started.
        Every job is backed by a database row (a pending card, a claimed nudge)
        that the next start picks up, so nothing is lost by leaving them."""
        self._stopping = True
        for worker in list(self._waiting.values()):
            worker.cancel()

    async def _drain(self, channel: str, queue: deque[Job]) -> None:
        try:
            while queue and not self._stopping:
                wait = self._last.get(channel, -1e9) + self.interval - time.monotonic()
                if wait > 0:
                    self._waiting[channel] = asyncio.current_task()
                    try:
                        await asyncio.sleep(wait)
                    finally:
                        del self._waiting[channel]
                job = queue.popleft()
                self._last[channel] = time.monotonic()
                async with self._sending:
                    if self._stopping:
                        return
                    try:
                        await job()
                    except Exception as exc:  # noqa: BLE001 - the rest of the queue still goes
                        log.error("a job for %s failed: %s", channel, type(exc).__name__)
                    # A job writes to the database before it posts (a claim): on a
                    # networked database that takes a varying while, so the next turn
                    # counts from when this one finished, not from when it began.
                    self._last[channel] = time.monotonic()
        finally:
            del self._queues[channel]
