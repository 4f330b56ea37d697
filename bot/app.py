"""The app factory: wires storage, playbook, Slack client and listeners.

`Mend` owns one running instance. HTTP mode serves Slack's requests on
`/slack/events` and a health check on `/healthz`; Socket Mode connects out
to Slack instead. Both use the same Bolt app and listeners.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from functools import partial

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot import __version__
from bot.domain.cases import Recovery
from bot.domain.coach import load_rules
from bot.domain.delivery import Delivery
from bot.domain.lifecycle import Lifecycle
from bot.domain.playbook import load_playbook
from bot.domain.when import warm_up
from bot.domain.workspace import WorkspaceRules
from bot.runtime import boundary, health
from bot.runtime.clock import Clock
from bot.runtime.config import ConfigError, Settings
from bot.runtime.distribution import build_clients, oauth_app_args
from bot.runtime.installations import add_oauth_routes
from bot.runtime.jsonlog import replica_id
from bot.runtime.logs import slack_logger
from bot.runtime.metrics import ClientObserver, Metrics
from bot.runtime.pacing import ChannelPacer
from bot.runtime.reader import load_reader
from bot.runtime.scheduler import LEASE_SECONDS, Scheduler
from bot.runtime.slack_client import make_client
from bot.runtime.tasks import Tasks
from bot.storage import open_store
from bot.storage.migrations import SCHEMA_VERSION
from handlers import register_all
from handlers.cards import resume_cards
from handlers.context import Deps
from handlers.inbound import remember_answers
from handlers.nudges import Nudger
from handlers.people import People
from handlers.promise_blocks import known_with

log = logging.getLogger("mend")
# Slack's answers that mean "this token will never work", not "try later".
REFUSED_TOKEN = {"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                 "token_expired", "not_allowed_token_type", "missing_scope"}


async def _check_token(call, name: str, where: str) -> None:
    try:
        await call()
    except SlackApiError as exc:
        error = exc.response.get("error")
        if error in REFUSED_TOKEN:
            raise ConfigError(f"Slack refused {name} ({error}). Copy {where}.") from None
        log.warning("could not check %s with Slack: %s", name, error)
    except Exception as exc:  # noqa: BLE001 - unreachable now is not wrong for ever
        log.warning("could not reach Slack to check %s: %s", name, type(exc).__name__)


class Mend:
    """One running Mend: open with `await Mend.start(settings)`, end with `close()`."""

    def __init__(self, settings: Settings, deps: Deps, bolt: AsyncApp,
                 session: aiohttp.ClientSession):
        self.settings = settings
        self.deps = deps
        self.bolt = bolt
        self.session = session
        self.started = time.monotonic()
        self.metrics: Metrics | None = None  # set by start()
        self.stopping = False  # set first on shutdown: /readyz fails, then work drains
        self.socket = None  # the Socket Mode handler, once connected
        self.expected_schema = SCHEMA_VERSION

    @classmethod
    async def start(cls, settings: Settings, clock: Clock | None = None,
                    retry_backoff: float = 0.5, pace_seconds: float = 1.0,
                    run_scheduler: bool = True, slack_timeout: int = 10,
                    lease_seconds: float = LEASE_SECONDS) -> Mend:
        """Load the playbook, open the database, build the Bolt app."""
        playbook = load_playbook(settings.playbook_path)
        coach_rules = load_rules()
        warm_up()  # the time parser loads its data once, not on someone's first follow-up
        store = await open_store(settings)
        metrics = Metrics(settings.replica_id or replica_id())
        store.observe(metrics.on_store)
        clock = clock or Clock()
        # The SDK ignores its own timeout on a shared session: set it on the session.
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=slack_timeout))
        make = partial(make_client, api_url=settings.api_url, session=session,
                       backoff=retry_backoff, logger=slack_logger(), timeout=slack_timeout,
                       observer=ClientObserver(metrics))
        client = make(settings.bot_token or None)
        poster = make(settings.bot_token or None, retry_ambiguous=False)
        clients = build_clients(settings, store, client, poster, make)
        tasks = Tasks()
        recovery = Recovery(store, playbook, clock, store.case_writer(settings.pg_group_commit),
                            load_reader())
        lifecycle = Lifecycle(store, playbook, clock, settings.leads)
        deps = Deps(recovery, store, clock, client, tasks, ChannelPacer(tasks, pace_seconds),
                    lifecycle, People(clients), poster,
                    workspaces=WorkspaceRules(store, lifecycle, clock),
                    delivery=Delivery(store), coach=coach_rules, clients=clients,
                    retention=timedelta(days=settings.retention_days))
        # A new case's first follow-up falls in its owner's working hours, as known now.
        recovery.local_time = partial(known_with, deps)
        bolt = AsyncApp(
            client=client,
            logger=slack_logger(),
            signing_secret=settings.signing_secret or "",
            request_verification_enabled=not settings.socket_mode,
            process_before_response=True,  # listeners ack first and spawn slow work
            **oauth_app_args(settings, store, clients),  # installs through OAuth
        )
        register_all(bolt, deps)
        bolt.async_dispatch = metrics.timed_dispatch(remember_answers(bolt.async_dispatch, deps))
        mend = cls(settings, deps, bolt, session)
        mend.metrics = metrics
        mend.nudger = Scheduler(store, clock, Nudger(deps), settings.sweep_seconds,
                                holder=f"{metrics.replica}/{uuid.uuid4().hex[:8]}",
                                retention=deps.retention, lease_seconds=lease_seconds)
        mend.nudger.on_sweep = metrics.on_sweep
        await resume_cards(deps)
        if run_scheduler:
            mend.nudger.start()
        return mend

    async def close(self) -> None:
        self.stopping = True  # not ready any more: nothing new should be sent here
        await self.nudger.stop()
        self.deps.pacer.stop()  # queued cards and nudges stay in the database for next time
        await self.deps.tasks.drain()  # what is being sent gets sent and marked first
        await self.nudger.release()
        await self.session.close()
        await self.deps.store.close()

    # -- HTTP mode -------------------------------------------------------------
    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/slack/events", self.slack_events)
        app.router.add_get("/healthz", self.healthz)
        health.add_routes(app, self)  # /readyz, /metrics
        if self.bolt.oauth_flow is not None:  # /slack/install, /slack/oauth_redirect
            add_oauth_routes(app, self.bolt.oauth_flow)
        return app

    async def slack_events(self, request: web.Request) -> web.Response:
        try:  # signed by Slack and well formed, checked before anything is parsed
            bolt_request = await boundary.bolt_request(request, self.settings.signing_secret)
        except boundary.Refused as refused:
            return await refused.respond(request)
        return await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request))

    async def healthz(self, request: web.Request) -> web.Response:
        """Liveness: 503 when only a restart helps (the database is unreachable, or its
        file was deleted or replaced); a read-only or full disk is reported in the body
        (and fails /readyz), since a restart would not help that."""
        store = self.deps.store
        reachable = await store.ping()
        replaced, problem = health.storage_state(store)
        ok = reachable and not replaced
        body = {
            "ok": ok,
            "version": __version__,
            "database": "replaced" if replaced else "reachable" if reachable else "unreachable",
            "storage": problem or "writable",
            "schema": store.schema_version if reachable else None,
            "mode": "socket" if self.settings.socket_mode else "http",
            "uptime_s": round(time.monotonic() - self.started, 1),
        }
        return web.json_response(body, status=200 if ok else 503)

    async def serve_http(self, host: str = "0.0.0.0", port: int | None = None,
                         app: web.Application | None = None) -> web.AppRunner:
        """Start listening (on `app`, default the whole web app); returns the runner
        (its `cleanup()` stops it)."""
        runner = web.AppRunner(app or self.web_app(), access_log=None,
                               lingering_time=boundary.LINGER_SECONDS)
        await runner.setup()
        port = self.settings.port if port is None else port
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise ConfigError(f"Cannot listen on port {port}: {exc.strerror or exc}. "
                              "Set PORT to a free port.") from None
        return runner

    # -- start-up checks ----------------------------------------------------------
    async def check_slack(self) -> None:
        """Ask Slack whether the tokens work, so that a wrong one stops start-up with one
        line instead of failing every request later. If Slack can't be reached, carry
        on: it may be a passing network problem, and requests will say so."""
        if not self.settings.distributed:  # installed through OAuth: no one token
            await _check_token(self.deps.client.auth_test, "SLACK_BOT_TOKEN",
                               "the Bot User OAuth Token (xoxb-…) on your app's OAuth & "
                               "Permissions page")
        if self.settings.socket_mode:
            await _check_token(
                partial(self.deps.client.apps_connections_open,
                        app_token=self.settings.app_token), "SLACK_APP_TOKEN",
                "an app-level token (xapp-…) with connections:write, under Basic Information")

    # -- Socket Mode -----------------------------------------------------------
    async def connect_socket(self):
        """Connect to Slack over Socket Mode; returns the handler to close later."""
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        handler = AsyncSocketModeHandler(self.bolt, self.settings.app_token)
        await handler.connect_async()
        self.socket = handler  # /readyz asks it whether it is connected
        return handler

    async def serve_ops(self, host: str = "0.0.0.0", port: int | None = None) -> web.AppRunner:
        """Socket Mode: /healthz, /readyz and /metrics on PORT (no /slack/events)."""
        return await self.serve_http(host, port, health.ops_app(self))
