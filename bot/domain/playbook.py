"""The service-recovery playbook: load, validate and match cues from data/playbook.yaml.

The playbook is plain data that an operations lead edits. `load_playbook` turns the
YAML into frozen dataclasses and rejects anything it does not understand with a
`PlaybookError` naming the file, the line and the key path, e.g.::

    data/playbook.yaml line 42: categories.billing_error.steps: missing 'follow_up'

Cue matching lives here too (`tokenize`, `CueMatcher`) so that every cue list is
compiled once per playbook, at load time, and reused by `bot.domain.intake`.
"""

from __future__ import annotations

import os
import re
import string
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, NoReturn

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

STEP_KEYS = ("apologize", "act", "compassion", "compensate", "follow_up")
EMOTIONS = ("calm", "upset", "irate")
SEVERITIES = ("normal", "high", "critical")
UNKNOWN_CONTACT = "unknown"
IGNORED_CONTACT = "ignore"  # contact cues that name a channel without being one ("email address")
FALLBACK_CATEGORY = "general"
SUPPORTED_VERSIONS = (1,)
TEMPLATE_FIELDS = ("greeting", "name", "breakdown", "can_do", "when", "feeling")
REQUIRED_TEMPLATE_FIELDS = ("breakdown", "can_do")
DEFAULT_PLAYBOOK_PATH = Path(__file__).resolve().parents[2] / "data" / "playbook.yaml"

_KEY_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
_DURATION_RE = re.compile(r"(\d{1,5})\s*([mhd])\Z")
_CLOCK_RE = re.compile(r"(\d{1,2}):(\d{2})\Z")
_STR_TAG = "tag:yaml.org,2002:str"


class PlaybookError(Exception):
    """The playbook file is missing, not valid YAML, or breaks a rule (one-line message)."""


# -- tokens and cue matching ---------------------------------------------------------
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
# An apostrophe inside a word is dropped, so "didn't", "didn’t" and "didnt" are one token
# (agents often type contractions without one); a final 's goes with it, so "courier's"
# still matches "courier".
_APOSTROPHE_RE = re.compile(r"['\u2018\u2019`\u00b4](?<=\w.)(?:s\b|(?=\w))")
# Hyphens, stray apostrophes and invisible emoji joiners are ignored on both sides of a match.
_IGNORED_TOKENS = frozenset("-\u2010\u2011'\u2018\u2019`\u00b4\ufe0f\u200d")


def tokenize(text: str) -> tuple[str, ...]:
    """Split text into case-folded words and single symbols, dropping hyphens/apostrophes.

    "Double-charged, DIDN'T call 😡" -> ("double", "charged", ",", "didnt", "call", "😡")
    """
    folded = _APOSTROPHE_RE.sub("", unicodedata.normalize("NFC", text).casefold())
    return tuple(t for t in _TOKEN_RE.findall(folded) if t not in _IGNORED_TOKENS)


@dataclass(frozen=True)
class CueHit:
    """One cue found in a text: which cue, which labels own it, its weight and position."""

    cue: str
    labels: tuple[str, ...]
    weight: int
    position: int


class CueMatcher:
    """Finds labelled cue phrases in a token sequence, longest phrase first.

    Built from (label, cues) groups. At each position the longest cue that matches
    wins and consumes its tokens, so "charged twice" is one hit, not also "charged".
    A cue listed under several labels yields one hit carrying all of them.
    """

    __slots__ = ("_index",)

    def __init__(self, groups: Iterable[tuple[str, Sequence[str]]]):
        by_tokens: dict[tuple[str, ...], tuple[str, list[str]]] = {}
        for label, cues in groups:
            for cue in cues:
                tokens = tokenize(cue)
                if not tokens:
                    continue
                _first, labels = by_tokens.setdefault(tokens, (cue, []))
                if label not in labels:
                    labels.append(label)
        index: dict[str, list[tuple[tuple[str, ...], CueHit]]] = {}
        for tokens, (cue, labels) in by_tokens.items():
            hit = CueHit(cue, tuple(labels), max(1, len(cue.split())), -1)
            index.setdefault(tokens[0], []).append((tokens, hit))
        for entries in index.values():
            entries.sort(key=lambda entry: -len(entry[0]))
        self._index = index

    def find(self, tokens: Sequence[str]) -> list[CueHit]:
        """Return the non-overlapping hits in text order (position = token index)."""
        hits: list[CueHit] = []
        index = self._index
        i, n = 0, len(tokens)
        while i < n:
            entries = index.get(tokens[i])
            if entries:
                for cue_tokens, hit in entries:
                    size = len(cue_tokens)
                    if size == 1 or tuple(tokens[i:i + size]) == cue_tokens:
                        hits.append(CueHit(hit.cue, hit.labels, hit.weight, i))
                        i += size
                        break
                else:
                    i += 1
            else:
                i += 1
        return hits


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
            emotion=CueMatcher([("irate", self.emotion.irate), ("upset", self.emotion.upset)]),
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


# -- loading -------------------------------------------------------------------------
KeyPath = tuple[str | int, ...]


def read_source(path: str | os.PathLike[str], error: type[Exception],
                what: str) -> tuple[str, str]:
    """(text, source name) of a data file, or `error` saying it cannot be read."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as handle:
            return handle.read(), source
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{source}: cannot read {what}: {exc}") from exc


def load_playbook(path: str | os.PathLike[str] = DEFAULT_PLAYBOOK_PATH) -> Playbook:
    """Read, validate and compile the playbook at `path`; raise PlaybookError if invalid."""
    return parse_playbook(*read_source(path, PlaybookError, "playbook"))


def parse_playbook(text: str, source: str = "<playbook>") -> Playbook:
    """Validate playbook YAML text; `source` names the file in error messages."""
    data, lines = _compose(text, source)
    playbook = _Reader(source, lines).playbook(data)
    _ = playbook.matchers, playbook.cue_words  # compile now, not on the first report
    return playbook


def _compose(text: str, source: str) -> tuple[Any, dict[KeyPath, int]]:
    """Parse YAML into Python data plus a map from key path to line number."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[KeyPath, int] = {(): 1}
        if node is not None:
            _map_lines(node, (), lines, source)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise PlaybookError(f"{source}{where}: YAML syntax error: {problem}") from exc
    except yaml.YAMLError as exc:
        raise PlaybookError(f"{source}: YAML syntax error: {exc}") from exc
    finally:
        loader.dispose()
    return data, lines


def _map_lines(node: Node, path: KeyPath, lines: dict[KeyPath, int], source: str) -> None:
    """Record the line of every key and list item; reject duplicate or non-text keys."""
    if isinstance(node, MappingNode):
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR_TAG:
                shown = key_node.value if isinstance(key_node, ScalarNode) else "?"
                _fail_at(source, line, path, f"key {shown!r} must be text")
            key = key_node.value
            if key in first_seen:
                _fail_at(source, line, path,
                         f"duplicate key {key!r} (first defined on line {first_seen[key]})")
            first_seen[key] = line
            lines[path + (key,)] = line
            _map_lines(value_node, path + (key,), lines, source)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _map_lines(item, path + (i,), lines, source)


def _dotted(path: KeyPath) -> str:
    """('warnings', 2, 'when') -> 'warnings[2].when'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fail_at(source: str, line: int, path: KeyPath, message: str) -> NoReturn:
    where = _dotted(path) if path else "top level"
    raise PlaybookError(f"{source} line {line}: {where}: {message}")


class _Reader:
    """Validates the parsed YAML piece by piece and builds the dataclasses."""

    def __init__(self, source: str, lines: dict[KeyPath, int]):
        self.source = source
        self.lines = lines

    # - primitives -
    def fail(self, path: KeyPath, message: str) -> NoReturn:
        """Raise PlaybookError at the line of `path` (or its nearest known parent)."""
        probe = path
        while probe not in self.lines:
            probe = probe[:-1]
        _fail_at(self.source, self.lines[probe], path, message)

    def mapping(self, value: Any, path: KeyPath, required: Sequence[str],
                optional: Sequence[str] = ()) -> dict[str, Any]:
        """Check `value` is a mapping with all `required` keys and nothing unknown."""
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping of keys, got {_kind(value)}")
        allowed = list(required) + list(optional)
        for key in value:
            if key not in allowed:
                self.fail(path + (key,), f"unknown key (allowed: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                self.fail(path, f"missing {key!r}")
        return value

    def text(self, value: Any, path: KeyPath) -> str:
        """A non-empty string, with surrounding whitespace removed."""
        if not isinstance(value, str):
            self.fail(path, f"expected text, got {_kind(value)}")
        if not value.strip():
            self.fail(path, "must not be empty")
        return value.strip()

    def integer(self, value: Any, path: KeyPath, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, f"expected a whole number, got {_kind(value)}")
        if value < minimum:
            self.fail(path, f"must be at least {minimum}, got {value}")
        return value

    def key_name(self, key: Any, path: KeyPath) -> str:
        if not _KEY_RE.match(key):
            self.fail(path, "keys must be lower-case letters, digits and underscores")
        return key

    def cues(self, value: Any, path: KeyPath, allow_empty: bool = False) -> tuple[str, ...]:
        """A list of distinct, non-empty cue strings, case-folded."""
        if not isinstance(value, list):
            self.fail(path, f"expected a list of cues, got {_kind(value)}")
        if not value and not allow_empty:
            self.fail(path, "needs at least one cue")
        seen: set[str] = set()
        out = []
        for i, item in enumerate(value):
            cue = " ".join(self.text(item, path + (i,)).casefold().split())
            if not tokenize(cue):
                self.fail(path + (i,), f"cue {item!r} has no words or symbols to match")
            if cue in seen:
                self.fail(path + (i,), f"duplicate cue {cue!r}")
            seen.add(cue)
            out.append(cue)
        return tuple(out)

    def template(self, value: Any, path: KeyPath, allowed: Sequence[str] = TEMPLATE_FIELDS,
                 required: Sequence[str] = REQUIRED_TEMPLATE_FIELDS) -> str:
        """A text template using only `allowed` {placeholders}, including the `required` ones."""
        text = self.text(value, path)
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            self.fail(path, f"bad braces in template: {exc} (use {{{{ and }}}} for literal braces)")
        used = set()
        for _literal, field, spec, conversion in parsed:
            if field is None:
                continue
            if field not in allowed:
                self.fail(path, f"unknown placeholder {{{field}}} "
                                f"(allowed: {', '.join('{' + f + '}' for f in allowed)})")
            if spec or conversion:
                self.fail(path, f"placeholder {{{field}}} must not have a format or conversion")
            used.add(field)
        for field in required:
            if field not in used:
                self.fail(path, f"template must include {{{field}}}")
        return text

    # - sections -
    def playbook(self, data: Any) -> Playbook:
        top = self.mapping(data, (), ["version", "steps", "categories", "apology", "emotion",
                                      "severity", "contact", "compensation", "warnings",
                                      "settings", "nudges"], ["apology_variants"])
        version = self.integer(top["version"], ("version",))
        if version not in SUPPORTED_VERSIONS:
            self.fail(("version",), f"unsupported version {version} "
                                    f"(this Mend reads version {SUPPORTED_VERSIONS[-1]})")
        categories = self.categories(top["categories"], ("categories",))
        contact = self.contact(top["contact"], ("contact",))
        return Playbook(
            version=version,
            steps=self.steps(top["steps"], ("steps",)),
            categories=categories,
            apology=self.apology(top["apology"], ("apology",)),
            emotion=self.emotion(top["emotion"], ("emotion",)),
            severity=self.severity(top["severity"], ("severity",)),
            contact=contact,
            compensation=self.compensation(top["compensation"], ("compensation",)),
            warnings=self.warnings(top["warnings"], ("warnings",), categories, contact),
            settings=self.settings(top["settings"], ("settings",)),
            nudges=self.nudges(top["nudges"], ("nudges",)),
            apology_variants=self.apology_variants(top.get("apology_variants"),
                                                   ("apology_variants",)),
        )

    def steps(self, value: Any, path: KeyPath) -> tuple[Step, ...]:
        steps = self.mapping(value, path, STEP_KEYS)
        out = []
        for key in STEP_KEYS:
            item = self.mapping(steps[key], path + (key,), ["title", "prompt"])
            out.append(Step(key, self.text(item["title"], path + (key, "title")),
                            self.text(item["prompt"], path + (key, "prompt"))))
        return tuple(out)

    def categories(self, value: Any, path: KeyPath) -> tuple[Category, ...]:
        if not isinstance(value, dict) or not value:
            self.fail(path, f"expected a mapping of categories, got {_kind(value)}")
        if FALLBACK_CATEGORY not in value:
            self.fail(path, f"missing {FALLBACK_CATEGORY!r} (the fallback category)")
        return tuple(self.category(key, item, path + (key,)) for key, item in value.items())

    def category(self, key: str, value: Any, path: KeyPath) -> Category:
        self.key_name(key, path)
        item = self.mapping(value, path, ["label", "cues", "breakdown", "can_do", "steps"])
        prompts = self.mapping(item["steps"], path + ("steps",), STEP_KEYS)
        return Category(
            key=key,
            label=self.text(item["label"], path + ("label",)),
            cues=self.cues(item["cues"], path + ("cues",),
                           allow_empty=key == FALLBACK_CATEGORY),
            breakdown=self.text(item["breakdown"], path + ("breakdown",)),
            can_do=self.text(item["can_do"], path + ("can_do",)),
            steps=tuple((k, self.text(prompts[k], path + ("steps", k))) for k in STEP_KEYS),
        )

    def apology(self, value: Any, path: KeyPath) -> Apology:
        item = self.mapping(value, path, ["say", "write"], ["feeling"])
        feeling = self.text(item["feeling"], path + ("feeling",)) if "feeling" in item else ""
        if feeling and any(ch in feeling for ch in "{}"):
            self.fail(path + ("feeling",), "must be plain text without {placeholders}")
        return Apology(say=self.template(item["say"], path + ("say",)),
                       write=self.template(item["write"], path + ("write",)),
                       feeling=feeling)

    def apology_variants(self, value: Any, path: KeyPath) -> tuple[ApologyTemplate, ...]:
        """Optional: [{key, label, template}], each template saying by {when}."""
        if value is None:
            return ()
        if not isinstance(value, list) or not value:
            self.fail(path, "expected a non-empty list of {key, label, template} "
                            "(remove the key to use the apology say/write pair)")
        out: list[ApologyTemplate] = []
        for i, item in enumerate(value):
            where = path + (i,)
            fields = self.mapping(item, where, ["key", "label", "template"])
            key = self.key_name(self.text(fields["key"], where + ("key",)), where + ("key",))
            if any(variant.key == key for variant in out):
                self.fail(where + ("key",), f"duplicate apology variant key {key!r}")
            template = self.template(fields["template"], where + ("template",))
            if "{when}" not in template:
                self.fail(where + ("template",), "template must include {when}")
            if "{name}" not in template and "{greeting}" not in template:
                self.fail(where + ("template",), "template must include {name} or {greeting}")
            out.append(ApologyTemplate(key, self.text(fields["label"], where + ("label",)),
                                       template))
        return tuple(out)

    def emotion(self, value: Any, path: KeyPath) -> EmotionRules:
        item = self.mapping(value, path, ["irate", "upset", "shouting_ratio", "exclamations"],
                            ["shouting_min_letters"])
        ratio = item["shouting_ratio"]
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 < ratio <= 1:
            self.fail(path + ("shouting_ratio",), "expected a number above 0 and at most 1")
        marks = self.mapping(item["exclamations"], path + ("exclamations",), ["irate", "upset"])
        irate_marks = self.integer(marks["irate"], path + ("exclamations", "irate"))
        upset_marks = self.integer(marks["upset"], path + ("exclamations", "upset"))
        if upset_marks > irate_marks:
            self.fail(path + ("exclamations", "upset"), "must not be more than irate")
        return EmotionRules(
            irate=self.cues(item["irate"], path + ("irate",)),
            upset=self.cues(item["upset"], path + ("upset",)),
            shouting_ratio=float(ratio),
            shouting_min_letters=self.integer(item.get("shouting_min_letters", 8),
                                              path + ("shouting_min_letters",)),
            irate_exclamations=irate_marks,
            upset_exclamations=upset_marks,
        )

    def severity(self, value: Any, path: KeyPath) -> SeverityRules:
        item = self.mapping(value, path, ["critical", "high"], ["repeat_times"])
        return SeverityRules(critical=self.cues(item["critical"], path + ("critical",)),
                             high=self.cues(item["high"], path + ("high",)),
                             repeat_times=self.integer(item.get("repeat_times", 3),
                                                       path + ("repeat_times",), minimum=2))

    def contact(self, value: Any, path: KeyPath) -> ContactRules:
        if not isinstance(value, dict) or not value:
            self.fail(path, f"expected a mapping of channels, got {_kind(value)}")
        channels = []
        ignore: tuple[str, ...] = ()
        for key, cues in value.items():
            self.key_name(key, path + (key,))
            if key == UNKNOWN_CONTACT:
                self.fail(path + (key,), f"{UNKNOWN_CONTACT!r} is reserved for no match")
            if key == IGNORED_CONTACT:
                ignore = self.cues(cues, path + (key,))
            else:
                channels.append(Channel(key, self.cues(cues, path + (key,))))
        if not channels:
            self.fail(path, "needs at least one channel besides 'ignore'")
        return ContactRules(tuple(channels), ignore)

    def compensation(self, value: Any, path: KeyPath) -> Compensation:
        item = self.mapping(value, path, ["normal", "high", "critical", "note"])
        return Compensation(**{k: self.text(item[k], path + (k,)) for k in item})

    def warnings(self, value: Any, path: KeyPath, categories: tuple[Category, ...],
                 contact: ContactRules) -> tuple[WarningRule, ...]:
        if not isinstance(value, list):
            self.fail(path, f"expected a list of warning rules, got {_kind(value)}")
        known = {
            "emotion": EMOTIONS,
            "contact": contact.keys + (UNKNOWN_CONTACT,),
            "category": tuple(c.key for c in categories),
            "severity": SEVERITIES,
        }
        rules: list[WarningRule] = []
        for i, item in enumerate(value):
            rule = self.warning(item, path + (i,), known)
            if any(r.key == rule.key for r in rules):
                self.fail(path + (i, "key"), f"duplicate warning key {rule.key!r}")
            rules.append(rule)
        return tuple(rules)

    def warning(self, value: Any, path: KeyPath, known: Mapping[str, Sequence[str]]) -> WarningRule:
        item = self.mapping(value, path, ["key", "text", "when"], ["call_first"])
        key = self.key_name(self.text(item["key"], path + ("key",)), path + ("key",))
        call_first = item.get("call_first", False)
        if not isinstance(call_first, bool):
            self.fail(path + ("call_first",), f"expected true or false, got {_kind(call_first)}")
        when_path = path + ("when",)
        when = self.mapping(item["when"], when_path, [], ["always", *known])
        if not when:
            self.fail(when_path, "needs at least one condition (always, " + ", ".join(known) + ")")
        if "always" in when and when["always"] is not True:
            self.fail(when_path + ("always",), "must be true (remove it to drop the rule)")
        conditions = {name: self.values(when[name], when_path + (name,), name, allowed)
                      for name, allowed in known.items() if name in when}
        return WarningRule(key=key, text=self.text(item["text"], path + ("text",)),
                           always="always" in when, call_first=call_first, **conditions)

    def values(self, value: Any, path: KeyPath, name: str,
               allowed: Sequence[str]) -> tuple[str, ...]:
        """A non-empty list drawn from `allowed` (a single value is accepted too)."""
        items = value if isinstance(value, list) else [value]
        if not items:
            self.fail(path, f"needs at least one {name}")
        out = []
        for i, item in enumerate(items):
            where = path + (i,) if isinstance(value, list) else path
            if item not in allowed:
                self.fail(where, f"unknown {name} {item!r} (expected one of: {', '.join(allowed)})")
            out.append(item)
        return tuple(out)

    def nudges(self, value: Any, path: KeyPath) -> NudgeRules:
        names = ["remind_every", "max_reminders", "escalate_after", "unassign_after",
                 "update_every", "work_days", "work_start", "work_end"]
        item = self.mapping(value, path, names)
        start = self.clock_time(item["work_start"], path + ("work_start",))
        end = self.clock_time(item["work_end"], path + ("work_end",))
        if end <= start:
            self.fail(path + ("work_end",), "must be later than work_start")
        return NudgeRules(
            remind_every=self.duration(item["remind_every"], path + ("remind_every",)),
            max_reminders=self.integer(item["max_reminders"], path + ("max_reminders",)),
            escalate_after=self.duration(item["escalate_after"], path + ("escalate_after",)),
            unassign_after=self.duration(item["unassign_after"], path + ("unassign_after",),
                                         allow_off=True),
            update_every=self.duration(item["update_every"], path + ("update_every",)),
            work_days=self.weekdays(item["work_days"], path + ("work_days",)),
            work_start=start,
            work_end=end,
        )

    def duration(self, value: Any, path: KeyPath, allow_off: bool = False) -> timedelta | None:
        """`30m`, `2h`, `1d` (or `off` where allowed)."""
        text = str(value).strip().lower() if isinstance(value, str | int) else ""
        if allow_off and text in ("off", "never", "0"):
            return None
        match = _DURATION_RE.match(text)
        if not match or int(match.group(1)) == 0:
            hint = "a duration like 30m, 2h or 1d" + (", or off" if allow_off else "")
            self.fail(path, f"expected {hint}, got {value!r}")
        amount, unit = int(match.group(1)), match.group(2)
        return timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})

    def clock_time(self, value: Any, path: KeyPath) -> time:
        match = _CLOCK_RE.match(str(value).strip()) if isinstance(value, str) else None
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            self.fail(path, f"expected a time like \"09:00\", got {value!r}")
        return time(int(match.group(1)), int(match.group(2)))

    def weekdays(self, value: Any, path: KeyPath) -> tuple[int, ...]:
        names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        days = self.values(value, path, "day", names)
        return tuple(sorted({names.index(d) for d in days}))

    def settings(self, value: Any, path: KeyPath) -> Settings:
        names = ["followup_default_hours", "satisfaction_followup_days", "max_open_per_owner"]
        item = self.mapping(value, path, names)
        return Settings(**{k: self.integer(item[k], path + (k,)) for k in names})


def _kind(value: Any) -> str:
    """A short name for a YAML value's type, for error messages."""
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
