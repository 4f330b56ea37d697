"""Text the coach writes or reads at the top of a reply: the {name} and {greeting}
values of its lines, the lines filled in, greetings, and a capital first letter."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.domain.coach.model import NAMELESS, NO_PROBLEM

_TITLES = frozenset("mr mrs ms miss mx dr prof sir madam mister".split())

GREETING_RE = re.compile(
    r"(?P<word>hi|hello|hey|hiya|dear|greetings|good (?:morning|afternoon|evening))\b"
    r"(?P<who>[^\n,!?:;]{0,40}?)\s*(?P<punct>[,!:;]|(?=\n)|$)", re.IGNORECASE)


def address(name: str) -> str:
    """How the reply greets the customer: the first name ("Dana Lee" -> "Dana"), or the
    title and surname when the name starts with a title ("Mrs Okafor")."""
    words = name.split()
    if not words:
        return ""
    if words[0].casefold().rstrip(".") in _TITLES:
        return " ".join(words[:1] + words[-1:]) if len(words) > 1 else name
    return words[0]


def template_values(name: str, greet: bool, problem: str = "") -> dict[str, str]:
    first = address(name)
    return {"name": first or NAMELESS, "greeting": f"{first}, " if greet and first else "",
            "problem": problem or NO_PROBLEM}


def fill_lines(lines: Sequence[str | None], name: str, greet_first: bool,
               problem: str = "") -> str:
    """Lines joined into one paragraph; only the first may open with the name."""
    filled = [line.format(**template_values(name, greet=greet_first and i == 0,
                                            problem=problem))
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
