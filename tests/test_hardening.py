"""Regressions found in review: each test fails if its fix is undone."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from handlers.ids import Action, Block, Callback
from tests.conftest import replace_settings
from tests.test_nudges import LA_MORNING, Mend_start, driver_open, nudges
from tests.test_recover import all_text, assert_valid_blocks

REPORT = "customer Acme: order arrived two weeks late, they are upset"


async def test_third_case_for_a_customer_still_gets_a_valid_reply(mend, slack_user):
    for _ in range(2):
        await slack_user.command(REPORT)
    reply = await slack_user.command(REPORT)
    assert_valid_blocks(reply.json["blocks"])  # two offers, two distinct blocks
    assert all_text(reply.json["blocks"]).count("as a note instead") == 2


async def test_click_from_another_workspace_on_a_shared_card_is_refused(mend, slack,
                                                                        slack_user):
    await slack_user.command(REPORT, team_id="T1")
    await slack_user.command(REPORT, team_id="T2", channel_id="C2")
    await mend.settle()
    card = slack.messages("C1")[0]
    await slack_user.block_action(Action.NOTE, user_id="U5", team_id="T2",
                                  message_ts=card["ts"])
    await slack_user.block_action(Action.REOPEN, user_id="U5", team_id="T2",
                                  message_ts=card["ts"])
    await mend.settle()
    assert slack.calls_to("views.open") == []
    assert "another workspace" in json.dumps([r["body"] for r in slack.responses])
    for team in ("T1", "T2"):
        case = await mend.store.case_by_number(team, 1)
        assert [e.kind for e in await mend.store.events(team, case.id)] == ["opened", "card_posted"]


async def test_modal_from_another_workspaces_card_is_refused(mend, slack, slack_user):
    await slack_user.command(REPORT, team_id="T1")
    await slack_user.command(REPORT, team_id="T2", channel_id="C2")
    values = {Block.NOTE_TEXT: {Action.TEXT: {"type": "plain_text_input", "value": "hi"}}}
    reply = await slack_user.view_submission(
        Callback.NOTE, values, user_id="U5",
        private_metadata=json.dumps({"case": 1, "team": "T1"}), team_id="T2")
    assert reply.json["response_action"] == "errors"
    assert "note" not in [e.kind for e in await mend.store.events("T2", 1)]


async def test_note_refused_as_empty_can_then_be_added(mend, slack, slack_user):
    await slack_user.command(REPORT)
    meta = json.dumps({"case": 1, "team": "T1"})
    for text in ("   ", "Customer prefers email"):
        values = {Block.NOTE_TEXT: {Action.TEXT: {"type": "plain_text_input", "value": text}}}
        await slack_user.view_submission(Callback.NOTE, values, view_id="V7",
                                         private_metadata=meta)
    notes = [e for e in await mend.store.events("T1", 1) if e.kind == "note"]
    assert [n.detail["text"] for n in notes] == ["Customer prefers email"]


async def test_a_stale_checklist_cannot_untick_someone_elses_step(mend, slack, slack_user):
    await slack_user.command(REPORT)
    await mend.settle()
    stale = slack.messages("C1")[0]["blocks"]  # the card as U1's other screen still shows it
    await slack_user.block_action(Action.CHECKLIST, user_id="U1",
                                  message_ts=slack.messages("C1")[0]["ts"],
                                  selected={"selected_options": [{"value": "apologize"}]})
    await mend.settle()
    old_screen = slack.add_message("C1", "stale copy of the card", user="UBOT", blocks=stale)
    await slack_user.block_action(Action.CHECKLIST, user_id="U1", message_ts=old_screen["ts"],
                                  selected={"selected_options": [{"value": "act"}]})
    await mend.settle()
    assert set(await mend.store.steps("T1", 1)) == {"apologize", "act"}


async def test_long_timeline_shows_the_newest_and_says_what_is_left_out(mend, slack_user):
    await slack_user.command(REPORT)
    life = mend.mend.deps.lifecycle
    for i in range(300):
        await life.note("T1", 1, "U1", f"note {i} " + "x" * 2900)
    reply = await slack_user.command("case 1")
    blocks = reply.json["blocks"]
    assert_valid_blocks(blocks)
    text = all_text(blocks)
    assert "note 299" in text and "earlier not shown" in text and "note 0 " not in text


async def test_odd_numbers_in_payloads_are_not_a_crash(mend, slack, slack_user):
    await slack_user.command(REPORT)
    await mend.settle()
    reply = await slack_user.view_submission(
        Callback.NOTE, {Block.NOTE_TEXT: None}, private_metadata=json.dumps({"case": "²"}))
    assert reply.status == 200 and reply.json["response_action"] == "errors"
    reply = await slack_user.block_action(Action.REOPEN, value="²")
    assert reply.status == 200
    await mend.settle()


async def test_followup_form_answers_without_waiting_for_users_info(mend, slack, slack_user,
                                                                     clock):
    await slack_user.command(REPORT)
    await mend.settle()
    await slack_user.block_action(Action.FOLLOWUP, message_ts=slack.messages("C1")[0]["ts"])
    await mend.settle()
    view = slack.calls_to("views.open")[-1].arg("view")
    mend.mend.deps.people._cache.clear()  # as after a restart
    slack.fail("users.info", delay=3.0)
    values = {Block.FOLLOWUP_QUICK: {Action.QUICK: {
        "type": "radio_buttons", "selected_option": {"value": "in_1h"}}}}
    reply = await slack_user.view_submission(Callback.FOLLOWUP, values,
                                             private_metadata=view["private_metadata"])
    assert reply.status == 200 and reply.elapsed_ms < 1000
    slack.reset()


async def test_a_slow_card_post_is_not_repeated_and_does_not_stall_the_channel(
        settings, clock, slack):
    running = await Mend_start(settings, clock, slack_timeout=0.2)
    try:
        slack.fail("chat.postMessage", delay=0.5)  # the first card goes out, answer too late
        from standin import MendDriver
        from tests.conftest import SECRET

        async with MendDriver(running.url, SECRET, slack) as driver:
            for i in range(4):
                await driver.command(f"customer C{i}: waited on hold for an hour")
        await running.settle()
        await asyncio.sleep(0.6)
        cards = [m for m in slack.messages("C1") if not m.get("thread_ts")]
        assert len(cards) == 4  # the others were not held up
        clock.advance(minutes=5)  # the slow one is now in doubt, not in flight
        await running.mend.nudger.sweep()
        await running.settle()
        cards = [m for m in slack.messages("C1") if not m.get("thread_ts")]
        numbers = sorted(m["metadata"]["event_payload"]["case"] for m in cards)
        assert numbers == [1, 2, 3, 4]  # found in the channel, not posted again
        assert all([(await running.store.case_by_number("T1", n)).card_ts for n in range(1, 5)])
    finally:
        await running.stop()


async def test_nudge_is_dropped_if_the_followup_moves_while_it_waits_its_turn(
        settings, clock, slack):
    clock.set(LA_MORNING)
    running = await Mend_start(settings, clock)
    try:
        from standin import MendDriver
        from tests.conftest import SECRET

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
    first = await Mend_start(settings, clock, slack_timeout=0.2)
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
    second = await Mend_start(settings, clock)
    try:
        await second.mend.nudger.sweep()
        await second.settle()
        assert len(nudges(slack)) == 1
    finally:
        await second.stop()


async def test_in_doubt_nudge_whose_thread_is_gone_is_marked_failed(settings, clock, slack):
    clock.set(LA_MORNING)
    running = await Mend_start(settings, clock, slack_timeout=0.2)
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
    a = await Mend_start(slow, clock)
    b = await Mend_start(slow, clock)
    try:
        from standin import MendDriver
        from tests.conftest import SECRET

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


