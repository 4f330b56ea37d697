"""Reply coach: review an agent's draft reply to an upset customer (plain text, no Slack).

    rules = load_rules()  # data/coach.yaml, validated and compiled once
    review = check("Our policy doesn't allow refunds. Call back later.", rules,
                   customer_name="Dana Lee")
    [f.key for f in review.findings]
    -> ['blame', 'callback_burden', 'no_apology', 'feelings_ignored', 'vague_next_step',
        'name_unused']
    review.rewrite
    -> "Dana Lee, I'm sorry about what happened, and I'm taking care of it. ...
        We don't usually allow refunds. ... I'll check in with you myself [on Friday] ..."

What the checker looks for, and the wording it suggests, lives in data/coach.yaml
(see the comments there). A rule either fires on wording it finds ("our policy
doesn't allow"), or on something missing from the whole draft (no apology, no
concrete next step, the customer's name never used). `load_rules` validates the file
and raises `CoachError` naming the file, the line and the key path, e.g.::

    data/coach.yaml line 211: rules[0].patterns[6]: bad regex 'rules are (rules': missing ), ...

Matching is deterministic: regular expressions compiled once at load and matched,
whole words only, against a lower-case copy of the draft of the same length; curly
quotes count as straight ones and Slack mrkdwn marks (*bold*, _italic_, ~strike~) are
ignored. Every offset in a `Finding` points into the draft exactly as given, so
`draft[f.start:f.end] == f.quote`. Escaping for Slack is the renderer's job.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_left, bisect_right
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any, NoReturn

from bot.domain.playbook import (
    KeyPath,
    PlaybookError,
    _compose,
    _dotted,
    _kind,
    _Reader,
    read_source,
)

DEFAULT_COACH_PATH = Path(__file__).resolve().parents[2] / "data" / "coach.yaml"
SUPPORTED_VERSIONS = (1,)
SEVERITIES = ("change", "consider")  # change: fix before sending; consider: worth a look
FIRES = ("found", "missing", "name_missing")
FIXES = ("drop", "replace", "keep")
PLACES = ("start", "here", "end")
LINE_FIELDS = ("name", "greeting")
MAX_FINDINGS_PER_RULE = 3  # further matches of one rule are fixed in the rewrite, not listed
NAMELESS = "there"  # {name} when the customer's name is unknown

_MACRO_RE = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_GROUP_REF_RE = re.compile(r"\\(?:g<(\d+)>|(\d+))")


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


# -- checking ------------------------------------------------------------------------
def check(draft: str, rules: Rules, customer_name: str | None = None,
          customer_upset: bool = True) -> Review:
    """Review a draft reply: findings, strengths, a suggested rewrite and whether it's ok.

    Every draft is read as the answer to a complaint. `customer_upset` turns on the
    check for acknowledged feelings; `customer_name` the check that the name is used.
    """
    text = draft if isinstance(draft, str) else ("" if draft is None else str(draft))
    if not text.strip():
        return Review((), (), "", False)
    name = " ".join(str(customer_name).split()) if customer_name else ""
    doc = _Doc(text)
    fired = _evaluate(doc, rules, name, customer_upset, rules.rules)
    findings = _findings(doc, rules, fired, name)
    return Review(
        findings=findings,
        strengths=_strengths(doc, rules, fired, name),
        rewrite=_rewrite(doc, rules, fired, name, customer_upset),
        ok=not any(f.severity == "change" for f in findings),
    )


# Same-length translation used for matching only: offsets stay valid in the original.
_MATCH_TABLE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u2010": "-", "\u2011": "-", "\u00a0": " ",
    "*": " ", "_": " ", "~": " ",
})
# A run of marks is matched once, from its first mark: linear even for "!!!!...".
_BREAK_RE = re.compile(
    r"(?<![.!?\u2026])[.!?\u2026]++[\"')\]]*+(?=\s)|(?<![\u3002\uff01\uff1f])[\u3002\uff01\uff1f]++|\n")
_WORD_BEFORE_RE = re.compile(r"(\w+(?:\.\w+)*)$")
_ABBREVIATIONS = frozenset(
    "mr mrs ms mx dr st prof sr jr vs etc e.g i.e eg ie no approx inc ltd co a.m p.m".split())


class _Doc:
    """A draft, its lower-case matching copy (same length), its sentences, and the
    matches found so far (pattern sets shared by rules and strengths run once)."""

    __slots__ = ("text", "mt", "spans", "starts", "found")

    def __init__(self, text: str):
        self.text = text
        plain = text.translate(_MATCH_TABLE)
        self.mt = _lower(plain)
        self.spans = _sentences(plain)
        self.starts = [start for start, _ in self.spans]
        self.found: dict[int, list[tuple[Pattern, re.Match[str], int]]] = {}

    def sentence_at(self, pos: int) -> int:
        return max(0, bisect_right(self.starts, pos) - 1)

    def span_at(self, pos: int) -> tuple[int, int]:
        return self.spans[self.sentence_at(pos)] if self.spans else (0, len(self.text))

    def near(self, pos: int, skip: Container[int] = ()) -> tuple[int, int]:
        """The sentence at `pos` and the next one (where a rule's `unless` looks). A short
        aside ("I am sorry.") or a sentence in `skip` (another match of the same rule:
        "We can't do X. Nor Y. What I can do is...") does not count as the next one."""
        if not self.spans:
            return 0, len(self.text)
        index = self.sentence_at(pos)
        last = min(index + 1, len(self.spans) - 1)
        while last + 1 < len(self.spans) and (
                last in skip or len(self.mt[slice(*self.spans[last])].split()) <= 3):
            last += 1
        return self.spans[index][0], self.spans[last][1]


def _lower(text: str) -> str:
    """Lower case without changing the length (a few letters, like "İ", lengthen)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)


def _sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans, whitespace trimmed: split after . ! ? (not "Mr." or "e.g. the")
    and at every line break."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BREAK_RE.finditer(text):
        mark = text[m.start()]
        if mark == "." and _is_abbreviation(text, m.start()):
            continue
        if mark in ".!?\u2026" and _next_is_lower(text, m.end()):
            continue
        _add_span(spans, text, start, m.end())
        start = m.end()
    _add_span(spans, text, start, len(text))
    return spans


def _is_abbreviation(text: str, dot: int) -> bool:
    word = _WORD_BEFORE_RE.search(text, max(0, dot - 12), dot)
    if not word:
        return False
    found = word.group(1).casefold()
    return found in _ABBREVIATIONS or (len(found) == 1 and found.isalpha())


def _next_is_lower(text: str, pos: int) -> bool:
    """True when the next word on the same line starts with a lower-case letter."""
    for ch in text[pos:pos + 8]:
        if ch == "\n":
            return False
        if not ch.isspace():
            return ch.islower()
    return False


def _add_span(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))


@dataclass(frozen=True)
class _Hit:
    """Where a rule fired: a match (start < end) or the whole draft (0, 0)."""

    rule: Rule
    start: int = 0
    end: int = 0
    pattern: Pattern | None = None
    match: re.Match[str] | None = None
    group: int = 0  # the pattern's own group 0 inside `match`


def _matches(doc: _Doc, patterns: PatternSet) -> list[tuple[Pattern, re.Match[str], int]]:
    """Matches in text order, skipping those whose pattern's `unless` is in the sentence."""
    cached = doc.found.get(id(patterns))
    if cached is not None:
        return cached
    out = []
    for m in patterns.regex.finditer(doc.mt):
        index = int(m.lastgroup[1:])  # type: ignore[index]
        pattern = patterns.patterns[index]
        if pattern.unless is not None:
            start, end = doc.span_at(m.start())
            if pattern.unless.regex.search(doc.mt, start, end):
                continue
        out.append((pattern, m, patterns.offsets[index]))
    doc.found[id(patterns)] = out
    return out


def _present(doc: _Doc, patterns: PatternSet, together: PatternSet | None) -> bool:
    """True when a pattern matches (with a `together` pattern in the same sentence)."""
    for _pattern, m, _group in _matches(doc, patterns):
        if together is None:
            return True
        start, end = doc.span_at(m.start())
        if together.regex.search(doc.mt, start, end):
            return True
    return False


def _evaluate(doc: _Doc, rules: Rules, name: str, upset: bool,
              which: Sequence[Rule]) -> dict[str, list[_Hit]]:
    """The hits of every rule in `which` that fires, by rule key."""
    fired: dict[str, list[_Hit]] = {}
    for rule in which:
        if rule.upset_only and not upset:
            continue
        if rule.fires == "found":
            assert rule.patterns is not None
            hits = [_Hit(rule, m.start(), m.end(), pattern, m, group)
                    for pattern, m, group in _matches(doc, rule.patterns)]
            if hits and rule.unless is not None:
                unless = rule.unless.regex
                held = {doc.sentence_at(h.start) for h in hits}
                hits = [h for h in hits if not unless.search(doc.mt, *doc.near(h.start, held))]
        elif rule.fires == "missing":
            assert rule.patterns is not None
            if _present(doc, rule.patterns, rule.together):
                continue
            hits = [_Hit(rule, m.start(), m.end(), pattern, m, group)
                    for pattern, m, group in (_matches(doc, rule.quote) if rule.quote else ())]
            hits = hits or [_Hit(rule)]
        else:  # name_missing
            hits = [_Hit(rule)] if name and not _name_used(doc, name) else []
        if hits:
            fired[rule.key] = hits
    return fired


def _findings(doc: _Doc, rules: Rules, fired: Mapping[str, list[_Hit]],
              name: str) -> tuple[Finding, ...]:
    values = _template_values(name, greet=bool(name))
    out = []
    for rule in rules.rules:
        for hit in fired.get(rule.key, ())[:MAX_FINDINGS_PER_RULE]:
            out.append(Finding(
                key=rule.key, title=rule.title, quote=doc.text[hit.start:hit.end],
                why=rule.why, suggestion=rule.suggestion.format(**values),
                severity=rule.severity, start=hit.start, end=hit.end,
            ))
    out.sort(key=lambda f: SEVERITIES.index(f.severity))  # stable: file order within
    return tuple(out)


def _strengths(doc: _Doc, rules: Rules, fired: Mapping[str, list[_Hit]],
               name: str) -> tuple[str, ...]:
    """Labels of what works; wording that also triggered a finding does not count."""
    taken = _Spans((h.start, h.end) for hits in fired.values() for h in hits if h.end > h.start)
    out = []
    for strength in rules.strengths:
        if any(key in fired for key in strength.not_with):
            continue
        if strength.uses_name:
            if name and _name_used(doc, name):
                out.append(strength.label)
            continue
        assert strength.patterns is not None
        for _pattern, m, _group in _matches(doc, strength.patterns):
            if taken.overlaps(m.start(), m.end()):
                continue
            if strength.together is not None:
                start, end = doc.span_at(m.start())
                if not strength.together.regex.search(doc.mt, start, end):
                    continue
            out.append(strength.label)
            break
    return tuple(out)


class _Spans:
    """Character spans, asked whether any overlaps a given span."""

    __slots__ = ("starts", "ends")

    def __init__(self, spans: Iterable[tuple[int, int]]):
        ordered = sorted(spans)
        self.starts = [start for start, _ in ordered]
        self.ends = list(accumulate((end for _, end in ordered), max))  # running maximum

    def overlaps(self, start: int, end: int) -> bool:
        """True when a span starting before `end` ends after `start`."""
        count = bisect_left(self.starts, end)
        return count > 0 and self.ends[count - 1] > start


# -- the customer's name -------------------------------------------------------------
_TITLES = frozenset("mr mrs ms miss mx dr prof sir madam mister".split())


def _name_used(doc: _Doc, name: str) -> bool:
    """The full name or any part of it (not a title), starting with a capital if cased."""
    regex = _name_regex(name)
    if regex is None:
        return False
    return any(not doc.text[m.start()].islower() for m in regex.finditer(doc.mt))


@lru_cache(maxsize=512)
def _name_regex(name: str) -> re.Pattern[str] | None:
    clean = _lower(name.translate(_MATCH_TABLE)).strip()
    parts = [clean] + [p.strip(".,") for p in clean.split()]
    alternatives = []
    for part in dict.fromkeys(parts):
        if len(part) < 2 or part.casefold() in _TITLES:
            continue
        before = r"(?<!\w)" if _is_cased(part[0]) else ""
        after = r"(?!\w)" if _is_cased(part[-1]) else ""
        alternatives.append(before + re.escape(part) + after)
    return re.compile("|".join(alternatives)) if alternatives else None


def _is_cased(ch: str) -> bool:
    return ch.isdigit() or ch.isupper() or ch.islower()


# -- the rewrite ---------------------------------------------------------------------
_GREETING_RE = re.compile(
    r"(?P<word>hi|hello|hey|hiya|dear|greetings|good (?:morning|afternoon|evening))\b"
    r"(?P<who>[^\n,!?:;]{0,40}?)\s*(?P<punct>[,!:;]|(?=\n)|$)", re.IGNORECASE)
_GENERIC_ADDRESSEE = frozenset({
    "", "there", "customer", "valued customer", "sir", "madam", "sir or madam", "sir/madam",
    "team", "all", "friend", "student", "guest", "member", "patient", "everyone", "folks",
})
_SIGNOFF_RE = re.compile(
    r"(?:thanks|thank you|many thanks|with thanks|best|best wishes|best regards|regards|"
    r"kind regards|warm regards|warmly|cheers|sincerely|yours sincerely|yours faithfully|"
    r"yours truly|all the best|take care|speak soon|talk soon)\b[^\n]{0,40}\Z", re.IGNORECASE)
_TRAILING_CONJUNCTION_RE = re.compile(
    r"[\s,;:\u2013\u2014-]*\b(?:and|but|so|or|because|as|which|then)\s*([.!?]*)\Z",
    re.IGNORECASE)
_LEADING_JUNK_RE = re.compile(
    r"\A[\s,;:.\u2013\u2014-]*(?:(?:and|but|so|or|because|as|which|then|also)\b[\s,]*)?",
    re.IGNORECASE)


def _rewrite(doc: _Doc, rules: Rules, fired: Mapping[str, list[_Hit]], name: str,
             upset: bool) -> str:
    """The draft with flagged words dropped or replaced and the missing lines added.

    1. Found wording is fixed as its rule says: a pattern's own `rewrite` replaces the
       words; otherwise `drop` removes the sentence, or only the clauses holding the
       words when the rest of the sentence has facts (numbers, dates, references) or
       wording a `keep` rule flagged; `replace` swaps the words for the rule's
       `replace`; `keep` leaves them. A rule's `line` goes after the sentence where
       it last fired (an `unless` looks at that sentence and the next).
    2. The result is checked again; rules still missing (no apology, no empathy,
       no concrete next step) add their lines at the start or the end.
    3. The customer's name goes into the greeting or the opening line if still unused.
    """
    multiline = "\n" in doc.text.strip()
    edits, dropped, planned = _plan_edits(doc, rules, fired, name)
    after = _lines_needed(doc, rules, edits, dropped, planned, name, upset)
    items = _assemble(doc, edits, dropped, after)
    first_pass = "".join(sep + text for sep, text in items).strip()

    missing_rules = [r for r in rules.rules if r.fires == "missing" and r.line]
    if not (edits or dropped or after):  # the first pass is the draft: nothing changed
        again: _Doc | None = doc
        still: Mapping[str, list[_Hit]] = fired
    else:
        again = _Doc(first_pass) if first_pass else None
        still = _evaluate(again, rules, name, upset, missing_rules) if again else {
            r.key: [_Hit(r)] for r in missing_rules if upset or not r.upset_only}
    start_lines = [r.line for r in missing_rules if r.key in still and r.place == "start"]
    end_lines = [r.line for r in missing_rules if r.key in still and r.place != "start"]
    wants_name = bool(name) and any(r.fires == "name_missing" for r in rules.rules) and not (
        again and _name_used(again, name))

    greeting = _GREETING_RE.match(items[0][1]) if items else None
    if greeting and wants_name and greeting.group("who").strip().casefold() in _GENERIC_ADDRESSEE:
        named = f"{greeting.group('word')} {name}{greeting.group('punct') or ','}"
        items[0][1] = named + items[0][1][greeting.end():]
        greeting = _GREETING_RE.match(items[0][1])
        wants_name = False
    start_text = _fill_lines(start_lines, name, greet_first=wants_name)
    if wants_name and not start_text:  # "Hi Dana," on top: "Hi Dana, sorry, ..."
        _insert_start(items, rules.greeting.format(**_template_values(name, greet=False)),
                      None, multiline)
        if not multiline and len(items) > 1 and items[0][1].endswith(","):
            items[1][1] = _lower_first(items[1][1])
    elif start_text:  # after the agent's own opening ("Hi Ana,", "Sorry Dana,")
        opening = greeting.end() if greeting else (
            _opening_address(items[0][1], name) if items else None)
        _insert_start(items, start_text, opening, multiline)
    if end_lines:
        _insert_end(items, _fill_lines(end_lines, name, greet_first=False), multiline)

    out = "".join(sep + text for sep, text in items)
    out = re.sub(r"[ \t]+\n", "\n", out)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


_Lines = dict[int, list[tuple[str, str | None]]]  # by sentence: (line, line_when_missing)


def _lines_needed(doc: _Doc, rules: Rules, edits: Mapping[int, list[tuple[int, int, str]]],
                  dropped: set[int], planned: _Lines, name: str,
                  upset: bool) -> dict[int, list[str]]:
    """The rule lines to add after each sentence. A line with `line_when_missing` is
    added only when that rule still fires on the rewrite without it: "I'll check in
    with you [on Friday]" is not added to a draft that already says "I'll call you at
    3pm", so the rewrite never makes a second promise."""
    keys = list(dict.fromkeys(key for lines in planned.values() for _, key in lines if key))
    needed: Mapping[str, object] = {}
    if keys:
        bare = {i: [line for line, key in lines if key is None] for i, lines in planned.items()}
        text = "".join(sep + t for sep, t in _assemble(doc, edits, dropped, bare)).strip()
        which = [rules.rule(key) for key in keys]
        needed = _evaluate(_Doc(text), rules, name, upset, which) if text else dict.fromkeys(keys)
    return {i: [line for line, key in lines if key is None or key in needed]
            for i, lines in planned.items()}


def _plan_edits(doc: _Doc, rules: Rules, fired: Mapping[str, list[_Hit]], name: str) -> tuple[
        dict[int, list[tuple[int, int, str]]], set[int], _Lines]:
    """Word edits by sentence, sentences to drop, and rule lines to add after a sentence."""
    edits: dict[int, list[tuple[int, int, str]]] = {}
    to_drop: dict[int, list[_Hit]] = {}
    kept: dict[int, list[_Hit]] = {}  # wording a `keep` rule flagged: worth keeping
    after: _Lines = {}
    for rule in rules.rules:
        hits = [h for h in fired.get(rule.key, ()) if h.end > h.start]
        if not hits:
            continue
        for hit in hits:
            index = doc.sentence_at(hit.start)
            has_own = hit.pattern is not None and hit.pattern.rewrite is not None
            if rule.fires == "found" and rule.fix == "drop" and not has_own:
                to_drop.setdefault(index, []).append(hit)
                continue
            if rule.fix == "keep" and not has_own:
                kept.setdefault(index, []).append(hit)
            words = _replacement(doc, hit, always=rule.fix != "keep")
            if words is not None:
                edits.setdefault(index, []).append((hit.start, hit.end, words))
        if rule.fires == "found" and rule.line:
            lines = after.setdefault(doc.sentence_at(hits[-1].start), [])
            # A line that answers the rule's `unless` ("What I can do instead...") goes
            # first, within the sentence after the match that `unless` looks at.
            lines.insert(0 if rule.unless is not None else len(lines),
                         (_fill_lines([rule.line], name, greet_first=False),
                          rule.line_when_missing))
    dropped: set[int] = set()
    for index, hits in to_drop.items():
        clauses = _clauses(doc, index, hits)
        if _worth_keeping(doc, rules, index, clauses, kept.get(index, ())):
            edits.setdefault(index, []).extend((start, end, "") for start, end in clauses)
        elif index == 0 and (greeting := _opening_greeting(doc)) is not None:
            edits[index] = [(greeting, doc.spans[0][1], "")]  # keep "Hi Ana," only
        else:
            dropped.add(index)
    return edits, dropped, after


def _opening_greeting(doc: _Doc) -> int | None:
    """Where a greeting that opens the draft ends ("Hi Ana," in "Hi Ana, the system..."),
    or None when the draft opens otherwise or the greeting is the whole sentence."""
    start, end = doc.spans[0]
    m = _GREETING_RE.match(doc.mt, start, end)
    if m is None or not m.group("punct") or m.end() >= end:
        return None
    return m.end()


def _replacement(doc: _Doc, hit: _Hit, always: bool) -> str | None:
    """The pattern's own rewrite, else the rule's `replace` words when `always`."""
    if hit.pattern is not None and hit.pattern.rewrite is not None and hit.match is not None:
        return _expand(hit.pattern.rewrite, hit.match, hit.group, doc.text)
    return hit.rule.replace if always else None


def _expand(template: str, m: re.Match[str], group: int, original: str) -> str:
    """Copy \\N and \\g<N> groups of the pattern from the original (not the matching copy)."""
    def copy(ref: re.Match[str]) -> str:
        number = group + int(ref.group(1) or ref.group(2))
        start, end = m.span(number)
        return original[start:end] if start >= 0 else ""
    return _GROUP_REF_RE.sub(copy, template)


_END_PUNCTUATION = ".!?\u2026\"')]\u3002\uff01\uff1f "
_CONDITION_RE = re.compile(r"(?:if|should|when|once|unless|in case)\b")
_CLAUSE_MARK_RE = re.compile(r"[,;:()]|\s[-\u2013\u2014]+\s|[\u2013\u2014]")


def _clauses(doc: _Doc, index: int, hits: Sequence[_Hit]) -> list[tuple[int, int]]:
    """The clauses (between commas, semicolons, dashes...) holding the hits, merged."""
    s_start, s_end = doc.spans[index]
    core_end = s_start + len(doc.mt[s_start:s_end].rstrip(_END_PUNCTUATION))  # keep the "."
    marks = [(m.start(), m.end()) for m in _CLAUSE_MARK_RE.finditer(doc.mt, s_start, core_end)]
    mark_starts = [begin for begin, _ in marks]
    mark_ends = [end for _, end in marks]
    spans: list[tuple[int, int]] = []
    for hit in sorted(hits, key=lambda h: h.start):
        before = bisect_right(mark_ends, hit.start)  # marks ending at or before the hit
        start = mark_ends[before - 1] if before else s_start
        if before == 1 and _CONDITION_RE.match(doc.mt, s_start):  # "If it breaks, call us"
            start = s_start
        after = bisect_left(mark_starts, hit.end)  # the first mark at or after its end
        end = mark_starts[after] if after < len(marks) else core_end
        end = max(end, min(hit.end, s_end))
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((start, end))
    return spans


def _worth_keeping(doc: _Doc, rules: Rules, index: int, clauses: Sequence[tuple[int, int]],
                   kept: Sequence[_Hit]) -> bool:
    """True when the sentence has facts (numbers, dates, refs) or kept wording
    outside the clauses to be removed."""
    removed = _Spans(clauses)
    s_start, s_end = doc.spans[index]
    if any(not removed.overlaps(h.start, h.end) for h in kept):
        return True
    return any(not removed.overlaps(*m.span())
               for m in rules.facts.regex.finditer(doc.mt, s_start, s_end))


def _assemble(doc: _Doc, edits: Mapping[int, list[tuple[int, int, str]]], dropped: set[int],
              after: Mapping[int, list[str]]) -> list[list[str]]:
    """[separator, sentence] pairs of the first pass, keeping the draft's line breaks."""
    items: list[list[str]] = []
    pending: str | None = None  # the separator of a dropped sentence, kept for the next one
    previous_end = 0
    for index, (start, end) in enumerate(doc.spans):
        sep = doc.text[previous_end:start] if index else ""
        previous_end = end
        pending = sep if pending is None else _stronger(pending, sep)
        if index not in dropped:
            text = _apply(doc, start, end, edits.get(index, ()))
            if text:
                items.append([pending if items else "", text])
                pending = None
        for line in after.get(index, ()):
            items.append([(" " if pending is None else pending) if items else "", line])
            pending = None
    return items


def _stronger(a: str, b: str) -> str:
    """Of two separators, the one with more line breaks."""
    return a if a.count("\n") >= b.count("\n") else b


def _apply(doc: _Doc, start: int, end: int, edits: Sequence[tuple[int, int, str]]) -> str:
    """The sentence with its word edits applied and the seams tidied."""
    if not edits:
        return doc.text[start:end]
    parts: list[str] = []
    cursor = start
    at_start = False
    for e_start, e_end, words in sorted(edits):
        e_start, e_end = _with_marks(doc.text, e_start, e_end)
        if e_start < cursor:
            continue  # overlaps an earlier edit
        at_start = at_start or not doc.text[start:e_start].strip()
        parts.append(doc.text[cursor:e_start])
        parts.append(words)
        cursor = e_end
    parts.append(doc.text[cursor:end])
    return _tidy("".join(parts), at_start)


def _with_marks(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen an edit to take the other half of a Slack mark (*bold*) it cuts through."""
    for mark in "*_~":
        if text.count(mark, start, end) % 2:
            if text.startswith(mark, end):
                end += 1
            elif start > 0 and text[start - 1] == mark:
                start -= 1
    return start, end


def _tidy(text: str, at_start: bool) -> str:
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"\s*[,;:\u2013\u2014-]\s*([.!?])", r"\1", text)
    text = re.sub(r"[ \t]+([,.;:!?])", r"\1", text)
    text = _TRAILING_CONJUNCTION_RE.sub(r"\1", text.strip())
    if at_start:
        text = _LEADING_JUNK_RE.sub("", text)
        text = _capitalise(text)
    if not re.search(r"\w", text):
        return ""
    return text.strip()


def _capitalise(text: str) -> str:
    for i, ch in enumerate(text):
        if ch.isalpha():
            return text[:i] + ch.upper() + text[i + 1:] if ch.islower() else text
        if not ch.isspace() and ch not in "\"'([*_":
            return text
    return text


def _template_values(name: str, greet: bool) -> dict[str, str]:
    return {"name": name or NAMELESS, "greeting": f"{name}, " if greet and name else ""}


def _fill_lines(lines: Sequence[str | None], name: str, greet_first: bool) -> str:
    """Lines joined into one paragraph; only the first may open with the name."""
    filled = [line.format(**_template_values(name, greet=greet_first and i == 0))
              for i, line in enumerate(x for x in lines if x)]
    return " ".join(filled)


def _insert_start(items: list[list[str]], text: str, opening: int | None,
                  multiline: bool) -> None:
    """After the opening (greeting) that ends at `opening` in the first item, else at
    the very top."""
    paragraph = "\n\n" if multiline else " "
    if opening is None or not items:
        if items:
            items[0][0] = paragraph
        items.insert(0, ["", text])
        return
    first = items[0][1]
    rest = first[opening:].strip()
    if not rest:
        items.insert(1, [paragraph, text])
        return
    items[0][1] = first[:opening]
    items.insert(1, [" ", text])
    items.insert(2, [" ", _capitalise(rest)])


# "Sorry Dana," or "I'm so sorry, Mr Okafor!" opening a reply: the agent's own greeting.
_APOLOGY_ADDRESS_RE = re.compile(
    r"(?i:(?:I'm |I am |we're |we are )?(?:so |really |very |truly |terribly )?"
    r"(?:sorry|apologies|my apologies)(?: again)?),? "
    r"(?P<who>(?:(?:Mr|Mrs|Ms|Mx|Dr|Miss|Prof)\.? )?[A-Z][a-z][\w'\u2019-]*"
    r"(?: [A-Z][\w'\u2019-]+)?)\s*[,!:;\u2013\u2014-]")
_NOT_A_NAME = frozenset(
    "unfortunately however but again though thanks please sadly honestly truly everyone "
    "folks all team guys".split())
# The name alone opening a reply: "Dana, ..." (only when the customer's name is known).
_NAME_ADDRESS_RE = re.compile(r"(?P<who>[^\W\d_][\w'.\u2019-]*(?: [^\W\d_][\w'.\u2019-]*){0,2})"
                              r"\s*[,!:]")


def _opening_address(text: str, name: str) -> int | None:
    """Where an opening that addresses the customer ends: an apology with a name
    ("Sorry Dana,") or the customer's own name ("Dana, ..."); None otherwise."""
    m = _APOLOGY_ADDRESS_RE.match(text)
    if m and m.group("who").split()[0].casefold() not in _NOT_A_NAME:
        return m.end()
    m = _NAME_ADDRESS_RE.match(text)
    if m and name and (regex := _name_regex(name)) is not None:
        who = _lower(m.group("who").translate(_MATCH_TABLE))
        words = who.split()
        while words and words[0].strip(".") in _TITLES:
            words = words[1:]
        if words and regex.fullmatch(" ".join(words)) and m.group("who")[:1].isupper():
            return m.end()
    return None


# Words that may start a sentence and go on in lower case after "Hi Dana Lee,".
_COMMON_OPENERS = frozenset(
    "sorry apologies thanks thank unfortunately sadly we we're we've we'll we'd our your you "
    "you're you've you'll the this that these those it it's there there's here here's please "
    "just so as yes no ok okay good great after following regarding about my a an again "
    "really firstly first sure of in on when if once can could would hope hopefully many "
    "today further".split())


def _lower_first(text: str) -> str:
    """The text with its first word in lower case if it is a common word ("Sorry" ->
    "sorry"); names, "I" and anything unusual keep their capital."""
    m = re.match(r"\s*([A-Z][a-z'\u2019]*)(?![\w'\u2019])", text)
    if not m or m.group(1).casefold().replace("\u2019", "'") not in _COMMON_OPENERS:
        return text
    return text[:m.start(1)] + m.group(1)[0].lower() + text[m.start(1) + 1:]


def _insert_end(items: list[list[str]], text: str, multiline: bool) -> None:
    """Before a sign-off on its own line ("Kind regards,"), else at the end."""
    for index in range(max(1, len(items) - 3), len(items)):
        sep, line = items[index]
        if "\n" in sep and _SIGNOFF_RE.match(line):
            items.insert(index, ["\n\n", text])
            items[index + 1][0] = "\n\n"
            return
    items.append(["\n\n" if multiline else (" " if items else ""), text])


# -- loading -------------------------------------------------------------------------
def load_rules(path: str | os.PathLike[str] = DEFAULT_COACH_PATH) -> Rules:
    """Read, validate and compile the coach rules at `path`; raise CoachError if invalid."""
    return parse_rules(*read_source(path, CoachError, "coach rules"))


def parse_rules(text: str, source: str = "<coach>") -> Rules:
    """Validate coach rules YAML text; `source` names the file in error messages."""
    try:
        data, lines = _compose(text, source)
    except CoachError:
        raise
    except PlaybookError as exc:
        raise CoachError(str(exc)) from exc
    return _CoachReader(source, lines).rules(data)


class _CoachReader(_Reader):
    """Validates the coach file and compiles its patterns (errors name file, line, key)."""

    def fail(self, path: KeyPath, message: str) -> NoReturn:
        probe = path
        while probe not in self.lines:
            probe = probe[:-1]
        where = _dotted(path) if path else "top level"
        raise CoachError(f"{self.source} line {self.lines[probe]}: {where}: {message}")

    def rules(self, data: Any) -> Rules:
        top = self.mapping(data, (), ["version", "rules", "strengths", "rewrite"], ["phrases"])
        version = self.integer(top["version"], ("version",))
        if version not in SUPPORTED_VERSIONS:
            self.fail(("version",), f"unsupported version {version} "
                                    f"(this Mend reads version {SUPPORTED_VERSIONS[-1]})")
        self.phrases: dict[str, str] = {}
        self.shared: dict[str, PatternSet] = {}
        if "phrases" in top:
            self.phrase_lists(top["phrases"], ("phrases",))
        rules = self.rule_list(top["rules"], ("rules",))
        keys = tuple(rule.key for rule in rules)
        strengths = self.strength_list(top["strengths"], ("strengths",), keys)
        rewrite = self.mapping(top["rewrite"], ("rewrite",), ["greeting", "facts"])
        return Rules(
            version=version,
            rules=rules,
            strengths=strengths,
            greeting=self.line_template(rewrite["greeting"], ("rewrite", "greeting"),
                                        required=("name",)),
            facts=self.pattern_set(rewrite["facts"], ("rewrite", "facts"), options=False),
            source=self.source,
        )

    # - phrases and patterns -
    def phrase_lists(self, value: Any, path: KeyPath) -> None:
        """Named pattern lists, usable as {name} inside later lists and patterns."""
        if not isinstance(value, dict):
            self.fail(path, f"expected a mapping of phrase lists, got {_kind(value)}")
        for name, items in value.items():
            where = path + (name,)
            self.key_name(name, where)
            if not isinstance(items, list) or not items:
                self.fail(where, f"expected a non-empty list of patterns, got {_kind(items)}")
            prepared = [self.regex(item, where + (i,))[0] for i, item in enumerate(items)]
            self.phrases[name] = "(?:" + "|".join(prepared) + ")"

    def regex(self, value: Any, path: KeyPath) -> tuple[str, re.Pattern[str]]:
        """A pattern made ready (spaces, n't, {lists}) and compiled alone to check it."""
        source = self.text(value, path)
        prepared = self.prepare(source, path)
        try:
            compiled = re.compile(_whole_words(prepared))
        except re.error as exc:
            self.fail(path, f"bad regex {source!r}: {exc}")
        if compiled.groupindex:
            self.fail(path, f"named groups are not allowed in {source!r}; use (...) or (?:...)")
        if compiled.search(""):
            self.fail(path, f"pattern {source!r} matches empty text")
        return prepared, compiled

    def prepare(self, source: str, path: KeyPath) -> str:
        """Spaces match any whitespace, n't also matches nt, {list} inserts a phrase list.

        Inside a look-behind, which must have a fixed width, both are kept as written.
        """
        out: list[str] = []
        i, n = 0, len(source)
        in_class = False
        groups: list[bool] = []  # per open group: is it a look-behind (fixed width)?
        while i < n:
            ch = source[i]
            fixed = any(groups)
            if ch == "\\":
                out.append(source[i:i + 2])
                i += 2
            elif in_class:
                out.append(ch.lower())
                in_class = ch != "]"
                i += 1
            elif ch == "[":
                close = i + 1 + (source[i + 1:i + 2] == "^")
                close += source[close:close + 1] == "]"
                out.append(source[i:close])
                in_class = True
                i = close
            elif source.startswith("(?P", i):  # kept as written: named groups are refused
                out.append("(?P")
                groups.append(False)
                i += 3
            elif ch in "()":
                if ch == "(":
                    groups.append(source.startswith(("(?<!", "(?<="), i))
                elif groups:
                    groups.pop()
                out.append(ch)
                i += 1
            elif ch == " " and not fixed:
                while i < n and source[i] == " ":
                    i += 1
                if source[i:i + 1] in ("?", "*"):  # "a ?b": the space is optional
                    out.append(r"\s*")
                    i += 1
                else:
                    out.append(r"\s+")
            elif source.startswith("n't", i) and not fixed:
                out.append("n'?t")
                i += 3
            elif ch.isupper():  # matched against a lower-case copy of the draft
                out.append(ch.lower())
                i += 1
            elif (macro := _MACRO_RE.match(source, i)) is not None:
                name = macro.group(1)
                if name not in self.phrases:
                    known = ", ".join(self.phrases) or "none defined above"
                    self.fail(path, f"unknown phrase list {{{name}}} (known: {known})")
                out.append(self.phrases[name])
                i = macro.end()
            else:
                out.append(ch)
                i += 1
        return "".join(out)

    def pattern_set(self, value: Any, path: KeyPath, options: bool = True) -> PatternSet:
        """A non-empty list of patterns; with `options`, an item may be a mapping
        {match, unless, rewrite}."""
        if not isinstance(value, list) or not value:
            self.fail(path, f"expected a non-empty list of patterns, got {_kind(value)}")
        patterns: list[Pattern] = []
        prepared: list[str] = []
        groups: list[int] = []
        for i, item in enumerate(value):
            where = path + (i,)
            if isinstance(item, dict) and "match" not in item and len(item) == 1:
                self.fail(where, "this reads as a mapping: a pattern containing \": \" must "
                                 "be quoted or written on the next line after \">-\"")
            if isinstance(item, dict) and options:
                spec = self.mapping(item, where, ["match"], ["unless", "rewrite"])
                text, compiled = self.regex(spec["match"], where + ("match",))
                unless = (self.pattern_set(spec["unless"], where + ("unless",), options=False)
                          if "unless" in spec else None)
                rewrite = (self.rewrite_text(spec["rewrite"], where + ("rewrite",),
                                             compiled.groups)
                           if "rewrite" in spec else None)
                patterns.append(Pattern(str(spec["match"]).strip(), unless, rewrite))
            else:
                text, compiled = self.regex(item, where)
                patterns.append(Pattern(str(item).strip()))
            prepared.append(text)
            groups.append(compiled.groups)
        combined = "|".join(f"(?P<p{i}>{text})" for i, text in enumerate(prepared))
        shared = self.shared.get(combined)  # the same list elsewhere: one set, matched once
        if shared is not None and shared.patterns == tuple(patterns):
            return shared
        regex = re.compile(_whole_words(combined))
        offsets = tuple(regex.groupindex[f"p{i}"] for i in range(len(prepared)))
        self.shared[combined] = PatternSet(tuple(patterns), regex, offsets)
        return self.shared[combined]

    def rewrite_text(self, value: Any, path: KeyPath, groups: int) -> str:
        """Replacement words (may be empty); \\N must name a group of the pattern."""
        if not isinstance(value, str):
            self.fail(path, f"expected text, got {_kind(value)}")
        for ref in _GROUP_REF_RE.finditer(value):
            number = int(ref.group(1) or ref.group(2))
            if number > groups:
                self.fail(path, f"{ref.group()} but the pattern has {groups} group(s)")
        return value.strip()

    def line_template(self, value: Any, path: KeyPath, required: Sequence[str] = ()) -> str:
        """Text that may use {name} and {greeting}."""
        return self.template(value, path, allowed=LINE_FIELDS, required=required)

    def choice(self, value: Any, path: KeyPath, allowed: Sequence[str]) -> str:
        if value not in allowed:
            self.fail(path, f"expected one of: {', '.join(allowed)}, got {value!r}")
        return value

    def boolean(self, value: Any, path: KeyPath) -> bool:
        if not isinstance(value, bool):
            self.fail(path, f"expected true or false, got {_kind(value)}")
        return value

    # - sections -
    def rule_list(self, value: Any, path: KeyPath) -> tuple[Rule, ...]:
        if not isinstance(value, list) or not value:
            self.fail(path, f"expected a non-empty list of rules, got {_kind(value)}")
        rules: list[Rule] = []
        for i, item in enumerate(value):
            rule = self.rule(item, path + (i,))
            if any(r.key == rule.key for r in rules):
                self.fail(path + (i, "key"), f"duplicate rule key {rule.key!r}")
            rules.append(rule)
        missing = [r.key for r in rules if r.fires == "missing"]
        for i, rule in enumerate(rules):
            if rule.line_when_missing is not None and rule.line_when_missing not in missing:
                self.fail(path + (i, "line_when_missing"),
                          f"{rule.line_when_missing!r} is not a rule that fires when missing "
                          f"(one of: {', '.join(missing) or 'none'})")
        return tuple(rules)

    def rule(self, value: Any, path: KeyPath) -> Rule:
        item = self.mapping(value, path, ["key", "title", "why", "suggestion", "severity"],
                            ["fires", "patterns", "unless", "with", "quote", "upset_only",
                             "fix", "replace", "line", "place", "line_when_missing"])
        key = self.key_name(self.text(item["key"], path + ("key",)), path + ("key",))
        fires = self.choice(item.get("fires", "found"), path + ("fires",), FIRES)
        allowed_fields = {
            "found": {"patterns", "unless", "fix", "replace", "line", "place",
                      "line_when_missing"},
            "missing": {"patterns", "with", "quote", "fix", "replace", "line", "place"},
            "name_missing": set(),
        }[fires] | {"key", "title", "why", "suggestion", "severity", "fires", "upset_only"}
        for field in item:
            if field not in allowed_fields:
                self.fail(path + (field,), f"not used by a rule that fires when {fires}")
        if fires != "name_missing" and "patterns" not in item:
            self.fail(path, "missing 'patterns'")
        if "line_when_missing" in item and "line" not in item:
            self.fail(path + ("line_when_missing",), "needs a 'line' to add")
        fix = self.choice(item.get("fix", "keep"), path + ("fix",),
                          FIXES if fires == "found" else ("replace", "keep"))
        place = self.choice(item.get("place", "here" if fires == "found" else "end"),
                            path + ("place",), PLACES if fires == "found" else ("start", "end"))

        def patterns(field: str) -> PatternSet | None:
            if field not in item:
                return None
            return self.pattern_set(item[field], path + (field,), options=field != "with")

        return Rule(
            key=key,
            title=self.text(item["title"], path + ("title",)),
            why=" ".join(self.text(item["why"], path + ("why",)).split()),
            suggestion=self.line_template(item["suggestion"], path + ("suggestion",)),
            severity=self.choice(item["severity"], path + ("severity",), SEVERITIES),
            fires=fires,
            patterns=patterns("patterns"),
            unless=patterns("unless"),
            together=patterns("with"),
            quote=patterns("quote"),
            upset_only=self.boolean(item.get("upset_only", False), path + ("upset_only",)),
            fix=fix,
            replace=(self.rewrite_text(item["replace"], path + ("replace",), 0)
                     if "replace" in item else ""),
            line=(self.line_template(item["line"], path + ("line",))
                  if "line" in item else None),
            place=place,
            line_when_missing=(self.key_name(self.text(item["line_when_missing"], path + (
                "line_when_missing",)), path + ("line_when_missing",))
                if "line_when_missing" in item else None),
        )

    def strength_list(self, value: Any, path: KeyPath,
                      keys: Sequence[str]) -> tuple[Strength, ...]:
        if not isinstance(value, list):
            self.fail(path, f"expected a list of strengths, got {_kind(value)}")
        return tuple(self.strength(item, path + (i,), keys) for i, item in enumerate(value))

    def strength(self, value: Any, path: KeyPath, keys: Sequence[str]) -> Strength:
        item = self.mapping(value, path, ["label"], ["patterns", "with", "not_with",
                                                     "uses_name"])
        uses_name = self.boolean(item.get("uses_name", False), path + ("uses_name",))
        if uses_name == ("patterns" in item):
            self.fail(path, "needs either 'patterns' or 'uses_name: true'")
        not_with = item.get("not_with", [])
        if not isinstance(not_with, list):
            self.fail(path + ("not_with",), f"expected a list of rule keys, got {_kind(not_with)}")
        for i, key in enumerate(not_with):
            if key not in keys:
                self.fail(path + ("not_with", i), f"unknown rule key {key!r}")
        return Strength(
            label=self.text(item["label"], path + ("label",)),
            patterns=(self.pattern_set(item["patterns"], path + ("patterns",))
                      if "patterns" in item else None),
            together=(self.pattern_set(item["with"], path + ("with",), options=False)
                      if "with" in item else None),
            not_with=tuple(not_with),
            uses_name=uses_name,
        )


def _whole_words(prepared: str) -> str:
    """A match may not start or end inside a word."""
    return rf"(?<!\w)(?:{prepared})(?!\w)"
