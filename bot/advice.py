"""Turn a `Report` into recovery advice from the playbook (plain text, no Slack).

The advice gives the five steps worded for the category, ready-made apologies to say
and to write, the warnings whose conditions match the report, and a compensation
suggestion sized by severity. `apology_variants` words the apology more ways (phone,
writing, internal customer; warm and formal) for an agent to cycle through.
Escaping for Slack is the renderer's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.intake import Report
from bot.playbook import FALLBACK_CATEGORY, Category, Playbook, WarningRule

DEFAULT_WHEN = "by the end of today"
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


def build_advice(report: Report, playbook: Playbook, when_text: str = DEFAULT_WHEN) -> Advice:
    """Advice for one report; `when_text` says when the agent will be back in touch."""
    category = _category_for(report, playbook)
    rules = _rules(playbook, category.key, report.emotion, report.contact, report.severity)
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
    )


@lru_cache(maxsize=4096)
def _rules(playbook: Playbook, category: str, emotion: str, contact: str,
           severity: str) -> tuple[WarningRule, ...]:
    """The warning rules for one combination; few combinations exist, so remember them."""
    return tuple(
        rule for rule in playbook.warnings
        if rule.applies(category=category, emotion=emotion, contact=contact, severity=severity)
    )


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
                     when_text: str = DEFAULT_WHEN) -> tuple[ApologyVariant, ...]:
    """The apology worded every way the playbook offers, in playbook order.

    Each names what went wrong, owns it, says what we will do and by when, and uses
    the customer's name when we know it. A playbook without `apology_variants`
    gives its say/write pair instead.
    """
    category = _category_for(report, playbook)
    values = _apology_values(report, category, when_text)
    if not playbook.apology_variants:
        return (ApologyVariant("say", SAY_LABEL, playbook.apology.say.format(**values)),
                ApologyVariant("write", WRITE_LABEL, playbook.apology.write.format(**values)))
    return tuple(ApologyVariant(v.key, v.label, v.template.format(**values))
                 for v in playbook.apology_variants)


def _apologies(report: Report, category: Category, playbook: Playbook,
               when_text: str) -> tuple[str, str]:
    """Fill the say/write templates; the name is used only when we know it."""
    values = _apology_values(report, category, when_text)
    return (playbook.apology.say.format(**values), playbook.apology.write.format(**values))


def _apology_values(report: Report, category: Category, when_text: str) -> dict[str, str]:
    name = (report.customer or "").strip()
    return {
        "greeting": f"{name}, " if name else "",
        "name": name or NAMELESS,
        "breakdown": _clause(category.breakdown),
        "can_do": _clause(category.can_do),
        "when": _clause(when_text) or DEFAULT_WHEN,
    }


def _clause(text: str) -> str:
    """A phrase that sits mid-sentence: no trailing full stop, single-spaced."""
    return " ".join((text or "").split()).rstrip(" .")
