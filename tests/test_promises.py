"""Promises Mend can keep: the first follow-up and the apology's promise fall in the
owner's working hours (unless critical), the card and the reply say when the next
reminder comes and why, the follow-up is corrected once Slack gives the owner's
timezone, and an overdue follow-up is marked on the card."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.times import to_iso
from handlers.ids import Block
from tests.helpers import (
    LA_MORNING,
    all_text,
    assert_valid_blocks,
    card,
    case1,
    nudges,
    open_due,
    said,
    sweep,
)

# Thursday 26 Nov 2026, 23:10 in Los Angeles (U1): Friday 07:10 UTC.
LA_LATE_THURSDAY = datetime(2026, 11, 27, 7, 10, tzinfo=UTC)
# Monday 30 Nov 2026, 09:00 in Los Angeles.
LA_MONDAY_MORNING = "2026-11-30T17:00:00.000000Z"


def card_next(slack) -> str:
    """The card's line about the next reminder."""
    blocks = card(slack)["blocks"]
    return all_text([b for b in blocks if b.get("block_id") == Block.CARD_NEXT])


async def know_timezone(mend, user="U1"):
    """Mend has asked Slack about `user` before (their timezone is cached)."""
    await mend.mend.deps.people.get("T1", user)


async def test_late_at_night_the_promise_and_followup_wait_for_the_working_morning(
        mend, slack, slack_user, clock):
    clock.set(LA_LATE_THURSDAY)
    await know_timezone(mend)
    reply = await slack_user.command("customer Acme: order arrived two weeks late, upset")
    await mend.settle()
    # 24 hours on is Friday 23:10 in LA, outside 09:00-18:00: Monday 09:00 instead.
    assert (await case1(mend)).next_followup_at == LA_MONDAY_MORNING
    text = all_text(reply.json["blocks"])
    assert "by Monday morning" in text and "by this time tomorrow" not in text
    assert "after 09:00 maria's time" in text  # the reply says when, and why
    assert "after 09:00 maria's time" in card_next(slack)  # and so does the card
    assert_valid_blocks(card(slack)["blocks"])
    assert [e.kind for e in await mend.store.events("T1", (await case1(mend)).id)
            ].count("followup_set") == 0  # the ack knew the timezone: nothing to correct


async def test_a_critical_case_keeps_the_plain_promise_and_is_nudged_at_any_hour(
        mend, slack, slack_user, clock):
    clock.set(LA_LATE_THURSDAY)
    await know_timezone(mend)
    reply = await slack_user.command("customer Acme: the whole site is down for every "
                                     "user, critical outage")
    await mend.settle()
    case = await case1(mend)
    assert case.severity == "critical"
    assert case.next_followup_at == to_iso(LA_LATE_THURSDAY + timedelta(hours=24))
    text = all_text(reply.json["blocks"])
    assert "by this time tomorrow" in text and "at any hour" in text
    assert "at any hour" in card_next(slack)


async def test_a_followup_inside_working_hours_says_it_comes_when_due(mend, slack, slack_user,
                                                                     clock):
    clock.set(LA_MORNING)  # Thursday 10:00 in LA: Friday 10:00 is a working hour
    await know_timezone(mend)
    reply = await slack_user.command("customer Acme: order arrived two weeks late")
    await mend.settle()
    assert (await case1(mend)).next_followup_at == to_iso(LA_MORNING + timedelta(hours=24))
    assert "by this time tomorrow" in all_text(reply.json["blocks"])
    assert "when the follow-up falls due (inside maria's working hours)" in card_next(slack)


async def test_the_ack_uses_the_workspace_timezone_and_slack_corrects_it(mend, slack,
                                                                         slack_user, clock):
    # Thursday 14:00 UTC. Kofi (U2, Kolkata) is not known yet: inside the ack Mend reads
    # Friday 14:00 UTC as a working hour of the workspace (UTC). In Kolkata it is 19:30,
    # after work: once users.info says so, the follow-up moves to Monday 09:00 his time.
    clock.set(datetime(2026, 11, 26, 14, 0, tzinfo=UTC))
    reply = await slack_user.command("customer Acme: order arrived two weeks late",
                                     user_id="U2")
    assert "by this time tomorrow" in all_text(reply.json["blocks"])
    await mend.settle()
    case = await case1(mend)
    assert case.next_followup_at == "2026-11-30T03:30:00.000000Z"  # Monday 09:00 IST
    assert "after 09:00 kofi's time" in card_next(slack)
    assert "moved" not in said(slack)  # the card says it; no second private message
    events = await mend.store.events("T1", case.id)
    [moved] = [e for e in events if e.kind == "followup_set"]
    assert moved.actor_id is None and moved.detail["reason"] == "working hours"
    timeline = await slack_user.command("case 1", user_id="U2")
    await mend.settle()
    shown = all_text(timeline.json["blocks"]) if timeline.json else said(slack)
    assert "inside the owner's working hours" in shown


async def test_a_followup_falling_due_at_night_marks_the_card_before_the_morning(
        mend, slack, slack_user, clock):
    clock.set(LA_MORNING)
    await know_timezone(mend)
    await open_due(mend, slack_user, clock, due_in=timedelta(hours=10))  # 20:00 in LA
    await mend.settle()
    clock.advance(hours=10, minutes=5)
    await sweep(mend)
    await mend.settle()
    assert nudges(slack) == []  # the reminder waits for 09:00 ...
    assert ":red_circle: *Overdue*" in all_text(card(slack)["blocks"])  # ... the card doesn't


async def test_inside_the_ack_the_workspace_timezone_stands_in_for_the_owners(
        mend, slack, slack_user, clock):
    await mend.store.set_workspace("T1", "2026-11-01T00:00:00.000000Z", tz="Asia/Kolkata")
    clock.set(datetime(2026, 11, 26, 14, 0, tzinfo=UTC))  # Friday 19:30 in Kolkata, +24h
    reply = await slack_user.command("customer Acme: order arrived two weeks late",
                                     user_id="U2")
    text = all_text(reply.json["blocks"])
    assert "by Monday morning" in text and "after 09:00" in text
    await mend.settle()
    assert (await case1(mend)).next_followup_at == "2026-11-30T03:30:00.000000Z"
    assert [e.kind for e in await mend.store.events("T1", (await case1(mend)).id)
            ].count("followup_set") == 0  # Slack agreed with the guess
    assert "after 09:00 kofi's time" in card_next(slack)


async def test_a_followup_changed_by_hand_is_not_corrected(mend, slack, slack_user, clock):
    clock.set(datetime(2026, 11, 26, 14, 0, tzinfo=UTC))
    slack.fail("users.info", delay=0.5)  # Slack answers after the agent has set a time
    await slack_user.command("customer Acme: order arrived two weeks late", user_id="U2")
    due = clock.now() + timedelta(hours=3)
    await mend.mend.deps.lifecycle.set_followup("T1", 1, "U2", due)
    await mend.settle()
    assert (await case1(mend)).next_followup_at == to_iso(due)


async def test_an_overdue_followup_is_marked_on_the_card(mend, slack, slack_user, clock):
    clock.set(LA_MORNING)
    await know_timezone(mend)
    await open_due(mend, slack_user, clock, due_in=timedelta(hours=1))
    await mend.settle()
    assert "Overdue" not in all_text(card(slack)["blocks"])
    clock.advance(hours=1, minutes=5)
    await sweep(mend)  # the first reminder goes out, and then the card is updated
    await mend.settle()
    blocks = card(slack)["blocks"]
    fields = all_text([b for b in blocks if b.get("block_id") == Block.CARD_FIELDS])
    assert ":red_circle: *Overdue*" in fields
    assert "Overdue" in card_next(slack) and "in working hours" in card_next(slack)
    assert_valid_blocks(blocks)


@pytest.mark.parametrize("now, due, words", [
    ("2026-11-26T18:00:00+00:00", "2026-11-27T18:00:00+00:00", "by this time tomorrow"),
    ("2026-11-26T18:00:00+00:00", "2026-11-26T22:00:00+00:00", "within 4 hours"),
    ("2026-11-27T07:10:00+00:00", "2026-11-30T17:00:00+00:00", "by Monday morning"),
    ("2026-11-26T15:10:00+00:00", "2026-11-26T17:00:00+00:00", "by this morning"),
    ("2026-11-26T05:00:00+00:00", "2026-11-26T17:00:00+00:00", "by tomorrow morning"),
    ("2026-11-26T05:00:00+00:00", "2026-12-09T17:00:00+00:00", "by 9 December"),
])
def test_promise_words_name_the_owners_day(now, due, words):
    from bot.domain.promises import promise_words

    assert promise_words(datetime.fromisoformat(now), datetime.fromisoformat(due),
                         "America/Los_Angeles") == words
