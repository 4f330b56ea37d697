"""`python -m bot sandbox`: try Mend without a Slack workspace.

Starts, in one process and on 127.0.0.1 only: the Slack stand-in the tests use
(`standin.SlackStandIn`), its web page (`standin.sandbox.SandboxUI`), and Mend itself in
HTTP mode pointed at the stand-in, with a `SandboxClock` that the page's "skip ahead"
buttons move. A few sample agents in different timezones and a lead are registered, with
#support and #vip-support. The scheduler sweeps every 5 seconds and after every skip.

With `--two-workspaces` a second workspace (its own people and channel) sits next to the
first: Mend then runs as it does when installed in many workspaces (through OAuth, here
against the stand-in), each workspace with its own bot token, and the page's `/split`
shows one person of each side by side, so that a newcomer sees their cases kept apart.

The sandbox keeps its cases in `data/sandbox.db` (emptied at each start, since the
stand-in's messages live in memory) or in the database named by `--db`/`MEND_DB`, which is
kept, and refused if it holds cases of a real workspace.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import logging
import os
import re
import secrets
import signal
import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import Mend
from bot.domain.datafiles import in_checkout
from bot.runtime.clock import SandboxClock
from bot.runtime.config import DEFAULT_PLAYBOOK, ROOT, Settings
from bot.runtime.installations import INSTALL_PATH, REDIRECT_PATH
from standin import SlackStandIn
from standin.sandbox import SandboxUI

log = logging.getLogger("mend.sandbox")

DEFAULT_SANDBOX_DB = (ROOT if in_checkout() else Path.cwd()) / "data" / "sandbox.db"
DEFAULT_PORT = 8080
TEAM_ID = "TSANDBOX"
BOT_TOKEN = "xoxb-sandbox"
APP_TOKEN = "xapp-sandbox"
SWEEP_SECONDS = 5.0
PACE_SECONDS = 1.0
EXIT_CONFIG = 2

#: (user id, name, real name, timezone): three agents and a lead.
USERS = (
    ("U01MARIA", "maria", "Maria", "America/Los_Angeles"),
    ("U02KOFI", "kofi", "Kofi", "Africa/Accra"),
    ("U03ANA", "ana", "Ana", "Asia/Kolkata"),
    ("U09LEE", "lee", "Lee", "Europe/London"),
)
LEADS = ("U09LEE",)
CHANNELS = (("C01SUPPORT", "support"), ("C02VIPSUPPORT", "vip-support"))
#: The second workspace (`--two-workspaces`): its id and name, people (Tomás, who installs
#: Mend there and so is its lead, and Aiko) and channel.
TEAM2_ID = "T2SANDBOX"
TEAM2_NAME = "Second workspace"
USERS2 = (
    ("U21TOMAS", "tomas", "Tomás", "Europe/Madrid"),
    ("U22AIKO", "aiko", "Aiko", "Asia/Tokyo"),
)
CHANNELS2 = (("C21HELP", "help"),)
SANDBOX_TEAMS = (TEAM_ID, TEAM2_ID)


class SandboxError(Exception):
    """The sandbox cannot start as asked; the message says why."""


@dataclass
class Sandbox:
    """A running sandbox: the page at `url`; end it with `await close()`."""

    url: str
    standin: SlackStandIn
    ui: SandboxUI
    mend: Mend
    clock: SandboxClock
    db_path: str
    fresh: bool
    app_url: str
    sweep_seconds: float
    _runner: web.AppRunner
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _sweeper: asyncio.Task | None = None
    _closed: bool = False

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until the work Mend started after its acks is done (card posts, modals,
        paced messages), including work that work started."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        tasks = self.mend.deps.tasks
        while len(tasks) and loop.time() < deadline:
            await tasks.drain(timeout=max(0.01, deadline - loop.time()))

    async def sweep(self) -> dict[str, Any]:
        """One scheduler sweep now (never two at once), then its messages sent."""
        async with self._lock:
            report = await self.mend.nudger.sweep()
        await self.settle()
        return {"held_lease": report.held_lease, "planned": report.planned,
                "queued": report.queued, "errors": list(report.errors)}

    async def skip(self, delta: timedelta) -> dict[str, Any]:
        """Move Mend's clock forward by `delta`, then sweep."""
        self.clock.skip(delta)
        return {"sweep": await self.sweep()}

    async def _sweep_forever(self) -> None:
        while not self._stop.is_set():
            try:
                await self.sweep()
            except Exception as exc:  # noqa: BLE001 - one bad sweep must not stop the next
                log.error("sweep failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.sweep_seconds)

    async def close(self) -> None:
        """Stop the page, the scheduler, Mend and the stand-in, in that order."""
        if self._closed:
            return
        self._closed = True
        await self.ui.stop()
        self._stop.set()
        if self._sweeper is not None:
            await self._sweeper
        await self._runner.cleanup()
        await self.mend.close()
        await self.standin.stop()


def check_database(path: Path) -> None:
    """Refuse a database that holds cases of a real workspace: the sandbox would send
    their nudges to a fake Slack and record them as sent."""
    if not path.exists():
        return
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise SandboxError(f"cannot read the database at {path}: {exc}") from None
    teams: set[str] = set()
    try:
        for table in ("workspaces", "cases"):
            with contextlib.suppress(sqlite3.OperationalError):  # no such table (yet)
                teams |= {r[0] for r in conn.execute(f"SELECT DISTINCT team_id FROM {table}")}
    except sqlite3.DatabaseError as exc:
        raise SandboxError(f"{path} is not a Mend database ({exc})") from None
    finally:
        conn.close()
    others = sorted(t for t in teams if t not in SANDBOX_TEAMS)
    if others:
        raise SandboxError(
            f"{path} holds cases of workspace {others[0]}: the sandbox needs a database of "
            f"its own. Leave out --db (the sandbox uses {DEFAULT_SANDBOX_DB}) or pass "
            "--db with a new file.")


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()

def _prepare_database(db_path: str | os.PathLike[str] | None, fresh: bool | None) -> Path:
    """The sandbox's database file, emptied first when `fresh` (by default only the
    default file is), and never a real workspace's."""
    path = Path(db_path) if db_path is not None else DEFAULT_SANDBOX_DB
    if fresh is None:
        fresh = path.resolve() == DEFAULT_SANDBOX_DB.resolve()
    check_database(path)  # even when asked to empty it: never a real workspace's cases
    if fresh:
        _remove_database(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


async def _start_standin(two_workspaces: bool = False) -> SlackStandIn:
    standin = SlackStandIn(BOT_TOKEN, APP_TOKEN, team_id=TEAM_ID, team_domain="mend-sandbox",
                           team_name="Mend sandbox", bot_name="mend")
    await standin.start()
    teams = [(TEAM_ID, USERS, CHANNELS)]
    if two_workspaces:
        standin.add_workspace(TEAM2_ID, TEAM2_NAME)
        teams.append((TEAM2_ID, USERS2, CHANNELS2))
    for team, users, channels in teams:
        for user_id, name, real_name, tz in users:
            standin.add_user(user_id, name, real_name=real_name, tz=tz, team_id=team)
        for channel_id, name in channels:
            standin.add_channel(channel_id, name, team_id=team)
    return standin


def _settings(standin: SlackStandIn, secret: str, path: Path, playbook_path, leads,
              sweep_seconds: float, two_workspaces: bool) -> Settings:
    """One workspace: Mend with the stand-in's bot token, as with SLACK_BOT_TOKEN. Two:
    Mend installed through OAuth (client id and secret), a token per workspace."""
    common = dict(signing_secret=secret, app_token=None, api_url=standin.api_url, port=0,
                  db_path=str(path), playbook_path=str(playbook_path or DEFAULT_PLAYBOOK),
                  sweep_seconds=sweep_seconds)
    if not two_workspaces:
        return Settings(bot_token=BOT_TOKEN, leads=tuple(leads), **common)
    # Each installer becomes the lead of their workspace (Lee and Tomás).
    return Settings(bot_token="", client_id=standin.oauth_client_id,
                    client_secret=standin.oauth_client_secret, **common)


async def _install(app_base: str, team: str, user: str) -> None:
    """Add Mend to a workspace of the stand-in as a browser does: Mend's install page,
    the stand-in's authorise page, back to Mend's redirect with the state cookie."""
    async with aiohttp.ClientSession() as http:
        async with http.get(app_base + INSTALL_PATH) as page:
            cookie = page.headers.get("Set-Cookie", "").split(";")[0]
            found = re.search(r'href="([^"]*oauth/v2/authorize[^"]*)"', await page.text())
        if page.status != 200 or found is None:
            raise SandboxError(f"Mend's install page answered {page.status}")
        link = html.unescape(found.group(1))
        async with http.get(f"{link}&team={team}&user={user}",
                            allow_redirects=False) as approved:
            back = approved.headers.get("Location", "")
        async with http.get(back, headers={"Cookie": cookie}) as done:
            if done.status != 200:
                raise SandboxError(f"installing Mend in {team} failed ({done.status})")


async def start_sandbox(
    port: int = 0,
    db_path: str | os.PathLike[str] | None = None,
    *,
    fresh: bool | None = None,
    playbook_path: str | os.PathLike[str] | None = None,
    leads: tuple[str, ...] = LEADS,
    sweep_seconds: float = SWEEP_SECONDS,
    pace_seconds: float = PACE_SECONDS,
    run_scheduler: bool = True,
    two_workspaces: bool = False,
) -> Sandbox:
    """Start the stand-in, Mend and the page on 127.0.0.1; the page listens on `port`
    (0: a free one). `db_path` defaults to data/sandbox.db; `fresh` (default: only for
    that default file) empties it first. `run_scheduler=False`: sweeps happen only on a
    skip or `await sandbox.sweep()`. `two_workspaces`: a second workspace next to the
    first, Mend installed in both through OAuth (each installer its first lead)."""
    path = _prepare_database(db_path, fresh)
    fresh = path.resolve() == DEFAULT_SANDBOX_DB.resolve() if fresh is None else fresh
    standin = await _start_standin(two_workspaces)
    clock = SandboxClock()
    secret = secrets.token_hex(16)
    settings = _settings(standin, secret, path, playbook_path, leads, sweep_seconds,
                         two_workspaces)
    try:
        # The sandbox runs the sweeps itself (serialised with those after a skip).
        mend = await Mend.start(settings, clock=clock, pace_seconds=pace_seconds,
                                run_scheduler=False)
    except BaseException:
        await standin.stop()
        raise
    runner = await mend.serve_http("127.0.0.1", 0)
    app_url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    if two_workspaces:
        await _install_both(standin, app_url.removesuffix("/slack/events"), runner, mend)

    holder: dict[str, Sandbox] = {}

    async def skip(delta: timedelta) -> dict[str, Any]:
        return await holder["sandbox"].skip(delta)

    async def settle() -> None:
        await holder["sandbox"].settle()

    people = USERS + (USERS2 if two_workspaces else ())
    ui = SandboxUI(standin, app_url, secret, commands=("/recover",), app_name="Mend",
                   now=clock.now, skip=skip, settle=settle, roles=_roles(standin, mend),
                   users=[u[0] for u in people], port=port)
    await _start_page(ui, port, runner, mend, standin)
    sandbox = Sandbox(ui.url, standin, ui, mend, clock, str(path), fresh, app_url,
                      sweep_seconds, runner)
    holder["sandbox"] = sandbox
    await sandbox.settle()
    if run_scheduler:
        sandbox._sweeper = asyncio.get_running_loop().create_task(sandbox._sweep_forever(),
                                                                   name="sandbox-sweeps")
    return sandbox


def _roles(standin: SlackStandIn, mend: Mend):
    """The page's labels for a person: "lead" for a lead of their own workspace."""

    async def roles(user_id: str) -> list[str]:
        team = (standin.user(user_id) or {}).get("team_id") or TEAM_ID
        return ["lead"] if await mend.deps.lifecycle.is_lead(team, user_id) else []

    return roles


async def _install_both(standin: SlackStandIn, app_base: str, runner, mend: Mend) -> None:
    """Install Mend in both workspaces (Lee installs it in the first, Tomás in the
    second); stop what was started if that fails."""
    standin.oauth_redirect_uri = app_base + REDIRECT_PATH
    try:
        await _install(app_base, TEAM_ID, LEADS[0])
        await _install(app_base, TEAM2_ID, USERS2[0][0])
    except BaseException:
        await runner.cleanup()
        await mend.close()
        await standin.stop()
        raise


async def serve(port: int, db_path: str | None, fresh: bool | None,
                playbook_path: str | None = None, two_workspaces: bool = False) -> None:
    """Run until Ctrl-C (or SIGTERM)."""
    sandbox = await start_sandbox(port, db_path, fresh=fresh, playbook_path=playbook_path,
                                  two_workspaces=two_workspaces)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    names = ", ".join(f"{real} ({tz})" for _, _, real, tz in USERS)
    print(f"Mend sandbox: open {sandbox.url} in your browser\n"
          f"  people: {names}; Lee is a lead\n"
          f"  channels: {', '.join('#' + name for _, name in CHANNELS)}\n"
          + (f"  second workspace: {', '.join(f'{r} ({tz})' for _, _, r, tz in USERS2)} in "
             f"#{CHANNELS2[0][1]}; Tomás is its lead\n"
             f"  both side by side: {sandbox.url}split\n" if two_workspaces else "")
          + f"  cases are kept in {sandbox.db_path}"
          f"{' (emptied at each start; --keep keeps them)' if sandbox.fresh else ''}\n"
          "  Ctrl-C stops it.", flush=True)
    try:
        await stop.wait()
    finally:
        print("Stopping the sandbox…", flush=True)
        await sandbox.close()


def run_sandbox(argv: list[str]) -> int:
    """`python -m bot sandbox [--port 8080] [--db PATH] [--fresh | --keep]`; exit status."""
    from bot.domain.playbook import PlaybookError
    from bot.runtime.logs import configure as configure_logging
    from bot.storage.sqlite import StoreError

    parser = argparse.ArgumentParser(
        prog="python -m bot sandbox",
        description="Try Mend in a browser, against a local stand-in for Slack.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port of the page on 127.0.0.1 (default {DEFAULT_PORT}; "
                             "0 = any free port)")
    # Not $MEND_DB: that is the real Mend's database, and the sandbox's made-up cases
    # must never land among real ones.
    parser.add_argument("--db", default=None,
                        help=f"database file (default {DEFAULT_SANDBOX_DB})")
    parser.add_argument("--playbook", default=os.environ.get("MEND_PLAYBOOK") or None,
                        help="playbook to try (default: $MEND_PLAYBOOK, else data/playbook.yaml)")
    parser.add_argument("--two-workspaces", action="store_true",
                        help="a second workspace next to the first, each with its own token; "
                             "the page's /split shows both side by side")
    keep = parser.add_mutually_exclusive_group()
    keep.add_argument("--fresh", dest="fresh", action="store_true", default=None,
                      help="empty the database first (the default for data/sandbox.db)")
    keep.add_argument("--keep", dest="fresh", action="store_false",
                      help="keep the cases of earlier runs")
    args = parser.parse_args(argv)
    if not 0 <= args.port < 65536:
        print("mend: --port takes a number from 0 to 65535", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging()
    try:
        asyncio.run(serve(args.port, args.db, args.fresh, args.playbook, args.two_workspaces))
    except (SandboxError, PlaybookError, StoreError) as exc:
        print(f"mend: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        pass
    return 0


async def _start_page(ui: SandboxUI, port: int, runner, mend: Mend,
                      standin: SlackStandIn) -> None:
    """Open the page, or stop what was started and say why."""
    try:
        await ui.start()
    except BaseException as exc:
        await runner.cleanup()
        await mend.close()
        await standin.stop()
        if isinstance(exc, OSError):
            raise SandboxError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); "
                               "pick another port with --port (0 = any free port)") from None
        raise
