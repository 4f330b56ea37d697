"""Shared fixtures: a Slack stand-in on loopback and Mend serving HTTP against it."""

from __future__ import annotations

import dataclasses

import pytest

from bot.app import Mend
from bot.runtime.clock import ManualClock
from bot.runtime.config import DEFAULT_PLAYBOOK, Settings
from standin import MendDriver, SlackStandIn

SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test"
APP_TOKEN = "xapp-test"


@pytest.fixture
async def slack():
    """The stand-in for Slack's Web API; assertions read what reached it."""
    async with SlackStandIn(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as stand_in:
        stand_in.add_user("U1", name="maria", tz="America/Los_Angeles")
        stand_in.add_user("U2", name="kofi", tz="Asia/Kolkata")
        yield stand_in


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def settings(slack, tmp_path):
    return Settings(
        bot_token=BOT_TOKEN,
        signing_secret=SECRET,
        app_token=None,
        api_url=slack.api_url,
        port=0,
        db_path=str(tmp_path / "mend.db"),
        playbook_path=str(DEFAULT_PLAYBOOK),
    )


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


PACE = 0.05  # seconds between messages to one channel (Slack's is about 1)


async def start_mend(settings: Settings, clock) -> Running:
    mend = await Mend.start(settings, clock=clock, retry_backoff=0.01, pace_seconds=PACE,
                            run_scheduler=False)
    runner = await mend.serve_http("127.0.0.1", 0)
    port = runner.addresses[0][1]
    running = Running(mend, runner, f"http://127.0.0.1:{port}/slack/events")
    await running.settle()
    return running


@pytest.fixture
async def mend(settings, clock):
    running = await start_mend(settings, clock)
    yield running
    await running.stop()


@pytest.fixture
async def slack_user(mend, slack):
    """Sends requests to Mend signed exactly as Slack signs them."""
    async with MendDriver(mend.url, SECRET, slack, team_id="T1") as driver:
        yield driver


def replace_settings(settings: Settings, **changes) -> Settings:
    return dataclasses.replace(settings, **changes)
