"""Where does Mend's ack of `/recover` spend its CPU?

Runs Mend in its own process (with the Slack stand-in), sends it the same load as
bench/ack.py (signed `/recover` requests, after a warm-up), profiling with cProfile
only while the measured load runs (SIGUSR1 starts it, SIGUSR2 stops it and writes the
figures: start-up is left out), then prints the functions with the most time of
their own, the same restricted to Mend's code (bot/ and handlers/), and Mend's
functions by time including what they call. (`--serve` is the profiled Mend.)

With `--pauses`, no profiler: what holds up every request in flight under the same
load instead (the p99's causes): each garbage collection (generation, duration) and
each event loop callback that ran longer than `--slow` ms, by what it ran.

    .venv/bin/python bench/profile_ack.py [--requests 3000] [--concurrency 50] [--top 25]
        [--pauses [--slow 2]] [--distinct]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import pstats
import runpy
import signal
import sys
import tempfile
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import ack  # noqa: E402
from ack import SECRET, free_port, load, spawn, wait_ready  # noqa: E402

READY_TRIES = 20  # of bench/ack.py's wait: Mend starts slower under the profiler

OWN = (str(ROOT / "bot"), str(ROOT / "handlers"))


def serve() -> None:
    """Mend (`python -m bot`), profiled between SIGUSR1 and SIGUSR2."""
    import cProfile

    profile = cProfile.Profile()
    signal.signal(signal.SIGUSR1, lambda *_: profile.enable())

    def stop(*_) -> None:
        profile.disable()
        profile.dump_stats(os.environ["MEND_PROFILE"])

    signal.signal(signal.SIGUSR2, stop)
    sys.argv = ["bot"]
    runpy.run_module("bot", run_name="__main__", alter_sys=True)


def serve_watched() -> None:
    """Mend, recording between SIGUSR1 and SIGUSR2 its garbage collections and the
    loop callbacks slower than MEND_SLOW_MS, written as JSON to MEND_PROFILE."""
    import gc
    import json
    import time

    slow_s = float(os.environ["MEND_SLOW_MS"]) / 1000
    seen: dict[str, list] = {"gc": [], "slow": []}
    watching, started = [False], [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        elif watching[0]:
            seen["gc"].append((info["generation"], time.perf_counter() - started[0]))

    gc.callbacks.append(on_gc)
    run = asyncio.events.Handle._run

    def timed_run(handle) -> None:
        began = time.perf_counter()
        run(handle)
        took = time.perf_counter() - began
        if took > slow_s and watching[0]:
            seen["slow"].append((_what(handle), took))

    asyncio.events.Handle._run = timed_run
    signal.signal(signal.SIGUSR1, lambda *_: watching.__setitem__(0, True))

    def stop(*_) -> None:
        watching[0] = False
        Path(os.environ["MEND_PROFILE"]).write_text(json.dumps(seen))

    signal.signal(signal.SIGUSR2, stop)
    sys.argv = ["bot"]
    runpy.run_module("bot", run_name="__main__", alter_sys=True)


def _what(handle) -> str:
    """What a loop callback ran: a task's coroutine, or the function called."""
    callback = handle._callback
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        coro = task.get_coro()
        return getattr(coro, "__qualname__", None) or repr(coro)[:80]
    return getattr(callback, "__qualname__", None) or repr(callback)[:80]


def show_pauses(path: Path, requests: int, top: int) -> None:
    import json
    from collections import defaultdict

    seen = json.loads(path.read_text())
    print(f"\n== garbage collections during {requests} requests ==")
    by_gen: dict[int, list[float]] = defaultdict(list)
    for generation, took in seen["gc"]:
        by_gen[generation].append(took * 1000)
    for generation, times in sorted(by_gen.items()):
        print(f"  generation {generation}: {len(times):5d}   total {sum(times):8.1f} ms   "
              f"longest {max(times):6.1f} ms")
    print("\n== slow loop callbacks, by what they ran (count, total ms, longest ms) ==")
    by_what: dict[str, list[float]] = defaultdict(list)
    for what, took in seen["slow"]:
        by_what[what].append(took * 1000)
    for what, times in sorted(by_what.items(), key=lambda kv: -sum(kv[1]))[:top]:
        print(f"  {len(times):5d} {sum(times):8.1f} {max(times):7.1f}  {what}")


def show(stats: pstats.Stats, sort: str, top: int, own_only: bool, title: str) -> None:
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats(sort)
    if own_only:
        stats.print_stats("|".join(p.replace("\\", "/") for p in OWN), top)
    else:
        stats.print_stats(top)
    lines = out.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    print(f"\n== {title} ==")
    print("\n".join(line.replace(str(ROOT) + "/", "") for line in lines[start:] if line))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--pauses", action="store_true",
                        help="record GC pauses and slow loop callbacks, not a profile")
    parser.add_argument("--slow", type=float, default=2.0,
                        help="with --pauses: a callback longer than this (ms) is listed")
    parser.add_argument("--distinct", action="store_true",
                        help="every report a new text, as bench/ack.py --distinct")
    args = parser.parse_args()
    ack.DISTINCT[0] = args.distinct
    tmp = Path(tempfile.mkdtemp(prefix="mend-profile-"))
    profile = tmp / "ack.prof"
    stand_in = spawn(["bench/standin_proc.py"], {})
    mend = None
    try:
        api_url = stand_in.stdout.readline().strip()
        port = free_port()
        env = {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET,
               "SLACK_API_URL": api_url, "MEND_DB": str(tmp / "bench.db"), "PORT": str(port)}
        mode = "--watch" if args.pauses else "--serve"
        mend = spawn(["bench/profile_ack.py", mode], {**env, "MEND_PROFILE": str(profile),
                                                      "MEND_SLOW_MS": str(args.slow)})
        url = f"http://127.0.0.1:{port}/slack/events"
        async with aiohttp.ClientSession() as http:
            for attempt in range(READY_TRIES):
                try:
                    await wait_ready(url, http)
                    break
                except RuntimeError:
                    if attempt == READY_TRIES - 1:
                        raise
        await load(url, args.warmup, args.concurrency)
        mend.send_signal(signal.SIGUSR1)
        await asyncio.sleep(0.2)
        _, rps = await load(url, args.requests, args.concurrency)
        mend.send_signal(signal.SIGUSR2)
        while not profile.exists():
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # written in full
        under = "watched" if args.pauses else "under cProfile"
        print(f"{args.requests} /recover at concurrency {args.concurrency} {under}: "
              f"{rps:.0f} req/s (the profiler slows everything)")
    finally:
        for proc in (mend, stand_in):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
    if args.pauses:
        show_pauses(profile, args.requests, args.top)
        return
    stats = pstats.Stats(str(profile))
    show(stats, "tottime", args.top, False, "most time of their own (all code)")
    show(stats, "tottime", args.top, True, "most time of their own (Mend's code)")
    show(stats, "cumulative", args.top, True, "Mend's functions, with what they call")


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    elif sys.argv[1:] == ["--watch"]:
        serve_watched()
    else:
        asyncio.run(main())
