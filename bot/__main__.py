"""`python -m bot`: run Mend (HTTP mode, or Socket Mode with SLACK_APP_TOKEN)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys

from bot import __version__
from bot.config import ConfigError, from_env, load_dotenv_file
from bot.logs import configure as configure_logging
from bot.playbook import PlaybookError
from bot.store import StoreError

EXIT_CONFIG = 2


async def run(settings) -> None:
    from bot.app import Mend

    mend = await Mend.start(settings)
    # Everything loaded so far lives for the whole run: keep it out of the
    # collector's way so full collections don't pause request handling.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)  # fewer young collections under load
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if settings.socket_mode:
        handler = await mend.connect_socket()
        logging.info("Mend %s connected to Slack over Socket Mode", __version__)
        await stop.wait()
        await handler.close_async()
    else:
        runner = await mend.serve_http()
        logging.info("Mend %s listening on port %s (POST /slack/events, GET /healthz)",
                     __version__, settings.port)
        await stop.wait()
        await runner.cleanup()
    await mend.close()


def main(argv: list[str]) -> int:
    configure_logging()
    load_dotenv_file()
    try:
        settings = from_env()
        asyncio.run(run(settings))
    except (ConfigError, PlaybookError, StoreError) as exc:
        print(f"mend: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
