"""The Web API client Mend uses: one base URL, one HTTP session, retries.

Every Web API call goes to `SLACK_API_URL`, so tests and the sandbox can
point Mend at a stand-in. Slack's 429 (honouring Retry-After), 5xx answers,
dropped connections and timeouts are retried with backoff, except by the
client that posts cards and nudges: a post answered by a timeout, a dropped
connection or a 5xx may have gone out (`in_doubt`), and is looked for by its
metadata before it is posted again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from typing import Protocol

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import (
    BackoffRetryIntervalCalculator,
)
from slack_sdk.web.async_client import AsyncWebClient

RETRIES = 3
TIMEOUT_SECONDS = 10
METHOD = re.compile(r"[a-z]+(\.[a-zA-Z]+)+")  # chat.postMessage: a Web API method's name
ERROR = re.compile(r"[a-z_]{1,60}")  # invalid_auth: one of Slack's error codes


class CallObserver(Protocol):
    """Told about every HTTP attempt of a Web API call (metrics): names only."""

    def api_call(self, method: str, outcome: str) -> None: ...

    def rate_limited(self, method: str, waited: float) -> None: ...


def method_name(url: str) -> str:
    name = url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    return name if METHOD.fullmatch(name) else "other"


def outcome(response=None, error: Exception | None = None) -> str:
    """"ok", Slack's error code, "http_503", or the exception's class name."""
    if error is not None:
        return type(error).__name__
    if response is None:
        return "unknown"
    if response.status_code == 429:
        return "ratelimited"
    body = response.body if isinstance(response.body, dict) else {}
    if response.status_code >= 400 and not body:
        return f"http_{response.status_code}"
    if body.get("ok", True):
        return "ok"
    code = str(body.get("error") or "")
    return code if ERROR.fullmatch(code) else "other"


class ObserveCalls(AsyncRetryHandler):
    """First in the list, it sees every answer and error and never asks for a retry:
    the SDK consults the retry handlers after every attempt (Bolt's per-request
    clients copy the same handlers, so their calls count too)."""

    def __init__(self, observer: CallObserver):
        super().__init__(max_retry_count=0)
        self.observer = observer

    async def can_retry_async(self, *, state, request, response=None, error=None) -> bool:
        self.observer.api_call(method_name(request.url), outcome(response, error))
        return False


class RateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """The SDK's 429 handling (wait Retry-After, then try again), telling how long."""

    def __init__(self, observer: CallObserver | None = None, **kwargs):
        super().__init__(**kwargs)
        self.observer = observer

    async def prepare_for_next_attempt_async(self, *, state, request, response=None,
                                             error=None) -> None:
        if response is None:
            raise error
        state.next_attempt_requested = True
        header = next((v for k, v in response.headers.items() if k.lower() == "retry-after"),
                      None)
        value = header[0] if isinstance(header, list | tuple) else header
        try:
            duration = int(value) + random.random()
        except (TypeError, ValueError):
            duration = 1 + random.random()
        if self.observer is not None:
            self.observer.rate_limited(method_name(request.url), duration)
        await asyncio.sleep(duration)
        state.increment_current_attempt()


class ServerErrorRetry(AsyncRetryHandler):
    """Retry any 5xx answer (the SDK's own handler only knows 500 and 503), except from
    the methods in `in_doubt`: Slack sometimes stores a message and answers 5xx."""

    def __init__(self, *args, in_doubt: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.in_doubt = tuple(f"/{method}" for method in in_doubt)

    async def _can_retry_async(self, *, state, request, response=None, error=None) -> bool:
        return response is not None and 500 <= response.status_code < 600 and \
            not request.url.split("?")[0].endswith(self.in_doubt)


# Errors after which the request may or may not have reached Slack.
AMBIGUOUS = (asyncio.TimeoutError, aiohttp.ServerConnectionError, aiohttp.ClientOSError)
# Methods that must not be repeated blindly after an ambiguous answer.
POSTS = ("chat.postMessage",)
# Slack's own words for these: "it's possible some aspect of the operation succeeded".
MAYBE_DONE = {"internal_error", "fatal_error"}


def in_doubt(exc: BaseException) -> bool:
    """Whether a failed post may have gone out all the same: a timeout, a dropped
    connection, a 5xx answer, or an error Slack says may have half happened."""
    if isinstance(exc, SlackApiError):
        return exc.response.status_code >= 500 or exc.response.get("error") in MAYBE_DONE
    return isinstance(exc, AMBIGUOUS)


def doubt(exc: BaseException) -> str:
    """What made a post `in_doubt`, for a log line (no request content)."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or f"http {exc.response.status_code}")
    return type(exc).__name__


def retry_handlers(backoff: float = 0.5, retry_ambiguous: bool = True,
                   observer: CallObserver | None = None) -> list[AsyncRetryHandler]:
    """Retries for 429s, 5xx answers and connection errors.

    With `retry_ambiguous=False` a timeout, a dropped connection or a 5xx answer to a
    post is not retried blindly: the caller checks whether the message went out first.
    """
    calc = BackoffRetryIntervalCalculator(backoff_factor=backoff)
    connection_errors: list[type[Exception]] = [aiohttp.ClientConnectorError]  # never sent
    if retry_ambiguous:
        connection_errors += [aiohttp.ServerConnectionError, aiohttp.ClientOSError,
                              asyncio.TimeoutError]
    handlers: list[AsyncRetryHandler] = [ObserveCalls(observer)] if observer else []
    return handlers + [
        AsyncConnectionErrorRetryHandler(
            max_retry_count=RETRIES, interval_calculator=calc, error_types=connection_errors),
        RateLimitRetry(observer, max_retry_count=RETRIES),
        ServerErrorRetry(max_retry_count=RETRIES, interval_calculator=calc,
                         in_doubt=() if retry_ambiguous else POSTS),
    ]


def make_client(
    token: str,
    api_url: str,
    session: aiohttp.ClientSession | None = None,
    timeout: int = TIMEOUT_SECONDS,
    backoff: float = 0.5,
    logger: logging.Logger | None = None,
    retry_ambiguous: bool = True,
    observer: CallObserver | None = None,
) -> AsyncWebClient:
    """An AsyncWebClient aimed at `api_url`, sharing `session` across calls."""
    return AsyncWebClient(
        token=token,
        base_url=api_url,
        session=session,
        timeout=timeout,
        retry_handlers=retry_handlers(backoff, retry_ambiguous, observer),
        logger=logger,
    )
