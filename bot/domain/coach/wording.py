"""Text the coach writes or reads at the top of a reply: the {name} and {greeting}
values of its lines, the lines filled in, greetings, and a capital first letter."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.domain.coach.model import NAMELESS

GREETING_RE = re.compile(
    r"(?P<word>hi|hello|hey|hiya|dear|greetings|good (?:morning|afternoon|evening))\b"
    r"(?P<who>[^\n,!?:;]{0,40}?)\s*(?P<punct>[,!:;]|(?=\n)|$)", re.IGNORECASE)


def template_values(name: str, greet: bool) -> dict[str, str]:
    return {"name": name or NAMELESS, "greeting": f"{name}, " if greet and name else ""}


def fill_lines(lines: Sequence[str | None], name: str, greet_first: bool) -> str:
    """Lines joined into one paragraph; only the first may open with the name."""
    filled = [line.format(**template_values(name, greet=greet_first and i == 0))
              for i, line in enumerate(x for x in lines if x)]
    return " ".join(filled)


def capitalise(text: str) -> str:
    for i, ch in enumerate(text):
        if ch.isalpha():
            return text[:i] + ch.upper() + text[i + 1:] if ch.islower() else text
        if not ch.isspace() and ch not in "\"'([*_":
            return text
    return text
