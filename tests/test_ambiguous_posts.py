"""Posts Slack may have made although it answered 5xx: looked for, never posted twice.

Slack sometimes stores a message and answers 500 all the same. A card or nudge whose
post got such an answer stays in doubt; before it is posted again Mend looks for it by
its metadata in the channel or thread, and only a post that is not there goes out again.
"""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.cards import POSTING_GRACE
from handlers.ids import CARD_METADATA_TYPE
from tests.helpers import BOT_TOKEN, LA_MORNING, nudges, open_due, sweep

REPORT = "customer Acme: order arrived two weeks late, they are upset"


def cards(slack, channel: str = "C1") -> list[dict]:
    return [m for m in slack.messages(channel)
            if (m.get("metadata") or {}).get("event_type") == CARD_METADATA_TYPE]


async def test_the_stand_in_can_store_a_message_then_answer_500(slack):
    slack.fail("chat.postMessage", status=500, after=True)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url, retry_handlers=[])
    try:
        await client.chat_postMessage(channel="C1", text="posted all the same")
        raise AssertionError("expected a 500")
    except SlackApiError as exc:
        assert exc.response.status_code == 500
    assert [m["text"] for m in slack.messages("C1")] == ["posted all the same"]
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [500]


async def later(mend, clock, by: timedelta) -> None:
    """Time passes and the scheduler sweeps (it settles cards and nudges in doubt)."""
    clock.advance(seconds=by.total_seconds())
    await sweep(mend)


async def test_a_card_stored_then_answered_500_is_found_not_posted_again(mend, slack,
                                                                         slack_user, clock):
    slack.fail("chat.postMessage", status=500, after=True)
    await slack_user.command(REPORT)
    await mend.settle()
    assert len(cards(slack)) == 1  # posted once: no blind retry of the 500
    await later(mend, clock, POSTING_GRACE + timedelta(minutes=1))
    await later(mend, clock, POSTING_GRACE + timedelta(minutes=1))
    [card] = cards(slack)
    assert (await mend.store.case_by_number("T1", 1)).card_ts == card["ts"]
    assert slack.calls_to("conversations.history")  # it was looked for
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_a_card_answered_500_and_not_stored_is_posted_after_looking(mend, slack,
                                                                          slack_user, clock):
    slack.fail("chat.postMessage", status=503, times=2)
    slack.fail("chat.postMessage", status=500, times=1)
    await slack_user.command(REPORT)
    await mend.settle()
    for _ in range(4):
        await later(mend, clock, POSTING_GRACE + timedelta(minutes=1))
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [503, 503, 500, 200]
    assert len(slack.calls_to("conversations.history")) >= 3  # looked before each post
    [card] = cards(slack)
    assert (await mend.store.case_by_number("T1", 1)).card_ts == card["ts"]


async def test_a_nudge_stored_then_answered_500_is_found_not_posted_again(mend, slack,
                                                                          slack_user, clock):
    clock.set(LA_MORNING)
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    slack.fail("chat.postMessage", status=500, after=True)
    await sweep(mend)
    assert len(nudges(slack)) == 1
    [row] = [n for n in (await mend.store.nudges_for_case("T1", 1)) if n.state != "skipped"]
    assert row.state == "sending"  # in doubt
    await later(mend, clock, timedelta(minutes=3))  # past the lease: no longer in flight
    await later(mend, clock, timedelta(minutes=3))
    [nudge] = nudges(slack)
    [row] = [n for n in (await mend.store.nudges_for_case("T1", 1)) if n.state != "skipped"]
    assert (row.state, row.sent_ts) == ("sent", nudge["ts"])
    assert slack.calls_to("conversations.replies")


async def test_a_nudge_answered_500_and_not_stored_is_sent_after_looking(mend, slack,
                                                                         slack_user, clock):
    clock.set(LA_MORNING)
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    slack.fail("chat.postMessage", status=502, times=3)
    for _ in range(5):
        await later(mend, clock, timedelta(minutes=3))
    posts = [c.status for c in slack.calls_to("chat.postMessage")]
    assert posts[-4:] == [502, 502, 502, 200]
    assert len(nudges(slack)) == 1
    [row] = [n for n in (await mend.store.nudges_for_case("T1", 1)) if n.state != "skipped"]
    assert row.state == "sent"


async def test_a_post_answered_fatal_error_is_in_doubt_too(mend, slack, slack_user, clock):
    """Slack's fatal_error: "it's possible some aspect of the operation succeeded"."""
    slack.fail("chat.postMessage", error="fatal_error", after=True)
    await slack_user.command(REPORT)
    await mend.settle()
    await later(mend, clock, POSTING_GRACE + timedelta(minutes=1))
    await later(mend, clock, POSTING_GRACE + timedelta(minutes=1))
    [card] = cards(slack)
    assert (await mend.store.case_by_number("T1", 1)).card_ts == card["ts"]
    assert len(slack.calls_to("chat.postMessage")) == 1
