"""The SQLite schema, as versioned migrations (append only)."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from bot.storage import live_counts
from bot.storage.dialect import SQLITE
from bot.storage.engine import drive
from bot.storage.rollups import TABLES as ROLLUP_TABLES
from bot.storage.rollups import rebuild
from bot.storage.sqlite_tx import SqliteTx


def _v1(db: sqlite_utils.Database) -> None:
    db["cases"].create(
        {
            "id": int,
            "team_id": str,
            "number": int,
            "channel_id": str,
            "reporter_id": str,
            "owner_id": str,
            "customer": str,
            "customer_key": str,
            "summary": str,
            "category": str,
            "emotion": str,
            "contact": str,
            "severity": str,
            "status": str,
            "created_at": str,
            "updated_at": str,
            "next_followup_at": str,
            "card_channel": str,
            "card_ts": str,
            "card_state": str,
        },
        pk="id",
        not_null={"team_id", "number", "channel_id", "reporter_id", "summary", "status"},
    )
    db["cases"].create_index(["team_id", "number"], unique=True)
    db["cases"].create_index(["team_id", "customer_key", "created_at"])
    db["cases"].create_index(["card_state", "team_id"])
    db["events"].create(
        {
            "id": int,
            "team_id": str,
            "case_id": int,
            "at": str,
            "actor_id": str,
            "kind": str,
            "detail": str,
        },
        pk="id",
        not_null={"team_id", "case_id", "at", "kind"},
        foreign_keys=[("case_id", "cases", "id")],
    )
    db["events"].create_index(["team_id", "case_id", "id"])


def _v2(db: sqlite_utils.Database) -> None:
    """Lifecycle: resolution, checklist, leads, repeat customers, seen interactions."""
    for column in ("followup_kind", "resolved_at", "closed_at", "resolution", "compensation",
                   "compensation_accepted"):
        db["cases"].add_column(column, str)
    db["cases"].add_column("repeat_of", int)
    db["cases"].add_column("duplicate_of", int)
    db["steps"].create(
        {"team_id": str, "case_id": int, "step": str, "done_by": str, "done_at": str},
        pk=("team_id", "case_id", "step"),
    )
    db["leads"].create(
        {"team_id": str, "user_id": str, "added_by": str, "added_at": str},
        pk=("team_id", "user_id"),
    )
    db["seen"].create({"team_id": str, "key": str, "at": str}, pk=("team_id", "key"))


def _v3(db: sqlite_utils.Database) -> None:
    """Follow-up nudges: a timer queue, the outbox, the sweeper's lease, settings."""
    db["cases"].add_column("customer_updated_at", str)
    db["cases"].add_column("card_claimed_at", str)  # when a card post was last attempted
    # Ordered by time, so due timers sit together at the front: a sweep reads and
    # rewrites a few pages however many cases are open.
    db.execute(
        "CREATE TABLE timers (team_id TEXT NOT NULL, at TEXT NOT NULL, "
        "case_id INTEGER NOT NULL, kind TEXT NOT NULL, due_key TEXT NOT NULL, "
        "rung INTEGER NOT NULL DEFAULT 0, escalated INTEGER NOT NULL DEFAULT 0, "
        "unassigned INTEGER NOT NULL DEFAULT 0, "
        "PRIMARY KEY (team_id, at, case_id, kind, due_key)) WITHOUT ROWID")
    db["nudges"].create(
        {"id": int, "team_id": str, "case_id": int, "kind": str, "rung": int, "due_key": str,
         "state": str, "attempts": int, "send_after": str, "channel": str, "thread_ts": str,
         "sent_ts": str, "created_at": str, "claimed_at": str, "sent_at": str, "error": str},
        pk="id", not_null={"team_id", "case_id", "kind", "rung", "due_key", "state"},
        defaults={"attempts": 0},
    )
    # The nudge key: a case's reminder for one due time exists once, whatever happens.
    # Due time first, so new keys land together at the end of the index.
    db["nudges"].create_index(["team_id", "due_key", "case_id", "kind", "rung"], unique=True)
    db["nudges"].create_index(["team_id", "state", "send_after"])
    db["nudges"].create_index(["team_id", "case_id"])
    db["leases"].create({"name": str, "holder": str, "expires_at": str}, pk="name")
    db["workspaces"].create(
        {"team_id": str, "lead_channel": str, "work_days": str, "work_start": str,
         "work_end": str, "created_at": str}, pk="team_id")
    db.execute("INSERT OR IGNORE INTO workspaces (team_id, created_at) "
               "SELECT team_id, MIN(created_at) FROM cases GROUP BY team_id")


def _v4(db: sqlite_utils.Database) -> None:
    """Leads' views: the not-closed cases in urgency order, cohorts by opening date,
    and each workspace's digest schedule and timezone."""
    # Partial indexes: only cases still in play, in the order the lists show them.
    db.execute("CREATE INDEX idx_cases_live_due ON cases (team_id, next_followup_at, "
               "created_at) WHERE status != 'closed'")
    db.execute("CREATE INDEX idx_cases_live_owner ON cases (team_id, owner_id, "
               "next_followup_at) WHERE status != 'closed'")
    db["cases"].create_index(["team_id", "created_at"])
    for column in ("digest_day", "digest_time", "tz"):
        db["workspaces"].add_column(column, str)


def _v5(db: sqlite_utils.Database) -> None:
    """Distribution: each workspace's installation (bot token only), one-time OAuth
    states, a lock per workspace while its token is refreshed, and when it left."""
    db.execute(
        "CREATE TABLE installations (enterprise_id TEXT NOT NULL DEFAULT '', "
        "team_id TEXT NOT NULL DEFAULT '', is_enterprise_install INTEGER NOT NULL DEFAULT 0, "
        "app_id TEXT, enterprise_name TEXT, enterprise_url TEXT, team_name TEXT, "
        "bot_token TEXT NOT NULL, bot_id TEXT, bot_user_id TEXT, bot_scopes TEXT, "
        "bot_refresh_token TEXT, bot_token_expires_at INTEGER, installer_id TEXT, "
        "installed_at REAL NOT NULL, PRIMARY KEY (enterprise_id, team_id))")
    db.execute("CREATE TABLE oauth_states (state TEXT PRIMARY KEY, expires_at REAL NOT NULL)")
    db.execute(
        "CREATE TABLE token_locks (enterprise_id TEXT NOT NULL, team_id TEXT NOT NULL, "
        "holder TEXT NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (enterprise_id, team_id))")
    db["workspaces"].add_column("enterprise_id", str)
    db["workspaces"].add_column("uninstalled_at", str)


def _v6(db: sqlite_utils.Database) -> None:
    """Cases from messages (the link back, the reaction that opens one) and withdrawn
    cases (a mistake undone, left out of every statistic)."""
    db["cases"].add_column("source_link", str)
    db["cases"].add_column("withdrawn_at", str)
    db["workspaces"].add_column("reaction", str)
    # A message opens one case by reaction, whoever reacts and however often.
    db["message_cases"].create(
        {"team_id": str, "channel_id": str, "message_ts": str, "case_id": int, "at": str},
        pk=("team_id", "channel_id", "message_ts"))
    # People's names as Slack last gave them, so an export shows names next to ids.
    db["people"].create({"team_id": str, "user_id": str, "name": str, "at": str},
                        pk=("team_id", "user_id"))


def _v7(db: sqlite_utils.Database) -> None:
    """Inbound requests already taken (idempotency): one row per Slack request key, with
    when it was claimed and, for commands, the answer it got."""
    db.execute("CREATE TABLE inbound (key TEXT PRIMARY KEY, at TEXT NOT NULL, answer TEXT)")
    db.execute("CREATE INDEX idx_inbound_at ON inbound (at)")


def _v8(db: sqlite_utils.Database) -> None:
    """Roll-ups of the recovery figures per opening day, category and owner (see
    rollups.py), filled from the timelines there are (withdrawn cases left out)."""
    for statement in ROLLUP_TABLES:
        db.execute(statement)
    drive(rebuild(SqliteTx(db.conn), SQLITE))


# Append only: a migration, once released, never changes.
def _v9(db: sqlite_utils.Database) -> None:
    """The case an inbound request opened, recorded with the case (a retry of a request
    that died before its ack finds it by the request's key)."""
    db.execute("ALTER TABLE inbound ADD COLUMN case_id INTEGER")


def _v10(db: sqlite_utils.Database) -> None:
    """The cases in play counted per owner, status and follow-up, kept by triggers (see
    live_counts.py), filled from the cases there are."""
    for statement in live_counts.SQLITE:
        db.execute(statement)


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7,
                                                     _v8, _v9, _v10]
SCHEMA_VERSION = len(MIGRATIONS)
