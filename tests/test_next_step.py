"""No case without a next step, and every action says what it did: *Done* on a reminder
for a case that stays open asks for the next follow-up; a case with no follow-up is
flagged and ranked as needing attention; clicks and forms are confirmed privately."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from handlers.ids import Action, Block, Callback
from tests.helpers import (
    LA_MORNING,
    all_text,
    card,
    case1,
    click,
    nudges,
    numbers,
    open_case,
    open_due,
    press,
    said,
    sweep,
)


@pytest.fixture
def clock(clock):
    clock.set(LA_MORNING)  # Thursday, 10:00 in Los Angeles (U1)
    return clock


async def test_done_asks_for_the_next_followup_and_a_choice_sets_it(mend, slack, slack_user,
                                                                    clock):
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    await sweep(mend)
    [nudge] = nudges(slack)
    await press(slack_user, mend, Action.NUDGE_DONE, nudge)
    assert (await case1(mend)).next_followup_at is None
    asked = slack.responses[-1]["body"]
    assert "needs a next step" in all_text(asked["blocks"])
    offered = [e["action_id"] for b in asked["blocks"] for e in b.get("elements", [])
               if e.get("type") == "button"]
    assert offered == [Action.NEXT_TOMORROW, Action.NEXT_IN_2_DAYS, Action.NEXT_WEEK]
    assert "No next step" in all_text(card(slack)["blocks"])  # flagged on the card meanwhile

    await slack_user.block_action(Action.NEXT_TOMORROW, value="1", blocks=asked["blocks"])
    await mend.settle()
    # Friday 09:00 in Los Angeles is 17:00 UTC.
    assert (await case1(mend)).next_followup_at == "2026-11-27T17:00:00.000000Z"
    assert "Next follow-up on case #1" in said(slack)
    assert "No next step" not in all_text(card(slack)["blocks"])


async def test_case_without_a_followup_ranks_after_overdue_before_upcoming(mend, slack,
                                                                          slack_user, clock):
    life = mend.mend.deps.lifecycle
    for text in ("customer Acme: late order", "customer Bolt: charged twice",
                 "customer Cora: rude agent"):
        await open_case(mend, slack_user, text=text)
    await life.set_followup("T1", 1, "U1", clock.now() + timedelta(hours=3))  # upcoming
    await life.set_followup("T1", 3, "U1", clock.now() + timedelta(minutes=5))
    clock.advance(minutes=10)  # case 3 is now overdue
    await life.followup_done("T1", 2, "U1")  # case 2 has no next step
    await slack_user.command("open")
    await mend.settle()
    blocks = slack.responses[-1]["body"]["blocks"]
    assert numbers(blocks) == [3, 2, 1]
    assert "no next step" in all_text(blocks)


async def test_take_ownership_says_what_it_did(mend, slack, slack_user):
    await open_case(mend, slack_user)
    await slack_user.command("release 1")
    await mend.settle()
    await click(slack_user, mend, slack, Action.TAKE, user="U2")
    assert "Case #1 is yours now" in said(slack)
    assert "Next follow-up" in said(slack)


async def test_set_followup_form_is_confirmed_privately(mend, slack, slack_user):
    await open_case(mend, slack_user)
    quick = {Block.FOLLOWUP_QUICK: {Action.QUICK: {
        "type": "radio_buttons", "selected_option": {"value": "in_1h"}}}}
    meta = json.dumps({"case": 1, "team": "T1", "tz": "America/Los_Angeles"})
    reply = await slack_user.view_submission(Callback.FOLLOWUP, quick, meta)
    assert reply.status == 200
    await mend.settle()
    [told] = [c for c in slack.calls_to("chat.postEphemeral") if c.ok]
    assert told.args["user"] == "U1" and "Follow-up set on case #1" in told.args["text"]


async def test_open_list_names_the_channel_and_critical_cases_stand_out(mend, slack,
                                                                       slack_user):
    await open_case(mend, slack_user, text="customer Acme: site down for every user, critical")
    await slack_user.command("open")
    await mend.settle()
    text = all_text(slack.responses[-1]["body"]["blocks"])
    assert ":rotating_light: *CRITICAL* · *#1*" in text and "<#C1>" in text
