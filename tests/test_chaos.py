"""Chaos on PostgreSQL: three Mend replicas (real processes) behind a round-robin proxy on
loopback share one database. 1,000 `/recover` go through the proxy while 200 follow-ups
fall due; one replica (the one sending nudges) is killed with SIGKILL midway and started
again. Every acked case exists with its opening event, and every card and every nudge
reached the Slack stand-in exactly once.

A request the proxy could not deliver, or whose replica died before answering, is sent
again as Slack sends it again (same signed body, `X-Slack-Retry-Num`), after the
in-flight window Mend gives a first attempt (handlers/inbound.py, IN_FLIGHT).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import psycopg
import pytest
from aiohttp import web

from bot.domain.times import to_iso
from handlers.ids import CARD_METADATA_TYPE, NUDGE_METADATA_TYPE
from handlers.inbound import IN_FLIGHT
from standin import MendDriver
from standin.driver import FORM
from tests.helpers import BOT_TOKEN, SECRET

pytestmark = pytest.mark.engines("postgres")
ROOT = Path(__file__).resolve().parent.parent
REPLICAS = 3
COMMANDS = 1000
DUE = 200
CHANNELS = 100  # cards are paced per channel (one a second): spread them out
CONCURRENCY = 24
OPENED = re.compile(r"Case #(\d+) opened")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replica:
    """One `python -m bot` process on its own port."""

    def __init__(self, name: str, env: dict[str, str], cwd: Path):
        self.name, self.port, self.cwd = name, free_port(), cwd
        self.env = {**env, "PORT": str(self.port), "MEND_REPLICA_ID": name}
        self.proc: asyncio.subprocess.Process | None = None
        self.log = cwd / f"{name}.log"

    async def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", cwd=self.cwd, env=self.env,
                stdout=log, stderr=log)

    async def ready(self, timeout: float = 60) -> None:
        url = f"http://127.0.0.1:{self.port}/readyz"
        async with aiohttp.ClientSession() as session:
            for _ in range(int(timeout * 10)):
                assert self.proc.returncode is None, self.log.read_text()[-3000:]
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(url) as resp:
                        if resp.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} never got ready: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


class RoundRobin:
    """A load balancer's least part: each request to the next replica; one that refuses
    the connection (dead) is skipped; one that drops the request answers 502."""

    def __init__(self, replicas: list[Replica]):
        self.replicas, self.turn = replicas, 0
        self.port = free_port()
        self.session: aiohttp.ClientSession | None = None
        self.runner: web.AppRunner | None = None

    async def start(self) -> str:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application()
        app.router.add_post("/slack/events", self.forward)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length")}
        for _ in range(len(self.replicas)):
            replica = self.replicas[self.turn % len(self.replicas)]
            self.turn += 1
            url = f"http://127.0.0.1:{replica.port}/slack/events"
            try:
                async with self.session.post(url, data=body, headers=headers) as resp:
                    return web.Response(status=resp.status, body=await resp.read(),
                                        content_type=resp.content_type)
            except aiohttp.ClientConnectorError:
                continue  # refused: that replica is down, the next one gets it
            except (aiohttp.ClientError, TimeoutError):
                return web.Response(status=502, text="the replica went away")
        return web.Response(status=502, text="no replica")

    async def stop(self) -> None:
        await self.session.close()
        await self.runner.cleanup()


async def sql(url: str, statement: str, params=()) -> list[tuple]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(statement, params)
        return await cur.fetchall() if cur.description else []


async def recover(driver: MendDriver, n: int) -> int:
    """One `/recover`, sent again as Slack would until it is acked; its case number.

    Each request has a person and channel of its own: a retry whose first attempt died
    finds the case that attempt opened by who opened it where, since when (see
    handlers/commands.py, `found_again`), which one person opening two cases in one
    channel within the same seconds would make ambiguous."""
    reply = await driver.command(
        f"Customer Dana Lee {n} was double charged and is upset (order {n})",
        user_id=f"U{100 + n // CHANNELS}", channel_id=f"C{100 + n % CHANNELS}")
    for attempt in range(1, 6):
        found = OPENED.search(reply.body) if reply.status == 200 else None
        if found:
            return int(found.group(1))
        # Not acked (the replica died, or the claim is still in flight): Slack's retry.
        await asyncio.sleep(IN_FLIGHT.total_seconds() + 1)
        reply = await driver.raw(reply.request_body, FORM, headers={
            "X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_error"})
    raise AssertionError(f"/recover {n} never acked: {reply.status} {reply.body[:200]}")


def posted(slack, kind: str) -> Counter:
    """How often each card (case number) or nudge (key) went out, acknowledged or not."""
    seen: Counter = Counter()
    for call in slack.calls_to("chat.postMessage"):
        meta = call.arg("metadata")
        if isinstance(meta, str):
            meta = json.loads(meta)
        if isinstance(meta, dict) and meta.get("event_type") == kind and call.ok:
            payload = meta.get("event_payload") or {}
            seen[payload.get("case") if kind == CARD_METADATA_TYPE else payload.get("key")] += 1
    return seen


async def test_three_replicas_one_killed_every_case_card_and_nudge_once(
        database, slack, tmp_path):
    url = database.url
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MEND_"))}
    env.update({"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack.api_url, "MEND_DATABASE_URL": url,
                "MEND_SWEEP_SECONDS": "1", "MEND_DB": str(tmp_path / "unused.db"),
                "PYTHONPATH": str(ROOT)})
    for n in range(0, COMMANDS, CHANNELS):
        slack.add_user(f"U{100 + n // CHANNELS}", name=f"agent{n}", tz="Europe/London")
    replicas = [Replica(f"r{i}", env, tmp_path) for i in range(REPLICAS)]
    proxy = RoundRobin(replicas)
    for replica in replicas:
        await replica.start()
    try:
        await asyncio.gather(*(r.ready() for r in replicas))
        # Nudges go out at any hour of any day in this workspace.
        await sql(url, "INSERT INTO workspaces (team_id, created_at, work_days, work_start, "
                  "work_end) VALUES ('T1', %s, 'mon,tue,wed,thu,fri,sat,sun', '00:00', '23:59')",
                  [to_iso(datetime.now(UTC))])
        address = await proxy.start()
        async with MendDriver(address, SECRET, slack, team_id="T1", timeout=60) as driver:
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(n: int) -> int:
                async with gate:
                    return await recover(driver, n)

            first = await asyncio.gather(*(one(n) for n in range(400)))
            # 200 of those cases' follow-ups fall due now.
            due = to_iso(datetime.now(UTC) - timedelta(seconds=1))
            numbers = sorted(first)[:DUE]
            await sql(url, "UPDATE cases SET next_followup_at = %s WHERE team_id = 'T1' AND "
                      "number = ANY(%s)", [due, numbers])
            await sql(url, "UPDATE timers SET at = %s, due_key = %s WHERE team_id = 'T1' AND "
                      "kind = 'followup' AND case_id IN (SELECT id FROM cases WHERE "
                      "team_id = 'T1' AND number = ANY(%s))", [due, due, numbers])
            rest = asyncio.gather(*(one(n) for n in range(400, COMMANDS)))
            midway: dict = {}

            async def chaos() -> str:
                # Once nudges are going out, kill whoever sends them, mid-way.
                for _ in range(600):
                    if len(posted(slack, NUDGE_METADATA_TYPE)) >= 20:
                        break
                    await asyncio.sleep(0.05)
                holder = (await sql(url, "SELECT holder FROM leases WHERE name = 'nudger'"))
                name = holder[0][0].split("/")[0] if holder else "r0"
                victim = next((r for r in replicas if r.name == name), replicas[0])
                midway.update(commands_done=rest.done(),
                              nudges=len(posted(slack, NUDGE_METADATA_TYPE)))
                victim.kill()
                await victim.proc.wait()
                await asyncio.sleep(1.0)
                await victim.start()  # the same replica, started again
                await victim.ready()
                return victim.name

            killed, later = await asyncio.gather(chaos(), rest)
            acked = [*first, *later]

        # Everything settles: every card posted, every due follow-up nudged.
        for _ in range(900):
            cards = (await sql(url, "SELECT COUNT(*) FROM cases WHERE card_state = 'posted'"))
            sent = await sql(url, "SELECT COUNT(*) FROM nudges WHERE kind = 'followup' AND "
                             "state = 'sent'")
            if cards[0][0] >= COMMANDS and sent[0][0] >= DUE:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)  # anything still to go out twice would have by now

        assert killed in {r.name for r in replicas}
        # Killed mid-way: /recover still coming in, nudges half sent.
        assert not midway["commands_done"] and midway["nudges"] < DUE, midway
        # Every acked case exists, once, with its opening event.
        assert len(acked) == COMMANDS and len(set(acked)) == COMMANDS
        rows = await sql(url, "SELECT c.number, COUNT(e.id) FROM cases c LEFT JOIN events e "
                         "ON e.case_id = c.id AND e.kind = 'opened' WHERE c.team_id = 'T1' "
                         "GROUP BY c.number")
        assert sorted(n for n, _ in rows) == sorted(acked)
        assert all(opened == 1 for _, opened in rows)
        # Every card and every nudge reached Slack exactly once.
        cards = posted(slack, CARD_METADATA_TYPE)
        assert set(cards) == set(acked) and max(cards.values()) == 1, cards.most_common(3)
        nudges = posted(slack, NUDGE_METADATA_TYPE)
        assert len(nudges) >= DUE and max(nudges.values()) == 1, nudges.most_common(3)
        states = dict(await sql(url, "SELECT state, COUNT(*) FROM nudges WHERE kind = "
                                "'followup' GROUP BY state"))
        assert states.get("sent") == DUE, states
    finally:
        if proxy.session:
            await proxy.stop()
        await asyncio.gather(*(r.stop() for r in replicas))
