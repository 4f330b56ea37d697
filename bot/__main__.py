"""`mend` (or `python -m bot`): run Mend (HTTP mode, or Socket Mode with SLACK_APP_TOKEN).

`mend export …` writes the CSV export; `mend sandbox` runs the sandbox;
`mend purge --team T…` deletes an uninstalled workspace's data at once.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys

from bot import __version__
from bot.domain.playbook import PlaybookError
from bot.runtime.config import (
    NO_CREDENTIALS,
    ConfigError,
    from_env,
    has_credentials,
    load_dotenv_file,
)
from bot.runtime.logs import configure as configure_logging
from bot.storage.sqlite import StoreError

EXIT_CONFIG = 2
CLI_EXPORT_MAX_DAYS = 3650  # python -m bot export --since: up to ten years back
CHECK_SECONDS = 5
log = logging.getLogger("mend")
USAGE = """usage: mend [sandbox | export] [options]

  mend                 run Mend: HTTP mode (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET;
                       Slack calls POST /slack/events on $PORT), or Socket Mode
                       (SLACK_BOT_TOKEN, SLACK_APP_TOKEN). Without Slack settings
                       it opens the local sandbox instead.
  mend sandbox --help  Mend against a local stand-in for Slack, in your browser
  mend export --help   cases and their timelines as CSV
  mend --version       the version

On $PORT (default 3000), in both modes: GET /healthz (liveness), GET /readyz
(readiness) and GET /metrics (Prometheus; MEND_METRICS=0 turns it off).
Settings come from the environment or a .env file: see the README, 'Operating Mend'.
"""


async def run(settings) -> None:
    from bot.app import Mend

    mend = await Mend.start(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await _check_slack(mend)
        if stop.is_set():
            return
        # Everything loaded so far lives for the whole run: keep it out of the
        # collector's way so full collections don't pause request handling.
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)  # fewer young collections under load
        if settings.socket_mode:
            await _run_socket(mend, stop)
        else:
            await _run_http(mend, settings, stop)
    finally:
        await mend.close()


async def _check_slack(mend) -> None:
    """A refused token stops start-up (ConfigError); a Slack that doesn't answer
    within a few seconds doesn't hold it up."""
    try:
        await asyncio.wait_for(mend.check_slack(), CHECK_SECONDS)
    except TimeoutError:
        log.warning("Slack did not answer the token check within %s s; starting anyway",
                    CHECK_SECONDS)


async def _run_http(mend, settings, stop: asyncio.Event) -> None:
    runner = await mend.serve_http()
    log.info("Mend %s listening on port %s (POST /slack/events, GET /healthz, /readyz%s)",
             __version__, settings.port, ", /metrics" if settings.metrics else "")
    await stop.wait()
    await _not_ready(mend)
    await runner.cleanup()  # requests being answered finish; then close() drains the rest


async def _not_ready(mend) -> None:
    """Shutdown, first step: /readyz fails, and stays failed for MEND_DRAIN_SECONDS
    (default 0) so that a load balancer stops sending before the listener closes."""
    import os

    mend.stopping = True
    try:
        grace = min(max(float(os.environ.get("MEND_DRAIN_SECONDS") or 0), 0.0), 60.0)
    except ValueError:
        grace = 0.0
    if grace:
        log.info("not ready; stopping in %s s", grace)
        await asyncio.sleep(grace)


async def _run_socket(mend, stop: asyncio.Event) -> None:
    # /healthz, /readyz and /metrics on PORT in Socket Mode too.
    runner = await mend.serve_ops()
    try:
        await _connect_and_wait(mend, stop)
    finally:
        await runner.cleanup()


async def _connect_and_wait(mend, stop: asyncio.Event) -> None:
    # Connecting retries for as long as Slack can't be reached: a stop must still work.
    connecting = asyncio.ensure_future(mend.connect_socket())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({connecting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not connecting.done():
        connecting.cancel()
        log.info("stopped before Slack answered")
        return
    stopping.cancel()
    handler = connecting.result()
    log.info("Mend %s connected to Slack over Socket Mode (GET /healthz, /readyz on port %s)",
             __version__, mend.settings.port)
    await stop.wait()
    await _not_ready(mend)
    await handler.close_async()


def export(argv: list[str]) -> int:
    """`python -m bot export --since 30d [--team T123]`: the CSV on standard output.

    Reads the database read-only (MEND_DB, also from `.env`); needs no Slack settings.
    """
    import argparse
    import os
    import sqlite3
    from datetime import UTC, datetime, timedelta

    from bot.domain.durations import parse_days
    from bot.domain.reports import export_csv
    from bot.domain.times import to_iso
    from bot.runtime.config import default_db
    from bot.storage.sqlite import Store

    parser = argparse.ArgumentParser(prog="python -m bot export",
                                     description="Cases and their timelines as CSV.")
    parser.add_argument("--since", default="30d", help="how far back, e.g. 30d (default)")
    parser.add_argument("--team", help="workspace id (needed when the database has several)")
    args = parser.parse_args(argv)
    days = parse_days(args.since, maximum=CLI_EXPORT_MAX_DAYS, unit_required=False)
    if days is None:
        print("mend: --since takes a number of days, e.g. 30d", file=sys.stderr)
        return EXIT_CONFIG
    load_dotenv_file()
    path = os.environ.get("MEND_DB") or default_db()
    if not os.path.isfile(path):
        print(f"mend: no database at {path} (set MEND_DB)", file=sys.stderr)
        return EXIT_CONFIG
    try:
        store = Store(path, readonly=True)
        teams = asyncio.run(store.workspaces())
        team = args.team or (teams[0] if len(teams) == 1 else None)
        if team not in teams:
            print(f"mend: pick a workspace with --team ({', '.join(teams) or 'none yet'})",
                  file=sys.stderr)
            return EXIT_CONFIG
        since = datetime.now(UTC) - timedelta(days=days)
        export_csv(store.export_rows(team, to_iso(since)), sys.stdout)
        sys.stdout.flush()
    except StoreError as exc:
        print(f"mend: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except sqlite3.Error as exc:
        print(f"mend: cannot read {path}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BrokenPipeError:  # e.g. `| head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:  # e.g. the disk is full
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"mend: cannot write the CSV: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def purge(argv: list[str]) -> int:
    """`python -m bot purge --team T123`: delete every row of an uninstalled workspace
    now, without waiting for MEND_RETENTION_DAYS; prints what went."""
    import argparse
    import os

    from bot.runtime.config import DEFAULT_DB
    from bot.storage.sqlite import Store

    parser = argparse.ArgumentParser(prog="python -m bot purge",
                                     description="Delete a workspace's data at once.")
    parser.add_argument("--team", required=True, help="workspace id, e.g. T0123ABC")
    args = parser.parse_args(argv)
    load_dotenv_file()
    path = os.environ.get("MEND_DB") or str(DEFAULT_DB)
    if not os.path.isfile(path):
        print(f"mend: no database at {path} (set MEND_DB)", file=sys.stderr)
        return EXIT_CONFIG
    store = Store(path)
    try:
        deleted = asyncio.run(store.purge_workspace(args.team))
    finally:
        asyncio.run(store.close())
    for table, count in sorted(deleted.items()):
        print(f"{table}: {count}")
    print(f"purged {args.team}: {sum(deleted.values())} rows" if deleted
          else f"nothing stored for {args.team}")
    return 0


def run_sandbox(argv: list[str]) -> int:
    """`python -m bot sandbox [--port 8080]`: Mend, a local stand-in for Slack and its web
    page, on 127.0.0.1 (see bot/sandbox.py); returns the exit status."""
    from bot.runtime.sandbox import run_sandbox as run

    return run(argv)


def main(argv: list[str]) -> int:
    if argv[:1] in (["--help"], ["-h"], ["help"]):
        print(USAGE, end="")
        return 0
    if argv[:1] in (["--version"], ["-V"]):
        print(f"mend {__version__}")
        return 0
    if argv[:1] in (["read"], ["check"]):
        from bot.runtime import text_cli

        return (text_cli.read_main if argv[0] == "read" else text_cli.check_main)(argv[1:])
    if argv[:1] == ["sandbox"]:
        return run_sandbox(argv[1:])
    if argv[:1] in (["export"], ["purge"]):
        try:
            return (export if argv[0] == "export" else purge)(argv[1:])
        except StoreError as exc:
            print(f"mend: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    load_dotenv_file()  # first: MEND_LOG_FORMAT may be set there
    configure_logging()
    if not has_credentials():
        # Nothing to talk to Slack with: show Mend in the local sandbox instead.
        print(f"mend: {NO_CREDENTIALS}\nmend: meanwhile, here is Mend in a local sandbox "
              "(a stand-in for Slack in your browser).", file=sys.stderr, flush=True)
        return run_sandbox(argv)
    try:
        settings = from_env()
        asyncio.run(run(settings))
    except (ConfigError, PlaybookError, StoreError) as exc:
        print(f"mend: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        pass
    return 0


def cli() -> None:
    """The `mend` console script."""
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
