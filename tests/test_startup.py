"""Starting Mend: settings, the database, the manifest, health, Socket Mode."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import aiohttp
import aiohttp.web
import pytest
import yaml

from bot import __version__
from bot.app import Mend
from bot.runtime.config import ConfigError, from_env
from bot.runtime.logs import WithholdContent
from bot.storage.sqlite import SCHEMA_VERSION, Store, StoreError
from handlers.coach import SHORTCUTS
from handlers.commands import COMMANDS
from handlers.events import EVENTS
from handlers.ids import Shortcut
from standin import sign_request
from tests.helpers import APP_TOKEN, DANA_REPORT, SECRET, all_text, replace_settings

ROOT = Path(__file__).resolve().parent.parent
GOOD = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


def run_mend(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MEND_"))}
    clean.update(env)
    return subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, env={
        **clean, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=30)


def test_without_credentials_mend_explains_what_to_set_and_opens_the_sandbox(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MEND_"))}
    real = tmp_path / "real.db"  # the real Mend's database: the sandbox must not touch it
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--port", "0", "--db", str(tmp_path / "sandbox.db")],
        cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**clean, "PYTHONPATH": str(ROOT), "MEND_DB": str(real)})
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if "http://127.0.0.1:" in line:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    output = "".join(seen)
    assert "SLACK_BOT_TOKEN" in output and "SLACK_APP_TOKEN" in output
    assert "sandbox" in output and "http://127.0.0.1:" in output
    assert "Traceback" not in output and proc.returncode == 0
    assert (tmp_path / "sandbox.db").exists() and not real.exists()


def test_a_partial_setup_is_one_clear_line_not_the_sandbox(tmp_path):
    result = run_mend({"SLACK_BOT_TOKEN": "xoxb-1"}, tmp_path)
    assert result.returncode == 2 and "SLACK_SIGNING_SECRET" in result.stderr


@pytest.mark.parametrize("env, names", [
    ({**GOOD, "PORT": "eighty"}, "PORT"),
    ({**GOOD, "SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN"),
    ({**GOOD, "SLACK_API_URL": "ftp://nope"}, "SLACK_API_URL"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
    ({**GOOD, "SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN"),
    ({**GOOD, "MEND_LEADS": "maria"}, "MEND_LEADS"),
])
def test_malformed_setting_is_one_clear_line(env, names):
    with pytest.raises(ConfigError) as err:
        from_env(env)
    assert names in str(err.value) and "\n" not in str(err.value)


def test_malformed_setting_exits_2_without_traceback(tmp_path):
    result = run_mend({**GOOD, "PORT": "99999"}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "PORT" in result.stderr


def test_bad_playbook_exits_2_naming_the_line(tmp_path):
    bad = tmp_path / "playbook.yaml"
    bad.write_text("version: 1\nsteps: [\n")
    result = run_mend({**GOOD, "MEND_PLAYBOOK": str(bad), "MEND_DB": str(tmp_path / "x.db")},
                      tmp_path)
    assert result.returncode == 2 and "line" in result.stderr
    assert "Traceback" not in result.stderr


def test_defaults(monkeypatch):
    settings = from_env(GOOD)
    assert settings.port == 3000 and settings.api_url == "https://slack.com/api/"
    assert settings.db_path.endswith("data/mend.db") and not settings.socket_mode


async def test_migrations_run_once(tmp_path):
    path = tmp_path / "m.db"
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION
    assert store.migrate() == 0
    await store.close()
    again = Store(path)
    assert again.schema_version == SCHEMA_VERSION and again.migrate() == 0
    assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    await again.close()


async def test_database_from_newer_mend_is_refused(tmp_path):
    path = tmp_path / "m.db"
    await Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer Mend"):
        Store(path)


def manifest() -> dict:
    return yaml.safe_load((ROOT / "app.yaml").read_text())


def test_manifest_matches_registered_listeners():
    m = manifest()
    commands = {c["command"] for c in m["features"]["slash_commands"]}
    shortcuts = {s["callback_id"] for s in m["features"].get("shortcuts", [])}
    events = set(m["settings"]["event_subscriptions"]["bot_events"])
    assert commands == set(COMMANDS)
    assert events == set(EVENTS)
    assert shortcuts == {*SHORTCUTS, Shortcut.OPEN_CASE}
    assert m["settings"]["socket_mode_enabled"] is True
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["features"]["app_home"]["home_tab_enabled"] is True
    assert set(m["oauth_config"]["scopes"]["bot"]) == {
        "commands", "chat:write", "users:read", "channels:history", "groups:history",
        "channels:read", "groups:read", "im:write", "files:write", "reactions:read"}


async def test_every_declared_command_and_event_has_a_listener(mend, slack_user):
    m = manifest()
    for command in m["features"]["slash_commands"]:
        reply = await slack_user.command("help", command=command["command"])
        assert reply.status == 200, command
    for event in m["settings"]["event_subscriptions"]["bot_events"]:
        reply = await slack_user.event({"type": event, "user": "U1", "tab": "home"})
        assert reply.status == 200, event
    for shortcut in m["features"]["shortcuts"]:
        payload = {"type": "message_action", "callback_id": shortcut["callback_id"],
                   "team": {"id": "T1"}, "user": {"id": "U1"}, "channel": {"id": "C1"},
                   "message": {"text": "hello", "ts": "1.1"}, "trigger_id": "t",
                   "response_url": "http://127.0.0.1:9/x", "token": "x"}
        body = ("payload=" + quote(json.dumps(payload))).encode()
        reply = await slack_user.raw(body, "application/x-www-form-urlencoded",
                                     sign_request(SECRET, body))
        assert reply.status == 200, shortcut


async def test_unregistered_command_is_not_handled(mend, slack_user):
    reply = await slack_user.command("help", command="/not-ours")
    assert reply.status == 404


async def test_healthz_reports_database_and_version(mend):
    url = mend.url.replace("/slack/events", "/healthz")
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        body = await resp.json()
    assert resp.status == 200
    assert body["ok"] is True and body["database"] == "reachable"
    assert body["version"] == __version__


async def test_socket_mode_round_trip(settings, clock, slack):
    socket_settings = replace_settings(settings, app_token=APP_TOKEN, signing_secret=None)
    mend = await Mend.start(socket_settings, clock=clock, retry_backoff=0.01)
    handler = await mend.connect_socket()
    try:
        await slack.wait_socket_connected()
        payload = {"token": "x", "team_id": "T1", "channel_id": "C1", "user_id": "U1",
                   "command": "/recover", "text": DANA_REPORT, "trigger_id": "tr1",
                   "response_url": slack.response_url("sock"), "api_app_id": "A1"}
        ack = await slack.socket_send("slash_commands", payload)
        assert "Case #1 opened" in all_text(ack["payload"]["blocks"])
        await mend.deps.tasks.drain()
        assert len(slack.messages("C1")) == 1
        assert [c for c in slack.calls_to("apps.connections.open") if c.token == APP_TOKEN]
    finally:
        await handler.close_async()
        await mend.close()


async def test_mend_posts_only_to_configured_api_url(mend, slack, slack_user):
    await slack_user.command(DANA_REPORT)
    await mend.settle()
    assert {c.token for c in slack.calls} == {"xoxb-test"}
    assert all(c.ok for c in slack.calls), [(c.method, c.response) for c in slack.calls]


def mend_env(tmp_path: Path, api_url: str, **env: str) -> dict[str, str]:
    """The environment of a `python -m bot` started by a test: no stray settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MEND_"))}
    return {**clean, "PYTHONPATH": str(ROOT), "SLACK_API_URL": api_url,
            "SLACK_SIGNING_SECRET": "s", "MEND_DB": str(tmp_path / "m.db"), **env}


async def run_mend_against(slack, env: dict[str, str], tmp_path: Path, timeout: float = 30):
    """`python -m bot` in a process of its own, talking to the stand-in; (status, stderr).
    Asynchronous, so the stand-in keeps answering while Mend starts."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, env=mend_env(tmp_path, slack.api_url, **env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode, err.decode()


async def test_a_bot_token_slack_refuses_stops_start_up_with_one_line(slack, tmp_path):
    status, err = await run_mend_against(slack, {"SLACK_BOT_TOKEN": "xoxb-revoked"}, tmp_path)
    assert status == 2 and "Traceback" not in err
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in err
    assert "will be unused" not in err  # Bolt's warning about Mend's own client is noise


async def test_an_app_token_slack_refuses_stops_socket_mode_with_one_line(slack, tmp_path):
    status, err = await run_mend_against(
        slack, {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-wrong"}, tmp_path)
    assert status == 2 and "Traceback" not in err
    assert "Slack refused SLACK_APP_TOKEN" in err


async def test_a_port_in_use_is_one_line(slack, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, err = await run_mend_against(
            slack, {"SLACK_BOT_TOKEN": "xoxb-test", "PORT": str(port)}, tmp_path)
    assert status == 2 and "Traceback" not in err
    assert f"Cannot listen on port {port}" in err


@pytest.mark.parametrize("where", ["a directory", "not a database"])
def test_an_unusable_database_is_one_line(tmp_path, where):
    path = tmp_path / "db"
    if where == "a directory":
        path.mkdir()
    else:
        path.write_text("just some text\n" * 200)
    done = run_mend({**GOOD, "MEND_DB": str(path)}, tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"Cannot use the database at {path}" in done.stderr


def test_a_port_in_other_digits_is_refused_plainly(tmp_path):
    done = run_mend({**GOOD, "PORT": "²"}, tmp_path)
    assert done.returncode == 2 and "PORT must be a number" in done.stderr


def test_response_urls_in_library_lines_never_reach_the_log(tmp_path):
    script = ("from bot.runtime.logs import configure; import logging; configure(); "
              "logging.getLogger('slack_sdk.webhook.async_client').info("
              "'retrying POST https://hooks.slack.com/commands/T1/42/abcdef')")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=30, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "withheld" in done.stderr and "hooks.slack.com" not in done.stderr


def test_the_sandbox_tries_the_playbook_it_is_given(tmp_path):
    bad = tmp_path / "edited.yaml"
    bad.write_text("steps: [unclosed\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MEND_"))}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "sandbox", "--port", "0", "--db",
         str(tmp_path / "s.db")], cwd=tmp_path, capture_output=True, text=True, timeout=30,
        env={**clean, "PYTHONPATH": str(ROOT), "MEND_PLAYBOOK": str(bad)})
    assert done.returncode == 2 and "edited.yaml" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.fixture
async def silent_slack():
    """A Web API that accepts connections and never answers; its base URL."""
    async def hang(request):
        await asyncio.sleep(3600)

    app = aiohttp.web.Application()
    app.router.add_route("*", "/{tail:.*}", hang)
    runner = aiohttp.web.AppRunner(app, shutdown_timeout=0.5)  # its requests never end
    await runner.setup()
    await aiohttp.web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/api/"
    await runner.cleanup()


async def stop_when(proc, line: str) -> str:
    """Read the process's log until `line` appears, then SIGTERM it; all it logged."""
    seen = []
    try:
        while line not in "".join(seen):
            chunk = await asyncio.wait_for(proc.stderr.readline(), 30)
            if not chunk:
                raise AssertionError("".join(seen) or "no output")
            seen.append(chunk.decode())
        proc.terminate()
        rest = await asyncio.wait_for(proc.stderr.read(), 30)
        await asyncio.wait_for(proc.wait(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
    return "".join(seen) + rest.decode()


async def test_a_slack_that_never_answers_does_not_hold_up_start_up(tmp_path, silent_slack):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
        env=mend_env(tmp_path, silent_slack, PORT=str(port), SLACK_BOT_TOKEN="xoxb-1"))
    err = await stop_when(proc, "listening on port")
    assert proc.returncode == 0 and "Traceback" not in err
    assert "did not answer the token check" in err


async def test_socket_mode_stops_while_still_trying_to_connect(tmp_path, silent_slack):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, stderr=asyncio.subprocess.PIPE,
        env=mend_env(tmp_path, silent_slack, SLACK_BOT_TOKEN="xoxb-1",
                     SLACK_APP_TOKEN="xapp-1"))
    err = await stop_when(proc, "did not answer the token check")
    assert proc.returncode == 0 and "Traceback" not in err
    assert "stopped before Slack answered" in err


def _guarded_log(name: str) -> tuple[logging.Logger, io.StringIO]:
    """A library logger whose lines pass a handler guarded as configure() guards them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(WithholdContent())
    logger = logging.getLogger(name)
    logger.handlers, logger.propagate = [handler], False
    return logger, stream


def test_a_withheld_line_does_not_print_its_traceback():
    logger, stream = _guarded_log("slack_bolt.test_withheld")
    try:
        raise RuntimeError("posting to https://hooks.slack.com/commands/T1/42/secret failed")
    except RuntimeError:
        logger.exception("failed: url=https://hooks.slack.com/commands/T1/42/secret")
    out = stream.getvalue()
    assert "withheld" in out and "[RuntimeError]" in out and "hooks.slack.com" not in out


def test_a_malformed_library_log_call_is_withheld_not_raised():
    logger, stream = _guarded_log("slack_sdk.test_malformed")
    logger.error("two %s %s", "values expected")  # the library's bug, not a crash here
    assert "withheld" in stream.getvalue()


def run_cli(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=30,
                          env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT),
                               "HOME": str(tmp_path)})


def test_help_lists_the_sub_commands_and_starts_nothing(tmp_path):
    result = run_cli(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    for name in ("run", "sandbox", "export", "version"):
        assert f"\n  {name} " in result.stdout
    assert result.stderr == "" and not (tmp_path / "data").exists()  # no sandbox, no database


def test_every_sub_command_has_help(tmp_path):
    for name in ("run", "sandbox", "export", "version"):
        result = run_cli(tmp_path, name, "--help")
        assert result.returncode == 0, (name, result.stderr)
        assert result.stdout.startswith(f"usage: python -m bot {name}"), name
    assert not (tmp_path / "data").exists()


def test_an_unknown_sub_command_is_named_with_the_list(tmp_path):
    result = run_cli(tmp_path, "expor")
    assert result.returncode == 2 and "unknown sub-command 'expor'" in result.stderr
    assert "sandbox" in result.stderr
