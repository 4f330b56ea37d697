"""Loading the reading model (WordLlama's bundled vectors and Mend's trained heads).

The model ships inside packages: nothing is downloaded. If it cannot be loaded, Mend
says so once and reads with its cue lists alone.
"""

from __future__ import annotations

import logging
from functools import cache

log = logging.getLogger("mend.reader")


@cache  # one model per process, however many Mends it starts (tests, the sandbox)
def load_reader():
    """The reading model, or None when it is not installed or its head is missing."""
    try:
        from bot.domain.reading.model import ModelUnavailable, SituationModel
    except ImportError as exc:
        log.warning("reading model unavailable (%s); reading with cue lists only",
                    type(exc).__name__)
        return None
    try:
        return SituationModel.load()
    except ModelUnavailable as exc:
        log.warning("reading model unavailable: %s; reading with cue lists only", exc)
        return None
