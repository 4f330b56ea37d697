"""Mistakes undone: `/recover withdraw N <reason>` and the card's *Withdraw* button."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.ids import Action, Block, Callback
from tests.helpers import (
    LA_MORNING,
    all_text,
    assert_valid_blocks,
    card,
    click,
    lead,
    nudges,
    open_case,
    sweep,
)


@pytest.fixture
def clock(clock):
    clock.set(LA_MORNING)
    return clock


async def test_reporter_withdraws_reminders_stop_and_card_says_so(mend, slack, slack_user,
                                                                  clock):
    await open_case(mend, slack_user)
    await mend.mend.deps.lifecycle.set_followup("T1", 1, "U1", clock.now() + timedelta(hours=1))
    reply = await slack_user.command("withdraw 1 opened twice for the same call")
    assert "withdrawn" in all_text(reply.json["blocks"])
    await mend.settle()
    case = await mend.store.case_by_number("T1", 1)
    assert case.status == "closed" and case.withdrawn_at and case.next_followup_at is None
    shown = all_text(card(slack)["blocks"])
    assert_valid_blocks(card(slack)["blocks"])
    assert "Withdrawn" in shown and "counts in no statistic" in shown
    events = [e.kind for e in await mend.store.events("T1", case.id)]
    assert events[-1] == "withdrawn"
    timeline = await slack_user.command("case 1")
    assert "opened twice for the same call" in all_text(timeline.json["blocks"])
    clock.advance(hours=6)  # long past the follow-up and its escalation
    await sweep(mend)
    assert nudges(slack) == []


async def test_only_the_reporter_or_a_lead_may_withdraw(mend, slack, slack_user):
    await open_case(mend, slack_user)
    await slack_user.command("take 1", user_id="U1")
    refused = await slack_user.command("withdraw 1 not mine", user_id="U2")
    assert "Only the person who opened case #1" in all_text(refused.json["blocks"])
    no_reason = await slack_user.command("withdraw 1", user_id="U1")
    assert "Say why" in all_text(no_reason.json["blocks"])
    await lead(mend, "U2")
    done = await slack_user.command("withdraw 1 test case", user_id="U2")
    assert "withdrawn" in all_text(done.json["blocks"])
    again = await slack_user.command("withdraw 1 test case", user_id="U2")
    assert "already withdrawn" in all_text(again.json["blocks"])


async def test_withdraw_button_asks_why_then_withdraws(mend, slack, slack_user):
    await open_case(mend, slack_user)
    assert "Withdraw" in all_text(card(slack)["blocks"])
    await click(slack_user, mend, slack, Action.WITHDRAW)
    [view] = [v for v in slack.views.values() if v.get("callback_id") == Callback.WITHDRAW]
    values = {Block.WITHDRAW_REASON: {Action.TEXT: {"type": "plain_text_input",
                                                    "value": "a test from training"}}}
    reply = await slack_user.view_submission(Callback.WITHDRAW, values,
                                             view["private_metadata"])
    assert reply.status == 200
    await mend.settle()
    assert (await mend.store.case_by_number("T1", 1)).withdrawn_at
    assert "Withdrawn" in all_text(card(slack)["blocks"])


async def test_withdrawn_cases_count_in_no_statistic(mend, slack, slack_user):
    await lead(mend, "ULEAD")
    await open_case(mend, slack_user)
    await open_case(mend, slack_user, text="customer Bolt: waited on hold for an hour")
    await slack_user.command("withdraw 2 duplicate", user_id="U1")
    since = "2000-01-01T00:00:00.000000Z"
    assert len(await mend.store.cohort_facts("T1", since)) == 1
    await slack_user.command("stats 7d", user_id="ULEAD")
    await mend.settle()
    stats = all_text(slack.responses[-1]["body"]["blocks"])
    assert "Opened 1 ·" in stats
