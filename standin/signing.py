"""Request signing, exactly as Slack signs the HTTP requests it sends to an app.

Slack adds two headers to every request (slash commands, interactivity, events):
``X-Slack-Request-Timestamp`` (Unix seconds) and ``X-Slack-Signature``, which is
``"v0=" + hex(HMAC-SHA256(signing_secret, f"v0:{timestamp}:{raw body}"))``.
Apps (Bolt included) recompute it and refuse requests whose signature differs or whose
timestamp is more than five minutes old.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"


def compute_signature(signing_secret: str, body: bytes, timestamp: int | str) -> str:
    """The ``v0=...`` signature of ``body`` sent at ``timestamp``."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    base = f"v0:{timestamp}:".encode() + body
    digest = hmac.new(signing_secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def sign_request(signing_secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers that make ``body`` a validly signed Slack request.

    ``timestamp`` defaults to now; pass an old one to test replay protection. The caller
    sets ``Content-Type`` itself (form for commands/interactivity, JSON for events).
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: compute_signature(signing_secret, body, ts),
    }
