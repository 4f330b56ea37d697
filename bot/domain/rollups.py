"""Recovery outcomes from roll-ups: what one case adds to its opening day's sums, and a
period's `Stats` put together from the sums of the days it wholly covers, the exact
timeline rows of the day it starts in, and the follow-ups due now.

The counts come out exactly as `compute_stats` gives them over `cohort_facts`; the
medians and p90s come from histograms, within `histogram.RELATIVE_ERROR`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import add

from bot.domain.histogram import bucket, merged
from bot.domain.reports import MEASURES, Outcomes, Stats, _row_facts

# The sums kept per day and group, in `Outcomes`' order.
COUNTS = ("opened", "resolved", "closed", "reopened", "followups_due", "followups_on_time",
          "satisfaction_done", "compensation_offered", "compensation_accepted")
DIMENSIONS = ("all", "category", "owner")


@dataclass(frozen=True)
class Sums:
    """What the store reads for a period (see `Store.outcome_sums`)."""

    # (dim, key, *COUNTS, then per measure its durations of no time, then per measure
    # its other durations as a histogram: see histogram.encode) of the whole days
    days: list[tuple]
    first_day: list[tuple]  # cohort rows (follow-ups due now left out) of the first day
    due_now: list[tuple]  # (category, owner, n): cases of the period with a follow-up due


def day_of(created_at: str | None) -> str:
    """The UTC day a case was opened on (times are stored as UTC ISO text)."""
    return (created_at or "")[:10]


def groups_of(row: tuple) -> tuple[tuple[str, str], ...]:
    """The groups a cohort row counts in: everything, its category, its owner (no
    category or owner is kept as '')."""
    return (("all", ""), ("category", row[0] or ""), ("owner", row[1] or ""))


def contribution(row: tuple) -> tuple[tuple[int, ...], dict[str, int]]:
    """What one case's cohort row adds to its groups: the counts, and the bucket of
    each of its durations."""
    hours, (resolved, closed, reopened, due, on_time, satisfaction, offered,
            accepted) = _row_facts(row)
    counts = (1, int(resolved > 0), int(closed > 0), int(reopened > 0), due, on_time,
              satisfaction, offered, accepted)
    return counts, {m: bucket(h) for m, h in hours.items()}


def stats_from_sums(sums: Sums, since: datetime, until: datetime) -> Stats:
    """The period's `Stats`, as `compute_stats` would give them (percentiles read from
    the histograms)."""
    groups: dict[tuple[str, str], Outcomes] = {}

    def group(dim: str, key: str) -> Outcomes:
        found = groups.get((dim, key))
        if found is None:
            found = groups[(dim, key)] = Outcomes(histograms={m: {} for m in MEASURES})
        return found

    # The whole days: counts summed per group, histograms gathered per group and measure
    # and added once each (see `histogram.merged`).
    zeros = 2 + len(COUNTS) + len(MEASURES)  # after dim, key, counts and zero columns
    added: dict[tuple[str, str], list[int]] = {}
    kept: dict[tuple[str, str], list[list[str]]] = {}
    for row in sums.days:
        where = (row[0], row[1])
        total = added.get(where)
        if total is None:
            added[where] = list(row[2:zeros])
            kept[where] = [[] for _ in MEASURES]
        else:
            total[:] = map(add, total, row[2:zeros])
        for texts, text in zip(kept[where], row[zeros:], strict=True):
            if text:
                texts.append(text)
    for where, total in added.items():
        found = group(*where)
        _add_counts(found, total[:len(COUNTS)])
        for measure, zero, texts in zip(MEASURES, total[len(COUNTS):], kept[where],
                                        strict=True):
            histogram = found.histograms[measure] = merged(texts)
            if zero:
                histogram[0] = histogram.get(0, 0) + zero
    # The first day's cases: counts summed and buckets gathered per group, then added.
    first: dict[tuple[str, str], tuple[list[int], dict[str, list[int]]]] = {}
    for row in sums.first_day:
        counts, buckets = contribution(row)
        for where in groups_of(row):
            found = first.get(where)
            if found is None:
                found = first[where] = ([0] * len(COUNTS), {m: [] for m in MEASURES})
            found[0][:] = map(add, found[0], counts)
            for measure, index in buckets.items():
                found[1][measure].append(index)
    for where, (counts, buckets) in first.items():
        found = group(*where)
        _add_counts(found, counts)
        for measure, indexes in buckets.items():
            histogram = found.histograms[measure]
            for index, n in Counter(indexes).items():
                histogram[index] = histogram.get(index, 0) + n
    for category, owner, n in sums.due_now:
        for dim, key in groups_of((category, owner)):
            group(dim, key).followups_due += n
    return _stats(groups, since, until)


def _add_counts(group: Outcomes, counts: Iterable[int]) -> None:
    for name, n in zip(COUNTS, counts, strict=True):
        setattr(group, name, getattr(group, name) + n)


def _stats(groups: dict[tuple[str, str], Outcomes], since: datetime,
           until: datetime) -> Stats:
    overall = groups.get(("all", "")) or Outcomes(histograms={m: {} for m in MEASURES})
    by = {dim: {key or None: o for (d, key), o in groups.items() if d == dim and o.opened}
          for dim in ("category", "owner")}
    return Stats(since, until, overall, by["category"], by["owner"])
