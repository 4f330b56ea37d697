"""Mend's PostgreSQL store: the aggregates SQLite's Store is made of, on PgConnection."""

from __future__ import annotations

import os

from bot.storage.cases import AsyncGroupCommit, Cases, OneByOne
from bot.storage.outbox import Outbox
from bot.storage.postgres.connection import PgConnection
from bot.storage.reports import Reports
from bot.storage.workspaces import Workspaces


class PgStore(PgConnection, Cases, Outbox, Workspaces, Reports):
    """Owns a pool of connections to one PostgreSQL database for Mend."""

    def case_writer(self) -> OneByOne | AsyncGroupCommit:
        """What Recovery opens cases through: one transaction per case, as it comes
        (each request on a connection of its own), or with MEND_PG_GROUP_COMMIT=1 the
        cases that arrive together in one (see README for the measurements)."""
        if os.environ.get("MEND_PG_GROUP_COMMIT") == "1":
            return AsyncGroupCommit(self)
        return OneByOne(self)
