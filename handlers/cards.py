"""Case cards in the channel: posted after the ack, updated in place.

A new case is written with card_state 'pending' before the agent gets an
answer; the card is posted afterwards, in the channel's turn, and the case
marked 'posted'. If Mend stops in between, `resume_cards` at the next start
posts what is missing. Every later change re-renders the card from the
stored case and sends it with `chat.update`: never reposted.
"""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import to_iso
from bot.models import Case
from handlers import case_blocks
from handlers.context import Deps

log = logging.getLogger("mend.cards")

# Answers that no retry will change: tell the agent instead.
PERMANENT = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action",
             "invalid_blocks", "msg_too_long", "no_text"}


def render(deps: Deps, case: Case) -> dict:
    """Text, blocks and metadata of the card for the case as stored now."""
    label = deps.recovery.category_label(case.category)
    marks = deps.store.steps(case.team_id, case.id)
    return {"text": case_blocks.card_fallback(case, label),
            "blocks": case_blocks.case_card(case, label, deps.recovery.step_titles(), marks),
            "metadata": case_blocks.card_metadata(case)}


def submit_card(deps: Deps, case: Case, response_url: str | None = None) -> None:
    """Post the card after the ack, in the channel's turn."""
    deps.pacer.submit(case.channel_id, lambda: post_card(deps, case, response_url))


async def post_card(deps: Deps, case: Case, response_url: str | None = None) -> str | None:
    """Post the card for `case`; returns its ts, or None if Slack refused."""
    case = deps.store.case_by_id(case.team_id, case.id) or case  # latest state
    try:
        resp = await deps.client.chat_postMessage(channel=case.channel_id, unfurl_links=False,
                                                  **render(deps, case))
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown"))
        log.warning("case card for case id %s not posted: %s", case.id, error)
        if error in PERMANENT:
            deps.store.record_card_failed(case.team_id, case.id, error, to_iso(deps.clock.now()))
            await _tell_agent(deps.client, response_url, case, error)
        return None
    deps.store.record_card(case.team_id, case.id, resp["channel"], resp["ts"],
                           to_iso(deps.clock.now()))
    return resp["ts"]


def refresh_card(deps: Deps, case: Case) -> None:
    """Update the card in place soon; several changes in a row make one update."""
    if case.id in deps.refreshing:
        return
    deps.refreshing.add(case.id)
    deps.tasks.spawn(_update_card(deps, case), name=f"card-update-{case.id}")


async def _update_card(deps: Deps, case: Case) -> None:
    await asyncio.sleep(0)  # let changes made in this turn land first
    deps.refreshing.discard(case.id)
    latest = deps.store.case_by_id(case.team_id, case.id)
    if latest is None or not latest.card_ts:
        return  # not posted yet: the pending post renders the latest state
    try:
        await deps.client.chat_update(channel=latest.card_channel, ts=latest.card_ts,
                                      **render(deps, latest))
    except SlackApiError as exc:
        log.warning("card for case id %s not updated: %s", case.id,
                    exc.response.get("error"))


async def _tell_agent(client: AsyncWebClient, response_url: str | None, case: Case,
                      error: str) -> None:
    if not response_url:
        return
    if error in ("not_in_channel", "channel_not_found"):
        text = (f"Case #{case.number} is open and tracked, but I can't post its card here. "
                "Invite me with `/invite @Mend`, or open cases from a channel I'm in.")
    else:
        text = f"Case #{case.number} is open and tracked, but Slack refused its card ({error})."
    await respond(client, response_url, text)


async def respond(client: AsyncWebClient, response_url: str | None, text: str,
                  blocks: list | None = None) -> None:
    """An ephemeral message to the person who acted, through Slack's response_url."""
    if not response_url:
        return
    from slack_sdk.webhook.async_client import AsyncWebhookClient

    webhook = AsyncWebhookClient(response_url, session=client.session, timeout=10)
    try:
        await webhook.send(text=text, blocks=blocks, response_type="ephemeral",
                           replace_original=False)
    except Exception as exc:  # noqa: BLE001 - a courtesy note; the change itself is saved
        log.warning("could not answer through response_url: %s", type(exc).__name__)


def resume_cards(deps: Deps) -> int:
    """Queue cards that a stop left unposted; returns how many."""
    queued = 0
    for team_id in deps.store.teams_awaiting_cards():
        for case in deps.store.cases_awaiting_card(team_id):
            submit_card(deps, case)
            queued += 1
    return queued
