"""`/recover open`, `/recover stats`, `/recover export`, and the App Home views.

Who sees what is decided in handlers/visibility.py.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import datetime, timedelta
from typing import Any

from bot.domain.durations import parse_days
from bot.domain.reports import (
    ReportError,
    export_csv,
    parse_open,
    period,
)
from bot.domain.times import to_iso
from bot.domain.views import stats_from
from bot.storage.sqlite import Store
from handlers import card_links, lead_blocks
from handlers.commands import COMMAND, Ack, Invocation, subcommand
from handlers.context import Deps
from handlers.mrkdwn import escape
from handlers.payload import Payload
from handlers.reply import answer_later, answer_now, reply, respond
from handlers.visibility import may_see_now, viewer_query

log = logging.getLogger("mend.leads")

PAGE = lead_blocks.PAGE


# -- /recover open ----------------------------------------------------------------------
async def open_page(deps: Deps, team_id: str, user_id: str, text: str,
                    offset: int = 0, in_ack: bool = False) -> list[dict[str, Any]]:
    now = deps.clock.now()
    query = parse_open(text, user_id, deps.recovery.playbook, now)
    query = await viewer_query(deps, team_id, user_id, query)
    at = to_iso(now)
    cases, total = await deps.store.live_cases(team_id, query.where, PAGE, offset, at)
    if offset and offset >= total:  # a page that no longer exists: show the last one
        offset = max(0, (total - 1) // PAGE * PAGE)
        cases, total = await deps.store.live_cases(team_id, query.where, PAGE, offset, at)
    ticks = await deps.store.step_counts(team_id, [c.id for c in cases])
    is_lead = await deps.lifecycle.is_lead(team_id, user_id)
    if in_ack:  # no Web API call: the links known already; the others for next time
        links = card_links.known(deps, cases)
        card_links.look_up_later(deps, cases)
    else:
        links = await card_links.links(deps, cases)
    viewer = lead_blocks.Viewer(user_id, is_lead, links)
    return lead_blocks.open_list(query, cases, total, offset, deps.recovery.labels(), ticks,
                                 now, viewer)


@subcommand("open", f"{COMMAND} open [mine | @person | unowned | overdue | #channel | "
                    "category]", "List cases in play, most urgent first (filters combine)")
async def open_cases(ack: Ack, inv: Invocation, args: str, deps: Deps) -> None:
    try:  # a mistyped filter is answered at once
        parse_open(args, inv.user_id, deps.recovery.playbook, deps.clock.now())
    except ReportError as exc:
        await reply(ack, escape(str(exc)))
        return

    now = await may_see_now(deps, inv.team_id, inv.user_id)

    async def work() -> list[dict[str, Any]] | str:
        try:
            return await open_page(deps, inv.team_id, inv.user_id, args, in_ack=now)
        except ReportError as exc:
            return escape(str(exc))

    await answer(ack, inv, deps, work, now=now)


async def answer(ack: Ack, inv: Invocation, deps: Deps, work, now: bool) -> None:
    """Answer inside the ack when no Web API call is needed, else right after it."""
    if not now:
        await ack()
        deps.tasks.spawn(_later(inv, deps, work), name="lead-answer")
        return
    await answer_now(ack, await work())


async def _later(inv: Invocation, deps: Deps, work) -> None:
    await answer_later(deps.client, inv.response_url, await work())


async def page_clicked(deps: Deps, click: Payload) -> None:
    """Next/Previous on a list: the same filters, another page, in place."""
    try:
        value = json.loads(click.value or "{}")
        offset = min(max(0, int(value.get("o", 0))), 10_000_000)
    except (ValueError, TypeError, AttributeError, OverflowError):
        return
    if not click.team_id or not click.user_id:  # nobody to show the cases to
        return
    try:
        blocks = await open_page(deps, click.team_id, click.user_id, str(value.get("q", "")),
                                 offset)
    except ReportError:
        return
    await respond(deps.client, click.response_url, "Mend", blocks, replace=True)


# -- reports --------------------------------------------------------------------------
# -- /recover stats -----------------------------------------------------------------------
@subcommand("stats", f"{COMMAND} stats [7d | 30d | 90d]",
            "Recovery outcomes for cases opened in the period (leads)")
async def stats(ack: Ack, inv: Invocation, args: str, deps: Deps) -> None:
    if not await leads_only(ack, inv, deps):
        return
    now = deps.clock.now()
    try:
        label, since = period(args, now)
    except ReportError as exc:
        await reply(ack, escape(str(exc)))
        return
    await ack()  # the numbers follow in a moment, computed off the event loop
    deps.tasks.spawn(_send_stats(inv, label, since, now, deps), name="stats")


async def _send_stats(inv: Invocation, label: str, since: datetime, now: datetime,
                      deps: Deps) -> None:
    result = await stats_from(deps.store, inv.team_id, since, now)
    await respond(deps.client, inv.response_url, "Recovery outcomes",
                  lead_blocks.stats_blocks(result, label, deps.recovery.labels()))


async def leads_only(ack: Ack, inv: Invocation, deps: Deps) -> bool:
    """True for a lead; anyone else is told who can see the view."""
    if await deps.lifecycle.is_lead(inv.team_id, inv.user_id):
        return True
    await reply(ack, await lead_only(deps, inv.team_id))
    return False


async def lead_only(deps: Deps, team_id: str) -> str:
    leads = await deps.lifecycle.leads(team_id)
    who = ", ".join(f"<@{u}>" for u in leads) or "nobody yet (`/recover leads @a @b`)"
    return f"That view is for leads. Who can: {who}."


# -- /recover export -----------------------------------------------------------------------
EXPORT_MAX_DAYS = 366


def export_since(args: str, now: datetime) -> datetime:
    days = parse_days(args, maximum=EXPORT_MAX_DAYS, default=30)
    if days is None:
        raise ReportError(f"Say how far back, in days, up to {EXPORT_MAX_DAYS}: e.g. "
                          "`/recover export 30d`.")
    return now - timedelta(days=days)


def write_csv(store: Store, team_id: str, since: datetime, path: str,
              names: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> int:
    """The export as a CSV file (streamed: a big period never sits in memory)."""
    # With a byte-order mark: Excel reads a CSV without one in the ANSI code page.
    with open(path, "w", newline="", encoding="utf-8-sig") as out:
        return export_csv(store.export_rows(team_id, to_iso(since)), out, names, labels)


EXPORT_NAMES_MAX = 300  # people looked up in Slack for one export


async def export_names(deps: Deps, team_id: str, since: datetime) -> dict[str, str]:
    """The names of the people in the export: asked of Slack (users.info, cached),
    remembered in the database for the command-line export too."""
    people = await deps.store.export_people(team_id, to_iso(since))
    found = {}
    for user_id in people[:EXPORT_NAMES_MAX]:
        person = await deps.people.get(team_id, user_id)
        if person.name:
            found[user_id] = person.name
    await deps.workspaces.remember_names(team_id, found)
    return await deps.store.names(team_id)


@subcommand("export", f"{COMMAND} export [30d]",
            "Send me a CSV of the cases opened in the period and their timelines (leads)")
async def export(ack: Ack, inv: Invocation, args: str, deps: Deps) -> None:
    if not await leads_only(ack, inv, deps):
        return
    try:
        since = export_since(args, deps.clock.now())
    except ReportError as exc:
        await reply(ack, escape(str(exc)))
        return
    await reply(ack, "Preparing the export; it will arrive in a direct message from me.")
    deps.tasks.spawn(_send_export(inv, since, deps), name="export")


async def _send_export(inv: Invocation, since: datetime, deps: Deps) -> None:
    """Upload the CSV with Slack's current flow (get an upload URL, upload, complete)."""
    name = f"mend-cases-{since:%Y%m%d}-{deps.clock.now():%Y%m%d}.csv"
    with tempfile.TemporaryDirectory(prefix="mend-export-") as folder:
        path = os.path.join(folder, name)
        try:
            names, labels = await export_names(deps, inv.team_id, since), deps.recovery.labels()
            rows = await deps.store.in_reader(
                lambda s: write_csv(s, inv.team_id, since, path, names, labels))
            client = await deps.clients.for_team(inv.team_id)
            dm = await client.conversations_open(users=inv.user_id)
            await client.files_upload_v2(
                file=path, filename=name, title=name, channel=dm["channel"]["id"],
                initial_comment=f"{rows} timeline rows for cases opened since "
                                f"{since:%Y-%m-%d}.")
        except Exception as exc:  # noqa: BLE001 - the lead was promised a file: say why not
            log.warning("export failed: %s", type(exc).__name__)
            await respond(deps.client, inv.response_url,
                          "The export could not be delivered just now; please try again.")


# -- App Home --------------------------------------------------------------------------------
