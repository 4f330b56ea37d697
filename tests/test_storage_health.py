"""The database going bad under a running Mend: replaced, read-only, full; the WAL kept
bounded; a dead process's sweep lease taken over within seconds."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from bot.app import Mend
from bot.domain.times import to_iso
from bot.runtime.clock import Clock
from bot.runtime.scheduler import LEASE
from bot.storage import engine as engine_module
from bot.storage.sqlite import Store
from handlers.commands import SAVE_FAILED, STORAGE_FAILED
from tests.helpers import PACE, REPORT, replace_settings, said, start_mend

ROOT = Path(__file__).resolve().parent.parent


async def get(running, path: str) -> tuple[int, dict]:
    base = running.url.removesuffix("/slack/events")
    async with aiohttp.ClientSession() as session, session.get(base + path) as resp:
        return resp.status, await resp.json()


async def read_only(running, on: bool = True) -> None:
    """What a read-only file does to Mend's writes (as root, chmod does not); on
    PostgreSQL, what a standby or `default_transaction_read_only` does: every pooled
    connection refuses writes (the pool kept from opening fresh ones meanwhile)."""
    store = running.store
    if not hasattr(store, "pool"):
        store.db.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")
        return
    await running.settle()
    idle = list(store.pool._pool)  # all of them, once settled
    await store.pool.resize(min_size=len(idle), max_size=len(idle))
    for conn in idle:
        await conn.execute(f"SET default_transaction_read_only = {'on' if on else 'off'}")


@pytest.mark.engines("sqlite")  # a file of its own
async def test_a_deleted_database_file_fails_healthz(mend, settings):
    assert (await get(mend, "/healthz"))[0] == 200
    os.remove(settings.db_path)
    status, body = await get(mend, "/healthz")
    assert status == 503 and body["database"] == "replaced"
    assert (await get(mend, "/readyz"))[0] == 503


@pytest.mark.engines("sqlite")  # a file of its own
async def test_a_database_file_replaced_by_another_fails_healthz(mend, settings, tmp_path):
    other = tmp_path / "other.db"
    shutil.copy(settings.db_path, other)
    os.replace(other, settings.db_path)
    status, body = await get(mend, "/healthz")
    assert status == 503 and body["database"] == "replaced"


async def test_read_only_is_reported_refused_politely_and_not_ready(mend, slack, slack_user):
    await slack_user.command(REPORT)
    await read_only(mend)
    # (a time other than the first follow-up's, which lands at 9am in working hours)
    for text in ("note 1 called the customer", "release 1", "followup 1 in 2h"):
        reply = await slack_user.command(text)
        await mend.settle()
        assert reply.status == 200 and (STORAGE_FAILED in reply.body
                                        or STORAGE_FAILED in said(slack)), text
    reply = await slack_user.command(REPORT)
    assert reply.status == 200 and SAVE_FAILED in reply.body
    status, body = await get(mend, "/healthz")
    assert status == 200 and body["storage"] == "read-only"
    status, body = await get(mend, "/readyz")
    assert status == 503 and body["storage"] == "read-only"
    await read_only(mend, False)
    await slack_user.command("note 1 back again")  # the first write that works clears it
    assert (await get(mend, "/readyz"))[0] == 200


@pytest.mark.engines("sqlite")  # a file of its own
async def test_a_full_disk_is_reported_and_refused_politely(mend, slack_user):
    pages = mend.store.db.execute("PRAGMA page_count").fetchone()[0]
    mend.store.db.execute(f"PRAGMA max_page_count = {pages}")
    refused = None
    for _ in range(200):
        reply = await slack_user.command(REPORT + " " + "x" * 400)
        assert reply.status == 200
        if SAVE_FAILED in reply.body:
            refused = reply
            break
    assert refused is not None
    status, body = await get(mend, "/healthz")
    assert status == 200 and body["storage"] == "disk full"
    assert (await get(mend, "/readyz"))[0] == 503


async def test_shutdown_on_a_read_only_store_does_not_crash(settings, clock):
    running = await start_mend(settings, clock)
    await running.mend.nudger.sweep()  # holds the lease
    await read_only(running)
    await running.stop()  # release_lease cannot write: the lease runs out by itself


def make_read_only(path: Path, on: bool = True) -> bool:
    """chmod, and as root (whom chmod does not stop) the immutable flag too."""
    done = True
    if on:
        os.chmod(path, 0o444)
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i" if on else "-i", str(path)],
                              capture_output=True).returncode == 0
    if not on:
        os.chmod(path, 0o644)
    return done


def test_a_read_only_database_stops_start_up_with_one_line(tmp_path):
    db = tmp_path / "mend.db"
    asyncio.run(Store(db).close())  # a migrated database, then read-only
    if not make_read_only(db):
        pytest.skip("cannot make a file read-only here")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MEND_"))}
        env.update({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s",
                    "MEND_DB": str(db), "PYTHONPATH": str(ROOT)})
        result = subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=30)
    finally:
        make_read_only(db, False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "mend.db" in lines[0] and "Traceback" not in result.stderr


def test_after_many_writes_then_idle_the_wal_shrinks(tmp_path):
    async def run() -> tuple[int, int]:
        store = Store(tmp_path / "w.db")
        store.start_checkpoints(every=0.1)
        wal = Path(f"{tmp_path / 'w.db'}-wal")
        for i in range(300):
            await store.set_workspace(f"T{i}", "2026-11-26T18:00:00.000000Z",
                                      lead_channel="C" + "x" * 2000)
        busy = wal.stat().st_size
        await asyncio.sleep(1.0)  # idle: the checkpoint thread truncates the WAL
        idle = wal.stat().st_size if wal.exists() else 0
        await store.close()
        return busy, idle

    busy, idle = asyncio.run(run())
    assert busy > 64 * 1024 and idle < 64 * 1024, (busy, idle)


async def holder_of(mend: Mend) -> str | None:
    return await mend.deps.store.lease_holder(LEASE, to_iso(mend.deps.clock.now()))


async def test_a_dead_process_lease_is_taken_over_within_seconds(settings, slack):
    """Two Mends on one file; the first to hold the lease stops without releasing it
    (as a killed process would); the other holds it within seconds, not a minute."""
    settings = replace_settings(settings, sweep_seconds=0.2)
    mends = [await Mend.start(settings, clock=Clock(), pace_seconds=PACE, lease_seconds=1.5)
             for _ in range(2)]
    try:
        await asyncio.sleep(0.6)
        holder = await holder_of(mends[0])
        dead, alive = mends if holder == mends[0].nudger.holder else mends[::-1]
        assert holder == dead.nudger.holder
        await asyncio.sleep(2.0)  # renewed all along: the lease never changed hands
        assert await holder_of(alive) == dead.nudger.holder
        await dead.nudger.stop()  # dies: no more sweeps or heartbeats, nothing released
        for _ in range(40):
            await asyncio.sleep(0.1)
            if await holder_of(alive) == alive.nudger.holder:
                break
        assert await holder_of(alive) == alive.nudger.holder
    finally:
        for mend in mends:
            await mend.close()


def test_disk_full_is_remembered_while_small_writes_still_go_through(monkeypatch):
    # A full disk still takes a lease renewal in a page it already has; readiness must not
    # flap back to "ok" on that while new cases are refused.
    now = [100.0]
    monkeypatch.setattr(engine_module.time, "monotonic", lambda: now[0])
    store = engine_module.Engine()
    store._write_failed(engine_module.DISK_FULL)
    store._write_worked()
    assert store.write_problem == "disk full"
    now[0] += engine_module.DISK_FULL_HOLD + 1
    store._write_worked()
    assert store.write_problem is None
    store._write_failed("read-only")
    store._write_worked()  # a write that works proves the storage writable again
    assert store.write_problem is None
