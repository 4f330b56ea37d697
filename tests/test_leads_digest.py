"""The weekly digest: moving its day or time, and each case listed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from standin import MendDriver
from tests.helpers import SECRET, all_text, assert_valid_blocks, lead, start_mend

MONDAY = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def digests(slack) -> list[dict]:
    return [m for m in slack.messages("CLEADS") if "weekly digest" in all_text(m["blocks"])]


async def at(running, clock, moment: datetime) -> None:
    clock.set(moment)
    await running.mend.nudger.sweep()
    await running.settle()


async def test_moving_the_digest_later_in_the_week_moves_this_weeks_digest(
        settings, slack, clock):
    clock.set(MONDAY)
    running = await start_mend(settings, clock)
    try:
        await lead(running, "ULEAD")
        async with MendDriver(running.url, SECRET, slack) as driver:
            await driver.command("customer Acme: charged twice", user_id="U1")
            await driver.command("settings lead-channel <#CLEADS|leads>", user_id="ULEAD")
            await at(running, clock, MONDAY)  # Monday's digest, 09:00 UTC
            clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))  # Thursday
            reply = await driver.command("settings digest sun 18:00", user_id="ULEAD")
            assert "Sun 18:00" in all_text(reply.json["blocks"])
        await at(running, clock, datetime(2026, 11, 29, 18, 5, tzinfo=UTC))  # Sunday
        await at(running, clock, datetime(2026, 12, 5, 12, 0, tzinfo=UTC))  # Saturday
        await at(running, clock, datetime(2026, 12, 6, 18, 1, tzinfo=UTC))  # Sunday
    finally:
        await running.stop()
    # Monday, then Sunday as newly asked (not 13 days later), then a week after that.
    assert len(digests(slack)) == 3


async def test_moving_the_digest_later_the_same_day_does_not_send_it_twice(
        settings, slack, clock):
    clock.set(MONDAY)
    running = await start_mend(settings, clock)
    try:
        await lead(running, "ULEAD")
        async with MendDriver(running.url, SECRET, slack) as driver:
            await driver.command("settings lead-channel <#CLEADS|leads>", user_id="ULEAD")
            await at(running, clock, MONDAY)
            await driver.command("settings digest mon 15:00", user_id="ULEAD")
        await at(running, clock, MONDAY.replace(hour=15, minute=1))
        assert len(digests(slack)) == 1
        await at(running, clock, MONDAY.replace(hour=15, minute=1) + timedelta(days=7))
    finally:
        await running.stop()
    assert len(digests(slack)) == 2


async def test_the_digest_lists_an_overdue_case_waiting_for_an_owner_once(
        settings, slack, clock):
    clock.set(MONDAY - timedelta(hours=2))
    running = await start_mend(settings, clock)
    try:
        await lead(running, "ULEAD")
        async with MendDriver(running.url, SECRET, slack) as driver:
            # One after another, as people type them: each command's work after its ack
            # (on PostgreSQL it waits on the network) is done before the next arrives.
            for text, user in (("customer Acme: charged twice", "U1"),
                               ("followup 1 in 30m", "U1"), ("release 1", "U1"),
                               ("settings lead-channel <#CLEADS|leads>", "ULEAD")):
                await driver.command(text, user_id=user)
                await running.settle()
        await at(running, clock, MONDAY)
    finally:
        await running.stop()
    [digest] = digests(slack)
    assert_valid_blocks(digest["blocks"])
    text = all_text(digest["blocks"])
    assert "*overdue*" in text and "_waiting for an owner_" in text
    assert text.count("*#1*") == 1
