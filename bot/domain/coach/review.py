"""Review a draft: the rules that fire, what works, a rewrite, and whether it's ok."""

from __future__ import annotations

from bot.domain.coach.document import Doc
from bot.domain.coach.judge import evaluate, findings_from, judged, strengths_from
from bot.domain.coach.learned import CoachScorer
from bot.domain.coach.model import Review, Rules
from bot.domain.coach.rewrite import rewrite_draft
from bot.domain.coach.scoring import Scorer


def check(draft: str, rules: Rules, customer_name: str | None = None,
          customer_upset: bool = True, scorer: Scorer | None = None) -> Review:
    """Review a draft reply: findings, strengths, a suggested rewrite and whether it's ok.

    Every draft is read as the answer to a complaint. `customer_upset` turns on the
    check for acknowledged feelings; `customer_name` the check that the name is used.
    `scorer(sentence) -> {concept: score}` (a language model; see
    `bot.domain.coach.scoring`) catches sentences the patterns miss; None: rules only.
    """
    text = draft if isinstance(draft, str) else ("" if draft is None else str(draft))
    if not text.strip():
        return Review((), (), "", False)
    name = " ".join(str(customer_name).split()) if customer_name else ""
    if isinstance(scorer, CoachScorer) and scorer.usable_with(rules):
        # the coach's model decides the rules it learned, from what the rules alone find
        doc = Doc(text, None)
        fired = evaluate(doc, rules, name, customer_upset, rules.rules)
        try:
            fired = judged(doc, rules, fired, customer_upset, name, scorer)
        except Exception:  # a broken model must not break the coach: rules alone
            pass
    else:
        doc = Doc(text, scorer)
        fired = evaluate(doc, rules, name, customer_upset, rules.rules)
    findings = findings_from(doc, rules, fired, name)
    return Review(
        findings=findings,
        strengths=strengths_from(doc, rules, fired, name),
        rewrite=rewrite_draft(doc, rules, fired, name, customer_upset),
        ok=not any(f.severity == "change" for f in findings),
    )
