"""Turn a `Report` into recovery advice from the playbook (plain text, no Slack).

The advice gives the five steps worded for the category, ready-made apologies to say
and to write, the warnings whose conditions match the report, and a compensation
suggestion sized by severity. `apology_variants` words the apology more ways (phone,
writing, internal customer; warm and formal) for an agent to cycle through.
Escaping for Slack is the renderer's job.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from bot.domain import situation
from bot.domain.intake import Report
from bot.domain.playbook import FALLBACK_CATEGORY, Category, Playbook, Translation, WarningRule

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
    translations: tuple[ApologyVariant, ...] = ()  # the apology in the report's language


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
    return _advice(_advised(report, playbook), playbook, when_text)


@lru_cache(maxsize=1024)  # a repeated report (read from the reading's cache) costs one lookup
def _advised(report: Report, playbook: Playbook) -> Report:
    """The report as the advice reads it: its summary and cues only count where the
    apology names what happened in the report's words, so elsewhere they are blanked
    and a new text that reads like an earlier one is advised from the cache."""
    if report.language == "en" and \
            _category_for(report, playbook).key in WHAT_CATEGORIES:
        return report
    if not report.summary and not report.category_cues:
        return report
    return dataclasses.replace(report, summary="", category_cues=())


# Advice is immutable and depends only on these three (the playbook by identity): the
# same report promising the same time is worded once.
@lru_cache(maxsize=1024)
def _advice(report: Report, playbook: Playbook, when_text: str | None) -> Advice:
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
        compensation=_compensation(playbook, category, report.severity),
        compensation_note=playbook.compensation.note,
        warning_keys=tuple(rule.key for rule in rules),
        call_first=any(rule.call_first for rule in rules),
        also_labels=tuple(c.label for c in also),
        translations=translated(report, playbook, when_text),
    )


def _compensation(playbook: Playbook, category: Category, severity: str) -> str:
    """The category's own gesture for this severity, else the playbook's."""
    own = dict(category.compensation)
    return own.get(severity) or playbook.compensation.for_severity(severity)


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
    extra = translated(report, playbook, when_text)
    if not playbook.apology_variants:
        return (ApologyVariant("say", SAY_LABEL, _tidy(playbook.apology.say.format(**values))),
                ApologyVariant("write", WRITE_LABEL,
                               _tidy(playbook.apology.write.format(**values))), *extra)
    return (*(ApologyVariant(v.key, v.label, _tidy(v.template.format(**values)))
              for v in playbook.apology_variants), *extra)


def _apologies(report: Report, category: Category, playbook: Playbook,
               when_text: str | None) -> tuple[str, str]:
    """Fill the say/write templates; the name is used only when we know it."""
    values = _apology_values(report, category, playbook, when_text)
    return (_tidy(playbook.apology.say.format(**values)),
            _tidy(playbook.apology.write.format(**values)))


def _apology_values(report: Report, category: Category, playbook: Playbook,
                    when_text: str | None) -> dict[str, str]:
    first, title = address(report.customer)
    name = first or title
    feeling = playbook.apology.feeling if report.emotion in FEELING_EMOTIONS else ""
    breakdown = _clause(category.breakdown)
    what = None
    if report.language == "en" and category.key in WHAT_CATEGORIES:
        what = situation.what_happened(report.summary, report.category_cues)
    first_greet, title_greet, nameless = playbook.apology.salutation
    salutation = (first_greet.format(first=first) if first else
                  title_greet.format(title=title) if title else nameless)
    return {
        "greeting": f"{name}, " if name else "",
        "name": name or NAMELESS,
        "salutation": salutation,
        "what": what or f"we {breakdown}",
        "breakdown": breakdown,
        "stakes": _stakes_sentence(report.stakes, playbook),
        "can_do": _clause(category.can_do),
        "when": _clause(when_text or "") or default_when(playbook),
        "feeling": f"{feeling} " if feeling else "",
    }


# Categories whose apology can name the thing in the report's words ("your dress
# arrived torn"); the others read better in the playbook's words.
WHAT_CATEGORIES = ("product_defect", "broken_promise")
_PAST_RE = re.compile(r"\b(?:last|yesterday|ago|was|passed)\b", re.I)
_OWNER_RE = re.compile(r"^(?:my|our|his|her|their|the|a)\s+", re.I)


def _stakes_sentence(stakes: str | None, playbook: Playbook) -> str:
    """apology.stakes_ahead (or stakes_past) with "your <stakes>", and a space; or ""."""
    stakes = _clause(stakes or "")
    template = playbook.apology.stakes_past if _PAST_RE.search(stakes) else \
        playbook.apology.stakes_ahead
    if not stakes or not template:
        return ""
    return template.format(stakes=_OWNER_RE.sub("", stakes)) + " "


def translated(report: Report, playbook: Playbook,
               when_text: str | None = None) -> tuple[ApologyVariant, ...]:
    """The apology in the report's language, when the playbook has it written."""
    for translation in playbook.translations:
        if translation.language == report.language != "en":
            text = _translate(translation, report, playbook, when_text)
            return (ApologyVariant(f"written_{translation.language}", translation.label, text),)
    return ()


def _translate(translation: Translation, report: Report, playbook: Playbook,
               when_text: str | None) -> str:
    first, title = address(report.customer)
    named, nameless = translation.salutation
    breakdown, can_do = translation.words(_category_for(report, playbook).key)
    feeling = translation.feeling if report.emotion in FEELING_EMOTIONS else ""
    return _tidy(translation.template.format(
        salutation=named.format(name=first or title) if first or title else nameless,
        breakdown=_clause(breakdown), can_do=_clause(can_do),
        stakes=f"{translation.stakes} " if report.stakes else "",
        feeling=f"{feeling} " if feeling else "",
        when=_when_in(translation, when_text or default_when(playbook))))


_PROMISE_RE = re.compile(r"(?:by this time (?:tomorrow|in (?P<days>\d+) days)"
                         r"|within (?:the hour|(?P<hours>\d+) hours))\Z")


def _when_in(translation: Translation, when_text: str) -> str:
    """`promise_for`'s English phrase in the translation's words."""
    words = dict(translation.when)
    match = _PROMISE_RE.match(_clause(when_text))
    if not match:
        return words["other"]
    if match.group("days"):
        return words["days"].format(n=match.group("days"))
    if match.group("hours"):
        return words["hours"].format(n=match.group("hours"))
    return words["tomorrow" if "tomorrow" in when_text else "hour"]


_TITLES = frozenset("""mr mrs ms miss mx dr prof sir dame sr sra srta señor señora don doña
    dona seu m mme mlle madame monsieur herr frau""".split())
_JOINERS = frozenset({"and", "&", "et", "y", "e", "und"})


def address(customer: str | None) -> tuple[str, str]:
    """(first name, "") or ("", title and surname) or ("", "") for the greeting:
    "Maria Lopez" -> ("Maria", ""), "Mrs. Edna Price" -> ("", "Mrs Price"),
    "Julie et Thomas Moreau" -> ("Julie and Thomas", "")."""
    words = display_name(customer).split()
    if not words:
        return "", ""
    head = words[0].rstrip(".").casefold()
    if head in _TITLES and len(words) > 1:
        titles = [w.rstrip(".") for w in words[:-1] if w.rstrip(".").casefold() in
                  _TITLES | _JOINERS]
        return "", " ".join([*titles, words[-1]]) if len(titles) > 1 else \
            f"{words[0].rstrip('.')} {words[-1]}"
    if any(w.casefold() in _JOINERS for w in words):
        names = [w for w in words[:-1] if w.casefold() not in _JOINERS]
        return (" and ".join(names) if names else words[0]), ""
    return words[0].rstrip(".,"), ""


_DOUBLED_RE = re.compile(r"(?<=\S) {2,}")


def _tidy(text: str) -> str:
    """No doubled spaces inside a line, none at a line's end."""
    return "\n".join(_DOUBLED_RE.sub(" ", line).rstrip() for line in text.split("\n"))


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
