"""The coach rules as frozen dataclasses, and what a review of a draft returns."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.datafiles import data_file
from bot.domain.playbook import PlaybookError

DEFAULT_COACH_PATH = data_file("coach.yaml")
SUPPORTED_VERSIONS = (1,)
SEVERITIES = ("change", "consider")  # change: fix before sending; consider: worth a look
FIRES = ("found", "missing", "name_missing")
FIXES = ("drop", "replace", "keep")
PLACES = ("start", "here", "tail", "end")  # tail: joined to the end of the sentence
LINE_FIELDS = ("name", "greeting", "problem")
MAX_FINDINGS_PER_RULE = 3  # further matches of one rule are fixed in the rewrite, not listed
NAMELESS = "there"  # {name} when the customer's name is unknown
NO_PROBLEM = "for the trouble with this"  # {problem} when the draft does not say what went wrong


class CoachError(PlaybookError):
    """The coach rules file is missing, not valid YAML, or breaks a rule (one-line message).

    A PlaybookError, so startup code that reports a bad playbook reports this too.
    """


# -- the rules model -----------------------------------------------------------------
@dataclass(frozen=True)
class Pattern:
    """One pattern as written in the file, with its own conditions."""

    source: str
    unless: PatternSet | None = None  # the pattern does not count when these match its sentence
    rewrite: str | None = None  # replacement for the matched words; \1 or \g<0> copy groups


@dataclass(frozen=True, eq=False)
class PatternSet:
    """Patterns compiled into one whole-word regular expression (for the lower-case copy)."""

    patterns: tuple[Pattern, ...]
    regex: re.Pattern[str]
    offsets: tuple[int, ...]  # the group number of each pattern inside `regex`


@dataclass(frozen=True, eq=False)
class Rule:
    key: str
    title: str
    why: str
    suggestion: str  # may use {name} and {greeting}
    severity: str  # "change" | "consider"
    fires: str  # "found" | "missing" | "name_missing"
    patterns: PatternSet | None
    unless: PatternSet | None = None  # found: no finding if one is in its sentence or the next
    together: PatternSet | None = None  # missing: must match in the same sentence too
    quote: PatternSet | None = None  # missing: wording to quote when the rule fires
    needs: PatternSet | None = None  # missing: fires only when one of these is in the draft
    settled: PatternSet | None = None  # missing: never fires when one of these is there
    cues: PatternSet | None = None  # found: wording that counts when a scorer agrees
    # missing: the coach's model may turn the rules' finding down only when one of these
    # is in the draft (a bare "sorry" acknowledges no feeling, whatever the model reads)
    cleared_by: PatternSet | None = None
    upset_only: bool = False
    fix: str = "keep"  # what the rewrite does with the matched words
    replace: str = ""  # the words put in their place ("" removes them)
    line: str | None = None  # a sentence the rewrite adds when the rule fires
    place: str = "here"  # where that sentence goes
    line_when_missing: str | None = None  # found: add `line` only if this rule still fires


@dataclass(frozen=True, eq=False)
class Strength:
    label: str
    patterns: PatternSet | None
    together: PatternSet | None = None
    not_with: tuple[str, ...] = ()  # not shown when any of these rules fired
    uses_name: bool = False


@dataclass(frozen=True, eq=False)  # identity hash: cheap cache key
class Rules:
    version: int
    rules: tuple[Rule, ...]
    strengths: tuple[Strength, ...]
    greeting: str  # "Hi {name}," when the rewrite must add the name and has no other place
    facts: PatternSet  # what makes the rewrite keep a sentence (numbers, dates, refs)
    problem: PatternSet | None = None  # what went wrong, for {problem} in an added apology
    # wording that hints at a rule, by rule key: features of the coach's model
    signals: tuple[tuple[str, PatternSet], ...] = ()
    source: str = "<coach>"

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(rule.key for rule in self.rules)

    def rule(self, key: str) -> Rule:
        """The rule with this key; KeyError if there is none."""
        for rule in self.rules:
            if rule.key == key:
                return rule
        raise KeyError(f"no coach rule {key!r}")


@dataclass(frozen=True)
class Finding:
    key: str
    title: str
    quote: str  # the draft's exact words; "" when the rule is about something missing
    why: str
    suggestion: str
    severity: str  # "change" | "consider"
    start: int  # draft[start:end] == quote (0, 0 when quote is "")
    end: int


@dataclass(frozen=True)
class Review:
    findings: tuple[Finding, ...]  # "change" before "consider", then in rules-file order
    strengths: tuple[str, ...]  # labels of what already works, in rules-file order
    rewrite: str  # the draft reworked: placeholders like "[by 3pm today]" to fill in
    ok: bool  # nothing to change ("consider" findings allowed); False for a blank draft

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys of the rules that fired, each once, in finding order."""
        return tuple(dict.fromkeys(f.key for f in self.findings))
