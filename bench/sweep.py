"""Does the sweep's cost follow the due follow-ups, not the open cases?

Fills a database with 10,000 and then 100,000 open cases (1,000 of them due
in each; every case has a follow-up timer and a customer-update timer, as
Mend keeps them), and times selecting and enqueuing the due ones: reading the
due timers with their cases, planning the ladder, and the one transaction
that replaces the timers and writes the outbox rows (with the roll-ups of the
cases whose follow-up gets its first nudge). Prints both times and their ratio
(target: under 1.5x, and under 100 ms at 100,000).

    .venv/bin/python bench/sweep.py [--runs 5] [--db sqlite|postgres] [--database-url …]
    .venv/bin/python bench/sweep.py --profile   # cProfile of one sweep at 100,000 cases

On PostgreSQL each run fills a fresh schema (there is no file to copy).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pg import drop_schema, fresh_schema, server_url  # noqa: E402
from bot.domain.models import Timer  # noqa: E402
from bot.domain.playbook import load_playbook  # noqa: E402
from bot.domain.schedule import Hours, Planner  # noqa: E402
from bot.domain.times import to_iso  # noqa: E402
from bot.runtime.config import DEFAULT_PLAYBOOK  # noqa: E402
from bot.storage.postgres.store import PgStore  # noqa: E402
from bot.storage.rollups import rebuild  # noqa: E402
from bot.storage.sqlite import Store  # noqa: E402

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # a Thursday, within working hours
DUE = 1000


CASE_INSERT = (
    "INSERT INTO cases (team_id, id, number, channel_id, reporter_id, owner_id, "
    "summary, category, emotion, contact, severity, status, created_at, updated_at, "
    "next_followup_at, customer_updated_at, card_state, card_ts, card_channel) "
    "VALUES (" + ", ".join("?" * 19) + ")")
TIMER_INSERT = "INSERT INTO timers (team_id, at, case_id, kind, due_key) VALUES (?, ?, ?, ?, ?)"
EVENT_INSERT = ("INSERT INTO events (team_id, case_id, at, actor_id, kind, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)")


def fill(open_cases: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """`open_cases` open cases in one workspace (rows, timers and opening events); DUE of
    them have a follow-up due now."""
    rows, timers, events = [], [], []
    updated = to_iso(NOW - timedelta(hours=1))
    for i in range(1, open_cases + 1):
        opened = to_iso(NOW - timedelta(days=30) + timedelta(minutes=i % 40_000))
        due = NOW - timedelta(minutes=5) if i % (open_cases // DUE) == 0 else \
            NOW + timedelta(minutes=i % 40_000)
        rows.append(("T1", i, i, "C1", "U1", "U1", "a customer summary of some length",
                     "general", "calm", "email", "normal", "open", opened, updated,
                     to_iso(due), updated, "posted", f"1.{i}", "C1"))
        events.append(("T1", i, opened, "U1", "opened",
                       json.dumps({"owner_id": "U1", "due": to_iso(due)})))
        timers.append(("T1", to_iso(due), i, "followup", to_iso(due)))
        timers.append(("T1", to_iso(NOW + timedelta(hours=23, minutes=i % 60)), i, "update",
                       updated))
    return rows, timers, events


async def build(store, open_cases: int) -> None:
    """Fill `store` (either engine) with `fill`'s cases, timers and events, the roll-ups
    from them, then ANALYZE."""
    rows, timers, events = fill(open_cases)
    async with store._tx() as tx:  # bulk fill for the benchmark only
        await tx.many(CASE_INSERT, rows)
        await tx.many(TIMER_INSERT, timers)
        await tx.many(EVENT_INSERT, events)
        await tx.run("INSERT INTO workspaces (team_id, created_at) VALUES ('T1', ?)",
                     [to_iso(NOW - timedelta(days=60))])
        await rebuild(tx, store.d, "T1")
    if isinstance(store, PgStore):
        async with store._tx() as tx:
            await tx.run("ANALYZE")
    else:
        store.db.execute("ANALYZE")


async def select_and_enqueue(store, rules, hours, profile: cProfile.Profile | None = None
                             ) -> tuple[float, int]:
    """The scheduler's planning step, as `Nudger.plan` runs it (timezones aside)."""
    gc.collect()  # the fill's garbage is the benchmark's, not the sweep's to collect
    if profile:
        profile.enable()
    start = time.perf_counter()
    due = await store.due_timers("T1", to_iso(NOW))
    planner = Planner(NOW, rules, hours)
    plans = [(t, c, planner.plan(c, t, "UTC")) for t, c in due]
    await store.apply_sweep(
        "T1", processed=[t for t, _, _ in plans],
        timers=[Timer(team_id="T1", case_id=c.id, **p.next) for _, c, p in plans if p.next],
        send=[(c.id, row) for _, c, p in plans for row in p.send],
        skip=[(c.id, row) for _, c, p in plans for row in p.skip], at=to_iso(NOW))
    elapsed = time.perf_counter() - start
    if profile:
        profile.disable()
    queued = await store._value("SELECT COUNT(*) FROM nudges WHERE state = 'pending'")
    assert len(due) == DUE == queued, (len(due), queued)
    return elapsed * 1000, queued


async def sqlite_run(size: int, run: int, workdir: Path, rules, hours,
                     profile: cProfile.Profile | None = None) -> float:
    base = workdir / f"cases-{size}.db"
    if not base.exists():
        store = Store(base)
        await build(store, size)
        await store.close()
    copy = workdir / f"run-{size}-{run}.db"
    shutil.copy(base, copy)
    store = Store(copy)
    try:
        return (await select_and_enqueue(store, rules, hours, profile))[0]
    finally:
        await store.close()


async def postgres_run(size: int, server: str, rules, hours,
                       profile: cProfile.Profile | None = None) -> float:
    schema, url = fresh_schema(server)
    store = await PgStore.open(url, min_size=1, max_size=2)
    try:
        await build(store, size)
        return (await select_and_enqueue(store, rules, hours, profile))[0]
    finally:
        await store.close()
        drop_schema(server, schema)


async def measure(size: int, runs: int, rules, hours, workdir: Path,
                  server: str | None) -> float:
    times = []
    for run in range(runs + 1):
        elapsed = await (postgres_run(size, server, rules, hours) if server else
                         sqlite_run(size, run, workdir, rules, hours))
        if run:  # the first run warms the page cache
            times.append(elapsed)
    median = statistics.median(times)
    print(f"{size:>7,} open cases, {DUE:,} due: select + enqueue {median:6.1f} ms "
          f"(median of {runs}; min {min(times):.1f}, max {max(times):.1f})")
    return median


async def profile_one(size: int, rules, hours, workdir: Path, server: str | None) -> None:
    """Where one sweep's time goes: cProfile's top functions, by their own time and with
    what they call."""
    profile = cProfile.Profile()
    for run in range(2):
        elapsed = await (postgres_run(size, server, rules, hours, profile if run else None)
                         if server else
                         sqlite_run(size, run, workdir, rules, hours, profile if run else None))
    print(f"{size:,} open cases, {DUE:,} due: {elapsed:.1f} ms (profiled)")
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime").print_stats(20)
    stats.sort_stats("cumulative").print_stats(30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", help="PostgreSQL server for --db postgres")
    parser.add_argument("--profile", action="store_true",
                        help="profile one sweep at 100,000 cases (after a warm-up run)")
    args = parser.parse_args()
    server = server_url(args.database_url) if args.db == "postgres" else None
    print(f"on {args.db}")
    playbook = load_playbook(DEFAULT_PLAYBOOK)
    rules, hours = playbook.nudges, Hours.from_rules(playbook.nudges)
    workdir = Path(tempfile.mkdtemp(prefix="mend-sweep-"))
    if args.profile:
        try:
            await profile_one(100_000, rules, hours, workdir, server)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return
    try:
        small = await measure(10_000, args.runs, rules, hours, workdir, server)
        large = await measure(100_000, args.runs, rules, hours, workdir, server)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"ratio 100,000 / 10,000: {large / small:.2f} (target < 1.5; "
          f"{'under' if large < 100 else 'OVER'} 100 ms at 100,000)")


if __name__ == "__main__":
    asyncio.run(main())
