"""`/recover <verb> N ...`: working a case by command.

Each verb registers itself (with its help line) in the sub-command registry.
Handlers are thin: parse, call the lifecycle, render, answer the user.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import available_timezones

from bot.domain.lifecycle import Done, NeedsConfirmation, NotFound, Refused
from bot.domain.schedule import DAY_NAMES, Hours
from bot.domain.times import to_iso
from bot.domain.when import EXAMPLES, BadTime, parse_when
from handlers import blocks, case_blocks
from handlers.cards import refresh_card, respond
from handlers.commands import COMMAND, Ack, Invocation, reply, subcommand
from handlers.context import Deps
from handlers.mrkdwn import escape, mention
from handlers.slack_text import plain, user_ids
from handlers.visibility import may_see, sees_case

NUMBER = re.compile(r"^#?(\d{1,9})$")


@dataclass(frozen=True)
class Later:
    """An answer that needs a Web API call first: sent after the ack."""

    work: Awaitable[str | list]


Answer = str | list | Later  # mrkdwn text, blocks, or work to finish after the ack


class Usage(ValueError):
    """The command was typed wrong; the message shows the right form."""


def split_number(args: str, usage: str) -> tuple[int, str]:
    """`12 rest` or `#12 rest` -> (12, "rest")."""
    first, _, rest = args.strip().partition(" ")
    match = NUMBER.match(first)
    if not match:
        raise Usage(f"Which case? Use `{usage}`, e.g. `{usage.replace('N', '12', 1)}`.")
    return int(match.group(1)), rest.strip()


CaseRun = Callable[[Invocation, int, str, Deps], Awaitable[Answer]]


def case_command(name: str, usage: str, help: str) -> Callable[[CaseRun], CaseRun]:
    """Register `/recover <name> N ...`; the function returns the answer to show."""

    def add(run: CaseRun) -> CaseRun:
        @subcommand(name, f"{COMMAND} {usage}", help)
        async def runner(ack: Ack, inv: Invocation, args: str, deps: Deps) -> None:
            async def attempt() -> Answer:
                number, rest = split_number(args, f"{COMMAND} {usage}")
                # Who sees what: a case you may not see is, to you, a case that doesn't
                # exist, whatever you try to do with it.
                visible = await sees_case(deps, await deps.lifecycle.get(inv.team_id, number),
                                    inv.user_id, inv.channel_id)
                if visible is False:
                    raise NotFound(number)
                if visible is None:
                    return Later(checked_then(inv, number, rest, deps, run))
                return await run(inv, number, rest, deps)

            answer = await answered(attempt())
            if isinstance(answer, Later):
                await ack()
                deps.tasks.spawn(finish_later(answer, inv, deps), name=f"later-{name}")
            elif isinstance(answer, list):
                await ack(response_type="ephemeral", text="Mend", blocks=answer)
            else:
                await reply(ack, answer)

        return run

    return add


async def checked_then(inv: Invocation, number: int, rest: str, deps: Deps,
                       run: CaseRun) -> Answer:
    """After the ack: ask Slack for the person's channels, then act if they may see it."""
    if not await may_see(deps, await deps.lifecycle.get(inv.team_id, number), inv.user_id,
                         inv.channel_id):
        raise NotFound(number)
    answer = await run(inv, number, rest, deps)
    return await answer.work if isinstance(answer, Later) else answer


async def answered(work: Awaitable[Answer]) -> Answer:
    """Run a command's work, turning expected refusals into friendly answers."""
    try:
        return await work
    except (Usage, NotFound, BadTime) as exc:
        return escape(str(exc))
    except Refused as exc:
        return case_blocks.refusal(exc)


async def finish_later(later: Later, inv: Invocation, deps: Deps) -> None:
    answer = await answered(later.work)
    if isinstance(answer, list):
        await respond(deps.client, inv.response_url, "Mend", answer)
    else:
        await respond(deps.client, inv.response_url, answer)


def settled(deps: Deps, done: Done, text: str) -> str:
    """After a change: refresh the card and say what happened (or that nothing did)."""
    if done.changed:
        refresh_card(deps, done.case, done.before)
        return text
    return escape(done.message) or "Nothing to change."


@case_command("case", "case N", "Show case N with its full timeline")
async def show_case(inv, number, rest, deps):
    timeline = await deps.lifecycle.timeline(inv.team_id, number)
    label = deps.recovery.category_label(timeline.case.category)
    return case_blocks.timeline_blocks(timeline, label, deps.recovery.step_titles())


@case_command("take", "take N", "Take ownership of case N")
async def take(inv, number, rest, deps):
    done = await deps.lifecycle.take(inv.team_id, number, inv.user_id)
    return settled(deps, done, f"Case #{number} is yours now.")


@case_command("release", "release N", "Give case N back to the unowned queue")
async def release(inv, number, rest, deps):
    done = await deps.lifecycle.release(inv.team_id, number, inv.user_id)
    return settled(deps, done, f"Case #{number} is back in the queue, waiting for an owner.")


@case_command("assign", "assign N @person", "Make @person the owner of case N")
async def assign(inv, number, rest, deps):
    people = user_ids(rest)
    if len(people) != 1:
        raise Usage(f"Name one person: `{COMMAND} assign {number} @maria`.")
    confirmed = rest.split()[-1].lower() in ("anyway", "force", "confirm")
    outcome = await deps.lifecycle.assign(inv.team_id, number, inv.user_id, people[0], confirmed)
    if isinstance(outcome, NeedsConfirmation):
        return case_blocks.confirm_assign(outcome.case, outcome.assignee, outcome.open_count,
                                          outcome.limit)
    return settled(deps, outcome, f"Case #{number} now belongs to {mention(people[0])}.")


@case_command("followup", "followup N <when>",
              "Set when case N is next followed up (e.g. tomorrow 9am, in 2h)")
async def followup(inv, number, rest, deps):
    if not rest:
        raise Usage(f"When? e.g. `{COMMAND} followup {number} {EXAMPLES[0]}`.")
    await deps.lifecycle.get(inv.team_id, number)  # unknown case: say so before asking Slack
    person = deps.people.cached(inv.team_id, inv.user_id)
    if person is None:  # the timezone needs users.info: answer after the ack
        return Later(_followup(inv, number, rest, deps))
    return await _followup(inv, number, rest, deps)


async def _followup(inv: Invocation, number: int, rest: str, deps: Deps) -> str:
    person = await deps.people.get(inv.team_id, inv.user_id)
    due = parse_when(rest, person.tz, deps.clock.now())
    done = await deps.lifecycle.set_followup(inv.team_id, number, inv.user_id, due)
    return settled(deps, done, f"Follow-up on case #{number} set for "
                               f"{blocks.when(done.case.next_followup_at)}.")


@case_command("note", "note N <text>", "Add a note to case N's timeline")
async def note(inv, number, rest, deps):
    done = await deps.lifecycle.note(inv.team_id, number, inv.user_id, plain(rest))
    return settled(deps, done, f"Noted on case #{number}.")


@case_command("step", "step N <apologize|act|compassion|compensate|follow-up>",
              "Tick a recovery step on case N")
async def step(inv, number, rest, deps):
    done = await deps.lifecycle.step(inv.team_id, number, inv.user_id, rest or "?")
    closed = " The satisfaction follow-up is recorded, so the case is closed." \
        if done.case.status == "closed" else ""
    return settled(deps, done, f"Ticked *{escape(rest)}* on case #{number}.{closed}")


@case_command("resolve", "resolve N [what was done]",
              "Mark case N resolved; the satisfaction follow-up is scheduled")
async def resolve(inv, number, rest, deps):
    done = await deps.lifecycle.resolve(inv.team_id, number, inv.user_id, plain(rest))
    return settled(deps, done, f"Case #{number} is resolved. Satisfaction follow-up due "
                               f"{blocks.when(done.case.next_followup_at)}.")


@case_command("close", "close N [reason]",
              "Close case N (after its follow-up; leads may close early with a reason)")
async def close(inv, number, rest, deps):
    done = await deps.lifecycle.close(inv.team_id, number, inv.user_id, plain(rest))
    return settled(deps, done, f"Case #{number} is closed.")


@case_command("reopen", "reopen N", "Reopen case N")
async def reopen(inv, number, rest, deps):
    done = await deps.lifecycle.reopen(inv.team_id, number, inv.user_id)
    return settled(deps, done, f"Case #{number} is open again.")


@subcommand("leads", f"{COMMAND} leads [@person ...]",
            "Show the team leads, or set them (workspace admins and leads)")
async def leads(ack: Ack, inv: Invocation, args: str, deps: Deps) -> None:
    wanted = user_ids(args)
    current = await deps.lifecycle.leads(inv.team_id)
    if not wanted:
        names = ", ".join(mention(u) for u in current) or "nobody yet"
        await reply(ack, f"Leads: {names}. Set them with `{COMMAND} leads @a @b`.")
        return
    await ack()
    deps.tasks.spawn(_set_leads(inv, wanted, current, deps), name="leads")


async def _set_leads(inv: Invocation, wanted: list[str], current: list[str],
                     deps: Deps) -> None:
    person = await deps.people.get(inv.team_id, inv.user_id)
    if not (person.is_admin or inv.user_id in current):
        who = ", ".join(mention(u) for u in current) or "a workspace admin"
        text = f"Only a workspace admin or a current lead can set the leads. Who can: {who}."
    else:
        await deps.store.set_leads(inv.team_id, wanted, inv.user_id, to_iso(deps.clock.now()))
        text = "Leads are now " + ", ".join(mention(u) for u in wanted) + "."
    await respond(deps.client, inv.response_url, text)



HOURS = re.compile(r"^(?P<days>[a-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$")
CHANNEL = re.compile(r"<#([CG][A-Z0-9]{1,30})(?:\|[^<>]*)?>")


@subcommand("settings", f"{COMMAND} settings [lead-channel #channel | hours mon-fri 09:00-18:00 "
                        "| digest mon 09:00 | timezone Europe/Paris]",
            "Show or change this workspace's settings (leads)")
async def settings(ack: Ack, inv: Invocation, args: str, deps: Deps) -> None:
    what, _, value = args.strip().partition(" ")
    if not what:
        await reply(ack, await _describe_settings(inv.team_id, deps))
        return
    leads = await deps.lifecycle.leads(inv.team_id)
    if inv.user_id not in leads:
        who = ", ".join(mention(u) for u in leads) or "nobody yet: set leads first"
        await reply(ack, f"Only a lead can change the settings. Who can: {who}.")
        return
    try:
        changes = _setting(what.lower(), value.strip())
    except Usage as exc:
        await reply(ack, escape(str(exc)))
        return
    await deps.store.set_workspace(inv.team_id, to_iso(deps.clock.now()), **changes)
    await reply(ack, "Saved. " + await _describe_settings(inv.team_id, deps))


def _setting(what: str, value: str) -> dict[str, str | None]:
    if what == "lead-channel":
        if value.lower() in ("off", "none"):
            return {"lead_channel": None}
        match = CHANNEL.search(value)
        if not match:
            raise Usage(f"Name a channel: `{COMMAND} settings lead-channel #support-leads`.")
        return {"lead_channel": match.group(1)}
    if what == "hours":
        return _hours(value.lower())
    if what == "digest":
        return _digest(value.lower())
    if what == "timezone":
        zones = {z.lower(): z for z in available_timezones()}
        value = zones.get(value.lower(), value)
        if value not in available_timezones():
            raise Usage(f"Use a timezone name such as `Europe/Paris` or `America/Chicago` "
                        f"(got `{value[:40]}`).")
        return {"tz": value}
    raise Usage(f"Settings are `lead-channel`, `hours`, `digest` and `timezone`, e.g. "
                f"`{COMMAND} settings hours mon-fri 09:00-18:00`.")


def _digest(value: str) -> dict[str, str]:
    day, _, at = value.partition(" ")
    try:
        clock = datetime.strptime(at.strip(), "%H:%M").time()
    except ValueError:
        clock = None
    if day[:3] not in DAY_NAMES or clock is None:
        raise Usage(f"Give a day and a time, e.g. `{COMMAND} settings digest mon 09:00`.")
    return {"digest_day": day[:3], "digest_time": f"{clock:%H:%M}"}


def _hours(value: str) -> dict[str, str]:
    """`mon-fri 09:00-18:00` or `mon,tue,thu 08:30-17:00`."""
    names = list(DAY_NAMES)
    match = HOURS.match(value)
    example = f"`{COMMAND} settings hours mon-fri 09:00-18:00`"
    if not match:
        raise Usage(f"Give days and hours, e.g. {example}.")
    days: list[str] = []
    for part in match["days"].split(","):
        first, _, last = part.partition("-")
        if first not in names or (last and last not in names):
            raise Usage(f"Days are mon, tue, wed, thu, fri, sat, sun, e.g. {example}.")
        start, stop = names.index(first), names.index(last or first)
        # fri-mon wraps around the weekend
        days += [names[(start + i) % 7] for i in range((stop - start) % 7 + 1)]
    try:
        start, end = (datetime.strptime(match[k], "%H:%M").time() for k in ("start", "end"))
    except ValueError:
        raise Usage(f"Hours look like 09:00, e.g. {example}.") from None
    if end <= start:
        raise Usage("The day must end after it starts.")
    return {"work_days": ",".join(dict.fromkeys(days)), "work_start": f"{start:%H:%M}",
            "work_end": f"{end:%H:%M}"}


async def _describe_settings(team_id: str, deps: Deps) -> str:
    ws = await deps.store.workspace(team_id)
    hours = Hours.from_rules(deps.recovery.playbook.nudges, ws)
    lead = f"<#{ws['lead_channel']}>" if ws.get("lead_channel") else \
        "none (escalations go to the case thread, mentioning the leads; no weekly digest)"
    digest = f"{(ws.get('digest_day') or 'mon').title()} {ws.get('digest_time') or '09:00'}"
    return (f"Working hours: {hours.describe()}, in each owner's own timezone. "
            f"Lead channel: {lead}. Weekly digest: {digest} ({ws.get('tz') or 'UTC'}).")
