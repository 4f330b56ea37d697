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
        # first token -> [(length, {cue tokens: hit})], longest first: at a position one
        # lookup per cue length, not one comparison per cue ("at", "no", "in" start 15-26)
        by_length: dict[str, dict[int, dict[tuple[str, ...], CueHit]]] = {}
        for tokens, (cue, labels) in by_tokens.items():
            hit = CueHit(cue, tuple(labels), max(1, len(cue.split())), -1)
            by_length.setdefault(tokens[0], {}).setdefault(len(tokens), {})[tokens] = hit
        self._index = {first: sorted(lengths.items(), key=lambda item: -item[0])
                       for first, lengths in by_length.items()}

    def find(self, tokens: Sequence[str]) -> list[CueHit]:
        """Return the non-overlapping hits in text order (position = token index)."""
        hits: list[CueHit] = []
        index = self._index
        tokens = tuple(tokens)
        free = 0  # the tokens before this one are part of a hit already
        for i, token in enumerate(tokens):
            if i < free:
                continue
            entries = index.get(token)
            if entries is None:
                continue
            for size, cues in entries:
                hit = cues.get(tokens[i:i + size])
                if hit is not None:
                    hits.append(CueHit(hit.cue, hit.labels, hit.weight, i))
                    free = i + size
                    break
        return hits
