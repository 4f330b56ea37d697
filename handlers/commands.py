"""The `/recover` slash command and its sub-commands.

Each sub-command registers itself with its usage and help line, so
`/recover help` is built from the registry and never drifts from the code.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp

from bot.domain.cases import BadReport
from bot.storage.errors import DatabaseError
from handlers import blocks, case_blocks, payload
from handlers.cards import submit_card
from handlers.context import Deps
from handlers.ids import COMMAND
from handlers.mrkdwn import escape
from handlers.payload import Payload
from handlers.promise_blocks import opened_note
from handlers.reply import ack_encoded, reply
from handlers.slack_text import plain

log = logging.getLogger("mend.commands")
COMMANDS = (COMMAND,)
SLACK_ID = re.compile(r"^[A-Z0-9]{2,30}$")
SAVE_FAILED = ("I couldn't save the case just now, so nothing was recorded. "
               "Please try again in a moment.")
STORAGE_FAILED = ("I couldn't save that just now, so nothing was changed. "
                  "Please try again in a moment.")


# One use of `/recover`: the payload of a slash command (read by handlers/payload.py).
Invocation = Payload
Ack = Callable[..., Awaitable[None]]
Runner = Callable[[Ack, Invocation, str, Deps], Awaitable[None]]


@dataclass(frozen=True)
class SubCommand:
    name: str
    usage: str
    help: str
    run: Runner


REGISTRY: dict[str, SubCommand] = {}
# Forms of `/recover` that are not a sub-command word, listed first in help.
BASE_USAGE = [
    (f"{COMMAND} <what went wrong>", "Open a case and get the recovery playbook"),
    (COMMAND, "Open a case with a form"),
]


def subcommand(name: str, usage: str, help: str) -> Callable[[Runner], Runner]:
    """Register `run` as `/recover <name> ...`, with its line for `/recover help`."""

    def add(run: Runner) -> Runner:
        REGISTRY[name] = SubCommand(name, usage, help, run)
        return run

    return add


def help_entries() -> list[tuple[str, str]]:
    return BASE_USAGE + [(s.usage, s.help) for s in REGISTRY.values()]


@subcommand("help", f"{COMMAND} help", "Show this reference")
async def show_help(ack: Ack, inv: Invocation, args: str, deps: Deps,
                    intro: str | None = None) -> None:
    await ack(response_type="ephemeral", text="Mend commands",
              blocks=blocks.help_blocks(help_entries(), intro))


def unusable(inv: Invocation) -> str | None:
    """A friendly explanation if Slack's payload lacks an id Mend needs, else None."""
    ids = {"team": inv.team_id, "channel": inv.channel_id, "user": inv.user_id}
    missing = [k for k, v in ids.items() if not SLACK_ID.match(v)]
    if missing:
        return ("Slack sent this command without a usable "
                f"{', '.join(missing)} id, so I did nothing. Please try again.")
    return None


def is_unknown_word(text: str) -> bool:
    """One or two words that aren't a report: most likely a mistyped sub-command."""
    words = text.split()
    return len(words) <= 2 and words[0].isascii() and words[0].isalpha()


async def on_recover(ack: Ack, inv: Invocation, deps: Deps,
                     replay_since: str | None = None, request_key: str | None = None) -> None:
    """`replay_since`: this is a retry of a request that died before its answer;
    `request_key`: the inbound request's key (recorded with the case it opens)."""
    problem = unusable(inv)
    if problem:
        await reply(ack, problem)
        return
    text = inv.text.strip()
    if not text:
        await open_intake(ack, inv, deps)
        return
    word, _, rest = text.partition(" ")
    sub = REGISTRY.get(word.lower())
    if sub and replay_since:
        await ack()  # it may have been done already: never twice
    elif sub:
        await run_guarded(sub, ack, inv, rest.strip(), deps)
    elif is_unknown_word(text):
        intro = (f"I don't know `{escape(word[:30])}`. To open a case, describe what went "
                 "wrong in a sentence.")
        await show_help(ack, inv, rest, deps, intro=intro)
    elif replay_since and request_key:
        await found_again(ack, inv, plain(text), deps, request_key)
    else:
        await open_from_text(ack, inv, plain(text), deps, request_key)


async def run_guarded(sub: SubCommand, ack: Ack, inv: Invocation, args: str,
                      deps: Deps) -> None:
    """A sub-command whose database refuses (read-only, disk full) answers politely."""
    try:
        await sub.run(ack, inv, args, deps)
    except DatabaseError as exc:
        log.error("%s not saved: %s", sub.name, type(exc).__name__)
        await reply(ack, STORAGE_FAILED)


async def found_again(ack: Ack, inv: Invocation, text: str, deps: Deps, key: str) -> None:
    """The first attempt died before its answer: show the case it opened (recorded
    under the request's key), if it did."""
    number = await deps.store.case_opened_by(inv.team_id, key)
    if number is None:
        await open_from_text(ack, inv, text, deps, key)
        return
    await reply(ack, f"Case #{number} opened. `{COMMAND} case {number}` shows it.")


async def open_from_text(ack: Ack, inv: Invocation, text: str, deps: Deps,
                         request_key: str | None = None) -> None:
    try:
        opened = await deps.recovery.open_case(inv.team_id, inv.channel_id, inv.user_id, text,
                                               request_key=request_key)
    except BadReport as exc:
        await reply(ack, escape(str(exc)))
        return
    except DatabaseError as exc:
        log.error("case not saved: %s", type(exc).__name__)
        await reply(ack, SAVE_FAILED)
        return
    case, advice = opened.case, opened.advice
    reply_blocks = blocks.playbook_reply(case, advice, nudge_note=opened_note(deps, opened))
    if opened.open_duplicates:
        reply_blocks = case_blocks.duplicate_offer(case, list(opened.open_duplicates)) + \
            reply_blocks
    await ack_encoded(ack, {"text": blocks.playbook_fallback(case, advice),
                            "response_type": "ephemeral", "blocks": blocks.fit(reply_blocks)})
    submit_card(deps, case, inv.response_url)


async def open_intake(ack: Ack, inv: Invocation, deps: Deps) -> None:
    if not inv.trigger_id:
        await reply(ack, f"Describe what went wrong after the command, e.g. `{COMMAND} for "
                         "Dana Lee: charged twice for one order`.")
        return
    await ack()
    view = blocks.intake_modal(
        deps.recovery.contact_keys(),
        {"channel_id": inv.channel_id, "response_url": inv.response_url or ""},
    )
    deps.tasks.spawn(deps.clients.call(inv.team_id, "views_open", trigger_id=inv.trigger_id,
                                       view=view),
                     name="intake-modal")


def register(app: AsyncApp, deps: Deps) -> None:
    async def recover(ack, context):
        await on_recover(ack, payload.of(context), deps, context.get("replay_since"),
                         context.get("inbound_key"))

    for command in COMMANDS:
        app.command(command)(recover)
