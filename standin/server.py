"""SlackStandIn: a local aiohttp server that answers like Slack's Web API.

Point an ``AsyncWebClient(base_url=standin.api_url)`` at it, run the app, then assert on
what arrived (``calls``, ``messages()``, ``views``...). It refuses what Slack refuses
(unknown methods, bad tokens, missing arguments, invalid blocks), can inject faults
(rate limits, 5xx, errors, slow answers), serves Socket Mode on ``/socket`` and records
posts to response URLs and file uploads. See standin/README.md for the overview.

Everything lives in memory and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from aiohttp import WSMsgType, web

from .methods import ApiError, WebApiMethods, _invalid_arguments
from .oauth import OAUTH_METHODS, OAuthWorkspaces
from .spec import ApiSpec, load_spec

HOST = "127.0.0.1"

#: Methods an app-level token (xapp-) may call; everything else needs the bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open", "apps.event.authorizations.list"})

_JSON_FIELDS = ("blocks", "view", "metadata", "attachments", "files")


@dataclass
class Call:
    """One request that reached ``/api/{method}``, refused ones included.

    ``args`` is the request's arguments as they arrived (query merged with the form or
    JSON body; JSON-string fields such as ``blocks``/``view``/``metadata`` stay strings when
    sent as form data, lists/dicts when sent as JSON), minus ``token``, which is in
    ``token``. ``response`` is the JSON answered (for a non-JSON answer such as a plain 5xx,
    ``{"ok": False, "body": <text>}``) and ``status`` the HTTP status; both are filled
    when the answer is sent, so a call held by a ``delay`` fault shows ``status == 0``
    meanwhile. ``at`` is the arrival time (``time.time()``).
    """

    method: str
    args: dict[str, Any]
    token: str | None
    at: float
    response: dict[str, Any] = field(default_factory=dict)
    status: int = 0
    http_method: str = "POST"
    content_type: str = ""
    team_id: str | None = None  # the workspace (or grid) whose token the call carried

    @property
    def ok(self) -> bool:
        """True when answered HTTP 200 with ``"ok": true``."""
        return self.status == 200 and bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        """The ``error`` code answered, if any."""
        return self.response.get("error")

    def arg(self, name: str, default: Any = None) -> Any:
        """An argument, with JSON-string fields (blocks, view, metadata, attachments,
        files) decoded whichever way they were sent."""
        value = self.args.get(name, default)
        if name in _JSON_FIELDS and isinstance(value, str):
            with contextlib.suppress(ValueError):
                return json.loads(value)
        return value


@dataclass
class Fault:
    """A scripted misbehaviour for calls to ``method`` (``"*"`` = any method,
    ``"respond"`` = posts to response URLs, ``"upload"`` = file upload URLs).

    The matching call first waits ``delay`` seconds; then, if ``status`` or ``error`` is
    set, it is answered with that instead of normally. ``times`` is how many calls it still
    applies to (``None`` = every call until ``reset()``). With ``after`` the call is
    carried out first (a message is stored), then the fault answers it: the ambiguous
    answer Slack sometimes gives.
    """

    method: str
    status: int | None = None
    error: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    times: int | None = 1
    after: bool = False


class SlackStandIn(OAuthWorkspaces, WebApiMethods):
    """A stand-in for Slack's Web API (plus Socket Mode, response URLs and file uploads)
    served on 127.0.0.1 for tests and the sandbox.

    Construct it, ``await start()`` (or ``async with``), hand ``api_url`` to the app's
    ``AsyncWebClient(base_url=...)``, and inspect ``calls``/``messages()`` afterwards.

    ``spec_path``: the Slack OpenAPI file used to know which methods exist and what they
    require. ``None`` looks for ``$SLACK_API_SPEC`` then ``<repo>/../shared/slack-api-specs/``;
    ``False`` uses none. Without a spec every method name is accepted and only the
    built-in methods have their arguments checked. ``extra_methods`` adds or overrides
    methods: ``{"assistant.threads.setStatus": ["channel_id", "thread_ts", "status"]}``.
    """

    def __init__(
        self,
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
        spec_path: str | None | bool = None,
        *,
        team_id: str = "T1",
        team_domain: str = "example",
        team_name: str = "Example",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        bot_name: str = "mend",
        app_id: str = "A1",
        port: int = 0,
        extra_methods: Mapping[str, Iterable[str]] | None = None,
    ):
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        self.team_domain = team_domain
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.app_id = app_id
        self.spec: ApiSpec = load_spec(spec_path, extra_methods)
        self._port = port

        # Directory (kept by reset()).
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, dict[str, Any]] = {}

        # Recorded traffic and state (cleared by reset()).
        self.calls: list[Call] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.view_users: dict[str, str] = {}  # view id -> user whose trigger opened it
        self.triggers: dict[str, str] = {}  # trigger id -> user it was issued to
        self.home: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.socket_messages: list[dict[str, Any]] = []
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._faults: list[Fault] = []
        self._answers: dict[str, Any] = {}

        self._last_ts_us = 0
        self._ids = itertools.count(1)
        self._response_keys = itertools.count(1)
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_up = asyncio.Event()
        self._acks: dict[str, asyncio.Future] = {}
        self._runner: web.AppRunner | None = None
        self._handlers = self._method_handlers()
        self._init_oauth()  # workspaces and the tokens they were given (standin/oauth.py)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> SlackStandIn:
        """Bind 127.0.0.1 (on a free port unless ``port`` was given) and serve."""
        if self._runner is not None:
            raise RuntimeError("SlackStandIn already started")
        # Fresh events, bound to the loop that serves.
        self._stopping = asyncio.Event()
        self._changed = asyncio.Event()
        self._socket_up = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_get("/socket", self._handle_socket)
        app.router.add_post("/respond/{key}", self._handle_respond)
        app.router.add_post("/upload/{file_id}", self._handle_upload)
        app.router.add_get("/oauth/v2/authorize", self._handle_authorize)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self._port))
        self._port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self._runner = runner
        return self

    async def stop(self) -> None:
        """Close Socket Mode connections, release held (delayed) calls, stop serving."""
        if self._runner is None:
            return
        self._stopping.set()
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close(code=1001, message=b"server stopping")
        for fut in self._acks.values():
            if not fut.done():
                fut.set_exception(AssertionError("stand-in stopped before the app acked"))
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> SlackStandIn:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port served (0 before ``start()`` unless fixed)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{HOST}:{self._port}"

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:<port>/api/``: pass as ``AsyncWebClient(base_url=...)``."""
        return f"{self.base_url}/api/"

    @property
    def socket_url(self) -> str:
        """The Socket Mode URL apps.connections.open hands out."""
        return f"ws://{HOST}:{self._port}/socket"

    def reset(self) -> None:
        """Forget calls, messages, ephemerals, responses, views, files, faults and custom
        answers. Users and channels stay."""
        self.calls.clear()
        self.ephemerals.clear()
        self.responses.clear()
        self.views.clear()
        self.view_users.clear()
        self.triggers.clear()
        self.home.clear()
        self.files.clear()
        self.socket_messages.clear()
        self._messages.clear()
        self._faults.clear()
        self._answers.clear()
        self._notify()

    # ------------------------------------------------------------------ directory

    def add_user(
        self,
        user_id: str,
        name: str | None = None,
        *,
        tz: str = "UTC",
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        team_id: str | None = None,
        real_name: str | None = None,
        display_name: str | None = None,
        email: str | None = None,
        tz_label: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Register a workspace member for users.info (and names in driver payloads).

        ``tz`` is an IANA zone; ``tz_offset`` is computed from it at each users.info call.
        ``extra`` keys are added to the user object as-is. Returns the stored record.
        """
        ZoneInfo(tz)  # fail early on an unknown zone
        name = name or user_id.lower()
        record = {
            "id": user_id,
            "name": name,
            "tz": tz,
            "tz_label": tz_label,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_bot": is_bot,
            "deleted": deleted,
            "team_id": team_id or self.team_id,
            "real_name": real_name or name.replace(".", " ").title(),
            "display_name": display_name if display_name is not None else name,
            "email": email,
            "extra": extra,
        }
        self._users[user_id] = record
        return record

    def add_channel(
        self,
        channel_id: str,
        name: str | None = None,
        *,
        members: Iterable[str] | None = None,
        bot_member: bool = True,
        is_private: bool = False,
        is_archived: bool = False,
        team_id: str | None = None,
    ) -> dict[str, Any]:
        """Register a channel (of workspace ``team_id``; None: the first to use it). With
        ``bot_member=False``, posting there answers ``not_in_channel``. ``members`` (user
        ids), when given, limits who may receive ephemerals there. Channels never
        registered are created on first use with the bot as a member."""
        record = {
            "id": channel_id,
            "name": name or channel_id.lower(),
            "members": list(members) if members is not None else None,
            "bot_member": bot_member,
            "is_private": is_private,
            "is_archived": is_archived,
            "created": int(time.time()),
            "team_id": team_id,
        }
        self._channels[channel_id] = record
        return record

    def user(self, user_id: str) -> dict[str, Any] | None:
        """The registered record for ``user_id`` (None if unknown)."""
        return self._users.get(user_id)

    def channel(self, channel_id: str) -> dict[str, Any] | None:
        """The registered record for ``channel_id`` (None if unknown)."""
        return self._channels.get(channel_id)

    # ------------------------------------------------------------------ messages

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Messages stored in ``channel`` (id, ``#name``, or a user id for the bot's DM with
        that user), in posting order, as copies. Each has ``ts``, ``channel``, ``text``,
        ``blocks`` (list), ``thread_ts`` (None for top-level), ``user``, ``bot_id``,
        ``metadata`` (dict or None) and ``edited`` once chat.update changed it."""
        channel_id = self._lookup_channel(channel)
        return [dict(m) for m in self._messages.get(channel_id, [])]

    def thread(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """Replies in the thread under parent ``ts`` (the parent itself excluded)."""
        return [m for m in self.messages(channel) if m["thread_ts"] == ts and m["ts"] != ts]

    def add_message(
        self,
        channel: str,
        text: str = "",
        *,
        user: str = "U1",
        ts: str | None = None,
        thread_ts: str | None = None,
        blocks: list[dict] | None = None,
        metadata: dict | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Seed a message as if ``user`` had posted it (for conversations.history/replies).
        Returns the stored message. The bot may not chat.update or chat.delete it."""
        channel_id = self._resolve_channel(channel)
        msg = self._store_message(
            channel_id,
            text=text,
            blocks=blocks or [],
            thread_ts=thread_ts,
            metadata=metadata,
            user=user,
            ts=ts,
        )
        msg.pop("bot_id", None)
        msg.pop("app_id", None)
        msg.update(extra)
        return dict(msg)

    def edit_message(
        self,
        channel: str,
        ts: str,
        *,
        text: str | None = None,
        blocks: list[dict] | None = None,
    ) -> dict[str, Any]:
        """Change a stored message as Slack does for ``replace_original`` on a response
        URL (no API checks). Returns a copy; KeyError if there is no such message."""
        msg = self._find_message(self._lookup_channel(channel), ts)
        if msg is None:
            raise KeyError(f"no message {ts} in {channel}")
        if text is not None:
            msg["text"] = text
        if blocks is not None:
            msg["blocks"] = copy.deepcopy(blocks)
        msg["edited"] = {"user": self.bot_user_id, "ts": self._new_ts()}
        self._notify()
        return dict(msg)

    def remove_message(self, channel: str, ts: str) -> bool:
        """Delete a stored message (``delete_original``); False if it was not there."""
        channel_id = self._lookup_channel(channel)
        msg = self._find_message(channel_id, ts)
        if msg is None:
            return False
        self._messages[channel_id].remove(msg)
        self._notify()
        return True

    def remember_trigger(self, trigger_id: str, user_id: str) -> None:
        """Note that ``trigger_id`` was handed to ``user_id`` (as Slack knows whose click a
        trigger came from): a modal opened with it is recorded in ``view_users``."""
        self.triggers[trigger_id] = user_id

    def response_url(self, key: str | None = None) -> str:
        """A response URL served by the stand-in; posts to it land in ``responses`` with
        this ``key`` (auto-generated ``r1``, ``r2``... when omitted)."""
        key = key or f"r{next(self._response_keys)}"
        return f"{self.base_url}/respond/{key}"

    def snapshot(self) -> dict[str, Any]:
        """A JSON-able copy of the whole state (users, channels, messages, ephemerals,
        responses, views, home tabs, files without bytes), e.g. for the sandbox."""
        files = {
            fid: {k: v for k, v in f.items() if k != "bytes"} | {"size": len(f["bytes"] or b"")}
            for fid, f in self.files.items()
        }
        return copy.deepcopy(
            {
                "team_id": self.team_id,
                "bot_user_id": self.bot_user_id,
                "users": {uid: self._user_object(uid) for uid in self._users},
                "channels": self._channels,
                "messages": self._messages,
                "ephemerals": self.ephemerals,
                "responses": self.responses,
                "views": self.views,
                "view_users": self.view_users,
                "home": self.home,
                "files": files,
            }
        )

    # ------------------------------------------------------------------ calls & waiting

    def calls_to(self, method: str) -> list[Call]:
        """All recorded calls to ``method``, successful or refused, in arrival order."""
        return [c for c in self.calls if c.method == method]

    async def wait_until(
        self, predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition"
    ) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked whenever the stand-in records
        something) and return its value; AssertionError after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            event = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until at least ``count`` calls to ``method`` arrived; return them all.

        On timeout raises AssertionError listing what did arrive.
        """

        def enough() -> list[Call] | None:
            found = self.calls_to(method)
            return found if len(found) >= count else None

        try:
            return await self.wait_until(enough, timeout, f"{count} call(s) to {method}")
        except AssertionError:
            seen = ", ".join(self._describe(c) for c in self.calls[-20:]) or "none"
            raise AssertionError(
                f"expected at least {count} call(s) to {method} within {timeout}s, "
                f"got {len(self.calls_to(method))}. Calls received (last 20): {seen}"
            ) from None

    @staticmethod
    def _describe(call: Call) -> str:
        if call.status == 0:
            return f"{call.method} (pending)"
        if call.ok:
            return f"{call.method} ok"
        return f"{call.method} -> {call.status} {call.error or ''}".rstrip()

    def _notify(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    # ------------------------------------------------------------------ faults & answers

    def fail(
        self,
        method: str,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        times: int | None = 1,
        after: bool = False,
    ) -> Fault:
        """Script the next ``times`` calls to ``method`` to misbehave (faults are consumed in
        the order added, one per call):

        - ``status=429``: ``{"ok":false,"error":"ratelimited"}`` with ``Retry-After``
          (``retry_after``, default 1 s);
        - ``status=5xx``: a short HTML body (or JSON with ``error`` if given);
        - ``error="..."``: HTTP 200 ``{"ok":false,"error":...}``;
        - ``delay=s``: answer only after ``s`` seconds (normally, unless combined with the
          above);
        - ``after=True``: carry the call out first (store the message), then answer with
          the fault (``status=500``: Slack posted it but said it failed).
        """
        if status is None and error is None and not delay:
            raise ValueError("a fault needs status, error or delay")
        fault = Fault(method, status, error, retry_after, delay, times, after)
        self._faults.append(fault)
        return fault

    def clear_faults(self, method: str | None = None) -> None:
        """Stop misbehaving: drop the scripted faults (for ``method``, or all of them)."""
        self._faults = [f for f in self._faults if method is not None and f.method != method]

    @property
    def faults(self) -> list[Fault]:
        """Faults not yet used up."""
        return list(self._faults)

    def answer(self, method: str, response: dict | Callable[[dict], dict]) -> None:
        """Answer ``method`` with ``response`` (a dict, or a function of the call's args
        returning one) instead of the built-in behaviour; auth and required-argument checks
        still apply. Useful for methods the stand-in doesn't model."""
        self._answers[method] = response

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self._faults:
            if fault.method in (method, "*"):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    async def _apply_fault(self, fault: Fault | None) -> web.Response | None:
        """Sleep for the fault's delay; return its answer, or None to answer normally."""
        if fault is None:
            return None
        if fault.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), fault.delay)
        if fault.status is None and fault.error is None:
            return None
        status = fault.status or 200
        headers = {}
        if status == 429 or fault.retry_after is not None:
            headers["Retry-After"] = str(
                int(fault.retry_after if fault.retry_after is not None else 1)
            )
        if status >= 500 and fault.error is None:
            text = f"<html><body><h1>{status} Server Error</h1></body></html>"
            return web.Response(status=status, text=text, content_type="text/html", headers=headers)
        error = fault.error or ("ratelimited" if status == 429 else f"http_{status}")
        return web.json_response({"ok": False, "error": error}, status=status, headers=headers)

    # ------------------------------------------------------------------ HTTP: Web API

    async def _read_args(self, request: web.Request) -> tuple[dict[str, Any], str | None, bool]:
        """Return (args, token from query/form, body_is_json). Raises ApiError on bad bodies."""
        args: dict[str, Any] = dict(request.query.items())
        token = args.pop("token", None)
        ctype = request.content_type
        if not request.body_exists:
            return args, token, False
        if ctype == "application/json":
            raw = await request.read()
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError as exc:
                raise ApiError("invalid_json") from exc
            if not isinstance(body, dict):
                raise ApiError("invalid_json")
            body.pop("token", None)  # Slack ignores a token inside a JSON body
            args.update(body)
            return args, token, True
        if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    value = value.file.read()
                args[key] = value
        else:
            raw = await request.read()
            args.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        token = args.pop("token", None) or token
        return args, token, False

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        call = Call(
            method,
            {},
            None,
            time.time(),
            http_method=request.method,
            content_type=request.content_type,
        )
        try:
            args, token, _ = await self._read_args(request)
        except ApiError as exc:
            self.calls.append(call)
            return self._finish(call, exc.body(), exc.status)
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            token = header[7:].strip() or token
        if method in OAUTH_METHODS:
            self._basic_auth(header, args)
        call.args, call.token, call.team_id = args, token, self.team_of_token(token)
        self.calls.append(call)
        self._notify()

        fault = self._take_fault(method)
        done = self._run(method, args, token) if fault is not None and fault.after else None
        fault_response = await self._apply_fault(fault)
        if fault_response is not None:
            call.status = fault_response.status
            if fault_response.content_type == "application/json":
                call.response = json.loads(fault_response.text or "{}")
            else:
                call.response = {"ok": False, "body": fault_response.text}
            self._notify()
            return fault_response
        return self._finish(call, *(done or self._run(method, args, token)))

    def _run(self, method: str, args: dict[str, Any], token: str | None) -> tuple[dict, int]:
        """Carry out one call: (answer, HTTP status)."""
        try:
            return self._dispatch(method, args, token), 200
        except ApiError as exc:
            return exc.body(), exc.status

    def _finish(self, call: Call, body: dict[str, Any], status: int) -> web.Response:
        call.response, call.status = body, status
        self._notify()
        return web.json_response(body, status=status)

    def _dispatch(self, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        """Slack's order of checks: method exists, token, required args, then the method."""
        if not self.spec.knows(method):
            raise ApiError("unknown_method")
        if method in OAUTH_METHODS:  # the app's client id and secret, no token
            return self._oauth_access(args)
        if not token:
            raise ApiError("not_authed")
        self._acting = None
        if token != self.app_token:
            self._check_token(token, method, args)  # its workspace's channels and users
        if (token == self.app_token) != (method in APP_TOKEN_METHODS):
            raise ApiError("not_allowed_token_type")
        missing = self.spec.missing(method, args)
        if missing:
            raise _invalid_arguments(*(f"[ERROR] missing required field: {m}" for m in missing))
        if method in self._answers:
            answer = self._answers[method]
            result = answer(args) if callable(answer) else answer
            return {"ok": True, **copy.deepcopy(result)}
        handler = self._handlers.get(method)
        answer = handler(args) if handler else {"ok": True}
        channel = answer.get("channel") if isinstance(answer.get("channel"), str) else None
        self._claim_channel(channel or str(args.get("channel") or ""))
        return answer

    # ------------------------------------------------------------------ HTTP: respond, upload

    async def _handle_respond(self, request: web.Request) -> web.StreamResponse:
        """``POST /respond/{key}``: what an app sends to a response_url."""
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        at = time.time()
        answer = await self._apply_fault(self._take_fault("respond"))
        if answer is None:
            answer = web.json_response({"ok": True})
        entry = {"key": request.match_info["key"], "body": body, "at": at, "status": answer.status}
        self.responses.append(entry)
        self._notify()
        return answer

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        """``POST /upload/{file_id}``: the upload URL from files.getUploadURLExternal."""
        record = self.files.get(request.match_info["file_id"])
        if record is None:
            return web.Response(status=404, text="file not found")
        fault_response = await self._apply_fault(self._take_fault("upload"))
        if fault_response is not None:
            return fault_response
        if request.content_type == "multipart/form-data":
            data = b""
            form = await request.post()
            for value in form.values():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    break
        else:
            data = await request.read()
        record["bytes"] = data
        self._notify()
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    # ------------------------------------------------------------------ Socket Mode

    async def _handle_socket(self, request: web.Request) -> web.StreamResponse:
        """``GET /socket``: a Socket Mode connection. Says hello, then collects acks."""
        ws = web.WebSocketResponse(autoping=True, timeout=2.0)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self._sockets),
                "debug_info": {"host": "standin", "approximate_connection_time": 18060},
                "connection_info": {"app_id": self.app_id},
            }
        )
        self._socket_up.set()
        self._notify()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    data = {"raw": msg.data}
                self.socket_messages.append(data)
                envelope_id = data.get("envelope_id") if isinstance(data, dict) else None
                fut = self._acks.get(envelope_id) if envelope_id else None
                if fut is not None and not fut.done():
                    fut.set_result(data)
                self._notify()
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self._socket_up.clear()
            self._notify()
        return ws

    @property
    def socket_connected(self) -> bool:
        """True while at least one Socket Mode connection is open."""
        return any(not ws.closed for ws in self._sockets)

    async def wait_socket_connected(self, timeout: float = 5.0) -> None:
        """Wait until an app holds a Socket Mode connection (AssertionError on timeout)."""
        try:
            await asyncio.wait_for(self._socket_up.wait(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"no Socket Mode connection within {timeout}s "
                f"(apps.connections.open calls: {len(self.calls_to('apps.connections.open'))})"
            ) from None

    async def socket_send(
        self,
        type: str,
        payload: dict[str, Any],
        timeout: float = 5.0,
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> dict[str, Any]:
        """Deliver an envelope over the newest Socket Mode connection and return the app's
        acknowledgement (``{"envelope_id": ..., "payload"?: ...}``).

        ``type`` is ``"slash_commands"``, ``"interactive"`` or ``"events_api"``.
        ``accepts_response_payload`` defaults to True except for ``events_api`` (as Slack).
        Raises AssertionError when no connection exists or no ack arrives in ``timeout``.
        """
        await self.wait_socket_connected(timeout)
        ws = next(w for w in reversed(self._sockets) if not w.closed)
        envelope_id = str(uuid.uuid4())
        if accepts_response_payload is None:
            accepts_response_payload = type != "events_api"
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = fut
        try:
            await ws.send_json(
                {
                    "envelope_id": envelope_id,
                    "type": type,
                    "payload": payload,
                    "accepts_response_payload": accepts_response_payload,
                    "retry_attempt": retry_attempt,
                    "retry_reason": retry_reason,
                }
            )
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise AssertionError(
                f"no ack for {type} envelope {envelope_id} within {timeout}s"
            ) from None
        finally:
            self._acks.pop(envelope_id, None)

    async def socket_disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask connected apps to reconnect, as Slack does: send ``{"type": "disconnect"}``
        then close each connection."""
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.send_json(
                    {"type": "disconnect", "reason": reason, "debug_info": {"host": "standin"}}
                )
                await ws.close(code=1000)
