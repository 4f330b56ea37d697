"""Every Slack payload, read once.

A Bolt middleware (after the shape check, before the inbound claim and every
listener) reads the parsed body into one `Payload`: the workspace, the person, the
channel, the trigger and response URL, the control clicked (its action id as
`handlers.ids.Action`) with its values, the submitted view with its inputs and
Mend's private metadata, the event. It goes into Bolt's context; listeners take
`context` and read `payload.of(context)`, never the raw body.

The body's fields already have the types `bot/runtime/shapes.py` checks (HTTP at the
boundary, Socket Mode in `well_formed`); any of them may still be missing, which
reads as empty.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from handlers.ids import Action

KEY = "mend_payload"  # in Bolt's context
COMMAND = "command"  # the kind of a slash command (Slack gives it no `type`)
_ACTIONS = {action.value: action for action in Action}
_EMPTY: dict[str, Any] = {}


@dataclass(slots=True)
class Payload:
    """What Mend reads of one Slack request; read-only by convention (not `frozen`: a
    frozen dataclass sets each of these fields through object.__setattr__, which made
    reading a payload three times slower)."""

    kind: str  # COMMAND, or Slack's `type`: block_actions, view_submission, event_callback…
    team_id: str = ""  # the workspace acted in (never the user's org on Enterprise Grid)
    user_id: str = ""  # who acted (for events: the event's user)
    channel_id: str = ""
    trigger_id: str | None = None
    response_url: str | None = None
    text: str = ""  # a slash command's text after the command
    action: Action | None = None  # the control used, when Mend named it
    action_ts: str = ""
    value: str = ""  # the button's value
    block_id: str = ""
    selected_user: str = ""  # a user picker's choice
    selected: tuple[str, ...] = ()  # the options ticked in a checkbox group
    message: dict[str, Any] = field(default_factory=dict)  # the message acted on
    message_ts: str = ""
    callback_id: str = ""  # a view's or a shortcut's
    view_id: str = ""
    view_type: str = ""  # the view acted in: "modal", or "home" (the App Home)
    values: dict[str, Any] = field(default_factory=dict)  # a submitted view's inputs
    meta: dict[str, Any] = field(default_factory=dict)  # the view's private metadata
    event: dict[str, Any] = field(default_factory=dict)
    event_id: str = ""

    def input(self, block: str, action: str, key: str | None = None) -> str | None:
        """One input of a submitted view: its text or selected option (or `key`, such
        as `selected_date`); None when it is empty."""
        element = (self.values.get(block) or _EMPTY).get(action)
        if not isinstance(element, dict):
            return None
        if key is None and isinstance(element.get("selected_option"), dict):
            return element["selected_option"].get("value")
        found = element.get(key or "value")
        return found if isinstance(found, str) else None

    def typed(self, block: str) -> str:
        """What was typed in a view's text input, as typed (input values arrive raw,
        not Slack-escaped), stripped."""
        return (self.input(block, Action.TEXT) or "").strip()


def read(body: dict[str, Any]) -> Payload:
    """The payload of one parsed Slack body."""
    if body.get("command"):
        return Payload(COMMAND, team_id=_str(body.get("team_id")),
                       user_id=_str(body.get("user_id")),
                       channel_id=_str(body.get("channel_id")),
                       trigger_id=body.get("trigger_id") or None,
                       response_url=body.get("response_url") or None,
                       text=_str(body.get("text")))
    kind = _str(body.get("type"))
    if kind == "event_callback":
        event = _dict(body.get("event"))
        return Payload(kind, team_id=_str(body.get("team_id")),
                       user_id=_str(event.get("user")), event=event,
                       event_id=_str(body.get("event_id")))
    return _interactive(kind, body)


def _interactive(kind: str, body: dict[str, Any]) -> Payload:
    """Clicks, view submissions and shortcuts."""
    user, view = _dict(body.get("user")), _dict(body.get("view"))
    team = _str(_dict(body.get("team")).get("id") or body.get("team_id"))
    if not team and kind == "view_submission":  # org-wide installs: from the view
        team = _str(view.get("team_id") or user.get("team_id"))
    actions = body.get("actions")
    action = actions[0] if actions and isinstance(actions[0], dict) else _EMPTY
    message = _dict(body.get("message"))
    return Payload(
        kind, team_id=team, user_id=_str(user.get("id")),
        channel_id=_str(_dict(body.get("channel")).get("id")),
        trigger_id=body.get("trigger_id") or None,
        response_url=body.get("response_url") or None,
        action=_ACTIONS.get(_str(action.get("action_id"))),
        action_ts=_str(action.get("action_ts")), value=_str(action.get("value")),
        block_id=_str(action.get("block_id")),
        selected_user=_str(action.get("selected_user")),
        selected=tuple(o.get("value") for o in action.get("selected_options") or ()
                       if isinstance(o, dict)),
        message=message, message_ts=_str(message.get("ts") or body.get("message_ts")),
        callback_id=_str(body.get("callback_id") or view.get("callback_id")),
        view_id=_str(view.get("id")), view_type=_str(view.get("type")),
        values=_dict(_dict(view.get("state")).get("values")), meta=_metadata(view))


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    """The private metadata Mend put on a view (a JSON object), or empty."""
    text = view.get("private_metadata")
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else str(value or "")


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def of(context: Any) -> Payload:
    """The payload the middleware read for this request."""
    return context[KEY]


class Middleware(AsyncMiddleware):
    """Bolt middleware: read the payload once and put it in the context. A subclass of
    Bolt's own middleware type, called directly: a plain function would have Bolt build
    every keyword argument it might inject (say, respond, the body's parts…) for each
    request, which costs more than reading the payload."""

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse | None:
        req.context[KEY] = read(req.body)
        return await next()


middleware = Middleware()
