"""Mend installed through OAuth in several workspaces, over HTTP against the stand-in:
the install flow, a token per workspace for every call, refreshes under rotation,
uninstalls and purges."""

from __future__ import annotations

import asyncio
import html
import os
import re
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta

import aiohttp
import pytest
import yaml

from bot.runtime.clients import NotInstalled
from bot.runtime.config import DEFAULT_PLAYBOOK, ROOT, ConfigError, Settings, from_env
from bot.runtime.distribution import SCOPES
from bot.runtime.installations import REDIRECT_PATH
from bot.storage.sqlite import Store
from handlers.events import EVENTS
from handlers.ids import NUDGE_METADATA_TYPE
from handlers.installs import INSTALL_EVENTS
from standin import MendDriver, SlackStandIn
from tests.helpers import APP_TOKEN, BOT_TOKEN, LA_MORNING, SECRET, start_mend

TEAMS = {"T1": ("U1", "C1"), "T2": ("U7", "C2")}  # each workspace's agent and channel


@pytest.fixture
async def grid():
    """The stand-in with two workspaces, each with its own people and channel."""
    async with SlackStandIn(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as stand_in:
        stand_in.add_workspace("T2", "Beta")
        stand_in.add_user("U1", name="maria", tz="America/Los_Angeles", team_id="T1")
        stand_in.add_user("U7", name="tomas", tz="America/Los_Angeles", team_id="T2")
        stand_in.add_channel("C1", "support", team_id="T1")
        stand_in.add_channel("C2", "help", team_id="T2")
        yield stand_in


def distributed(slack: SlackStandIn, db_path: str, **changes) -> Settings:
    return Settings(bot_token="", signing_secret=SECRET, app_token=None, api_url=slack.api_url,
                    port=0, db_path=db_path, playbook_path=str(DEFAULT_PLAYBOOK),
                    client_id=slack.oauth_client_id, client_secret=slack.oauth_client_secret,
                    **changes)


def base(running) -> str:
    return running.url.removesuffix("/slack/events")


async def install(running, team: str, user: str, extra: str = "") -> str:
    """Add to Slack as a browser does: Mend's install page, the authorise page, back to
    Mend's redirect with the state cookie. Returns the page Mend finally shows."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base(running)}/slack/install") as page:
            assert page.status == 200
            cookie = page.headers["Set-Cookie"].split(";")[0]
            link = html.unescape(re.search(r'href="([^"]*oauth/v2/authorize[^"]*)"',
                                           await page.text()).group(1))
        async with http.get(f"{link}&team={team}&user={user}{extra}", allow_redirects=False) as ok:
            assert ok.status == 302
            back = ok.headers["Location"]
        async with http.get(back, headers={"Cookie": cookie}) as done:
            assert done.status == 200, await done.text()
            return await done.text()


@pytest.fixture
async def two(grid, tmp_path, clock):
    """Mend installed in T1 and T2 through /slack/install."""
    clock.set(LA_MORNING)
    running = await start_mend(distributed(grid, str(tmp_path / "mend.db")), clock)
    grid.oauth_redirect_uri = f"{base(running)}/slack/oauth_redirect"
    for team, (user, _) in TEAMS.items():
        await install(running, team, user)
    yield running
    await running.stop()


async def open_due_in(running, slack, clock, team: str, text: str) -> int:
    user, channel = TEAMS[team]
    async with MendDriver(running.url, SECRET, slack, team_id=team) as driver:
        await driver.command(text, user_id=user, channel_id=channel)
    await running.settle()
    life = running.mend.deps.lifecycle
    await life.set_followup(team, 1, user, clock.now() + timedelta(hours=1))
    return 1


def nudges_in(slack, channel):
    return [m for m in slack.messages(channel)
            if (m.get("metadata") or {}).get("event_type") == NUDGE_METADATA_TYPE]


def web_api_calls(slack):
    return [c for c in slack.calls if c.method != "oauth.v2.access"]


async def test_two_workspaces_each_use_their_own_token_everywhere(two, grid, clock):
    assert [c.args.get("grant_type", "authorization_code")
            for c in grid.calls_to("oauth.v2.access")] == ["authorization_code"] * 2
    for team, (user, _) in TEAMS.items():
        assert await two.store.leads(team) == [user]  # the installer is the first lead
    await open_due_in(two, grid, clock, "T1", "customer Acme: order two weeks late")
    await open_due_in(two, grid, clock, "T2", "customer Beta: charged twice")
    clock.advance(hours=1)
    await two.mend.nudger.sweep()
    await two.settle()
    for team, (_, channel) in TEAMS.items():
        assert len(nudges_in(grid, channel)) == 1, team
        token = grid.tokens_of(team)[-1]  # T1 also has the stand-in's own xoxb-test
        posts = [c for c in grid.calls_to("chat.postMessage") if c.args["channel"] == channel]
        assert len(posts) == 2 and all(c.token == token for c in posts)  # card and nudge
    calls = web_api_calls(grid)
    assert calls and all(c.ok for c in calls), [(c.method, c.error) for c in calls if not c.ok]
    assert {c.team_id for c in calls} == {"T1", "T2"}
    assert BOT_TOKEN not in {c.token for c in calls}  # no call used another workspace's

    # Neither workspace reads or changes the other's case #1.
    t1 = await two.store.case_by_number("T1", 1)
    async with MendDriver(two.url, SECRET, grid, team_id="T2") as t2:
        reply = await t2.command("case 1", user_id="U7", channel_id="C2")
        assert "Acme" not in str(reply.json) and "Beta" in str(reply.json)
        await t2.command("close 1 spam", user_id="U7", channel_id="C2")
    await two.settle()
    assert (await two.store.case_by_number("T1", 1)).status == t1.status
    assert [e.kind for e in await two.store.events("T1", t1.id)][:2] == ["opened", "card_posted"]


async def test_uninstall_stops_every_pending_nudge_and_purge_leaves_nothing(two, grid, clock):
    for team in TEAMS:
        await open_due_in(two, grid, clock, team, f"customer {team}: order lost")
    clock.advance(hours=1)
    nudger = two.mend.nudger
    await nudger.work.plan("T2", clock.now())  # T2's nudge is in the outbox, not yet sent
    case = await two.store.case_by_number("T2", 1)
    assert [n.state for n in await two.store.nudges_for_case("T2", case.id)] == ["pending"]
    grid.uninstall("T2")
    async with MendDriver(two.url, SECRET, grid, team_id="T2") as t2:
        reply = await t2.event({"type": "app_uninstalled"})
        assert reply.status == 200
    assert [n.state for n in await two.store.nudges_for_case("T2", case.id)] == ["cancelled"]
    await nudger.sweep()
    await two.settle()
    assert nudges_in(grid, "C2") == [] and len(nudges_in(grid, "C1")) == 1
    assert not [c for c in web_api_calls(grid) if c.team_id == "T2" and not c.ok]
    assert not [c for c in grid.calls if c.error in ("token_revoked", "invalid_auth")]
    with pytest.raises(NotInstalled):
        await two.mend.deps.clients.for_team("T2")
    clock.advance(days=3)
    await nudger.sweep()
    await two.settle()
    assert nudges_in(grid, "C2") == []
    assert (await two.store.case_by_number("T2", 1)) is not None  # kept for the period

    # Reinstalled within the period: the case is there again, and its work resumes.
    await install(two, "T2", "U7")
    assert (await two.store.case_by_number("T2", 1)).summary
    assert "T2" in await two.store.active_workspaces()

    # Uninstalled again, and purged at once: no row of T2 left anywhere.
    async with MendDriver(two.url, SECRET, grid, team_id="T2") as t2:
        await t2.event({"type": "app_uninstalled"})
    deleted = await two.store.purge_workspace("T2")
    assert deleted["cases"] == 1 and deleted["events"] >= 2
    assert rows_of(two.store.path, "T2") == {}
    assert rows_of(two.store.path, "T1")["cases"] == 1


def rows_of(path: str, team: str) -> dict[str, int]:
    """Rows mentioning `team` in any column of any table."""
    conn = sqlite3.connect(path)
    found = {}
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        columns = [c[1] for c in conn.execute(f'PRAGMA table_info("{table}")')]
        where = " OR ".join(f'"{c}" = ?' for c in columns)
        count = conn.execute(f'SELECT COUNT(*) FROM "{table}" WHERE {where}',
                             [team] * len(columns)).fetchone()[0]
        if count:
            found[table] = count
    conn.close()
    return found


async def test_the_scheduler_purges_after_the_retention_period(two, grid, clock):
    await open_due_in(two, grid, clock, "T2", "customer Beta: order lost")
    async with MendDriver(two.url, SECRET, grid, team_id="T2") as t2:
        await t2.event({"type": "tokens_revoked", "tokens": {"bot": ["UBOTT2"]}})
    clock.advance(days=29)
    assert (await two.mend.nudger.sweep()).purged == []
    clock.advance(days=2)
    assert (await two.mend.nudger.sweep()).purged == ["T2"]
    assert rows_of(two.store.path, "T2") == {}


async def test_with_rotation_two_processes_refresh_an_expired_token_once(grid, tmp_path, clock):
    grid.token_lifetime = 1  # the install's token expires in a second
    path = str(tmp_path / "mend.db")
    first = await start_mend(distributed(grid, path), clock)
    second = await start_mend(distributed(grid, path), clock)
    try:
        grid.oauth_redirect_uri = f"{base(first)}/slack/oauth_redirect"
        await install(first, "T2", "U7")
        grid.token_lifetime = 12 * 3600  # refreshed tokens last twelve hours
        await asyncio.sleep(1.1)
        [old] = grid.tokens_of("T2")
        clients = await asyncio.gather(*(m.mend.deps.clients.for_team("T2")
                                         for m in (first, second, first, second)))
        refreshes = [c for c in grid.calls_to("oauth.v2.access")
                     if c.args.get("grant_type") == "refresh_token"]
        assert len(refreshes) == 1 and refreshes[0].ok
        assert {c.token for c in clients} == {grid.tokens_of("T2")[-1]} != {old}
        await (await second.mend.deps.clients.for_team("T2")).users_info(user="U7")
        assert grid.calls_to("users.info")[-1].ok
        row = await Store(path).installation(None, "T2")
        assert row["bot_token_expires_at"] > time.time() + 11 * 3600
    finally:
        await second.stop()
        await first.stop()


# -- settings, the manifest and the command line -----------------------------------------
def test_client_id_without_bot_token_means_installs_through_oauth():
    env = {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s", "SLACK_SIGNING_SECRET": "x"}
    settings = from_env(env)
    assert settings.distributed and settings.retention_days == 30
    assert from_env({**env, "MEND_RETENTION_DAYS": "7"}).retention_days == 7
    assert not from_env({**env, "SLACK_BOT_TOKEN": "xoxb-1"}).distributed  # as today
    with pytest.raises(ConfigError, match="SLACK_CLIENT_SECRET"):
        from_env({"SLACK_CLIENT_ID": "1.2", "SLACK_SIGNING_SECRET": "x"})
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        from_env({"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s"})


def test_distributed_manifest_asks_for_what_mend_handles():
    one = yaml.safe_load((ROOT / "app.yaml").read_text())
    many = yaml.safe_load((ROOT / "app.distributed.yaml").read_text())
    assert many["features"] == one["features"]
    assert set(many["oauth_config"]["scopes"]["bot"]) == set(SCOPES)
    assert set(one["oauth_config"]["scopes"]["bot"]) == set(SCOPES)
    assert [u.endswith(REDIRECT_PATH) for u in many["oauth_config"]["redirect_urls"]] == [True]
    events = set(many["settings"]["event_subscriptions"]["bot_events"])
    assert events == set(EVENTS) | set(INSTALL_EVENTS)
    settings = many["settings"]
    assert settings["org_deploy_enabled"] and settings["token_rotation_enabled"]
    assert settings["socket_mode_enabled"] is False


async def test_purge_on_the_command_line_prints_what_it_deleted(two, grid, clock):
    await open_due_in(two, grid, clock, "T2", "customer Beta: order lost")
    async with MendDriver(two.url, SECRET, grid, team_id="T2") as t2:
        await t2.event({"type": "app_uninstalled"})
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot", "purge", "--team", "T2"], cwd=ROOT,
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "MEND_DB": two.store.path})
    assert done.returncode == 0, done.stderr
    assert "cases: 1" in done.stdout and "purged T2:" in done.stdout
    assert rows_of(two.store.path, "T2") == {}
    assert rows_of(two.store.path, "T1")  # the other workspace is untouched


async def test_an_org_wide_install_serves_every_workspace_of_its_grid(grid, tmp_path, clock):
    grid.add_workspace("T3", "Gamma", enterprise_id="E1")
    grid.add_workspace("T4", "Delta", enterprise_id="E1")
    grid.add_user("U9", team_id="T4")
    running = await start_mend(distributed(grid, str(tmp_path / "mend.db")), clock)
    try:
        grid.oauth_redirect_uri = f"{base(running)}/slack/oauth_redirect"
        await install(running, "T3", "U8", "&org=1")
        store, clients = running.store, running.mend.deps.clients
        row = await store.installation_at("E1", "")
        assert row["is_enterprise_install"] == 1 and row["bot_token"].startswith("xoxb-T3")
        assert await store.installation("E1", "T4") == row  # found from the request
        assert await store.installation(None, "T4") is None  # grid not known yet
        await clients.note_team("T4", "E1")  # a request from T4 said which grid
        client = await clients.for_team("T4")  # work no request started
        assert client.token == row["bot_token"]
        await client.users_info(user="U9")
        assert grid.calls_to("users.info")[-1].ok
        await running.mend.deps.store.mark_uninstalled("E1", None, "2026-11-27T00:00:00Z")
        with pytest.raises(NotInstalled):
            await clients.for_team("T4")
    finally:
        await running.stop()
