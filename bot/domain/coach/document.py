"""A draft made ready for matching: a same-length lower-case copy, its sentences, and
the matches of each pattern set (run once per draft), plus the customer's name.

Offsets found in the matching copy are valid in the draft as given.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Container, Iterable, Mapping
from functools import lru_cache
from itertools import accumulate

from bot.domain.coach.model import Pattern, PatternSet
from bot.domain.coach.scoring import Scorer, score_sentences

# Same-length translation used for matching only: offsets stay valid in the original.
MATCH_TABLE = str.maketrans({
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


class Doc:
    """A draft, its lower-case matching copy (same length), its sentences, and the
    matches found so far (pattern sets shared by rules and strengths run once)."""

    __slots__ = ("text", "mt", "spans", "starts", "found", "scorer", "_scores")

    def __init__(self, text: str, scorer: Scorer | None = None):
        self.text = text
        self.scorer = scorer
        self._scores: list[Mapping[str, float]] | None = None
        plain = text.translate(MATCH_TABLE)
        self.mt = lower_same_length(plain)
        self.spans = _sentences(plain)
        self.starts = [start for start, _ in self.spans]
        self.found: dict[int, list[tuple[Pattern, re.Match[str], int]]] = {}

    def scores(self) -> list[Mapping[str, float]]:
        """The scorer's scores for each sentence, asked once ({} each without a scorer)."""
        if self._scores is None:
            self._scores = score_sentences(
                [self.text[start:end] for start, end in self.spans], self.scorer)
        return self._scores

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


def lower_same_length(text: str) -> str:
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


def matches(doc: Doc, patterns: PatternSet) -> list[tuple[Pattern, re.Match[str], int]]:
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


def present(doc: Doc, patterns: PatternSet, together: PatternSet | None) -> bool:
    """True when a pattern matches (with a `together` pattern in the same sentence)."""
    for _pattern, m, _group in matches(doc, patterns):
        if together is None:
            return True
        start, end = doc.span_at(m.start())
        if together.regex.search(doc.mt, start, end):
            return True
    return False


class Spans:
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
TITLES = frozenset("mr mrs ms miss mx dr prof sir madam mister".split())


def name_used(doc: Doc, name: str) -> bool:
    """The full name or any part of it (not a title), starting with a capital if cased."""
    regex = name_regex(name)
    if regex is None:
        return False
    return any(not doc.text[m.start()].islower() for m in regex.finditer(doc.mt))


@lru_cache(maxsize=512)
def name_regex(name: str) -> re.Pattern[str] | None:
    clean = lower_same_length(name.translate(MATCH_TABLE)).strip()
    parts = [clean] + [p.strip(".,") for p in clean.split()]
    alternatives = []
    for part in dict.fromkeys(parts):
        if len(part) < 2 or part.casefold() in TITLES:
            continue
        before = r"(?<!\w)" if _is_cased(part[0]) else ""
        after = r"(?!\w)" if _is_cased(part[-1]) else ""
        alternatives.append(before + re.escape(part) + after)
    return re.compile("|".join(alternatives)) if alternatives else None


def _is_cased(ch: str) -> bool:
    return ch.isdigit() or ch.isupper() or ch.islower()
