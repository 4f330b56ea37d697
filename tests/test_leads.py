"""Leads: lists, App Home, outcomes, the weekly digest and exports."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.ids import Action
from tests.helpers import SECRET, THURSDAY, all_text, assert_valid_blocks, lead, numbers, start_mend

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clock(clock):
    clock.set(THURSDAY)
    return clock


async def seed(mend, slack, slack_user, clock):
    """Five cases: three in C1 (U1), one in C2 (U2, private to U2 and the lead), one unowned."""
    slack.add_channel("C2", name="vip", members=["U2", "ULEAD"])
    texts = [("customer Acme: charged twice for one order", "U1", "C1"),
             ("customer Bolt: waited on hold for an hour", "U1", "C1"),
             ("customer Cora: the agent was rude to her", "U1", "C1"),
             ("customer Dune: wrong information about the warranty", "U2", "C2"),
             ("customer Echo: parcel never arrived, late delivery", "U1", "C1")]
    for text, user, channel in texts:
        await slack_user.command(text, user_id=user, channel_id=channel)
    await mend.settle()
    life = mend.mend.deps.lifecycle
    await life.set_followup("T1", 1, "U1", clock.now() + timedelta(hours=5))
    await life.set_followup("T1", 2, "U1", clock.now() + timedelta(minutes=30))
    clock.advance(hours=1)  # case 2 is now overdue
    await life.release("T1", 5, "U1")


async def test_empty_workspace_has_nothing_in_play(mend, slack_user):
    await lead(mend)
    reply = await slack_user.command("open", user_id="ULEAD")
    assert "No cases in play" in all_text(reply.json["blocks"])


async def test_open_lists_most_urgent_first_with_the_columns(mend, slack, slack_user, clock):
    await seed(mend, slack, slack_user, clock)
    await lead(mend)
    reply = await slack_user.command("open", user_id="ULEAD")
    blocks = reply.json["blocks"]
    assert_valid_blocks(blocks)
    assert numbers(blocks)[:2] == [2, 1]  # overdue first, then due soonest
    text = all_text(blocks)
    assert "*overdue*" in text and "_waiting for an owner_" in text and "checklist 0/5" in text
    assert "Bolt" in text and "Long wait" in text and "1h old" in text


@pytest.mark.parametrize("filters, expected", [
    ("mine", [2, 1, 3]),
    ("<@U2|kofi>", [4]),
    ("unowned", [5]),
    ("overdue", [2]),
    ("<#C2|vip>", [4]),
    ("billing", [1]),
    ("mine overdue", [2]),
    ("unowned <#C1|support>", [5]),
])
async def test_filters_combine(mend, slack, slack_user, clock, filters, expected):
    await seed(mend, slack, slack_user, clock)
    await lead(mend, "U1")
    reply = await slack_user.command(f"open {filters}", user_id="U1")
    assert numbers(reply.json["blocks"]) == expected


async def test_unknown_filter_is_explained(mend, slack_user):
    reply = await slack_user.command("open purple")
    assert "don't know the filter `purple`" in all_text(reply.json["blocks"])


async def test_who_sees_what(mend, slack, slack_user, clock):
    await seed(mend, slack, slack_user, clock)
    await lead(mend)
    await slack_user.command("open", user_id="U1")  # not a lead: answered after the ack
    await mend.settle()
    seen_by_u1 = numbers(slack.responses[-1]["body"]["blocks"])
    assert 4 not in seen_by_u1 and sorted(seen_by_u1) == [1, 2, 3, 5]
    reply = await slack_user.command("open", user_id="ULEAD")
    assert sorted(numbers(reply.json["blocks"])) == [1, 2, 3, 4, 5]
    await slack_user.command("open", user_id="U2")
    await mend.settle()
    assert sorted(numbers(slack.responses[-1]["body"]["blocks"])) == [1, 2, 3, 4, 5]


async def test_more_than_twenty_rows_page_in_place(mend, slack, slack_user, clock):
    await lead(mend)
    for i in range(25):
        await slack_user.command(f"customer C{i}: waited on hold", user_id="U1")
    reply = await slack_user.command("open", user_id="ULEAD")
    first = reply.json["blocks"]
    assert len(numbers(first)) == 20 and "showing 1–20" in all_text(first)
    page = {"ts": "1.1", "blocks": first}
    await slack_user.block_action(Action.OPEN_NEXT, user_id="ULEAD",
                                  value=json.dumps({"q": "", "o": 20}))
    await mend.settle()
    second = slack.responses[-1]["body"]
    assert second["replace_original"] is True and page
    assert len(numbers(second["blocks"])) == 5 and "Previous" in all_text(second["blocks"])
    assert set(numbers(first)).isdisjoint(numbers(second["blocks"]))


async def test_stats_are_for_leads_and_come_from_the_timeline(mend, slack, slack_user, clock):
    await seed(mend, slack, slack_user, clock)
    reply = await slack_user.command("stats 30d", user_id="U1")
    assert "for leads" in all_text(reply.json["blocks"])
    await lead(mend)
    clock.advance(hours=1)
    await slack_user.command("step 1 apologize", user_id="U1")
    await slack_user.command("step 2 apologize", user_id="U1")
    clock.advance(hours=1)
    await slack_user.command("resolve 1 refunded the double charge", user_id="U1")
    await slack_user.command("stats 7d", user_id="ULEAD")  # computed after the ack
    await mend.settle()
    blocks = slack.responses[-1]["body"]["blocks"]
    assert_valid_blocks(blocks)
    text = all_text(blocks)
    assert "Opened 5 · resolved 1 · closed 0 · reopened 0" in text
    assert "time to the apology" in text and "2.0h" in text  # both apologies 2h in
    assert "By category" in text and "Billing" in text and "By owner" in text
    bad = await slack_user.command("stats forever", user_id="ULEAD")
    assert "7d" in all_text(bad.json["blocks"])


async def test_app_home_for_an_agent_and_for_a_lead(mend, slack, slack_user, clock):
    await seed(mend, slack, slack_user, clock)
    await lead(mend)
    for user in ("U1", "ULEAD"):
        await slack_user.event({"type": "app_home_opened", "user": user, "tab": "home"})
    await mend.settle()
    homes = {c.arg("user_id"): c.arg("view") for c in slack.calls_to("views.publish")}
    agent, boss = all_text(homes["U1"]["blocks"]), all_text(homes["ULEAD"]["blocks"])
    assert "My cases" in agent and "Team view" not in agent and "*#5*" in agent
    assert "Team view" in boss and "overdue now: 1" in boss
    assert_valid_blocks(homes["ULEAD"]["blocks"], limit=100)
    before = len(slack.calls_to("views.publish"))
    await slack_user.command("assign 3 <@U2|kofi>", user_id="U1")  # touches U2? not seen
    await slack_user.command("note 1 called her", user_id="U1")
    await mend.settle()
    assert len(slack.calls_to("views.publish")) > before  # U1's home refreshed


async def test_weekly_digest_is_sent_once_even_across_a_restart(settings, slack, clock):
    clock.set(THURSDAY)
    running = await start_mend(settings, clock)
    try:
        from standin import MendDriver

        await lead(running, "ULEAD")
        async with MendDriver(running.url, SECRET, slack) as driver:
            await driver.command("customer Acme: charged twice", user_id="U1")
            reply = await driver.command("settings digest thu 17:30", user_id="ULEAD")
            assert "Thu 17:30" in all_text(reply.json["blocks"])
            await driver.command("settings lead-channel <#CLEADS|leads>", user_id="ULEAD")
        for _ in range(2):
            await running.mend.nudger.sweep()
            await running.settle()
    finally:
        await running.stop()
    again = await start_mend(settings, clock)
    try:
        clock.advance(hours=2)
        await again.mend.nudger.sweep()
        await again.settle()
    finally:
        await again.stop()
    digests = [m for m in slack.messages("CLEADS") if "weekly digest" in all_text(m["blocks"])]
    assert len(digests) == 1
    assert_valid_blocks(digests[0]["blocks"])
    assert "Opened 1" in all_text(digests[0]["blocks"])


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_export_sends_the_lead_a_csv_checked_row_by_row(mend, slack, slack_user, clock):
    await seed(mend, slack, slack_user, clock)
    await lead(mend)
    await slack_user.command("note 1 =cmd|' /C calc'!A0", user_id="U1")  # a formula attempt
    reply = await slack_user.command("export 30d", user_id="ULEAD")
    assert "direct message" in all_text(reply.json["blocks"])
    await mend.settle()
    assert slack.calls_to("files.getUploadURLExternal")
    [complete] = slack.calls_to("files.completeUploadExternal")
    assert complete.ok
    [stored] = [f for f in slack.files.values() if f["completed"]]
    rows = read_csv(stored["bytes"].decode("utf-8-sig"))  # Excel wants the BOM
    expected = []
    for number in range(1, 6):
        case = await mend.store.case_by_number("T1", number)
        expected += [(str(number), e.kind, e.at) for e in await mend.store.events("T1", case.id)]
    assert [(r["case"], r["event"], r["event_at"]) for r in rows] == expected
    first = rows[0]
    assert (first["customer"], first["category"], first["owner"]) == ("Acme", "billing_error",
                                                                     "U1")
    note = [r for r in rows if r["event"] == "note"][0]
    assert note["event_text"].startswith("'=cmd")  # kept as text, defused
    assert "{" not in "".join(note.values())  # flat columns, no JSON
    assert first["owner_name"] == "maria" and first["category_name"] == "Billing error"
    assert slack.calls_to("files.completeUploadExternal")[0].arg("channel_id") is not None


async def test_command_line_export_matches(settings, tmp_path):
    from bot.domain.models import NewCase
    from bot.domain.times import to_iso
    from bot.storage.sqlite import Store

    store = Store(settings.db_path)
    now = datetime.now(UTC)
    fields = dict(channel_id="C1", reporter_id="U1", owner_id="U1", summary="late, again",
                  category="broken_promise", emotion="upset", contact="email",
                  severity="normal", customer="Acme, Inc.")
    await store.create_cases([NewCase("T1", fields, "U1", to_iso(now - timedelta(days=3)))])
    await store.create_cases([NewCase("T1", fields, "U1", to_iso(now - timedelta(days=40)))])
    await store.close()
    result = subprocess.run([sys.executable, "-m", "bot", "export", "--since", "30d"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=30,
                            env={**os.environ, "MEND_DB": settings.db_path,
                                 "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    rows = read_csv(result.stdout)
    assert [(r["case"], r["event"], r["customer"]) for r in rows] == [
        ("1", "opened", "Acme, Inc.")]


async def test_a_case_in_a_channel_you_are_not_in_is_not_shown(mend, slack, slack_user,
                                                                 clock):
    await seed(mend, slack, slack_user, clock)  # case 4 lives in C2: U2 and the lead only
    await lead(mend)
    await slack_user.command("case 4", user_id="U1", channel_id="C1")
    await mend.settle()
    assert "no case #4" in json.dumps(slack.responses[-1]["body"])
    reply = await slack_user.command("case 4", user_id="U2", channel_id="C1")
    assert "Dune" in all_text(reply.json["blocks"])
    reply = await slack_user.command("case 1", user_id="U3", channel_id="C1")
    assert "Acme" in all_text(reply.json["blocks"])  # typed in the case's own channel


async def test_a_case_you_may_not_see_cannot_be_taken_or_noted_either(mend, slack,
                                                                      slack_user, clock):
    await seed(mend, slack, slack_user, clock)
    await lead(mend)
    await mend.mend.deps.lifecycle.release("T1", 4, "U2")  # case 4 is in C2, unowned now
    for command in ("take 4", "note 4 hello", "assign 4 <@U1|maria>"):
        await slack_user.command(command, user_id="U1", channel_id="C1")
        await mend.settle()
        assert "no case #4" in json.dumps(slack.responses[-1]["body"]), command
    case = await mend.store.case_by_number("T1", 4)
    assert case.owner_id is None
    assert "note" not in [e.kind for e in await mend.store.events("T1", case.id)]


async def test_another_wording_is_only_for_the_reporter_owner_or_a_lead(mend, slack,
                                                                         slack_user, clock):
    await seed(mend, slack, slack_user, clock)
    before = len(slack.responses)
    await slack_user.block_action(Action.ANOTHER_WORDING, value="4:0", user_id="U1")
    await mend.settle()
    assert len(slack.responses) == before


def test_p90_is_the_nearest_rank():
    from bot.domain.reports import Spread

    assert Spread.of([float(i) for i in range(1, 11)]).p90 == 9.0
    assert Spread.of([float(i) for i in range(1, 31)]).p90 == 27.0
    assert Spread.of([5.0]).p90 == 5.0


async def test_stats_count_missed_followups_and_only_real_satisfaction_checks(
        mend, slack, slack_user, clock):
    await lead(mend)
    await slack_user.command("customer Acme: charged twice", user_id="U1")
    await slack_user.command("customer Bolt: waited on hold", user_id="U1")
    await mend.settle()
    life = mend.mend.deps.lifecycle
    for n in (1, 2):
        await life.set_followup("T1", n, "U1", clock.now() + timedelta(hours=1))
    clock.advance(minutes=30)
    await life.followup_done("T1", 1, "U1")  # on time
    clock.advance(hours=2)
    await mend.mend.nudger.sweep()  # case 2's follow-up fell due and was missed
    await mend.settle()
    await life.assign("T1", 2, "ULEAD", "U2")  # reassigned later: still owned from the start
    await life.close("T1", 2, "ULEAD", "customer declined the satisfaction survey")
    await life.resolve("T1", 1, "U1", "refunded")
    await life.step("T1", 1, "U1", "follow-up")  # the real satisfaction check: closes case 1
    await slack_user.command("stats 7d", user_id="ULEAD")
    await mend.settle()
    text = all_text(slack.responses[-1]["body"]["blocks"])
    # case 1's follow-up and its satisfaction check done in time, case 2's missed
    assert "done before they fell due: 67% (2/3)" in text, text.split("Follow-ups")[1][:60]
    assert "satisfaction follow-ups completed: 1" in text
    table = text.split("time to an owner")[1].split("\\n")[0]
    assert "0m" in table and table.rstrip().endswith("2")


def test_command_line_export_refuses_a_broken_database_in_one_line(tmp_path):
    bad = tmp_path / "not-a-db.db"
    bad.write_text("hello")
    for env, needle in (({"MEND_DB": str(bad)}, "Cannot read the database at"),
                        ({"MEND_DB": str(tmp_path / "missing.db")}, "no database")):
        result = subprocess.run([sys.executable, "-m", "bot", "export", "--since", "30d"],
                                cwd=tmp_path, capture_output=True, text=True, timeout=30,
                                env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
        assert result.returncode == 2 and needle in result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.lower().count("cannot read") <= 1  # said once, not twice
    odd = subprocess.run([sys.executable, "-m", "bot", "export", "--since", "²d"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=30,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert odd.returncode == 2 and "Traceback" not in odd.stderr


async def test_a_page_past_the_end_shows_the_last_page(mend, slack, slack_user):
    await lead(mend)
    for i in range(3):
        await slack_user.command(f"customer C{i}: waited on hold", user_id="U1")
    for value in ('{"q": "", "o": 40}', '{"q": "", "o": 1e999}'):
        await slack_user.block_action(Action.OPEN_NEXT, user_id="ULEAD", value=value)
        await mend.settle()
    body = slack.responses[-1]["body"]
    assert "showing 1–3" in all_text(body["blocks"])


async def test_working_days_may_wrap_around_the_weekend(mend, slack_user):
    await lead(mend, "ULEAD")
    reply = await slack_user.command("settings hours fri-mon 10:00-16:00", user_id="ULEAD")
    assert "Fri, Sat, Sun, Mon 10:00–16:00" in all_text(reply.json["blocks"])
    reply = await slack_user.command("settings timezone europe/paris", user_id="ULEAD")
    assert "Europe/Paris" in all_text(reply.json["blocks"])
