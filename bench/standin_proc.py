"""Runs the Slack stand-in as its own process for benchmarks; prints its API URL."""

import asyncio
import sys

from standin import SlackStandIn


async def main() -> None:
    stand_in = SlackStandIn(bot_token="xoxb-bench", app_token="xapp-bench")
    await stand_in.start()
    print(stand_in.api_url, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
