"""Links to case cards for lists (`/recover open`, the App Home).

A card's permalink comes from chat.getPermalink for its stored channel and ts, and
is remembered for the life of the process (a message's permalink never changes).
An answer inside an ack makes no Web API call: it shows the links already known
and has the missing ones looked up for next time.
"""

from __future__ import annotations

import asyncio
import logging

from bot.domain.models import Case
from handlers.context import Deps

log = logging.getLogger("mend.links")
LOOKUP_SECONDS = 2.0  # a list waits this long for links it doesn't know yet
MAX_KEPT = 5000


def _key(case: Case) -> tuple[str, str, str] | None:
    if not (case.card_channel and case.card_ts):
        return None
    return (case.team_id, case.card_channel, case.card_ts)


def known(deps: Deps, cases: list[Case]) -> dict[int, str]:
    """The links already known, by case id (no Web API call)."""
    found = {}
    for case in cases:
        key = _key(case)
        if key and key in deps.permalinks:
            found[case.id] = deps.permalinks[key]
    return found


def missing(deps: Deps, cases: list[Case]) -> list[Case]:
    return [c for c in cases if (k := _key(c)) and k not in deps.permalinks]


async def links(deps: Deps, cases: list[Case], wait: float = LOOKUP_SECONDS) -> dict[int, str]:
    """Every link that can be had within `wait` seconds, by case id."""
    todo = missing(deps, cases)
    if todo:
        lookups = [asyncio.ensure_future(_look_up(deps, c)) for c in todo]
        _, late = await asyncio.wait(lookups, timeout=wait)
        for task in late:  # they finish in the background and are remembered
            deps.tasks.spawn(_finish(task), name="permalink")
    return known(deps, cases)


def look_up_later(deps: Deps, cases: list[Case]) -> None:
    """Have the links not known yet looked up, for the next list."""
    for case in missing(deps, cases):
        deps.tasks.spawn(_look_up(deps, case), name="permalink")


async def _finish(task: asyncio.Future) -> None:
    await task


async def _look_up(deps: Deps, case: Case) -> None:
    key = _key(case)
    if key is None or key in deps.permalinks:
        return
    try:
        resp = await deps.clients.call(case.team_id, "chat_getPermalink",
                                       channel=case.card_channel, message_ts=case.card_ts)
    except Exception as exc:  # noqa: BLE001 - a list without a link is still a list
        error = getattr(getattr(exc, "response", None), "get", lambda _k: None)("error")
        log.warning("no permalink for case id %s: %s", case.id, error or type(exc).__name__)
        return
    link = resp.get("permalink")
    if isinstance(link, str) and link.startswith("https://"):
        if len(deps.permalinks) >= MAX_KEPT:
            deps.permalinks.pop(next(iter(deps.permalinks)))
        deps.permalinks[key] = link

