"""Storage: numbering, timelines, group commit, workspace isolation."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest

from bot.domain.models import NewCase, Opening
from bot.storage.cases import AsyncGroupCommit
from bot.storage.sqlite import GroupCommit, Store

AT = "2026-11-26T15:00:00.000000Z"


def fields(**over):
    base = dict(channel_id="C1", reporter_id="U1", owner_id="U1", summary="late order",
                category="broken_promise", emotion="upset", contact="email",
                severity="normal", customer="Acme")
    return {**base, **over}


@pytest.fixture
async def store(database):
    s = await database.open()
    yield s
    await s.close()


async def test_each_case_has_its_opening_event(store):
    case = await store.create_case("T1", fields(), "U1", AT)
    [event] = await store.events("T1", case.id)
    assert (event.kind, event.actor_id, event.at) == ("opened", "U1", AT)
    assert event.detail["category"] == "broken_promise"


async def test_other_workspace_cannot_read_a_case(store):
    case = await store.create_case("T1", fields(), "U1", AT)
    assert await store.case_by_number("T2", 1) is None
    assert await store.case_by_id("T2", case.id) is None
    assert await store.events("T2", case.id) == []


@pytest.mark.engines("sqlite")  # SQLite's group commit
async def test_concurrent_opens_share_commits_and_get_distinct_numbers(store):
    writer = GroupCommit(store)
    commits = []
    store.db.conn.set_trace_callback(lambda sql: sql == "COMMIT" and commits.append(sql))
    cases = await asyncio.gather(*(
        writer.create_case(NewCase("T1" if i % 3 else "T2", fields(), "U1", AT))
        for i in range(30)))
    store.db.conn.set_trace_callback(None)
    assert len(commits) == 1
    t1 = sorted(c.number for c in cases if c.team_id == "T1")
    t2 = sorted(c.number for c in cases if c.team_id == "T2")
    assert t1 == list(range(1, 21)) and t2 == list(range(1, 11))


@pytest.mark.engines("sqlite")  # SQLite's group commit
async def test_a_lone_case_is_committed_without_waiting_for_company(store):
    writer = GroupCommit(store)
    loop = asyncio.get_running_loop()
    turns = []

    def count_turns() -> None:
        if len(turns) < 100:
            turns.append(1)
            loop.call_soon(count_turns)

    loop.call_soon(count_turns)
    case = await writer.create_case(NewCase("T1", fields(), "U1", AT))
    assert case.number == 1 and await store.case_by_id("T1", case.id) == case
    assert len(turns) <= 4  # a couple of event loop turns, not a timer's wait


@pytest.mark.engines("sqlite")  # SQLite's group commit
async def test_cases_beyond_the_batch_limit_start_a_new_commit(store):
    writer = GroupCommit(store, most=4)
    cases = await asyncio.gather(*(
        writer.create_case(NewCase("T1", fields(), "U1", AT)) for _ in range(10)))
    assert sorted(c.number for c in cases) == list(range(1, 11))


@pytest.mark.engines("sqlite")  # SQLite's group commit
async def test_one_bad_case_in_a_batch_does_not_sink_the_others(store):
    writer = GroupCommit(store)
    results = await asyncio.gather(
        writer.create_case(NewCase("T1", fields(), "U1", AT)),
        writer.create_case(NewCase("T1", fields(summary=None), "U1", AT)),
        writer.create_case(NewCase("T1", fields(), "U1", AT)),
        return_exceptions=True,
    )
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert [r.number for r in (results[0], results[2])] == [1, 2]
    assert len(list(store.db.query("SELECT id FROM events"))) == 2


async def test_concurrent_opens_get_distinct_numbers_per_workspace(store):
    cases = await asyncio.gather(*(
        store.create_case("T1" if i % 3 else "T2", fields(), "U1", AT) for i in range(30)))
    t1 = sorted(c.number for c in cases if c.team_id == "T1")
    t2 = sorted(c.number for c in cases if c.team_id == "T2")
    assert t1 == list(range(1, 21)) and t2 == list(range(1, 11))


async def test_a_lease_has_one_holder_until_released(store):
    until = "2026-11-26T15:01:00.000000Z"
    assert await store.acquire_lease("sweeper", "A", AT, until)
    assert await store.acquire_lease("sweeper", "A", AT, until)  # renewed
    assert not await store.acquire_lease("sweeper", "B", AT, until)
    await store.release_lease("sweeper", "A")
    assert await store.acquire_lease("sweeper", "B", AT, until)


async def test_a_new_case_reads_back_exactly_as_returned(store):
    opened = await store.create_case("T1", fields(customer="Dana  Lee"), "U1", AT)
    assert await store.case_by_id("T1", opened.id) == opened
    assert (opened.number, opened.status, opened.card_state) == (1, "open", "pending")


def _rows_in_main_file(path) -> int:
    """Cases in the database file itself, ignoring the WAL (what a checkpoint moved)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return conn.execute("SELECT COUNT(*) FROM cases").fetchone()[0]
    except sqlite3.DatabaseError:  # not copied yet, or being copied right now
        return 0
    finally:
        conn.close()


async def test_checkpoints_run_in_their_own_thread_not_in_commits(tmp_path):
    path = tmp_path / "c.db"
    store = Store(path)
    store.start_checkpoints(every=0.02)
    try:
        assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        await store.create_case("T1", fields(), "U1", AT)
        for _ in range(250):
            if _rows_in_main_file(path) == 1:
                break
            threading.Event().wait(0.02)
        assert _rows_in_main_file(path) == 1
    finally:
        await store.close()
    assert not any(t.name == "mend-checkpoint" for t in threading.enumerate())


async def test_without_the_checkpoint_thread_a_small_commit_stays_in_the_wal(tmp_path):
    path = tmp_path / "w.db"
    store = Store(path)
    try:
        await store.create_case("T1", fields(), "U1", AT)
        threading.Event().wait(0.1)
        assert _rows_in_main_file(path) == 0
    finally:
        await store.close()


@pytest.mark.engines("postgres")
async def test_postgres_group_commit_batches_and_isolates_a_bad_case(store):
    writer = AsyncGroupCommit(store, most=8)
    before = store.round_trips[0]
    cases = await asyncio.gather(*(
        writer.create_case(NewCase("T1", fields(), "U1", AT)) for _ in range(20)))
    assert sorted(c.number for c in cases) == list(range(1, 21))
    assert store.round_trips[0] - before < 20 * 5  # far fewer than a transaction each
    results = await asyncio.gather(
        writer.create_case(NewCase("T1", fields(), "U1", AT)),
        writer.create_case(NewCase("T1", fields(summary=None), "U1", AT)),
        writer.create_case(NewCase("T1", fields(), "U1", AT)),
        return_exceptions=True)
    assert isinstance(results[1], Exception)
    assert sorted(r.number for r in (results[0], results[2])) == [21, 22]


async def test_a_card_is_claimed_once_with_what_it_shows(store):
    case = await store.create_case("T1", fields(), "U1", AT)
    await store.set_workspace("T1", AT, tz="Europe/Paris", work_start="08:00")
    claimed = await store.claim_card("T1", case.id, AT)
    assert claimed.case.card_state == "posting" and claimed.case.card_claimed_at == AT
    assert claimed.steps == {}  # just opened: nothing read
    assert (claimed.workspace.tz, claimed.workspace.work_start) == ("Europe/Paris", "08:00")
    assert await store.claim_card("T1", case.id, AT) is None  # already claimed
    assert await store.claim_card("T2", case.id, AT) is None  # another workspace's


async def test_a_claimed_card_shows_the_steps_done_and_default_settings(store):
    case = await store.create_case("T1", fields(), "U1", AT)
    await store.mark_step("T1", case.id, "apologize", "U2", AT)
    claimed = await store.claim_card("T1", case.id, AT)
    assert claimed.steps["apologize"].by == "U2"
    assert claimed.workspace.tz is None and claimed.workspace.team_id == "T1"


# -- a case opened with its workspace's settings and customer history --------------------
def drafting(seen: list):
    """A draft that notes the settings each attempt was drafted from."""
    def draft(ws):
        seen.append(ws.tz)
        return NewCase("T1", fields(source_link=ws.tz), "U1", AT)
    return draft


async def test_a_case_is_drafted_from_the_settings_read_with_it(database):
    first, other = await database.open(), await database.open()  # two replicas
    try:
        seen: list = []
        opened = await first.open_cases([Opening("T1", AT, drafting(seen))])
        assert opened[0].case.source_link is None and opened[0].workspace.tz is None
        await other.set_workspace("T1", AT, tz="Europe/Paris")  # the other replica
        opened = await first.open_cases([Opening("T1", AT, drafting(seen))])
        assert opened[0].workspace.tz == "Europe/Paris"
        assert opened[0].case.source_link == "Europe/Paris"  # as written, not the guess
        assert seen[-1] == "Europe/Paris"
        assert (await first.case_by_number("T1", 2)).source_link == "Europe/Paris"
        # the attempt drafted from the old settings wrote nothing
        assert await first.case_by_number("T1", 3) is None
    finally:
        await first.close()
        await other.close()


async def test_a_repeat_customer_is_found_with_the_opening(store):
    since = "2026-11-01T00:00:00.000000Z"
    old = await store.create_case("T1", fields(customer="Dana Lee"), "U1",
                                  "2026-10-01T00:00:00.000000Z")
    first = (await store.open_cases([Opening("T1", AT, lambda ws: NewCase(
        "T1", fields(customer="dana  lee"), "U1", AT), "Dana Lee", since)]))[0]
    assert first.case.repeat_of is None  # the October case is outside the window...
    assert [r.number for r in first.history] == [old.number]  # ...but still open
    second = (await store.open_cases([Opening("T1", AT, lambda ws: NewCase(
        "T1", fields(customer="Dana Lee"), "U1", AT), "DANA LEE", since)]))[0]
    assert second.case.repeat_of == first.case.number
    assert (await store.case_by_id("T1", second.case.id)).repeat_of == first.case.number
    assert [r.number for r in second.history] == [first.case.number, old.number]
