"""What leads read: filtered lists, workload, recovery outcomes, exports.

Plain Python: numbers are computed from the case timeline (events), never
kept by hand, so they always agree with what happened.
"""

from __future__ import annotations

import csv
import io
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.durations import parse_days
from bot.domain.histogram import percentiles
from bot.domain.models import Case, CaseFilter, Event
from bot.domain.playbook import Playbook
from bot.domain.times import from_iso, to_iso

PERIODS = {"7d": 7, "30d": 30, "90d": 90}
USER = re.compile(r"^<@([UW][A-Z0-9]{1,30})(?:\|[^<>]*)?>$")
# G…: private channels of older workspaces, still in use.
CHANNEL = re.compile(r"^<#([CG][A-Z0-9]{1,30})(?:\|[^<>]*)?>$")


class ReportError(ValueError):
    """The request can't be read; the message says what would work."""


# -- /recover open filters ------------------------------------------------------------
@dataclass(frozen=True)
class Query:
    """A parsed `/recover open ...`: the filter, and words describing it."""

    text: str
    where: CaseFilter
    described: str


def parse_open(text: str, user_id: str, playbook: Playbook, now: datetime) -> Query:
    """Read `mine | @user | unowned | overdue | #channel | <category>` (combinable)."""
    found: dict = {}
    said: list[str] = []
    for word in text.split():
        key, value, label = _filter_word(word, user_id, playbook, now)
        if key in found and found[key] != value:
            raise ReportError(f"`{word}` conflicts with another filter.")
        found[key] = value
        said.append(label)
    if found.get("unowned") and found.get("owner"):
        raise ReportError("A case can't be both unowned and owned by someone.")
    return Query(text.strip(), CaseFilter(**found), ", ".join(said) or "all")


def _filter_word(word: str, user_id: str, playbook: Playbook,
                 now: datetime) -> tuple[str, object, str]:
    low = word.lower()
    if low == "mine":
        return "owner", user_id, "yours"
    if low == "unowned":
        return "unowned", True, "without an owner"
    if low == "overdue":
        return "overdue_before", to_iso(now), "overdue"
    if match := USER.match(word):
        return "owner", match.group(1), f"owned by <@{match.group(1)}>"
    if match := CHANNEL.match(word):
        return "channel", match.group(1), f"in <#{match.group(1)}>"
    for category in playbook.categories:
        names = {category.key, category.key.replace("_", "-"), category.label.lower()}
        if low in names or low == category.key.split("_")[0]:
            return "category", category.key, category.label
    categories = ", ".join(c.key for c in playbook.categories)
    raise ReportError(f"I don't know the filter `{word[:40]}`. Use mine, @person, unowned, "
                      f"overdue, #channel or a category ({categories}).")


def age(created_at: str, now: datetime) -> str:
    """How long ago, in the largest sensible unit: 45m, 5h, 3d."""
    minutes = max(0, int((now - from_iso(created_at)).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 48 * 60:
        return f"{minutes // 60}h"
    return f"{minutes // 1440}d"


# -- stats ------------------------------------------------------------------------------
MEASURES = ("ownership", "apology", "first_action", "customer_update", "resolution")
MEASURE_LABELS = {"ownership": "to an owner", "apology": "to the apology",
                  "first_action": "to the first action", "customer_update":
                  "to the first customer update", "resolution": "to resolution"}


@dataclass(frozen=True)
class Spread:
    """Median and 90th percentile of a set of durations, in hours."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, hours: list[float]) -> Spread:
        if not hours:
            return cls(0, None, None)
        ordered = sorted(hours)
        p90 = ordered[math.ceil(0.9 * len(ordered)) - 1]  # nearest-rank percentile
        return cls(len(ordered), statistics.median(ordered), p90)


@dataclass
class Outcomes:
    """Recovery outcomes of a group of cases (all, one category, or one owner)."""

    opened: int = 0
    resolved: int = 0
    closed: int = 0
    reopened: int = 0
    followups_due: int = 0
    followups_on_time: int = 0
    satisfaction_done: int = 0
    compensation_offered: int = 0
    compensation_accepted: int = 0
    durations: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in MEASURES})
    # Or, for figures read from roll-ups: durations as bucket -> count (see histogram.py).
    histograms: dict[str, dict[int, int]] | None = None

    def spread(self, measure: str) -> Spread:
        if self.histograms is not None:
            return Spread(*percentiles(self.histograms[measure]))
        return Spread.of(self.durations[measure])

    @property
    def on_time_share(self) -> float | None:
        return self.followups_on_time / self.followups_due if self.followups_due else None


@dataclass(frozen=True)
class Stats:
    since: datetime
    until: datetime
    overall: Outcomes
    by_category: dict[str, Outcomes]
    by_owner: dict[str | None, Outcomes]


def compute_stats(facts: Iterable[tuple], since: datetime, until: datetime) -> Stats:
    """Outcomes for the cases opened in [since, until), from `Store.cohort_facts` rows."""
    overall, by_category, by_owner = Outcomes(), {}, {}
    for row in facts:
        category, owner = row[0], row[1]
        case = _row_facts(row)
        for group in (overall, by_category.get(category) or by_category.setdefault(
                category, Outcomes()), by_owner.get(owner) or by_owner.setdefault(
                owner, Outcomes())):
            _add(group, case)
    return Stats(since, until, overall, by_category, by_owner)


def _row_facts(row: tuple) -> tuple[dict[str, float], tuple[int, ...]]:
    """Durations (hours from opening) and counts of one case's timeline row."""
    (_, _owner, _reporter, created, owned, apology, action, update, resolved,
     *counts) = row
    opened = from_iso(created)
    firsts = zip(MEASURES, (owned, apology, action, update, resolved), strict=True)
    hours = {m: max(0.0, (from_iso(at) - opened).total_seconds() / 3600)
             for m, at in firsts if at}
    return hours, tuple(n or 0 for n in counts)


def _add(group: Outcomes, case: tuple[dict[str, float], tuple[int, ...]]) -> None:
    hours, (resolved, closed, reopened, due, on_time, satisfaction, offered,
            accepted) = case
    group.opened += 1
    group.resolved += resolved > 0
    group.closed += closed > 0
    group.reopened += reopened > 0
    group.followups_due += due
    group.followups_on_time += on_time
    group.satisfaction_done += satisfaction
    group.compensation_offered += offered
    group.compensation_accepted += accepted
    for measure, value in hours.items():
        group.durations[measure].append(value)


def period(text: str, now: datetime) -> tuple[str, datetime]:
    """`7d`, `30d` or `90d` (default 30d) -> (label, since)."""
    days = parse_days(text, maximum=max(PERIODS.values()), default=PERIODS["30d"],
                      allowed=PERIODS.values())
    if days is None:
        raise ReportError("Pick a period: `7d`, `30d` or `90d`.")
    return f"{days}d", now - timedelta(days=days)


# -- export -----------------------------------------------------------------------------
EXPORT_COLUMNS = (
    "case", "opened_at", "channel", "reporter", "reporter_name", "owner", "owner_name",
    "customer", "summary", "category", "category_name", "emotion", "contact", "severity",
    "status", "withdrawn_at", "resolved_at", "closed_at", "resolution", "compensation",
    "compensation_accepted", "source_link", "event_at", "event_by", "event_by_name", "event",
    "event_from", "event_from_name", "event_to", "event_to_name", "event_due", "event_step",
    "event_text", "event_compensation", "event_accepted", "event_other")
# Detail keys with a column of their own (the rest go to event_other as "key: value").
_FROM, _TO = ("before",), ("after", "until", "satisfaction_due")
_TEXT = ("text", "reason", "what")
_OWN = {*_FROM, *_TO, *_TEXT, "due", "step", "compensation", "accepted"}


def _first(detail: dict, keys: tuple[str, ...]) -> str:
    return next((str(detail[k]) for k in keys if detail.get(k) not in (None, "")), "")


def _flat(detail: dict, name) -> list[str]:
    """An event's detail as flat cells (no JSON): from, to (each with a name when it is
    a person), due, step, text, compensation, accepted, and the rest as `key: value`."""
    before, after = _first(detail, _FROM), _first(detail, _TO)
    other = "; ".join(f"{k}: {v}" for k, v in sorted(detail.items())
                      if k not in _OWN and v not in (None, ""))
    return [before, name(before), after, name(after), str(detail.get("due") or ""),
            str(detail.get("step") or ""), _cell(_first(detail, _TEXT)),
            _cell(str(detail.get("compensation") or "")), str(detail.get("accepted") or ""),
            _cell(other)]


def export_csv(rows: Iterable[tuple[Case, Event]], out: io.TextIOBase,
               names: dict[str, str] | None = None,
               labels: dict[str, str] | None = None) -> int:
    """Write one CSV row per timeline event (with its case); returns the row count.
    `names`: people's names by user id, `labels`: category names by key, as far as
    they are known (an unknown one is left empty, its id is always there)."""
    people, categories = names or {}, labels or {}

    def name(user: str | None) -> str:
        return _cell(people.get(user or "", ""))

    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for case, event in rows:
        writer.writerow([
            case.number, case.created_at, case.channel_id, case.reporter_id,
            name(case.reporter_id), case.owner_id or "", name(case.owner_id),
            _cell(case.customer), _cell(case.summary), case.category,
            categories.get(case.category, ""), case.emotion, case.contact, case.severity,
            case.status, case.withdrawn_at or "", case.resolved_at or "", case.closed_at or "",
            _cell(case.resolution), _cell(case.compensation), case.compensation_accepted or "",
            case.source_link or "", event.at, event.actor_id or "", name(event.actor_id),
            event.kind, *_flat(event.detail, name),
        ])
        count += 1
    return count


# What a spreadsheet may read as the start of a formula: = + - @, their full-width forms
# (East Asian input methods type them, and Excel reads them as the half-width ones), and
# tab and line breaks.
FORMULA_START = frozenset("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")


def _cell(text: str | None) -> str:
    """Spreadsheets run cells that start with a formula character: defuse them, behind
    leading spaces too (a spreadsheet that trims them would run what follows)."""
    text = text or ""
    return "'" + text if text.lstrip(" \u3000")[:1] in FORMULA_START else text
