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
    assert re.fullmatch(r"throughput ratio: \d+\.\d\d", lines[-2])
    assert sum(line.lstrip().startswith("mend   round") for line in lines) == 2
    assert any(line.startswith("mend ") and "server CPU" in line for line in lines)
