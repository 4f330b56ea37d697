"""Runs the Slack stand-in as its own process for benchmarks; prints its API URL.

The workspace knows the people and channels bench/ack.py sends from (U0…U12 in
C0…C6), as a real workspace would: without them, every new case would look its owner
up in vain (users.info answering user_not_found) and never have their timezone."""

import asyncio
import sys

from standin import SlackStandIn

USERS = 13  # bench/ack.py: user_id U{i % 13}
CHANNELS = 7  # bench/ack.py: channel_id C{i % 7}
ZONES = ("America/New_York", "Europe/London", "Asia/Tokyo", "UTC")


async def main() -> None:
    stand_in = SlackStandIn(bot_token="xoxb-bench", app_token="xapp-bench")
    for n in range(USERS):
        stand_in.add_user(f"U{n}", f"agent.{n}", tz=ZONES[n % len(ZONES)])
    for n in range(CHANNELS):
        stand_in.add_channel(f"C{n}", "support" if n == 0 else f"support-{n}")
    await stand_in.start()
    print(stand_in.api_url, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
