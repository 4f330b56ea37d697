"""MendDriver: talks to a running app over HTTP the way Slack does.

It builds slash-command, block-action, view-submission and event requests in Slack's own
shapes, signs them with the signing secret (see signing.py) and posts them to the app's
request URL (e.g. ``http://127.0.0.1:3000/slack/events``). Given a SlackStandIn it also
fills in response URLs served by the stand-in, user and channel names from its directory,
and message/view contents it recorded, so payloads match what the app posted.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp

from .signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_request

if TYPE_CHECKING:
    from .server import SlackStandIn

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"

#: Select-style keys of ``selected`` -> the element type Slack reports for them.
_SELECT_TYPES = {
    "selected_user": "users_select",
    "selected_users": "multi_users_select",
    "selected_channel": "channels_select",
    "selected_channels": "multi_channels_select",
    "selected_conversation": "conversations_select",
    "selected_conversations": "multi_conversations_select",
    "selected_option": "static_select",
    "selected_options": "multi_static_select",
    "selected_date": "datepicker",
    "selected_time": "timepicker",
    "selected_date_time": "datetimepicker",
}


@dataclass
class Reply:
    """The app's HTTP answer to one driver request.

    ``json`` is the parsed body when it is JSON (else None); ``elapsed_ms`` the round trip
    (Slack gives up after 3000 ms). ``response_url``/``trigger_id`` are the ones the
    request carried, so a test can find what the app later posted there.
    """

    status: int
    body: str
    json: Any
    headers: Mapping[str, str]
    elapsed_ms: float
    response_url: str | None = None
    trigger_id: str | None = None
    request_body: bytes = field(default=b"", repr=False)


def new_trigger_id() -> str:
    """A trigger id shaped like Slack's (``<seconds>.<digits>.<hex>``)."""
    return f"{int(time.time())}.{secrets.randbelow(10**12):012d}.{secrets.token_hex(16)}"


class MendDriver:
    """Send Slack-shaped, signed requests to an app and collect its replies.

    ``app_url`` is the app's request URL; ``signing_secret`` must match the app's.
    ``standin`` (optional) supplies response URLs and directory/message/view data.
    Use ``async with MendDriver(...) as d`` or call ``close()``.
    """

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        standin: SlackStandIn | None = None,
        team_id: str = "T1",
        *,
        team_domain: str = "example",
        api_app_id: str = "A1",
        verification_token: str = "verification-token",
        timeout: float = 10.0,
    ):
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.standin = standin
        self.team_id = team_id
        self.team_domain = team_domain
        self.api_app_id = api_app_id
        self.verification_token = verification_token
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> MendDriver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------------ low level

    async def raw(
        self,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
        *,
        sign: bool = True,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> Reply:
        """POST ``body`` as is (for malformed requests). Signed unless ``sign=False``;
        ``headers`` are applied last and may override anything, signature included."""
        all_headers = {"Content-Type": content_type, "User-Agent": USER_AGENT}
        if sign:
            all_headers.update(sign_request(self.signing_secret, body, timestamp))
        if signature is not None:
            all_headers[SIGNATURE_HEADER] = signature
        if timestamp is not None and not sign:
            all_headers[TIMESTAMP_HEADER] = str(timestamp)
        all_headers.update(headers or {})
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        started = time.perf_counter()
        async with self._session.post(self.app_url, data=body, headers=all_headers) as resp:
            text = await resp.text()
            elapsed = (time.perf_counter() - started) * 1000
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = None
            return Reply(resp.status, text, parsed, dict(resp.headers), elapsed, request_body=body)

    async def _form(
        self, fields: Mapping[str, Any], timestamp: int | None, signature: str | None
    ) -> Reply:
        body = urlencode({k: v for k, v in fields.items() if v is not None}).encode()
        return await self.raw(body, FORM, timestamp=timestamp, signature=signature)

    async def _payload(self, payload: dict[str, Any]) -> Reply:
        return await self._form({"payload": json.dumps(payload)}, None, None)

    # ------------------------------------------------------------------ directory helpers

    def _user_name(self, user_id: str) -> str:
        record = self.standin.user(user_id) if self.standin else None
        return record["name"] if record else user_id.lower()

    def _channel_name(self, channel_id: str) -> str:
        record = self.standin.channel(channel_id) if self.standin else None
        if record:
            return record["name"]
        return "directmessage" if channel_id.startswith("D") else channel_id.lower()

    def _response_url(self, given: str | None) -> str:
        if given is not None:
            return given
        if self.standin is not None:
            return self.standin.response_url()
        return f"https://hooks.slack.com/commands/{self.team_id}/0/{secrets.token_hex(12)}"

    def _trigger(self, given: str | None, user_id: str) -> str:
        """The trigger id for a request by ``user_id``; the stand-in learns whose it is."""
        trigger_id = given or new_trigger_id()
        if self.standin is not None:
            self.standin.remember_trigger(trigger_id, user_id)
        return trigger_id

    def _user(self, user_id: str, team_id: str) -> dict[str, Any]:
        name = self._user_name(user_id)
        return {"id": user_id, "username": name, "name": name, "team_id": team_id}

    # ------------------------------------------------------------------ Slack requests

    async def command(
        self,
        text: str,
        user_id: str = "U1",
        channel_id: str = "C1",
        command: str = "/recover",
        team_id: str | None = None,
        trigger_id: str | None = None,
        response_url: str | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Reply:
        """Invoke a slash command like Slack: a signed form POST with Slack's fields.

        ``timestamp``/``signature`` override the signing headers (old timestamp, bad
        signature). ``extra`` is merged into the form; keys mapped to None are removed.
        """
        trigger_id = self._trigger(trigger_id, user_id)
        response_url = self._response_url(response_url)
        fields: dict[str, Any] = {
            "token": self.verification_token,
            "team_id": team_id or self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": self._channel_name(channel_id),
            "user_id": user_id,
            "user_name": self._user_name(user_id),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        fields.update(extra or {})
        reply = await self._form(fields, timestamp, signature)
        reply.response_url, reply.trigger_id = response_url, trigger_id
        return reply

    def _find_action(self, blocks: list, action_id: str) -> tuple[str | None, dict | None]:
        """(block_id, element) of the element with ``action_id`` in ``blocks``."""
        for block in blocks or []:
            candidates = list(block.get("elements") or [])
            for key in ("accessory", "element"):
                if block.get(key):
                    candidates.append(block[key])
            for element in candidates:
                if isinstance(element, dict) and element.get("action_id") == action_id:
                    return block.get("block_id"), element
        return None, None

    async def block_action(
        self,
        action_id: str,
        value: str | None = None,
        user_id: str = "U1",
        channel_id: str = "C1",
        message_ts: str | None = None,
        block_id: str | None = None,
        selected: Mapping[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        trigger_id: str | None = None,
        *,
        team_id: str | None = None,
        response_url: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> Reply:
        """Click a button (or pick in a select) like Slack: ``payload=<block_actions json>``.

        With ``message_ts`` the action comes from that message (its text/blocks taken from
        the stand-in when it has it); with ``view`` (a view dict, e.g. from
        ``standin.views``) it comes from that modal/home tab. ``block_id`` defaults to the
        block holding ``action_id`` in that message/view, else ``"b"``. ``selected`` (e.g.
        ``{"selected_user": "U2"}``) is merged into the action and sets the select type.
        ``blocks``: the blocks of an ephemeral message clicked in (Slack sends no
        ``message`` for those), to find the element and its block.
        """
        team = team_id or self.team_id
        trigger_id = self._trigger(trigger_id, user_id)
        message: dict[str, Any] | None = None
        if message_ts is not None:
            stored = None
            if self.standin is not None:
                stored = next(
                    (m for m in self.standin.messages(channel_id) if m["ts"] == message_ts), None
                )
            message = {
                "type": "message",
                "ts": message_ts,
                "text": stored["text"] if stored else "",
                "blocks": stored["blocks"] if stored else [],
            }
            if stored:
                message.update(user=stored["user"], bot_id=stored.get("bot_id"))
                if stored["thread_ts"]:
                    message["thread_ts"] = stored["thread_ts"]
        source_blocks = (
            (view or {}).get("blocks") or (message or {}).get("blocks") or blocks or []
        )
        found_block_id, element = self._find_action(source_blocks, action_id)

        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id or found_block_id or "b",
            "type": (element or {}).get("type", "button"),
            "action_ts": f"{time.time():.6f}",
        }
        if action["type"] == "button":
            text = (element or {}).get("text") or {"type": "plain_text", "text": action_id}
            action["text"] = text
        if value is not None:
            action["value"] = value
        elif element and element.get("value") is not None:
            action["value"] = element["value"]
        for key in selected or {}:
            if key in _SELECT_TYPES and not element:
                action["type"] = _SELECT_TYPES[key]
                action.pop("text", None)
        action.update(selected or {})

        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user_id, team),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": trigger_id,
            "team": {"id": team, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "actions": [action],
        }
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = view
            payload["state"] = view.get("state", {"values": {}})
            response_url = None
        else:
            response_url = self._response_url(response_url)
            if message is not None:
                payload["container"] = {
                    "type": "message",
                    "message_ts": message_ts,
                    "channel_id": channel_id,
                    "is_ephemeral": False,
                }
                payload["message"] = message
            else:
                payload["container"] = {
                    "type": "message",
                    "channel_id": channel_id,
                    "is_ephemeral": True,
                }
            payload["channel"] = {"id": channel_id, "name": self._channel_name(channel_id)}
            payload["state"] = {"values": {}}
            payload["response_url"] = response_url
        reply = await self._payload(payload)
        reply.response_url, reply.trigger_id = response_url, trigger_id
        return reply

    async def view_submission(
        self,
        callback_id: str,
        values: dict[str, Any],
        private_metadata: str = "",
        user_id: str = "U1",
        view_id: str | None = None,
        *,
        team_id: str | None = None,
        trigger_id: str | None = None,
    ) -> Reply:
        """Submit a modal like Slack: ``payload=<view_submission json>``.

        ``values`` is Slack's state shape ``{block_id: {action_id: {"type": ..., "value":
        ...}}}``. With a stand-in, the view (by ``view_id``, else the latest with this
        ``callback_id``) supplies id, title and blocks; ``callback_id``,
        ``private_metadata`` and ``values`` given here always win.
        """
        team = team_id or self.team_id
        trigger_id = self._trigger(trigger_id, user_id)
        base: dict[str, Any] = {}
        if self.standin is not None:
            if view_id is not None and view_id in self.standin.views:
                base = self.standin.views[view_id]
            elif view_id is None:
                matches = [
                    v for v in self.standin.views.values() if v.get("callback_id") == callback_id
                ]
                base = matches[-1] if matches else {}
        view_id = view_id or base.get("id") or f"V{secrets.token_hex(5).upper()}"
        view = {
            "id": view_id,
            "team_id": team,
            "type": "modal",
            "blocks": [],
            "title": {"type": "plain_text", "text": "Modal"},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": self.api_app_id,
            "bot_id": self.standin.bot_id if self.standin else "BBOT",
            **json.loads(json.dumps(base)),
        }
        view.update(
            id=view_id,
            callback_id=callback_id,
            private_metadata=private_metadata,
            state={"values": values},
        )
        payload = {
            "type": "view_submission",
            "team": {"id": team, "domain": self.team_domain},
            "user": self._user(user_id, team),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": trigger_id,
            "view": view,
            "response_urls": [],
            "enterprise": None,
            "is_enterprise_install": False,
        }
        reply = await self._payload(payload)
        reply.trigger_id = trigger_id
        return reply

    async def message_shortcut(
        self, callback_id: str, channel_id: str, message: dict[str, Any], user_id: str = "U1",
        *, team_id: str | None = None,
    ) -> Reply:
        """Run a message shortcut like Slack: ``payload=<message_action json>``."""
        team = team_id or self.team_id
        trigger_id, response_url = self._trigger(None, user_id), self._response_url(None)
        payload = {
            "type": "message_action", "callback_id": callback_id, "token": self.verification_token,
            "team": {"id": team, "domain": self.team_domain}, "user": self._user(user_id, team),
            "channel": {"id": channel_id, "name": self._channel_name(channel_id)},
            "message": message, "message_ts": message.get("ts"), "trigger_id": trigger_id,
            "response_url": response_url, "action_ts": f"{time.time():.6f}",
        }
        reply = await self._payload(payload)
        reply.response_url, reply.trigger_id = response_url, trigger_id
        return reply

    async def view_closed(
        self, view: dict[str, Any], user_id: str = "U1", *, team_id: str | None = None,
        is_cleared: bool = False,
    ) -> Reply:
        """Close a modal like Slack when its ``notify_on_close`` is set:
        ``payload=<view_closed json>``."""
        team = team_id or self.team_id
        payload = {
            "type": "view_closed",
            "team": {"id": team, "domain": self.team_domain},
            "user": self._user(user_id, team),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "view": view,
            "is_cleared": is_cleared,
            "enterprise": None,
            "is_enterprise_install": False,
        }
        return await self._payload(payload)

    async def event(
        self,
        event: dict[str, Any],
        team_id: str | None = None,
        event_id: str | None = None,
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> Reply:
        """Deliver an Events API event like Slack: a signed JSON ``event_callback``.

        ``retry_num`` adds Slack's ``X-Slack-Retry-Num``/``X-Slack-Retry-Reason`` headers.
        """
        team = team_id or self.team_id
        bot_user = self.standin.bot_user_id if self.standin else "UBOT"
        envelope = {
            "token": self.verification_token,
            "team_id": team,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team,
                    "user_id": bot_user,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return await self.raw(json.dumps(envelope).encode(), JSON, headers)
