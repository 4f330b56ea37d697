"""A per-sentence scorer plugged into the judge: a language model (for example the
sentence heads in `bot.domain.reading.model`) or a fake one in tests.

A scorer takes one sentence and returns scores in [0, 1] by concept: a rule key
("blame", "callback_burden", "passed_on") or "resolved" (the sentence says the matter
is fully done). The coach works without one (`scorer=None`): rules only.

The scorer never fires a rule on its own. A sentence the rules missed counts for a
rule only when its score is at least `THRESHOLD` *and* the sentence holds one of the
rule's `cues` (weak wording from data/coach.yaml, like "because", "short-staffed",
"the courier") *and* the rule's `unless` is not there. That keeps precision high: the
model adds recall on phrasings the patterns do not list, inside sentences that
already look like the concept. A sentence scored "resolved" at or above the threshold
counts like a `settled` pattern: the reply says the matter is done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

Scorer = Callable[[str], Mapping[str, float]]
THRESHOLD = 0.8
RESOLVED = "resolved"


def score_sentences(sentences: list[str], scorer: Scorer | None) -> list[Mapping[str, float]]:
    """The scorer's scores for each sentence ({} each without a scorer or on failure)."""
    if scorer is None:
        return [{} for _ in sentences]
    out: list[Mapping[str, float]] = []
    for sentence in sentences:
        try:
            scores = scorer(sentence) or {}
        except Exception:  # a broken model must not break the coach: rules only
            scores = {}
        out.append(scores)
    return out


def agrees(scores: Mapping[str, float], concept: str) -> bool:
    value = scores.get(concept, 0.0)
    return isinstance(value, (int, float)) and value >= THRESHOLD
