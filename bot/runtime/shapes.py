"""The shape of what Slack sends, checked before Mend's listeners read any of it.

A small typed check of the fields Mend reads, and of those Bolt reads to build a
request and route it: each field may be absent or null unless `Required`, and when
present must have the given type (a Python type, a tuple of types, a regular
expression an id must match in full, a nested dict of fields, `ListOf` or `MapOf`).
Fields Mend does not read are not looked at. A payload that fails is refused whole:
nothing of it is stored, answered or logged (the problem names a field, never a value).

Mend subscribes to one event, `app_home_opened`, whose `user` is an id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Slack's user ids are U… or W… (Enterprise Grid); ids may be empty, which Mend reads
# as missing, but never malformed. Slack's own are 9 to 11 characters; the tests' are
# as short as `U1`, hence {1,30} (as handlers/slack_text.py reads mentions).
USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")
ID = re.compile(r"[A-Z0-9]{1,40}")  # teams, channels, enterprises


@dataclass(frozen=True)
class Required:
    spec: Any


@dataclass(frozen=True)
class ListOf:
    item: Any
    non_empty: bool = False


@dataclass(frozen=True)
class MapOf:
    """An object with any keys (block ids, action ids), each value of one shape."""

    value: Any


ELEMENT = {"type": str, "value": str, "selected_option": {"value": str},
           "selected_options": ListOf({"value": str}), "selected_date": str,
           "selected_time": str, "selected_user": USER_ID}
ACTION = {**ELEMENT, "action_id": Required(str), "block_id": str, "action_ts": str}
STATE = {"values": MapOf(MapOf(ELEMENT))}
BLOCKS = ListOf(dict)
VIEW = {"id": str, "type": str, "callback_id": str, "private_metadata": str, "team_id": ID,
        "app_installed_team_id": ID, "blocks": BLOCKS, "state": STATE}
MESSAGE = {"ts": str, "thread_ts": str, "text": str, "user": str, "blocks": BLOCKS,
           "metadata": {"event_type": str, "event_payload": dict}}
EVENT = {"type": Required(str), "user": USER_ID, "tab": str}

# Every top-level field read, in any kind of payload (slash commands have no `type`).
COMMON = {
    "type": str, "team": {"id": ID, "enterprise_id": ID}, "team_id": ID,
    "enterprise": (dict, str), "enterprise_id": ID, "is_enterprise_install": (bool, str),
    "authorizations": ListOf({"team_id": ID, "enterprise_id": ID, "user_id": str}),
    "user": {"id": USER_ID, "team_id": ID}, "user_id": USER_ID,
    "channel": {"id": ID}, "channel_id": ID, "command": str, "text": str,
    "response_url": str, "response_urls": ListOf({"response_url": str}), "trigger_id": str,
    "callback_id": str, "action_id": str, "value": str, "container": dict,
    "message": MESSAGE, "view": VIEW, "actions": ListOf(ACTION), "event": EVENT,
}
# What each kind of payload must carry on top of that.
BY_TYPE = {
    "block_actions": {"actions": Required(ListOf(ACTION, non_empty=True))},
    "block_suggestion": {"action_id": Required(str)},
    "view_submission": {"view": Required({**VIEW, "callback_id": Required(str),
                                          "state": Required(STATE)})},
    "view_closed": {"view": Required({**VIEW, "callback_id": Required(str)})},
    "shortcut": {"callback_id": Required(str)},
    "message_action": {"callback_id": Required(str), "message": Required(MESSAGE)},
    "event_callback": {"event": Required(EVENT)},
}


def problem(body: object) -> str | None:
    """None if `body` has the shape Mend reads, else the field that does not (a path of
    Mend's own names, such as `actions[0].selected_user`)."""
    if not isinstance(body, dict):
        return "the payload"
    kind = body.get("type")
    if kind is not None and not isinstance(kind, str):
        return "type"
    return _check(body, SPECS.get(kind or "", COMMON), "")


# COMMON with each kind's fields, merged once rather than on every request.
SPECS = {kind: {**COMMON, **extra} for kind, extra in BY_TYPE.items()}


def _check(value: object, spec: Any, path: str) -> str | None:
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return path or "the payload"
        for key, field in spec.items():
            item = value.get(key)
            if item is None:
                if isinstance(field, Required):
                    return f"{path}.{key}" if path else key
                continue
            wrong = _check(item, field.spec if isinstance(field, Required) else field,
                           f"{path}.{key}" if path else key)
            if wrong:
                return wrong
        return None
    if isinstance(spec, ListOf):
        if not isinstance(value, list) or (spec.non_empty and not value):
            return path
        return next((wrong for i, item in enumerate(value)
                     if (wrong := _check(item, spec.item, f"{path}[{i}]"))), None)
    if isinstance(spec, MapOf):
        if not isinstance(value, dict):
            return path
        return next((wrong for item in value.values() if item is not None
                     and (wrong := _check(item, spec.value, f"{path}.*"))), None)
    if isinstance(spec, re.Pattern):
        ok = isinstance(value, str) and (value == "" or spec.fullmatch(value) is not None)
        return None if ok else path
    return None if isinstance(value, spec) else path
