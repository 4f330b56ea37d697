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


_DOUBLE_FINAL = frozenset("get set put reset stop ship plan drop chat submit admit permit commit "
                          "refer transfer prefer run cut let swap".split())
_KEEP_E = frozenset("be see agree free guarantee".split())


def gerund(verb: str) -> str:
    """The -ing form of a verb ("offer" -> "offering", "give" -> "giving", "get" ->
    "getting"); a phrase keeps its other words ("sign off" -> "signing off")."""
    head, sep, rest = verb.partition(" ")
    low = head.lower()
    if not low.isalpha() or low.endswith("ing"):
        return verb
    if low in _DOUBLE_FINAL:
        head += head[-1]
    elif low.endswith("ie"):
        head = head[:-2] + "y"
    elif low.endswith("e") and low not in _KEEP_E:
        head = head[:-1]
    return head + "ing" + sep + rest
