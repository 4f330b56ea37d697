"""`/recover open`, `/recover stats`, `/recover export`, and the App Home views.

Who sees what: leads see every case of the workspace. Everyone else sees the
cases they own or reported, and the cases in channels they are a member of
(users.conversations, remembered for a few minutes).
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from typing import Any

from bot.clock import to_iso
from bot.models import Case
from bot.reports import (
    Query,
    ReportError,
    compute_stats,
    export_csv,
    parse_open,
    period,
)
from handlers import lead_blocks
from handlers.cards import respond
from handlers.commands import COMMAND, Ack, Invocation, reply, subcommand
from handlers.context import Deps
from handlers.mrkdwn import escape

PAGE = lead_blocks.PAGE


# -- who sees what --------------------------------------------------------------------
async def viewer_query(deps: Deps, team_id: str, user_id: str, query: Query) -> Query:
    """The query narrowed to what this person may see."""
    if deps.lifecycle.is_lead(team_id, user_id):
        return query
    channels = await deps.people.channels(team_id, user_id)
    from dataclasses import replace

    return replace(query, where=replace(query.where, viewer=user_id,
                                        viewer_channels=tuple(channels)))


def sees_case(deps: Deps, case: Case, user_id: str, here: str | None = None) -> bool | None:
    """Whether `user_id` may see `case` (None: only Slack can say, via their channels).
    `here` is the channel they are typing in: being there, they are a member."""
    if user_id in (case.owner_id, case.reporter_id) or case.channel_id == here or \
            deps.lifecycle.is_lead(case.team_id, user_id):
        return True
    channels = deps.people.cached_channels(case.team_id, user_id)
    return None if channels is None else case.channel_id in channels


async def may_see(deps: Deps, case: Case, user_id: str, here: str | None = None) -> bool:
    known = sees_case(deps, case, user_id, here)
    if known is not None:
        return known
    return case.channel_id in await deps.people.channels(case.team_id, user_id)


def may_see_now(deps: Deps, team_id: str, user_id: str) -> bool:
    """True when no Web API call is needed to apply the rule above."""
    return deps.lifecycle.is_lead(team_id, user_id) or \
        deps.people.cached_channels(team_id, user_id) is not None


# -- /recover open ----------------------------------------------------------------------
async def open_page(deps: Deps, team_id: str, user_id: str, text: str,
                    offset: int = 0) -> list[dict[str, Any]]:
    now = deps.clock.now()
    query = parse_open(text, user_id, deps.recovery.playbook, now)
    query = await viewer_query(deps, team_id, user_id, query)
    cases, total = deps.store.live_cases(team_id, query.where, PAGE, offset)
    ticks = deps.store.step_counts(team_id, [c.id for c in cases])
    return lead_blocks.open_list(query, cases, total, offset, deps.recovery.labels(), ticks,
                                 now)


@subcommand("open", f"{COMMAND} open [mine | @person | unowned | overdue | #channel | "
                    "category]", "List cases in play, most urgent first (filters combine)")
async def open_cases(ack: Ack, inv: Invocation, args: str, deps: Deps) -> None:
    try:  # a mistyped filter is answered at once
        parse_open(args, inv.user_id, deps.recovery.playbook, deps.clock.now())
    except ReportError as exc:
        await reply(ack, escape(str(exc)))
        return

    async def work() -> list[dict[str, Any]] | str:
        try:
            return await open_page(deps, inv.team_id, inv.user_id, args)
        except ReportError as exc:
            return escape(str(exc))

    await answer(ack, inv, deps, work, now=may_see_now(deps, inv.team_id, inv.user_id))


async def answer(ack: Ack, inv: Invocation, deps: Deps, work, now: bool) -> None:
    """Answer inside the ack when no Web API call is needed, else right after it."""
    if not now:
        await ack()
        deps.tasks.spawn(_later(inv, deps, work), name="lead-answer")
        return
    result = await work()
    if isinstance(result, str):
        await reply(ack, result)
    else:
        await ack(response_type="ephemeral", text="Mend", blocks=result)


async def _later(inv: Invocation, deps: Deps, work) -> None:
    result = await work()
    if isinstance(result, str):
        await respond(deps.client, inv.response_url, result)
    else:
        await respond(deps.client, inv.response_url, "Mend", result)


async def page_clicked(deps: Deps, body: dict[str, Any]) -> None:
    """Next/Previous on a list: the same filters, another page, in place."""
    action = (body.get("actions") or [{}])[0]
    try:
        value = json.loads(action.get("value") or "{}")
        offset = max(0, int(value.get("o", 0)))
    except (ValueError, TypeError, AttributeError):
        return
    team_id = str((body.get("team") or {}).get("id") or "")
    user_id = str((body.get("user") or {}).get("id") or "")
    try:
        blocks = await open_page(deps, team_id, user_id, str(value.get("q", "")), offset)
    except ReportError:
        return
    await respond(deps.client, body.get("response_url"), "Mend", blocks, replace=True)


# -- /recover stats -----------------------------------------------------------------------
def stats_for(deps: Deps, team_id: str, since: datetime, until: datetime):
    return compute_stats(deps.store.cohort_facts(team_id, to_iso(since)), since, until)


@subcommand("stats", f"{COMMAND} stats [7d | 30d | 90d]",
            "Recovery outcomes for cases opened in the period (leads)")
async def stats(ack: Ack, inv: Invocation, args: str, deps: Deps) -> None:
    if not deps.lifecycle.is_lead(inv.team_id, inv.user_id):
        await reply(ack, lead_only(deps, inv.team_id))
        return
    now = deps.clock.now()
    try:
        label, since = period(args, now)
    except ReportError as exc:
        await reply(ack, escape(str(exc)))
        return
    result = stats_for(deps, inv.team_id, since, now)
    await ack(response_type="ephemeral", text="Recovery outcomes",
              blocks=lead_blocks.stats_blocks(result, label, deps.recovery.labels()))


def lead_only(deps: Deps, team_id: str) -> str:
    leads = deps.lifecycle.leads(team_id)
    who = ", ".join(f"<@{u}>" for u in leads) or "nobody yet (`/recover leads @a @b`)"
    return f"That view is for leads. Who can: {who}."


# -- /recover export -----------------------------------------------------------------------
def export_since(args: str, now: datetime) -> datetime:
    text = args.strip().lower() or "30d"
    if not (text.endswith("d") and text[:-1].isdigit() and 0 < int(text[:-1]) <= 3650):
        raise ReportError("Say how far back, in days: e.g. `/recover export 30d`.")
    return now - timedelta(days=int(text[:-1]))


def csv_text(deps: Deps, team_id: str, since: datetime) -> tuple[str, int]:
    out = io.StringIO()
    count = export_csv(deps.store.export_rows(team_id, to_iso(since)), out)
    return out.getvalue(), count


@subcommand("export", f"{COMMAND} export [30d]",
            "Send me a CSV of the cases opened in the period and their timelines (leads)")
async def export(ack: Ack, inv: Invocation, args: str, deps: Deps) -> None:
    if not deps.lifecycle.is_lead(inv.team_id, inv.user_id):
        await reply(ack, lead_only(deps, inv.team_id))
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
    text, rows = csv_text(deps, inv.team_id, since)
    dm = await deps.client.conversations_open(users=inv.user_id)
    name = f"mend-cases-{since:%Y%m%d}-{deps.clock.now():%Y%m%d}.csv"
    await deps.client.files_upload_v2(
        content=text.encode(), filename=name, title=name, channel=dm["channel"]["id"],
        initial_comment=f"{rows} timeline rows for cases opened since {since:%Y-%m-%d}.")


# -- App Home --------------------------------------------------------------------------------
def team_numbers(deps: Deps, team_id: str, now: datetime) -> dict[str, Any]:
    """What the team view and the digest show about the workspace right now."""
    store = deps.store
    week_start = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0,
                                                                microsecond=0)
    overdue_q = parse_open("overdue", "", deps.recovery.playbook, now).where
    unowned_q = parse_open("unowned", "", deps.recovery.playbook, now).where
    overdue, n_overdue = store.live_cases(team_id, overdue_q, 5)
    unowned, n_unowned = store.live_cases(team_id, unowned_q, 5)
    return {
        "limit": deps.recovery.playbook.settings.max_open_per_owner,
        "workload": store.workload(team_id),
        "week": stats_for(deps, team_id, week_start, now).overall,
        "overdue": n_overdue, "overdue_cases": overdue,
        "unowned": n_unowned, "unowned_cases": unowned,
        "oldest": store.oldest_live(team_id, 5),
    }


async def home_for(deps: Deps, team_id: str, user_id: str) -> dict:
    now = deps.clock.now()
    mine, _ = deps.store.live_cases(team_id, parse_open("mine", user_id,
                                                        deps.recovery.playbook, now).where, 15)
    channels = await deps.people.channels(team_id, user_id)
    waiting = [c for c in deps.store.live_cases(
        team_id, parse_open("unowned", user_id, deps.recovery.playbook, now).where, 200)[0]
        if c.channel_id in channels][:10]
    team = team_numbers(deps, team_id, now) if deps.lifecycle.is_lead(team_id, user_id) \
        else None
    shown: list[Case] = mine + waiting + (team["overdue_cases"] + team["unowned_cases"] +
                                          team["oldest"] if team else [])
    ticks = deps.store.step_counts(team_id, [c.id for c in shown])
    return lead_blocks.home_view(mine, waiting, team, deps.recovery.labels(), ticks, now)


