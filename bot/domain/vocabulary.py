"""The words Mend's records use, named once.

Each is a `StrEnum`: a member is its own value, so it is stored, compared and shown
as the plain word ("open", "critical") while the code names it.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Where a case is in its life."""

    OPEN = "open"
    RESOLVED = "resolved"
    CLOSED = "closed"


class FollowupKind(StrEnum):
    """What a case's next follow-up is for."""

    UPDATE = "update"  # tell the customer where things stand
    SATISFACTION = "satisfaction"  # after resolving: ask whether they are satisfied


class CardState(StrEnum):
    """A case card's way into the channel: pending -> posting -> posted | failed."""

    PENDING = "pending"
    POSTING = "posting"  # recorded just before the post
    POSTED = "posted"
    FAILED = "failed"


class NudgeKind(StrEnum):
    """What the scheduler sends (and the timers it keeps)."""

    FOLLOWUP = "followup"  # a follow-up fell due: the owner's reminders
    ESCALATION = "escalation"  # overdue for long: tell the leads
    CUSTOMER_UPDATE = "update"  # the customer has not heard from us for too long
    UNASSIGNED = "unassigned"  # overdue: back to the unowned queue
    DIGEST = "digest"  # the weekly digest to the lead channel


class Severity(StrEnum):
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


class EventKind(StrEnum):
    """What a timeline entry records."""

    OPENED = "opened"
    TAKEN = "taken"
    ASSIGNED = "assigned"
    RELEASED = "released"
    FOLLOWUP_SET = "followup_set"
    SNOOZED = "snoozed"
    FOLLOWUP_DONE = "followup_done"
    CUSTOMER_UPDATED = "customer_updated"
    NOTE = "note"
    STEP_DONE = "step_done"
    STEP_UNDONE = "step_undone"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    WITHDRAWN = "withdrawn"  # opened by mistake: closed, and left out of the stats
    CARD_POSTED = "card_posted"
    CARD_FAILED = "card_failed"
    NUDGE_SENT = "nudge_sent"
    NUDGE_FAILED = "nudge_failed"
