"""The clocks Mend runs on (the domain reads them through `bot.domain.times.Clock`).

Everything that needs "now" takes a Clock, so tests (ManualClock) and the
sandbox (SandboxClock) can move time without sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock time in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock(Clock):
    """A clock that only moves when told to; for tests and the sandbox."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 11, 26, 15, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **kwargs: float) -> datetime:
        """Move forward by a timedelta given as keyword arguments (hours=2)."""
        self._now += timedelta(**kwargs)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


class SandboxClock(Clock):
    """Real time plus an offset that only `skip` moves: for the sandbox, where a person
    skips ahead to see a follow-up fall due instead of waiting for it."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    @property
    def offset(self) -> timedelta:
        """How far ahead of real time this clock runs."""
        return self._offset

    def skip(self, delta: timedelta) -> datetime:
        """Move forward by `delta` (never back: what happened stays in the past)."""
        if delta < timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        self._offset += delta
        return self.now()
