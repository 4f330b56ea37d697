"""Buttons and menus: the case card's controls and the answers' offers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.clock import to_iso
from bot.lifecycle import Done, NeedsConfirmation, NotFound, Refused
from bot.when import QUICK_CHOICES
from handlers import case_blocks, nudge_blocks
from handlers.cards import refresh_card, respond
from handlers.context import Deps
from handlers.ids import Action
from handlers.mrkdwn import escape, mention

log = logging.getLogger("mend.actions")
# Controls that send block_actions (inputs inside modals don't).
ACTIONS = (Action.TAKE, Action.ASSIGN, Action.FOLLOWUP, Action.NOTE, Action.RESOLVE,
           Action.CLOSE, Action.REOPEN, Action.CHECKLIST, Action.ASSIGN_CONFIRM, Action.MERGE,
           Action.NUDGE_DONE, Action.NUDGE_SNOOZE, Action.NUDGE_SNOOZE_MORNING,
           Action.NUDGE_ASSIGN, Action.NUDGE_UPDATED)


class Click:
    """One block_actions payload, read once."""

    def __init__(self, body: dict[str, Any]):
        self.body = body
        self.action = (body.get("actions") or [{}])[0]
        user = body.get("user") or {}
        self.user_id = str(user.get("id") or "")
        self.team_id = str((body.get("team") or {}).get("id") or user.get("team_id") or "")
        self.response_url = body.get("response_url")
        self.trigger_id = body.get("trigger_id")
        self.value = str(self.action.get("value") or "")

    @property
    def key(self) -> str:
        return f"act:{self.user_id}:{self.action.get('action_ts')}:{self.action.get('action_id')}"

    def case_number(self) -> int | None:
        if self.value.split(":")[0].isdigit():
            return int(self.value.split(":")[0])
        return case_blocks.case_number_from_card(self.body.get("message") or {})


async def answer(deps: Deps, click: Click, text: str, blocks: list | None = None) -> None:
    await respond(deps.client, click.response_url, text, blocks)


async def perform(deps: Deps, click: Click, work: Callable[[], Any],
                  said: Callable[[Done], str] | None = None) -> None:
    """Run a lifecycle change for a click; refresh the card; tell the clicker if needed."""
    try:
        outcome = work()
    except (NotFound, Refused) as exc:
        text = case_blocks.refusal(exc) if isinstance(exc, Refused) else escape(str(exc))
        await answer(deps, click, text)
        return
    if isinstance(outcome, NeedsConfirmation):
        await answer(deps, click, "Confirm the assignment",
                     case_blocks.confirm_assign(outcome.case, outcome.assignee,
                                                outcome.open_count, outcome.limit))
        return
    if outcome.changed:
        refresh_card(deps, outcome.case)
        text = said(outcome) if said else ""
        if text:
            await answer(deps, click, text)
    elif outcome.message:
        await answer(deps, click, escape(outcome.message))


MODALS = {
    Action.FOLLOWUP: case_blocks.followup_modal,
    Action.NOTE: case_blocks.note_modal,
    Action.RESOLVE: case_blocks.resolve_modal,
    Action.CLOSE: case_blocks.close_modal,
}


async def open_modal(deps: Deps, click: Click, number: int) -> None:
    try:
        case = deps.lifecycle.get(click.team_id, number)
    except NotFound as exc:
        await answer(deps, click, escape(str(exc)))
        return
    view = MODALS[click.action["action_id"]](case)
    await deps.client.views_open(trigger_id=click.trigger_id, view=view)
    if click.action["action_id"] == Action.FOLLOWUP:
        await deps.people.get(click.team_id, click.user_id)  # timezone ready for submit


async def handle(deps: Deps, click: Click) -> None:
    """Work done after the ack for one click."""
    action_id = click.action.get("action_id")
    number = click.case_number()
    if number is None:
        return
    life, team, user = deps.lifecycle, click.team_id, click.user_id
    if action_id in MODALS:
        await open_modal(deps, click, number)
    elif action_id == Action.TAKE:
        await perform(deps, click, lambda: life.take(team, number, user))
    elif action_id == Action.REOPEN:
        await perform(deps, click, lambda: life.reopen(team, number, user))
    elif action_id == Action.NUDGE_DONE:
        await perform(deps, click, lambda: life.followup_done(team, number, user),
                      lambda d: mark_answered(deps, click, f":white_check_mark: Follow-up "
                                                           f"recorded by {mention(user)}."))
    elif action_id == Action.NUDGE_UPDATED:
        await perform(deps, click, lambda: life.customer_updated(team, number, user),
                      lambda d: mark_answered(deps, click, f":white_check_mark: Customer "
                                                           f"updated, says {mention(user)}."))
    elif action_id in (Action.NUDGE_SNOOZE, Action.NUDGE_SNOOZE_MORNING):
        await open_snooze(deps, click, number)
    elif action_id in (Action.ASSIGN, Action.NUDGE_ASSIGN) and click.action.get("selected_user"):
        assignee = click.action["selected_user"]
        await perform(deps, click, lambda: life.assign(team, number, user, assignee))
    elif action_id == Action.ASSIGN_CONFIRM:
        assignee = click.value.split(":")[-1]
        await perform(deps, click, lambda: life.assign(team, number, user, assignee, True),
                      lambda d: f"Case #{number} now belongs to {mention(assignee)}.")
    elif action_id == Action.CHECKLIST:
        await tick(deps, click, number)
    elif action_id == Action.MERGE:
        await merge(deps, click, number, int(click.value.split(":")[-1]))


def mark_answered(deps: Deps, click: Click, note: str) -> str:
    """Replace a nudge's buttons with who answered it (the nudge is not left dangling)."""
    message = click.body.get("message") or {}
    channel = (click.body.get("channel") or {}).get("id")
    if message.get("ts") and channel:
        deps.tasks.spawn(deps.client.chat_update(
            channel=channel, ts=message["ts"], text=message.get("text") or "Mend",
            blocks=nudge_blocks.answered(message.get("blocks") or [], note)),
            name="nudge-answered")
    return ""


async def open_snooze(deps: Deps, click: Click, number: int) -> None:
    choice = click.value.split(":")[-1]
    labels = dict(QUICK_CHOICES)
    try:
        case = deps.lifecycle.get(click.team_id, number)
    except NotFound as exc:
        await answer(deps, click, escape(str(exc)))
        return
    message = {"channel": (click.body.get("channel") or {}).get("id", ""),
               "ts": (click.body.get("message") or {}).get("ts", "")}
    view = case_blocks.snooze_modal(case, choice, labels.get(choice, "later"), message)
    await deps.client.views_open(trigger_id=click.trigger_id, view=view)
    await deps.people.get(click.team_id, click.user_id)  # timezone ready for submit


async def tick(deps: Deps, click: Click, number: int) -> None:
    """Checkboxes send the whole selection: tick what is new, untick what is gone."""
    selected = {o["value"] for o in click.action.get("selected_options") or []}
    try:
        case = deps.lifecycle.get(click.team_id, number)
    except NotFound as exc:
        await answer(deps, click, escape(str(exc)))
        return
    marked = set(deps.lifecycle.steps(click.team_id, case.id))
    for step in sorted(selected - marked):
        await perform(deps, click, lambda s=step: deps.lifecycle.step(
            click.team_id, number, click.user_id, s, done=True))
    for step in sorted(marked - selected):
        await perform(deps, click, lambda s=step: deps.lifecycle.step(
            click.team_id, number, click.user_id, s, done=False))
    refresh_card(deps, case)  # a refused tick must not stay ticked on the card


async def merge(deps: Deps, click: Click, number: int, into: int) -> None:
    def work() -> Done:
        done = deps.lifecycle.merge(click.team_id, number, click.user_id, into)
        refresh_card(deps, deps.lifecycle.get(click.team_id, number))
        return done

    await perform(deps, click, work, lambda d: f"Added to case #{into} as a note; case "
                                               f"#{number} is closed as its duplicate.")


def register(app: AsyncApp, deps: Deps) -> None:
    async def on_action(ack: Callable[[], Awaitable[None]], body: dict[str, Any]) -> None:
        await ack()
        click = Click(body)
        if not (click.team_id and click.user_id):
            return
        if not deps.store.first_time(click.team_id, click.key, to_iso(deps.clock.now())):
            return  # the same click delivered twice: done already
        deps.tasks.spawn(handle(deps, click), name=f"action-{click.action.get('action_id')}")

    for action_id in ACTIONS:
        app.action(action_id)(on_action)
