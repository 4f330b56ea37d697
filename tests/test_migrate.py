"""`python -m bot migrate --from <sqlite> --to postgresql://…`: everything copied, ids and
numbers kept, numbering and ids continue after them, a non-empty target refused."""

from __future__ import annotations

import asyncio

import pytest

from bot.__main__ import EXIT_CONFIG, main
from bot.storage.sqlite import Store

pytestmark = pytest.mark.engines("postgres")
AT = "2026-11-26T15:00:00.000000Z"
FIELDS = dict(channel_id="C1", reporter_id="U1", owner_id="U1", summary="late order",
              category="broken_promise", emotion="upset", contact="email",
              severity="normal", customer="Acme")
TIMER = {"at": "2026-11-27T15:00:00.000000Z", "kind": "followup",
         "due_key": "2026-11-27T15:00:00.000000Z"}


async def migrate_cli(source, url: str) -> int:
    """The command as typed (in a thread: it runs an event loop of its own)."""
    return await asyncio.to_thread(main, ["migrate", "--from", str(source), "--to", url])


async def _sqlite(path) -> list:
    store = Store(path)
    opened = [await store.create_case(team, FIELDS, "U1", AT) for team in ("T1", "T1", "T2")]
    await store.change_case("T1", opened[0].id, changes={"owner_id": "U2"},
                            expect={"owner_id": "U1"}, actor_id="U1", kind="assigned",
                            detail={}, at=AT, timers=(TIMER,), tick=("apologize",))
    await store.apply_sweep("T1", [], [], [(opened[1].id, {"kind": "followup", "rung": 0,
                                                           "due_key": AT})], [], AT)
    await store.set_leads("T1", ["ULEAD"], "U0", AT)
    await store.close()
    return opened


async def test_a_sqlite_database_is_copied_whole(tmp_path, database, capsys):
    opened = await _sqlite(tmp_path / "mend.db")
    assert await migrate_cli(tmp_path / "mend.db", database.url) == 0
    printed = capsys.readouterr().out
    assert "cases" in printed and "events" in printed and "nudges" in printed
    counts = {line.split()[0]: line.split()[1:] for line in printed.splitlines()[1:]}
    assert counts["cases"] == ["3", "3"] and counts["timers"] == ["1", "1"]
    assert all(a == b for a, b in counts.values())
    store = await database.open()
    try:
        for case in opened:
            copied = await store.case_by_number(case.team_id, case.number)
            assert copied.id == case.id
        assert (await store.case_by_number("T1", 1)).owner_id == "U2"
        assert [n.state for n in await store.nudges_for_case("T1", opened[1].id)] == ["pending"]
        assert set(await store.steps("T1", opened[0].id)) == {"apologize"}
        assert await store.leads("T1") == ["ULEAD"]
        new = await store.create_case("T1", FIELDS, "U1", AT)
        assert new.number == 3 and new.id == max(c.id for c in opened) + 1
        assert (await store.create_case("T3", FIELDS, "U1", AT)).number == 1
    finally:
        await store.close()


async def test_a_database_with_cases_is_not_written_over(tmp_path, database, capsys):
    await _sqlite(tmp_path / "mend.db")
    assert await migrate_cli(tmp_path / "mend.db", database.url) == 0
    capsys.readouterr()
    assert await migrate_cli(tmp_path / "mend.db", database.url) == EXIT_CONFIG
    assert "not empty" in capsys.readouterr().err


async def test_a_missing_source_is_said_in_one_line(tmp_path, database, capsys):
    assert await migrate_cli(tmp_path / "none.db", database.url) == EXIT_CONFIG
    assert "No SQLite database" in capsys.readouterr().err
