"""`mend` (or `python -m bot`): run Mend (HTTP mode, or Socket Mode with SLACK_APP_TOKEN).

`mend export …` writes the CSV export; `mend sandbox` runs the sandbox;
`mend purge --team T…` deletes an uninstalled workspace's data at once;
`mend migrate --from data/mend.db --to postgresql://…` copies SQLite into PostgreSQL.
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
from bot.storage.engine import StoreError

EXIT_CONFIG = 2
CLI_EXPORT_MAX_DAYS = 3650  # python -m bot export --since: up to ten years back
CHECK_SECONDS = 5
log = logging.getLogger("mend")
ENDPOINTS = """On $PORT (default 3000), in both modes: GET /healthz (liveness), GET /readyz
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




def _export_parser():
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m bot export",
        description="Cases opened in the period and their timelines as CSV on standard "
                    "output: one row per timeline event, names next to ids, flat columns. "
                    "Reads the database (MEND_DATABASE_URL, else MEND_DB, also from .env) "
                    "read-only; needs no Slack settings.")
    parser.add_argument("--since", default="30d", help="how far back, e.g. 30d (default)")
    parser.add_argument("--team", help="workspace id (needed when the database has several)")
    return parser


def export(argv: list[str]) -> int:
    """`python -m bot export --since 30d [--team T123]`: the CSV on standard output."""
    import os

    from bot.domain.durations import parse_days
    from bot.runtime.config import DEFAULT_DB

    args = _export_parser().parse_args(argv)
    days = parse_days(args.since, maximum=CLI_EXPORT_MAX_DAYS, unit_required=False)
    if days is None:
        print("mend: --since takes a number of days, e.g. 30d", file=sys.stderr)
        return EXIT_CONFIG
    load_dotenv_file()
    url = os.environ.get("MEND_DATABASE_URL")
    path = url or os.environ.get("MEND_DB") or str(DEFAULT_DB)
    if not url and not os.path.isfile(path):
        print(f"mend: no database at {path} (set MEND_DB)", file=sys.stderr)
        return EXIT_CONFIG
    return _write_export(path, args.team, days)


def _labels() -> dict[str, str]:
    """Category names from the playbook (none if it can't be read: ids are enough)."""
    import os

    from bot.domain.playbook import load_playbook
    from bot.runtime.config import DEFAULT_PLAYBOOK

    try:
        book = load_playbook(os.environ.get("MEND_PLAYBOOK") or DEFAULT_PLAYBOOK)
    except (PlaybookError, OSError):
        return {}
    return {c.key: c.label for c in book.categories}


def _write_export(path: str, team: str | None, days: int) -> int:
    import os
    import sqlite3
    from datetime import UTC, datetime, timedelta

    import psycopg

    from bot.domain.reports import export_csv
    from bot.domain.times import to_iso
    from bot.storage import is_postgres_url

    try:
        if is_postgres_url(path):
            store, teams, names = asyncio.run(_pg_export_source(path, team))
        else:
            from bot.storage.sqlite import Store

            store = Store(path, readonly=True)
            teams = asyncio.run(store.workspaces())
            names = None
        team = team or (teams[0] if len(teams) == 1 else None)
        if team not in teams:
            print(f"mend: pick a workspace with --team ({', '.join(teams) or 'none yet'})",
                  file=sys.stderr)
            return EXIT_CONFIG
        since = datetime.now(UTC) - timedelta(days=days)
        if names is None or team not in names:
            names = asyncio.run(store.names(team)) if not is_postgres_url(path) else {}
        else:
            names = names[team]
        export_csv(store.export_rows(team, to_iso(since)), sys.stdout, names, _labels())
        sys.stdout.flush()
    except StoreError as exc:
        print(f"mend: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (sqlite3.Error, psycopg.Error) as exc:
        where = "the PostgreSQL database" if is_postgres_url(path) else path
        print(f"mend: cannot read {where}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except BrokenPipeError:  # e.g. `| head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as exc:  # e.g. the disk is full
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        print(f"mend: cannot write the CSV: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0



async def _pg_export_source(url: str, team: str | None):
    """A PostgreSQL store to export from, its workspaces and the people's names of each
    (read now: the export itself reads on a connection of its own, in one snapshot)."""
    from bot.storage.postgres.store import PgStore

    store = await PgStore.open(url, min_size=1, max_size=1, migrate=False)
    try:
        teams = await store.workspaces()
        names = {t: await store.names(t) for t in teams if team in (None, t)}
        return store, teams, names
    finally:
        await store.close()


async def _open_for_writing(path_or_url: str):
    """The store a sub-command changes (MEND_DATABASE_URL wins over MEND_DB)."""
    from bot.storage import is_postgres_url

    if is_postgres_url(path_or_url):
        from bot.storage.postgres.store import PgStore

        return await PgStore.open(path_or_url, min_size=1, max_size=1)
    from bot.storage.sqlite import Store

    return Store(path_or_url)


def purge(argv: list[str]) -> int:
    """`python -m bot purge --team T123`: delete every row of an uninstalled workspace
    now, without waiting for MEND_RETENTION_DAYS; prints what went."""
    import argparse
    import os

    from bot.runtime.config import DEFAULT_DB

    parser = argparse.ArgumentParser(prog="python -m bot purge",
                                     description="Delete a workspace's data at once.")
    parser.add_argument("--team", required=True, help="workspace id, e.g. T0123ABC")
    args = parser.parse_args(argv)
    load_dotenv_file()
    url = os.environ.get("MEND_DATABASE_URL")
    path = url or os.environ.get("MEND_DB") or str(DEFAULT_DB)
    if not url and not os.path.isfile(path):
        print(f"mend: no database at {path} (set MEND_DB)", file=sys.stderr)
        return EXIT_CONFIG

    async def purging():
        store = await _open_for_writing(path)
        try:
            return await store.purge_workspace(args.team)
        finally:
            await store.close()

    deleted = asyncio.run(purging())
    for table, count in sorted(deleted.items()):
        print(f"{table}: {count}")
    print(f"purged {args.team}: {sum(deleted.values())} rows" if deleted
          else f"nothing stored for {args.team}")
    return 0


def migrate(argv: list[str]) -> int:
    """`python -m bot migrate --from data/mend.db --to postgresql://…`: copy a SQLite
    database into an empty PostgreSQL one; prints the row counts of both sides."""
    import argparse

    from bot.storage import is_postgres_url
    from bot.storage.postgres.copy import migrate as copy

    parser = argparse.ArgumentParser(
        prog="python -m bot migrate",
        description="Copy Mend's SQLite database (all tables, ids and case numbers kept, "
                    "timers and outbox included; a running Mend's through SQLite's backup "
                    "API) into an empty PostgreSQL database, and print the row counts of "
                    "each table on both sides.")
    parser.add_argument("--from", dest="source", required=True, help="the SQLite file")
    parser.add_argument("--to", dest="url", required=True, help="postgresql://… URL")
    args = parser.parse_args(argv)
    if not is_postgres_url(args.url):
        print("mend: --to takes a postgresql:// URL", file=sys.stderr)
        return EXIT_CONFIG
    before, after = asyncio.run(copy(args.source, args.url))
    print(f"{'table':<16}{'sqlite':>10}{'postgres':>10}")
    for table in before:
        print(f"{table:<16}{before[table]:>10}{after[table]:>10}")
    if before != after:
        print("mend: the row counts differ", file=sys.stderr)
        return 1
    return 0


def run_sandbox(argv: list[str]) -> int:
    """`python -m bot sandbox [--port 8080]`: Mend, a local stand-in for Slack and its web
    page, on 127.0.0.1 (see bot/sandbox.py); returns the exit status."""
    from bot.runtime.sandbox import run_sandbox as run

    return run(argv)



RUN_HELP = """usage: python -m bot run [sandbox options]

Run Mend against Slack: HTTP mode (SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET; POST
/slack/events and GET /healthz on PORT), or Socket Mode when SLACK_APP_TOKEN is set.
Settings come from the environment or a .env file (see README.md, Configuration).
Without any Slack credentials it opens the sandbox instead, passing it the options
given (see `python -m bot sandbox --help`). This is also what a bare `python -m bot`
does.
"""


def run_command(argv: list[str]) -> int:
    """`python -m bot [run]`: Mend against Slack, or the sandbox without credentials."""
    if argv[:1] in (["-h"], ["--help"]):
        print(RUN_HELP, end="")
        return 0
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


def _store_command(run):
    """A sub-command that reads the database: an unusable one is one line and exit 2."""
    def command(argv: list[str]) -> int:
        try:
            return run(argv)
        except StoreError as exc:
            print(f"mend: {exc}", file=sys.stderr)
            return EXIT_CONFIG

    return command


def version_command(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print("usage: python -m bot version\n\nPrint Mend's version and exit.")
        return 0
    print(f"Mend {__version__}")
    return 0


def _text_cli(name: str):
    def command(argv: list[str]) -> int:
        from bot.runtime import text_cli

        return (text_cli.read_main if name == "read" else text_cli.check_main)(argv)

    return command


# name: (what it does, its entry point)
SUBCOMMANDS = {
    "run": ("run Mend against Slack (the default; the sandbox when there are no Slack "
            "credentials)", run_command),
    "sandbox": ("Mend with a local stand-in for Slack and its web page, on 127.0.0.1",
                run_sandbox),
    "export": ("cases and their timelines as CSV on standard output", _store_command(export)),
    "read": ("what Mend reads in reports, one JSON object per line", _text_cli("read")),
    "check": ("Mend's review of draft replies, one JSON object per line", _text_cli("check")),
    "purge": ("delete an uninstalled workspace's data at once", _store_command(purge)),
    "migrate": ("copy a SQLite database into an empty PostgreSQL one",
                _store_command(migrate)),
    "version": ("print Mend's version", version_command),
}


def usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    lines = [f"  {name:<{width}}  {what}" for name, (what, _) in SUBCOMMANDS.items()]
    return ("usage: mend [run | sandbox | export | read | check | purge | migrate | version] "
            "[options]\n\n"
            "Mend, service recovery in Slack.\n\nsub-commands:\n" + "\n".join(lines) +
            "\n\nEach sub-command has --help (e.g. `mend sandbox --help`). A bare `mend` (or "
            "`python -m bot`) runs Mend (`run`).\n\n"
            + ENDPOINTS)



def main(argv: list[str]) -> int:
    first = argv[0] if argv else ""
    if first in ("-h", "--help", "help"):
        print(usage(), end="")
        return 0
    if first in ("--version", "-V"):
        return version_command([])
    if first in SUBCOMMANDS:
        return SUBCOMMANDS[first][1](argv[1:])
    if first and not first.startswith("-"):
        print(f"mend: unknown sub-command {first!r}\n\n{usage()}", file=sys.stderr, end="")
        return EXIT_CONFIG
    return run_command(argv)  # a bare `python -m bot [options]`


def cli() -> None:
    """The `mend` console script."""
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
