"""Modal submissions: the intake form behind a bare `/recover`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.domain.cases import BadReport
from bot.domain.lifecycle import NotFound, Refused
from bot.domain.models import Case
from bot.domain.times import to_iso
from bot.domain.when import BadTime, check_when, combine_local, quick_choice
from bot.storage.errors import DatabaseError
from handlers import blocks, case_blocks, payload
from handlers.blocks import section, when
from handlers.cards import refresh_card, submit_card
from handlers.commands import SAVE_FAILED, SLACK_ID
from handlers.context import Deps
from handlers.ids import Action, Block, Callback
from handlers.mrkdwn import mention, truncate
from handlers.payload import Payload
from handlers.promise_blocks import opened_note
from handlers.reply import refusal
from handlers.slack_text import number as parse_number

log = logging.getLogger("mend.views")


async def on_intake(ack, sub: Payload, deps: Deps) -> None:
    channel_id = str(sub.meta.get("channel_id") or "")
    if not all(SLACK_ID.match(x) for x in (sub.team_id, sub.user_id, channel_id)):
        await ack(response_action="errors",
                  errors={Block.WHAT: "This form lost track of its channel. Close it and run "
                                      "/recover again."})
        return
    contact = sub.input(Block.CONTACT, Action.CONTACT)
    severity = sub.input(Block.SEVERITY, Action.SEVERITY)
    try:
        opened = await deps.recovery.open_case(
            sub.team_id, channel_id, sub.user_id, sub.input(Block.WHAT, Action.WHAT) or "",
            customer=(sub.input(Block.CUSTOMER, Action.CUSTOMER) or "")[:80],
            contact=contact if contact in deps.recovery.contact_keys() else None,
            severity=severity if severity in blocks.SEVERITY_LABELS else None,
            source_link=sub.meta.get("source_link") or None,
        )
    except BadReport as exc:
        await ack(response_action="errors", errors={Block.WHAT: str(exc)})
        return
    except DatabaseError as exc:
        log.error("case not saved: %s", type(exc).__name__)
        await ack(response_action="errors", errors={Block.WHAT: SAVE_FAILED})
        return
    await ack(response_action="update", view=blocks.playbook_modal(
        opened.case, opened.advice, nudge_note=opened_note(deps, opened)))
    response_url = sub.meta.get("response_url") or None
    submit_card(deps, opened.case, response_url)


# -- modals opened from a case card ------------------------------------------------
def case_of(sub: Payload) -> int | None:
    """The case a case modal was opened for (in its private metadata)."""
    return parse_number(sub.meta.get("case"))


def once(sub: Payload) -> str | None:
    """Slack may deliver one submission twice: the view id makes it apply once."""
    return f"view:{sub.view_id}" if sub.view_id else None


class FormError(Exception):
    """A form filled in wrong: the message shows next to `block`."""

    def __init__(self, block: str, message: str):
        super().__init__(message)
        self.block = block


async def submit_case_modal(ack, sub: Payload, deps: Deps,
                            work: Callable[[Payload, int], Any], error_block: str,
                            said: Callable[[Case], str] | None = None) -> None:
    """Validate, apply once, close the modal, refresh the card; refusals show in the form."""
    number = case_of(sub)
    if number is None or not sub.team_id or not sub.user_id:
        await ack(response_action="errors", errors={error_block: "This form lost its case."})
        return
    # A modal opened from a card acts on the card's workspace only.
    if sub.meta.get("team") and sub.meta.get("team") != sub.team_id:
        await ack(response_action="errors",
                  errors={error_block: "This case belongs to another workspace."})
        return
    try:
        outcome = await work(sub, number)
    except FormError as exc:
        await ack(response_action="errors", errors={exc.block: str(exc)})
        return
    except Refused as exc:
        await ack(response_action="errors", errors={error_block: case_blocks.form_refusal(exc)})
        if exc.who_can:
            await tell_who_can(deps, sub, number, exc)
        return
    except (NotFound, BadTime) as exc:
        await ack(response_action="errors",
                  errors={error_block: truncate(str(exc), case_blocks.FORM_ERROR_MAX)})
        return
    if outcome is not None and not outcome.changed and outcome.message:
        # Nothing was saved (already so, or someone changed it first): don't close as if.
        await ack(response_action="errors",
                  errors={error_block: truncate(outcome.message, case_blocks.FORM_ERROR_MAX)})
        return
    await ack()
    if outcome is not None and outcome.changed:
        refresh_card(deps, outcome.case, outcome.before)
        if said:
            deps.tasks.spawn(tell(deps, outcome.case, sub.user_id, said(outcome.case)),
                             name="form-done")


async def tell_who_can(deps: Deps, sub: Payload, number: int, exc: Refused) -> None:
    """A form's error is plain text: the names of who can go to the person next to the
    case card, where Slack shows mentions."""
    try:
        case = await deps.lifecycle.get(sub.team_id, number)
    except NotFound:
        return
    deps.tasks.spawn(tell(deps, case, sub.user_id, refusal(exc)), name="who-can")


async def tell(deps: Deps, case: Case, user_id: str, text: str) -> None:
    """A private word to `user_id` next to the case's card (mrkdwn-safe `text`)."""
    try:
        await deps.clients.call(case.team_id, "chat_postEphemeral",
                                channel=case.card_channel or case.channel_id,
                                user=user_id, text=text)
    except Exception as error:  # noqa: BLE001 - a courtesy; the change is saved
        log.warning("could not tell the person who acted: %s", type(error).__name__)


def submitter_tz(sub: Payload, deps: Deps) -> str:
    """The timezone noted when the modal opened (no Web API call before the ack)."""
    known = deps.people.cached(sub.team_id, sub.user_id)
    return str(sub.meta.get("tz") or (known.tz if known else "UTC"))


async def followup_work(sub: Payload, number: int, deps: Deps):
    tz = submitter_tz(sub, deps)
    quick = sub.input(Block.FOLLOWUP_QUICK, Action.QUICK)
    date = sub.input(Block.FOLLOWUP_DATE, Action.DATE, "selected_date")
    time = sub.input(Block.FOLLOWUP_TIME, Action.TIME, "selected_time")
    now = deps.clock.now()
    if quick:
        due = quick_choice(quick, tz, now)
    elif date:
        due = check_when(combine_local(date, time or "09:00", tz), tz, now)
    else:
        raise BadTime("Pick a quick choice, or a day and a time.")
    return await deps.lifecycle.set_followup(sub.team_id, number, sub.user_id, due,
                                       once_key=once(sub))


async def note_work(sub: Payload, number: int, deps: Deps):
    # The view id makes a retried submission land once (recorded with the note itself,
    # so a note first refused for being empty can still be added).
    return await deps.lifecycle.note(sub.team_id, number, sub.user_id,
                               sub.typed(Block.NOTE_TEXT), once_key=once(sub))


async def resolve_work(sub: Payload, number: int, deps: Deps):
    accepted = sub.input(Block.RESOLVE_ACCEPTED, Action.ACCEPTED) or "not_offered"
    compensation = sub.typed(Block.RESOLVE_COMPENSATION)
    if accepted in ("yes", "no") and not compensation:
        raise FormError(Block.RESOLVE_COMPENSATION, "Say what was offered, or answer "
                                                    "“Nothing offered” below.")
    return await deps.lifecycle.resolve(sub.team_id, number, sub.user_id,
                                  sub.typed(Block.RESOLVE_WHAT), compensation, accepted,
                                  once_key=once(sub))


async def close_work(sub: Payload, number: int, deps: Deps):
    return await deps.lifecycle.close(sub.team_id, number, sub.user_id,
                                sub.typed(Block.CLOSE_REASON), once_key=once(sub))


async def snooze_work(sub: Payload, number: int, deps: Deps):
    meta = sub.meta
    until = quick_choice(str(meta.get("choice", "")), submitter_tz(sub, deps), deps.clock.now())
    done = await deps.lifecycle.snooze(sub.team_id, number, sub.user_id, until,
                                 sub.typed(Block.SNOOZE_REASON),
                                 due_key=str(meta["due"]) if meta.get("due") else None,
                                 once_key=once(sub))
    if done.changed and meta.get("channel") and meta.get("ts"):
        note = f":zzz: Snoozed by {mention(sub.user_id)} until {when(to_iso(until))}."
        deps.tasks.spawn(deps.clients.call(
            sub.team_id, "chat_update", channel=meta["channel"], ts=meta["ts"],
            text="Follow-up snoozed", blocks=[section(note)]), name="nudge-snoozed")
    return done


async def withdraw_work(sub: Payload, number: int, deps: Deps):
    return await deps.lifecycle.withdraw(sub.team_id, number, sub.user_id,
                                         sub.typed(Block.WITHDRAW_REASON), once_key=once(sub))


# Each case form: its work, the block its errors show under, and what it tells the
# person who submitted it once done.
CASE_MODALS = {
    Callback.FOLLOWUP: (followup_work, Block.FOLLOWUP_QUICK,
                        lambda c: f"Follow-up set on case #{c.number}. "
                                  f"{case_blocks.next_nudge_words(c)}"),
    Callback.NOTE: (note_work, Block.NOTE_TEXT, lambda c: f"Noted on case #{c.number}."),
    Callback.RESOLVE: (resolve_work, Block.RESOLVE_WHAT,
                       lambda c: f"Case #{c.number} is resolved. Satisfaction follow-up due "
                                 f"{when(c.next_followup_at)}."),
    Callback.CLOSE: (close_work, Block.CLOSE_REASON, lambda c: f"Case #{c.number} is closed."),
    Callback.SNOOZE: (snooze_work, Block.SNOOZE_REASON,
                      lambda c: f"Snoozed: the follow-up on case #{c.number} comes back "
                                f"{when(c.next_followup_at)}."),
    Callback.WITHDRAW: (withdraw_work, Block.WITHDRAW_REASON,
                        lambda c: f"Case #{c.number} is withdrawn: its reminders stop and it "
                                  "counts in no statistic."),
}
VIEWS = (Callback.INTAKE, *CASE_MODALS)


def register(app: AsyncApp, deps: Deps) -> None:
    async def intake(ack, context):
        await on_intake(ack, payload.of(context), deps)

    app.view(Callback.INTAKE)(intake)
    for callback, (work, error_block, said) in CASE_MODALS.items():
        app.view(callback)(_submitted(deps, work, error_block, said))


def _submitted(deps: Deps, work, error_block: str, said):
    """A listener for one case modal (Bolt injects listener arguments by name)."""

    async def submitted(ack, context):
        await submit_case_modal(ack, payload.of(context), deps,
                                lambda sub, number: work(sub, number, deps), error_block, said)

    return submitted
