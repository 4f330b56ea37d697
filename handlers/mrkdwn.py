"""Making user text safe and short enough for Slack.

Slack reads `<...>` in mrkdwn as mentions and links, so user text is escaped
before it is placed in a message: nobody can smuggle in `<!channel>` or a
fake `<@U123>` mention through a case summary.
"""

ELLIPSIS = "…"
SECTION_TEXT_MAX = 3000
BUTTON_TEXT_MAX = 75
HEADER_TEXT_MAX = 150
CONTEXT_TEXT_MAX = 2000
FIELD_TEXT_MAX = 2000
MAX_MESSAGE_BLOCKS = 50


def escape(text: str) -> str:
    """Escape the three characters Slack gives meaning to in mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, ending with a visible ellipsis.

    Cuts never split an escape sequence such as `&amp;`.
    """
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut.rstrip() + ELLIPSIS


def quote(text: str) -> str:
    """Escaped text as a mrkdwn block quote, every line marked."""
    return "\n".join("&gt;" + line for line in escape(text).splitlines() or [""])


def mention(user_id: str | None) -> str:
    """A mention of a Slack user id we got from Slack itself (never from user text)."""
    if not user_id or not user_id.isalnum():
        return "_nobody yet_"
    return f"<@{user_id}>"


def date_token(epoch: int, fallback: str, fmt: str = "{date_short_pretty} at {time}") -> str:
    """A Slack date token: each reader sees the time in their own timezone."""
    return f"<!date^{int(epoch)}^{fmt}|{escape(fallback)}>"
