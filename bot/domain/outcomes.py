"""What a change to a case answers: done (or already so), a question first, a timeline."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.models import Case, Event, StepMark


@dataclass(frozen=True)
class Done:
    """The case after an action; `changed` is False when it already was so."""

    case: Case
    changed: bool = True
    message: str = ""
    before: Case | None = None  # the case as it was before the change


@dataclass(frozen=True)
class NeedsConfirmation:
    """Assigning would overload someone: ask before going ahead."""

    case: Case
    assignee: str
    open_count: int
    limit: int


TIMELINE_EVENTS = 150  # the newest ones; a case with more says how many are left out


@dataclass(frozen=True)
class Timeline:
    case: Case
    steps: dict[str, StepMark]
    events: list[Event]  # the newest TIMELINE_EVENTS, oldest first
    total_events: int
