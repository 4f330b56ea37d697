"""Shared fixtures: a Slack stand-in on loopback and Mend serving HTTP against it."""

from __future__ import annotations

import os

import pytest

from bot.runtime.clock import ManualClock
from bot.runtime.config import DEFAULT_PLAYBOOK, Settings
from standin import MendDriver, SlackStandIn
from tests.helpers import APP_TOKEN, BOT_TOKEN, ENGINES, SECRET, Database, start_mend


def pytest_generate_tests(metafunc):
    """`engine`: every test with a database runs on SQLite and on PostgreSQL, unless an
    `engines(…)` mark names the engines it is about."""
    if "engine" in metafunc.fixturenames:
        named = metafunc.definition.get_closest_marker("engines")
        engines = named.args if named else ENGINES
        metafunc.parametrize("engine", engines, scope="function")


@pytest.fixture
async def database(engine, tmp_path):
    """A fresh database of the test's engine. Without a PostgreSQL server for the tests
    (MEND_TEST_DATABASE_URL) its tests skip, or fail when MEND_REQUIRE_POSTGRES=1."""
    server = os.environ.get("MEND_TEST_DATABASE_URL")
    if engine == "postgres" and not server:
        if os.environ.get("MEND_REQUIRE_POSTGRES") == "1":
            pytest.fail("MEND_REQUIRE_POSTGRES=1 but MEND_TEST_DATABASE_URL is not set")
        pytest.skip("no PostgreSQL server for the tests (MEND_TEST_DATABASE_URL)")
    db = await Database(engine, tmp_path, server).create()
    yield db
    await db.drop()


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
def settings(slack, tmp_path, database):
    return database.settings(Settings(
        bot_token=BOT_TOKEN,
        signing_secret=SECRET,
        app_token=None,
        api_url=slack.api_url,
        port=0,
        db_path=str(tmp_path / "mend.db"),
        playbook_path=str(DEFAULT_PLAYBOOK),
    ))


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
