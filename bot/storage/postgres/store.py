"""Mend's PostgreSQL store: the aggregates SQLite's Store is made of, on PgConnection."""

from __future__ import annotations

from bot.storage.cases import AsyncGroupCommit, Cases, OneByOne
from bot.storage.inbound import Inbound
from bot.storage.installations import Installations
from bot.storage.outbox import Outbox
from bot.storage.postgres.connection import PgConnection
from bot.storage.reports import Reports
from bot.storage.workspaces import Workspaces


class PgStore(PgConnection, Cases, Outbox, Workspaces, Reports, Installations, Inbound):
    """Owns a pool of connections to one PostgreSQL database for Mend."""

    def case_writer(self, group: bool = False) -> OneByOne | AsyncGroupCommit:
        """What Recovery opens cases through: one transaction per case, as it comes
        (each request on a connection of its own), or with `group` the cases that
        arrive together in one (see README, "Tests and benchmarks", for both)."""
        return AsyncGroupCommit(self) if group else OneByOne(self)
