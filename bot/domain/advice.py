"""Turn a `Report` into recovery advice from the playbook (plain text, no Slack).

The advice gives the five steps worded for the category, ready-made apologies to say
and to write, the warnings whose conditions match the report, and a compensation
suggestion sized by severity. `apology_variants` words the apology more ways (phone,
writing, internal customer; warm and formal) for an agent to cycle through.
Escaping for Slack is the renderer's job.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from bot.domain.intake import Report
from bot.domain.playbook import FALLBACK_CATEGORY, Category, Playbook, WarningRule

FEELING_EMOTIONS = ("upset", "irate")  # who hears apology.feeling before the fix
NAMELESS = "there"  # "Hi there," when we don't know the customer's name
SAY_LABEL = "To say (phone or in person)"  # labels of the say/write pair as variants
WRITE_LABEL = "To write (email or chat)"


@dataclass(frozen=True)
class ApologyVariant:
    key: str  # e.g. "phone_warm"
    label: str  # e.g. "On the phone (warm)"
    text: str  # ready to use; may contain line breaks


@dataclass(frozen=True)
class Advice:
    category_label: str
    steps: tuple[tuple[str, str], ...]  # (title, prompt) in step order
    apology_say: str  # for phone or in person
    apology_write: str  # for email or chat (may contain line breaks)
    warnings: tuple[str, ...]  # texts of the matching warning rules, in playbook order
    compensation: str
    compensation_note: str
    warning_keys: tuple[str, ...] = ()  # keys of the same rules, for tests and logs
    call_first: bool = False  # a warning says to call: the written text follows the call
    also_labels: tuple[str, ...] = ()  # the report's second category, e.g. ("Billing error",)


def promise_for(hours: float) -> str:
    """When the apology says we'll be back, for a follow-up due `hours` from now.

    The ack makes no Web API call, so the agent's timezone (and so the clock time)
    is unknown here: the phrase counts from now, as the follow-up does.
    """
    hours = max(1, round(hours))
    if hours % 24 == 0:
        days = hours // 24
        return "by this time tomorrow" if days == 1 else f"by this time in {days} days"
    return "within the hour" if hours == 1 else f"within {hours} hours"


def default_when(playbook: Playbook) -> str:
    """The promise that matches the follow-up a new case gets (followup_default_hours)."""
    return promise_for(playbook.settings.followup_default_hours)


def build_advice(report: Report, playbook: Playbook, when_text: str | None = None) -> Advice:
    """Advice for one report; `when_text` says when the agent will be back in touch
    (by default, when the playbook's first follow-up falls due)."""
    category = _category_for(report, playbook)
    also = _also(report, playbook, category.key)
    rules = _rules(playbook, category.key, report.emotion, report.contact, report.severity,
                   report.contacts, tuple(c.key for c in also))
    say, write = _apologies(report, category, playbook, when_text)
    return Advice(
        category_label=category.label,
        steps=_steps(playbook, category),
        apology_say=say,
        apology_write=write,
        warnings=tuple(rule.text for rule in rules),
        compensation=playbook.compensation.for_severity(report.severity),
        compensation_note=playbook.compensation.note,
        warning_keys=tuple(rule.key for rule in rules),
        call_first=any(rule.call_first for rule in rules),
        also_labels=tuple(c.label for c in also),
    )


@lru_cache(maxsize=4096)
def _rules(playbook: Playbook, category: str, emotion: str, contact: str,
           severity: str, contacts: tuple[str, ...] = (),
           also: tuple[str, ...] = ()) -> tuple[WarningRule, ...]:
    """The warning rules for one combination; few combinations exist, so remember them."""
    return tuple(
        rule for rule in playbook.warnings
        if rule.applies(category=category, emotion=emotion, contact=contact, severity=severity,
                        contacts=contacts, also=also)
    )


def _also(report: Report, playbook: Playbook, main: str) -> tuple[Category, ...]:
    """The report's second category, if the playbook still has it."""
    keys = playbook.category_keys
    return tuple(playbook.category(key) for key in report.also_categories
                 if key != main and key in keys)


@lru_cache(maxsize=256)
def _steps(playbook: Playbook, category: Category) -> tuple[tuple[str, str], ...]:
    return tuple((step.title, category.step_prompt(step.key)) for step in playbook.steps)


def _category_for(report: Report, playbook: Playbook) -> Category:
    """The report's category, or the fallback if the playbook no longer has it."""
    try:
        return playbook.category(report.category)
    except KeyError:
        return playbook.category(FALLBACK_CATEGORY)


def apology_variants(report: Report, playbook: Playbook,
                     when_text: str | None = None) -> tuple[ApologyVariant, ...]:
    """The apology worded every way the playbook offers, in playbook order.

    Each names what went wrong, owns it, says what we will do and by when, and uses
    the customer's name when we know it. A playbook without `apology_variants`
    gives its say/write pair instead.
    """
    category = _category_for(report, playbook)
    values = _apology_values(report, category, playbook, when_text)
    if not playbook.apology_variants:
        return (ApologyVariant("say", SAY_LABEL, playbook.apology.say.format(**values)),
                ApologyVariant("write", WRITE_LABEL, playbook.apology.write.format(**values)))
    return tuple(ApologyVariant(v.key, v.label, v.template.format(**values))
                 for v in playbook.apology_variants)


def _apologies(report: Report, category: Category, playbook: Playbook,
               when_text: str | None) -> tuple[str, str]:
    """Fill the say/write templates; the name is used only when we know it."""
    values = _apology_values(report, category, playbook, when_text)
    return (playbook.apology.say.format(**values), playbook.apology.write.format(**values))


def _apology_values(report: Report, category: Category, playbook: Playbook,
                    when_text: str | None) -> dict[str, str]:
    name = display_name(report.customer)
    feeling = playbook.apology.feeling if report.emotion in FEELING_EMOTIONS else ""
    return {
        "greeting": f"{name}, " if name else "",
        "name": name or NAMELESS,
        "breakdown": _clause(category.breakdown),
        "can_do": _clause(category.can_do),
        "when": _clause(when_text or "") or default_when(playbook),
        "feeling": f"{feeling} " if feeling else "",
    }


def display_name(name: str | None) -> str:
    """The name as the apology says it: "dana lee" and "DANA LEE" become "Dana Lee".

    Only Latin names typed all in one case are changed (and all-capitals only when a
    word is long enough not to be an acronym, so "IBM" stays); "McAdam" stays as typed.
    """
    name = " ".join((name or "").split())
    letters = [ch for ch in name if ch.isalpha()]
    if not letters or not all(_is_latin(ch) for ch in letters):
        return name
    if name.islower() or (name.isupper() and any(len(w) >= 4 for w in name.split())):
        return " ".join(_title_word(word, i == 0) for i, word in enumerate(name.split()))
    return name


def _title_word(word: str, first: bool) -> str:
    """"o'brien" -> "O'Brien", "jean-luc" -> "Jean-Luc"; "de", "van" stay lower-case
    inside a name ("Maria de la Cruz")."""
    if not first and word.casefold() in _LOWER_PARTICLES:
        return word.casefold()
    return word.title()


_LOWER_PARTICLES = frozenset({"de", "da", "del", "della", "der", "den", "di", "du", "la",
                              "le", "van", "von", "y", "of", "and"})


def _is_latin(ch: str) -> bool:
    return ch.isascii() or unicodedata.name(ch, "").startswith("LATIN")


def _clause(text: str) -> str:
    """A phrase that sits mid-sentence: no trailing full stop, single-spaced."""
    return " ".join((text or "").split()).rstrip(" .")
