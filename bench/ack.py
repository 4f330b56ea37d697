"""How fast does Mend ack `/recover`, against the framework's floor?

Starts the Slack stand-in, Mend and a bare Bolt app that only acks, each in
its own process, then sends each the same load of signed `/recover`
requests (after a warm-up) and prints p50, p99 and requests per second,
then the latency of requests sent one at a time. The last line is
`p99 ratio: <Mend p99 / floor p99>` under load, after `CPU ratio: <Mend CPU per
request / floor's>`. With `--baseline DIR` (another checkout, e.g. made with
`git worktree add /tmp/base HEAD~1`) a third server runs that code in the same
rounds, and its ratios are printed as well: before and after, in one run.

    .venv/bin/python bench/ack.py [--requests 1000] [--concurrency 50] [--rounds 3] [--single 300]
        [--db sqlite|postgres] [--database-url postgresql://…] [--baseline DIR] [--distinct]

The four report texts repeat by default, as in earlier figures; `--distinct` makes each
report's text new, so nothing kept per text (the reading, the advice) is reused.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.pg import drop_schema, fresh_schema, server_url  # noqa: E402
from standin import sign_request  # noqa: E402

SECRET = "bench-secret"
TEXTS = [
    "for Dana Lee: charged twice for her order, she emailed us furious",
    "customer Acme waited on hold for 50 minutes and was cut off twice",
    "for Priya: the replacement part we promised for Monday never arrived",
    "customer: Globex, our agent was rude and refused to escalate!!",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(args: list[str], env: dict[str, str], root: Path = ROOT,
          **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], cwd=root, env={**os.environ, **env,
                            "PYTHONPATH": str(root)}, stdout=subprocess.PIPE, text=True,
                            **popen)


async def wait_ready(url: str, http: aiohttp.ClientSession) -> None:
    for _ in range(1200):  # a minute: start-up is slow on a loaded machine
        try:
            async with http.post(url, data=b"") as resp:
                if resp.status in (401, 200, 404):
                    return
        except aiohttp.ClientError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


DISTINCT = [False]  # --distinct: every report's text is new (no per-text cache helps)


def report_text(i: int) -> str:
    text = TEXTS[i % len(TEXTS)]
    return f"{text} (order {i})" if DISTINCT[0] else text


def signed(i: int, team: str = "T1") -> tuple[bytes, dict[str, str]]:
    body = urlencode({
        "token": "x", "team_id": team, "team_domain": "bench", "channel_id": f"C{i % 7}",
        "channel_name": "support", "user_id": f"U{i % 13}", "user_name": "agent",
        "command": "/recover", "text": report_text(i), "api_app_id": "A1",
        "response_url": "http://127.0.0.1:9/respond", "trigger_id": f"t{i}",
    }).encode()
    headers = sign_request(SECRET, body)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    return body, headers


SENT = itertools.count()  # every request sent gets its own trigger_id: none is a duplicate


async def load(url: str, requests: int, concurrency: int) -> tuple[list[float], float]:
    """Send `requests` signed commands, `concurrency` at a time; latencies in ms. Each is
    a new command (trigger ids are never reused across rounds or servers: a reused one
    would measure the cheap answer to a duplicate, not `/recover`)."""
    latencies: list[float] = []
    queue = (next(SENT) for _ in range(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            for i in queue:
                body, headers = signed(i)
                start = time.perf_counter()
                async with http.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"status {resp.status}")
                latencies.append((time.perf_counter() - start) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return latencies, requests / elapsed


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    return sum(cpu_split(pid))


def cpu_split(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


async def idle(pid: int, timeout: float = 10.0) -> None:
    """Wait until the process has finished its work after the acks (card posts, answers
    written): that CPU is the requests' too, and must not slow the next server's round."""
    for _ in range(int(timeout / 0.1)):
        before = cpu_seconds(pid)
        await asyncio.sleep(0.1)
        if cpu_seconds(pid) - before < 0.005:
            return


@dataclass
class Runs:
    """What one server did over the measured rounds."""

    name: str
    pid: int
    url: str
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu: float = 0.0  # server CPU seconds
    system: float = 0.0  # of which in the kernel (sockets, fsync)
    load_cpu: float = 0.0  # the load generator's CPU seconds

    async def round(self, requests: int, concurrency: int) -> None:
        # The load generator's own garbage collections would pause every request in
        # flight and show up as the server's latency: collect before, not during.
        gc.collect()
        gc.disable()
        (user, system), own = cpu_split(self.pid), cpu_seconds(os.getpid())
        cpu = user + system
        try:
            latencies, rps = await load(self.url, requests, concurrency)
        finally:
            gc.enable()
        await idle(self.pid)
        self.cpu += cpu_seconds(self.pid) - cpu
        self.system += cpu_split(self.pid)[1] - system
        self.load_cpu += cpu_seconds(os.getpid()) - own
        self.latencies += latencies
        self.seconds += requests / rps
        print(f"  {self.name:6} round: p50 {statistics.median(latencies):6.2f} ms   "
              f"p99 {pct(latencies, 99):6.2f} ms   {rps:7.1f} req/s")

    def report(self) -> tuple[float, float, float]:
        """Print p50, p99, req/s and CPU per request over all rounds; (p99, req/s, CPU)."""
        n = len(self.latencies)
        p50, p99, rps = statistics.median(self.latencies), pct(self.latencies, 99), n / self.seconds
        print(f"{self.name:6} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   {rps:8.1f} req/s   "
              f"server CPU {self.cpu / n * 1e6:5.0f} us/req "
              f"({self.system / n * 1e6:4.0f} in the kernel)   "
              f"(load generator {self.load_cpu / n * 1e6:4.0f} us/req)")
        return p99, rps, self.cpu / n


async def one_at_a_time(servers: tuple[Runs, ...], requests: int) -> None:
    """What one agent waits for when the server is not busy (no load)."""
    print(f"{requests} requests one at a time (what an agent waits for on a quiet server)")
    for runs in servers:
        latencies, _ = await load(runs.url, requests, 1)
        print(f"{runs.name:6} p50 {statistics.median(latencies):7.2f} ms   "
              f"p99 {pct(latencies, 99):7.2f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating floor/Mend rounds; figures pool all of them")
    parser.add_argument("--single", type=int, default=300,
                        help="requests sent one at a time afterwards (0: none)")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", help="PostgreSQL server for --db postgres")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout of Mend, run alongside for before/after")
    parser.add_argument("--distinct", action="store_true",
                        help="every report a new text (default: four texts in turn)")
    args = parser.parse_args()
    DISTINCT[0] = args.distinct

    procs: list[subprocess.Popen] = []
    schema = None
    try:
        stand_in = spawn(["bench/standin_proc.py"], {})
        procs.append(stand_in)
        api_url = stand_in.stdout.readline().strip()
        tmp = tempfile.mkdtemp(prefix="mend-bench-")
        env = {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET,
               "SLACK_API_URL": api_url, "MEND_DB": f"{tmp}/bench.db"}
        if args.db == "postgres":
            schema, env["MEND_DATABASE_URL"] = fresh_schema(server_url(args.database_url))
        floor_port = free_port()
        floor = spawn(["bench/floor_app.py"], {**env, "PORT": str(floor_port)})
        procs.append(floor)
        servers = [Runs("floor", floor.pid, f"http://127.0.0.1:{floor_port}/slack/events")]
        mends = [("mend", ROOT)] + ([("before", args.baseline.resolve())] if args.baseline else [])
        for name, root in mends:
            port = free_port()
            db = {"MEND_DB": f"{tmp}/{name}.db"}
            proc = spawn(["-m", "bot"], {**env, **db, "PORT": str(port)}, root)
            procs.append(proc)
            servers.append(Runs(name, proc.pid, f"http://127.0.0.1:{port}/slack/events"))
        async with aiohttp.ClientSession() as http:
            for runs in servers:
                await wait_ready(runs.url, http)
        for runs in servers:
            await load(runs.url, args.warmup, args.concurrency)
        # Rounds alternate, so a slow moment of the machine hits every side alike.
        for _ in range(args.rounds):
            for runs in servers:
                await runs.round(args.requests, args.concurrency)
        print(f"{args.rounds} rounds of {args.requests} signed /recover requests each, "
              f"concurrency {args.concurrency}, after {args.warmup} warm-up, on {args.db}")
        floor_p99, floor_rps, floor_cpu = servers[0].report()
        figures = [(runs.name, *runs.report()) for runs in servers[1:]]
        if args.single:
            await one_at_a_time(tuple(servers), args.single)
        for name, p99, rps, cpu in reversed(figures):  # Mend's own figures last
            label = "" if name == "mend" else f" ({name})"
            print(f"throughput ratio{label}: {rps / floor_rps:.2f}")
            print(f"CPU ratio{label}: {cpu / floor_cpu:.2f}")
            print(f"p99 ratio{label}: {p99 / floor_p99:.2f}")
    finally:
        for proc in reversed(procs):  # Mend first, the stand-in last
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if schema:
            drop_schema(server_url(args.database_url), schema)


if __name__ == "__main__":
    asyncio.run(main())
