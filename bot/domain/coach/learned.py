"""The coach's own model: which rules a draft breaks, judged from what the rules found,
the wording hints in data/coach.yaml (`signals`) and what the draft means.

The rules in data/coach.yaml list wording; people who never read them phrase blame,
hand-offs and reproach in ways no list holds ("the wholesaler let us down again",
"that's one for your GP"). So for each rule the model has learned (a logistic
regression per rule, trained by scripts/train_coach.py on the labelled training
drafts, never the held-out ones) it reads one vector per draft:

- which rules fired on the draft (rules alone, no model),
- which `signals` (hint wording, by rule) the draft holds,
- the draft's meaning: WordLlama's pooled token vectors (the reading model's embedder),
- whether the customer is upset and whether their name is known,

and says how likely the rule applies. At or above the rule's threshold (chosen by
grouped cross-validation on the training drafts) the rule fires; below it, it does not,
whatever the patterns said, unless cross-validation found that for this rule the head
does best adding to the patterns' hits (`keeps_rules`). A rule the model fires that no
pattern matched is quoted at the sentence that looks most like it (its signals and
meaning); the rewrite drops that sentence only when it holds no facts, and adds no line
answering a sentence it keeps.

The weights are plain arrays in data/model/coach_head.npz (numpy alone loads them);
the file records a fingerprint of the rule keys and signal patterns it was trained
with, and a head that does not match the rules file is not used (the rules decide
alone until it is retrained).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.domain.coach.document import Doc, present
from bot.domain.coach.model import Rule, Rules
from bot.domain.datafiles import data_file

HEAD_FORMAT = 2
EXTRA_FEATURES = 3  # upset, name known, length
DEFAULT_COACH_HEAD = data_file("model/coach_head.npz")

Embed = Callable[[str], np.ndarray]  # text -> the embedder's dense features


class CoachModelUnavailable(RuntimeError):
    """The head is missing, unreadable, or was trained for other rules or signals."""


@lru_cache(maxsize=32)
def fingerprint(rules: Rules) -> str:
    """What a head's features depend on: the rule keys and every signal pattern."""
    parts = ["keys:" + ",".join(rules.keys)]
    for key, patterns in rules.signals:
        parts += [f"{key}:{p.source}" for p in patterns.patterns]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:16]


@lru_cache(maxsize=32)
def signal_offsets(rules: Rules) -> tuple[int, ...]:
    """Where each rule's signals start among the signal features, and their total."""
    out, total = [], 0
    for _key, patterns in rules.signals:
        out.append(total)
        total += len(patterns.patterns)
    return (*out, total)


def signals_in(doc: Doc, rules: Rules, start: int = 0, end: int | None = None) -> np.ndarray:
    """1 for each signal pattern found in doc.mt[start:end] (a rule's patterns are
    scanned together, each position once: the first pattern listed that matches there)."""
    out = np.zeros(signal_offsets(rules)[-1], dtype=np.float32)
    stop = len(doc.mt) if end is None else end
    for feature, first, last in _signal_hits(doc, rules):
        if first >= start and last <= stop:
            out[feature] = 1.0
    return out


def _signal_hits(doc: Doc, rules: Rules) -> list[tuple[int, int, int]]:
    """(feature, start, end) of every signal match in the whole draft, found once per
    draft: the draft and each of its sentences are asked about, and scanning the text
    once per question was a third of the coach's time."""
    key = ("signals", id(rules))
    hits = doc.found.get(key)
    if hits is None:
        hits = []
        for (_key, patterns), base in zip(rules.signals, signal_offsets(rules), strict=False):
            hits += [(base + int(m.lastgroup[1:]), m.start(), m.end())  # type: ignore[index]
                     for m in patterns.regex.finditer(doc.mt)]
        doc.found[key] = hits
    return hits


def sentence_signals(doc: Doc, rules: Rules) -> np.ndarray:
    """Per rule with signals, how many of its signals the strongest single sentence
    holds (0, 1/3, 2/3 or 1): blame is a party *and* a failure in one sentence, not a
    team named in one sentence and a mistake owned in another."""
    offsets = signal_offsets(rules)
    out = np.zeros(len(rules.signals), dtype=np.float32)
    for start, end in doc.spans or [(0, len(doc.mt))]:
        found = signals_in(doc, rules, start, end)
        for i in range(len(rules.signals)):
            n = float(found[offsets[i]:offsets[i + 1]].sum())
            out[i] = max(out[i], min(n, 3.0) / 3.0)
    return out


def symbolic_features(doc: Doc, rules: Rules, fired: Mapping[str, object], upset: bool,
                      named: bool) -> np.ndarray:
    """Rules fired, signals held, upset, name known, length, then per rule with signals
    how many of them one sentence holds."""
    fired_values = np.asarray([1.0 if key in fired else 0.0 for key in rules.keys],
                              dtype=np.float32)
    rest = np.asarray([1.0 if upset else 0.0, 1.0 if named else 0.0,
                       min(len(doc.spans), 8) / 8.0], dtype=np.float32)
    return np.concatenate([fired_values, signals_in(doc, rules), rest,
                           sentence_signals(doc, rules)])


def draft_features(doc: Doc, rules: Rules, fired: Mapping[str, object], upset: bool,
                   named: bool, embed: Embed | None) -> np.ndarray:
    """The whole vector the heads read: symbolic features, then the draft's meaning."""
    symbolic = symbolic_features(doc, rules, fired, upset, named)
    if embed is None:
        return symbolic
    whole = np.asarray(embed(doc.text), dtype=np.float32)
    # the sentence that goes furthest on each dimension: a flagged sentence in a long,
    # otherwise kind reply is not averaged away
    peak = np.max(np.stack([embed(doc.text[start:end]) for start, end in doc.spans]
                           or [whole]), axis=0)
    return np.concatenate([symbolic, whole, peak.astype(np.float32)])


@dataclass(frozen=True)
class CoachHead:
    """One logistic regression per rule over `draft_features` (standardisation folded in)."""

    keys: tuple[str, ...]  # the rules it decides
    weights: np.ndarray  # (rules, features)
    bias: np.ndarray  # (rules,)
    thresholds: np.ndarray  # (rules,)
    fingerprint: str
    symbolic: int  # how many leading features are symbolic (the rest: the embedding)
    keeps_rules: np.ndarray | None = None  # (rules,) the head only adds to the rules' hits

    def probabilities(self, features: np.ndarray) -> dict[str, float]:
        logits = self.weights @ features + self.bias
        return {key: 1.0 / (1.0 + math.exp(-float(z))) for key, z in zip(self.keys, logits,
                                                                            strict=True)}

    def decide(self, features: np.ndarray) -> dict[str, bool]:
        logits = self.weights @ features + self.bias
        probs = 1.0 / (1.0 + np.exp(-logits))
        return {key: bool(p >= t) for key, p, t in zip(self.keys, probs, self.thresholds,
                                                        strict=True)}

    def sentence_weights(self, key: str) -> np.ndarray:
        return self.weights[self.keys.index(key)]


def load_head(path: str | Path = DEFAULT_COACH_HEAD) -> CoachHead:
    try:
        with np.load(Path(path), allow_pickle=False) as arrays:
            data = {name: arrays[name] for name in arrays.files}
    except (OSError, ValueError, EOFError) as exc:
        raise CoachModelUnavailable(f"cannot read the coach head {path}: {exc}") from exc
    try:
        if int(data["format"]) != HEAD_FORMAT:
            raise CoachModelUnavailable(f"{path}: head format {int(data['format'])}, "
                                        f"this code reads {HEAD_FORMAT}")
        head = CoachHead(
            keys=tuple(str(k) for k in data["keys"]),
            weights=data["weights"].astype(np.float32),
            bias=data["bias"].astype(np.float32),
            thresholds=data["thresholds"].astype(np.float32),
            fingerprint=str(data["fingerprint"]),
            symbolic=int(data["symbolic"]),
            keeps_rules=(data["keeps_rules"].astype(bool) if "keeps_rules" in data
                         else None),
        )
    except KeyError as exc:
        raise CoachModelUnavailable(f"{path}: not a coach head (no {exc})") from exc
    n = len(head.keys)
    if head.weights.ndim != 2 or head.weights.shape[0] != n or head.bias.shape != (n,) or (
            head.thresholds.shape != (n,)):
        raise CoachModelUnavailable(f"{path}: weights {head.weights.shape} for {n} rules")
    return head


class CoachScorer:
    """What `check(..., scorer=)` takes when the coach's model is loaded: called on a
    sentence it gives the reading model's concept scores (as `reader.concepts` does),
    and it carries the coach head and the embedder for the draft as a whole."""

    def __init__(self, reader: object, head: CoachHead):
        self.reader = reader
        self.head = head
        embedder = getattr(reader, "embedder", None)
        self.embed: Embed | None = embedder.features if embedder is not None else None
        self._usable: dict[int, tuple[Rules, bool]] = {}

    def __call__(self, sentence: str) -> Mapping[str, float]:
        concepts = getattr(self.reader, "concepts", None)
        return concepts(sentence) if concepts is not None else {}

    def usable_with(self, rules: Rules) -> bool:
        if self.embed is None:
            return False
        known = self._usable.get(id(rules))
        if known is None or known[0] is not rules:
            width = (len(rules.keys) + signal_offsets(rules)[-1] + EXTRA_FEATURES
                     + len(rules.signals)
                     + 2 * len(self.embed("ok")))  # the draft and its peak sentence
            ok = (self.head.fingerprint == fingerprint(rules)
                  and all(key in rules.keys for key in self.head.keys)
                  and self.head.weights.shape[1] == width)
            known = self._usable[id(rules)] = (rules, ok)
        return known[1]


_SCORERS: dict[tuple[int, str], CoachScorer | None] = {}


def coach_scorer(reader: object | None, path: str | Path = DEFAULT_COACH_HEAD
                 ) -> Callable[[str], Mapping[str, float]] | None:
    """The scorer to hand `check`: the coach's model over `reader` when its head loads,
    else `reader.concepts` (or None without a reader). Loaded once per reader and path."""
    if reader is None:
        return None
    key = (id(reader), str(path))
    if key not in _SCORERS:
        try:
            _SCORERS[key] = CoachScorer(reader, load_head(path))
        except CoachModelUnavailable:
            _SCORERS[key] = None
    scorer = _SCORERS[key]
    return scorer if scorer is not None else getattr(reader, "concepts", None)


def best_sentence(doc: Doc, rules: Rules, head: CoachHead, key: str,
                  embed: Embed) -> int | None:
    """The sentence that looks most like rule `key`: the rule's weights on each
    sentence's own signals and meaning. None when no sentence holds one of the rule's
    own signals with a positive weight."""
    weights = head.sentence_weights(key)
    offsets = signal_offsets(rules)
    first = len(rules.keys)
    signal_weights = weights[first:first + offsets[-1]]
    own = np.zeros(offsets[-1], dtype=bool)
    for (k, patterns), base in zip(rules.signals, offsets, strict=False):
        if k == key:
            own[base:base + len(patterns.patterns)] = True
    own &= signal_weights > 0
    best, best_score = None, -math.inf
    for index, (start, end) in enumerate(doc.spans):
        found = signals_in(doc, rules, start, end)
        if not np.any(found[own]):
            continue
        meaning = np.asarray(embed(doc.text[start:end]), dtype=np.float32)
        score = float(signal_weights @ found) + float(
            weights[head.symbolic:] @ np.concatenate([meaning, meaning]))
        if score > best_score:
            best, best_score = index, score
    return best


def decide(doc: Doc, rules: Rules, fired: Mapping[str, list], upset: bool, name: str,
           scorer: CoachScorer) -> dict[str, bool]:
    """The head's verdict per rule it decides (upset-only rules stay off when calm)."""
    assert scorer.embed is not None
    features = draft_features(doc, rules, fired, upset, bool(name), scorer.embed)
    verdict = scorer.head.decide(features)
    keeps = scorer.head.keeps_rules
    for i, key in enumerate(scorer.head.keys):
        if keeps is not None and keeps[i] and key in fired:
            verdict[key] = True  # this head only adds to what the rules find
    for key in list(verdict):
        if rules.rule(key).upset_only and not upset:
            verdict[key] = False
        elif key in fired and not verdict[key] and not clearable(doc, rules.rule(key)):
            verdict[key] = True  # nothing in the draft the model could have read as cleared
    return verdict


def clearable(doc: Doc, rule: Rule) -> bool:
    """Whether the model may turn down the rules' finding of `rule`: always, unless the
    rule lists what must be in the draft for that (`cleared_by`) and none of it is."""
    return rule.cleared_by is None or present(doc, rule.cleared_by, None)


