"""The case card reaches Slack once, through rate limits, errors and restarts."""

from __future__ import annotations

import asyncio
import logging

from bot.app import Mend
from bot.domain.times import to_iso
from bot.domain.vocabulary import CardState
from standin import MendDriver
from tests.helpers import PACE, REPORT, SECRET, start_mend


async def test_rate_limited_card_is_retried_after_retry_after(mend, slack, slack_user):
    slack.fail("chat.postMessage", status=429, retry_after=1)
    await slack_user.command(REPORT)
    await mend.settle()
    posts = slack.calls_to("chat.postMessage")
    assert [p.status for p in posts] == [429, 200]
    assert posts[1].at - posts[0].at >= 0.9
    assert len(slack.messages("C1")) == 1


async def test_channel_without_mend_tells_agent_and_keeps_case(mend, slack, slack_user):
    slack.add_channel("C5", name="private-team", bot_member=False)
    reply = await slack_user.command(REPORT, channel_id="C5")
    assert "Case #1" in str(reply.json)
    await mend.settle()
    case = await mend.store.case_by_number("T1", 1)
    assert case is not None
    assert "card_failed" in [e.kind for e in await mend.store.events("T1", case.id)]
    assert any("/invite" in str(r["body"]) for r in slack.responses)


async def test_restart_posts_cards_left_unposted(settings, clock, slack):
    first = await start_mend(settings, clock)
    fields = dict(channel_id="C1", reporter_id="U1", owner_id="U1", summary="late order",
                  category="broken_promise", emotion="upset", contact="email",
                  severity="normal", customer="Acme")
    await first.store.create_case("T1", fields, "U1", to_iso(clock.now()))  # as if cut off here
    await first.stop()
    assert slack.calls_to("chat.postMessage") == []

    second = await start_mend(settings, clock)
    try:
        assert len(slack.messages("C1")) == 1
        assert (await second.store.case_by_number("T1", 1)).card_ts is not None
    finally:
        await second.stop()
    third = await start_mend(settings, clock)  # nothing left to post: nothing posted twice
    await third.stop()
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_failed_card_is_not_retried_forever(mend, slack, slack_user):
    slack.add_channel("C5", name="private-team", bot_member=False)
    await slack_user.command(REPORT, channel_id="C5")
    await mend.settle()
    case = await mend.store.case_by_number("T1", 1)
    assert case.card_state == CardState.FAILED


async def test_burst_of_cards_to_one_channel_is_paced_not_dropped(mend, slack, slack_user):
    for i in range(6):
        await slack_user.command(f"customer Acme {i}: waited on hold for an hour")
    await slack_user.command("customer Other: waited on hold for an hour", channel_id="C2")
    await mend.settle()
    posts = [c for c in slack.calls_to("chat.postMessage") if c.arg("channel") == "C1"]
    assert len(posts) == 6 and all(p.ok for p in posts)
    gaps = [b.at - a.at for a, b in zip(posts, posts[1:], strict=False)]
    assert min(gaps) >= PACE * 0.8
    other = [c for c in slack.calls_to("chat.postMessage") if c.arg("channel") == "C2"]
    assert other[0].at < posts[-1].at  # another channel is not held up by the burst


async def test_stopping_with_a_backlog_leaves_cards_for_the_next_start(settings, clock, slack,
                                                                       caplog):
    first = await Mend.start(settings, clock=clock, retry_backoff=0.01, pace_seconds=30,
                             run_scheduler=False)
    runner = await first.serve_http("127.0.0.1", 0)
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    async with MendDriver(url, SECRET, slack, team_id="T1") as agent:
        for i in range(3):  # one card goes out, two wait their turn (30 s apart)
            await agent.command(f"customer Acme {i}: waited on hold for an hour")
    while not slack.calls_to("chat.postMessage"):
        await asyncio.sleep(0.01)
    await runner.cleanup()
    await asyncio.wait_for(first.close(), timeout=5)  # does not wait out the queue
    assert len(slack.messages("C1")) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    second = await start_mend(settings, clock)
    await second.stop()
    posted = [c.arg("text") for c in slack.calls_to("chat.postMessage")]
    assert len(slack.messages("C1")) == 3 and len(posted) == 3


async def test_a_slow_card_post_is_not_repeated_and_does_not_stall_the_channel(
        settings, clock, slack):
    running = await start_mend(settings, clock, slack_timeout=0.2)
    try:
        slack.fail("chat.postMessage", delay=0.5)  # the first card goes out, answer too late
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
