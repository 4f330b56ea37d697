"""Follow-up nudges: due, ladder, snooze, done, hours, exactly once, pacing.

The scheduler reads Mend's one injectable clock; tests move it and run
sweeps by hand, so nothing here waits for business time to pass.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.times import from_iso, to_iso
from bot.domain.vocabulary import Status
from handlers.ids import Action, Block, Callback
from tests.helpers import (
    LA_MORNING,
    PACE,
    REPORT,
    SECRET,
    all_text,
    assert_valid_blocks,
    driver_open,
    nudges,
    open_due,
    replace_settings,
    start_mend,
    sweep,
)


@pytest.fixture
def clock(clock):
    clock.set(LA_MORNING)
    return clock


def card_ts(slack, channel="C1", index=0):
    return [m for m in slack.messages(channel) if not m.get("thread_ts")][index]["ts"]


async def test_due_followup_gets_exactly_one_nudge_in_the_card_thread(mend, slack,
                                                                    slack_user, clock):
    number = await open_due(mend, slack_user, clock)
    await sweep(mend)
    assert nudges(slack) == []  # not due yet
    clock.advance(hours=1)
    await sweep(mend)
    await sweep(mend)
    [nudge] = nudges(slack)
    assert nudge["thread_ts"] == card_ts(slack)
    assert_valid_blocks(nudge["blocks"])
    text = all_text(nudge["blocks"])
    assert "<@U1>" in text and f"case #{number}" in text and "<!date^" in text
    assert "<!channel>" not in text and "<!here>" not in text
    ids = {e.get("action_id") for b in nudge["blocks"] for e in b.get("elements", [])}
    assert {Action.NUDGE_DONE, Action.NUDGE_SNOOZE, Action.NUDGE_ASSIGN} <= ids
    [row] = [n for n in await mend.store.nudges_for_case("T1", 1) if n.state != "skipped"]
    assert (row.state, row.sent_ts) == ("sent", nudge["ts"])


async def test_each_rung_of_the_ladder_once(mend, slack, slack_user, clock):
    await mend.store.set_leads("T1", ["ULEAD"], "U0", "2026-11-26T00:00:00.000000Z")
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    for _ in range(2):
        await sweep(mend)
    clock.advance(hours=2)
    for _ in range(2):
        await sweep(mend)
    clock.advance(hours=2)  # overdue by 4h: escalation (it also covers the 3rd reminder)
    for _ in range(3):
        await sweep(mend)
    clock.advance(hours=6)
    await sweep(mend)
    texts = [all_text(m["blocks"]) for m in nudges(slack)]
    assert len(texts) == 3
    assert "Reminder" not in texts[0] and "Reminder 2 of 3" in texts[1]
    assert "<@ULEAD>" in texts[2] and "overdue by 4h" in texts[2]
    states = sorted((n.kind, n.rung, n.state) for n in await mend.store.nudges_for_case("T1", 1))
    assert states == [("escalation", 0, "sent"), ("followup", 0, "sent"),
                      ("followup", 1, "sent"), ("followup", 2, "skipped")]


async def test_escalation_goes_to_the_lead_channel_when_set(mend, slack, slack_user, clock):
    await mend.store.set_leads("T1", ["ULEAD"], "U0", "2026-11-26T00:00:00.000000Z")
    reply = await slack_user.command("settings lead-channel <#CLEADS|leads>", user_id="ULEAD")
    assert "<#CLEADS>" in all_text(reply.json["blocks"])
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    clock.advance(hours=4)
    await sweep(mend)
    [escalation] = nudges(slack, "CLEADS")
    assert not escalation.get("thread_ts") and "<#C1>" in all_text(escalation["blocks"])


async def test_after_downtime_one_nudge_not_a_burst(mend, slack, slack_user, clock):
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    clock.advance(hours=7)  # Mend was down all this time (17:00 in LA: still working)
    await sweep(mend)
    assert len(nudges(slack)) == 1


async def test_snooze_asks_a_reason_and_shows_it_when_the_reminder_returns(
        mend, slack, slack_user, clock):
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    await sweep(mend)
    [nudge] = nudges(slack)
    await slack_user.block_action(Action.NUDGE_SNOOZE, value="1:in_1h", user_id="U1",
                                  message_ts=nudge["ts"])
    await mend.settle()
    view = slack.calls_to("views.open")[-1].arg("view")
    assert view["callback_id"] == Callback.SNOOZE
    values = {Block.SNOOZE_REASON: {Action.TEXT: {"type": "plain_text_input",
                                                  "value": "customer is at a funeral"}}}
    await slack_user.view_submission(Callback.SNOOZE, values, user_id="U1",
                                     private_metadata=view["private_metadata"])
    await mend.settle()
    case = await mend.store.case_by_number("T1", 1)
    assert from_iso(case.next_followup_at) == clock.now() + timedelta(hours=1)
    assert "Snoozed by <@U1>" in all_text(slack.messages("C1")[-1]["blocks"]) or \
        any("Snoozed by" in all_text(m["blocks"]) for m in slack.thread("C1", card_ts(slack)))
    await sweep(mend)
    assert len(nudges(slack)) == 1  # snoozed: nothing new yet
    clock.advance(hours=1)
    await sweep(mend)
    back = all_text(nudges(slack)[-1]["blocks"])
    assert "Snoozed by <@U1>" in back and "customer is at a funeral" in back


async def test_done_records_the_followup_and_stops_the_ladder(mend, slack, slack_user, clock):
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    await sweep(mend)
    [nudge] = nudges(slack)
    await slack_user.block_action(Action.NUDGE_DONE, value="1", user_id="U1",
                                  message_ts=nudge["ts"])
    await mend.settle()
    case = await mend.store.case_by_number("T1", 1)
    assert case.next_followup_at is None and case.status == Status.OPEN
    assert "followup_done" in [e.kind for e in await mend.store.events("T1", case.id)]
    answered = [m for m in slack.messages("C1") if m["ts"] == nudge["ts"]][0]
    assert "Follow-up recorded by <@U1>" in all_text(answered["blocks"])
    clock.advance(hours=8)
    await sweep(mend)
    assert len(nudges(slack)) == 1


async def test_done_on_a_satisfaction_check_closes_the_case(mend, slack, slack_user, clock):
    await open_due(mend, slack_user, clock)
    await slack_user.command("resolve 1 replaced the item")
    clock.set(datetime(2026, 11, 30, 18, 0, tzinfo=UTC))  # due Saturday; Monday 10:00 LA
    await sweep(mend)
    nudge = nudges(slack)[-1]
    assert "satisfied" in all_text(nudge["blocks"])
    await slack_user.block_action(Action.NUDGE_DONE, value="1", user_id="U1",
                                  message_ts=nudge["ts"])
    await mend.settle()
    assert (await mend.store.case_by_number("T1", 1)).status == "closed"


async def test_working_hours_in_two_timezones(mend, slack, slack_user, clock):
    clock.set(datetime(2026, 11, 26, 10, 0, tzinfo=UTC))  # 02:00 LA, 15:30 Kolkata
    await open_due(mend, slack_user, clock, user="U1", due_in=timedelta(0))
    await open_due(mend, slack_user, clock, user="U2", channel="C2", due_in=timedelta(hours=5))
    await sweep(mend)
    assert nudges(slack, "C1") == []  # 02:00 in LA: wait for the morning
    clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=UTC))  # 07:00 LA; 20:30 Kolkata
    await sweep(mend)
    assert nudges(slack, "C1") == [] and nudges(slack, "C2") == []
    clock.set(datetime(2026, 11, 26, 17, 0, tzinfo=UTC))  # 09:00 LA
    await sweep(mend)
    assert len(nudges(slack, "C1")) == 1 and nudges(slack, "C2") == []
    clock.set(datetime(2026, 11, 27, 3, 30, tzinfo=UTC))  # Friday 09:00 Kolkata
    await sweep(mend)
    assert len(nudges(slack, "C2")) == 1


async def test_critical_case_is_nudged_out_of_hours(mend, slack, slack_user, clock):
    clock.set(datetime(2026, 11, 26, 10, 0, tzinfo=UTC))  # 02:00 in LA
    await open_due(mend, slack_user, clock, text="URGENT critical: customer Acme lost "
                   "all their data after our outage", due_in=timedelta(0))
    await sweep(mend)
    assert len(nudges(slack)) == 1


async def test_weekend_waits_for_monday(mend, slack, slack_user, clock):
    clock.set(datetime(2026, 11, 28, 18, 0, tzinfo=UTC))  # Saturday 10:00 LA
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    await sweep(mend)
    assert nudges(slack) == []
    clock.set(datetime(2026, 11, 30, 17, 0, tzinfo=UTC))  # Monday 09:00 LA
    await sweep(mend)
    assert len(nudges(slack)) == 1


async def test_rate_limited_nudge_is_sent_once(mend, slack, slack_user, clock):
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    slack.fail("chat.postMessage", status=429, retry_after=1)
    await sweep(mend)
    assert [c.status for c in slack.calls_to("chat.postMessage")][-2:] == [429, 200]
    assert len(nudges(slack)) == 1


async def test_killed_between_send_and_mark_then_restarted_sends_no_duplicate(
        settings, clock, slack, slack_user):
    clock.set(LA_MORNING)
    first = await start_mend(settings, clock, slack_timeout=0.2)
    try:
        await driver_open(first, slack, clock)
        slack.fail("chat.postMessage", delay=0.6)  # posted, but the answer comes too late
        await first.mend.nudger.sweep()
        await first.settle()
        [row] = await first.store.nudges_for_case("T1", 1)
        assert row.state == "sending"  # in doubt: sent or not, we can't tell yet
    finally:
        await first.stop()  # the process goes away without ever marking it
    await asyncio.sleep(0.7)  # the held post lands in the thread meanwhile
    assert len(nudges(slack)) == 1
    clock.advance(minutes=3)  # rows claimed within a lease length may still be in flight
    second = await start_mend(settings, clock)
    try:
        report = await second.mend.nudger.sweep()
        await second.settle()
        assert report.recovered == 1
        assert len(nudges(slack)) == 1
        [row] = await second.store.nudges_for_case("T1", 1)
        assert row.state == "sent" and row.sent_ts == nudges(slack)[0]["ts"]
    finally:
        await second.stop()


async def test_claimed_but_never_posted_is_sent_after_restart(settings, clock, slack):
    clock.set(LA_MORNING)
    first = await start_mend(settings, clock)
    try:
        await driver_open(first, slack, clock)
        await first.mend.nudger.work.plan("T1", clock.now())
        [row] = await first.store.nudges_for_case("T1", 1)
        case = await first.store.case_by_id("T1", row.case_id)
        assert await first.store.claim_nudge(row, case.card_channel, case.card_ts,
                                       to_iso(clock.now()))
    finally:
        await first.stop()  # died right after recording the claim
    second = await start_mend(settings, clock)
    await second.mend.nudger.sweep()
    await second.settle()
    assert nudges(slack) == []  # within a lease length it may still be in flight: wait
    clock.advance(minutes=3)
    try:
        await second.mend.nudger.sweep()
        await second.settle()
        assert len(nudges(slack)) == 1
        [row] = await second.store.nudges_for_case("T1", 1)
        assert row.state == "sent" and row.attempts == 2
    finally:
        await second.stop()


async def test_two_processes_on_one_database_send_one_nudge(settings, clock, slack, database):
    clock.set(LA_MORNING)
    a = await start_mend(settings, clock)
    b = await start_mend(settings, clock)
    try:
        await driver_open(a, slack, clock)
        reports = await asyncio.gather(a.mend.nudger.sweep(), b.mend.nudger.sweep())
        await a.settle()
        await b.settle()
        assert sorted(r.held_lease for r in reports) == [False, True]
        clock.advance(hours=2)  # long enough for the first holder's lease to run out
        await database.expire_leases()
        reports = [await b.mend.nudger.sweep(), await a.mend.nudger.sweep()]
        await a.settle()
        await b.settle()
        assert [r.held_lease for r in reports] == [True, False]
        assert len(nudges(slack)) == 2
    finally:
        await a.stop()
        await b.stop()


async def test_thirty_nudges_to_one_channel_are_all_delivered_paced(mend, slack, slack_user,
                                                                   clock):
    for i in range(30):
        await slack_user.command(f"customer C{i}: waited on hold for an hour", user_id="U1")
    await mend.settle()
    for number in range(1, 31):
        await mend.mend.deps.lifecycle.set_followup("T1", number, "U1", clock.now())
    await sweep(mend)
    sent = nudges(slack)
    assert len(sent) == 30
    posts = [c for c in slack.calls_to("chat.postMessage") if c.arg("thread_ts")]
    gaps = [b.at - a.at for a, b in zip(posts, posts[1:], strict=False)]
    assert min(gaps) >= PACE * 0.8


async def test_customer_update_nudge_and_its_button(mend, slack, slack_user, clock):
    await slack_user.command(REPORT, user_id="U1")
    await mend.settle()
    await mend.mend.deps.lifecycle.followup_done("T1", 1, "U1")  # no follow-up pending
    clock.advance(hours=24)
    await sweep(mend)
    [nudge] = nudges(slack)
    assert "no customer update" in all_text(nudge["blocks"])
    await slack_user.block_action(Action.NUDGE_UPDATED, value="1", user_id="U1",
                                  message_ts=nudge["ts"])
    await mend.settle()
    assert "customer_updated" in [e.kind for e in await mend.store.events("T1", 1)]
    clock.advance(hours=12)
    await sweep(mend)
    assert len(nudges(slack)) == 1


async def test_unowned_case_asks_the_channel_without_channel_mentions(mend, slack,
                                                                      slack_user, clock):
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    await slack_user.command("release 1", user_id="U1")
    await sweep(mend)
    [nudge] = nudges(slack)
    text = all_text(nudge["blocks"])
    assert "needs an owner" in text and "<!" not in text.replace("<!date^", "")
    assert Action.TAKE in text


async def test_overdue_case_goes_back_to_the_queue_when_configured(slack, slack_user, clock,
                                                                   settings, tmp_path):
    from bot.runtime.config import DEFAULT_PLAYBOOK

    playbook = tmp_path / "playbook.yaml"
    playbook.write_text(DEFAULT_PLAYBOOK.read_text().replace(
        'unassign_after: "off"', "unassign_after: 3h"))
    running = await start_mend(replace_settings(settings, playbook_path=str(playbook)), clock)
    try:
        from standin import MendDriver

        async with MendDriver(running.url, SECRET, slack) as driver:
            await open_due(running, driver, clock, due_in=timedelta(0))
        clock.advance(hours=3)
        await sweep(running)
        case = await running.store.case_by_number("T1", 1)
        assert case.owner_id is None
        assert "back in the unowned queue" in all_text(nudges(slack)[-1]["blocks"])
    finally:
        await running.stop()


async def test_scheduler_loop_runs_with_the_app_and_stops_cleanly(settings, clock, slack):
    from bot.app import Mend
    from bot.domain.models import NewCase
    from bot.domain.schedule import followup_timer

    clock.set(LA_MORNING)
    mend = await Mend.start(replace_settings(settings, sweep_seconds=0.05), clock=clock,
                            retry_backoff=0.01, pace_seconds=PACE)
    try:
        due = "2026-11-26T17:00:00.000000Z"
        fields = dict(channel_id="C1", reporter_id="U1", owner_id="U1", summary="late",
                      category="broken_promise", emotion="upset", contact="email",
                      severity="normal", customer="Acme", next_followup_at=due)
        await mend.deps.store.create_cases([NewCase("T1", fields, "U1",
                                                    "2026-11-26T16:00:00.000000Z",
                                                    (followup_timer(due),))])
        from handlers.cards import submit_card

        submit_card(mend.deps, await mend.deps.store.case_by_number("T1", 1))
        for _ in range(100):
            if nudges(slack):
                break
            await asyncio.sleep(0.02)
        assert len(nudges(slack)) == 1
    finally:
        await mend.close()
    assert mend.nudger._task.done()
