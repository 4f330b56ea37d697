"""Block Kit for follow-up nudges in the case thread (and to the leads)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.domain.models import Case, Event, Nudge
from bot.domain.times import from_iso
from bot.domain.vocabulary import FollowupKind, NudgeKind
from handlers.blocks import Blocks, button, context, plain, section, when
from handlers.ids import NUDGE_METADATA_TYPE, Action, Block
from handlers.mrkdwn import escape, mention


def nudge_key(nudge: Nudge) -> str:
    """The outbox key, carried in the message so a resend can be recognised."""
    return f"{nudge.team_id}:{nudge.case_id}:{nudge.kind}:{nudge.due_key}:{nudge.rung}"


def metadata(nudge: Nudge, case: Case) -> dict[str, Any]:
    return {"event_type": NUDGE_METADATA_TYPE,
            "event_payload": {"key": nudge_key(nudge), "case": case.number,
                              "team_id": case.team_id}}


def due_of_key(key: object) -> str | None:
    """The due time inside a nudge key (None if it is not one)."""
    parts = str(key or "").split(":", 3)
    due = parts[3].rpartition(":")[0] if len(parts) == 4 else ""
    return due or None


def button_value(number: str, due_key: str, choice: str = "") -> str:
    """A reminder button's value: the case, the quick choice (snoozes) and the
    follow-up it was sent for (`N:choice:due`; the due time has colons of its own)."""
    return f"{number}:{choice}:{due_key}"


def read_button_value(value: str) -> tuple[str, str | None]:
    """(quick choice, due time) from a reminder button's value; a button sent before
    values carried the due time gives (choice, None)."""
    parts = str(value or "").split(":", 2)
    return (parts[1] if len(parts) > 1 else ""), (parts[2] if len(parts) > 2 and parts[2]
                                                  else None)


def digest_metadata(nudge: Nudge) -> dict[str, Any]:
    return {"event_type": NUDGE_METADATA_TYPE,
            "event_payload": {"key": nudge_key(nudge), "team_id": nudge.team_id}}


def _title(case: Case, label: str) -> str:
    who = f"{escape(case.customer)} · " if case.customer else ""
    return f"*case #{case.number}* ({who}{escape(label)})"


def _overdue(late: timedelta) -> str:
    minutes = max(0, int(late.total_seconds() // 60))
    return f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def nudge_message(nudge: Nudge, case: Case, label: str, now, max_reminders: int,
                  leads: list[str], snooze: Event | None,
                  late: timedelta | None = None) -> tuple[str, Blocks]:
    """Notification text (no customer words) and blocks for one nudge. `late` is how
    overdue the follow-up is in the owner's working time (default: clock time)."""
    n = str(case.number)
    if nudge.kind == NudgeKind.CUSTOMER_UPDATE:
        updated = button("Customer updated", Action.NUDGE_UPDATED, n)
        if case.owner_id is None:
            text = (f":raising_hand: {_title(case, label)} needs an owner, and an update to "
                    "the customer: they have not heard from us for a while. Who can take it "
                    "and tell them where things stand?")
            return (f"Case #{n} needs an owner and a customer update",
                    [section(text, Block.NUDGE_TEXT),
                     _actions([_take(case), updated], case.team_id)])
        text = (f":speech_balloon: {mention(case.owner_id)} {_title(case, label)} has had no "
                "customer update for a while. Even without a fix yet, tell them where things "
                "stand and when you'll be back.")
        return (f"Case #{n}: time to update the customer",
                [section(text, Block.NUDGE_TEXT), _actions([updated], case.team_id)])
    due = case.next_followup_at or nudge.due_key
    what = ("check with the customer that the fix worked and they are satisfied"
            if case.followup_kind == FollowupKind.SATISFACTION else "get back to the customer")
    if nudge.kind == NudgeKind.ESCALATION:
        heads = " ".join(mention(u) for u in leads) or \
            "No leads are set to tell (`/recover leads @a @b`)"
        text = (f":rotating_light: {heads}: the follow-up on {_title(case, label)} is overdue "
                f"by {_overdue(late if late is not None else now - from_iso(due))} "
                f"(due {when(due)}). Owner: {mention(case.owner_id)}; "
                f"it is in <#{case.channel_id}>.")
        return f"Case #{n}: follow-up overdue", [section(text, Block.NUDGE_TEXT),
                                                 _actions(_owner_controls(case), case.team_id)]
    if nudge.kind == NudgeKind.UNASSIGNED:
        text = (f":leftwards_arrow_with_hook: {_title(case, label)} is back in the unowned "
                f"queue: its follow-up has been overdue since {when(due)}. Who can take it?")
        return f"Case #{n} needs an owner", [section(text, Block.NUDGE_TEXT),
                                             _actions([_take(case)], case.team_id)]
    if case.owner_id is None:
        text = (f":raising_hand: {_title(case, label)} needs an owner: its follow-up has been "
                f"due since {when(due)}. Who can take it and {what}?")
        return f"Case #{n} needs an owner", [
            section(text, Block.NUDGE_TEXT),
            _actions([_take(case), *_snoozes(n, nudge.due_key)], case.team_id)]
    step = f"Reminder {nudge.rung + 1} of {max_reminders}: " if nudge.rung else ""
    text = (f":alarm_clock: {mention(case.owner_id)} {step}time to {what} on "
            f"{_title(case, label)}; the follow-up has been due since {when(due)}.")
    blocks = [section(text, Block.NUDGE_TEXT)]
    if snooze:
        reason = snooze.detail.get("reason")
        blocks.append(context(f"Snoozed by {mention(snooze.actor_id)}"
                              + (f": “{escape(reason)}”" if reason else "")))
    blocks.append(_actions([button("Done", Action.NUDGE_DONE, button_value(n, nudge.due_key)),
                            *_snoozes(n, nudge.due_key), _reassign()], case.team_id))
    return f"Case #{n}: follow-up due", blocks


def answered(blocks: Blocks, note: str) -> Blocks:
    """The nudge after someone answered it: its text kept, buttons replaced by a note."""
    kept = [b for b in blocks if b.get("block_id") == Block.NUDGE_TEXT]
    return [*kept, context(note)]


def _actions(elements: list[dict[str, Any]], team_id: str) -> dict[str, Any]:
    return {"type": "actions", "block_id": f"{Block.NUDGE_ACTIONS}~{team_id}",
            "elements": elements}


def _take(case: Case) -> dict[str, Any]:
    return {**button("Take ownership", Action.TAKE, str(case.number)), "style": "primary"}


def _snoozes(n: str, due_key: str) -> list[dict[str, Any]]:
    return [button("Snooze 1h", Action.NUDGE_SNOOZE, button_value(n, due_key, "in_1h")),
            button("Snooze until tomorrow morning", Action.NUDGE_SNOOZE_MORNING,
                   button_value(n, due_key, "tomorrow_morning"))]


def _reassign() -> dict[str, Any]:
    return {"type": "users_select", "action_id": Action.NUDGE_ASSIGN,
            "placeholder": plain("Reassign…", 150)}


def _owner_controls(case: Case) -> list[dict[str, Any]]:
    return [_take(case), _reassign()] if case.owner_id is None else [_reassign()]


# After *Done*: the case stays open, so it needs its next step.
# (button, when as `/recover followup` reads it, label)
NEXT_STEPS = ((Action.NEXT_TOMORROW, "tomorrow 9am", "Tomorrow 9:00"),
              (Action.NEXT_IN_2_DAYS, "in 2 days 9am", "In 2 days, 9:00"),
              (Action.NEXT_WEEK, "next monday 9am", "Next week, Monday 9:00"))


def next_step(case: Case) -> Blocks:
    """Asks the person who pressed *Done* when the case is next followed up."""
    n = str(case.number)
    return [section(f":white_check_mark: Follow-up on case #{n} recorded. The case stays "
                    "open, so it needs a next step: when do we next get back to the customer?"),
            {"type": "actions", "block_id": f"next_step~{case.team_id}",
             "elements": [button(label, action, n) for action, _, label in NEXT_STEPS]},
            context(f"Times in your own timezone. Or `/recover followup {n} <when>`.")]
