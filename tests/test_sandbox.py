"""The sandbox without a browser: its JSON API over HTTP, its clock, its safety rules.

`start_sandbox` runs the real thing (stand-in, page server, Mend over HTTP) on loopback;
these tests drive the page's API the way app.js does and read what the page would show.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bot.runtime.clock import Clock, ManualClock, SandboxClock
from bot.runtime.config import ROOT
from bot.runtime.sandbox import (
    TEAM2_ID,
    TEAM2_NAME,
    TEAM_ID,
    SandboxError,
    check_database,
    start_sandbox,
)
from handlers.ids import NUDGE_METADATA_TYPE
from standin.sandbox import REQUIRED, slack_format

MARIA, KOFI, ANA, LEE = "U01MARIA", "U02KOFI", "U03ANA", "U09LEE"
SUPPORT, VIP = "C01SUPPORT", "C02VIPSUPPORT"
REPORT = "for Dana Lee: charged twice for her order, she emailed us furious"
STATIC = ROOT / "standin" / "static"


class Page:
    """Calls the sandbox's API as app.js does."""

    def __init__(self, sandbox, session: aiohttp.ClientSession):
        self.sandbox, self.session = sandbox, session
        self.base = sandbox.url.rstrip("/")

    async def post(self, path: str, body: dict, status: int = 200) -> dict:
        async with self.session.post(self.base + path, json=body) as resp:
            assert resp.status == status, await resp.text()
            return await resp.json()

    async def state(self, user: str = MARIA, where: str = SUPPORT) -> dict:
        async with self.session.get(f"{self.base}/ui/state",
                                    params={"user": user, "channel": where}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def send(self, text: str, user: str = MARIA, channel: str = SUPPORT) -> dict:
        return await self.post("/ui/send", {"user": user, "channel": channel, "text": text})

    async def click(self, user: str, message: dict, action_id: str, **extra) -> dict:
        if message.get("ephemeral"):
            source = {"kind": "ephemeral", "id": message["id"], "channel": SUPPORT}
        else:
            source = {"kind": "message", "ts": message["ts"], "channel": SUPPORT}
        return await self.post("/ui/action", {"user": user, "source": source,
                                              "action_id": action_id, **extra})

    async def card(self, user: str = MARIA, number: int = 1) -> dict:
        state = await self.state(user)
        return next(m for m in state["messages"]
                    if not m["ephemeral"] and text_of(m).startswith(f"*Case #{number}"))


def text_of(message: dict) -> str:
    """All text in a message's blocks (the page renders the same strings)."""
    out = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                out.append(node["text"])
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    return "\n".join(out) or message.get("text", "")


def action_ids(message: dict) -> set[str]:
    ids = set()
    for block in message.get("blocks") or []:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if isinstance(element, dict) and element.get("action_id"):
                ids.add(element["action_id"])
    return ids


@pytest.fixture
async def sandbox(tmp_path):
    sb = await start_sandbox(0, tmp_path / "sandbox.db", run_scheduler=False, pace_seconds=0.05)
    yield sb
    await sb.close()


@pytest.fixture
async def page(sandbox):
    async with aiohttp.ClientSession() as session:
        yield Page(sandbox, session)


# -- the page and its guard rails -------------------------------------------------------
async def test_page_and_its_assets_are_served_locally_with_a_strict_policy(sandbox, page):
    assert sandbox.url.startswith("http://127.0.0.1:")
    async with page.session.get(sandbox.url) as resp:
        html = await resp.text()
        policy = resp.headers["Content-Security-Policy"]
    assert resp.status == 200 and "/static/app.js" in html and "/static/app.css" in html
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing from elsewhere
    for name in ("app.js", "app.css"):
        async with page.session.get(f"{page.base}/static/{name}") as resp:
            assert resp.status == 200 and resp.headers["X-Content-Type-Options"] == "nosniff"
    async with page.session.get(f"{page.base}/static/..%2Fsandbox.py") as resp:
        assert resp.status == 404


async def test_requests_from_other_sites_or_hosts_are_refused(page):
    body = {"user": MARIA, "channel": SUPPORT, "text": "/recover help"}
    async with page.session.post(f"{page.base}/ui/send", data=body) as resp:
        assert resp.status == 415  # a cross-site form post cannot send JSON
    async with page.session.post(f"{page.base}/ui/send", json=body,
                                 headers={"Origin": "http://evil.example"}) as resp:
        assert resp.status == 403
    async with page.session.get(f"{page.base}/ui/state",
                                headers={"Host": "evil.example"}) as resp:
        assert resp.status == 421  # DNS rebinding
    await page.post("/ui/send", {**body, "user": "UNOBODY"}, status=400)
    await page.post("/ui/send", {**body, "channel": "CNOWHERE"}, status=400)


def test_everything_listens_on_loopback_only():
    sandbox = ROOT / "bot" / "runtime" / "sandbox.py"
    source = (ROOT / "standin" / "sandbox.py").read_text() + sandbox.read_text()
    assert "0.0.0.0" not in source


# -- a command, a click, a modal ------------------------------------------------------
async def test_command_answers_privately_and_posts_the_card(sandbox, page):
    reply = await page.send(f"/recover {REPORT}")
    assert reply["ok"] and reply["elapsed_ms"] < 3000
    mine = (await page.state(MARIA))["messages"]
    [playbook] = [m for m in mine if m["ephemeral"]]
    assert "Case #1 opened" in text_of(playbook) and "To say" in text_of(playbook)
    [card] = [m for m in mine if not m["ephemeral"]]
    assert card["author"]["bot"] and "Dana Lee" in text_of(card)
    assert "<@U01MARIA>" in text_of(card)
    theirs = (await page.state(KOFI))["messages"]
    assert [m["ts"] for m in theirs] == [card["ts"]]  # Kofi sees the card, not the playbook
    assert (await page.state(MARIA, VIP))["messages"] == []


async def test_unknown_command_is_answered_like_slack(page):
    await page.send("/nope now")
    [answer] = (await page.state())["messages"]
    assert answer["ephemeral"] and "/nope is not a valid command" in answer["text"]


async def test_plain_messages_are_posted_as_the_user_escaped(page):
    await page.send("hello @kofi, see #vip-support <b>now</b>")
    [msg] = (await page.state(KOFI))["messages"]
    assert msg["author"] == {"id": MARIA, "name": "Maria", "bot": False}
    assert msg["text"] == ("hello <@U02KOFI|kofi>, see <#C02VIPSUPPORT|vip-support> "
                           "&lt;b&gt;now&lt;/b&gt;")


async def test_take_ownership_click_as_another_agent(sandbox, page):
    await page.send(f"/recover {REPORT}")
    await page.send("/recover release 1")
    card = await page.card(KOFI)
    assert "case_take" in action_ids(card) and "_nobody yet_" in text_of(card)
    result = await page.click(KOFI, card, "case_take")
    assert result == {"ok": True, "status": 200}
    card = await page.card(KOFI)
    assert "*Owner*\n<@U02KOFI>" in text_of(card) and "case_take" not in action_ids(card)
    assert (await sandbox.mend.deps.store.case_by_number(TEAM_ID, 1)).owner_id == KOFI


async def test_modal_round_trip_with_errors_then_success(sandbox, page):
    await page.send(f"/recover {REPORT}")
    await page.click(MARIA, await page.card(), "case_followup")
    modal = (await page.state(MARIA))["modal"]
    assert modal["view"]["callback_id"] == "mend_followup" and modal["errors"] == {}
    assert (await page.state(KOFI))["modal"] is None  # only the one who clicked sees it
    assert sandbox.standin.view_users[modal["view"]["id"]] == MARIA
    view_id = modal["view"]["id"]

    answer = await page.post("/ui/submit", {"user": MARIA, "view_id": view_id, "values": {}})
    assert "followup_quick" in answer["errors"]  # Mend's response_action: errors
    modal = (await page.state(MARIA))["modal"]
    assert modal["view"]["id"] == view_id and "quick choice" in modal["errors"]["followup_quick"]

    choice = {"followup_quick": {"quick": {
        "type": "radio_buttons",
        "selected_option": {"text": {"type": "plain_text", "text": "In 1 hour"},
                            "value": "in_1h"}}}}
    answer = await page.post("/ui/submit", {"user": MARIA, "view_id": view_id, "values": choice})
    assert answer == {"ok": True, "closed": True}
    assert (await page.state(MARIA))["modal"] is None
    case = await sandbox.mend.deps.store.case_by_number(TEAM_ID, 1)
    due = datetime.fromisoformat(case.next_followup_at)
    assert abs(due - (sandbox.clock.now() + timedelta(hours=1))) < timedelta(minutes=1)


async def test_required_fields_are_checked_before_anything_is_sent(sandbox, page):
    await page.send(f"/recover {REPORT}")
    await page.click(MARIA, await page.card(), "case_note")
    view_id = (await page.state())["modal"]["view"]["id"]
    sent = len(sandbox.standin.calls)
    answer = await page.post("/ui/submit", {"user": MARIA, "view_id": view_id, "values": {}})
    assert answer == {"ok": False, "errors": {"note_text": REQUIRED}}
    assert (await page.state())["modal"]["errors"] == {"note_text": REQUIRED}
    assert len(sandbox.standin.calls) == sent


async def test_update_replaces_the_modal_and_an_empty_ack_closes_it(sandbox, page):
    await page.send("/recover")  # the intake form, opened with the command's trigger
    modal = (await page.state())["modal"]
    assert modal["view"]["callback_id"] == "mend_intake"
    values = {"intake_what": {"what": {"type": "plain_text_input",
                                       "value": "waited 50 minutes on hold"}},
              "intake_severity": {"severity": {"type": "static_select", "selected_option": {
                  "text": {"type": "plain_text", "text": "Normal"}, "value": "normal"}}}}
    answer = await page.post("/ui/submit", {"user": MARIA, "view_id": modal["view"]["id"],
                                            "values": values})
    assert answer == {"ok": True, "updated": True}
    modal = (await page.state())["modal"]
    assert modal["view"]["title"]["text"] == "Case #1" and "submit" not in modal["view"]
    await page.post("/ui/close", {"user": MARIA, "view_id": modal["view"]["id"]})
    assert (await page.state())["modal"] is None
    assert await page.card()  # the card went out too


async def test_response_url_posts_reach_only_the_clicker_and_can_replace(sandbox, page):
    await page.send("/recover help")
    [help_message] = (await page.state())["messages"]
    ui = sandbox.ui
    url = ui._response_url(MARIA, SUPPORT, None, ("ephemeral", help_message["id"]))
    async with page.session.post(url, json={"text": "Replaced", "replace_original": True}):
        pass
    url = ui._response_url(MARIA, SUPPORT, None, None)
    async with page.session.post(url, json={"text": "Just for you"}):
        pass
    shown = [m["text"] for m in (await page.state())["messages"]]
    assert shown == ["Replaced", "Just for you"]
    assert (await page.state(KOFI))["messages"] == []


async def test_a_click_in_an_ephemeral_reaches_mend(sandbox, page):
    await page.send(f"/recover {REPORT}")
    await page.send("/recover for Dana Lee: she was charged a third time")
    offer = next(m for m in (await page.state())["messages"]
                 if m["ephemeral"] and "merge_into" in action_ids(m))
    assert (await page.click(MARIA, offer, "merge_into"))["ok"]
    store = sandbox.mend.deps.store
    assert (await store.case_by_number(TEAM_ID, 2)).status == "closed"
    assert any("Added to case #1" in m["text"] for m in (await page.state())["messages"]
               if m["ephemeral"])


async def test_an_export_arrives_in_the_leads_messages_and_downloads(sandbox, page):
    await page.send(f"/recover {REPORT}", user=LEE)
    await page.send("/recover export 30d", user=LEE)
    await sandbox.settle()
    [message] = (await page.state(LEE, f"D{LEE}"))["messages"]
    [file] = message["files"]
    url = f"{page.base}/ui/files/{file['id']}"
    async with page.session.get(url, params={"user": LEE}) as resp:
        assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
        assert "Dana Lee" in (await resp.text())
    async with page.session.get(url, params={"user": MARIA}) as resp:
        assert resp.status == 404  # someone else's direct message
    async with page.session.get(f"{page.base}/ui/state",
                                params={"user": MARIA, "channel": f"D{LEE}"}) as resp:
        assert resp.status == 400


async def test_standin_helpers_the_sandbox_uses(sandbox):
    s = sandbox.standin
    posted = s.add_message(SUPPORT, "hello", user=MARIA)
    s.edit_message(SUPPORT, posted["ts"], text="changed", blocks=[])
    assert s.messages(SUPPORT)[-1]["text"] == "changed"
    assert s.remove_message(SUPPORT, posted["ts"]) and not s.remove_message(SUPPORT, "1.0")
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "One"}, "blocks": []}
    first = s.put_view(modal, user=MARIA)
    second = s.put_view({**modal, "title": {"type": "plain_text", "text": "Two"}},
                        previous_id=first["id"])
    assert second["previous_view_id"] == first["id"]
    assert s.put_view(modal, view_id=second["id"])["title"]["text"] == "One"
    assert s.view_users[first["id"]] == MARIA
    with pytest.raises(Exception, match="invalid"):
        s.put_view({"type": "modal", "blocks": [{"type": "nope"}]})


async def test_dismiss_removes_an_ephemeral(page):
    await page.send("/recover help")
    [message] = (await page.state())["messages"]
    assert (await page.post("/ui/dismiss", {"user": KOFI, "id": message["id"]}))["ok"] is False
    assert (await page.post("/ui/dismiss", {"user": MARIA, "id": message["id"]}))["ok"] is True
    assert (await page.state())["messages"] == []


async def test_home_tab_is_published_when_opened_and_leads_are_marked(sandbox, page):
    state = await page.state(LEE, "home")
    assert state["home"] is None
    assert {u["id"]: u["roles"] for u in state["users"]} == {
        MARIA: [], KOFI: [], ANA: [], LEE: ["lead"]}
    assert (await page.post("/ui/home", {"user": LEE}))["ok"]
    home = (await page.state(LEE, "home"))["home"]
    assert home["type"] == "home" and home["blocks"]
    assert sandbox.standin.home[LEE]["id"] == home["id"]


# -- time --------------------------------------------------------------------------------
def test_sandbox_clock_is_real_time_plus_what_was_skipped():
    clock = SandboxClock()
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)
    clock.skip(timedelta(hours=3))
    assert clock.offset == timedelta(hours=3)
    assert abs(clock.now() - datetime.now(UTC) - timedelta(hours=3)) < timedelta(seconds=1)
    with pytest.raises(ValueError):
        clock.skip(timedelta(minutes=-1))
    assert not hasattr(Clock(), "skip") and not hasattr(ManualClock(), "skip")


async def test_only_the_sandbox_clock_moves(sandbox, page):
    assert sandbox.mend.deps.clock is sandbox.clock
    before = time.time()
    answer = await page.post("/ui/skip", {"user": MARIA, "by": "1d"})
    assert answer["ok"] and answer["skipped_seconds"] == 86400 and "sweep" in answer
    assert sandbox.clock.offset == timedelta(days=1)
    assert (await page.state())["offset_seconds"] == 86400
    assert abs(time.time() - before) < 60  # the process's own time did not move
    await page.send("/recover help")  # the stand-in (Slack) keeps real time
    [message] = (await page.state())["messages"]
    assert abs(float(message["ts"]) - time.time()) < 60
    assert message["shown_ms"] / 1000 - time.time() > 86000  # shown at sandbox time


@pytest.mark.parametrize("user", [MARIA, KOFI, ANA, LEE])
async def test_skip_to_morning_lands_at_nine_in_the_users_zone(sandbox, user):
    delta = sandbox.ui.skip_delta({"by": "morning"}, user)
    assert timedelta(0) < delta <= timedelta(hours=24, minutes=1)
    zone = ZoneInfo(sandbox.standin.user(user)["tz"])
    landed = (sandbox.clock.now() + delta).astimezone(zone)
    assert (landed.hour, landed.minute) == (9, 0)


async def test_bad_skips_are_refused(page):
    for body in ({"by": "1y"}, {"minutes": -5}, {"minutes": 10 ** 9}, {"minutes": True}):
        await page.post("/ui/skip", {"user": MARIA, **body}, status=400)


def to_next(sandbox, user: str, weekday: int, hour: int, minute: int = 0) -> timedelta:
    """How far to skip for the next `weekday` (0 = Monday) at hour:minute, user's time."""
    zone = ZoneInfo(sandbox.standin.user(user)["tz"])
    now = sandbox.clock.now()
    local = now.astimezone(zone)
    day = local.date() + timedelta(days=(weekday - local.weekday()) % 7 or 7)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone) - now


async def skip_until_nudged(page, user: str, card_ts: str) -> dict:
    """Skip past the follow-up, then to the next mornings (weekends, night) until the
    owner's nudge arrives in the card's thread."""
    for by in ("1h", "morning", "morning", "morning", "morning"):
        await page.post("/ui/skip", {"user": user, "by": by})
        card = next(m for m in (await page.state(user))["messages"] if m["ts"] == card_ts)
        nudges = [r for r in card["replies"] if "nudge_done" in action_ids(r)]
        if nudges:
            return nudges[0]
    raise AssertionError("no nudge after skipping ahead")


async def test_skip_ahead_brings_the_nudge_and_done_answers_it(sandbox, page):
    sandbox.clock.skip(to_next(sandbox, MARIA, 2, 10))  # Wednesday, 10:00 in Los Angeles
    await page.send(f"/recover {REPORT}")
    card = await page.card()
    await page.click(MARIA, card, "case_followup")
    view_id = (await page.state())["modal"]["view"]["id"]
    choice = {"followup_quick": {"quick": {"type": "radio_buttons", "selected_option": {
        "text": {"type": "plain_text", "text": "In 1 hour"}, "value": "in_1h"}}}}
    await page.post("/ui/submit", {"user": MARIA, "view_id": view_id, "values": choice})

    nudge = await skip_until_nudged(page, MARIA, card["ts"])
    assert "<@U01MARIA>" in text_of(nudge)
    sent = [m for m in sandbox.standin.messages(SUPPORT)
            if (m.get("metadata") or {}).get("event_type") == NUDGE_METADATA_TYPE]
    assert sent and all(m["thread_ts"] == card["ts"] for m in sent)

    await page.click(MARIA, nudge, "nudge_done")
    card = next(m for m in (await page.state())["messages"] if m["ts"] == card["ts"])
    answered = next(r for r in card["replies"] if r["ts"] == nudge["ts"])
    assert "Follow-up recorded by <@U01MARIA>" in text_of(answered)
    assert "nudge_done" not in action_ids(answered)


async def test_a_nudge_due_on_friday_evening_waits_for_monday_morning(sandbox, page):
    sandbox.clock.skip(to_next(sandbox, KOFI, 4, 17, 30))  # Friday 17:30 in Accra
    await page.send(f"/recover {REPORT}", user=KOFI)
    card = await page.card(KOFI)
    await page.click(KOFI, card, "case_followup")
    view_id = (await page.state(KOFI))["modal"]["view"]["id"]
    choice = {"followup_quick": {"quick": {"type": "radio_buttons", "selected_option": {
        "text": {"type": "plain_text", "text": "In 1 hour"}, "value": "in_1h"}}}}
    await page.post("/ui/submit", {"user": KOFI, "view_id": view_id, "values": choice})
    zone = ZoneInfo("Africa/Accra")
    seen = []
    for by in ("1h", "morning", "morning", "morning"):  # 18:30 Fri, Sat, Sun, Mon 09:00
        await page.post("/ui/skip", {"user": KOFI, "by": by})
        card = next(m for m in (await page.state(KOFI))["messages"] if m["ts"] == card["ts"])
        local = sandbox.clock.now().astimezone(zone)
        seen.append((local.strftime("%a %H:%M"), len(card["replies"])))
    assert seen == [("Fri 18:30", 0), ("Sat 09:00", 0), ("Sun 09:00", 0), ("Mon 09:00", 1)]
    assert "<@U02KOFI>" in text_of(card["replies"][0])


async def test_scheduler_sweeps_on_its_own(tmp_path):
    sandbox = await start_sandbox(0, tmp_path / "s.db", sweep_seconds=0.05, pace_seconds=0.01)
    try:
        holder = sandbox.mend.nudger.holder
        await asyncio.sleep(0.3)
        row = sandbox.mend.deps.store.db.conn.execute(
            "SELECT holder FROM leases WHERE name = 'nudger'").fetchone()
        assert row is not None and row[0] == holder
    finally:
        await sandbox.close()


# -- safety --------------------------------------------------------------------------------
def test_page_script_never_parses_data_as_html():
    script = (STATIC / "app.js").read_text()
    code = "\n".join(line for line in script.splitlines()
                     if not line.strip().startswith("//"))
    for sink in ("outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "DOMParser", "createContextualFragment", "srcdoc", "javascript:"):
        assert sink not in code, sink
    assignments = re.findall(r"innerHTML\s*\+?=\s*([^;\n]*)", code)
    assert all(value.strip() in ('""', "''", "``") for value in assignments), assignments
    assert re.search(r"\.(href|src)\s*=", code) is None  # no URLs set from data
    html = (STATIC / "index.html").read_text()
    assert "<script>" not in html and not re.search(r"\son[a-z]+\s*=", html, re.I)


async def test_hostile_text_reaches_the_page_as_escaped_data(sandbox, page):
    hostile = "for Eve: <script>alert(1)</script> <img src=x onerror=alert(1)> & co"
    await page.send(f"/recover {hostile}")
    case = await sandbox.mend.deps.store.case_by_number(TEAM_ID, 1)
    assert "<img src=x onerror=alert(1)>" in case.summary  # Mend read it as typed
    card = await page.card()
    text = text_of(card)
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "<img" not in text
    assert "&lt;script&gt;" in text and "&amp; co" in text


def test_typed_text_is_formatted_as_slack_sends_it():
    users = [{"id": MARIA, "name": "maria", "real_name": "Maria"}]
    channels = [{"id": SUPPORT, "name": "support"}]
    assert slack_format("assign 2 @maria.", users, channels) == "assign 2 <@U01MARIA|maria>."
    assert slack_format("@Maria in #support", users, channels) == \
        "<@U01MARIA|maria> in <#C01SUPPORT|support>"
    assert slack_format("a<b & c>d @here", users, channels) == "a&lt;b &amp; c&gt;d <!here>"
    assert slack_format("see https://x.test/a?b=1.", users, channels) == \
        "see <https://x.test/a?b=1>."
    assert slack_format("me@x.test @nobody #nowhere", users, channels) == \
        "me@x.test @nobody #nowhere"


def database_with(path: Path, table: str, *team_ids: str) -> None:
    """A database file with one table of `team_id`s, as a real workspace's would have."""
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE {table} (team_id TEXT)")
    conn.executemany(f"INSERT INTO {table} VALUES (?)", [(t,) for t in team_ids])
    conn.commit()
    conn.close()


def test_a_database_with_a_real_workspace_is_refused(tmp_path):
    path = tmp_path / "mend.db"
    database_with(path, "workspaces", "T0REAL")
    with pytest.raises(SandboxError, match="T0REAL"):
        check_database(path)
    check_database(tmp_path / "absent.db")


async def test_start_refuses_a_real_database_even_when_asked_to_empty_it(tmp_path):
    path = tmp_path / "mend.db"
    database_with(path, "cases", "T0REAL")
    with pytest.raises(SandboxError):
        await start_sandbox(0, path, fresh=True, run_scheduler=False)
    assert path.exists()


# -- the command line ------------------------------------------------------------------------
@contextlib.contextmanager
def sandbox_process(*args: str) -> Iterator[subprocess.Popen]:
    """`python -m bot sandbox --port 0 *args`, killed afterwards if it is still running."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MEND_DB", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", "0", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def served(url: str) -> bytes:
    """The body of a page the sandbox serves, which must answer 200."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.status == 200
        return resp.read()


def stop_with_ctrl_c(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0


def test_python_m_bot_sandbox_prints_the_address_and_stops_on_ctrl_c(tmp_path):
    with sandbox_process("--db", str(tmp_path / "cli.db")) as proc:
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line + proc.stderr.read()
        assert b"Mend sandbox" in served(match.group(0))
        stop_with_ctrl_c(proc)
    assert Path(tmp_path / "cli.db").exists()


def test_sandbox_command_line_errors_exit_2(tmp_path):
    from bot.__main__ import main

    assert main(["sandbox", "--port", "70000"]) == 2
    path = tmp_path / "real.db"
    database_with(path, "workspaces", "T0REAL")
    assert main(["sandbox", "--port", "0", "--db", str(path)]) == 2


# -- two workspaces -------------------------------------------------------------------------
TOMAS, AIKO, HELP = "U21TOMAS", "U22AIKO", "C21HELP"
REPORT2 = "customer: Globex, waited 50 minutes on hold and got cut off"


@pytest.fixture
async def two(tmp_path):
    sb = await start_sandbox(0, tmp_path / "two.db", run_scheduler=False, pace_seconds=0.05,
                             two_workspaces=True)
    async with aiohttp.ClientSession() as session:
        yield sb, Page(sb, session)
    await sb.close()


async def test_each_workspace_shows_only_its_own_channels_and_people(two):
    sandbox, page = two
    first, second = await page.state(MARIA), await page.state(TOMAS, HELP)
    assert [t["id"] for t in first["teams"]] == [TEAM_ID, TEAM2_ID]
    assert first["team"]["id"] == TEAM_ID and second["team"] == {"id": TEAM2_ID,
                                                                 "name": TEAM2_NAME}
    assert [c["id"] for c in first["channels"]] == [SUPPORT, VIP]
    assert [c["id"] for c in second["channels"]] == [HELP]
    assert {u["id"]: u["team"] for u in second["users"]}[AIKO] == TEAM2_ID
    assert (await page.state(TOMAS, ""))["where"] == HELP  # their workspace's first channel
    for user, where in ((TOMAS, SUPPORT), (MARIA, HELP)):  # no peeking into the other
        async with page.session.get(f"{page.base}/ui/state",
                                    params={"user": user, "channel": where}) as resp:
            assert resp.status == 400
    await page.post("/ui/send", {"user": TOMAS, "channel": SUPPORT, "text": "hi"}, status=400)


async def test_two_workspaces_keep_their_cases_apart_each_with_its_own_token(two):
    sandbox, page = two
    await page.send(f"/recover {REPORT}")  # Maria, #support: case #1 of the first
    await page.send(f"/recover {REPORT2}", user=TOMAS, channel=HELP)  # #1 of the second
    await sandbox.settle()
    store = sandbox.mend.deps.store
    assert (await store.case_by_number(TEAM_ID, 1)).customer == "Dana Lee"
    assert (await store.case_by_number(TEAM2_ID, 1)).customer == "Globex"
    assert await store.leads(TEAM2_ID) == [TOMAS] and await store.leads(TEAM_ID) == [LEE]
    [card] = [m for m in (await page.state(AIKO, HELP))["messages"] if not m["ephemeral"]]
    assert "Globex" in text_of(card) and "Dana Lee" not in text_of(card)
    # Case #1 is, to each workspace, its own: the other's is never shown or touched.
    await page.send("/recover case 1", user=TOMAS, channel=HELP)
    shown = [text_of(m) for m in (await page.state(TOMAS, HELP))["messages"] if m["ephemeral"]]
    assert "Globex" in shown[-1] and "Dana Lee" not in shown[-1]
    await page.send("/recover release 1", user=TOMAS, channel=HELP)
    await page.send("/recover take 1", user=AIKO, channel=HELP)
    assert (await store.case_by_number(TEAM2_ID, 1)).owner_id == AIKO
    assert (await store.case_by_number(TEAM_ID, 1)).owner_id == MARIA
    await page.send("/recover open", user=LEE)
    listed = [text_of(m) for m in (await page.state(LEE))["messages"] if m["ephemeral"]][-1]
    assert "Dana Lee" in listed and "Globex" not in listed
    # Every Web API call carried the token Mend was given for the workspace it acted on.
    s = sandbox.standin
    tokens = {team: set(s.tokens_of(team)) - {s.bot_token} for team in (TEAM_ID, TEAM2_ID)}
    assert all(len(found) == 1 for found in tokens.values()) and \
        tokens[TEAM_ID] != tokens[TEAM2_ID]
    calls = [c for c in s.calls if c.method != "oauth.v2.access"]
    assert calls and all(c.ok and c.token in tokens[c.team_id] for c in calls)
    posts = {c.args["channel"]: c.team_id for c in s.calls_to("chat.postMessage")}
    assert posts == {SUPPORT: TEAM_ID, HELP: TEAM2_ID}


async def test_split_page_frames_one_person_of_each_workspace(two):
    sandbox, page = two
    async with page.session.get(f"{page.base}/split") as resp:
        body, policy = await resp.text(), resp.headers["Content-Security-Policy"]
        assert resp.status == 200 and resp.headers["X-Frame-Options"] == "SAMEORIGIN"
    frames = re.findall(r'<iframe[^>]*src="([^"]*)"', body)
    assert frames == [f"/?user={MARIA}", f"/?user={TOMAS}"]
    assert "frame-ancestors 'self'" in policy and "unsafe-inline" not in policy
    assert "Maria in Mend sandbox" in body and f"Tomás in {TEAM2_NAME}" in body
    async with page.session.get(f"{page.base}/split",
                                params={"left": KOFI, "right": AIKO}) as resp:
        assert re.findall(r'src="([^"]*)"', await resp.text())[-2:] == [
            f"/?user={KOFI}", f"/?user={AIKO}"]
    async with page.session.get(f"{page.base}/split", params={"left": "<x>"}) as resp:
        assert resp.status == 400


def test_a_database_of_the_two_sandbox_workspaces_is_accepted(tmp_path):
    path = tmp_path / "two.db"
    database_with(path, "cases", TEAM_ID, TEAM2_ID)
    check_database(path)  # no error: both are the sandbox's own


def test_python_m_bot_sandbox_two_workspaces_prints_the_side_by_side_page(tmp_path):
    with sandbox_process("--two-workspaces", "--db", str(tmp_path / "two-cli.db")) as proc:
        lines = [proc.stdout.readline() for _ in range(5)]
        printed = "".join(lines)
        assert "second workspace: Tomás (Europe/Madrid), Aiko (Asia/Tokyo) in #help" in \
            printed, printed + proc.stderr.read()
        split = re.search(r"side by side: (http://127\.0\.0\.1:\d+/split)", printed)
        assert split, printed
        assert served(split.group(1)).count(b"<iframe") == 2
        stop_with_ctrl_c(proc)
