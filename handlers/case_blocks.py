"""Block Kit for an existing case: the card, its timeline, its modals.

The card is rebuilt whole from the stored case after every change and sent
with `chat.update`, so it always shows the current state and never drifts.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.domain.lifecycle import Refused, Timeline
from bot.domain.models import Case, Event, StepMark
from bot.domain.vocabulary import FollowupKind, Status
from bot.domain.when import QUICK_CHOICES
from handlers.blocks import (
    CONTACT_LABELS,
    EMOTION_LABELS,
    SEVERITY_LABELS,
    STATUS_LABELS,
    Blocks,
    button,
    case_title,
    context,
    divider,
    header,
    mrkdwn,
    plain,
    section,
    when,
)
from handlers.ids import CARD_METADATA_TYPE, Action, Block, Callback
from handlers.mrkdwn import (
    FIELD_TEXT_MAX,
    MAX_MESSAGE_BLOCKS,
    SECTION_TEXT_MAX,
    escape,
    mention,
    quote,
    truncate,
)
from handlers.slack_text import number

SLACK_LINK = re.compile(r"^https://[^\s|<>]+$")
ACCEPTED_LABELS = {"yes": "Yes", "no": "No", "not_offered": "Nothing offered"}
Steps = list[tuple[str, str]]  # (step key, title) in playbook order


# -- the card ------------------------------------------------------------------------
def case_card(case: Case, label: str, steps: Steps, marks: dict[str, StepMark],
              overdue: bool = False, nudge_note: str = "") -> Blocks:
    """The card posted in the team channel; `overdue`: its follow-up time has passed;
    `nudge_note`: when the next reminder comes, and why then."""
    blocks: Blocks = [
        section(f"*{escape(case_title(case, label))}*\n{quote(case.summary)}",
                block_id=Block.CARD_SUMMARY),
        {"type": "section", "block_id": Block.CARD_FIELDS,
         "fields": [mrkdwn(f, FIELD_TEXT_MAX) for f in _card_fields(case, overdue)]},
    ]
    if nudge_note:
        blocks.append(context(nudge_note, block_id=Block.CARD_NEXT))
    flags = _flags(case)
    if flags:
        blocks.append(context(flags))
    if case.status != Status.CLOSED:
        blocks.append(_checklist(case, steps, marks))
    blocks.append(context(_progress(steps, marks), block_id=Block.CARD_FOOTER))
    blocks.append({"type": "actions", "block_id": team_block(Block.CARD_ACTIONS, case),
                   "elements": _card_actions(case)})
    return blocks


def team_block(block: str, case: Case) -> str:
    """A block id that names the case's workspace: a click on a card in a channel
    shared with another organisation says which workspace the card belongs to."""
    return f"{block}~{case.team_id}"


def team_of_block(block_id: object) -> str:
    """The workspace named in a block id made by `team_block` ('' if none)."""
    _, _, team = str(block_id or "").partition("~")
    return team


def _card_fields(case: Case, overdue: bool = False) -> list[str]:
    due_label = ("Satisfaction check due" if case.followup_kind == FollowupKind.SATISFACTION
                 else "Next follow-up")
    status = "Withdrawn" if case.withdrawn_at else \
        STATUS_LABELS.get(case.status, escape(case.status))
    return [
        f"*Owner*\n{mention(case.owner_id)}",
        f"*Status*\n{status}",
        f"*Customer*\n{escape(case.customer) if case.customer else '_not named_'}",
        f"*Severity*\n{SEVERITY_LABELS.get(case.severity, escape(case.severity))}",
        f"*Opened*\n{when(case.created_at)} by {mention(case.reporter_id)}",
        f"*{due_label}*\n{when(case.next_followup_at)}"
        + (" · :red_circle: *Overdue*" if overdue else ""),
    ]


def _flags(case: Case) -> str:
    flags = []
    if case.withdrawn_at:
        flags.append(f":wastebasket: *Withdrawn* {when(case.withdrawn_at)}: opened by mistake. "
                     "No reminders, and it counts in no statistic; `/recover case "
                     f"{case.number}` shows why.")
    if case.status == Status.OPEN and not case.next_followup_at:
        flags.append(":warning: *No next step*: no follow-up is set, so nobody will be "
                     "reminded. *Set follow-up* gives it one.")
    if case.repeat_of:
        flags.append(f":repeat: *Repeat customer*: case #{case.repeat_of} was a recovery for "
                     "them in the last 90 days.")
    if case.source_link and SLACK_LINK.match(case.source_link):
        flags.append(f":speech_balloon: Opened from <{case.source_link}|a message>.")
    if case.duplicate_of:
        flags.append(f":link: Added to case #{case.duplicate_of} as a note.")
    flags.append(f"Contact: {CONTACT_LABELS.get(case.contact, escape(case.contact))} · "
                 f"customer feeling: {EMOTION_LABELS.get(case.emotion, escape(case.emotion))}")
    return "\n".join(flags)


def _checklist(case: Case, steps: Steps, marks: dict[str, StepMark]) -> dict[str, Any]:
    options = [{"text": plain(title, 75), "value": key} for key, title in steps]
    element: dict[str, Any] = {"type": "checkboxes", "action_id": Action.CHECKLIST,
                               "options": options}
    ticked = [o for o in options if o["value"] in marks]
    if ticked:
        element["initial_options"] = ticked
    return {"type": "actions", "block_id": team_block(Block.CARD_CHECKLIST, case),
            "elements": [element]}


def _progress(steps: Steps, marks: dict[str, StepMark]) -> str:
    done = [f":white_check_mark: {escape(title)} {mention(marks[key].by)} {when(marks[key].at)}"
            for key, title in steps if key in marks]
    head = f"*Recovery checklist {len(done)}/{len(steps)}*"
    return truncate("\n".join([head, *done]), 2000)


def _card_actions(case: Case) -> list[dict[str, Any]]:
    n = str(case.number)
    if case.status == Status.CLOSED:
        return [button("Add note", Action.NOTE, n), button("Reopen", Action.REOPEN, n)]
    actions = []
    if case.owner_id is None:
        actions.append({**button("Take ownership", Action.TAKE, n), "style": "primary"})
    actions.append({"type": "users_select", "action_id": Action.ASSIGN,
                    "placeholder": plain("Assign…", 150)})
    actions += [button("Set follow-up", Action.FOLLOWUP, n), button("Add note", Action.NOTE, n)]
    if case.status == Status.OPEN:
        actions.append(button("Resolve", Action.RESOLVE, n))
    if case.status == Status.RESOLVED:
        actions += [button("Close", Action.CLOSE, n), button("Reopen", Action.REOPEN, n)]
    return [*actions, button("Withdraw", Action.WITHDRAW, n)]


def next_nudge_words(case: Case) -> str:
    """When the case's next follow-up (and so its next reminder) comes, in words."""
    if case.status == Status.CLOSED:
        return ""
    if not case.next_followup_at:
        return ":warning: No follow-up is set: give the case a next step."
    return f"Next follow-up {when(case.next_followup_at)}."


def card_fallback(case: Case, label: str) -> str:
    """Notification text: no customer words, only the case number and category."""
    return f"Case #{case.number} · {label} · {case.status}"


def card_metadata(case: Case) -> dict[str, Any]:
    return {"event_type": CARD_METADATA_TYPE,
            "event_payload": {"team_id": case.team_id, "case": case.number}}


def message_payload(message: dict[str, Any]) -> dict[str, Any]:
    """The metadata payload Mend put on one of its messages (empty if none)."""
    meta = message.get("metadata")
    payload = meta.get("event_payload") if isinstance(meta, dict) else None
    return payload if isinstance(payload, dict) else {}


def case_number_from_card(message: dict[str, Any]) -> int | None:
    """The case a card or nudge message belongs to, from its metadata or its buttons."""
    found = number(message_payload(message).get("case"))
    if found is not None:
        return found
    for block in message.get("blocks") or []:
        for element in (block.get("elements") or []) if isinstance(block, dict) else []:
            found = number(element.get("value")) if isinstance(element, dict) else None
            if found is not None:
                return found
    return None


# -- the timeline ------------------------------------------------------------------
def timeline_blocks(t: Timeline, label: str, steps: Steps) -> Blocks:
    """`/recover case N`: the case as it stands and everything that happened to it."""
    case = t.case
    blocks: Blocks = [
        header(case_title(case, label)),
        section(quote(case.summary)),
        {"type": "section", "fields": [mrkdwn(f, FIELD_TEXT_MAX) for f in _card_fields(case)]},
        context(_progress(steps, t.steps)),
    ]
    if case.resolution or case.compensation:
        blocks.append(section(
            f"*Resolution*: {escape(case.resolution or '—')}\n*Compensation*: "
            f"{escape(case.compensation or '—')} "
            f"({ACCEPTED_LABELS.get(case.compensation_accepted or '', 'not recorded')})"))
    blocks.append(divider())
    titles = dict(steps)
    # Take events newest first while they fit the message, then show them in order.
    room, chosen = MAX_MESSAGE_BLOCKS - len(blocks), []
    widest_head = "*Timeline* (the latest 000; 000000 earlier not shown)"
    for event in reversed(t.events):
        trial = [truncate(_event_line(event, titles), SECTION_TEXT_MAX - 60), *chosen]
        if len(_chunks([widest_head, *trial])) > room:
            break
        chosen = trial
    hidden = t.total_events - len(chosen)
    head = "*Timeline*" + (f" (the latest {len(chosen)}; {hidden} earlier not shown)"
                           if hidden else "")
    return blocks + [section(chunk) for chunk in _chunks([head, *chosen])]


def _chunks(lines: list[str], limit: int = SECTION_TEXT_MAX) -> list[str]:
    chunks, current = [], ""
    for line in lines:
        line = truncate(line, limit)
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    return [*chunks, current] if current else chunks


def _event_line(event: Event, titles: dict[str, str]) -> str:
    who = mention(event.actor_id) if event.actor_id and event.actor_id[0] in "UW" else "Mend"
    return f"{when(event.at)} · {who} {_describe(event, titles)}"


def _describe(event: Event, titles: dict[str, str]) -> str:
    d = event.detail
    step = escape(titles.get(d.get("step", ""), d.get("step", "")))
    described = {
        "opened": lambda: (f"opened the case ({escape(str(d.get('category')))}, "
                           f"{escape(str(d.get('emotion')))}, {escape(str(d.get('severity')))})"),
        "card_posted": lambda: "posted the case card",
        "card_failed": lambda: f"could not post the card ({escape(str(d.get('error')))})",
        "taken": lambda: f"took ownership (was {mention(d.get('before'))})",
        "assigned": lambda: (f"assigned it to {mention(d.get('after'))} "
                             f"(was {mention(d.get('before'))})"),
        "released": lambda: (f"released it to the unowned queue (was {mention(d.get('before'))}"
                             + (f"; {escape(str(d['reason']))})" if d.get("reason") else ")")),
        "followup_set": lambda: (
            f"moved the overdue follow-up to {when(d.get('after'))} for the new owner "
            f"(was {when(d.get('before'))})" if d.get("reason") == "new owner" else
            f"moved the first follow-up to {when(d.get('after'))}, inside the owner's "
            f"working hours in their own timezone (was {when(d.get('before'))})"
            if d.get("reason") == "working hours" else
            f"set the follow-up to {when(d.get('after'))} (was {when(d.get('before'))})"),
        "snoozed": lambda: (f"snoozed the follow-up until {when(d.get('until'))} "
                            f"(was {when(d.get('before'))})"
                            + (f": “{escape(truncate(str(d['reason']), 500))}”"
                               if d.get("reason") else "")),
        "followup_done": lambda: (f"recorded the follow-up due {when(d.get('due'))} as done"
                                  + (" (late)" if str(d.get("due") or event.at) < event.at
                                     else "")),
        "customer_updated": lambda: "recorded an update to the customer",
        "nudge_sent": lambda: _nudge(d),
        "nudge_failed": lambda: (f"could not send {_nudge(d, sent=False)} "
                                 f"({escape(str(d.get('error')))})"),
        "note": lambda: _note(d),
        "step_done": lambda: f"ticked *{step}*",
        "step_undone": lambda: f"unticked *{step}*" + UNTICK_REASONS.get(
            str(d.get("reason") or ""), f" ({escape(str(d['reason']))})" if d.get("reason")
            else ""),
        "resolved": lambda: (f"resolved it: {escape(d.get('what') or 'no details')}; "
                             f"compensation: {escape(d.get('compensation') or 'none')} "
                             f"({ACCEPTED_LABELS.get(d.get('accepted'), '—')})"),
        "closed": lambda: f"closed it: {escape(d.get('reason') or '')}",
        "reopened": lambda: f"reopened it (was {escape(str(d.get('before')))})",
        "withdrawn": lambda: (f"withdrew it, opened by mistake: "
                              f"“{escape(str(d.get('reason') or ''))}”"),
    }
    render = described.get(event.kind)
    return render() if render else escape(event.kind.replace("_", " "))


# Why a change unticked a step by itself (resolving or reopening clears step five).
UNTICK_REASONS = {
    "resolved": " on resolving: the satisfaction follow-up of this resolution is still to do",
    "reopened": " on reopening: the next resolution needs its own satisfaction follow-up",
}


NUDGE_WORDS = {
    "followup": ("reminded the owner that the follow-up is due", "the follow-up reminder"),
    "escalation": ("told the leads that the follow-up is overdue", "the escalation to the leads"),
    "unassigned": ("asked the channel for a new owner", "the call for a new owner"),
    "update": ("reminded the owner to update the customer", "the reminder to update the "
                                                           "customer"),
}


def _nudge(detail: dict[str, Any], sent: bool = True) -> str:
    kind, rung = str(detail.get("kind") or ""), detail.get("rung") or 0
    done, failed = NUDGE_WORDS.get(kind, (f"sent a {escape(kind)} reminder",
                                          f"a {escape(kind)} reminder"))
    if kind == "followup" and isinstance(rung, int) and rung:
        done, failed = f"{done} (reminder {rung + 1})", f"{failed} (reminder {rung + 1})"
    return done if sent else failed


def _note(detail: dict[str, Any]) -> str:
    source = f" (from case #{detail['from_case']})" if detail.get("from_case") else ""
    return f"noted{source}: “{escape(truncate(detail.get('text', ''), 1500))}”"


# -- answers to the acting user -------------------------------------------------------
FORM_ERROR_MAX = 300


def form_refusal(exc: Refused) -> str:
    """A refusal as a form's error: plain text, where mentions cannot be shown (the
    names go to the person in a message of their own, see `refusal`)."""
    text = exc.why.replace(" ({owner})", "").replace("{owner}", "its owner").replace("*", "")
    if exc.who_can:
        text += " Mend has sent you who can, next to the case card."
    return truncate(text, FORM_ERROR_MAX)


def confirm_assign(case: Case, assignee: str, count: int, limit: int) -> Blocks:
    return [
        section(f":warning: {mention(assignee)} already owns {count} open cases (the limit "
                f"is {limit}). Assign case #{case.number} to them anyway?"),
        {"type": "actions", "block_id": Block.OFFERS, "elements": [
            button("Assign anyway", Action.ASSIGN_CONFIRM, f"{case.number}:{assignee}")]},
    ]


def duplicate_offer(new: Case, open_cases: list[Case]) -> Blocks:
    """On a new case for a customer who has one open already."""
    blocks: Blocks = []
    for other in open_cases[:3]:
        blocks.append(section(f":link: Case #{other.number} for "
                              f"{escape(other.customer or '')} is open, owned by "
                              f"{mention(other.owner_id)}."))
        # One actions block per offer: action ids must be unique within a block.
        blocks.append({"type": "actions", "block_id": f"{Block.OFFERS}_{other.number}",
                       "elements": [button(f"Add to #{other.number} as a note instead",
                                           Action.MERGE, f"{new.number}:{other.number}")]})
    return blocks


# -- modals ------------------------------------------------------------------------------
def _modal(callback: str, title: str, submit: str, case: Case, blocks: Blocks) -> dict:
    return {"type": "modal", "callback_id": callback, "title": plain(title, 24),
            "submit": plain(submit, 24), "close": plain("Cancel", 24),
            "private_metadata": json.dumps({"case": case.number, "team": case.team_id}),
            "blocks": blocks}


def with_metadata(view: dict, **extra: str) -> dict:
    """The modal with more facts for its submission (e.g. the opener's timezone)."""
    data = {**json.loads(view["private_metadata"]), **extra}
    return {**view, "private_metadata": json.dumps(data)}


def _input(block_id: str, label: str, element: dict, optional: bool = False) -> dict:
    return {"type": "input", "block_id": block_id, "label": plain(label, 2000),
            "optional": optional, "element": element}


def followup_modal(case: Case) -> dict:
    quick = [{"text": plain(lbl, 75), "value": key} for key, lbl in QUICK_CHOICES]
    who = mention(case.owner_id) if case.owner_id else "we"
    return _modal(Callback.FOLLOWUP, f"Follow-up · #{case.number}", "Set", case, [
        section(f"When should {who} next get back to the customer? "
                "Times are in your own timezone."),
        _input(Block.FOLLOWUP_QUICK, "Quick choice",
               {"type": "radio_buttons", "action_id": Action.QUICK, "options": quick}, True),
        _input(Block.FOLLOWUP_DATE, "Or pick a day",
               {"type": "datepicker", "action_id": Action.DATE}, True),
        _input(Block.FOLLOWUP_TIME, "and a time",
               {"type": "timepicker", "action_id": Action.TIME, "initial_time": "09:00"}, True),
    ])


def note_modal(case: Case) -> dict:
    return _modal(Callback.NOTE, f"Note · case #{case.number}", "Add note", case, [
        _input(Block.NOTE_TEXT, "Note",
               {"type": "plain_text_input", "action_id": Action.TEXT, "multiline": True,
                "max_length": 3000}),
    ])


def resolve_modal(case: Case) -> dict:
    accepted = [{"text": plain(v, 75), "value": k} for k, v in ACCEPTED_LABELS.items()]
    return _modal(Callback.RESOLVE, f"Resolve · #{case.number}", "Resolve", case, [
        _input(Block.RESOLVE_WHAT, "What was done for the customer?",
               {"type": "plain_text_input", "action_id": Action.TEXT, "multiline": True,
                "max_length": 3000}),
        _input(Block.RESOLVE_COMPENSATION, "Compensation offered",
               {"type": "plain_text_input", "action_id": Action.TEXT, "max_length": 500}, True),
        _input(Block.RESOLVE_ACCEPTED, "Did the customer accept it?",
               {"type": "radio_buttons", "action_id": Action.ACCEPTED, "options": accepted,
                "initial_option": accepted[-1]}),
        context("Resolving schedules the satisfaction follow-up with the customer."),
    ])


def snooze_modal(case: Case, choice: str, label: str, message: dict[str, str],
                 due: str | None = None) -> dict:
    view = _modal(Callback.SNOOZE, f"Snooze · case #{case.number}", "Snooze", case, [
        section(f"Snooze the follow-up on case #{case.number}: *{escape(label)}*."),
        _input(Block.SNOOZE_REASON, "Why? (shown when the reminder comes back)",
               {"type": "plain_text_input", "action_id": Action.TEXT, "max_length": 500},
               optional=True),
    ])
    # The follow-up the reminder was about: a snooze never moves a later one.
    return with_metadata(view, choice=choice, **message, **({"due": due} if due else {}))


def withdraw_modal(case: Case) -> dict:
    return _modal(Callback.WITHDRAW, f"Withdraw · case #{case.number}", "Withdraw", case, [
        _input(Block.WITHDRAW_REASON, "Why was it opened by mistake?",
               {"type": "plain_text_input", "action_id": Action.TEXT, "max_length": 500}),
        context("A withdrawn case is closed, its reminders stop and it counts in no "
                "statistic; its timeline keeps what happened."),
    ])


def close_modal(case: Case) -> dict:
    return _modal(Callback.CLOSE, f"Close · case #{case.number}", "Close case", case, [
        _input(Block.CLOSE_REASON, "Why close it before its satisfaction follow-up?",
               {"type": "plain_text_input", "action_id": Action.TEXT, "max_length": 500}),
        context("Cases close by themselves once the satisfaction follow-up is recorded; "
                "before that a lead can close one, with a reason."),
    ])
