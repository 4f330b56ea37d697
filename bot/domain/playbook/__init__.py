"""The service-recovery playbook: load, validate and match cues from data/playbook.yaml.

The playbook is plain data that an operations lead edits. `load_playbook` turns the
YAML into frozen dataclasses (`bot.domain.playbook.model`) and rejects anything it
does not understand with a `PlaybookError` naming the file, the line and the key
path (`bot.domain.playbook.reader`), e.g.::

    data/playbook.yaml line 42: categories.billing_error.steps: missing 'follow_up'

Cue matching (`tokenize`, `CueMatcher`, in `bot.domain.text`) is compiled once per
playbook, at load time, and reused by `bot.domain.intake`.
"""

from __future__ import annotations

import os

from bot.domain.playbook.model import (
    DEFAULT_PLAYBOOK_PATH,
    EMOTIONS,
    FALLBACK_CATEGORY,
    IGNORED_CONTACT,
    REQUIRED_TEMPLATE_FIELDS,
    SEVERITIES,
    STEP_KEYS,
    SUPPORTED_VERSIONS,
    TEMPLATE_FIELDS,
    UNKNOWN_CONTACT,
    Apology,
    ApologyTemplate,
    Category,
    Channel,
    Compensation,
    ContactRules,
    EmotionRules,
    Matchers,
    NudgeRules,
    Playbook,
    PlaybookError,
    Settings,
    SeverityRules,
    Step,
    Translation,
    WarningRule,
)
from bot.domain.playbook.reader import PlaybookReader
from bot.domain.text import CueHit, CueMatcher, tokenize
from bot.domain.yamlfile import KeyPath, compose, read_source

__all__ = [
    "DEFAULT_PLAYBOOK_PATH", "EMOTIONS", "FALLBACK_CATEGORY", "IGNORED_CONTACT",
    "REQUIRED_TEMPLATE_FIELDS", "SEVERITIES", "STEP_KEYS", "SUPPORTED_VERSIONS",
    "TEMPLATE_FIELDS", "UNKNOWN_CONTACT", "Apology", "ApologyTemplate", "Category", "Channel",
    "Compensation", "ContactRules", "CueHit", "CueMatcher", "EmotionRules", "KeyPath",
    "Matchers", "NudgeRules", "Playbook", "PlaybookError", "SeverityRules", "Settings", "Step",
    "Translation", "WarningRule", "load_playbook", "parse_playbook", "read_source", "tokenize",
]


def load_playbook(path: str | os.PathLike[str] = DEFAULT_PLAYBOOK_PATH) -> Playbook:
    """Read, validate and compile the playbook at `path`; raise PlaybookError if invalid."""
    return parse_playbook(*read_source(path, PlaybookError, "playbook"))


def parse_playbook(text: str, source: str = "<playbook>") -> Playbook:
    """Validate playbook YAML text; `source` names the file in error messages."""
    data, lines = compose(text, source, PlaybookError)
    playbook = PlaybookReader(source, lines).playbook(data)
    _ = playbook.matchers, playbook.cue_words  # compile now, not on the first report
    return playbook
