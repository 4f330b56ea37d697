"""The roll-ups give what the exact computation gives: `compute_stats` over
`cohort_facts` against `stats_from_sums` over `outcome_sums`, on random timelines (made
as in test_cohort_equivalence), kept up to date change by change or rebuilt. Counts
exactly; medians and p90s within the histogram's stated error. On both engines: the
random timelines are written to SQLite, and for PostgreSQL copied there with
`python -m bot migrate`'s copy."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest

from bot.domain.histogram import FLOOR_HOURS, RELATIVE_ERROR, bucket, percentiles
from bot.domain.models import NewCase
from bot.domain.reports import MEASURES, Outcomes, Spread, compute_stats
from bot.domain.rollups import stats_from_sums
from bot.domain.times import from_iso, to_iso
from bot.storage.postgres.copy import migrate
from bot.storage.sqlite import Store
from tests.test_cohort_equivalence import (
    BASE,
    KINDS,
    ODD_TIMES,
    _detail,
    _fill,
    _periods,
    _time,
)

COUNTED = ("opened", "resolved", "closed", "reopened", "followups_due", "followups_on_time",
           "satisfaction_done", "compensation_offered", "compensation_accepted")


def close_enough(approx: float | None, exact: float | None) -> bool:
    if approx is None or exact is None:
        return approx is exact
    return abs(approx - exact) <= max(RELATIVE_ERROR * exact, FLOOR_HOURS) + 1e-12


def assert_same(approx: Outcomes, exact: Outcomes, where) -> None:
    for name in COUNTED:
        assert getattr(approx, name) == getattr(exact, name), (where, name)
    for measure in MEASURES:
        a, e = approx.spread(measure), exact.spread(measure)
        assert a.count == e.count, (where, measure)
        assert close_enough(a.median, e.median), (where, measure, a, e)
        assert close_enough(a.p90, e.p90), (where, measure, a, e)


async def assert_stats_agree(store: Store, team: str, since: str, now: str | None) -> None:
    now = now or to_iso(BASE + timedelta(days=30))
    start, until = from_iso(since), from_iso(now)
    exact = compute_stats(await store.cohort_facts(team, since, now), start, until)
    rolled = stats_from_sums(await store.outcome_sums(team, since, now), start, until)
    assert_same(rolled.overall, exact.overall, (team, since, now))
    for mine, theirs in ((rolled.by_category, exact.by_category),
                         (rolled.by_owner, exact.by_owner)):
        assert mine.keys() == theirs.keys(), (team, since, now)
        for key, outcomes in theirs.items():
            assert_same(mine[key], outcomes, (team, since, now, key))


async def table_rows(store) -> dict[str, list]:
    return {
        "case_facts": [tuple(r) for r in await store._rows(
            "SELECT * FROM case_facts ORDER BY team_id, case_id")],
        "stat_days": [tuple(r) for r in await store._rows(
            "SELECT * FROM stat_days WHERE opened != 0 ORDER BY 1, 2, 3, 4")],
    }


async def filled(database, tmp_path, rng: random.Random, cases: int, monkeypatch):
    """A store of the test's engine holding `fill`'s random timelines (PostgreSQL: copied
    from SQLite, where they are written; no numbers where times belong, which Mend never
    writes and the engines compare differently)."""
    if database.engine == "sqlite":
        store = await database.open()
        fill(store, rng, cases)
        return store
    monkeypatch.setitem(ODD_TIMES, 0, False)
    source = Store(tmp_path / "source.db")
    fill(source, rng, cases)
    await source.close()
    await migrate(str(tmp_path / "source.db"), database.url)
    return await database.open()


def fill(store: Store, rng: random.Random, cases: int) -> None:
    """`_fill`'s random timelines, with every event at a time (the reference also has
    a number where a time belongs, which `compute_stats` cannot read either)."""
    _fill(store, rng, cases)
    conn = store.db.conn
    conn.execute("UPDATE events SET at = ? WHERE at NOT LIKE '20%'", [to_iso(BASE)])
    # Some of them withdrawn (opened by mistake): they count in no statistic.
    ids = [i for (i,) in conn.execute("SELECT id FROM cases ORDER BY id")]
    conn.executemany("UPDATE cases SET withdrawn_at = ? WHERE id = ?",
                     [(to_iso(BASE), i) for i in ids if rng.random() < 0.15])


# -- the histogram ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(20))
def test_percentiles_from_buckets_are_within_the_stated_error(seed):
    rng = random.Random(seed)
    hours = [rng.choice([0.0, rng.random() / 7200, rng.lognormvariate(1, 2)])
             for _ in range(rng.randrange(1, 300))]
    counts: dict[int, int] = {}
    for h in hours:
        counts[bucket(h)] = counts.get(bucket(h), 0) + 1
    exact, approx = Spread.of(hours), Spread(*percentiles(counts))
    assert approx.count == exact.count
    assert close_enough(approx.median, exact.median) and close_enough(approx.p90, exact.p90)


def test_an_empty_histogram_has_no_percentiles():
    assert percentiles({}) == (0, None, None)


# -- random timelines, rebuilt ------------------------------------------------------------
@pytest.mark.parametrize("seed", range(25))
async def test_rebuilt_rollups_match_the_exact_computation(tmp_path, seed, database,
                                                            monkeypatch):
    rng = random.Random(seed)
    store = await filled(database, tmp_path, rng, 60, monkeypatch)
    try:
        await store.rebuild_rollups()
        midnights = [(team, to_iso(BASE.replace(hour=0) + timedelta(days=d)), None)
                     for team in ("T1", "T2") for d in (-1, 0)]  # whole days only
        for team, since, now in _periods(rng) + midnights:
            await assert_stats_agree(store, team, since, now)
    finally:
        await store.close()


# -- random timelines, kept up to date change by change ---------------------------------
async def _change(store, rng: random.Random, case_ids: list[int]) -> None:
    """One transaction of random changes to existing cases: events, nudges, and the
    fields the stats group and count by, each marked as the store marks them."""
    async with store._tx() as tx:
        for case_id in rng.sample(case_ids, min(len(case_ids), rng.randrange(1, 8))):
            team = (await tx.rows("SELECT team_id FROM cases WHERE id = ?", [case_id]))[0][0]
            for _ in range(rng.randrange(0, 4)):
                kind = rng.choice(KINDS)
                await store._event(tx, team, case_id, to_iso(BASE + timedelta(
                    hours=rng.randrange(-20, 30))), "U1", kind, _detail(rng, kind))
            if rng.random() < 0.5:
                await tx.run(
                    "UPDATE cases SET owner_id = ?, category = ?, status = ?, "
                    "next_followup_at = ? WHERE id = ?",
                    [rng.choice(["U1", "U2", "U3", None]), rng.choice(["billing", "x", None]),
                     rng.choice(["open", "resolved", "closed"]), _time(rng), case_id])
                tx.marked.add((team, case_id))
            if rng.random() < 0.2:  # withdrawn, or brought back by a reopening
                await tx.run("UPDATE cases SET withdrawn_at = ? WHERE id = ?",
                             [rng.choice([to_iso(BASE), None]), case_id])
                tx.marked.add((team, case_id))
            if rng.random() < 0.4:
                await tx.run(
                    "INSERT OR IGNORE INTO nudges (team_id, case_id, kind, rung, due_key, "
                    "state, attempts) VALUES (?, ?, 'followup', 0, ?, 'sent', 1)",
                    [team, case_id, str(_time(rng) or to_iso(BASE))])
                tx.marked.add((team, case_id))


@pytest.mark.parametrize("seed", range(15))
async def test_rollups_kept_change_by_change_match_the_exact_computation(tmp_path, seed,
                                                                        database, monkeypatch):
    rng = random.Random(seed)
    store = await filled(database, tmp_path, rng, 30, monkeypatch)
    try:
        await store.rebuild_rollups()
        for _ in range(6):
            new = [NewCase(rng.choice(["T1", "T2"]), {
                "channel_id": "C1", "reporter_id": "U1", "summary": "s",
                "owner_id": rng.choice(["U1", None]), "category": rng.choice(["billing", None]),
                "next_followup_at": _time(rng)}, "U1",
                to_iso(BASE + timedelta(hours=rng.randrange(-24, 8))))
                for _ in range(rng.randrange(0, 4))]
            if new:
                await store.create_cases(new)
            ids = [i for (i,) in await store._rows("SELECT id FROM cases ORDER BY id")]
            for _ in range(3):
                await _change(store, rng, ids)
            for team, since, now in _periods(rng):
                await assert_stats_agree(store, team, since, now)
        kept = await table_rows(store)
        await store.rebuild_rollups()
        assert await table_rows(store) == kept
    finally:
        await store.close()


async def test_a_lifecycle_through_the_store_keeps_the_rollups(database):
    """The store's own writes (open, take, resolve, nudges from a sweep) keep the
    roll-ups equal to a rebuild."""
    store = await database.open()
    try:
        at = lambda h: to_iso(BASE + timedelta(hours=h))  # noqa: E731
        case = await store.create_case("T1", {"channel_id": "C1", "reporter_id": "U1",
                                              "summary": "s", "category": "billing",
                                              "next_followup_at": at(5)}, "U1", at(0))
        await store.change_case("T1", case.id, changes={"owner_id": "U2"},
                                expect={"owner_id": None}, actor_id="U2", kind="taken",
                                detail={}, at=at(1), tick=("apologize",))
        await store.apply_sweep("T1", [], [], [(case.id, {"kind": "followup", "rung": 0,
                                                          "due_key": at(5)})], [], at(6))
        await store.change_case("T1", case.id, changes={"status": "resolved"},
                                expect={"status": "open"}, actor_id="U2", kind="resolved",
                                detail={"compensation": "voucher", "accepted": "yes",
                                        "satisfaction_due": at(30)}, at=at(7))
        kept = await table_rows(store)
        # resolved once, due once (nudged), satisfaction not yet, compensation accepted
        assert kept["case_facts"][0][-8:] == (1, 0, 0, 1, 0, 0, 1, 1)
        await store.rebuild_rollups()
        assert await table_rows(store) == kept
        await assert_stats_agree(store, "T1", at(-1), at(40))
        assert json.dumps(kept["stat_days"])  # not vacuous
    finally:
        await store.close()


async def test_a_withdrawn_case_leaves_the_rollups_and_a_reopened_one_comes_back(database):
    """Withdrawing an opened, resolved case takes it out of every sum (its day, category
    and owner); reopening it puts it back; both as a rebuild would have it."""
    store = await database.open()
    try:
        at = lambda h: to_iso(BASE + timedelta(hours=h))  # noqa: E731
        kept_case = await store.create_case("T1", {
            "channel_id": "C1", "reporter_id": "U1", "owner_id": "U1", "summary": "kept",
            "category": "billing", "next_followup_at": at(5)}, "U1", at(0))
        case = await store.create_case("T1", {
            "channel_id": "C1", "reporter_id": "U1", "owner_id": "U2", "summary": "mistake",
            "category": "long_wait", "next_followup_at": at(5)}, "U1", at(0))
        await store.change_case("T1", case.id, changes={"status": "resolved"},
                                expect={"status": "open"}, actor_id="U2", kind="resolved",
                                detail={"compensation": "voucher", "accepted": "yes",
                                        "satisfaction_due": at(30)}, at=at(2))
        until = from_iso(at(40))

        async def stats():
            return stats_from_sums(await store.outcome_sums("T1", at(-1), at(40)),
                                   from_iso(at(-1)), until)

        before = await stats()
        assert before.overall.opened == 2 and before.overall.resolved == 1
        assert set(before.by_owner) == {"U1", "U2"}
        await store.change_case("T1", case.id, changes={
            "status": "closed", "closed_at": at(3), "withdrawn_at": at(3),
            "next_followup_at": None}, expect={"status": "resolved"}, actor_id="U1",
            kind="withdrawn", detail={"before": "resolved", "after": "closed",
                                      "reason": "opened twice"}, at=at(3))
        gone = await stats()
        assert gone.overall.opened == 1 and gone.overall.resolved == 0
        assert gone.overall.compensation_offered == 0
        assert set(gone.by_owner) == {"U1"} and set(gone.by_category) == {"billing"}
        assert [r[1] for r in (await table_rows(store))["case_facts"]] == [kept_case.id]
        await assert_stats_agree(store, "T1", at(-1), at(40))
        kept = await table_rows(store)
        await store.rebuild_rollups()
        assert await table_rows(store) == kept
        await store.change_case("T1", case.id, changes={
            "status": "open", "closed_at": None, "withdrawn_at": None},
            expect={"status": "closed"}, actor_id="U1", kind="reopened",
            detail={"before": "closed", "after": "open"}, at=at(4))
        back = await stats()
        assert back.overall.opened == 2 and back.overall.resolved == 1
        assert set(back.by_owner) == {"U1", "U2"}
        await assert_stats_agree(store, "T1", at(-1), at(40))
        kept = await table_rows(store)
        await store.rebuild_rollups()
        assert await table_rows(store) == kept
    finally:
        await store.close()


def test_histograms_added_at_once_equal_added_one_by_one():
    """`merged` (numpy, for reading a period) gives what `merge` gives row by row."""
    from bot.domain.histogram import encode, merge, merged

    rng = random.Random(3)
    texts = [encode({rng.randrange(0, 400): rng.randrange(1, 50)
                     for _ in range(rng.randrange(0, 30))}) for _ in range(200)]
    one_by_one: dict[int, int] = {}
    for text in texts:
        merge(one_by_one, text)
    assert merged(texts) == one_by_one and merged([None, None]) == {}
