"""How many database round trips does one `/recover` cost, on each engine?

Runs Mend in this process against the Slack stand-in, sends `--requests` signed
`/recover` commands one at a time (each opens a case and posts its card), and counts
the statements sent to the database while each is handled, card post included:
SQLite's statements (each a call into the library, no network) and PostgreSQL's
round trips (statements, BEGIN and COMMIT). Prints the mean per `/recover`; with
`--list`, the statements of the last one as well (their first words).

    .venv/bin/python bench/roundtrips.py [--requests 50] [--database-url postgresql://…] [--list]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pg import drop_schema, fresh_schema, server_url  # noqa: E402
from bot.runtime.clock import ManualClock  # noqa: E402
from bot.runtime.config import DEFAULT_PLAYBOOK, Settings  # noqa: E402
from standin import MendDriver, SlackStandIn  # noqa: E402
from tests.helpers import REPORT, start_mend  # noqa: E402

SECRET = "test-signing-secret"


SENT: list[str] = []  # the statements sent (`--list`)
LAST: list[str] = []  # those of the last /recover


def counter(store) -> callable:
    """A function giving the statements sent so far."""
    if hasattr(store, "round_trips"):
        return lambda: store.round_trips[0]
    sent = [0]

    def seen(sql: str) -> None:
        sent[0] += 1
        SENT.append(sql)
    store.db.conn.set_trace_callback(seen)
    return lambda: sent[0]


def listing() -> None:
    """Keep PostgreSQL's statements as they are sent, in SENT."""
    from bot.storage.postgres.connection import MendConnection, PgTx

    run = MendConnection.run
    many = PgTx.many

    async def noted_run(self, sql, params):
        SENT.append(sql)
        return await run(self, sql, params)

    async def noted_many(self, sql, seq):
        SENT.append(sql)
        return await many(self, sql, seq)
    MendConnection.run, PgTx.many = noted_run, noted_many


async def per_recover(engine: str, requests: int, url: str | None) -> float:
    async with SlackStandIn(bot_token="xoxb-test", app_token="xapp-test") as slack:
        slack.add_user("U1", name="maria", tz="America/Los_Angeles")
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(bot_token="xoxb-test", signing_secret=SECRET, app_token=None,
                                api_url=slack.api_url, port=0, db_path=f"{tmp}/rt.db",
                                playbook_path=str(DEFAULT_PLAYBOOK), database_url=url)
            running = await start_mend(settings, ManualClock())
            sent = counter(running.store)
            try:
                async with MendDriver(running.url, SECRET, slack) as driver:
                    await driver.command(REPORT, user_id="U1", channel_id="C1")  # warm-up
                    await running.settle()
                    before = sent()
                    for _ in range(requests):
                        SENT.clear()
                        await driver.command(REPORT, user_id="U1", channel_id="C1")
                        await running.settle()
                    LAST[:] = SENT  # not the stop's
                    return (sent() - before) / requests
            finally:
                await running.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--database-url", help="PostgreSQL server (default: $MEND_BENCH_"
                                               "DATABASE_URL or $MEND_TEST_DATABASE_URL)")
    parser.add_argument("--list", action="store_true", help="print the last /recover's "
                        "statements")
    args = parser.parse_args()
    print(f"sqlite    {await per_recover('sqlite', args.requests, None):5.1f} statements "
          "per /recover (in-process calls)")
    show(args.list)
    if args.list:
        listing()
    server = server_url(args.database_url)
    schema, url = fresh_schema(server)
    try:
        trips = await per_recover("postgres", args.requests, url)
    finally:
        drop_schema(server, schema)
    print(f"postgres  {trips:5.1f} round trips per /recover (statements, BEGIN, COMMIT)")
    show(args.list)


def show(wanted: bool) -> None:
    for sql in LAST if wanted else ():
        print(f"    {' '.join(sql.split())[:90]}")


if __name__ == "__main__":
    asyncio.run(main())
