"""Report text made comparable: whitespace normalised, tokens, and cue matching.

    tokenize("Double-charged, DIDN'T call 😡")
    -> ("double", "charged", ",", "didnt", "call", "😡")
    CueMatcher([("billing_error", ["charged twice", "charged"])]).find(tokens)
    -> [CueHit(cue="charged twice", labels=("billing_error",), weight=2, position=3)]

The playbook compiles one matcher per cue list, once, at load time
(`Playbook.matchers`); `bot.domain.intake` runs them over each report.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
# An apostrophe inside a word is dropped, so "didn't", "didn’t" and "didnt" are one token
# (agents often type contractions without one); a final 's goes with it, so "courier's"
# still matches "courier".
_APOSTROPHE_RE = re.compile(r"['\u2018\u2019`\u00b4](?<=\w.)(?:s\b|(?=\w))")
# Hyphens, stray apostrophes and invisible emoji joiners are ignored on both sides of a match.
_IGNORED_TOKENS = frozenset("-\u2010\u2011'\u2018\u2019`\u00b4\ufe0f\u200d")


def normalize(text: str | None) -> str:
    """NFC-normalise and collapse all runs of whitespace (incl. newlines) to one space."""
    if not text:
        return ""
    if not isinstance(text, str):
        text = str(text)
    return " ".join(unicodedata.normalize("NFC", text).split())


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
