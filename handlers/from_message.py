"""Cases from messages: the *Open recovery case* message shortcut (the intake form,
filled in from the message) and the workspace's reaction trigger (a case opened from
the message reacted to, once per message, answered in its thread)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.domain.cases import BadReport
from bot.domain.times import to_iso
from bot.runtime.slack_client import AMBIGUOUS
from bot.storage.errors import DatabaseError
from handlers import blocks, payload
from handlers.cards import submit_card
from handlers.context import Deps
from handlers.ids import CARD_METADATA_TYPE, NUDGE_METADATA_TYPE, Event, Shortcut
from handlers.mrkdwn import mention
from handlers.payload import Payload
from handlers.reply import respond
from handlers.slack_text import plain

log = logging.getLogger("mend.from_message")
PERMALINK_WAIT = 1.0  # seconds: the form must open within the trigger's 3 s
MEND_MESSAGES = (CARD_METADATA_TYPE, NUDGE_METADATA_TYPE)


def customer_of(message: dict[str, Any], team_id: str) -> str | None:
    """The message's author as the customer, when that makes sense: someone from
    outside the workspace (a Slack Connect channel shared with the customer), named
    as their profile names them. A teammate's message is their report, not the
    customer's, so no name is guessed for it."""
    profile = message.get("user_profile") if isinstance(message.get("user_profile"), dict) \
        else {}
    author_team = str(message.get("user_team") or profile.get("team") or "")
    if not author_team or author_team == team_id or message.get("bot_id"):
        return None
    name = str(profile.get("real_name") or profile.get("display_name") or "").strip()
    return name[:80] or None


async def permalink(deps: Deps, team_id: str, channel: str, ts: str) -> str | None:
    """A link back to the message (chat.getPermalink), or None if Slack won't say soon."""
    try:
        resp = await asyncio.wait_for(deps.clients.call(
            team_id, "chat_getPermalink", channel=channel, message_ts=ts), PERMALINK_WAIT)
    except (TimeoutError, SlackApiError, *AMBIGUOUS) as exc:
        log.warning("no permalink for a message: %s", type(exc).__name__)
        return None
    link = resp.get("permalink")
    return str(link) if link else None


async def on_open_shortcut(ack, asked: Payload, deps: Deps) -> None:
    """*Open recovery case* on a message: the intake form, filled in from it."""
    await ack()
    team_id, channel, message, ts = (asked.team_id, asked.channel_id, asked.message,
                                     asked.message_ts)
    link = await permalink(deps, team_id, channel, ts) if channel and ts else None
    initial = {"what": plain(str(message.get("text") or ""))[:3000].strip(),
               "customer": customer_of(message, team_id) or ""}
    view = blocks.intake_modal(
        deps.recovery.contact_keys(),
        {"channel_id": channel, "response_url": asked.response_url or "",
         "source_link": link or ""}, initial)
    try:
        await deps.clients.call(team_id, "views_open", trigger_id=asked.trigger_id,
                                view=view)
    except (SlackApiError, *AMBIGUOUS) as exc:
        log.warning("intake form from a message not opened: %s", type(exc).__name__)
        await respond(deps.client, asked.response_url,
                      "Slack did not open the form just now. Try the shortcut again, or "
                      "type `/recover` and what went wrong.")


async def fetch_message(deps: Deps, team_id: str, channel: str,
                        ts: str) -> dict[str, Any] | None:
    """The message at `ts` in `channel` (conversations.history), or None."""
    try:
        resp = await deps.clients.call(team_id, "conversations_history", channel=channel,
                                       latest=ts, oldest=ts, inclusive=True, limit=1,
                                       include_all_metadata=True)
    except (SlackApiError, *AMBIGUOUS) as exc:
        log.warning("reacted message not read: %s", type(exc).__name__)
        return None
    found = [m for m in resp.get("messages") or [] if m.get("ts") == ts]
    return found[0] if found else None


async def on_reaction(deps: Deps, team_id: str, event: dict[str, Any]) -> None:
    """The workspace's emoji on a message opens a case from it, once per message."""
    item = event.get("item") if isinstance(event.get("item"), dict) else {}
    channel, ts, user = str(item.get("channel") or ""), str(item.get("ts") or ""), \
        str(event.get("user") or "")
    if item.get("type") != "message" or not (channel and ts and user and team_id):
        return
    ws = await deps.workspaces.get(team_id)
    if not ws.reaction or str(event.get("reaction") or "").split("::")[0] != ws.reaction:
        return
    message = await fetch_message(deps, team_id, channel, ts)
    meta = (message or {}).get("metadata") or {}
    if message is None or meta.get("event_type") in MEND_MESSAGES:
        return  # gone, or one of Mend's own cards and reminders
    if not await deps.delivery.claim_message(team_id, channel, ts, to_iso(deps.clock.now())):
        return  # this message opened its case already
    await open_from_message(deps, team_id, channel, user, message)


async def open_from_message(deps: Deps, team_id: str, channel: str, user: str,
                            message: dict[str, Any]) -> None:
    ts = str(message["ts"])
    try:
        opened = await deps.recovery.open_case(
            team_id, channel, user, plain(str(message.get("text") or "")),
            customer=customer_of(message, team_id),
            source_link=await permalink(deps, team_id, channel, ts))
    except (BadReport, *DatabaseError) as exc:
        await deps.delivery.record_message_case(team_id, channel, ts, None)
        await _say(deps, team_id, channel, ts,
                   f"{mention(user)}, I couldn't open a case from this message: {exc}")
        return
    case = opened.case
    await deps.delivery.record_message_case(team_id, channel, ts, case.id)
    submit_card(deps, case)
    await _say(deps, team_id, channel, ts,
               f":sos: Case #{case.number} opened from this message by {mention(user)}, "
               f"who owns it for now. Its card is in this channel; `/recover case "
               f"{case.number}` shows its timeline.")


async def _say(deps: Deps, team_id: str, channel: str, ts: str, text: str) -> None:
    try:
        await deps.clients.call(team_id, "chat_postMessage", channel=channel, thread_ts=ts,
                                text=text)
    except (SlackApiError, *AMBIGUOUS) as exc:
        log.warning("answer in the message's thread not posted: %s", type(exc).__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    async def shortcut(ack, context):
        await on_open_shortcut(ack, payload.of(context), deps)

    async def reaction(context):
        reacted = payload.of(context)
        deps.tasks.spawn(on_reaction(deps, reacted.team_id, reacted.event),
                         name="reaction-case")

    app.shortcut(Shortcut.OPEN_CASE)(shortcut)
    app.event(Event.REACTION_ADDED)(reaction)
