"""Buttons and menus: the case card's controls and the answers' offers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.domain.lifecycle import Done, NeedsConfirmation, NotFound, OutOfDate, Refused
from bot.domain.times import to_iso
from bot.domain.vocabulary import Status
from bot.domain.when import QUICK_CHOICES, parse_when
from bot.runtime.slack_client import AMBIGUOUS
from handlers import case_blocks, lead_blocks, nudge_blocks, payload
from handlers.blocks import when
from handlers.cards import refresh_card
from handlers.context import Deps
from handlers.home import note_home
from handlers.ids import Action, Block
from handlers.lead_commands import page_clicked
from handlers.mrkdwn import escape, mention
from handlers.payload import Payload
from handlers.reply import refusal, refusal_text, respond
from handlers.slack_text import number as parse_number

log = logging.getLogger("mend.actions")


def card_team(click: Payload) -> str:
    """The workspace that owns the card clicked in (a shared channel shows it to other
    orgs); '' when the message does not say."""
    return str(case_blocks.message_payload(click.message).get("team_id")
               or case_blocks.team_of_block(click.block_id))


def click_key(click: Payload) -> str:
    """The same click delivered twice has the same key."""
    return f"act:{click.user_id}:{click.action_ts}:{click.action}"


def case_number(click: Payload) -> int | None:
    """The case clicked on: from the button's value, else from the list row or the card
    it sits in."""
    found = parse_number(click.value)
    if found is None:  # a select in a list's row: its block id names the case
        found = lead_blocks.row_case(click.block_id)
    return found if found is not None else case_blocks.case_number_from_card(click.message)


def reminder_due(click: Payload) -> str | None:
    """The follow-up a reminder's button was sent for: from its value, else from the
    other buttons or the metadata of the reminder clicked in (None: a reminder from
    before buttons said so; it is taken to mean the follow-up in force)."""
    values = [click.value] + [
        str(element.get("value") or "")
        for block in click.message.get("blocks") or [] if isinstance(block, dict)
        for element in block.get("elements") or [] if isinstance(element, dict)]
    for value in values:
        due = nudge_blocks.read_button_value(value)[1]
        if due:
            return due
    return nudge_blocks.due_of_key(case_blocks.message_payload(click.message).get("key"))


async def answer(deps: Deps, click: Payload, text: str, blocks: list | None = None) -> None:
    if not click.response_url and click.view_type == "home":  # at the top of their Home
        await note_home(deps, click.team_id, click.user_id, blocks or text)
        return
    await respond(deps.client, click.response_url, text, blocks)


async def perform(deps: Deps, click: Payload, work: Callable[[], Awaitable[Any]],
                  said: Callable[[Done], str] | None = None) -> Done | None:
    """Run a lifecycle change for a click; refresh the card; tell the clicker what was
    done (or why not), privately. Returns what the change answered (None: refused)."""
    try:
        outcome = await work()
    except (NotFound, Refused) as exc:
        await refused(deps, click, exc)
        return None
    if isinstance(outcome, NeedsConfirmation):
        await answer(deps, click, "Confirm the assignment",
                     case_blocks.confirm_assign(outcome.case, outcome.assignee,
                                                outcome.open_count, outcome.limit))
        return None
    if outcome.changed:
        refresh_card(deps, outcome.case, outcome.before)
        text = said(outcome) if said else ""
        if text:
            await answer(deps, click, text)
    elif outcome.message:
        await answer(deps, click, escape(outcome.message))
    return outcome


async def refused(deps: Deps, click: Payload, exc: Exception) -> None:
    """Tell the clicker why nothing was done (an out-of-date reminder loses its buttons)."""
    if isinstance(exc, OutOfDate):
        await out_of_date(deps, click, exc)
    else:
        await answer(deps, click, refusal_text(exc))


async def out_of_date(deps: Deps, click: Payload, exc: OutOfDate) -> None:
    """Take the buttons off the reminder for everyone, and tell the clicker why."""
    mark_answered(deps, click, ":hourglass: This reminder is out of date: its follow-up "
                               "was done, moved or closed since.")
    await answer(deps, click, f"{refusal(exc)} `/recover case {exc.number}` "
                              "shows where it stands.")


# The form each card button opens, and what its submission will be checked for.
MODALS = {
    Action.FOLLOWUP: (case_blocks.followup_modal, "followup"),
    Action.NOTE: (case_blocks.note_modal, None),
    Action.RESOLVE: (case_blocks.resolve_modal, "resolve"),
    Action.CLOSE: (case_blocks.close_modal, "close"),
    Action.WITHDRAW: (case_blocks.withdraw_modal, "withdraw"),
}
# Instead of a form that Slack would not open.
BY_COMMAND = {
    Action.FOLLOWUP: "followup {n} <when>", Action.NOTE: "note {n} <text>",
    Action.RESOLVE: "resolve {n} [what was done]", Action.CLOSE: "close {n} <reason>",
    Action.WITHDRAW: "withdraw {n} <reason>",
    Action.NUDGE_SNOOZE: "followup {n} in 1h", Action.NUDGE_SNOOZE_MORNING: "followup {n} "
                                                                          "tomorrow 9am",
}
TZ_WAIT = 1.0  # seconds to wait for users.info before opening a form (triggers last 3 s)


async def open_modal(deps: Deps, click: Payload, number: int) -> None:
    try:
        case = await deps.lifecycle.get(click.team_id, number)
        render, form = MODALS[click.action]
        if form:  # say it now, not after they have filled the form in
            await deps.lifecycle.check_form(case, click.user_id, form)
    except (NotFound, Refused) as exc:
        await answer(deps, click, refusal_text(exc))
        return
    view = render(case)
    if click.action == Action.FOLLOWUP:
        # The submission must answer within Slack's 3 s, so it must not ask users.info.
        tz = await timezone_soon(deps, click)
        if tz:
            view = case_blocks.with_metadata(view, tz=tz)
    await show_modal(deps, click, number, view)


async def timezone_soon(deps: Deps, click: Payload, user_id: str | None = None) -> str | None:
    """The clicker's timezone (or `user_id`'s) if Slack says it soon enough: the trigger
    id expires 3 s after the click. Later, the lookup still fills the cache the
    submission reads."""
    user_id = user_id or click.user_id
    person = deps.people.cached(click.team_id, user_id)
    if person is None:
        lookup = deps.tasks.spawn(deps.people.get(click.team_id, user_id),
                                  name="timezone-lookup")
        done, _ = await asyncio.wait({lookup}, timeout=TZ_WAIT)
        person = lookup.result() if done and not lookup.exception() else None
    return person.tz if person is not None and getattr(person, "known", True) else None


async def show_modal(deps: Deps, click: Payload, number: int, view: dict) -> None:
    """views.open, or tell the clicker that Slack would not open the form."""
    try:
        await (await deps.clients.for_team(click.team_id)).views_open(
            trigger_id=click.trigger_id, view=view)
    except (SlackApiError, *AMBIGUOUS) as exc:
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else None
        log.warning("form for case #%s not opened: %s", number, error or type(exc).__name__)
        usage = BY_COMMAND.get(click.action, "case {n}").format(n=number)
        await answer(deps, click, f"Slack did not open the form just now"
                                  f"{f' ({escape(str(error))})' if error else ''}. Press the "
                                  f"button again, or use `/recover {usage}`.")


async def handle(deps: Deps, click: Payload) -> None:
    """Work done after the ack for one click: the handler its action id names."""
    number = case_number(click)
    handler = HANDLERS.get(click.action)
    if number is not None and handler is not None:
        await handler(deps, click, number)


async def take(deps: Deps, click: Payload, number: int) -> None:
    await perform(deps, click, lambda: deps.lifecycle.take(click.team_id, number, click.user_id),
                  lambda d: f"Case #{number} is yours now. "
                            f"{case_blocks.next_nudge_words(d.case)}")


async def reopen(deps: Deps, click: Payload, number: int) -> None:
    await perform(deps, click,
                  lambda: deps.lifecycle.reopen(click.team_id, number, click.user_id),
                  lambda d: f"Case #{number} is open again; next follow-up "
                            f"{when(d.case.next_followup_at)}.")


async def followup_done(deps: Deps, click: Payload, number: int) -> None:
    """Record the follow-up; a case that stays open is asked for its next step."""
    due, user = reminder_due(click), click.user_id
    done = await perform(deps, click,
                         lambda: deps.lifecycle.followup_done(click.team_id, number, user, due),
                         lambda d: mark_answered(deps, click, f":white_check_mark: Follow-up "
                                                              f"recorded by {mention(user)}."))
    if done is None or not done.changed:
        return
    if done.case.status == Status.CLOSED:
        await answer(deps, click, f"Satisfaction follow-up recorded: case #{number} is closed.")
    elif not done.case.next_followup_at:
        await answer(deps, click, f"Follow-up on case #{number} recorded: when next?",
                     nudge_blocks.next_step(done.case))


async def next_followup(deps: Deps, click: Payload, number: int) -> None:
    """One of the next-step choices offered after *Done*, read in the clicker's zone."""
    when_text = next(w for a, w, _ in nudge_blocks.NEXT_STEPS if a == click.action)
    tz = (await deps.people.get(click.team_id, click.user_id)).tz
    due = parse_when(when_text, tz, deps.clock.now())
    await perform(deps, click, lambda: deps.lifecycle.set_followup(
        click.team_id, number, click.user_id, due),
        lambda d: f"Next follow-up on case #{number}: {when(to_iso(due))}.")


async def customer_updated(deps: Deps, click: Payload, number: int) -> None:
    user = click.user_id
    await perform(deps, click,
                  lambda: deps.lifecycle.customer_updated(click.team_id, number, user),
                  lambda d: mark_answered(deps, click, f":white_check_mark: Customer "
                                                       f"updated, says {mention(user)}.")
                  or f"Recorded: the customer of case #{number} heard from us.")


async def assign(deps: Deps, click: Payload, number: int) -> None:
    assignee = click.selected_user
    if assignee:
        await perform(deps, click, lambda: deps.lifecycle.assign(
            click.team_id, number, click.user_id, assignee),
            lambda d: f"Case #{number} now belongs to {mention(assignee)}.")


async def assign_confirmed(deps: Deps, click: Payload, number: int) -> None:
    assignee = click.value.split(":")[-1]
    if assignee.isalnum():
        await perform(deps, click, lambda: deps.lifecycle.assign(
            click.team_id, number, click.user_id, assignee, True),
            lambda d: f"Case #{number} now belongs to {mention(assignee)}.")


async def merge_clicked(deps: Deps, click: Payload, number: int) -> None:
    into = parse_number(click.value.split(":")[-1])
    if into is not None:
        await merge(deps, click, number, into)


def mark_answered(deps: Deps, click: Payload, note: str) -> str:
    """Replace a nudge's buttons with who answered it (the nudge is not left dangling)."""
    message, channel = click.message, click.channel_id
    if message.get("ts") and channel:
        deps.tasks.spawn(deps.clients.call(
            click.team_id, "chat_update", channel=channel, ts=message["ts"],
            text=message.get("text") or "Mend",
            blocks=nudge_blocks.answered(message.get("blocks") or [], note)),
            name="nudge-answered")
    return ""


async def open_snooze(deps: Deps, click: Payload, number: int) -> None:
    choice, _ = nudge_blocks.read_button_value(click.value)
    labels = dict(QUICK_CHOICES)
    due = reminder_due(click)
    try:
        case = await deps.lifecycle.get(click.team_id, number)
        await deps.lifecycle.check_snooze(case, click.user_id, due)
    except (NotFound, Refused) as exc:
        await refused(deps, click, exc)
        return
    message = {"channel": click.channel_id, "ts": str(click.message.get("ts") or "")}
    view = case_blocks.snooze_modal(case, choice, labels.get(choice, "later"), message, due)
    # "Tomorrow morning" is the morning of whoever the reminder comes back to.
    tz = await timezone_soon(deps, click, case.owner_id or click.user_id)
    await show_modal(deps, click, number,
                     case_blocks.with_metadata(view, tz=tz) if tz else view)


def shown_ticks(message: dict[str, Any]) -> set[str] | None:
    """The steps ticked on the card as the clicker's Slack showed it."""
    for block in message.get("blocks") or []:
        if isinstance(block, dict) and \
                str(block.get("block_id", "")).startswith(Block.CARD_CHECKLIST):
            for element in block.get("elements") or []:
                if isinstance(element, dict) and element.get("action_id") == Action.CHECKLIST:
                    return {o.get("value") for o in element.get("initial_options") or []
                            if isinstance(o, dict)}
    return None


async def tick(deps: Deps, click: Payload, number: int) -> None:
    """Checkboxes send the whole selection as the clicker saw it: apply only what they
    changed, so a card that was stale on their screen cannot untick someone else's step."""
    selected = set(click.selected)
    try:
        case = await deps.lifecycle.get(click.team_id, number)
    except NotFound as exc:
        await answer(deps, click, escape(str(exc)))
        return
    before = shown_ticks(click.message)
    if before is None:  # no card to compare with: take the selection as it is
        before = set(await deps.lifecycle.steps(click.team_id, case.id))
    titles = dict(deps.recovery.step_titles())
    for step in sorted(s for s in selected - before if s):
        await perform(deps, click, lambda s=step: deps.lifecycle.step(
            click.team_id, number, click.user_id, s, done=True),
            lambda d, s=step: f"Ticked *{escape(titles.get(s, s))}* on case #{number}.")
    for step in sorted(s for s in before - selected if s):
        await perform(deps, click, lambda s=step: deps.lifecycle.step(
            click.team_id, number, click.user_id, s, done=False),
            lambda d, s=step: f"Unticked *{escape(titles.get(s, s))}* on case #{number}.")
    refresh_card(deps, case)  # a refused tick must not stay ticked on the card


async def merge(deps: Deps, click: Payload, number: int, into: int) -> None:
    async def work() -> Done:
        done = await deps.lifecycle.merge(click.team_id, number, click.user_id, into)
        refresh_card(deps, await deps.lifecycle.get(click.team_id, number))
        return done

    await perform(deps, click, work, lambda d: f"Added to case #{into} as a note; case "
                                               f"#{number} is closed as its duplicate.")


# Each control's action id and the work its click does (after the ack).
HANDLERS: dict[str, Callable[[Deps, Payload, int], Awaitable[None]]] = {
    **{action: open_modal for action in MODALS},
    Action.TAKE: take,
    Action.LIST_TAKE: take,
    Action.LIST_ASSIGN: assign,
    Action.REOPEN: reopen,
    Action.ASSIGN: assign,
    Action.NUDGE_ASSIGN: assign,
    Action.ASSIGN_CONFIRM: assign_confirmed,
    Action.CHECKLIST: tick,
    Action.MERGE: merge_clicked,
    Action.NUDGE_DONE: followup_done,
    Action.NUDGE_UPDATED: customer_updated,
    Action.NUDGE_SNOOZE: open_snooze,
    Action.NUDGE_SNOOZE_MORNING: open_snooze,
    **{action: next_followup for action, _, _ in nudge_blocks.NEXT_STEPS},
}
# Controls answered without a case: the pages of a list.
PAGES = (Action.OPEN_PREV, Action.OPEN_NEXT)


def register(app: AsyncApp, deps: Deps) -> None:
    async def on_action(ack: Callable[[], Awaitable[None]], context: Any) -> None:
        await ack()
        click = payload.of(context)
        if not (click.team_id and click.user_id):
            return
        owner = card_team(click)
        if owner and owner != click.team_id:
            deps.tasks.spawn(answer(deps, click, "This case belongs to another workspace, so "
                                                 "it can only be worked from there."),
                             name="other-workspace")
            return
        if not await deps.delivery.first_time(click.team_id, click_key(click),
                                              to_iso(deps.clock.now())):
            return  # the same click delivered twice: done already
        if click.action in PAGES:
            deps.tasks.spawn(page_clicked(deps, click), name="open-page")
            return
        deps.tasks.spawn(handle(deps, click), name=f"action-{click.action}")

    for action_id in (*HANDLERS, *PAGES):  # one registration per id
        app.action(action_id)(on_action)
