"""`python -m bot read` and `check`: one JSON object per line, a bad file in one line."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_read_prints_one_object_per_report_with_the_fields_named():
    done = run("read", "--no-model", stdin="Maria waited 2h on hold\n\nwe charged Tom twice\n")
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0 and len(rows) == 2
    assert set(rows[0]) == {"category", "feeling", "channels", "customer", "severity",
                            "stakes", "language"}
    assert rows[0]["channels"] == ["phone"] and rows[1]["category"] == "billing_error"


def test_check_prints_findings_with_their_quotes_and_a_rewrite():
    done = run("check", "--no-model", "--name", "Sam", stdin="Call us back.\n")
    [row] = [json.loads(line) for line in done.stdout.splitlines()]
    assert {"rule": "callback_burden", "quote": "Call us back"} in row["findings"]
    assert "Sam" in row["rewrite"]


def test_an_unreadable_playbook_is_one_line_and_exit_2(tmp_path):
    done = run("read", "--no-model", "--playbook", str(tmp_path / "missing.yaml"))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
