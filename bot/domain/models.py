"""Records Mend keeps: a case and the events of its timeline."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.domain.workspace import Workspace


@dataclass(frozen=True)
class StepMark:
    """A ticked recovery step: who ticked it and when."""

    step: str
    by: str
    at: str


@dataclass(frozen=True)
class Case:
    """One service breakdown being recovered, numbered per workspace."""

    id: int
    team_id: str
    number: int
    channel_id: str
    reporter_id: str
    owner_id: str | None
    customer: str | None
    summary: str
    category: str
    emotion: str
    contact: str
    severity: str
    status: str
    created_at: str
    updated_at: str
    next_followup_at: str | None = None
    card_channel: str | None = None
    card_ts: str | None = None
    card_state: str | None = None  # pending | posted | failed
    followup_kind: str | None = None  # "update" while open, "satisfaction" once resolved
    resolved_at: str | None = None
    closed_at: str | None = None
    resolution: str | None = None
    compensation: str | None = None
    compensation_accepted: str | None = None  # "yes" | "no" | "not_offered"
    repeat_of: int | None = None  # number of an earlier case for the same customer
    duplicate_of: int | None = None  # set when folded into another open case
    customer_updated_at: str | None = None  # last time the customer heard from us
    card_claimed_at: str | None = None  # when a card post was last attempted
    source_link: str | None = None  # the Slack message the case was opened from
    withdrawn_at: str | None = None  # opened by mistake: closed and left out of the stats


@dataclass(frozen=True)
class CaseRef:
    """Just enough of a case to point at it (a repeat customer's other cases)."""

    number: int
    owner_id: str | None
    customer: str | None
    status: str
    created_at: str


@dataclass(frozen=True)
class Timer:
    """When the scheduler must next look at a case, and where its ladder stands.

    Timers belong to one follow-up (`due_key` = the case's next_followup_at) or
    one quiet period (`due_key` = customer_updated_at); when the case moves on,
    old timers simply no longer match and are dropped when they come up.
    """

    team_id: str
    at: str
    case_id: int
    kind: str  # followup | update
    due_key: str
    rung: int = 0  # reminders (or update nudges) already issued
    escalated: int = 0
    unassigned: int = 0


@dataclass(frozen=True)
class Nudge:
    """One outgoing reminder (a row of the outbox), sent at most once."""

    id: int
    team_id: str
    case_id: int
    kind: str  # followup | escalation | update | unassigned
    rung: int
    due_key: str
    state: str  # pending | sending | sent | failed | cancelled | skipped
    attempts: int
    send_after: str
    channel: str | None
    thread_ts: str | None
    sent_ts: str | None
    created_at: str
    claimed_at: str | None = None
    error: str | None = None  # why the last attempt failed, if it did

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Case:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in row.items() if k in names})


@dataclass(frozen=True)
class Event:
    """One change to a case: who did what, when, with details."""

    id: int
    team_id: str
    case_id: int
    at: str
    actor_id: str | None
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Event:
        data = dict(row)
        data["detail"] = json.loads(data.get("detail") or "{}")
        return cls(**data)


@dataclass(frozen=True)
class CaseFilter:
    """Which not-closed cases a list shows (all conditions together)."""

    owner: str | None = None
    unowned: bool = False
    channel: str | None = None
    category: str | None = None
    overdue_before: str | None = None  # follow-up due before this instant
    channels: tuple[str, ...] | None = None  # only cases in these channels
    # Who is looking, when they are not a lead: only cases they own or reported,
    # or in channels they are in.
    viewer: str | None = None
    viewer_channels: tuple[str, ...] = ()


@dataclass(frozen=True)
class NewCase:
    """A case to be inserted: its workspace, fields, who opened it and when."""

    team_id: str
    fields: dict[str, Any]
    actor_id: str
    at: str
    timers: tuple[dict[str, Any], ...] = ()  # the case's first scheduler timers
    # The inbound request that opens it (a slash command's key): recorded with the case,
    # in its transaction, so that Slack's retry of a request that died before its ack
    # finds this case, and no other.
    request_key: str | None = None


HISTORY_CASES = 5  # the customer's newest cases an opening reads


@dataclass(frozen=True)
class Opening:
    """A case to open, with what it depends on read in the same storage call: its
    workspace's settings (they place its first follow-up) and its customer's newest
    cases (a repeat customer's). `draft` makes the case from the settings; the store
    sets its `repeat_of` from the history (`repeat_of`)."""

    team_id: str
    at: str  # when it is opened (its workspace's row is created then, if new)
    draft: Callable[[Workspace], NewCase]
    customer: str | None = None  # no customer: no history is read
    since: str = ""  # the repeat window's start

    @classmethod
    def fixed(cls, new: NewCase) -> Opening:
        """A case whose fields depend on nothing read (as given, repeat_of included)."""
        return cls(new.team_id, new.at, lambda _ws: new)


@dataclass(frozen=True)
class Written:
    """A case opened, and the settings and customer history it was opened with."""

    case: Case
    workspace: Workspace
    history: tuple[CaseRef, ...] = ()  # newest first: open, or opened since `since`


def repeat_of(history: tuple[CaseRef, ...] | list[CaseRef], since: str) -> int | None:
    """The customer's latest case opened since `since`, from their newest cases (open
    or opened since then, newest first): the case a new one repeats."""
    return history[0].number if history and history[0].created_at >= since else None
