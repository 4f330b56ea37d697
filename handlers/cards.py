"""Case cards in the channel: posted after the ack, once, updated in place.

A new case is written with card_state 'pending' before the agent gets an
answer. The card is posted afterwards, in the channel's turn: the case is
marked 'posting' just before the post and 'posted' after Slack answers. A
post answered by a timeout, a dropped connection or a 5xx may or may not have
gone out, so it is not retried blindly: the case stays 'posting', and the next
attempt first looks in the channel for a message whose metadata names this case.
Cards left behind by a stop or an error are picked up at start and by every
scheduler sweep.
Every later change re-renders the card from the stored case and sends it
with `chat.update`: never reposted.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.models import Case
from bot.domain.promises import overdue
from bot.domain.times import from_iso, to_iso
from bot.domain.vocabulary import CardState
from bot.runtime.slack_client import AMBIGUOUS, doubt, in_doubt
from handlers import case_blocks, promise_blocks
from handlers.context import Deps
from handlers.home import publish_home
from handlers.ids import CARD_METADATA_TYPE
from handlers.reply import respond

log = logging.getLogger("mend.cards")

SETTLE_WAIT = 2.0  # seconds a new card waits for the owner's timezone from Slack
POSTING_GRACE = timedelta(minutes=2)  # a post older than this is in doubt, not in flight
# Answers that no retry will change: tell the agent instead.
PERMANENT = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action",
             "invalid_blocks", "msg_too_long", "no_text"}


async def render(deps: Deps, case: Case, marks=None, workspace=None) -> dict:
    """Text, blocks and metadata of the card for the case as stored now (its steps and
    its workspace's settings are read unless given)."""
    label = deps.recovery.category_label(case.category)
    if marks is None:
        marks = await deps.store.steps(case.team_id, case.id)
    now = deps.clock.now()
    local = await promise_blocks.known_now(deps, case.team_id, promise_blocks.nudged(case) or "",
                                           workspace)
    return {"text": case_blocks.card_fallback(case, label),
            "blocks": case_blocks.case_card(case, label, deps.recovery.step_titles(), marks,
                                            overdue=overdue(case, now),
                                            nudge_note=promise_blocks.nudge_note(case, now,
                                                                                 local)),
            "metadata": case_blocks.card_metadata(case)}


def submit_card(deps: Deps, case: Case, response_url: str | None = None) -> None:
    """A new case: post its card after the ack, in the channel's turn (once per process
    queue), and show it in its owner's App Home."""
    refresh_homes(deps, case.team_id, case.owner_id, case.reporter_id)
    deps.tasks.spawn(_settle_then_queue(deps, case, response_url), name="new-card")


async def _settle_then_queue(deps: Deps, case: Case, response_url: str | None) -> None:
    """Settle the first follow-up (for up to SETTLE_WAIT), then queue the card in the
    channel's turn: the card shows it right at once, and the pacing between posts is
    not eaten by the lookup."""
    settling = deps.tasks.spawn(settle_first_followup(deps, case), name="first-followup")
    await asyncio.wait({settling}, timeout=SETTLE_WAIT)
    _queue_card(deps, case, response_url)


async def settle_first_followup(deps: Deps, case: Case) -> None:
    """The first follow-up was placed in the owner's working hours inside the ack, with
    the timezone Mend knew then (theirs if cached, else the workspace's). Ask Slack for
    theirs now; if it puts the follow-up elsewhere, move it and update the card (its
    line on the next reminder says when and why; the timeline records the move)."""
    person = promise_blocks.nudged(case)
    if not person or promise_blocks.is_cached(deps, case.team_id, person):
        return  # the ack used what Slack said: nothing to correct
    guessed = await promise_blocks.known_now(deps, case.team_id, person)
    known = await promise_blocks.from_slack(deps, case.team_id, person)
    if known is None:
        return  # Slack can't say: the workspace's timezone stands
    corrected = await deps.recovery.correct_first_followup(case, guessed, known)
    if corrected is not None:
        refresh_card(deps, corrected)  # a card not posted yet is posted as it is now


def _queue_card(deps: Deps, case: Case, response_url: str | None = None) -> None:
    if case.id in deps.carding:
        return
    deps.carding.add(case.id)

    async def turn() -> None:
        try:
            await post_card(deps, case, response_url)
        finally:
            deps.carding.discard(case.id)

    deps.pacer.submit(case.channel_id, turn)


async def post_card(deps: Deps, case: Case, response_url: str | None = None) -> str | None:
    """Post the card for `case` unless it is (or may already be) out; returns its ts."""
    now = deps.clock.now()
    # Most cards are pending: claimed at once, with the latest state (one statement).
    claimed = await deps.delivery.claim_card(case.team_id, case.id, to_iso(now))
    if claimed is None:
        case = await deps.store.case_by_id(case.team_id, case.id) or case  # latest state
        if case.card_state == CardState.POSTING:
            if case.card_claimed_at and from_iso(case.card_claimed_at) > now - POSTING_GRACE:
                return None  # someone is posting it right now
            if await _settle_in_doubt(deps, case, now):
                return case.card_ts
            case = await deps.store.case_by_id(case.team_id, case.id) or case
        if case.card_state != CardState.PENDING or not (claimed := await deps.delivery.claim_card(
                case.team_id, case.id, to_iso(now))):
            return case.card_ts
    case = claimed.case
    try:
        poster = await deps.clients.poster(case.team_id)
        resp = await poster.chat_postMessage(channel=case.channel_id, unfurl_links=False,
                                             **await render(deps, case, claimed.steps,
                                                            claimed.workspace))
    except (SlackApiError, *AMBIGUOUS) as exc:
        if in_doubt(exc):  # stays 'posting': looked for before it is posted again
            log.warning("card for case id %s in doubt: %s", case.id, doubt(exc))
        else:
            await _refused(deps, case, exc, response_url)
        return None
    await deps.delivery.card_posted(case.team_id, case.id, resp["channel"], resp["ts"],
                                    to_iso(deps.clock.now()))
    return resp["ts"]


async def _refused(deps: Deps, case: Case, exc: SlackApiError,
                   response_url: str | None) -> None:
    error = str(exc.response.get("error") or f"http {exc.response.status_code}")
    log.warning("case card for case id %s not posted: %s", case.id, error)
    now = to_iso(deps.clock.now())
    if error in PERMANENT:
        await deps.delivery.card_failed(case.team_id, case.id, error, now)
        await _tell_agent(deps.client, response_url, case, error)
    else:  # a 429 even after retries: Slack did not post it; a later sweep will
        await deps.delivery.release_card(case.team_id, case.id, now)


async def _settle_in_doubt(deps: Deps, case: Case, now) -> bool:
    """A post that may have gone out: record it if Slack has it, else post again."""
    try:
        poster = await deps.clients.poster(case.team_id)
        ts = await find_message(poster, case.channel_id, CARD_METADATA_TYPE,
                                {"team_id": case.team_id, "case": case.number})
    except (SlackApiError, *AMBIGUOUS) as exc:
        log.warning("could not check card for case id %s: %s", case.id, type(exc).__name__)
        return True  # try again at the next sweep
    if ts:
        await deps.delivery.card_posted(case.team_id, case.id, case.channel_id, ts, to_iso(now))
        return True
    await deps.delivery.release_card(case.team_id, case.id, to_iso(now))
    return False


async def find_message(client: AsyncWebClient, channel: str, event_type: str,
                       match: dict, thread_ts: str | None = None,
                       pages: int = 10) -> str | None:
    """The ts of Mend's message in `channel` (or a thread) whose metadata matches."""
    cursor = None
    for _ in range(pages):
        args = {"channel": channel, "include_all_metadata": True, "limit": 200}
        if cursor:
            args["cursor"] = cursor
        resp = await (client.conversations_replies(ts=thread_ts, **args) if thread_ts
                      else client.conversations_history(**args))
        for message in resp.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == event_type and \
                    all(payload.get(k) == v for k, v in match.items()):
                return message.get("ts")
        cursor = (resp.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


def refresh_card(deps: Deps, case: Case, before: Case | None = None) -> None:
    """Update the card in place soon; several changes in a row make one update.
    The App Home of its owner, and of its owner `before` the change, is refreshed
    too, for those who have looked at theirs."""
    refresh_homes(deps, case.team_id, case.owner_id, before.owner_id if before else None)
    if case.id in deps.refreshing:
        return
    deps.refreshing.add(case.id)
    deps.tasks.spawn(_update_card(deps, case), name=f"card-update-{case.id}")


def refresh_homes(deps: Deps, team_id: str, *users: str | None) -> None:
    """Publish again the App Home of each of `users` who has opened theirs."""
    for user in dict.fromkeys(u for u in users if u):
        if (team_id, user) in deps.home_viewers:
            deps.tasks.spawn(publish_home(deps, team_id, user), name="home")


CARD_SENDS = 5  # a card changing faster than Slack takes updates catches up later


async def _update_card(deps: Deps, case: Case) -> None:
    """Send the card as stored now; once Slack has it, look again: an update that had
    to wait (a 429, a retry) may land after a newer one, so the last to land checks
    that what the channel shows is still the latest, and sends that if not."""
    await asyncio.sleep(0)  # let changes made in this turn land first
    deps.refreshing.discard(case.id)
    sent = None
    for _ in range(CARD_SENDS):
        latest = await deps.store.case_by_id(case.team_id, case.id)
        if latest is None or not latest.card_ts:
            return  # not posted yet: the pending post renders the latest state
        card = await render(deps, latest)
        if card == sent:
            return
        try:
            await deps.clients.call(latest.team_id, "chat_update", channel=latest.card_channel,
                                    ts=latest.card_ts, **card)
        except SlackApiError as exc:
            log.warning("card for case id %s not updated: %s", case.id,
                        exc.response.get("error"))
            return
        sent = card


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


async def resume_cards(deps: Deps, team_id: str | None = None) -> int:
    """Queue cards left unposted (or in doubt); returns how many."""
    queued = 0
    for team in [team_id] if team_id else await deps.store.teams_awaiting_cards():
        if not await deps.clients.installed(team):
            continue  # uninstalled: its cards wait for a reinstall (or the purge)
        for case in await deps.store.cases_awaiting_card(team):
            if case.id not in deps.carding:
                _queue_card(deps, case)
                queued += 1
    return queued
