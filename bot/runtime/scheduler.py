"""The scheduler loop: every `MEND_SWEEP_SECONDS`, the process holding the sweep lease
sweeps each workspace in turn; two processes on one database never both sweep.

What a sweep does for a workspace (settle messages in doubt, plan due follow-ups,
queue the digest, send, resume cards) is the `Sweep` handed in by the composition
root; this module only knows when, and who may.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.domain.times import Clock, to_iso
from bot.storage.errors import DatabaseError

log = logging.getLogger("mend.scheduler")
LEASE = "nudger"
LEASE_SECONDS = 15.0  # a dead holder's lease runs out this soon; renewed every third of it
INBOUND_KEPT = timedelta(days=1)  # how long inbound request claims are kept (Slack retries
                                  # within minutes)


@dataclass
class SweepReport:
    """What one sweep did (for logs, tests and the sandbox)."""

    held_lease: bool = False
    planned: int = 0
    queued: int = 0
    recovered: int = 0
    errors: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)  # workspaces whose retention ended


class Sweep(Protocol):
    hold_lease: Callable[[datetime], Awaitable[bool]]
    lease_length: timedelta

    async def sweep_workspace(self, team_id: str, now: datetime, report: SweepReport) -> None:
        """Do one workspace's share of a sweep, adding to `report`."""


class Scheduler:
    """Runs inside the Mend process; `start()` with the app, `stop()` on shutdown."""

    def __init__(self, store, clock: Clock, work: Sweep, interval: float,
                 holder: str | None = None, retention: timedelta = timedelta(days=30),
                 lease_seconds: float = LEASE_SECONDS):
        self.store = store  # workspaces and the lease
        self.lease_seconds = lease_seconds
        self._heartbeat: asyncio.Task | None = None
        self.clock = clock
        self.work = work
        self.interval = interval
        self.retention = retention  # how long an uninstalled workspace's cases are kept
        self.holder = holder or uuid.uuid4().hex
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self._sweeping = asyncio.Lock()  # the loop and a manual sweep never overlap
        work.hold_lease = self._hold_lease  # sending later must still hold the lease
        # How long a message claimed by another process may still be in flight: at least
        # a minute (a slow post), however short the lease.
        work.lease_length = timedelta(seconds=max(60.0, interval * 3, lease_seconds))
        self.on_sweep: Callable[[float], None] | None = None  # told each sweep's seconds

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._run(), name="nudger")
            self._heartbeat = loop.create_task(self._beat(), name="nudger-lease")

    async def _beat(self) -> None:
        """Between sweeps (a long sweep, a long interval), renew the lease while held, so
        that it can be short: a process that dies loses it within `lease_seconds`."""
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.lease_seconds / 3)
            except TimeoutError:
                pass
            if self._stop.is_set():
                return
            try:
                now = self.clock.now()
                if await self.store.lease_holder(LEASE, to_iso(now)) == self.holder:
                    await self._hold_lease(now)
            except Exception as exc:  # noqa: BLE001 - the next beat or sweep tries again
                log.warning("lease not renewed: %s", type(exc).__name__)

    async def stop(self) -> None:
        """Stop sweeping (messages already queued still go out: drain them, then
        `release()`, so the next process cannot resend what is in flight here)."""
        self._stop.set()
        for task in (self._task, self._heartbeat):
            if task:
                await task

    async def release(self) -> None:
        """Give the lease up (on shutdown); a store that refuses writes only means the
        lease runs out on its own a few seconds later."""
        try:
            await self.store.release_lease(LEASE, self.holder)
        except DatabaseError as exc:
            log.warning("lease not released (it runs out by itself): %s", type(exc).__name__)

    @property
    def lease_length(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)

    async def _hold_lease(self, now: datetime) -> bool:
        return await self.store.acquire_lease(LEASE, self.holder, to_iso(now),
                                              to_iso(now + self.lease_length))

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - one bad sweep must not stop the next
                log.error("sweep failed: %s", type(exc).__name__)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)
            except TimeoutError:
                pass

    async def sweep(self) -> SweepReport:
        """Sweep every workspace, if this process holds the lease."""
        async with self._sweeping:
            started = time.perf_counter()
            try:
                return await self._sweep()
            finally:
                if self.on_sweep is not None:
                    self.on_sweep(time.perf_counter() - started)

    async def _sweep(self) -> SweepReport:
        report = SweepReport()
        for team_id in await self.store.active_workspaces():
            now = self.clock.now()
            if not await self._hold_lease(now):  # renewed for each workspace
                return report
            report.held_lease = True
            try:
                await self.work.sweep_workspace(team_id, now, report)
            except Exception as exc:  # noqa: BLE001 - one workspace must not stop the others
                log.error("sweep of %s failed: %s", team_id, type(exc).__name__)
                report.errors.append(f"{team_id}: {type(exc).__name__}")
        if not report.held_lease:
            report.held_lease = await self._hold_lease(self.clock.now())
        if report.held_lease:
            report.purged = await self.purge_expired()
            await self.store.forget_inbound(to_iso(self.clock.now() - INBOUND_KEPT))
        return report

    async def purge_expired(self) -> list[str]:
        """Delete what is left of workspaces uninstalled longer ago than the retention."""
        cutoff = to_iso(self.clock.now() - self.retention)
        purged = []
        for team_id in await self.store.expired_workspaces(cutoff):
            deleted = await self.store.purge_workspace(team_id)
            log.info("purged %s after its retention: %s", team_id, deleted)
            purged.append(team_id)
        return purged
