"""The Web API client Mend uses: one base URL, one HTTP session, retries.

Every Web API call goes to `SLACK_API_URL`, so tests and the sandbox can
point Mend at a stand-in. Slack's 429 (honouring Retry-After), 5xx answers,
dropped connections and timeouts are retried with backoff.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
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


class ServerErrorRetry(AsyncRetryHandler):
    """Retry any 5xx answer (the SDK's own handler only knows 500 and 503)."""

    async def _can_retry_async(self, *, state, request, response=None, error=None) -> bool:
        return response is not None and 500 <= response.status_code < 600


# Errors after which the request may or may not have reached Slack.
AMBIGUOUS = (asyncio.TimeoutError, aiohttp.ServerConnectionError, aiohttp.ClientOSError)


def retry_handlers(backoff: float = 0.5, retry_ambiguous: bool = True) -> list[AsyncRetryHandler]:
    """Retries for 429s, 5xx answers and connection errors.

    With `retry_ambiguous=False` a timeout or a dropped connection is not
    retried blindly: the caller checks whether the message went out first.
    """
    calc = BackoffRetryIntervalCalculator(backoff_factor=backoff)
    connection_errors: list[type[Exception]] = [aiohttp.ClientConnectorError]  # never sent
    if retry_ambiguous:
        connection_errors += [aiohttp.ServerConnectionError, aiohttp.ClientOSError,
                              asyncio.TimeoutError]
    return [
        AsyncConnectionErrorRetryHandler(
            max_retry_count=RETRIES, interval_calculator=calc, error_types=connection_errors),
        AsyncRateLimitErrorRetryHandler(max_retry_count=RETRIES),
        ServerErrorRetry(max_retry_count=RETRIES, interval_calculator=calc),
    ]


def make_client(
    token: str,
    api_url: str,
    session: aiohttp.ClientSession | None = None,
    timeout: int = TIMEOUT_SECONDS,
    backoff: float = 0.5,
    logger: logging.Logger | None = None,
    retry_ambiguous: bool = True,
) -> AsyncWebClient:
    """An AsyncWebClient aimed at `api_url`, sharing `session` across calls."""
    return AsyncWebClient(
        token=token,
        base_url=api_url,
        session=session,
        timeout=timeout,
        retry_handlers=retry_handlers(backoff, retry_ambiguous),
        logger=logger,
    )
