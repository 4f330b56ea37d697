"""Opening recovery cases: the domain behind `/recover` (no Slack here)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.advice import Advice, build_advice
from bot.domain.intake import Reader, Report, read_report
from bot.domain.models import Case, CaseRef, NewCase, Opening, Written
from bot.domain.playbook import Playbook
from bot.domain.ports import CaseStore, CaseWriter
from bot.domain.promises import LocalTime, default_due, promise_words
from bot.domain.schedule import followup_timer, update_timer
from bot.domain.times import Clock, from_iso, to_iso
from bot.domain.vocabulary import EventKind, FollowupKind, Status
from bot.domain.workspace import Workspace

MAX_REPORT_CHARS = 3000  # longer reports keep a summary; the whole text goes to notes
SUMMARY_CHARS = 600  # the summary of a long report
NOTE_CHARS = 3000  # one note of a long report (the lifecycle's note limit)
MAX_TEXT_CHARS = 40_000  # Slack's own limit on a message
MIN_REPORT_CHARS = 3


class BadReport(ValueError):
    """The report can't open a case; the message is for the agent."""


REPEAT_WINDOW_DAYS = 90


@dataclass(frozen=True)
class Opened:
    case: Case
    report: Report
    advice: Advice
    open_duplicates: tuple[CaseRef, ...] = ()  # the customer's other open cases
    local: LocalTime | None = None  # the owner's day as known when it was opened


# Where a person's day is, as known without waiting for Slack, given their workspace's
# settings: (team, user, settings) -> LocalTime.
LocalTimes = Callable[[str, str, Workspace], LocalTime | None]


class Recovery:
    """Opens cases from an agent's report and says how to recover."""

    def __init__(self, store: CaseStore, playbook: Playbook, clock: Clock,
                 writer: CaseWriter | None = None, reader: Reader | None = None):
        self.store = store
        self.reader = reader  # the reading model, when loaded
        self.playbook = playbook
        self.clock = clock
        # New cases go through `writer` (the store's group commit shares one commit
        # among the cases that arrive together); by default straight to the store.
        self.writer = writer or _Direct(store)
        # The owner's timezone and working hours as known now (set by the app); without
        # it the first follow-up is simply followup_default_hours away.
        self.local_time: LocalTimes | None = None

    def check_text(self, text: str) -> str:
        """Normalise the report text or raise BadReport saying what to fix."""
        text = (text or "").strip()
        if len(text) < MIN_REPORT_CHARS:
            raise BadReport("Tell me what went wrong for the customer, in a sentence or two.")
        if len(text) > MAX_TEXT_CHARS:
            raise BadReport(
                f"That report is {len(text):,} characters; I keep up to "
                f"{MAX_TEXT_CHARS:,}. Give the short story here and add details in the "
                "case card's thread."
            )
        return text

    async def open_case(
        self,
        team_id: str,
        channel_id: str,
        reporter_id: str,
        text: str,
        *,
        customer: str | None = None,
        contact: str | None = None,
        severity: str | None = None,
        source_link: str | None = None,
        request_key: str | None = None,
    ) -> Opened:
        """Read the report, open case #N owned by the reporter, and advise
        (`request_key`: the inbound request opening it, recorded with it)."""
        text = self.check_text(text)
        report = read_report(text, self.playbook, self.reader)
        report = _override(report, customer=customer, contact=contact, severity=severity)
        parts = split_long(text) if len(text) > MAX_REPORT_CHARS else ()
        if parts:
            report = dataclasses.replace(report, summary=summarize(report.summary))
        now = self.clock.now()
        now_iso = to_iso(now)
        drafted: list[tuple[LocalTime | None, datetime]] = []

        def draft(ws: Workspace) -> NewCase:
            """The case, given its workspace's settings as the store reads them."""
            local = self.local_time(team_id, reporter_id, ws) if self.local_time else None
            due = default_due(now, self.first_span, local, report.severity)
            drafted.append((local, due))  # the last one is the one written
            return self._new_case(team_id, channel_id, reporter_id, report, now_iso,
                                  to_iso(due), source_link, request_key)

        since = to_iso(now - timedelta(days=REPEAT_WINDOW_DAYS))
        written = await self.writer.open_case(
            Opening(team_id, now_iso, draft, report.customer, since))
        case = written.case
        local, due = drafted[-1]
        for index, part in enumerate(parts, 1):  # the whole report, kept in the case
            await self.store.add_event(team_id, case.id, reporter_id, EventKind.NOTE,
                                       {"text": part, "report_part": f"{index}/{len(parts)}"},
                                       now_iso)
        # The apology promises the time this case's follow-up falls due, no earlier.
        promise = promise_words(now, due, local.tz if local else None)
        return Opened(case, report, build_advice(report, self.playbook, promise),
                      still_open(written), local)

    def _new_case(self, team_id: str, channel_id: str, reporter_id: str, report: Report,
                  now_iso: str, due_iso: str, source_link: str | None,
                  request_key: str | None) -> NewCase:
        fields = {
            "repeat_of": None,  # the store sets it from the customer's history
            "followup_kind": FollowupKind.UPDATE,
            "channel_id": channel_id,
            "reporter_id": reporter_id,
            "owner_id": reporter_id,
            "customer": report.customer,
            "summary": report.summary,
            "category": report.category,
            "emotion": report.emotion,
            "contact": report.contact,
            "severity": report.severity,
            "next_followup_at": due_iso,
            "customer_updated_at": now_iso,
            "source_link": source_link,
        }
        timers = (followup_timer(due_iso), update_timer(now_iso, self.playbook.nudges))
        return NewCase(team_id, fields, reporter_id, now_iso, timers, request_key)

    @property
    def first_span(self) -> timedelta:
        return timedelta(hours=self.playbook.settings.followup_default_hours)

    async def correct_first_followup(self, case: Case, guessed: LocalTime | None,
                                     known: LocalTime) -> Case | None:
        """The first follow-up was worked out inside the ack from a guessed timezone
        (the owner's cached one, else the workspace's); Slack has now told us the real
        one. Move it to where `known` puts it, unless someone has changed it since
        (compare-and-set on the follow-up). Returns the corrected case, or None."""
        if case.status != Status.OPEN or not case.next_followup_at:
            return None
        opened = from_iso(case.created_at)
        if case.next_followup_at != to_iso(default_due(opened, self.first_span, guessed,
                                                       case.severity)):
            return None  # not the default any more
        right = to_iso(default_due(opened, self.first_span, known, case.severity))
        if right == case.next_followup_at:
            return None
        return await self.store.change_case(
            case.team_id, case.id, changes={"next_followup_at": right},
            expect={"next_followup_at": case.next_followup_at, "status": case.status},
            actor_id=None, kind=EventKind.FOLLOWUP_SET,
            detail={"before": case.next_followup_at, "after": right,
                    "kind": case.followup_kind or FollowupKind.UPDATE,
                    "reason": "working hours"},
            at=to_iso(self.clock.now()), timers=(followup_timer(right),))

    def category_label(self, key: str) -> str:
        return self.playbook.category(key).label

    def step_titles(self) -> list[tuple[str, str]]:
        """(key, title) of the five recovery steps, in order."""
        return [(step.key, step.title) for step in self.playbook.steps]

    def contact_keys(self) -> list[str]:
        """The contact channels an agent can choose, in playbook order."""
        return [channel.key for channel in self.playbook.contact.channels]

    def labels(self) -> dict[str, str]:
        return {c.key: c.label for c in self.playbook.categories}


def still_open(written: Written) -> tuple[CaseRef, ...]:
    """The customer's other open cases (up to three, oldest first) among those read."""
    return tuple([ref for ref in reversed(written.history) if ref.status == Status.OPEN][:3])


def summarize(text: str, limit: int = SUMMARY_CHARS) -> str:
    """The start of a long report, cut at a sentence or word, saying the rest is kept."""
    head = text[:limit]
    stop = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    head = head[:stop + 1] if stop > limit // 2 else head.rsplit(" ", 1)[0]
    return f"{head.rstrip()} … (long report: the whole text is in the case's notes)"


def split_long(text: str, size: int = NOTE_CHARS) -> tuple[str, ...]:
    """A long text as notes of at most `size` characters, cut between words."""
    parts: list[str] = []
    while len(text) > size:
        cut = text.rfind(" ", size // 2, size)
        cut = cut if cut > 0 else size
        parts.append(text[:cut].strip())
        text = text[cut:].strip()
    return tuple(p for p in [*parts, text] if p)


def _override(report: Report, **values: str | None) -> Report:
    """Fields the agent chose in the modal win over what the text suggested."""
    chosen = {k: v.strip() for k, v in values.items() if v and v.strip()}
    return dataclasses.replace(report, **chosen) if chosen else report


class _Direct:
    """A writer that opens each case in a transaction of its own."""

    def __init__(self, store: CaseStore):
        self.store = store

    async def open_case(self, opening: Opening) -> Written:
        return (await self.store.open_cases([opening]))[0]
