"""What the leads' views read: a period's outcomes, the team's numbers, a person's Home.

Plain functions over the storage interface; the handlers render what they return.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.models import Case
from bot.domain.playbook import Playbook
from bot.domain.reports import Stats, parse_open
from bot.domain.rollups import stats_from_sums
from bot.domain.schedule import zone
from bot.domain.times import to_iso


async def stats_from(store, team_id: str, since: datetime, until: datetime) -> Stats:
    """Outcomes of the cases opened since `since`, as the timelines stand at `until`, from
    the roll-ups the store keeps (a row per day and group, whatever the workspace's size),
    read in a worker thread on a read-only connection:
    counts exact, medians and p90s within `histogram.RELATIVE_ERROR`."""
    sums = await store.outcome_sums(team_id, to_iso(since), to_iso(until))
    # Summed in a worker thread too: 90 days of a big workspace are thousands of rows.
    return await asyncio.to_thread(stats_from_sums, sums, since, until)


async def team_numbers(store, playbook: Playbook, team_id: str,
                 now: datetime) -> dict[str, Any]:
    """What the team view and the digest show about the workspace right now."""
    local = now.astimezone(zone((await store.workspace(team_id)).tz))
    week_start = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)  # Monday, workspace time
    overdue_q = parse_open("overdue", "", playbook, now).where
    unowned_q = parse_open("unowned", "", playbook, now).where
    overdue, n_overdue = await store.live_cases(team_id, overdue_q, 5)
    unowned, n_unowned = await store.live_cases(team_id, unowned_q, 5)
    return {
        "limit": playbook.settings.max_open_per_owner,
        "workload": await store.workload(team_id),
        "week": (await stats_from(store, team_id, week_start, now)).overall,
        "overdue": n_overdue, "overdue_cases": overdue,
        "unowned": n_unowned, "unowned_cases": unowned,
        "oldest": await store.oldest_live(team_id, 5),
    }




@dataclass(frozen=True)
class Home:
    """What a person's App Home shows."""

    mine: list[Case]
    waiting: list[Case]  # unowned, in their channels
    team: dict[str, Any] | None  # leads only
    ticks: dict[int, int]
    totals: tuple[int, int]  # how many of mine and waiting there are in all


async def home(store, playbook: Playbook, team_id: str, user_id: str, channels: list[str],
               is_lead: bool, now: datetime) -> Home:
    """The person's cases (next due first), the unowned ones in their channels, and for a
    lead the team's numbers."""
    mine, n_mine = await store.live_cases(
        team_id, parse_open("mine", user_id, playbook, now).where, 15, now=to_iso(now))
    waiting, n_waiting = await store.live_cases(
        team_id, replace(parse_open("unowned", user_id, playbook, now).where,
                         channels=tuple(channels)), 10)
    team = await team_numbers(store, playbook, team_id, now) if is_lead else None
    shown: list[Case] = mine + waiting + (team["overdue_cases"] + team["unowned_cases"] +
                                          team["oldest"] if team else [])
    ticks = await store.step_counts(team_id, [c.id for c in shown])
    return Home(mine, waiting, team, ticks, (n_mine, n_waiting))
