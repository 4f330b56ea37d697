"""SQL statements and column lists shared by the storage modules, built once."""

from __future__ import annotations

from bot.domain.models import Case, Event, Nudge, Timer


def marks(record: type) -> str:
    return ", ".join("?" for _ in record.__dataclass_fields__)


# Statements built once: columns listed in Case's field order, so a row
# becomes a Case without building a dict first.
CASE_COLUMNS = ", ".join(Case.__dataclass_fields__)
NEW_CASE_FIELDS = ("channel_id", "reporter_id", "owner_id", "customer", "summary", "category",
                   "emotion", "contact", "severity", "next_followup_at", "followup_kind",
                   "repeat_of", "customer_updated_at", "source_link")
NEW_CASE_COLUMNS = ("team_id", "customer_key", "status", "created_at", "updated_at",
                     "card_state", *NEW_CASE_FIELDS)
INSERT_CASE = (f"INSERT INTO cases (number, {', '.join(NEW_CASE_COLUMNS)}) "
               f"VALUES (?{', ?' * len(NEW_CASE_COLUMNS)})")
NEXT_NUMBER = "SELECT COALESCE(MAX(number), 0) + 1 FROM cases WHERE team_id = ?"
NUDGE_COLUMNS = ", ".join(Nudge.__dataclass_fields__)
TIMER_COLUMNS = ", ".join(Timer.__dataclass_fields__)
TIMER_COLUMNS_T = ", ".join(f"t.{c}" for c in Timer.__dataclass_fields__)
CASE_COLUMNS_C = ", ".join(f"c.{c}" for c in Case.__dataclass_fields__)
# The inbound request that opened a case (see NewCase.request_key).
RECORD_REQUEST = "UPDATE inbound SET case_id = ? WHERE key = ?"
INSERT_EVENT = ("INSERT INTO events (team_id, case_id, at, actor_id, kind, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)")
EVENT_COLUMNS = ", ".join(Event.__dataclass_fields__)
EVENT_COLUMNS_E = ", ".join(f"e.{c}" for c in Event.__dataclass_fields__)




INSERT_TIMER = f"INSERT OR IGNORE INTO timers ({TIMER_COLUMNS}) VALUES ({marks(Timer)})"


def customer_key(name: str | None) -> str | None:
    """Case- and space-insensitive key used to spot repeat customers."""
    return " ".join(name.casefold().split()) if name else None
