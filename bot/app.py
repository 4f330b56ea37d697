"""The app factory: wires storage, playbook, Slack client and listeners.

`Mend` owns one running instance. HTTP mode serves Slack's requests on
`/slack/events` and a health check on `/healthz`; Socket Mode connects out
to Slack instead. Both use the same Bolt app and listeners.
"""

from __future__ import annotations

import logging
import time
from functools import partial

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot import __version__
from bot.domain.cases import Recovery
from bot.domain.coach import load_rules
from bot.domain.lifecycle import Lifecycle
from bot.domain.playbook import load_playbook
from bot.domain.when import warm_up
from bot.domain.workspace import WorkspaceRules
from bot.runtime.clock import Clock
from bot.runtime.config import ConfigError, Settings
from bot.runtime.logs import slack_logger
from bot.runtime.pacing import ChannelPacer
from bot.runtime.slack_client import make_client
from bot.runtime.tasks import Tasks
from bot.storage import open_store
from handlers import register_all
from handlers.cards import resume_cards
from handlers.context import Deps
from handlers.nudges import Nudger
from handlers.people import People

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

    @classmethod
    async def start(cls, settings: Settings, clock: Clock | None = None,
                    retry_backoff: float = 0.5, pace_seconds: float = 1.0,
                    run_scheduler: bool = True, slack_timeout: int = 10) -> Mend:
        """Load the playbook, open the database, build the Bolt app."""
        playbook = load_playbook(settings.playbook_path)
        coach_rules = load_rules()
        warm_up()  # the time parser loads its data once, not on someone's first follow-up
        store = await open_store(settings)
        clock = clock or Clock()
        # The SDK ignores its own timeout on a shared session: set it on the session.
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=slack_timeout))
        client = make_client(settings.bot_token, settings.api_url, session,
                             backoff=retry_backoff, logger=slack_logger(),
                             timeout=slack_timeout)
        poster = make_client(settings.bot_token, settings.api_url, session,
                             backoff=retry_backoff, logger=slack_logger(),
                             timeout=slack_timeout, retry_ambiguous=False)
        tasks = Tasks()
        recovery = Recovery(store, playbook, clock,
                            store.case_writer(settings.pg_group_commit))
        lifecycle = Lifecycle(store, playbook, clock, settings.leads)
        deps = Deps(recovery, store, clock, client, tasks, ChannelPacer(tasks, pace_seconds),
                    lifecycle, People(client), poster,
                    workspaces=WorkspaceRules(store, lifecycle, clock), coach=coach_rules)
        bolt = AsyncApp(
            client=client,
            logger=slack_logger(),
            signing_secret=settings.signing_secret or "",
            request_verification_enabled=not settings.socket_mode,
            process_before_response=True,  # listeners ack first and spawn slow work
        )
        register_all(bolt, deps)
        mend = cls(settings, deps, bolt, session)
        mend.nudger = Nudger(deps, poster, settings.sweep_seconds, holder=settings.replica_id)
        await resume_cards(deps)
        if run_scheduler:
            mend.nudger.start()
        return mend

    async def close(self) -> None:
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
        return app

    async def slack_events(self, request: web.Request) -> web.Response:
        try:
            bolt_request = await to_bolt_request(request)
        except ValueError:  # a body Bolt cannot parse: not something Slack sends
            return web.json_response({"error": "malformed request"}, status=400)
        return await to_aiohttp_response(await self.bolt.async_dispatch(bolt_request))

    async def healthz(self, request: web.Request) -> web.Response:
        ok = await self.deps.store.ping()
        body = {
            "ok": ok,
            "version": __version__,
            "database": "reachable" if ok else "unreachable",
            "schema": self.deps.store.schema_version if ok else None,
            "mode": "socket" if self.settings.socket_mode else "http",
            "uptime_s": round(time.monotonic() - self.started, 1),
        }
        return web.json_response(body, status=200 if ok else 503)

    async def serve_http(self, host: str = "0.0.0.0", port: int | None = None) -> web.AppRunner:
        """Start listening; returns the runner (its `cleanup()` stops it)."""
        runner = web.AppRunner(self.web_app(), access_log=None)
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
        return handler
