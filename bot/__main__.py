"""`python -m bot`: run Mend (HTTP mode, or Socket Mode with SLACK_APP_TOKEN).

`python -m bot export …` writes the CSV export; `python -m bot migrate …` copies
SQLite into PostgreSQL; `python -m bot sandbox` runs the sandbox.
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
from bot.storage import StoreError

EXIT_CONFIG = 2
CLI_EXPORT_MAX_DAYS = 3650  # python -m bot export --since: up to ten years back
CHECK_SECONDS = 5
log = logging.getLogger("mend")


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
    log.info("Mend %s listening on port %s (POST /slack/events, GET /healthz)",
             __version__, settings.port)
    await stop.wait()
    await runner.cleanup()


async def _run_socket(mend, stop: asyncio.Event) -> None:
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
    log.info("Mend %s connected to Slack over Socket Mode", __version__)
    await stop.wait()
    await handler.close_async()


def export(argv: list[str]) -> int:
    """`python -m bot export --since 30d [--team T123]`: the CSV on standard output.

    Reads the database read-only (MEND_DB, also from `.env`); needs no Slack settings.
    """
    import argparse
    import os
    import sqlite3
    from datetime import UTC, datetime, timedelta

    import psycopg

    from bot.domain.durations import parse_days
    from bot.domain.reports import export_csv
    from bot.domain.times import to_iso

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
    try:
        store, teams = _export_source()
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
    except (sqlite3.Error, psycopg.Error) as exc:
        print(f"mend: cannot read the database: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BrokenPipeError:  # e.g. `| head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:  # e.g. the disk is full
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"mend: cannot write the CSV: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _export_source():
    """The store to export from (MEND_DATABASE_URL, else MEND_DB, read-only) and its
    workspaces."""
    import os

    from bot.runtime.config import DEFAULT_DB

    url = os.environ.get("MEND_DATABASE_URL")
    if url:
        from bot.storage.postgres.store import PgStore

        async def teams_of(url: str):
            store = await PgStore.open(url, min_size=1, max_size=1)
            try:
                return store, await store.workspaces()
            finally:
                await store.close()  # the export reads on a connection of its own

        return asyncio.run(teams_of(url))
    from bot.storage.sqlite import Store

    path = os.environ.get("MEND_DB") or str(DEFAULT_DB)
    if not os.path.isfile(path):
        raise StoreError(f"no database at {path} (set MEND_DB)")
    store = Store(path, readonly=True)
    return store, asyncio.run(store.workspaces())


def migrate(argv: list[str]) -> int:
    """`python -m bot migrate --from data/mend.db --to postgresql://…`: copy a SQLite
    database into an empty PostgreSQL one; prints the row counts of both sides."""
    import argparse

    from bot.storage import is_postgres_url
    from bot.storage.postgres.copy import migrate as copy

    parser = argparse.ArgumentParser(prog="python -m bot migrate",
                                     description="Copy Mend's SQLite database into "
                                                 "an empty PostgreSQL database.")
    parser.add_argument("--from", dest="source", required=True, help="the SQLite file")
    parser.add_argument("--to", dest="url", required=True, help="postgresql://… URL")
    args = parser.parse_args(argv)
    if not is_postgres_url(args.url):
        print("mend: --to takes a postgresql:// URL", file=sys.stderr)
        return EXIT_CONFIG
    before, after = asyncio.run(copy(args.source, args.url))
    print(f"{'table':<12}{'sqlite':>10}{'postgres':>10}")
    for table in before:
        print(f"{table:<12}{before[table]:>10}{after[table]:>10}")
    if before != after:
        print("mend: the row counts differ", file=sys.stderr)
        return 1
    return 0


def run_sandbox(argv: list[str]) -> int:
    """`python -m bot sandbox [--port 8080]`: Mend, a local stand-in for Slack and its web
    page, on 127.0.0.1 (see bot/sandbox.py); returns the exit status."""
    from bot.runtime.sandbox import run_sandbox as run

    return run(argv)


def main(argv: list[str]) -> int:
    if argv[:1] == ["sandbox"]:
        return run_sandbox(argv[1:])
    if argv[:1] in (["export"], ["migrate"]):
        try:
            return (export if argv[0] == "export" else migrate)(argv[1:])
        except StoreError as exc:
            print(f"mend: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    configure_logging()
    load_dotenv_file()
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
