"""The ack benchmark keeps running (a tiny load: this checks it works, not how fast)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ack_benchmark_runs_and_ends_with_the_p99_ratio():
    done = subprocess.run(
        [sys.executable, "bench/ack.py", "--requests", "30", "--concurrency", "5",
         "--rounds", "2", "--warmup", "5", "--single", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"p99 ratio: \d+\.\d\d", lines[-1])
    assert re.fullmatch(r"CPU ratio: \d+\.\d\d", lines[-2])
    assert re.fullmatch(r"throughput ratio: \d+\.\d\d", lines[-3])
    assert sum(line.lstrip().startswith("mend   round") for line in lines) == 2
    assert any(line.startswith("mend ") and "server CPU" in line for line in lines)


def test_profile_benchmark_runs_and_names_mends_functions():
    done = subprocess.run(
        [sys.executable, "bench/profile_ack.py", "--requests", "40", "--concurrency", "5",
         "--warmup", "5", "--top", "10"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "== most time of their own (Mend's code) ==" in done.stdout
    assert "handlers/commands.py" in done.stdout


def test_leads_benchmark_runs_on_small_workspaces():
    done = subprocess.run(
        [sys.executable, "bench/leads.py", "--big", "600", "--small", "300", "--runs", "1",
         "--exact"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("stats 7d", "stats 30d", "stats 90d", "home (lead)", "stats 30d exact"):
        assert re.search(rf"^{re.escape(name)} .* ratio ", done.stdout, re.M), (name, done.stdout)
