"""Nudges when Slack misbehaves or people act mid-sweep: the right person, at the
right hour, told once, and nobody forgotten."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.runtime.config import DEFAULT_PLAYBOOK
from handlers.nudges import MAX_ATTEMPTS
from standin import MendDriver
from tests.helpers import (
    LA_MORNING,
    SECRET,
    all_text,
    driver_open,
    nudges,
    open_due,
    press,
    replace_settings,
    start_mend,
    sweep,
)

LA_2AM = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # Thu 02:00 in Los Angeles


@pytest.fixture
def clock(clock):
    clock.set(LA_MORNING)
    return clock


async def test_a_failed_users_info_does_not_make_the_owner_utc(mend, slack, slack_user, clock):
    clock.set(LA_2AM)  # 10:00 UTC would be working hours, 02:00 in LA is not
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    slack.fail("users.info", error="internal_error")
    await sweep(mend)
    assert nudges(slack) == []  # waits to learn the owner's zone
    mend.mend.deps.people.negative_ttl = 0  # as if five minutes had passed
    await sweep(mend)  # Slack answers now: LA, out of hours
    assert nudges(slack) == []
    clock.set(LA_MORNING)
    await sweep(mend)
    assert len(nudges(slack)) == 1


async def test_a_users_info_failure_is_remembered_only_briefly(mend, slack, slack_user):
    people = mend.mend.deps.people
    slack.fail("users.info", error="internal_error")
    first = await people.get("T1", "U1")
    again = await people.get("T1", "U1")  # not asked again at once (every sweep would)
    assert (first.known, again.known, len(slack.calls_to("users.info"))) == (False, False, 1)
    people.negative_ttl = 0  # as if five minutes had passed
    later = await people.get("T1", "U1")
    assert (later.known, later.tz) == (True, "America/Los_Angeles")
    slack.fail("users.info", error="internal_error")
    assert (await people.get("T1", "U1")).tz == "America/Los_Angeles"  # cached, not asked
    assert len(slack.calls_to("users.info")) == 2


async def test_a_critical_case_is_nudged_at_once_even_without_the_owners_zone(
        mend, slack, slack_user, clock):
    clock.set(LA_2AM)
    await open_due(mend, slack_user, clock, due_in=timedelta(0),
                   text="customer Acme: the outage is critical, order lost")
    slack.fail("users.info", error="user_not_found", times=None)
    await sweep(mend)
    assert len(nudges(slack)) == 1


async def test_an_owner_slack_cannot_describe_for_an_hour_is_nudged_in_workspace_time(
        mend, slack, slack_user, clock):
    clock.set(LA_2AM)
    slack.fail("users.info", error="user_not_found", times=None)  # from the start
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    await sweep(mend)
    assert nudges(slack) == []
    clock.advance(hours=1)
    await sweep(mend)  # no zone after an hour: the workspace's (UTC here), 11:00
    assert len(nudges(slack)) == 1


async def test_done_pressed_while_the_sweep_waits_for_slack_is_respected(
        slack, clock, settings, tmp_path):
    playbook = tmp_path / "playbook.yaml"
    playbook.write_text(DEFAULT_PLAYBOOK.read_text().replace(
        'unassign_after: "off"', "unassign_after: 2h"))
    clock.set(LA_MORNING)
    running = await start_mend(replace_settings(settings, playbook_path=str(playbook)), clock)
    try:
        async with MendDriver(running.url, SECRET, slack, team_id="T1") as agent:
            number = await open_due(running, agent, clock, due_in=timedelta(0))
        clock.advance(hours=3)
        running.mend.deps.people._cache.clear()  # as if hours had passed since the opening
        slack.fail("users.info", delay=0.3)
        sweeping = asyncio.create_task(running.mend.nudger.sweep())
        await asyncio.sleep(0.1)  # the sweep is waiting for users.info
        await running.mend.deps.lifecycle.followup_done("T1", number, "U1")
        await sweeping
        await running.settle()
        case = await running.store.case_by_number("T1", number)
        assert (case.owner_id, case.next_followup_at) == ("U1", None)
    finally:
        await running.stop()


async def test_escalation_falls_back_to_the_thread_when_the_lead_channel_refuses(
        mend, slack, slack_user, clock):
    await mend.store.set_leads("T1", ["ULEAD"], "U0", "2026-11-26T00:00:00.000000Z")
    await slack_user.command("settings lead-channel <#CLEADS|leads>", user_id="ULEAD")
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    await sweep(mend)  # the first reminder, in the thread
    clock.advance(hours=4)
    slack.fail("chat.postMessage", error="not_in_channel")  # nobody invited Mend there
    await sweep(mend)
    await sweep(mend)
    told = [m for m in nudges(slack, "C1") if "<@ULEAD>" in all_text(m["blocks"])]
    assert len(told) == 1 and told[0].get("thread_ts")
    assert nudges(slack, "CLEADS") == []


async def test_a_nudge_slack_keeps_refusing_is_given_up_after_a_few_tries(
        mend, slack, slack_user, clock):
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    slack.fail("chat.postMessage", error="invalid_metadata_format", times=None)
    for _ in range(MAX_ATTEMPTS + 2):
        await sweep(mend)
        clock.advance(minutes=20)
    row = [n for n in await mend.store.nudges_for_case("T1", 1) if n.kind == "followup"][0]
    assert (row.state, row.attempts) == ("failed", MAX_ATTEMPTS)


async def test_a_nudge_is_retried_for_as_long_as_slack_is_down(mend, slack, slack_user, clock):
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    slack.fail("chat.postMessage", error="service_unavailable", times=None)
    for _ in range(MAX_ATTEMPTS + 2):
        await sweep(mend)
        clock.advance(minutes=16)
    row = [n for n in await mend.store.nudges_for_case("T1", 1) if n.kind == "followup"][0]
    assert row.state == "pending" and row.attempts == MAX_ATTEMPTS + 2
    slack.clear_faults("chat.postMessage")  # Slack is back
    await sweep(mend)
    assert len(nudges(slack)) == 1


async def test_an_escalation_on_monday_counts_only_working_hours_as_late(
        mend, slack, slack_user, clock):
    await mend.store.set_leads("T1", ["ULEAD"], "U0", "2026-11-26T00:00:00.000000Z")
    clock.set(datetime(2026, 11, 27, 18, 0, tzinfo=UTC))  # Fri 10:00 in LA
    await open_due(mend, slack_user, clock, due_in=timedelta(hours=7, minutes=30))  # 17:30
    clock.advance(hours=7, minutes=30)
    await sweep(mend)  # the first reminder, Friday 17:30
    clock.set(datetime(2026, 11, 30, 17, 0, tzinfo=UTC))  # Mon 09:00: 30 working minutes late
    await sweep(mend)
    assert len(nudges(slack)) == 1
    clock.set(datetime(2026, 11, 30, 20, 30, tzinfo=UTC))  # Mon 12:30: 4 working hours late
    await sweep(mend)
    [escalation] = [m for m in nudges(slack) if "<@ULEAD>" in all_text(m["blocks"])]
    assert "overdue by 4h 00m" in all_text(escalation["blocks"])


async def test_a_lead_snoozing_until_tomorrow_morning_means_the_owners_morning(
        mend, slack, slack_user, clock):
    from handlers.ids import Action, Block, Callback

    await mend.store.set_leads("T1", ["U2"], "U0", "2026-11-26T00:00:00.000000Z")  # U2: Kolkata
    await open_due(mend, slack_user, clock, due_in=timedelta(0))  # owned by U1, Los Angeles
    await sweep(mend)
    [nudge] = nudges(slack)
    await press(slack_user, mend, Action.NUDGE_SNOOZE_MORNING, nudge, user="U2")
    view = slack.calls_to("views.open")[-1].arg("view")
    await slack_user.view_submission(
        Callback.SNOOZE, {Block.SNOOZE_REASON: {Action.TEXT: {"type": "plain_text_input",
                                                              "value": ""}}},
        user_id="U2", private_metadata=view["private_metadata"])
    await mend.settle()
    due = (await mend.store.case_by_number("T1", 1)).next_followup_at
    assert due == "2026-11-27T17:00:00.000000Z"  # Friday 09:00 in Los Angeles


async def test_nudge_is_dropped_if_the_followup_moves_while_it_waits_its_turn(
        settings, clock, slack):
    clock.set(LA_MORNING)
    running = await start_mend(settings, clock)
    try:
        async with MendDriver(running.url, SECRET, slack) as driver:
            for i in range(3):
                await driver.command(f"customer C{i}: waited on hold for an hour")
        await running.settle()
        life = running.mend.deps.lifecycle
        for n in (1, 2, 3):
            await life.set_followup("T1", n, "U1", clock.now())
        await running.mend.nudger.sweep()  # three queued, paced
        await life.set_followup("T1", 3, "U1", clock.now() + timedelta(days=1))
        await running.settle()
        keys = [m["metadata"]["event_payload"]["case"] for m in nudges(slack)]
        assert sorted(keys) == [1, 2]
        states = {n.case_id: n.state for n in await running.store.nudges_for_case("T1", 3)}
        assert set(states.values()) == {"cancelled"}
    finally:
        await running.stop()


async def test_in_doubt_nudge_is_found_in_a_long_thread(settings, clock, slack):
    clock.set(LA_MORNING)
    first = await start_mend(settings, clock, slack_timeout=0.2)
    try:
        await driver_open(first, slack, clock)
        card = await first.store.case_by_number("T1", 1)
        for i in range(250):
            slack.add_message("C1", f"reply {i}", user="U2", thread_ts=card.card_ts)
        slack.fail("chat.postMessage", delay=0.5)
        await first.mend.nudger.sweep()
        await first.settle()
    finally:
        await first.stop()
    await asyncio.sleep(0.6)
    clock.advance(minutes=3)
    second = await start_mend(settings, clock)
    try:
        await second.mend.nudger.sweep()
        await second.settle()
        assert len(nudges(slack)) == 1
    finally:
        await second.stop()


async def test_in_doubt_nudge_whose_thread_is_gone_is_marked_failed(settings, clock, slack):
    clock.set(LA_MORNING)
    running = await start_mend(settings, clock, slack_timeout=0.2)
    try:
        await driver_open(running, slack, clock)
        slack.fail("chat.postMessage", error="channel_not_found", delay=0.5)
        await running.mend.nudger.sweep()
        await running.settle()
        slack.fail("conversations.replies", error="thread_not_found")
        clock.advance(minutes=3)
        await running.mend.nudger.sweep()
        [row] = await running.store.nudges_for_case("T1", 1)
        assert row.state == "failed"
    finally:
        await running.stop()


async def test_rolling_restart_sends_each_nudge_once(settings, clock, slack):
    clock.set(LA_MORNING)
    slow = replace_settings(settings)
    a = await start_mend(slow, clock)
    b = await start_mend(slow, clock)
    try:
        async with MendDriver(a.url, SECRET, slack) as driver:
            for i in range(4):
                await driver.command(f"customer C{i}: waited on hold for an hour")
        await a.settle()
        for n in range(1, 5):
            await a.mend.deps.lifecycle.set_followup("T1", n, "U1", clock.now())
        await a.mend.nudger.sweep()  # a queues four, paced
        closing = asyncio.create_task(a.stop())  # and is told to stop meanwhile
        await b.mend.nudger.sweep()
        await closing
        clock.advance(minutes=3)
        await b.mend.nudger.sweep()
        await b.settle()
        keys = [m["metadata"]["event_payload"]["key"] for m in nudges(slack)]
        assert len(keys) == 4 == len(set(keys))
    finally:
        await b.stop()
