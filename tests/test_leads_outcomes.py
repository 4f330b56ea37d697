"""Leads' outcomes: the on-time share of follow-ups, per-case counts, "This week",
and every owner accounted for in `/recover stats`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import THURSDAY, all_text, assert_valid_blocks, lead


@pytest.fixture
def clock(clock):
    clock.set(THURSDAY)  # 18:00 UTC: 10:00 in Los Angeles (U1)
    return clock


async def stats_text(mend, slack, slack_user, period: str = "7d") -> str:
    await slack_user.command(f"stats {period}", user_id="ULEAD")
    await mend.settle()
    blocks = slack.responses[-1]["body"]["blocks"]
    assert_valid_blocks(blocks)
    return all_text(blocks)


def on_time(text: str) -> str:
    return text.split("Follow-ups done before they fell due: ")[1].split(" ·")[0]


async def sweep(mend) -> None:
    await mend.mend.nudger.sweep()
    await mend.settle()


async def open_two(mend, slack_user):
    await lead(mend)
    await slack_user.command("customer Acme: charged twice", user_id="U1")
    await slack_user.command("customer Bolt: waited on hold", user_id="U1")
    await mend.settle()
    return mend.mend.deps.lifecycle


async def test_a_late_followup_counts_against_the_share_even_when_never_nudged(
        mend, slack, slack_user, clock):
    life = await open_two(mend, slack_user)
    await life.set_followup("T1", 1, "U1", clock.now() + timedelta(hours=1))
    # Due 06:00 UTC Friday, 22:00 Thursday in Los Angeles: outside U1's working hours,
    # so no nudge comes before it is done, two hours late.
    await life.set_followup("T1", 2, "U1", clock.now() + timedelta(hours=12))
    clock.advance(minutes=30)
    await life.followup_done("T1", 1, "U1")  # on time
    clock.advance(hours=11, minutes=30)
    await sweep(mend)
    clock.advance(hours=2)
    await sweep(mend)
    assert not [m for m in slack.messages("C1") if m.get("thread_ts")]  # never nudged
    await life.followup_done("T1", 2, "U1")
    assert on_time(await stats_text(mend, slack, slack_user)) == "50% (1/2)"


async def test_a_followup_snoozed_after_it_fell_due_counts_as_missed(
        mend, slack, slack_user, clock):
    life = await open_two(mend, slack_user)
    await life.set_followup("T1", 1, "U1", clock.now() + timedelta(hours=1))
    clock.advance(hours=2)  # due an hour ago, and not done
    await life.snooze("T1", 1, "U1", clock.now() + timedelta(hours=1))
    clock.advance(minutes=30)
    await life.followup_done("T1", 1, "U1")  # the snoozed one, in time
    # Case 2's first follow-up (due a day after opening) is not due yet: not counted.
    assert on_time(await stats_text(mend, slack, slack_user)) == "50% (1/2)"


async def test_a_followup_still_overdue_counts_against_the_share(
        mend, slack, slack_user, clock):
    life = await open_two(mend, slack_user)
    await life.set_followup("T1", 1, "U1", clock.now() + timedelta(hours=1))
    await life.set_followup("T1", 2, "U1", clock.now() + timedelta(hours=1))
    clock.advance(minutes=30)
    await life.followup_done("T1", 1, "U1")
    clock.advance(hours=1)  # case 2's is overdue now; nothing has run since
    assert on_time(await stats_text(mend, slack, slack_user)) == "50% (1/2)"


async def test_satisfaction_followups_count_for_the_share_when_done_in_time(
        mend, slack, slack_user, clock):
    life = await open_two(mend, slack_user)
    await life.resolve("T1", 1, "U1", "refunded")
    await life.resolve("T1", 2, "U1", "apologised")
    clock.advance(days=1)
    await life.step("T1", 1, "U1", "follow-up")  # satisfaction check a day before it is due
    clock.advance(days=1, hours=1)  # case 2's falls due and stays undone
    for _ in range(4):
        await sweep(mend)
        clock.advance(hours=24)
    text = await stats_text(mend, slack, slack_user, "30d")
    assert on_time(text) == "50% (1/2)"
    assert "satisfaction follow-ups completed: 1" in text


async def test_compensation_is_counted_once_per_case(mend, slack, slack_user, clock):
    await lead(mend)
    await slack_user.command("customer Acme: charged twice", user_id="U1")
    await mend.settle()
    life = mend.mend.deps.lifecycle
    await life.resolve("T1", 1, "U1", "refunded", compensation="10% voucher", accepted="yes")
    await life.reopen("T1", 1, "U1")
    await life.resolve("T1", 1, "U1", "refunded again", compensation="10% voucher",
                 accepted="yes")
    await life.reopen("T1", 1, "U1")
    await life.resolve("T1", 1, "U1", "refunded a third time")
    await life.step("T1", 1, "U1", "follow-up")
    await life.reopen("T1", 1, "U1")
    await life.resolve("T1", 1, "U1", "and again")
    await life.step("T1", 1, "U1", "follow-up")
    text = await stats_text(mend, slack, slack_user)
    assert "Opened 1 · resolved 1 · closed 1 · reopened 1" in text
    assert "satisfaction follow-ups completed: 1" in text
    assert "Compensation offered 1, accepted 1 (100%)" in text


async def test_this_week_starts_on_monday_in_the_workspace_timezone(
        mend, slack, slack_user, clock):
    await lead(mend)
    reply = await slack_user.command("settings timezone Asia/Kolkata", user_id="ULEAD")
    assert "Asia/Kolkata" in all_text(reply.json["blocks"])
    clock.set(datetime(2026, 11, 29, 6, 30, tzinfo=UTC))  # Sunday 12:00 in Kolkata
    await slack_user.command("customer Acme: charged twice", user_id="U1")
    clock.set(datetime(2026, 11, 29, 20, 30, tzinfo=UTC))  # Monday 02:00 in Kolkata
    await slack_user.command("customer Bolt: waited on hold", user_id="U1")
    await slack_user.event({"type": "app_home_opened", "user": "ULEAD", "tab": "home"})
    await mend.settle()
    [home] = [c.arg("view") for c in slack.calls_to("views.publish")
              if c.arg("user_id") == "ULEAD"][-1:]
    assert "*This week*: opened 1," in all_text(home["blocks"])  # Monday's case only


async def test_stats_by_owner_says_how_many_owners_are_left_out(
        mend, slack, slack_user, clock):
    await lead(mend)
    owners = [f"U{100 + i}" for i in range(40)]
    for user in owners:
        slack.add_user(user, name=f"agent{user}", tz="Europe/London")
        await slack_user.command("customer Acme: charged twice", user_id=user)
    text = await stats_text(mend, slack, slack_user)
    by_owner = text.split("*By owner*")[1]
    shown = len(set(re.findall(r"<@(U1\d\d)>", by_owner)))
    more = re.search(r"and (\d+) more", by_owner)
    assert more and shown + int(more.group(1)) == 40, (shown, more)


async def test_the_first_followup_dropped_late_by_a_resolution_counts_as_missed(
        mend, slack, slack_user, clock):
    life = await open_two(mend, slack_user)  # each due 24 hours after opening
    clock.advance(hours=30)  # both overdue; nobody swept, so nobody was nudged
    await life.resolve("T1", 1, "U1", "refunded")
    await life.followup_done("T1", 2, "U1")
    assert on_time(await stats_text(mend, slack, slack_user)) == "0% (0/2)"


async def test_a_new_owner_of_an_overdue_case_is_judged_on_their_own_followup(
        mend, slack, slack_user, clock):
    life = await open_two(mend, slack_user)
    await life.set_followup("T1", 1, "U1", clock.now() + timedelta(hours=1))
    clock.advance(hours=2)  # due an hour ago, and not done
    await sweep(mend)  # U1 is reminded of it
    assert [m for m in slack.messages("C1") if m.get("thread_ts")]
    await life.assign("T1", 1, "ULEAD", "U2")  # the lead hands it to U2
    clock.advance(minutes=5)
    await life.followup_done("T1", 1, "U2")  # U2 calls at once: in time for their own
    # U1's miss counts once (not again for U2); case 2's is not due yet.
    assert on_time(await stats_text(mend, slack, slack_user)) == "50% (1/2)"
