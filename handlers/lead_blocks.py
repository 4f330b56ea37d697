"""Block Kit for leads: case lists, outcomes, the App Home team view, the digest."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain.models import Case
from bot.domain.reports import MEASURE_LABELS, MEASURES, Outcomes, Query, Stats, age
from bot.domain.times import to_iso
from handlers.blocks import (
    Blocks,
    button,
    context,
    divider,
    fit,
    header,
    plain,
    section,
    when,
)
from handlers.ids import Action, Block
from handlers.mrkdwn import escape, mention

PAGE = 20  # 20 cases of two blocks each, the header, paging and a note: under 50
LIVE = ("open", "resolved")
CARD_LINK = re.compile(r"^https://[^\s|<>]+$")


def join_within(items: list[str], limit: int, sep: str = " · ") -> str:
    """Whole items joined up to `limit` characters, then "and N more": never a cut
    through a mention or a date token."""
    out: list[str] = []
    used = 0
    for i, item in enumerate(items):
        rest = f"{sep}and {len(items) - i} more"
        if used + len(sep) + len(item) + len(rest) > limit:
            return sep.join(out) + (rest if out else rest.lstrip(sep))
        out.append(item)
        used += len(sep) + len(item)
    return sep.join(out)


def case_line(case: Case, label: str, ticks: int, now: datetime) -> str:
    """One case in a list: number, customer, category, owner, age, follow-up, checklist."""
    overdue = case.next_followup_at and case.next_followup_at <= to_iso(now)
    due = (f"follow-up {when(case.next_followup_at)}"
           + (" :red_circle: *overdue*" if overdue else "")) if case.next_followup_at \
        else ":warning: *no next step*: set a follow-up"
    who = f"{escape(case.customer)} · " if case.customer else ""
    owner = mention(case.owner_id) if case.owner_id else "_waiting for an owner_"
    status = " · resolved" if case.status == "resolved" else ""
    severity = {"critical": ":rotating_light: *CRITICAL* · ", "high": "*high* · "}.get(
        case.severity, "")
    return (f"{severity}*#{case.number}* {who}{escape(label)} · <#{case.channel_id}> · "
            f"{owner} · {age(case.created_at, now)} old{status} · {due} · checklist {ticks}/5")


@dataclass(frozen=True)
class Viewer:
    """Who is looking at a list, and the card links known for its cases: enough to
    offer each case's *Take* and *Assign* where this person may use them."""

    user_id: str
    is_lead: bool = False
    links: dict[int, str] = field(default_factory=dict)  # case id -> card permalink


def may_take(case: Case, viewer: Viewer) -> bool:
    """As the lifecycle rules: anyone takes an unowned case, a lead takes any."""
    return case.status in LIVE and case.owner_id != viewer.user_id and \
        (case.owner_id is None or viewer.is_lead)


def may_assign(case: Case, viewer: Viewer) -> bool:
    """Anyone assigns an unowned case; its owner or a lead reassigns an owned one."""
    return case.status in LIVE and (case.owner_id in (None, viewer.user_id) or viewer.is_lead)


ROW = re.compile(rf"^{Block.LIST_ROW}_[a-z]+_(\d{{1,9}})(?:_a)?(?:~|$)")


def row_case(block_id: object) -> int | None:
    """The case a list row's block id names (see `case_row`)."""
    found = ROW.match(str(block_id or ""))
    return int(found.group(1)) if found else None


def case_row(case: Case, label: str, ticks: int, now: datetime, viewer: Viewer | None,
             where: str) -> Blocks:
    """A case in a list: its line (with a link to its card) and, where the viewer may
    use them, *Take* and *Assign* (one block when only one of them applies). `where`
    names the list, so a case shown in two lists of one Home keeps unique block ids."""
    line = case_line(case, label, ticks, now)
    if viewer is None:
        return [section(line)]
    link = viewer.links.get(case.id)
    if link and CARD_LINK.match(link):
        line += f" · <{link}|open card>"
    row = f"{Block.LIST_ROW}_{where}_{case.number}~{case.team_id}"
    take, assign = may_take(case, viewer), may_assign(case, viewer)
    n = str(case.number)
    take_button = {**button(f"Take #{n}", Action.LIST_TAKE, n), "style": "primary"}
    picker = {"type": "users_select", "action_id": Action.LIST_ASSIGN,
              "placeholder": plain("Reassign…" if case.owner_id else "Assign…", 150)}
    if take and assign:
        return [section(line, block_id=row),
                {"type": "actions", "block_id": f"{Block.LIST_ROW}_{where}_{n}_a~{case.team_id}",
                 "elements": [take_button, picker]}]
    block = section(line, block_id=row)
    if take or assign:
        block["accessory"] = take_button if take else picker
    return [block]


def open_list(query: Query, cases: list[Case], total: int, offset: int,
              labels: dict[str, str], ticks: dict[int, int], now: datetime,
              viewer: Viewer | None = None) -> Blocks:
    """The answer to `/recover open ...`, one page of it."""
    if not total:
        return [section(f"No cases in play match ({described(query)}). :tada:")]
    last = min(offset + len(cases), total)
    blocks: Blocks = [section(f"*Cases in play* — {described(query)}: {total} "
                              f"(showing {offset + 1}–{last})")]
    for c in cases:
        blocks += case_row(c, labels.get(c.category, c.category), ticks.get(c.id, 0), now,
                           viewer, "list")
    paging = []
    if offset > 0:
        paging.append(button("Previous", Action.OPEN_PREV, _page(query, offset - PAGE)))
    if last < total:
        paging.append(button("Next", Action.OPEN_NEXT, _page(query, offset + PAGE)))
    if paging:
        blocks.append({"type": "actions", "block_id": "open_paging", "elements": paging})
    blocks.append(context("Most urgent first: overdue, then those with no next step (no "
                          "follow-up set), then due soonest."))
    return fit(blocks)


MENTION = re.compile(r"(<[@#][A-Z0-9]{1,30}>)")


def described(query: Query) -> str:
    """The filter in words: the mentions the parser wrote stay mentions, the rest
    (playbook labels) is escaped."""
    parts = MENTION.split(query.described)
    return "".join(part if i % 2 else escape(part) for i, part in enumerate(parts))


def _page(query: Query, offset: int) -> str:
    return json.dumps({"q": query.text, "o": max(0, offset)})


# -- outcomes ------------------------------------------------------------------------
def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 60:.0f}m" if value < 1 else f"{value:.1f}h" if value < 48 \
        else f"{value / 24:.1f}d"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


def outcomes_text(o: Outcomes) -> str:
    on_time = "—" if o.on_time_share is None else f"{100 * o.on_time_share:.0f}%"
    return (f"Opened {o.opened} · resolved {o.resolved} · closed {o.closed} · reopened "
            f"{o.reopened}\nFollow-ups done before they fell due: {on_time} "
            f"({o.followups_on_time}/{o.followups_due}) · satisfaction follow-ups completed: "
            f"{o.satisfaction_done}\nCompensation offered {o.compensation_offered}, accepted "
            f"{o.compensation_accepted} ({_pct(o.compensation_accepted, o.compensation_offered)})")


def times_table(o: Outcomes) -> str:
    """Median and 90th percentile of each time, as a small monospace table."""
    rows = [f"{'':<32}{'median':>8}{'p90':>8}{'cases':>7}"]
    for m in MEASURES:
        s = o.spread(m)
        rows.append(f"{'time ' + MEASURE_LABELS[m]:<32}{_hours(s.median):>8}"
                    f"{_hours(s.p90):>8}{s.count:>7}")
    return "```" + "\n".join(rows) + "```"


def _brief(name: str, o: Outcomes) -> str:
    res = o.spread("resolution")
    apology = o.spread("apology")
    return (f"{name}: {o.opened} opened, {o.resolved} resolved · apology median "
            f"{_hours(apology.median)} · resolution median {_hours(res.median)} / p90 "
            f"{_hours(res.p90)}")


def stats_blocks(stats: Stats, label: str, labels: dict[str, str]) -> Blocks:
    """The answer to `/recover stats`: overall, by category, by owner."""
    blocks: Blocks = [
        header(f"Recovery outcomes · last {label}"),
        context(f"Cases opened since {when(stats.since.isoformat())}; every figure comes "
                "from the case timelines."),
        section(outcomes_text(stats.overall)),
        section(times_table(stats.overall)),
    ]
    if stats.by_category:
        lines = [_brief(escape(labels.get(k, k)), o) for k, o in
                 sorted(stats.by_category.items(), key=lambda kv: -kv[1].opened)]
        blocks.append(section("*By category*\n" + join_within(lines, 2900, "\n")))
    if stats.by_owner:
        # Every owner, busiest first, as many as fit, then "and N more".
        lines = [_brief(mention(k) if k else "_no owner_", o) for k, o in
                 sorted(stats.by_owner.items(), key=lambda kv: -kv[1].opened)]
        blocks.append(section("*By owner*\n" + join_within(lines, 2900, "\n")))
    return fit(blocks)


# -- App Home ----------------------------------------------------------------------------
def home_view(mine: list[Case], waiting: list[Case], team: dict[str, Any] | None,
              labels: dict[str, str], ticks: dict[int, int], now: datetime,
              totals: tuple[int, int] | None = None, viewer: Viewer | None = None,
              notice: str | Blocks = "") -> dict:
    """Everyone's home: their cases and cases waiting for an owner in their channels;
    for leads, also the team view. `notice`: what their last click in it did."""
    label = lambda c: labels.get(c.category, c.category)  # noqa: E731
    blocks: Blocks = [
        header("Mend · service recovery"),
        section("When something goes wrong for a customer, type `/recover` and what "
                "happened. Mend opens a case, gives you the steps and the words, and keeps "
                "the follow-up on the team's radar."),
    ]
    if isinstance(notice, list):
        blocks += notice[:4]
    elif notice:
        blocks.append(context(notice, block_id="home_notice"))
    blocks += [
        divider(),
        section(f"*My cases* ({(totals or (len(mine),))[0]}) — next due first"),
    ]
    rows = lambda cases, where: [b for c in cases for b in case_row(  # noqa: E731
        c, label(c), ticks.get(c.id, 0), now, viewer, where)]
    blocks += rows(mine[:15], "mine") or [context("You own no open cases. :tada:")]
    waiting_total = totals[1] if totals else len(waiting)
    blocks.append(section(f"*Waiting for an owner in your channels* ({waiting_total})"))
    blocks += rows(waiting[:10], "wait") or [context("None right now.")]
    if team is not None:
        blocks += team_view(team, label, ticks, now, viewer)
    return {"type": "home", "blocks": fit(blocks, 100)}


def team_view(team: dict[str, Any], label, ticks: dict[int, int], now: datetime,
              viewer: Viewer | None = None) -> Blocks:
    limit = team["limit"]
    load = [f"{':warning: ' if n > limit else ''}{mention(owner)}: {n}"
            for owner, n in team["workload"] if owner]
    week = team["week"]
    blocks: Blocks = [
        divider(),
        header("Team view (leads)"),
        section("*Open cases per owner* (over "
                f"{limit} highlighted)\n" + (join_within(load, 2800) or "_none_")),
        section(f"*This week*: opened {week.opened}, resolved {week.resolved}, closed "
                f"{week.closed}, reopened {week.reopened} · overdue now: {team['overdue']} · "
                f"waiting for an owner: {team['unowned']}"),
    ]
    for title, where, cases in (("Overdue", "over", team["overdue_cases"]),
                                ("Waiting for an owner", "unowned", team["unowned_cases"]),
                                ("Oldest in play", "oldest", team["oldest"])):
        if cases:
            blocks.append(section(f"*{title}*"))
            blocks += [b for c in cases[:5]
                       for b in case_row(c, label(c), ticks.get(c.id, 0), now, viewer, where)]
    return blocks


# -- the weekly digest -------------------------------------------------------------------
def digest_blocks(stats: Stats, team: dict[str, Any], labels: dict[str, str],
                  ticks: dict[int, int], now: datetime) -> Blocks:
    label = lambda c: labels.get(c.category, c.category)  # noqa: E731
    blocks: Blocks = [
        header("Mend weekly digest"),
        section(outcomes_text(stats.overall)),
        section(times_table(stats.overall)),
    ]
    # An overdue case waiting for an owner is in both lists: shown once.
    attention = list({c.id: c for c in team["overdue_cases"][:5] +
                      team["unowned_cases"][:5]}.values())
    if attention:
        blocks.append(section("*Needs attention*"))
        blocks += [section(case_line(c, label(c), ticks.get(c.id, 0), now))
                   for c in attention]
    over = [f"{mention(o)}: {n}" for o, n in team["workload"] if o and n > team["limit"]]
    if over:
        blocks.append(section("*Over the workload limit*: " + join_within(over, 2800)))
    return fit(blocks)
