"""Instants as the records keep them, and the clock the domain reads.

Every moment is stored as UTC text of fixed width, so text order is time order.
The runtime supplies the clock (the real one, or one tests and the sandbox move).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""


def to_iso(moment: datetime) -> str:
    """Store format: UTC, fixed width, so text order is time order."""
    m = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    # Hand-formatted: twice as fast as strftime, and called several times per case.
    return (f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:"
            f"{m.second:02d}.{m.microsecond:06d}Z")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)
