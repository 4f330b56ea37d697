"""Rendering Mend's records as Block Kit.

Every piece of user text goes through `escape` and every text field through
`truncate`, so a message never breaks Slack's limits or its mention syntax.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from bot.domain.models import Case
from bot.domain.times import from_iso
from bot.domain.vocabulary import Severity
from handlers.ids import Action, Block, Callback
from handlers.mrkdwn import (
    BUTTON_TEXT_MAX,
    CONTEXT_TEXT_MAX,
    HEADER_TEXT_MAX,
    MAX_MESSAGE_BLOCKS,
    SECTION_TEXT_MAX,
    date_token,
    escape,
    quote,
    truncate,
)

CONTACT_LABELS = {
    "email": "email",
    "phone": "phone",
    "chat": "chat",
    "in_person": "in person",
    "social": "social media",
    "unknown": "not stated",
}
SEVERITY_LABELS = {s: s.value.title() for s in Severity}
EMOTION_LABELS = {"calm": "calm", "upset": "upset", "irate": "irate"}
STATUS_LABELS = {"open": ":large_yellow_circle: Open", "resolved": ":white_check_mark: Resolved",
                 "closed": ":black_circle: Closed"}
Blocks = list[dict[str, Any]]


# -- primitives ----------------------------------------------------------------
def section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block = {"type": "section", "text": mrkdwn(text, SECTION_TEXT_MAX)}
    if block_id:
        block["block_id"] = block_id
    return block


def mrkdwn(text: str, limit: int) -> dict[str, str]:
    return {"type": "mrkdwn", "text": truncate(text, limit)}


def plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit), "emoji": True}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain(text, HEADER_TEXT_MAX)}


def context(text: str, block_id: str | None = None) -> dict[str, Any]:
    block = {"type": "context", "elements": [mrkdwn(text, CONTEXT_TEXT_MAX)]}
    if block_id:
        block["block_id"] = block_id
    return block


def divider() -> dict[str, str]:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str = "") -> dict[str, Any]:
    return {"type": "button", "text": plain(text, BUTTON_TEXT_MAX), "action_id": action_id,
            "value": value}


def fit(blocks: Blocks, limit: int = MAX_MESSAGE_BLOCKS) -> Blocks:
    """Keep a message within Slack's block count, saying that something was cut."""
    if len(blocks) <= limit:
        return blocks
    return blocks[: limit - 1] + [context("_…more than fits in one message._")]


def when(iso: str | None) -> str:
    if not iso:
        return "_not set_"
    # The fallback (shown where tokens aren't rendered) is the stored UTC time.
    return date_token(int(from_iso(iso).timestamp()), f"{iso[:10]} {iso[11:16]} UTC")


def case_title(case: Case, category_label: str) -> str:
    who = f" for {case.customer}" if case.customer else ""
    return f"Case #{case.number}{who} · {category_label}"


# -- the agent's playbook reply --------------------------------------------------
def playbook_reply(case: Case, advice: Any, repeat_note: str | None = None,
                   variant: tuple[Any, int] | None = None, nudge_note: str = "") -> Blocks:
    """The ephemeral answer to `/recover`: steps, wording, warnings, compensation.
    `variant` (an apology variant and the index of the next one) replaces the
    say/write pair after *Another wording* was pressed."""
    facts = " · ".join([
        f"Customer: *{escape(case.customer)}*" if case.customer else "Customer: _not named_",
        f"Contact: {CONTACT_LABELS.get(case.contact, escape(case.contact))}",
        f"Feeling: {EMOTION_LABELS.get(case.emotion, escape(case.emotion))}",
        f"Severity: {SEVERITY_LABELS.get(case.severity, escape(case.severity))}",
        "Owner: you",
    ])
    also = getattr(advice, "also_labels", ())
    label = advice.category_label + (f" (also: {', '.join(also)})" if also else "")
    blocks: Blocks = [
        header(f"Case #{case.number} opened · {label}"),
        context(facts),
        *_advice_sections(advice.steps, advice.warnings, advice.compensation,
                          advice.compensation_note),
        *_wording(case, advice, variant),
    ]
    if repeat_note:
        blocks.append(context(repeat_note))
    blocks.append(context(
        f"The case card is posted in <#{case.channel_id}>. Next follow-up: "
        f"{when(case.next_followup_at)}." + (f"\n{nudge_note}" if nudge_note else "")
    ))
    return fit(blocks)


def _wording(case: Case, advice: Any, variant: tuple[Any, int] | None) -> Blocks:
    if variant is None:
        shown = _apology_sections(advice.apology_say, advice.apology_write,
                                  getattr(advice, "call_first", False),
                                  tuple(getattr(advice, "translations", ())))
        following = 0
    else:
        wording, following = variant
        shown = [section(f"*{escape(wording.label)}*\n{quote(wording.text)}")]
    more = button("Another wording", Action.ANOTHER_WORDING, f"{case.number}:{following}")
    return [*shown, {"type": "actions", "block_id": "wording", "elements": [more]}]


@lru_cache(maxsize=1024)
def _apology_sections(say: str, write: str, call_first: bool, translations: tuple) -> Blocks:
    """The apology to say and to write (and in the customer's language): the same advice
    is rendered once; callers must not change the returned blocks."""
    # When a warning says to call an irate writer, the written text follows the call.
    write_label = ("*To write* (after you have called them)" if call_first
                   else "*To write* (email or chat)")
    shown = [section(f"*To say* (phone or in person)\n{quote(say)}"),
             section(f"{write_label}\n{quote(write)}")]
    # The apology in the customer's language, with the English above for the agent.
    shown += [section(f"*{escape(t.label)}* (to write)\n{quote(t.text)}")
              for t in translations]
    return shown


def playbook_fallback(case: Case, advice: Any) -> str:
    return f"Case #{case.number} opened ({advice.category_label}). Start with an apology."


@lru_cache(maxsize=1024)
def _advice_sections(steps: tuple, warnings: tuple, compensation: str, note: str) -> Blocks:
    """The parts of the playbook reply that depend only on the kind of case.

    Few combinations exist, so they are rendered once; callers must not
    change the returned blocks.
    """
    numbered = "\n".join(
        f"{i}. *{escape(title)}* — {escape(prompt)}"
        for i, (title, prompt) in enumerate(steps, start=1)
    )
    blocks: Blocks = [section(f"*Your recovery steps*\n{numbered}")]
    if warnings:
        lines = "\n".join(f":warning: {escape(w)}" for w in warnings)
        blocks.append(section(f"*Watch out*\n{lines}"))
    blocks.append(section(f"*Compensation*\n{escape(compensation)}\n_{escape(note)}_"))
    blocks.append(divider())
    return blocks


# -- help and errors -------------------------------------------------------------
def help_blocks(entries: list[tuple[str, str]], intro: str | None = None) -> Blocks:
    lines = "\n".join(f"`{escape(usage)}` — {escape(text)}" for usage, text in entries)
    blocks: Blocks = []
    if intro:
        blocks.append(section(intro))
    blocks.append(section(f"*Mend commands*\n{lines}"))
    blocks.append(context(
        "Example: `/recover for Dana Lee: charged twice for her order, emailed us furious`"
    ))
    return blocks


def notice(text: str) -> Blocks:
    """A short message for the acting user; `text` is already mrkdwn-safe."""
    return [section(text)]


# -- the intake modal ------------------------------------------------------------
def intake_modal(contacts: list[str], metadata: dict[str, str],
                 initial: dict[str, str] | None = None) -> dict[str, Any]:
    """The intake form; `initial` fills in what went wrong and the customer (a case
    opened from a message)."""
    def option(key: str, label: str) -> dict[str, Any]:
        return {"text": plain(label, 75), "value": key}

    contact_options = [option(k, CONTACT_LABELS.get(k, k)) for k in contacts]
    severity_options = [option(k, v) for k, v in SEVERITY_LABELS.items()]
    what: dict[str, Any] = {"type": "plain_text_input", "action_id": Action.WHAT,
                            "multiline": True, "max_length": 3000,
                            "placeholder": plain("Charged twice, waited 40 minutes on hold…", 150)}
    customer: dict[str, Any] = {"type": "plain_text_input", "action_id": Action.CUSTOMER,
                                "max_length": 80}
    for element, value in ((what, (initial or {}).get("what")),
                           (customer, (initial or {}).get("customer"))):
        if value:
            element["initial_value"] = value[:element["max_length"]]
    return {
        "type": "modal",
        "callback_id": Callback.INTAKE,
        "private_metadata": json.dumps(metadata),
        "title": plain("Open a recovery case", 24),
        "submit": plain("Open case", 24),
        "close": plain("Cancel", 24),
        "blocks": [
            {"type": "input", "block_id": Block.WHAT, "label": plain("What went wrong?", 2000),
             "element": what},
            {"type": "input", "block_id": Block.CUSTOMER, "optional": True,
             "label": plain("Customer", 2000), "element": customer},
            {"type": "input", "block_id": Block.CONTACT, "optional": True,
             "label": plain("How did they reach us?", 2000),
             "element": {"type": "static_select", "action_id": Action.CONTACT,
                         "options": contact_options}},
            {"type": "input", "block_id": Block.SEVERITY, "label": plain("Severity", 2000),
             "element": {"type": "static_select", "action_id": Action.SEVERITY,
                         "options": severity_options, "initial_option": severity_options[0]}},
        ],
    }


def playbook_modal(case: Case, advice: Any, nudge_note: str = "") -> dict[str, Any]:
    """The intake modal turns into the playbook once the case is open."""
    return {
        "type": "modal",
        "title": plain(f"Case #{case.number}", 24),
        "close": plain("Done", 24),
        # No "Another wording" inside a modal: its answer goes to the message it came from.
        "blocks": [b for b in playbook_reply(case, advice, nudge_note=nudge_note)
                   if b.get("block_id") != "wording"],
    }
