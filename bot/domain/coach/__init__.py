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

The package: `model` (the rules and the review), `patterns` and `rules_file` (reading
data/coach.yaml), `document` (the draft, its sentences, matching), `judge` (which
rules fire, findings, strengths), `edits`, `wording` and `rewrite` (the suggested
rewrite), and `review` (`check`, the entry point).
"""

from __future__ import annotations

from bot.domain.coach.model import (
    DEFAULT_COACH_PATH,
    FIRES,
    FIXES,
    LINE_FIELDS,
    MAX_FINDINGS_PER_RULE,
    NAMELESS,
    PLACES,
    SEVERITIES,
    SUPPORTED_VERSIONS,
    CoachError,
    Finding,
    Pattern,
    PatternSet,
    Review,
    Rule,
    Rules,
    Strength,
)
from bot.domain.coach.review import check
from bot.domain.coach.rules_file import load_rules, parse_rules

__all__ = [
    "DEFAULT_COACH_PATH", "FIRES", "FIXES", "LINE_FIELDS", "MAX_FINDINGS_PER_RULE", "NAMELESS",
    "PLACES", "SEVERITIES", "SUPPORTED_VERSIONS", "CoachError", "Finding", "Pattern",
    "PatternSet", "Review", "Rule", "Rules", "Strength", "check", "load_rules", "parse_rules",
]
