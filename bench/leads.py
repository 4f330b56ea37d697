"""How fast are the leads' views on a big workspace?

Builds a workspace with 1,000,000 cases (50,000 still in play) and one with
10,000 (500 in play), rolls their figures up as the store keeps them, then
times, server side (query, computation and Block Kit rendering, as the
handlers run them for a lead), `/recover open`, `/recover open overdue`,
`/recover stats 7d|30d|90d` and a lead's App Home on both, and prints the
ratios. Targets: `open` under 100 ms at 1,000,000 cases; `stats 30d` under
300 ms and within 5x of the 10,000-case figure; the Home under 50 ms.
`--exact` also times `stats 30d` the old way (a rescan of the period's timelines).

    .venv/bin/python bench/leads.py [--big 1000000] [--runs 5]
        [--db sqlite|postgres] [--database-url postgresql://…] [--keep DIR]

`--keep DIR` keeps the built SQLite workspaces in DIR and reuses them on the next run
(building 1,000,000 cases takes minutes); the store migrates them when it opens them.

With `--db postgres` each workspace is built in SQLite as above, then copied into a fresh
schema on the PostgreSQL server with `python -m bot migrate`'s copy, analysed, and timed
there.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pg import drop_schema, fresh_schema, kept_schema, server_url  # noqa: E402
from bot.domain.playbook import load_playbook  # noqa: E402
from bot.domain.reports import compute_stats, parse_open  # noqa: E402
from bot.domain.times import to_iso  # noqa: E402
from bot.domain.views import home, stats_from  # noqa: E402
from bot.runtime.config import DEFAULT_PLAYBOOK  # noqa: E402
from bot.storage.sqlite import Store  # noqa: E402
from handlers import lead_blocks  # noqa: E402

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SPAN = timedelta(days=730)  # cases opened over two years
CATEGORIES = ("long_wait", "passed_around", "uncaring", "no_ownership", "wrong_info",
              "broken_promise", "product_defect", "billing_error", "general")


async def build(path: Path, total: int, live: int, seed: int = 7) -> None:
    """`total` cases of which `live` are still in play, with their timelines."""
    rng = random.Random(seed)
    store = Store(path)
    live_ids = set(rng.sample(range(1, total + 1), live))
    cases, events = [], []
    for n in range(1, total + 1):
        opened = NOW - SPAN * (1 - n / total)  # numbered in opening order
        owner = f"U{rng.randrange(40)}" if rng.random() > 0.03 else None
        in_play = n in live_ids
        due = opened + timedelta(hours=rng.randrange(1, 96)) if in_play else None
        status = "open" if in_play else "closed"
        at = to_iso(opened)
        cases.append((n, "T1", n, f"C{n % 12}", f"U{n % 40}", owner, f"Customer {n % 5000}",
                      f"customer {n % 5000}", "a summary of what went wrong",
                      CATEGORIES[n % len(CATEGORIES)], "upset", "email", "normal", status, at,
                      at, to_iso(due) if due else None, "posted", "update"))
        events.append((n, at, "opened", "{}"))
        events.append((n, to_iso(opened + timedelta(minutes=30)), "step_done",
                       '{"step": "apologize"}'))
        if not in_play:
            done = opened + timedelta(hours=rng.randrange(2, 72))
            events.append((n, to_iso(done), "resolved", json.dumps(
                {"compensation": "voucher" if n % 3 else "", "accepted": "yes"})))
            events.append((n, to_iso(done + timedelta(days=2)), "closed",
                           '{"reason": "satisfaction follow-up recorded"}'))
        if len(cases) >= 50_000:
            _flush(store, cases, events)
    _flush(store, cases, events)
    await store.rebuild_rollups()  # the rows above were written around the store
    store.db.execute("ANALYZE")
    await store.close()


def _flush(store: Store, cases: list, events: list) -> None:
    with store._sync_tx() as conn:  # bulk fill for the benchmark only
        conn.executemany(
            "INSERT INTO cases (id, team_id, number, channel_id, reporter_id, owner_id, "
            "customer, customer_key, summary, category, emotion, contact, severity, status, "
            "created_at, updated_at, next_followup_at, card_state, followup_kind) VALUES "
            "(" + ", ".join("?" * 19) + ")", cases)
        conn.executemany(
            "INSERT INTO events (team_id, case_id, at, actor_id, kind, detail) "
            "VALUES ('T1', ?, ?, 'U1', ?, ?)", events)
        conn.execute("INSERT OR IGNORE INTO workspaces (team_id, created_at) VALUES ('T1', 'x')")
    cases.clear()
    events.clear()


async def view_open(store: Store, playbook, text: str) -> int:
    """What `/recover open <text>` does for a lead: query, count, ticks, blocks."""
    query = parse_open(text, "U1", playbook, NOW)
    cases, total = await store.live_cases("T1", query.where, lead_blocks.PAGE)
    ticks = await store.step_counts("T1", [c.id for c in cases])
    labels = {c.key: c.label for c in playbook.categories}
    blocks = lead_blocks.open_list(query, cases, total, 0, labels, ticks, NOW)
    return len(blocks)


async def view_stats(store: Store, playbook, days: int = 30, exact: bool = False) -> int:
    """What `/recover stats <days>d` does: the roll-ups (or, `exact`, the old rescan of
    the period's timelines), the figures, the blocks."""
    since = NOW - timedelta(days=days)
    if exact:
        facts = await store.cohort_facts("T1", to_iso(since), to_iso(NOW))
        stats = compute_stats(facts, since, NOW)
    else:
        stats = await stats_from(store, "T1", since, NOW)
    labels = {c.key: c.label for c in playbook.categories}
    return len(lead_blocks.stats_blocks(stats, f"{days}d", labels))


async def view_home(store: Store, playbook) -> int:
    """A lead's App Home: their cases, those waiting, the team's numbers and week."""
    found = await home(store, playbook, "T1", "U1", ["C1", "C2"], True, NOW)
    labels = {c.key: c.label for c in playbook.categories}
    view = lead_blocks.home_view(found.mine, found.waiting, found.team, labels, found.ticks,
                                 NOW, found.totals)
    return len(view["blocks"])


async def _has_cases(url: str) -> bool:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT to_regclass('cases') IS NOT NULL").fetchone()[0] and \
            conn.execute("SELECT EXISTS (SELECT 1 FROM cases)").fetchone()[0]


async def timed(fn, runs: int) -> float:
    await fn()  # warm the page cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", help="PostgreSQL server (default: $MEND_BENCH_"
                                               "DATABASE_URL or $MEND_TEST_DATABASE_URL)")
    parser.add_argument("--exact", action="store_true",
                        help="also time stats 30d by rescanning the timelines (before)")
    parser.add_argument("--keep", type=Path,
                        help="keep the built workspaces in this folder and reuse them")
    parser.add_argument("--keep-schema", help="with --db postgres: keep the copies in "
                        "schemas named after this and the size, and reuse them")
    args = parser.parse_args()
    server = server_url(args.database_url) if args.db == "postgres" else None
    playbook = load_playbook(DEFAULT_PLAYBOOK)
    workdir = Path(tempfile.mkdtemp(prefix="mend-leads-"))
    results = {}
    for size in (args.small, args.big):
        path = (args.keep or workdir) / f"leads-{size}.db"
        if args.keep and path.exists():
            print(f"reusing {path}", flush=True)
        else:
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            await build(path, size, size // 20)
            print(f"built {size:,} cases ({size // 20:,} in play) in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
        schema = None
        if server:
            import psycopg

            from bot.storage.postgres.copy import migrate
            from bot.storage.postgres.store import PgStore

            if args.keep_schema:
                schema, url = kept_schema(server, f"{args.keep_schema}_{size}")
            if not args.keep_schema or not await _has_cases(url):
                started = time.perf_counter()
                if not args.keep_schema:
                    schema, url = fresh_schema(server)
                await migrate(str(path), url)
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("VACUUM ANALYZE")  # as autovacuum leaves it
                print(f"copied into PostgreSQL in {time.perf_counter() - started:.0f} s",
                      flush=True)
            store = await PgStore.open(url, min_size=1, max_size=2)
        else:
            store = Store(path)
        results[size] = {
            "open": await timed(lambda s=store: view_open(s, playbook, ""), args.runs),
            "open overdue": await timed(lambda s=store: view_open(s, playbook, "overdue"),
                                        args.runs),
            **{f"stats {d}d": await timed(lambda s=store, d=d: view_stats(s, playbook, d),
                                          args.runs) for d in (7, 30, 90)},
            "home (lead)": await timed(lambda s=store: view_home(s, playbook), args.runs),
        }
        if args.exact:
            results[size]["stats 30d exact"] = await timed(
                lambda s=store: view_stats(s, playbook, 30, exact=True), args.runs)
        await store.close()
        if schema and not args.keep_schema:
            drop_schema(server, schema)
        if not args.keep:
            path.unlink()
    print(f"load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for name in results[args.small]:
        small, big = results[args.small][name], results[args.big][name]
        print(f"{name:<16} {args.small:>9,}: {small:7.1f} ms   {args.big:>9,}: "
              f"{big:7.1f} ms   ratio {big / small:5.2f}")


if __name__ == "__main__":
    asyncio.run(main())
