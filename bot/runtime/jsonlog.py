"""`MEND_LOG_FORMAT=json`: one JSON object per log line, for log collectors.

Each line has `time`, `level`, `logger`, `message`, `team_id`, `case`,
`slack_event_id` and `replica`. The ids come from the request being handled (set
once per Slack request by `bind_request`, and copied into the tasks it starts) or
from a line's `extra=`. Lines pass the same `WithholdContent` filter as the plain
format first, so a library line that may quote customer text, a token or a
response URL is withheld here too.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import socket
from datetime import UTC, datetime
from typing import Any

FIELDS = ("team_id", "case", "slack_event_id")
_context: dict[str, contextvars.ContextVar] = {
    name: contextvars.ContextVar(f"mend_{name}", default=None) for name in FIELDS}
ID = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def replica_id(env: dict[str, str] | None = None) -> str:
    """`MEND_REPLICA_ID`, else this host's name and process id."""
    env = os.environ if env is None else env
    return (env.get("MEND_REPLICA_ID") or "").strip() or f"{socket.gethostname()}-{os.getpid()}"


def _an_id(value: Any) -> str | None:
    """Ids only: anything else (text someone typed) is never logged as an id."""
    text = str(value) if isinstance(value, str | int) else ""
    return text if text and len(text) <= 64 and set(text) <= ID else None


def bind(**ids: Any) -> list[tuple[contextvars.ContextVar, contextvars.Token]]:
    """Name the team, case or Slack event the current work is for (ids only)."""
    tokens = []
    for name, value in ids.items():
        if name in _context and (found := _an_id(value)) is not None:
            tokens.append((_context[name], _context[name].set(found)))
    return tokens


def unbind(tokens: list[tuple[contextvars.ContextVar, contextvars.Token]]) -> None:
    for var, token in reversed(tokens):
        var.reset(token)


def request_ids(body: dict) -> dict[str, Any]:
    """The team and event ids of a Slack request's body (commands, actions, events)."""
    team = body.get("team_id") or body.get("team")
    if isinstance(team, dict):
        team = team.get("id")
    return {"team_id": team, "slack_event_id": body.get("event_id")}


def bind_request(body: dict) -> list:
    return bind(**request_ids(body if isinstance(body, dict) else {}))


class JsonFormatter(logging.Formatter):
    """One JSON object per record; fields absent from the context are null."""

    def __init__(self, replica: str | None = None):
        super().__init__()
        self.replica = replica or replica_id()

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            given = getattr(record, name, None)
            line[name] = _an_id(given) if given is not None else _context[name].get()
        line["replica"] = self.replica
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def use_json(handler: logging.Handler, replica: str | None = None) -> None:
    handler.setFormatter(JsonFormatter(replica))
