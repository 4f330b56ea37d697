"""What Mend makes of a report and of a draft reply, as plain records: the fields
`python -m bot read` and `check` print and `bench/judgement.py` scores."""

from __future__ import annotations

from typing import Any

from bot.domain.coach import Review, Rules, check
from bot.domain.coach.learned import coach_scorer
from bot.domain.intake import Reader, Report, read_report
from bot.domain.playbook import Playbook

CHANNELS = ("email", "phone", "chat", "in_person", "social")


def report_fields(report: Report) -> dict[str, Any]:
    """A report as the nine playbook categories, three feelings and five channels."""
    return {
        "category": report.category,
        "feeling": report.emotion,
        "channels": [c for c in dict.fromkeys(report.contacts) if c in CHANNELS],
        "customer": report.customer,
        "severity": report.severity,
        "stakes": getattr(report, "stakes", None),
        "language": getattr(report, "language", "en"),
    }


def read(text: str, playbook: Playbook, reader: Reader | None = None) -> dict[str, Any]:
    return report_fields(read_report(text, playbook, reader))


def review_fields(review: Review) -> dict[str, Any]:
    return {
        "findings": [{"rule": f.key, "quote": f.quote} for f in review.findings],
        "strengths": list(review.strengths),
        "rewrite": review.rewrite,
    }


def review(draft: str, rules: Rules, name: str | None = None, upset: bool = True,
           reader: Any = None) -> dict[str, Any]:
    """`reader`: the language model; with it the coach's own model (data/model/
    coach_head.npz) decides the rules it learned, over what the rules find."""
    return review_fields(check(draft, rules, customer_name=name, customer_upset=upset,
                               scorer=coach_scorer(reader)))
