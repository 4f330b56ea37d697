"""What the domain asks of storage: the methods it calls, nothing about how they are
kept. `bot.storage` implements them (SQLite or PostgreSQL); the composition root hands
one in.
"""

from __future__ import annotations

from typing import Any, Protocol

from bot.domain.models import Case, CaseRef, Event, Opening, StepMark, Written


class CaseWriter(Protocol):
    async def open_case(self, opening: Opening) -> Written:
        """Insert a case numbered next in its workspace, with its first event, made from
        the settings and customer history read in the same call."""


class CaseStore(Protocol):
    """Reading and changing cases; every call is scoped to one workspace."""

    async def case_by_number(self, team_id: str, number: int) -> Case | None: ...

    async def recent_events(self, team_id: str, case_id: int, limit: int,
                            kind: str | None = None) -> tuple[list[Event], int]: ...

    async def steps(self, team_id: str, case_id: int) -> dict[str, StepMark]: ...

    async def open_cases(self, openings: list[Opening]) -> list[Written]: ...

    async def open_count(self, team_id: str, owner_id: str) -> int: ...

    async def customer_history(self, team_id: str, customer: str, since: str,
                               limit: int = 5) -> list[CaseRef]: ...

    async def change_case(self, team_id: str, case_id: int, *, changes: dict[str, Any],
                          expect: dict[str, Any], actor_id: str | None, kind: str,
                          detail: dict[str, Any], at: str,
                          timers: tuple[dict[str, Any], ...] = (),
                          once_key: str | None = None, tick: tuple[str, ...] = (),
                          untick: tuple[str, ...] = (),
                          also: tuple[tuple[int, str, dict[str, Any]], ...] = ()
                          ) -> Case | None: ...

    async def add_event(self, team_id: str, case_id: int, actor_id: str | None, kind: str,
                        detail: dict[str, Any], at: str, once_key: str | None = None
                        ) -> bool: ...

    async def mark_step(self, team_id: str, case_id: int, step: str, actor_id: str,
                        at: str) -> bool: ...

    async def unmark_step(self, team_id: str, case_id: int, step: str, actor_id: str,
                          at: str) -> bool: ...

    async def seen_before(self, team_id: str, key: str) -> bool: ...

    async def leads(self, team_id: str) -> list[str]: ...

    async def set_leads(self, team_id: str, user_ids: list[str], actor_id: str,
                        at: str) -> None: ...
