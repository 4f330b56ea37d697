"""Reading text as Slack sends it (the manifest asks Slack to escape it).

Slack sends mentions, channels and links as `<...>` tokens and escapes
`&`, `<`, `>` as entities. Mend stores what a person would read, and
escapes again only when it renders.
"""

from __future__ import annotations

import re

TOKEN = re.compile(r"<([^<>]*)>")
USER = re.compile(r"<@([UW][A-Z0-9]{1,30})(?:\|[^<>]*)?>")
ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def user_ids(text: str) -> list[str]:
    """Slack user ids mentioned in `text`, in order, without repeats."""
    return list(dict.fromkeys(USER.findall(text or "")))


def _readable(token: str) -> str:
    target, _, label = token.partition("|")
    if target.startswith("@"):
        return "@" + (label or target[1:])
    if target.startswith("#"):
        return "#" + (label or target[1:])
    if target.startswith("!"):
        name = label or target[1:].split("^")[0]
        return name if name.startswith("@") else "@" + name
    return f"{label} ({target})" if label and label != target else target


def plain(text: str) -> str:
    """Slack-formatted text as a person reads it: tokens spelled out, entities undone."""
    text = TOKEN.sub(lambda m: _readable(m.group(1)), text or "")
    for entity, char in ENTITIES:
        text = text.replace(entity, char)
    return text


def number(value: object) -> int | None:
    """A case number from a payload value (`12`, `"12"`, `"12:U3"`), or None."""
    text = str(value if value is not None else "").split(":")[0].strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None
