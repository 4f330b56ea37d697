"""Every inbound request is done once: Slack's retries and replays get the first answer.

A Bolt middleware (it runs after Bolt has checked the signature and parsed the body)
derives a key for each request and claims it in the database with one indexed insert,
so that the guarantee holds across replicas and restarts:

- a slash command: its `trigger_id` (or, without one, the hash of the signed body;
  Slack refuses signatures older than five minutes, so a replay falls inside that);
- an Events API callback: its `event_id` (Slack's retries, with `X-Slack-Retry-Num`,
  carry the same one);
- a view submission: the view's id and a hash of the values submitted;
- clicks, shortcuts and closed views: the hash of the signed body.

A duplicate gets the first answer where it was kept (a command's ack body, small),
otherwise an empty 200, and never does the work again. A command whose first attempt
died before answering (claimed long enough ago, no answer kept) is let through once
more marked as a replay: `/recover <report>` then finds the case that attempt opened
instead of opening another; other sub-commands answer nothing rather than act twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.domain.times import from_iso, to_iso
from bot.storage.errors import DatabaseError
from bot.storage.inbound import Claim
from handlers import payload
from handlers.context import Deps
from handlers.payload import COMMAND, Payload

log = logging.getLogger("mend.inbound")
IN_FLIGHT = timedelta(seconds=10)  # a claim this young without an answer is still working
KEEP_ANSWER = 16_000  # characters of a command's ack kept for its duplicates
KEY = "inbound_key"  # in Bolt's context: the key this request claimed
REPLAY = "replay_since"  # in Bolt's context: when the dead first attempt claimed it
BODY_HASHED = {"block_actions", "shortcut", "message_action", "view_closed"}
JSON = {"content-type": ["application/json;charset=utf-8"]}


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def request_key(p: Payload, raw_body: str) -> str | None:
    """The key that makes a request the same as another, or None (not deduplicated)."""
    team = p.team_id
    if p.kind == COMMAND:
        return f"cmd:{team}:{p.trigger_id or digest(raw_body)}"
    if p.kind == "event_callback" and p.event_id:
        return f"event:{team}:{p.event_id}"
    if p.kind == "view_submission":
        values = json.dumps(p.values or None, sort_keys=True)
        return f"view:{team}:{p.view_id or None}:{digest(values)}"
    if p.kind in BODY_HASHED:
        return f"body:{team}:{digest(raw_body)}"
    return None  # url_verification, options: nothing done twice there


def stale(claimed_at: str, now) -> bool:
    try:
        return now - from_iso(claimed_at) > IN_FLIGHT
    except (TypeError, ValueError):
        return True


class Middleware(AsyncMiddleware):
    """Bolt middleware: claim the request's key before any listener works. A subclass
    of Bolt's own middleware type, called directly: a plain function would have Bolt
    build every keyword argument it might inject for each request (~15 µs here)."""

    def __init__(self, deps: Deps):
        self.deps = deps
        claim_now = getattr(deps.store, "claim_inbounds_now", None)  # SQLite's store
        self.claim = Claims(claim_now).claim if claim_now else deps.store.claim_inbound

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse | None:
        key = request_key(payload.of(req.context), req.raw_body or "")
        if key is None:
            return await next()
        deps, now = self.deps, self.deps.clock.now()
        try:
            claim = await self.claim(key, to_iso(now))
            if claim.first:
                req.context[KEY] = key
                return await next()
            answer = claim.answer or deps.unwritten_answers.get(key)
            if answer:
                return BoltResponse(status=200, body=answer, headers=JSON)
            if (claim.answer is None and key.startswith("cmd:") and stale(claim.at, now)
                    and await deps.store.retake_inbound(key, claim.at, to_iso(now))):
                req.context[KEY], req.context[REPLAY] = key, claim.at
                return await next()
        except DatabaseError as exc:  # the listener refuses politely if it must write
            log.warning("inbound claim not recorded: %s", type(exc).__name__)
            return await next()
        log.info("duplicate request %s answered without doing it again", key.split(":")[0])
        return BoltResponse(status=200, body="")


class Claims:
    """SQLite: the claims of the requests that arrive together, in one commit. The first
    claim of a batch schedules the commit for the next event loop turn; every request
    reaching its claim by then joins it (under load, one commit for many claims instead
    of one each; a lone request waits one turn). The commit runs in that loop callback,
    without a task: SQLite answers at once. Each request proceeds only once its claim
    is committed, as before."""

    def __init__(self, claim_now: Callable[[list[tuple[str, str]]], list[Claim]]):
        self.claim_now = claim_now
        self._pending: list[tuple[str, str, asyncio.Future]] = []

    async def claim(self, key: str, at: str) -> Claim:
        loop = asyncio.get_running_loop()
        if not self._pending:
            loop.call_soon(self._flush)
        future = loop.create_future()
        self._pending.append((key, at, future))
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            claims = self.claim_now([(key, at) for key, at, _ in batch])
        except Exception as exc:  # noqa: BLE001 - each request handles it as its own
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), claim in zip(batch, claims, strict=True):
            if not future.done():
                future.set_result(claim)


class Answers:
    """Commands' answers to keep, written together: the first answer of a batch
    schedules one transaction for the next event loop turn, which every answer given by
    then joins (under load, one commit for many acks instead of one each). The ack is
    not held up by the write; until it is written, a duplicate reaching this process
    finds the answer in `unwritten` (one reaching another replica in that moment finds
    the key claimed, unanswered and fresh, and gets an empty 200, as one that arrives
    while the first attempt still works does)."""

    def __init__(self, store: Any, tasks: Any, unwritten: dict[str, str]):
        self.store, self.tasks, self.unwritten = store, tasks, unwritten
        self._pending: list[tuple[str, str]] = []

    def keep(self, key: str, answer: str) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append((key, answer))
        self.unwritten[key] = answer

    def flush(self) -> None:
        """From a loop callback: write the batch in a task (SQLite's write is done at its
        first step, without waiting; PostgreSQL's is one transaction for the batch)."""
        batch, self._pending = self._pending, []
        if batch:
            self.tasks.spawn(self._write(batch), name="inbound-answers")

    async def _write(self, batch: list[tuple[str, str]]) -> None:
        try:
            await self.store.answer_inbounds(batch)
        except DatabaseError as exc:
            log.warning("answer not kept: %s", type(exc).__name__)
        finally:
            for key, _ in batch:
                self.unwritten.pop(key, None)


def remember_answers(dispatch: Callable[..., Awaitable[BoltResponse]],
                     deps: Deps) -> Callable[..., Awaitable[BoltResponse]]:
    """Wrap Bolt's `async_dispatch`: keep a command's ack for its duplicates."""
    answers = Answers(deps.store, deps.tasks, deps.unwritten_answers)

    async def dispatched(request) -> BoltResponse:
        response = await dispatch(request)
        key = request.context.get(KEY)
        if key and key.startswith("cmd:") and response.status == 200:
            body = response.body if isinstance(response.body, str) else ""
            answers.keep(key, body if len(body) <= KEEP_ANSWER else "")
        return response

    return dispatched


def register(app: AsyncApp, deps: Deps) -> None:
    app.use(Middleware(deps))
