"""Answering the person who acted: inside the ack, or after it through response_url,
and the words for a refusal. Every listener answers through here."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.errors import Refused
from handlers import blocks
from handlers.mrkdwn import escape, mention

log = logging.getLogger("mend.reply")
Ack = Callable[..., Awaitable[None]]
# What a piece of work answers: mrkdwn-safe text, or Block Kit blocks.
Answer = str | list[dict[str, Any]]


def refusal(exc: Refused) -> str:
    """A refusal that says why and who can do it (mrkdwn, safe)."""
    text = escape(exc.why).replace("{owner}", mention(exc.owner))
    if exc.who_can:
        text += " Who can: " + ", ".join(mention(u) for u in exc.who_can) + "."
    return text


def refusal_text(exc: Exception) -> str:
    """Any expected refusal (not found, not allowed, mistyped) as safe mrkdwn."""
    return refusal(exc) if isinstance(exc, Refused) else escape(str(exc))


async def ack_encoded(ack: Ack, answer: dict[str, Any]) -> None:
    """Ack with `answer` encoded here by orjson (several times faster than the json module
    Bolt would use on a 3 KB reply): Bolt passes a lone string through as the body, and
    as it starts with "{" answers it as JSON (over HTTP and Socket Mode alike)."""
    await ack(orjson.dumps(answer).decode())


async def reply(ack: Ack, text: str) -> None:
    """An ephemeral answer inside the ack; `text` must already be mrkdwn-safe."""
    await ack(response_type="ephemeral", text=text, blocks=blocks.notice(text))


async def answer_now(ack: Ack, result: Answer) -> None:
    if isinstance(result, str):
        await reply(ack, result)
    else:
        await ack(response_type="ephemeral", text="Mend", blocks=result)


async def answer_later(client: AsyncWebClient, response_url: str | None,
                       result: Answer) -> None:
    if isinstance(result, str):
        await respond(client, response_url, result)
    else:
        await respond(client, response_url, "Mend", result)


async def respond(client: AsyncWebClient, response_url: str | None, text: str,
                  blocks: list | None = None, replace: bool = False) -> None:
    """An ephemeral message to the person who acted, through Slack's response_url
    (`replace`: instead of the message they clicked in)."""
    if not response_url:
        return
    from slack_sdk.webhook.async_client import AsyncWebhookClient

    webhook = AsyncWebhookClient(response_url, session=client.session, timeout=10)
    try:
        await webhook.send(text=text, blocks=blocks, response_type="ephemeral",
                           replace_original=replace)
    except Exception as exc:  # noqa: BLE001 - a courtesy note; the change itself is saved
        log.warning("could not answer through response_url: %s", type(exc).__name__)
