"""Logging that never carries tokens or customer words.

Mend's own log lines name ids only. The Slack libraries sometimes log whole
request bodies (Bolt does when a signature is wrong); their loggers get a
filter that withholds any line that may carry request content.
"""

from __future__ import annotations

import logging

# Words that come with request content or credentials in the libraries' lines
# (a line that merely names the `token` setting is kept).
MARKERS = ("body", "payload", "text", "token=", "token:", "'token'", '"token"', "xox", "xapp-",
           "headers", "params", "hooks.slack.com", "http://", "https://",
           # Bolt's "Unhandled request ({...})" quotes what was typed in a select's search
           # box (`value`) or a dialog's fields (`submission`).
           "unhandled request", "'value'", "'submission'")
# Library lines that are noise for Mend, dropped: Bolt reads SLACK_BOT_TOKEN from the
# environment itself, then warns that Mend's client (which has the token) wins.
NOISE = ("`token` will be unused",)


class WithholdContent(logging.Filter):
    """Replace a library log line that may quote request content."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("mend") and not record.name.startswith("mend.slack"):
            return True  # Mend's own lines carry ids only
        try:
            message = record.getMessage().lower()
        except Exception:  # noqa: BLE001 - a library's malformed call: withhold, don't raise
            message = "body"
        if any(noise.lower() in message for noise in NOISE):
            return False
        if any(marker in message for marker in MARKERS):
            error = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
            record.msg = "%s: line withheld (%d chars; may quote request content)%s"
            record.args = (record.name, len(message), f" [{error}]" if error else "")
            # The traceback could quote the same content (a response URL, a body).
            record.exc_info, record.exc_text = None, None
        return True


def slack_logger() -> logging.Logger:
    """The logger handed to Bolt and the Web API client (Bolt copies its filters)."""
    logger = logging.getLogger("mend.slack")
    # Bolt formats its per-request debug lines whenever this level allows DEBUG
    # (the loggers it derives copy it): they are never shown, so don't build them.
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not any(isinstance(f, WithholdContent) for f in logger.filters):
        logger.addFilter(WithholdContent())
    return logger


def configure(level: int = logging.INFO, fmt: str | None = None) -> None:
    """Plain lines, or JSON objects with `MEND_LOG_FORMAT=json` (see jsonlog.py)."""
    import os

    logging.basicConfig(level=level,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    fmt = (fmt or os.environ.get("MEND_LOG_FORMAT") or "text").strip().lower()
    if fmt == "json":
        from bot.runtime.jsonlog import use_json

        for handler in logging.getLogger().handlers:
            use_json(handler)
    # Bolt and the SDK log request bodies at DEBUG; never let them.
    for name in ("slack_bolt", "slack_sdk"):
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    # Their loggers are many (slack_sdk.webhook.async_client posts response URLs,
    # which are credentials for half an hour): filter at the handlers, which every
    # line passes through, not only at the loggers Mend hands to Bolt.
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, WithholdContent) for f in handler.filters):
            handler.addFilter(WithholdContent())
