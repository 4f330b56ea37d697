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
from handlers import case_blocks, lead_blocks, nudge_blocks
from handlers.blocks import when
from handlers.cards import refresh_card
from handlers.context import Deps
from handlers.home import note_home
from handlers.ids import Action, Block
from handlers.lead_commands import page_clicked
from handlers.mrkdwn import escape, mention
from handlers.reply import refusal, refusal_text, respond
from handlers.slack_text import number as parse_number

log = logging.getLogger("mend.actions")


class Click:
    """One block_actions payload, read once."""

    def __init__(self, body: dict[str, Any]):
        self.body = body
        actions = body.get("actions") or [{}]
        self.action = actions[0] if isinstance(actions[0], dict) else {}
        user = body.get("user") or {}
        self.user_id = str(user.get("id") or "")
        # The workspace the click came from; never the user's org id on Enterprise Grid.
        self.team_id = str((body.get("team") or {}).get("id") or "")
        self.response_url = body.get("response_url")
        self.trigger_id = body.get("trigger_id")
        self.value = str(self.action.get("value") or "")
        message = body.get("message") if isinstance(body.get("message"), dict) else {}
        self.message = message
        # The workspace that owns the card (a shared channel shows it to other orgs).
        self.card_team = str(case_blocks.message_payload(message).get("team_id")
                             or case_blocks.team_of_block(self.action.get("block_id")))

    @property
    def action_id(self) -> str:
        return str(self.action.get("action_id") or "")

    @property
    def key(self) -> str:
        return f"act:{self.user_id}:{self.action.get('action_ts')}:{self.action.get('action_id')}"

    @property
    def in_home(self) -> bool:
        """Clicked in the App Home: there is no response URL to answer through."""
        view = self.body.get("view")
        return isinstance(view, dict) and view.get("type") == "home"

    def case_number(self) -> int | None:
        found = parse_number(self.value)
        if found is None:  # a select in a list's row: its block id names the case
            found = lead_blocks.row_case(self.action.get("block_id"))
        return found if found is not None else case_blocks.case_number_from_card(self.message)

    def reminder_due(self) -> str | None:
        """The follow-up a reminder's button was sent for: from its value, else from the
        other buttons or the metadata of the reminder clicked in (None: a reminder from
        before buttons said so; it is taken to mean the follow-up in force)."""
        values = [self.value] + [
            str(element.get("value") or "")
            for block in self.message.get("blocks") or [] if isinstance(block, dict)
            for element in block.get("elements") or [] if isinstance(element, dict)]
        for value in values:
            due = nudge_blocks.read_button_value(value)[1]
            if due:
                return due
        return nudge_blocks.due_of_key(case_blocks.message_payload(self.message).get("key"))


async def answer(deps: Deps, click: Click, text: str, blocks: list | None = None) -> None:
    if not click.response_url and click.in_home:  # shown at the top of their Home
        await note_home(deps, click.team_id, click.user_id, blocks or text)
        return
    await respond(deps.client, click.response_url, text, blocks)


async def perform(deps: Deps, click: Click, work: Callable[[], Awaitable[Any]],
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


async def refused(deps: Deps, click: Click, exc: Exception) -> None:
    """Tell the clicker why nothing was done (an out-of-date reminder loses its buttons)."""
    if isinstance(exc, OutOfDate):
        await out_of_date(deps, click, exc)
    else:
        await answer(deps, click, refusal_text(exc))


async def out_of_date(deps: Deps, click: Click, exc: OutOfDate) -> None:
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


async def open_modal(deps: Deps, click: Click, number: int) -> None:
    try:
        case = await deps.lifecycle.get(click.team_id, number)
        render, form = MODALS[click.action["action_id"]]
        if form:  # say it now, not after they have filled the form in
            await deps.lifecycle.check_form(case, click.user_id, form)
    except (NotFound, Refused) as exc:
        await answer(deps, click, refusal_text(exc))
        return
    view = render(case)
    if click.action["action_id"] == Action.FOLLOWUP:
        # The submission must answer within Slack's 3 s, so it must not ask users.info.
        tz = await timezone_soon(deps, click)
        if tz:
            view = case_blocks.with_metadata(view, tz=tz)
    await show_modal(deps, click, number, view)


async def timezone_soon(deps: Deps, click: Click, user_id: str | None = None) -> str | None:
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


async def show_modal(deps: Deps, click: Click, number: int, view: dict) -> None:
    """views.open, or tell the clicker that Slack would not open the form."""
    try:
        await (await deps.clients.for_team(click.team_id)).views_open(
            trigger_id=click.trigger_id, view=view)
    except (SlackApiError, *AMBIGUOUS) as exc:
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else None
        log.warning("form for case #%s not opened: %s", number, error or type(exc).__name__)
        usage = BY_COMMAND.get(click.action.get("action_id"), "case {n}").format(n=number)
        await answer(deps, click, f"Slack did not open the form just now"
                                  f"{f' ({escape(str(error))})' if error else ''}. Press the "
                                  f"button again, or use `/recover {usage}`.")


async def handle(deps: Deps, click: Click) -> None:
    """Work done after the ack for one click: the handler its action id names."""
    number = click.case_number()
    handler = HANDLERS.get(click.action.get("action_id"))
    if number is not None and handler is not None:
        await handler(deps, click, number)


async def take(deps: Deps, click: Click, number: int) -> None:
    await perform(deps, click, lambda: deps.lifecycle.take(click.team_id, number, click.user_id),
                  lambda d: f"Case #{number} is yours now. "
                            f"{case_blocks.next_nudge_words(d.case)}")


async def reopen(deps: Deps, click: Click, number: int) -> None:
    await perform(deps, click,
                  lambda: deps.lifecycle.reopen(click.team_id, number, click.user_id),
                  lambda d: f"Case #{number} is open again; next follow-up "
                            f"{when(d.case.next_followup_at)}.")


async def followup_done(deps: Deps, click: Click, number: int) -> None:
    """Record the follow-up; a case that stays open is asked for its next step."""
    due, user = click.reminder_due(), click.user_id
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


async def next_followup(deps: Deps, click: Click, number: int) -> None:
    """One of the next-step choices offered after *Done*, read in the clicker's zone."""
    when_text = next(w for a, w, _ in nudge_blocks.NEXT_STEPS if a == click.action_id)
    tz = (await deps.people.get(click.team_id, click.user_id)).tz
    due = parse_when(when_text, tz, deps.clock.now())
    await perform(deps, click, lambda: deps.lifecycle.set_followup(
        click.team_id, number, click.user_id, due),
        lambda d: f"Next follow-up on case #{number}: {when(to_iso(due))}.")


async def customer_updated(deps: Deps, click: Click, number: int) -> None:
    user = click.user_id
    await perform(deps, click,
                  lambda: deps.lifecycle.customer_updated(click.team_id, number, user),
                  lambda d: mark_answered(deps, click, f":white_check_mark: Customer "
                                                       f"updated, says {mention(user)}.")
                  or f"Recorded: the customer of case #{number} heard from us.")


async def assign(deps: Deps, click: Click, number: int) -> None:
    assignee = click.action.get("selected_user")
    if assignee:
        await perform(deps, click, lambda: deps.lifecycle.assign(
            click.team_id, number, click.user_id, assignee),
            lambda d: f"Case #{number} now belongs to {mention(assignee)}.")


async def assign_confirmed(deps: Deps, click: Click, number: int) -> None:
    assignee = click.value.split(":")[-1]
    if assignee.isalnum():
        await perform(deps, click, lambda: deps.lifecycle.assign(
            click.team_id, number, click.user_id, assignee, True),
            lambda d: f"Case #{number} now belongs to {mention(assignee)}.")


async def merge_clicked(deps: Deps, click: Click, number: int) -> None:
    into = parse_number(click.value.split(":")[-1])
    if into is not None:
        await merge(deps, click, number, into)


def mark_answered(deps: Deps, click: Click, note: str) -> str:
    """Replace a nudge's buttons with who answered it (the nudge is not left dangling)."""
    message = click.body.get("message") or {}
    channel = (click.body.get("channel") or {}).get("id")
    if message.get("ts") and channel:
        deps.tasks.spawn(deps.clients.call(
            click.team_id, "chat_update", channel=channel, ts=message["ts"],
            text=message.get("text") or "Mend",
            blocks=nudge_blocks.answered(message.get("blocks") or [], note)),
            name="nudge-answered")
    return ""


async def open_snooze(deps: Deps, click: Click, number: int) -> None:
    choice, _ = nudge_blocks.read_button_value(click.value)
    labels = dict(QUICK_CHOICES)
    due = click.reminder_due()
    try:
        case = await deps.lifecycle.get(click.team_id, number)
        await deps.lifecycle.check_snooze(case, click.user_id, due)
    except (NotFound, Refused) as exc:
        await refused(deps, click, exc)
        return
    message = {"channel": (click.body.get("channel") or {}).get("id", ""),
               "ts": (click.body.get("message") or {}).get("ts", "")}
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


async def tick(deps: Deps, click: Click, number: int) -> None:
    """Checkboxes send the whole selection as the clicker saw it: apply only what they
    changed, so a card that was stale on their screen cannot untick someone else's step."""
    selected = {o.get("value") for o in click.action.get("selected_options") or []
                if isinstance(o, dict)}
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


async def merge(deps: Deps, click: Click, number: int, into: int) -> None:
    async def work() -> Done:
        done = await deps.lifecycle.merge(click.team_id, number, click.user_id, into)
        refresh_card(deps, await deps.lifecycle.get(click.team_id, number))
        return done

    await perform(deps, click, work, lambda d: f"Added to case #{into} as a note; case "
                                               f"#{number} is closed as its duplicate.")


# Each control's action id and the work its click does (after the ack).
HANDLERS: dict[str, Callable[[Deps, Click, int], Awaitable[None]]] = {
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
    async def on_action(ack: Callable[[], Awaitable[None]], body: dict[str, Any]) -> None:
        await ack()
        click = Click(body)
        if not (click.team_id and click.user_id):
            return
        if click.card_team and click.card_team != click.team_id:
            deps.tasks.spawn(answer(deps, click, "This case belongs to another workspace, so "
                                                 "it can only be worked from there."),
                             name="other-workspace")
            return
        if not await deps.delivery.first_time(click.team_id, click.key,
                                              to_iso(deps.clock.now())):
            return  # the same click delivered twice: done already
        if click.action.get("action_id") in PAGES:
            deps.tasks.spawn(page_clicked(deps, body), name="open-page")
            return
        deps.tasks.spawn(handle(deps, click), name=f"action-{click.action.get('action_id')}")

    for action_id in (*HANDLERS, *PAGES):  # one registration per id
        app.action(action_id)(on_action)
