"""The export: one consistent read, and a file Excel opens with its accents."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.models import NewCase
from bot.domain.times import to_iso
from bot.storage.sqlite import Store
from tests.helpers import THURSDAY, lead

FIELDS = dict(channel_id="C1", reporter_id="U1", owner_id="U1", summary="late, again",
              category="broken_promise", emotion="upset", contact="email",
              severity="normal", customer="Acme")


async def test_a_case_opened_while_an_export_is_read_is_wholly_in_it_or_not_at_all(tmp_path):
    """Another request opens a case each time the export's connection starts a
    statement: the export still reads one state of the database."""
    writer = Store(tmp_path / "mend.db")
    now = datetime.now(UTC)
    await writer.create_cases([NewCase("T1", FIELDS, "U1", to_iso(now - timedelta(days=1)))])
    reader = writer.reader()
    opened = []

    def another_request(sql: str) -> None:
        if sql.lstrip().upper().startswith("SELECT") and len(opened) < 5:
            opened.append(writer.create_cases_now([NewCase("T1", FIELDS, "U2", to_iso(now))]))

    reader.db.conn.set_trace_callback(another_request)
    try:
        rows = list(reader.export_rows("T1", to_iso(now - timedelta(days=30))))
    finally:
        reader.db.conn.set_trace_callback(None)
        await reader.close()
    assert opened  # the race did happen
    assert all(case.id == event.case_id for case, event in rows)
    numbers = [case.number for case, _ in rows]
    assert numbers[0] == 1 and numbers == sorted(numbers)
    for number in set(numbers):  # each case with its whole timeline
        case = await writer.case_by_number("T1", number)
        expected = [e.id for e in await writer.events("T1", case.id)]
        assert [e.id for case, e in rows if case.number == number] == expected
    await writer.close()


@pytest.fixture
def clock(clock):
    clock.set(THURSDAY)
    return clock


async def test_the_export_opens_in_excel_with_its_accents(mend, slack, slack_user, clock):
    await lead(mend)
    await slack_user.command("customer José Müller: charged twice for one order",
                             user_id="U1")
    await slack_user.command("export 30d", user_id="ULEAD")
    await mend.settle()
    [stored] = [f for f in slack.files.values() if f["completed"]]
    data = stored["bytes"]
    # Excel reads a CSV without a byte-order mark in the ANSI code page: "JosÃ© MÃ¼ller".
    assert data.startswith(b"\xef\xbb\xbfcase,opened_at,")
    row = next(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert row["customer"] == "José Müller" and row["event"] == "opened"
