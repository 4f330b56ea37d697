"""Posting case cards to the channel, after the ack.

A new case is written with card_state 'pending' before the agent gets an
answer; the card is posted afterwards and the case marked 'posted'. If Mend
stops in between, `resume_cards` at the next start posts what is missing.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import to_iso
from bot.models import Case
from handlers import blocks
from handlers.context import Deps

log = logging.getLogger("mend.cards")

# Answers that no retry will change: tell the agent instead.
PERMANENT = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action",
             "invalid_blocks", "msg_too_long", "no_text"}


def submit_card(deps: Deps, case: Case, response_url: str | None = None) -> None:
    """Post the card after the ack, in the channel's turn."""
    deps.pacer.submit(case.channel_id, lambda: post_card(deps, case, response_url))


async def post_card(deps: Deps, case: Case, response_url: str | None = None) -> str | None:
    """Post the card for `case`; returns its ts, or None if Slack refused."""
    label = deps.recovery.category_label(case.category)
    try:
        resp = await deps.client.chat_postMessage(
            channel=case.channel_id,
            text=blocks.card_fallback(case, label),
            blocks=blocks.case_card(case, label),
            metadata=blocks.card_metadata(case),
            unfurl_links=False,
        )
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


async def _tell_agent(client: AsyncWebClient, response_url: str | None, case: Case,
                      error: str) -> None:
    if not response_url:
        return
    if error in ("not_in_channel", "channel_not_found"):
        text = (f"Case #{case.number} is open and tracked, but I can't post its card here. "
                "Invite me with `/invite @Mend`, or open cases from a channel I'm in.")
    else:
        text = f"Case #{case.number} is open and tracked, but Slack refused its card ({error})."
    try:
        await _respond(client, response_url, text)
    except Exception as exc:  # noqa: BLE001 - the case is safe; this is a courtesy note
        log.warning("could not tell the agent about case id %s: %s", case.id,
                    type(exc).__name__)


async def _respond(client: AsyncWebClient, response_url: str, text: str) -> None:
    from slack_sdk.webhook.async_client import AsyncWebhookClient

    webhook = AsyncWebhookClient(response_url, session=client.session, timeout=10)
    await webhook.send(text=text, response_type="ephemeral", replace_original=False)


def resume_cards(deps: Deps) -> int:
    """Queue cards that a stop left unposted; returns how many."""
    queued = 0
    for team_id in deps.store.teams_awaiting_cards():
        for case in deps.store.cases_awaiting_card(team_id):
            submit_card(deps, case)
            queued += 1
    return queued
