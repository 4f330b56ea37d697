"""Helpers shared by the test modules: plain constants, functions and classes.

Fixtures live in conftest.py; a test module imports from here, never from another
test module.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from slack_sdk.models.blocks import Block

from bot.app import Mend
from bot.runtime.config import Settings
from bot.storage.postgres.store import PgStore
from bot.storage.sqlite import Store
from handlers.ids import NUDGE_METADATA_TYPE
from standin import MendDriver
from standin.blockkit import check_blocks

SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"
PACE = 0.05  # seconds between messages to one channel (Slack's is about 1)

REPORT = "customer Acme: order arrived two weeks late, they are upset"
DANA_REPORT = "for Dana Lee: charged twice for her order, she emailed us furious"

# Thursday 2026-11-26 18:00 UTC is 10:00 in Los Angeles (U1) and 23:30 in Kolkata (U2).
LA_MORNING = datetime(2026, 11, 26, 18, 0, tzinfo=UTC)
THURSDAY = LA_MORNING  # the same moment, as the leads' tests name it


# -- running Mend ----------------------------------------------------------------------------
class Running:
    """A Mend instance serving HTTP on loopback, for one test."""

    def __init__(self, mend: Mend, runner, url: str):
        self.mend, self.runner, self.url = mend, runner, url
        self.store = mend.deps.store

    async def settle(self) -> None:
        """Wait for work Mend started after its acks (card posts, modals)."""
        await self.mend.deps.tasks.drain()

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.mend.close()


async def start_mend(settings: Settings, clock, slack_timeout: float = 10,
                     engine: Database | None = None) -> Running:
    """Start a Mend serving HTTP on loopback; tests that run more than one call it. With
    `engine`, on that test database (else where `settings` say)."""
    if engine is not None:
        settings = engine.settings(settings)
    mend = await Mend.start(settings, clock=clock, retry_backoff=0.01, pace_seconds=PACE,
                            run_scheduler=False, slack_timeout=slack_timeout)
    runner = await mend.serve_http("127.0.0.1", 0)
    port = runner.addresses[0][1]
    running = Running(mend, runner, f"http://127.0.0.1:{port}/slack/events")
    await running.settle()
    return running


# -- the database engines ------------------------------------------------------------------
ENGINES = ("sqlite", "postgres")


class Database:
    """A fresh database of one engine for one test: a SQLite file, or a PostgreSQL
    schema of its own on the test server (MEND_TEST_DATABASE_URL)."""

    def __init__(self, engine: str, tmp_path, server: str | None = None):
        self.engine, self.tmp_path, self.server = engine, tmp_path, server
        self.schema = f"t_{uuid.uuid4().hex[:12]}"
        self.url = None
        if engine == "postgres":
            sep = "&" if "?" in server else "?"
            self.url = f"{server}{sep}options=-csearch_path%3D{self.schema}"

    async def create(self) -> Database:
        if self.url:
            async with await psycopg.AsyncConnection.connect(self.server,
                                                             autocommit=True) as conn:
                await conn.execute(f"CREATE SCHEMA {self.schema}")
        return self

    async def drop(self) -> None:
        if self.url:
            async with await psycopg.AsyncConnection.connect(self.server,
                                                             autocommit=True) as conn:
                await conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    async def expire_leases(self) -> None:
        """Run the leases out. PostgreSQL's run on the database's clock, which a test's
        clock does not move: end them there; SQLite's follow the test's clock."""
        if self.url:
            async with await psycopg.AsyncConnection.connect(self.url,
                                                             autocommit=True) as conn:
                await conn.execute("UPDATE leases SET expires_at = now() - interval '1 s'")

    def settings(self, settings: Settings) -> Settings:
        return dataclasses.replace(settings, database_url=self.url)

    async def open(self, name: str = "s.db"):
        """A store on this database (SQLite: the file `name` in the test's folder)."""
        if self.url:
            return await PgStore.open(self.url, min_size=1, max_size=4)
        return Store(self.tmp_path / name)


def replace_settings(settings: Settings, **changes) -> Settings:
    return dataclasses.replace(settings, **changes)


# -- reading what Mend sent ----------------------------------------------------------------
def all_text(blocks: list[dict]) -> str:
    """Every string inside a list of blocks, for searching."""
    return json.dumps(blocks, ensure_ascii=False)


def assert_valid_blocks(blocks: list[dict], limit: int = 50) -> None:
    """Valid for slack_sdk's models and for the stand-in's stricter checks (lengths
    inside elements, unique action ids), as Slack itself would judge them."""
    assert 0 < len(blocks) <= limit
    for block in Block.parse_all(blocks):
        block.validate_json()
    check_blocks(blocks, limit=limit)


def card(slack, channel="C1", index=0) -> dict:
    return slack.messages(channel)[index]


def said(slack) -> str:
    """Everything Mend told users through response URLs so far."""
    return "\n".join(json.dumps(r["body"]) for r in slack.responses)


def nudges(slack, channel="C1"):
    """Messages Mend posted as nudges in `channel` (threads included)."""
    return [m for m in slack.messages(channel)
            if (m.get("metadata") or {}).get("event_type") == NUDGE_METADATA_TYPE]


def numbers(blocks) -> list[int]:
    """The case numbers a list names, in order."""
    return [int(n) for n in re.findall(r"\*#(\d+)\*", all_text(blocks))]


# -- working a case through Slack -----------------------------------------------------------
async def open_case(mend, slack_user, user="U1", channel="C1", text=REPORT, team="T1"):
    await slack_user.command(text, user_id=user, channel_id=channel, team_id=team)
    await mend.settle()


async def case1(mend, team="T1"):
    return await mend.store.case_by_number(team, 1)


async def click(slack_user, mend, slack, action, user="U1", **kw):
    message = card(slack)
    reply = await slack_user.block_action(action, user_id=user, message_ts=message["ts"], **kw)
    assert reply.status == 200
    await mend.settle()
    return reply


async def open_due(mend, slack_user, clock, user="U1", channel="C1", text=REPORT,
                   due_in=timedelta(hours=1)):
    """Open a case and set its follow-up `due_in` from now; returns its number."""
    reply = await slack_user.command(text, user_id=user, channel_id=channel)
    await mend.settle()
    number = int(re.search(r"Case #(\d+) opened", all_text(reply.json["blocks"])).group(1))
    life = mend.mend.deps.lifecycle
    await life.set_followup("T1", number, user, clock.now() + due_in)
    return number


async def sweep(mend):
    report = await mend.mend.nudger.sweep()
    await mend.settle()
    return report


async def press(slack_user, mend, action: str, nudge: dict, user: str = "U1"):
    """Click a reminder's button as Slack sends it (its value as posted)."""
    await slack_user.block_action(action, user_id=user, message_ts=nudge["ts"])
    await mend.settle()


async def driver_open(running, slack, clock):
    """Open case #1 for U1 in C1 with its follow-up due now, through signed HTTP."""
    async with MendDriver(running.url, SECRET, slack) as driver:
        await driver.command(REPORT, user_id="U1", channel_id="C1")
    await running.settle()
    await running.mend.deps.lifecycle.set_followup("T1", 1, "U1", clock.now())


async def lead(mend, *users):
    await mend.store.set_leads("T1", list(users) or ["ULEAD"], "U0", "2026-11-01T00:00:00.000000Z")
