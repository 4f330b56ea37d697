"""What leads read: filtered lists, workload, recovery outcomes, exports.

Plain Python: numbers are computed from the case timeline (events), never
kept by hand, so they always agree with what happened.
"""

from __future__ import annotations

import csv
import io
import json
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.clock import from_iso, to_iso
from bot.models import Case, Event
from bot.playbook import Playbook
from bot.store import CaseFilter

PERIODS = {"7d": 7, "30d": 30, "90d": 90}
USER = re.compile(r"^<@([UW][A-Z0-9]{1,30})(?:\|[^<>]*)?>$")
CHANNEL = re.compile(r"^<#(C[A-Z0-9]{1,30})(?:\|[^<>]*)?>$")


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
STAT_KINDS = ("taken", "assigned", "step_done", "customer_updated", "followup_done",
              "resolved", "closed", "reopened")
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
        p90 = ordered[min(len(ordered) - 1, max(0, int(round(0.9 * len(ordered) + 0.5)) - 1))]
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

    def spread(self, measure: str) -> Spread:
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


def compute_stats(cases: list[Case], events: Iterable[Event], since: datetime,
                  until: datetime) -> Stats:
    """Outcomes for the cases opened in [since, until), from their timelines."""
    per_case: dict[int, list[Event]] = {}
    for event in events:
        per_case.setdefault(event.case_id, []).append(event)
    overall, by_category, by_owner = Outcomes(), {}, {}
    for case in cases:
        groups = (overall, by_category.setdefault(case.category, Outcomes()),
                  by_owner.setdefault(case.owner_id, Outcomes()))
        facts = _case_facts(case, per_case.get(case.id, []))
        for group in groups:
            _add(group, facts)
    return Stats(since, until, overall, by_category, by_owner)


def _case_facts(case: Case, events: list[Event]) -> dict:
    opened = from_iso(case.created_at)
    first: dict[str, datetime] = {}

    def mark(measure: str, at: str) -> None:
        first.setdefault(measure, from_iso(at))

    if case.reporter_id and case.owner_id == case.reporter_id and not any(
            e.kind in ("taken", "assigned") for e in events):
        first["ownership"] = opened  # owned from the moment it was opened
    counts = {"resolved": 0, "closed": 0, "reopened": 0, "due": 0, "on_time": 0,
              "satisfaction": 0, "offered": 0, "accepted": 0}
    for e in events:
        if e.kind in ("taken", "assigned"):
            mark("ownership", e.at)
        elif e.kind == "step_done" and e.detail.get("step") == "apologize":
            mark("apology", e.at)
        elif e.kind == "step_done" and e.detail.get("step") == "act":
            mark("first_action", e.at)
        elif e.kind in ("customer_updated", "followup_done"):
            mark("customer_update", e.at)
        if e.kind == "followup_done":
            counts["due"] += 1
            counts["on_time"] += int(bool(e.detail.get("due")) and e.at <= e.detail["due"])
        if e.kind == "resolved":
            mark("resolution", e.at)
            counts["resolved"] += 1
            counts["offered"] += int(bool(e.detail.get("compensation")))
            counts["accepted"] += int(e.detail.get("accepted") == "yes")
        elif e.kind in ("closed", "reopened"):
            counts[e.kind] += 1
            if e.kind == "closed" and "satisfaction" in str(e.detail.get("reason", "")):
                counts["satisfaction"] += 1
    hours = {m: (at - opened).total_seconds() / 3600 for m, at in first.items()}
    return {"hours": hours, **counts}


def _add(group: Outcomes, facts: dict) -> None:
    group.opened += 1
    group.resolved += int(facts["resolved"] > 0)
    group.closed += int(facts["closed"] > 0)
    group.reopened += int(facts["reopened"] > 0)
    group.followups_due += facts["due"]
    group.followups_on_time += facts["on_time"]
    group.satisfaction_done += facts["satisfaction"]
    group.compensation_offered += facts["offered"]
    group.compensation_accepted += facts["accepted"]
    for measure, hours in facts["hours"].items():
        group.durations[measure].append(max(0.0, hours))


def period(text: str, now: datetime) -> tuple[str, datetime]:
    """`7d`, `30d` or `90d` (default 30d) -> (label, since)."""
    label = (text.strip().lower() or "30d")
    if label not in PERIODS:
        raise ReportError("Pick a period: `7d`, `30d` or `90d`.")
    return label, now - timedelta(days=PERIODS[label])


# -- export -----------------------------------------------------------------------------
EXPORT_COLUMNS = ("case", "opened_at", "channel", "reporter", "owner", "customer", "summary",
                  "category", "emotion", "contact", "severity", "status", "resolved_at",
                  "closed_at", "resolution", "compensation", "compensation_accepted",
                  "event_at", "event_by", "event", "event_detail")


def export_csv(rows: Iterable[tuple[Case, Event]], out: io.TextIOBase) -> int:
    """Write one CSV row per timeline event (with its case); returns the row count."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for case, event in rows:
        writer.writerow([
            case.number, case.created_at, case.channel_id, case.reporter_id,
            case.owner_id or "", _cell(case.customer), _cell(case.summary), case.category,
            case.emotion, case.contact, case.severity, case.status, case.resolved_at or "",
            case.closed_at or "", _cell(case.resolution), _cell(case.compensation),
            case.compensation_accepted or "", event.at, event.actor_id or "", event.kind,
            _cell(json.dumps(event.detail, ensure_ascii=False, sort_keys=True)),
        ])
        count += 1
    return count


def _cell(text: str | None) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: defuse them."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
