"""Shared fixtures: a Slack stand-in on loopback and Mend serving HTTP against it."""

from __future__ import annotations

import pytest

from bot.runtime.clock import ManualClock
from bot.runtime.config import DEFAULT_PLAYBOOK, Settings
from standin import MendDriver, SlackStandIn
from tests.helpers import APP_TOKEN, BOT_TOKEN, SECRET, start_mend


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
