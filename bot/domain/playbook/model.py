"""The playbook as frozen dataclasses: steps, categories, cues, warnings and settings.

`bot.domain.playbook.load_playbook` builds a `Playbook` from data/playbook.yaml
(see `bot.domain.playbook.reader` for the validation).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from functools import cached_property

from bot.domain.datafiles import data_file
from bot.domain.text import CueMatcher, tokenize

STEP_KEYS = ("apologize", "act", "compassion", "compensate", "follow_up")
EMOTIONS = ("calm", "upset", "irate")
SEVERITIES = ("normal", "high", "critical")
UNKNOWN_CONTACT = "unknown"
IGNORED_CONTACT = "ignore"  # contact cues that name a channel without being one ("email address")
FALLBACK_CATEGORY = "general"
SUPPORTED_VERSIONS = (1,)
TEMPLATE_FIELDS = ("greeting", "name", "salutation", "what", "breakdown", "stakes", "can_do",
                   "when", "feeling")
REQUIRED_TEMPLATE_FIELDS = ("can_do",)  # and {what} or {breakdown}
TRANSLATION_FIELDS = ("salutation", "breakdown", "stakes", "feeling", "can_do", "when")
WHEN_KEYS = ("hour", "hours", "tomorrow", "days", "other")
DEFAULT_PLAYBOOK_PATH = data_file("playbook.yaml")


class PlaybookError(Exception):
    """The playbook file is missing, not valid YAML, or breaks a rule (one-line message)."""



@dataclass(frozen=True)
class Matchers:
    """The compiled cue matchers of one playbook."""

    category: CueMatcher
    emotion: CueMatcher
    severity: CueMatcher
    contact: CueMatcher



# -- the playbook model --------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    key: str
    title: str
    prompt: str


@dataclass(frozen=True, eq=False)  # identity hash: cheap cache key
class Category:
    key: str
    label: str
    cues: tuple[str, ...]
    breakdown: str
    can_do: str
    steps: tuple[tuple[str, str], ...]  # (step key, prompt) in STEP_KEYS order
    compensation: tuple[tuple[str, str], ...] = ()  # (severity, text) replacing the default

    def step_prompt(self, step_key: str) -> str:
        """The category's prompt for one recovery step."""
        for key, prompt in self.steps:
            if key == step_key:
                return prompt
        raise KeyError(step_key)


@dataclass(frozen=True)
class Apology:
    say: str
    write: str
    feeling: str = ""  # {feeling}: said to an upset or irate customer before the fix
    stakes_ahead: str = ""  # {stakes}: with "{stakes}" for an occasion still to come
    stakes_past: str = ""  # {stakes}: for one that has passed ("last Saturday")
    salutation: tuple[str, str, str] = ("Hi {first},", "Hello {title},", "Hello,")


@dataclass(frozen=True)
class Translation:
    """The apology written in another language (Mend cannot translate offline)."""

    language: str  # ISO 639-1
    label: str  # e.g. "En español"
    salutation: tuple[str, str]  # (with "{name}", without a name)
    feeling: str
    stakes: str
    when: tuple[tuple[str, str], ...]  # (WHEN_KEYS key, words with {n})
    template: str
    categories: tuple[tuple[str, str, str], ...]  # (category key, breakdown, can_do)

    def words(self, category: str) -> tuple[str, str]:
        """(breakdown, can_do) for a category, or the fallback category's."""
        by_key = {key: (breakdown, can_do) for key, breakdown, can_do in self.categories}
        return by_key.get(category) or by_key[FALLBACK_CATEGORY]


@dataclass(frozen=True)
class ApologyTemplate:
    """One more way to word the apology (phone, writing, internal; warm or formal)."""

    key: str
    label: str
    template: str


@dataclass(frozen=True)
class EmotionRules:
    irate: tuple[str, ...]
    upset: tuple[str, ...]
    shouting_ratio: float
    shouting_min_letters: int
    irate_exclamations: int
    upset_exclamations: int
    calm: tuple[str, ...] = ()  # the report says the customer is calm about it


@dataclass(frozen=True)
class SeverityRules:
    high: tuple[str, ...]
    critical: tuple[str, ...]
    repeat_times: int = 3  # "called 3 times", "3rd time": from this count the case is high

    @property
    def levels(self) -> tuple[str, ...]:
        return SEVERITIES


@dataclass(frozen=True)
class Channel:
    key: str
    cues: tuple[str, ...]


@dataclass(frozen=True)
class ContactRules:
    channels: tuple[Channel, ...]
    ignore: tuple[str, ...] = ()  # "email address": names a channel without being one

    @property
    def keys(self) -> tuple[str, ...]:
        """Channel keys in playbook order, without "unknown"."""
        return tuple(channel.key for channel in self.channels)


@dataclass(frozen=True)
class Compensation:
    normal: str
    high: str
    critical: str
    note: str

    def for_severity(self, severity: str) -> str:
        """The suggestion for a severity level; unknown levels get the normal one."""
        return {"high": self.high, "critical": self.critical}.get(severity, self.normal)


@dataclass(frozen=True)
class WarningRule:
    key: str
    text: str
    always: bool = False
    emotion: tuple[str, ...] = ()
    contact: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    call_first: bool = False  # the written apology follows a call rather than replacing it

    def applies(self, *, category: str, emotion: str, contact: str, severity: str,
                contacts: tuple[str, ...] = (), also: tuple[str, ...] = ()) -> bool:
        """True when every condition given in `when` holds (lists mean any-of).

        `contacts` are the other channels the report mentions and `also` its second
        category: a condition on either holds when any of them qualifies ("called,
        then tweeted" is public; "double billed and hung up on" is a billing error too).
        """
        checks = ((self.emotion, emotion), (self.severity, severity))
        if not self.always and not self.contact and not self.category and \
                not any(allowed for allowed, _ in checks):
            return False
        if not _any_in(self.contact, contact, contacts) or \
                not _any_in(self.category, category, also):
            return False
        return all(not allowed or value in allowed for allowed, value in checks)


def _any_in(allowed: tuple[str, ...], value: str, others: tuple[str, ...]) -> bool:
    """No condition, or the value or one of the others is allowed."""
    return not allowed or value in allowed or any(other in allowed for other in others)


@dataclass(frozen=True)
class Settings:
    followup_default_hours: int
    satisfaction_followup_days: int
    max_open_per_owner: int


@dataclass(frozen=True)
class NudgeRules:
    """The follow-up nudge ladder and default working hours."""

    remind_every: timedelta
    max_reminders: int
    escalate_after: timedelta
    unassign_after: timedelta | None  # None: cases are never unassigned automatically
    update_every: timedelta
    work_days: tuple[int, ...]  # 0 = Monday
    work_start: time
    work_end: time


@dataclass(frozen=True, eq=False)  # identity hash: cheap cache key
class Playbook:
    version: int
    steps: tuple[Step, ...]
    categories: tuple[Category, ...]
    apology: Apology
    emotion: EmotionRules
    severity: SeverityRules
    contact: ContactRules
    compensation: Compensation
    warnings: tuple[WarningRule, ...]
    settings: Settings
    nudges: NudgeRules
    apology_variants: tuple[ApologyTemplate, ...] = ()  # () when the file has none
    translations: tuple[Translation, ...] = ()  # apologies in other languages

    @property
    def step_keys(self) -> tuple[str, ...]:
        return tuple(step.key for step in self.steps)

    @property
    def category_keys(self) -> tuple[str, ...]:
        return tuple(category.key for category in self.categories)

    def category(self, key: str) -> Category:
        """The category with this key; KeyError if the playbook has none."""
        for category in self.categories:
            if category.key == key:
                return category
        raise KeyError(f"no category {key!r} in the playbook")

    @property
    def fallback(self) -> Category:
        """The `general` category, used when no cue matches."""
        return self.category(FALLBACK_CATEGORY)

    @cached_property
    def matchers(self) -> Matchers:
        """Cue matchers compiled once per playbook (load_playbook builds them eagerly)."""
        return Matchers(
            category=CueMatcher((c.key, c.cues) for c in self.categories),
            emotion=CueMatcher([("irate", self.emotion.irate), ("upset", self.emotion.upset),
                                ("calm", self.emotion.calm)]),
            severity=CueMatcher([("critical", self.severity.critical),
                                 ("high", self.severity.high)]),
            contact=CueMatcher([*((c.key, c.cues) for c in self.contact.channels),
                                (IGNORED_CONTACT, self.contact.ignore)]),
        )

    @cached_property
    def cue_words(self) -> frozenset[str]:
        """Every word of every category, feeling, severity and channel cue: such a word
        typed in lower case is part of the story, not a customer's name."""
        cues = [*(cue for c in self.categories for cue in c.cues), *self.emotion.irate,
                *self.emotion.upset, *self.severity.critical, *self.severity.high,
                *(cue for c in self.contact.channels for cue in c.cues)]
        return frozenset(word for cue in cues for word in tokenize(cue) if word.isalpha())

