"""Which rules fire on a draft, the findings they give, and what already works."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.domain.coach.document import Doc, Spans, matches, name_used, present
from bot.domain.coach.learned import CoachScorer, best_sentence, decide
from bot.domain.coach.model import (
    MAX_FINDINGS_PER_RULE,
    SEVERITIES,
    Finding,
    Pattern,
    Rule,
    Rules,
)
from bot.domain.coach.scoring import RESOLVED, agrees
from bot.domain.coach.wording import template_values


@dataclass(frozen=True)
class Hit:
    """Where a rule fired: a match (start < end) or the whole draft (0, 0)."""

    rule: Rule
    start: int = 0
    end: int = 0
    pattern: Pattern | None = None
    match: re.Match[str] | None = None
    group: int = 0  # the pattern's own group 0 inside `match`
    learned: bool = False  # a sentence the coach's model put in the rule, no pattern


def evaluate(doc: Doc, rules: Rules, name: str, upset: bool,
             which: Sequence[Rule], context: Doc | None = None) -> dict[str, list[Hit]]:
    """The hits of every rule in `which` that fires, by rule key. `context` (the
    original draft, when `doc` is a rewrite of it) is where a missing rule looks for
    what it `needs` and for `settled` wording: a rewrite that dropped "someone will
    call you" still owes the customer a next step."""
    fired: dict[str, list[Hit]] = {}
    for rule in which:
        if rule.upset_only and not upset:
            continue
        if rule.fires == "found":
            hits = _found(doc, rule)
        elif rule.fires == "missing":
            hits = _missing(doc, rule, context or doc)
        else:  # name_missing
            hits = [Hit(rule)] if name and not name_used(doc, name) else []
        if hits:
            fired[rule.key] = hits
    return fired


def _found(doc: Doc, rule: Rule) -> list[Hit]:
    """Matches of the rule's patterns, plus sentences a scorer puts in the rule's
    concept that hold one of its cues; none where `unless` is near."""
    assert rule.patterns is not None
    hits = [Hit(rule, m.start(), m.end(), pattern, m, group)
            for pattern, m, group in matches(doc, rule.patterns)]
    if rule.cues is not None and doc.scorer is not None:
        hits = sorted(hits + _scored(doc, rule, {doc.sentence_at(h.start) for h in hits}),
                      key=lambda h: h.start)
    if hits and rule.unless is not None:
        unless = rule.unless.regex
        held = {doc.sentence_at(h.start) for h in hits}
        hits = [h for h in hits if not unless.search(doc.mt, *doc.near(h.start, held))]
    return hits


def _scored(doc: Doc, rule: Rule, taken: set[int]) -> list[Hit]:
    """A hit on the first cue of each sentence (not already hit) the scorer agrees on."""
    assert rule.cues is not None
    out = []
    for index, scores in enumerate(doc.scores()):
        if index in taken or not agrees(scores, rule.key):
            continue
        start, end = doc.spans[index]
        m = rule.cues.regex.search(doc.mt, start, end)
        if m is not None:
            index_ = int(m.lastgroup[1:])  # type: ignore[index]
            out.append(Hit(rule, m.start(), m.end(), rule.cues.patterns[index_], m,
                           rule.cues.offsets[index_]))
    return out


def _missing(doc: Doc, rule: Rule, context: Doc) -> list[Hit]:
    """The rule fires when its patterns are absent, something it `needs` is there and
    nothing `settled` (or a sentence the scorer reads as resolved) is."""
    assert rule.patterns is not None
    if present(doc, rule.patterns, rule.together):
        return []
    # (in a rewrite, only the draft's own wording counts: "you'll have uptime" left
    # after "100%" went is not a new step to time)
    if rule.needs is not None and not present(context, rule.needs, None):
        return []
    if rule.settled is not None and (present(context, rule.settled, None) or any(
            agrees(scores, RESOLVED) for scores in context.scores())):
        return []
    hits = [Hit(rule, m.start(), m.end(), pattern, m, group)
            for pattern, m, group in (matches(doc, rule.quote) if rule.quote else ())]
    return hits or [Hit(rule)]


def judged(doc: Doc, rules: Rules, fired: Mapping[str, list[Hit]], upset: bool, name: str,
           scorer: CoachScorer) -> dict[str, list[Hit]]:
    """The rules' hits with the coach model's verdict applied to the rules it learned:
    a rule it turns down is dropped; one it fires that no pattern matched gets a hit
    on the sentence that looks most like it (or the whole draft)."""
    assert scorer.embed is not None
    verdict = decide(doc, rules, fired, upset, name, scorer)
    out = {key: hits for key, hits in fired.items() if verdict.get(key, True)}
    for key, fires in verdict.items():
        if not fires or key in out:
            continue
        rule = rules.rule(key)
        index = (best_sentence(doc, rules, scorer.head, key, scorer.embed)
                 if rule.fires == "found" else None)
        if index is None:
            out[key] = [Hit(rule, learned=True)]
        else:
            start, end = doc.spans[index]
            out[key] = [Hit(rule, start, end, learned=True)]
    return {rule.key: out[rule.key] for rule in rules.rules if rule.key in out}


def findings_from(doc: Doc, rules: Rules, fired: Mapping[str, list[Hit]],
                  name: str) -> tuple[Finding, ...]:
    values = template_values(name, greet=bool(name))
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


def strengths_from(doc: Doc, rules: Rules, fired: Mapping[str, list[Hit]],
                   name: str) -> tuple[str, ...]:
    """Labels of what works; wording that also triggered a finding does not count."""
    taken = Spans((h.start, h.end) for hits in fired.values() for h in hits if h.end > h.start)
    out = []
    for strength in rules.strengths:
        if any(key in fired for key in strength.not_with):
            continue
        if strength.uses_name:
            if name and name_used(doc, name):
                out.append(strength.label)
            continue
        assert strength.patterns is not None
        for _pattern, m, _group in matches(doc, strength.patterns):
            if taken.overlaps(m.start(), m.end()):
                continue
            if strength.together is not None:
                start, end = doc.span_at(m.start())
                if not strength.together.regex.search(doc.mt, start, end):
                    continue
            out.append(strength.label)
            break
    return tuple(out)
