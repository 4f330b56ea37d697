"""The sandbox's web page: Slack's surfaces in a browser, over one SlackStandIn.

``SandboxUI`` adds a web page (``standin/static/``) and a small JSON API to a running
``SlackStandIn``. The page shows what the stand-in holds (channels, messages and threads,
ephemeral messages, modals, the App Home tab) rendered from Block Kit, and turns what a
person does there into the requests Slack would send the app: slash commands, block
actions, view submissions and ``app_home_opened`` events, signed with the app's signing
secret by ``MendDriver``. It is a layer on top of the stand-in the tests use, not a
second fake: whatever the app sends still goes through the stand-in's Web API checks.

What Slack does for the user and the stand-in alone does not, this layer does:

- a slash command's HTTP answer (``response_type: ephemeral``) is shown to the user who
  typed it, as are posts to the response URL of a command or click (``replace_original``
  / ``delete_original`` change the message clicked in);
- a modal opened with a user's trigger id is shown to that user; its submission answer
  is applied (``errors`` next to the fields, ``update``, ``push``, ``clear``; an empty
  answer closes it); required fields are checked before anything is sent, as Slack does;
- "skip ahead" asks the embedding program to move its clock (``skip`` callback);
- several workspaces (``standin.add_workspace``): each person acts in their own, sees only
  its channels and people, and every request the page sends carries that workspace's id;
  ``/split`` shows two people (``?left=U…&right=U…``, by default the first person of each of
  the first two workspaces) side by side, each in a frame of the page.

It listens on 127.0.0.1 only and answers only requests addressed to that host (no DNS
rebinding), with JSON bodies (no cross-site form posts). The page renders every piece of
data with DOM text nodes, never as HTML.
"""

from __future__ import annotations

import asyncio
import copy
import html
import itertools
import json
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from .driver import MendDriver
from .methods import ApiError
from .server import HOST, SlackStandIn

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {
    "index.html": "text/html",
    "app.js": "text/javascript",
    "app.css": "text/css",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-src 'self'; "
        "frame-ancestors 'self'"  # only /split frames the page, from this very origin
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "SAMEORIGIN",
}
#: Skip-ahead choices offered on the page: key -> label.
SKIPS = {"1h": "+1 hour", "1d": "+1 day", "morning": "Next morning 09:00"}
MAX_SKIP = timedelta(days=366)
MORNING = wall_time(9)
#: Slack's answer when an app takes longer than this to acknowledge.
ACK_DEADLINE_MS = 3000
REQUIRED = "Please complete this required field."

_MENTION = re.compile(r"(?<![\w@<&])([@#])([A-Za-z0-9][\w.-]*)")
_LINK = re.compile(r"(?<![\w<|])(https?://[^\s<>]+[^\s<>.,;:!?)'\"])")
_SPECIAL = {"here", "channel", "everyone"}

SkipFn = Callable[[timedelta], Awaitable[dict[str, Any] | None]]


class BadRequest(Exception):
    """A request from the page that names nothing real: answered 400."""


class SandboxUI:
    """The web page and its JSON API, over one running ``SlackStandIn``.

    ``app_url``/``signing_secret``: where and how to send the app Slack's requests.
    ``commands``: the app's slash commands (others are refused as Slack refuses them).
    ``now``: the app's clock (shown on the page; "today" in date tokens is read from it).
    ``skip``: moves that clock by a timedelta (and e.g. runs a scheduler sweep); without it
    the page shows no skip controls. ``settle``: waits for the app's work after an ack, so
    the page shows its results at once. ``roles``: a user id's roles (e.g. ``["lead"]``).
    ``users``: the order of the user switcher (default: every registered user).
    """

    def __init__(
        self,
        standin: SlackStandIn,
        app_url: str,
        signing_secret: str,
        *,
        commands: Iterable[str] = ("/recover",),
        app_name: str = "Mend",
        now: Callable[[], datetime] | None = None,
        skip: SkipFn | None = None,
        settle: Callable[[], Awaitable[None]] | None = None,
        roles: Callable[[str], Awaitable[list[str]]] | None = None,
        users: Iterable[str] | None = None,
        port: int = 0,
    ):
        self.standin = standin
        self.driver = MendDriver(app_url, signing_secret, standin, team_id=standin.team_id,
                                 team_domain=standin.team_domain, api_app_id=standin.app_id)
        self.commands = tuple(commands)
        self.app_name = app_name
        self._now = now or (lambda: datetime.now(UTC))
        self._skip = skip
        self._settle = settle
        self._roles = roles or _no_roles
        self._user_order = list(users) if users is not None else None
        self._port = port
        self._runner: web.AppRunner | None = None

        # What Slack shows people that the stand-in does not keep.
        self.ephemerals: list[dict[str, Any]] = []  # shown to one user in one channel
        self.modals: dict[str, list[str]] = {}  # user -> stack of open view ids (top last)
        self.view_errors: dict[str, dict[str, str]] = {}  # view id -> block id -> error
        self.view_notice: dict[str, str] = {}  # view id -> a problem with the last submit
        self._contexts: dict[str, dict[str, Any]] = {}  # response URL key -> who/where
        self._shown_at: dict[tuple[str, str], float] = {}  # (channel, ts) -> clock offset
        self._seen_ephemerals = 0
        self._seen_responses = 0
        self._seen_calls = 0
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> SandboxUI:
        """Serve the page on 127.0.0.1 (a free port unless ``port`` was given)."""
        app = web.Application(client_max_size=1024 * 1024, middlewares=[self._guard])
        app.router.add_get("/", self._index)
        app.router.add_get("/split", self._split)
        app.router.add_get("/static/{name}", self._asset)
        app.router.add_get("/favicon.ico", self._no_icon)
        app.router.add_get("/ui/state", self._state)
        app.router.add_get("/ui/files/{file_id}", self._file)
        app.router.add_post("/ui/send", self._send)
        app.router.add_post("/ui/action", self._action)
        app.router.add_post("/ui/submit", self._submit)
        app.router.add_post("/ui/close", self._close)
        app.router.add_post("/ui/home", self._home)
        app.router.add_post("/ui/dismiss", self._dismiss)
        app.router.add_post("/ui/skip", self._skip_ahead)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, self._port))
        except OSError:
            sock.close()
            await runner.cleanup()
            raise
        self._port = sock.getsockname()[1]
        await web.SockSite(runner, sock).start()
        self._runner = runner
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        await self.driver.close()

    async def __aenter__(self) -> SandboxUI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The page: ``http://127.0.0.1:<port>/``."""
        return f"http://{HOST}:{self._port}/"

    # ------------------------------------------------------------------ HTTP plumbing

    @web.middleware
    async def _guard(self, request: web.Request, handler) -> web.StreamResponse:
        """Only this host, only JSON posts from this page; security headers on everything."""
        allowed = {f"{HOST}:{self._port}", f"localhost:{self._port}"}
        if request.host not in allowed:
            return web.Response(status=421, text="misdirected request")
        if request.method == "POST":
            origin = request.headers.get("Origin")
            if origin is not None and origin != f"http://{request.host}":
                return web.Response(status=403, text="cross-origin request refused")
            if request.content_type != "application/json":
                return web.Response(status=415, text="send JSON")
        try:
            response = await handler(request)
        except BadRequest as exc:
            response = web.json_response({"ok": False, "error": str(exc)}, status=400)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return self._serve_asset("index.html")

    async def _split(self, request: web.Request) -> web.StreamResponse:
        """Two people side by side, each in a frame of the page: by default the first
        person of each of the first two workspaces (``?left=U…&right=U…`` to choose)."""
        firsts = [next(u for u in self._users() if self.team_of(u) == t["id"])
                  for t in self.teams()]
        if not firsts:
            raise BadRequest("no users registered")
        left = self._user_id(request.query.get("left") or firsts[0])
        right = self._user_id(request.query.get("right") or firsts[-1])
        frames = "".join(
            f'<iframe class="split-frame" title="{html.escape(self._frame_title(user))}" '
            f'src="/?{html.escape(urlencode({"user": user}))}"></iframe>'
            for user in (left, right))
        page = (STATIC / "split.html").read_text(encoding="utf-8").replace("<!--frames-->",
                                                                         frames)
        return web.Response(text=page, content_type="text/html", charset="utf-8")

    def _frame_title(self, user: str) -> str:
        record = self.standin.user(user) or {}
        team = next((t["name"] for t in self.teams() if t["id"] == self.team_of(user)), "")
        return f"{record.get('real_name') or user} in {team}"

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        return self._serve_asset(request.match_info["name"])

    async def _no_icon(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    @staticmethod
    def _serve_asset(name: str) -> web.StreamResponse:
        if name not in ASSETS:  # a fixed list: no paths from the request reach the disk
            raise web.HTTPNotFound()
        body = (STATIC / name).read_bytes()
        return web.Response(body=body, content_type=ASSETS[name], charset="utf-8")

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise BadRequest("the body is not JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object")
        return body

    def _user_id(self, value: Any) -> str:
        if not isinstance(value, str) or self.standin.user(value) is None:
            raise BadRequest("unknown user")
        return value

    def _channel_id(self, value: Any, user: str) -> str:
        """A channel of the user's workspace, or their DM with the app (``D<user>``)."""
        if value == f"D{user}":
            return value
        record = self.standin.channel(value) if isinstance(value, str) else None
        if record is None or record.get("is_im") or \
                self._team_of_channel(record) != self.team_of(user):
            raise BadRequest("unknown channel")
        return value

    def team_of(self, user: str) -> str:
        """The workspace a person belongs to."""
        return str((self.standin.user(user) or {}).get("team_id") or self.standin.team_id)

    def _team_of_channel(self, record: dict[str, Any]) -> str:
        # A channel registered without a workspace is the stand-in's own (until a token
        # of another workspace uses it first).
        return str(record.get("team_id") or self.standin.team_id)

    def teams(self) -> list[dict[str, str]]:
        """The workspaces people act in, in the order they were added."""
        used = {self.team_of(u) for u in self._users()}
        return [{"id": t, "name": str(w.get("name") or t)}
                for t, w in self.standin.workspaces.items() if t in used]

    async def _after(self) -> None:
        """Let the app finish what its ack started, then take in what it sent."""
        if self._settle is not None:
            await self._settle()
        self._ingest()

    # ------------------------------------------------------------------ taking in what the app sent

    def _ingest(self) -> None:
        """Fold new stand-in records into what each person sees."""
        s = self.standin
        if self._seen_ephemerals > len(s.ephemerals) or self._seen_responses > len(s.responses) \
                or self._seen_calls > len(s.calls):  # the stand-in was reset
            self._seen_ephemerals = self._seen_responses = self._seen_calls = 0
        for eph in s.ephemerals[self._seen_ephemerals:]:
            self._add_ephemeral(eph["user"], eph["channel"], eph["text"], eph["blocks"],
                                eph.get("thread_ts"), eph.get("message_ts"))
        self._seen_ephemerals = len(s.ephemerals)
        for response in s.responses[self._seen_responses:]:
            self._apply_response(response)
        self._seen_responses = len(s.responses)
        for call in s.calls[self._seen_calls:]:
            if call.method in ("views.open", "views.push") and call.ok:
                view_id = (call.response.get("view") or {}).get("id")
                user = s.view_users.get(view_id)
                if view_id and user:
                    stack = self.modals.setdefault(user, [])
                    if call.method == "views.open":
                        stack.clear()
                    stack.append(view_id)
        self._seen_calls = len(s.calls)
        offset = self.clock_offset()
        for channel_id, messages in s._messages.items():
            for msg in messages:
                self._shown_at.setdefault((channel_id, msg["ts"]), offset)

    def _add_ephemeral(self, user: str, channel: str, text: str, blocks: list | None,
                       thread_ts: str | None = None, ts: str | None = None) -> dict[str, Any]:
        entry = {
            "id": f"e{next(self._ids)}",
            "user": user,
            "channel": channel,
            "thread_ts": thread_ts or None,
            "text": text or "",
            "blocks": copy.deepcopy(blocks or []),
            "ts": ts or f"{time.time():.6f}",
            "offset": self.clock_offset(),
        }
        self.ephemerals.append(entry)
        return entry

    def _response_url(self, user: str, channel: str, thread_ts: str | None,
                      source: tuple[str, str] | None) -> str:
        """A response URL that knows who it answers and what was clicked."""
        key = f"sb{next(self._ids)}"
        self._contexts[key] = {"user": user, "channel": channel, "thread_ts": thread_ts,
                               "source": source}
        return self.standin.response_url(key)

    def _apply_response(self, response: dict[str, Any]) -> None:
        """A post to a response URL, applied as Slack applies it."""
        ctx = self._contexts.get(response.get("key"))
        if ctx is None or response.get("status") != 200:
            return
        body = response.get("body")
        if isinstance(body, str):
            body = {"text": body}
        if not isinstance(body, dict):
            return
        source = ctx["source"]
        text, blocks = str(body.get("text") or ""), body.get("blocks")
        if isinstance(blocks, str):
            try:
                blocks = json.loads(blocks)
            except ValueError:
                blocks = None
        blocks = blocks if isinstance(blocks, list) else None
        if body.get("delete_original") and source:
            self._delete_source(ctx, source)
            return
        if body.get("replace_original") and source:
            kind, ident = source
            if kind == "ephemeral":
                entry = next((e for e in self.ephemerals if e["id"] == ident), None)
                if entry is not None:
                    entry.update(text=text, blocks=copy.deepcopy(blocks or []))
                    return
            elif kind == "message":
                try:
                    self.standin.edit_message(ctx["channel"], ident, text=text,
                                              blocks=blocks or [])
                except KeyError:
                    pass
                else:
                    return
        if body.get("response_type") == "in_channel":
            self.standin.add_message(ctx["channel"], text, user=self.standin.bot_user_id,
                                     blocks=blocks, thread_ts=ctx["thread_ts"])
            return
        self._add_ephemeral(ctx["user"], ctx["channel"], text, blocks, ctx["thread_ts"])

    def _delete_source(self, ctx: dict[str, Any], source: tuple[str, str]) -> None:
        kind, ident = source
        if kind == "ephemeral":
            self.ephemerals = [e for e in self.ephemerals if e["id"] != ident]
        elif kind == "message":
            self.standin.remove_message(ctx["channel"], ident)

    def clock_offset(self) -> float:
        """How far the app's clock runs ahead of real time, in seconds."""
        return (self._now() - datetime.now(UTC)).total_seconds()

    # ------------------------------------------------------------------ state for the page

    async def _state(self, request: web.Request) -> web.Response:
        user = self._user_id(request.query.get("user") or self._default_user())
        where = request.query.get("channel") or self._default_channel(user)
        self._ingest()
        return web.json_response(await self.state(user, where))

    def _default_user(self) -> str:
        ids = self._users()
        if not ids:
            raise BadRequest("no users registered")
        return ids[0]

    def _default_channel(self, user: str) -> str:
        channels = self._channels(self.team_of(user))
        return channels[0]["id"] if channels else "home"

    def _users(self) -> list[str]:
        registered = [u["id"] for u in self.standin._users.values()
                      if not u.get("is_bot") and not u.get("deleted")]
        if self._user_order is None:
            return registered
        return [u for u in self._user_order if u in registered]

    def _channels(self, team: str | None = None) -> list[dict[str, Any]]:
        """The channels of workspace ``team`` (of every workspace: None)."""
        return [{"id": c["id"], "name": c["name"], "private": c["is_private"]}
                for c in self.standin._channels.values()
                if not c.get("is_im") and not c.get("is_archived")
                and (team is None or self._team_of_channel(c) == team)]

    async def state(self, user: str, where: str) -> dict[str, Any]:
        """Everything the page shows ``user`` looking at ``where`` (a channel id, the DM
        ``D<user>``, or ``home``)."""
        s = self.standin
        now = self._now()
        team = self.team_of(user)
        teams = self.teams()
        users = []
        for uid in self._users():
            record = s.user(uid) or {}
            users.append({"id": uid, "name": record.get("name"),
                          "real_name": record.get("real_name"), "tz": record.get("tz"),
                          "team": self.team_of(uid), "roles": list(await self._roles(uid))})
        out: dict[str, Any] = {
            "now": now.isoformat(),
            "now_ms": int(now.timestamp() * 1000),
            "offset_seconds": round(self.clock_offset()),
            "team": next((t for t in teams if t["id"] == team),
                         {"id": team, "name": s.team_name}),
            "teams": teams,
            "app": {"name": self.app_name, "bot_user_id": s.bot_user_id,
                    "commands": list(self.commands)},
            "users": users,
            "channels": self._channels(team),
            "skips": [{"key": k, "label": v} for k, v in SKIPS.items()] if self._skip else [],
            "user": user,
            "where": where,
            "messages": [],
            "home": None,
            "modal": self._modal_state(user),
        }
        if where == "home":
            home = s.home.get(user)
            out["home"] = copy.deepcopy(home) if home else None
        else:
            channel = self._channel_id(where, user)
            out["messages"] = self._conversation(user, channel)
        return out

    def _author(self, msg: dict[str, Any]) -> dict[str, Any]:
        s = self.standin
        if msg.get("bot_id") or msg.get("user") == s.bot_user_id:
            return {"id": s.bot_user_id, "name": self.app_name, "bot": True}
        record = s.user(msg.get("user") or "") or {}
        return {"id": msg.get("user"), "name": record.get("real_name") or msg.get("user"),
                "bot": False}

    def _conversation(self, user: str, channel: str) -> list[dict[str, Any]]:
        """Top-level messages (oldest first) with their replies, the user's ephemerals
        in place among them."""
        stored = self.standin.messages(channel)
        top: list[dict[str, Any]] = []
        by_ts: dict[str, dict[str, Any]] = {}
        replies: list[dict[str, Any]] = []
        for msg in stored:
            item = {
                "ts": msg["ts"],
                "author": self._author(msg),
                "text": msg.get("text") or "",
                "blocks": msg.get("blocks") or [],
                "edited": bool(msg.get("edited")),
                "files": [{"id": f.get("id"), "name": f.get("name"), "title": f.get("title")}
                          for f in msg.get("files") or []],
                "ephemeral": False,
                "shown_ms": self._shown_ms(channel, msg["ts"]),
                "replies": [],
            }
            if msg.get("thread_ts") and msg["thread_ts"] != msg["ts"]:
                item["thread_ts"] = msg["thread_ts"]
                replies.append(item)
            else:
                top.append(item)
                by_ts[msg["ts"]] = item
        for eph in self.ephemerals:
            if eph["user"] != user or eph["channel"] != channel:
                continue
            item = {
                "id": eph["id"],
                "ts": eph["ts"],
                "author": {"id": self.standin.bot_user_id, "name": self.app_name, "bot": True},
                "text": eph["text"],
                "blocks": eph["blocks"],
                "edited": False,
                "files": [],
                "ephemeral": True,
                "shown_ms": int((float(eph["ts"]) + eph["offset"]) * 1000),
                "replies": [],
            }
            if eph["thread_ts"] and eph["thread_ts"] in by_ts:
                item["thread_ts"] = eph["thread_ts"]
                replies.append(item)
            else:
                top.append(item)
        for item in replies:
            parent = by_ts.get(item["thread_ts"])
            (parent["replies"] if parent else top).append(item)
        top.sort(key=lambda m: float(m["ts"]))
        for item in top:
            item["replies"].sort(key=lambda m: float(m["ts"]))
        return top

    def _shown_ms(self, channel: str, ts: str) -> int:
        offset = self._shown_at.get((channel, ts), self.clock_offset())
        return int((float(ts) + offset) * 1000)

    def _modal_state(self, user: str) -> dict[str, Any] | None:
        stack = [v for v in self.modals.get(user, []) if v in self.standin.views]
        self.modals[user] = stack
        if not stack:
            return None
        view_id = stack[-1]
        return {
            "view": copy.deepcopy(self.standin.views[view_id]),
            "errors": dict(self.view_errors.get(view_id, {})),
            "notice": self.view_notice.get(view_id),
            "depth": len(stack),
        }

    # ------------------------------------------------------------------ what people do

    async def _send(self, request: web.Request) -> web.Response:
        """The composer: a slash command, or a message posted as the user."""
        body = await self._body(request)
        user = self._user_id(body.get("user"))
        channel = self._channel_id(body.get("channel"), user)
        text = str(body.get("text") or "").strip()
        if not text:
            raise BadRequest("nothing to send")
        async with self._lock:
            self._ingest()
            if text.startswith("/"):
                command, _, rest = text.partition(" ")
                result = await self.command(user, channel, command, rest.strip())
            else:
                self.standin.add_message(channel, self.format(text, user), user=user,
                                         thread_ts=body.get("thread_ts") or None)
                result = {"ok": True}
            self._ingest()
        return web.json_response(result)

    def format(self, text: str, user: str | None = None) -> str:
        """Typed text as Slack would send it (escaped, mentions as tokens): ``@name`` and
        ``#channel`` name people and channels of ``user``'s workspace (of any: None)."""
        team = self.team_of(user) if user else None
        people = [u for u in self.standin._users.values()
                  if team is None or self.team_of(u["id"]) == team]
        return slack_format(text, people, self._channels(team))

    async def command(self, user: str, channel: str, command: str, text: str) -> dict[str, Any]:
        """Run a slash command as ``user`` in ``channel`` and show its answer to them."""
        if command not in self.commands:
            self._add_ephemeral(user, channel, f"{command} is not a valid command. In Slack, "
                                "all messages that start with the \"/\" character are "
                                "interpreted as commands.", None)
            return {"ok": False, "error": "unknown_command"}
        reply = await self.driver.command(
            self.format(text, user), user_id=user, channel_id=channel, command=command,
            team_id=self.team_of(user),
            response_url=self._response_url(user, channel, None, None),
        )
        result: dict[str, Any] = {"ok": reply.status == 200, "status": reply.status,
                                  "elapsed_ms": round(reply.elapsed_ms)}
        if reply.status != 200:
            self._add_ephemeral(user, channel, f"{command} failed with the error "
                                f"\"http_status_{reply.status}\"", None)
        elif reply.elapsed_ms > ACK_DEADLINE_MS:
            self._add_ephemeral(user, channel, f"{command} failed with the error "
                                "\"operation_timeout\"", None)
        elif isinstance(reply.json, dict):
            answer = reply.json
            if answer.get("response_type") == "in_channel":
                self.standin.add_message(channel, str(answer.get("text") or ""),
                                         user=self.standin.bot_user_id,
                                         blocks=answer.get("blocks") or None)
            elif answer.get("text") or answer.get("blocks"):
                self._add_ephemeral(user, channel, str(answer.get("text") or ""),
                                    answer.get("blocks"))
        elif reply.body.strip():
            self._add_ephemeral(user, channel, reply.body.strip(), None)
        await self._after()
        return result

    async def _action(self, request: web.Request) -> web.Response:
        """A click, pick or tick in a message, an ephemeral, a modal or the Home tab."""
        body = await self._body(request)
        user = self._user_id(body.get("user"))
        action_id = body.get("action_id")
        if not isinstance(action_id, str) or not action_id:
            raise BadRequest("no action_id")
        source = body.get("source") if isinstance(body.get("source"), dict) else {}
        selected = body.get("selected") if isinstance(body.get("selected"), dict) else None
        value = body.get("value") if isinstance(body.get("value"), str) else None
        block_id = body.get("block_id") if isinstance(body.get("block_id"), str) else None
        async with self._lock:
            self._ingest()
            result = await self.click(user, source, action_id, block_id, value, selected,
                                      body.get("values"))
            self._ingest()
        return web.json_response(result)

    async def click(self, user: str, source: dict[str, Any], action_id: str,
                    block_id: str | None = None, value: str | None = None,
                    selected: dict[str, Any] | None = None,
                    values: Any = None) -> dict[str, Any]:
        """Send the app the ``block_actions`` Slack would send for this click."""
        kind = source.get("kind")
        common = {"user_id": user, "block_id": block_id, "selected": selected,
                  "team_id": self.team_of(user)}
        if kind in ("view", "home"):
            if kind == "home":
                view = self.standin.home.get(user)
            else:
                view = self.standin.views.get(str(source.get("id")))
                if view is not None and view["id"] not in self.modals.get(user, []):
                    view = None
            if view is None:
                raise BadRequest("unknown view")
            view = copy.deepcopy(view)
            if isinstance(values, dict):
                view["state"] = {"values": values}
            reply = await self.driver.block_action(action_id, value, view=view, **common)
        else:
            channel = self._channel_id(source.get("channel"), user)
            if kind == "message":
                ts = str(source.get("ts"))
                msg = next((m for m in self.standin.messages(channel) if m["ts"] == ts), None)
                if msg is None:
                    raise BadRequest("unknown message")
                url = self._response_url(user, channel, msg.get("thread_ts"), ("message", ts))
                reply = await self.driver.block_action(action_id, value, channel_id=channel,
                                                       message_ts=ts, response_url=url,
                                                       **common)
            elif kind == "ephemeral":
                eph = next((e for e in self.ephemerals if e["id"] == source.get("id")
                            and e["user"] == user), None)
                if eph is None:
                    raise BadRequest("unknown message")
                url = self._response_url(user, eph["channel"], eph["thread_ts"],
                                         ("ephemeral", eph["id"]))
                reply = await self.driver.block_action(action_id, value,
                                                       channel_id=eph["channel"],
                                                       response_url=url,
                                                       blocks=eph["blocks"], **common)
            else:
                raise BadRequest("unknown source")
        await self._after()
        return {"ok": reply.status == 200, "status": reply.status}

    async def _submit(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user = self._user_id(body.get("user"))
        values = body.get("values") if isinstance(body.get("values"), dict) else {}
        async with self._lock:
            self._ingest()
            result = await self.submit(user, str(body.get("view_id")), values)
            self._ingest()
        return web.json_response(result)

    async def submit(self, user: str, view_id: str, values: dict[str, Any]) -> dict[str, Any]:
        """Submit the user's top modal with ``values`` (Slack's state shape) and apply the
        app's answer."""
        stack = self.modals.get(user, [])
        if not stack or stack[-1] != view_id or view_id not in self.standin.views:
            raise BadRequest("that modal is not open")
        view = self.standin.views[view_id]
        missing = missing_inputs(view, values)
        self.view_notice.pop(view_id, None)
        if missing:
            self.view_errors[view_id] = {block: REQUIRED for block in missing}
            return {"ok": False, "errors": self.view_errors[view_id]}
        reply = await self.driver.view_submission(
            view.get("callback_id") or "", values, view.get("private_metadata") or "",
            user_id=user, view_id=view_id, team_id=self.team_of(user),
        )
        result = self._apply_submission(user, view_id, reply.status, reply.json,
                                        reply.body, reply.elapsed_ms)
        await self._after()
        return result

    def _apply_submission(self, user: str, view_id: str, status: int, answer: Any, raw: str,
                          elapsed_ms: float) -> dict[str, Any]:
        stack = self.modals.setdefault(user, [])
        if status != 200 or elapsed_ms > ACK_DEADLINE_MS:
            self.view_notice[view_id] = "We had some trouble connecting. Try again?"
            return {"ok": False, "status": status}
        if not raw.strip():
            self._close_views(user, [view_id])
            return {"ok": True, "closed": True}
        if not isinstance(answer, dict):
            self.view_notice[view_id] = "The app answered with something Slack can't read."
            return {"ok": False, "status": status}
        action = answer.get("response_action")
        if action == "errors":
            errors = answer.get("errors") if isinstance(answer.get("errors"), dict) else {}
            self.view_errors[view_id] = {str(k): str(v) for k, v in errors.items()}
            return {"ok": True, "errors": self.view_errors[view_id]}
        try:
            if action == "update":
                self.standin.put_view(answer.get("view"), view_id=view_id, user=user)
                self.view_errors.pop(view_id, None)
                return {"ok": True, "updated": True}
            if action == "push":
                pushed = self.standin.put_view(answer.get("view"), previous_id=view_id,
                                               user=user)
                stack.append(pushed["id"])
                return {"ok": True, "pushed": pushed["id"]}
        except ApiError as exc:
            self.view_notice[view_id] = f"The app answered with a view Slack refuses " \
                                        f"({exc.error})."
            return {"ok": False, "error": exc.error}
        if action == "clear":
            self._close_views(user, list(stack))
            return {"ok": True, "closed": True}
        self._close_views(user, [view_id])  # any other answer: Slack closes the view
        return {"ok": True, "closed": True}

    def _close_views(self, user: str, view_ids: list[str]) -> None:
        stack = self.modals.setdefault(user, [])
        for view_id in view_ids:
            if view_id in stack:
                stack.remove(view_id)
            self.view_errors.pop(view_id, None)
            self.view_notice.pop(view_id, None)

    async def _close(self, request: web.Request) -> web.Response:
        """The modal's close button (or Escape): the whole stack closes, as in Slack."""
        body = await self._body(request)
        user = self._user_id(body.get("user"))
        async with self._lock:
            stack = list(self.modals.get(user, []))
            self._close_views(user, stack)
            for view_id in reversed(stack):
                view = self.standin.views.get(view_id)
                if view and view.get("notify_on_close"):
                    await self.driver.view_closed(copy.deepcopy(view), user_id=user,
                                                  team_id=self.team_of(user),
                                                  is_cleared=len(stack) > 1)
            await self._after()
        return web.json_response({"ok": True})

    async def _home(self, request: web.Request) -> web.Response:
        """The user opened the app's Home tab: Slack sends ``app_home_opened``."""
        body = await self._body(request)
        user = self._user_id(body.get("user"))
        async with self._lock:
            result = await self.open_home(user)
        return web.json_response(result)

    async def open_home(self, user: str) -> dict[str, Any]:
        event: dict[str, Any] = {"type": "app_home_opened", "user": user,
                                 "channel": f"D{user}", "tab": "home",
                                 "event_ts": f"{time.time():.6f}"}
        if user in self.standin.home:
            event["view"] = copy.deepcopy(self.standin.home[user])
        reply = await self.driver.event(event, self.team_of(user))
        await self._after()
        return {"ok": reply.status == 200, "status": reply.status}

    async def _dismiss(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user = self._user_id(body.get("user"))
        before = len(self.ephemerals)
        self.ephemerals = [e for e in self.ephemerals
                           if not (e["id"] == body.get("id") and e["user"] == user)]
        return web.json_response({"ok": len(self.ephemerals) < before})

    async def _skip_ahead(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user = self._user_id(body.get("user"))
        if self._skip is None:
            raise BadRequest("this sandbox cannot move its clock")
        async with self._lock:
            self._ingest()  # what was posted so far keeps the time it was posted at
            delta = self.skip_delta(body, user)
            report = await self._skip(delta) or {}
            await self._after()
        return web.json_response({"ok": True, "skipped_seconds": delta.total_seconds(),
                                  "now": self._now().isoformat(), **report})

    def skip_delta(self, body: dict[str, Any], user: str) -> timedelta:
        """How far a skip request moves the clock: ``{"by": "1h" | "1d" | "morning"}``
        (the next 09:00 in the user's timezone) or ``{"minutes": n}``."""
        by = body.get("by")
        if by == "1h":
            return timedelta(hours=1)
        if by == "1d":
            return timedelta(days=1)
        if by == "morning":
            zone = ZoneInfo((self.standin.user(user) or {}).get("tz") or "UTC")
            now = self._now()
            local = now.astimezone(zone)
            target = datetime.combine(local.date(), MORNING, tzinfo=zone)
            if target <= local:
                target = datetime.combine(local.date() + timedelta(days=1), MORNING,
                                          tzinfo=zone)
            return target.astimezone(UTC) - now
        minutes = body.get("minutes")
        if isinstance(minutes, int | float) and not isinstance(minutes, bool) and minutes > 0:
            delta = timedelta(minutes=minutes)
            if delta <= MAX_SKIP:
                return delta
        raise BadRequest("skip by '1h', '1d', 'morning' or a number of minutes")

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """Download a file the app uploaded to someone (e.g. a CSV export)."""
        user = self._user_id(request.query.get("user"))
        record = self.standin.files.get(request.match_info["file_id"])
        visible = record is not None and record.get("completed") and (
            record.get("channel_id") == f"D{user}"
            or not str(record.get("channel_id") or "").startswith("D"))
        if not visible or record.get("bytes") is None:
            raise web.HTTPNotFound()
        name = "".join(c for c in str(record.get("filename") or "file")
                       if c.isalnum() or c in "._-")[:80] or "file"
        return web.Response(
            body=record["bytes"], content_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


def slack_format(text: str, users: Iterable[dict[str, Any]],
                 channels: Iterable[dict[str, Any]]) -> str:
    """Typed text as Slack sends it to an app that asks for escaping: ``&``, ``<``, ``>``
    as entities; ``@name`` of a member as ``<@U…|name>``, ``#channel`` as ``<#C…|name>``,
    ``@here``/``@channel``/``@everyone`` as ``<!here>``…, and links as ``<url>``."""
    by_name: dict[str, dict[str, Any]] = {}
    for user in users:
        for key in (user.get("real_name"), user.get("display_name"), user.get("name")):
            if key:
                by_name.setdefault(str(key).lower(), user)
    by_channel = {str(c["name"]).lower(): c for c in channels}
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def mention(match: re.Match) -> str:
        sign, word = match.groups()
        for end in range(len(word), 0, -1):  # "@maria." and "#support," still match
            name, rest = word[:end], word[end:]
            if rest and rest.strip(".-_"):
                break
            if sign == "@" and name.lower() in _SPECIAL:
                return f"<!{name.lower()}>{rest}"
            if sign == "@" and name.lower() in by_name:
                user = by_name[name.lower()]
                return f"<@{user['id']}|{user['name']}>{rest}"
            if sign == "#" and name.lower() in by_channel:
                channel = by_channel[name.lower()]
                return f"<#{channel['id']}|{channel['name']}>{rest}"
        return match.group(0)

    text = _LINK.sub(lambda m: f"<{m.group(1)}>", text)
    return _MENTION.sub(mention, text)


def missing_inputs(view: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """Block ids of required inputs left empty (Slack checks these before submitting)."""
    missing = []
    for block in view.get("blocks") or []:
        if not isinstance(block, dict) or block.get("type") != "input" or block.get("optional"):
            continue
        element = block.get("element") or {}
        state = (values.get(block.get("block_id")) or {}).get(element.get("action_id")) or {}
        filled = any(state.get(key) not in (None, "", [])
                     for key in ("value", "selected_option", "selected_options", "selected_user",
                                 "selected_users", "selected_date", "selected_time",
                                 "selected_date_time", "selected_conversation",
                                 "selected_conversations", "selected_channel",
                                 "selected_channels"))
        if not filled:
            missing.append(str(block.get("block_id")))
    return missing


async def _no_roles(user_id: str) -> list[str]:
    return []
