"""Mend's SQLite store: one interface over the aggregates, each in its own module.

Every query takes a team_id: a workspace never sees another's rows. Every change to a
case is written together with its timeline event in one transaction. The methods are
coroutines although SQLite answers in microseconds on the event loop's thread, so that
an engine with a network round trip fits behind the same interface; the reads that can
take long (cohorts, exports) run in a worker thread on a read-only connection of their
own.
"""

from __future__ import annotations

from bot.domain.models import Case, NewCase, Opening, Written
from bot.storage.cases import Cases, GroupCommit
from bot.storage.connection import Connection, StoreError
from bot.storage.engine import drive
from bot.storage.inbound import Claim, Inbound
from bot.storage.installations import Installations
from bot.storage.migrations import SCHEMA_VERSION
from bot.storage.outbox import Outbox
from bot.storage.reports import Reports
from bot.storage.workspaces import Workspaces

__all__ = ["SCHEMA_VERSION", "GroupCommit", "Store", "StoreError"]


class Store(Cases, Outbox, Workspaces, Reports, Installations, Inbound, Connection):
    """Owns one SQLite database file for Mend."""

    def create_cases_now(self, new: list[NewCase]) -> list[Case]:
        """`create_cases` without a coroutine (as `open_cases_now`)."""
        return drive(self.create_cases(new))

    def open_cases_now(self, openings: list[Opening]) -> list[Written]:
        """`open_cases` without a coroutine: group commit calls it from a loop callback
        (SQLite answers every statement at once, so nothing in it ever waits)."""
        return drive(self.open_cases(openings))

    def claim_inbounds_now(self, claims: list[tuple[str, str]]) -> list[Claim]:
        """`claim_inbounds` without a coroutine, from a loop callback (as above): the
        inbound middleware commits the claims of requests that arrive together at once."""
        return drive(self.claim_inbounds(claims))

    def case_writer(self, group: bool = True) -> GroupCommit:
        """What Recovery opens cases through: a batch per commit (always, on SQLite)."""
        return GroupCommit(self)
