"""The HTTP boundary: nothing from the network reaches Bolt unless Slack signed it.

On `POST /slack/events`, in this order, each step cheap before the next:

1. headers: a timestamp of digits only (at most `TIMESTAMP_DIGITS` of them) within five
   minutes of now, and a signature shaped `v0=<64 hex digits>`; without them no byte
   of the body is read (but for Slack's certificate check, below);
2. size: a `Content-Length` over `MAX_BODY` is refused before reading, and the body is
   read with the same cap (a chunked or lying sender is cut off) and a deadline; past its
   first `FREE_BYTES` (all of Slack's usual requests fit), reading shares a budget of
   `UNVERIFIED_RATE` bytes a second, so that a flood of large bodies with made-up
   signatures costs the event loop a bounded share, not all of it;
3. the signature: HMAC-SHA256 of `v0:<timestamp>:<raw body>` with the signing secret,
   compared in constant time;
4. only then is the body parsed, and its shape checked (`bot.runtime.shapes`) before
   Bolt builds a request from it.

One unsigned request is answered: Slack's check of a slash command URL's certificate,
a tiny form `ssl_check=1&token=…`, gets 200 (as Bolt answers it, before verifying), and
nothing of it but that one field reaches Bolt.

Anything refused gets a 4xx and one short log line naming the step that refused it;
nothing from the request is quoted, so a forged header cannot forge a log line. What is
left of a small refused body is read so its sender gets the answer; a large one is not
read at all: the connection is closed under it (aiohttp's lingering is off).
Socket Mode does not come this way (Slack's connection is authenticated by the
app-level token); its payloads get the same shape check from `well_formed`, a Bolt
middleware, and a payload of the wrong shape gets an empty ack.

`MAX_BODY`: Slack publishes no cap on the requests it sends, so it is sized from the
limits it does publish: a message's text is cut at 40,000 characters, a message holds at
most 50 blocks and a modal 100 (section and input text 3,000 characters each,
`private_metadata` 3,000). The largest payload Mend can receive is a message shortcut
("Check reply with Mend") on a 40,000-character message, whose text comes twice (`text`
and its `rich_text` blocks): 80,000 characters, which form-encoding turns into at most
9 bytes each (a 3-byte UTF-8 character as three `%XX`), about 720 KB. 1 MiB fits that with
room to spare, and is aiohttp's own default request cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, unquote

from aiohttp import web
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.runtime.shapes import problem

log = logging.getLogger("mend.boundary")

MAX_BODY = 1024 * 1024  # bytes; see the module docstring
READ_SECONDS = 5.0  # a body still arriving after this is no use: Slack waits 3 s for an ack
FREE_BYTES = 64 * 1024  # of each body, read at once: a command, a click on a card, a form
UNVERIFIED_RATE = 16 * MAX_BODY  # bytes a second beyond those, all requests together
DRAIN_SECONDS = 0.5  # for the rest of a small refused body
SSL_CHECK_BYTES = 256  # "ssl_check=1&token=<the legacy verification token>"
FORM = "application/x-www-form-urlencoded"
# After a handler returns with a body unread, aiohttp reads and drops the rest for this
# long (its default: 10 s of anyone's junk). Mend drains small bodies itself.
LINGER_SECONDS = 0
MAX_SKEW = 5 * 60  # seconds, as Slack asks
TIMESTAMP_DIGITS = 12  # Unix seconds have 10 digits until the year 2286
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
DIGITS = re.compile(rf"[0-9]{{1,{TIMESTAMP_DIGITS}}}")


class Refused(Exception):
    """A request that does not get past the boundary: `reason` is Mend's own words."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason

    async def respond(self, request: web.Request) -> web.Response:
        log.warning("refused a request to /slack/events: %s", self.reason)
        await drain_small(request)
        resp = web.json_response({"error": self.reason}, status=self.status)
        resp.force_close()  # its body may be unread: don't keep the connection for more
        return resp


async def drain_small(request: web.Request) -> None:
    """Read what is left of a small body, so that its sender reads the answer rather
    than a reset; a large or unknown-length one is left unread."""
    if request.content.is_eof() or request.content_length is None or \
            request.content_length > FREE_BYTES:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_SECONDS):
            while await request.content.readany():
                pass


class Budget:
    """A leaky bucket of bytes a second, shared by every body still being read before
    its signature is known: under a flood, large bodies wait their turn (and run into
    `READ_SECONDS`), and the event loop stays free for Slack's small requests."""

    def __init__(self, rate: float, burst: float):
        self.rate, self.burst = rate, burst
        self.level, self.at = 0.0, time.monotonic()

    async def spend(self, size: int) -> None:
        now = time.monotonic()
        self.level = max(0.0, self.level - (now - self.at) * self.rate) + size
        self.at = now
        if self.level > self.burst:
            await asyncio.sleep((self.level - self.burst) / self.rate)


UNVERIFIED = Budget(UNVERIFIED_RATE, burst=MAX_BODY)  # one for the process


async def bolt_request(request: web.Request, secret: str | None,
                       now: Callable[[], float] = time.time) -> AsyncBoltRequest:
    """The Bolt request for a signed, well-formed Slack request; `Refused` otherwise."""
    if not secret:
        raise Refused(403, "no signing secret: HTTP requests are not accepted")
    if await ssl_check(request):
        return AsyncBoltRequest(body="ssl_check=1", headers={"content-type": FORM})
    timestamp = signed_headers(request, now())
    raw = await signed_body(request, secret, timestamp)
    try:
        text = raw.decode("utf-8")
        content_type = request.headers.get("Content-Type", "").split(";")[0] or None
        body = parse_signed(text, content_type)
    except (ValueError, RecursionError):  # not UTF-8, not JSON: not something Slack sends
        raise Refused(400, "signed, but not a body Slack sends") from None
    if wrong := problem(body):
        raise Refused(400, f"signed, but {wrong} is missing or of the wrong type")
    return parsed_request(text, body, request.query_string, request.headers)


def parse_signed(text: str, content_type: str | None) -> dict:
    """A signed body as Slack means it: JSON (events), a form with a `payload` field
    (clicks, submissions, shortcuts), or a plain form (slash commands). Bolt alone reads
    any form containing the word "payload" as a click, so a /recover whose text says
    "payload" would reach the listeners empty."""
    if content_type == "application/json" or text.startswith("{"):
        return json.loads(text)
    fields = form_fields(text)
    if "payload" in fields:
        return json.loads(fields["payload"])
    return fields


def form_fields(text: str) -> dict[str, str]:
    """`dict(parse_qsl(text, keep_blank_values=True))`, the same fields: unquoting only
    the parts holding a "%" (unquote returns the others as they are), as most of a slash
    command's dozen fields hold none and parse_qsl's calls per field were most of it."""
    fields: dict[str, str] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        name, value = name.replace("+", " "), value.replace("+", " ")
        fields[unquote(name) if "%" in name else name] = \
            unquote(value) if "%" in value else value
    return fields


def parsed_request(text: str, parsed: dict, query: str, headers) -> AsyncBoltRequest:
    """Bolt's request for a body already parsed, so the body is not parsed twice on
    every request: Bolt takes a parsed body only as a Socket Mode request (and then
    builds its context from it once), so it is built as one, then given the text (Bolt
    checks its signature) and made an HTTP request again."""
    req = AsyncBoltRequest(body=parsed, query=query or None, headers=headers,
                           mode="socket_mode")
    req.raw_body, req.mode = text, "http"
    return req


async def ssl_check(request: web.Request) -> bool:
    """Whether this is Slack's unsigned certificate check (`ssl_check=1`), read from at
    most `SSL_CHECK_BYTES` of a form without signing headers."""
    if TIMESTAMP_HEADER in request.headers or request.content_type != FORM or \
            not 0 < (request.content_length or 0) <= SSL_CHECK_BYTES:
        return False
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            body = await request.content.readexactly(request.content_length)
    except (TimeoutError, asyncio.IncompleteReadError):
        return False
    return parse_qs(body.decode("latin-1")).get("ssl_check") == ["1"]


def signed_headers(request: web.Request, now: float) -> str:
    """The request's timestamp, if both signing headers are well formed and it is fresh."""
    timestamp = request.headers.get(TIMESTAMP_HEADER, "")
    if not DIGITS.fullmatch(timestamp):
        raise Refused(401, "missing or malformed timestamp")
    if abs(now - int(timestamp)) > MAX_SKEW:
        raise Refused(401, "stale timestamp")
    if not SIGNATURE.fullmatch(request.headers.get(SIGNATURE_HEADER, "")):
        raise Refused(401, "missing or malformed signature")
    return timestamp


async def signed_body(request: web.Request, secret: str, timestamp: str) -> bytes:
    """The raw body, if Slack signed it: at most `MAX_BODY` bytes, within `READ_SECONDS`,
    hashed as it arrives (a body that turns out unsigned is never joined)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Refused(413, "body too large")
    mac = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":", hashlib.sha256)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(READ_SECONDS):
            while chunk := await request.content.readany():
                size += len(chunk)
                if size > MAX_BODY:
                    raise Refused(413, "body too large")
                if size > FREE_BYTES:
                    await UNVERIFIED.spend(min(len(chunk), size - FREE_BYTES))
                mac.update(chunk)
                chunks.append(chunk)
    except TimeoutError:
        raise Refused(408, "body too slow") from None
    if not hmac.compare_digest("v0=" + mac.hexdigest(), request.headers[SIGNATURE_HEADER]):
        raise Refused(401, "bad signature")
    return b"".join(chunks)


class WellFormed(AsyncMiddleware):
    """Bolt middleware: the shape check for Socket Mode (HTTP requests had it above). A
    subclass of Bolt's middleware type: a plain function would have Bolt build every
    argument it might inject for each request, HTTP ones included."""

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse | None:
        if req.mode == "socket_mode":
            wrong = problem(req.body)
            if wrong:
                log.warning("refused a Socket Mode payload: %s is missing or of the wrong "
                            "type", wrong)
                return BoltResponse(status=200, body="")  # an empty ack: nothing is done
        return await next()


well_formed = WellFormed()
