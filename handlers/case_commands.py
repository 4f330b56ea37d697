"""`/recover <verb> N ...`: working a case by command.

Each verb registers itself (with its help line) in the sub-command registry.
Handlers are thin: parse, call the lifecycle, render, answer the user.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.domain.lifecycle import Done, NeedsConfirmation, NotFound, Refused
from bot.domain.schedule import Hours
from bot.domain.when import EXAMPLES, BadTime, parse_when
from bot.domain.workspace import SettingError, Workspace
from bot.storage.errors import DatabaseError
from handlers import blocks, case_blocks
from handlers.cards import refresh_card
from handlers.commands import COMMAND, STORAGE_FAILED, Ack, Invocation, subcommand
from handlers.context import Deps
from handlers.mrkdwn import escape, mention
from handlers.reply import answer_later, answer_now, refusal_text, reply, respond
from handlers.slack_text import plain, user_ids
from handlers.visibility import may_see, sees_case

log = logging.getLogger("mend.commands")

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
            else:
                await answer_now(ack, answer)

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
    except (Usage, NotFound, BadTime, Refused) as exc:
        return refusal_text(exc)
    except DatabaseError as exc:  # read-only or full: the same refusal /recover gives
        log.error("change not saved: %s", type(exc).__name__)
        return STORAGE_FAILED


async def finish_later(later: Later, inv: Invocation, deps: Deps) -> None:
    await answer_later(deps.client, inv.response_url, await answered(later.work))


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


@case_command("withdraw", "withdraw N <reason>",
              "Withdraw case N, opened by mistake: reminders stop, left out of the stats "
              "(who opened it, or a lead)")
async def withdraw(inv, number, rest, deps):
    done = await deps.lifecycle.withdraw(inv.team_id, number, inv.user_id, plain(rest))
    return settled(deps, done, f"Case #{number} is withdrawn: its reminders stop and it "
                               "counts in no statistic. Its timeline keeps why.")


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
    deps.tasks.spawn(_set_leads(inv, wanted, deps), name="leads")


async def _set_leads(inv: Invocation, wanted: list[str], deps: Deps) -> None:
    person = await deps.people.get(inv.team_id, inv.user_id)
    try:
        await deps.workspaces.set_leads(inv.team_id, inv.user_id, person.is_admin, wanted)
    except Refused as exc:
        text = exc.why + " Who can: " + (", ".join(mention(u) for u in exc.who_can)
                                         or "a workspace admin") + "."
    else:
        text = "Leads are now " + ", ".join(mention(u) for u in wanted) + "."
    await respond(deps.client, inv.response_url, text)


@subcommand("settings", f"{COMMAND} settings [lead-channel #channel | hours mon-fri 09:00-18:00 "
                        "| digest mon 09:00 | timezone Europe/Paris | reaction :sos:|off]",
            "Show or change this workspace's settings (leads)")
async def settings(ack: Ack, inv: Invocation, args: str, deps: Deps) -> None:
    what, _, value = args.strip().partition(" ")
    if not what:
        await reply(ack, _describe_settings(await deps.workspaces.get(inv.team_id), deps))
        return
    try:
        ws = await deps.workspaces.change(inv.team_id, inv.user_id, what.lower(), value.strip())
    except Refused as exc:
        who = ", ".join(mention(u) for u in exc.who_can) or "nobody yet: set leads first"
        await reply(ack, f"{exc.why} Who can: {who}.")
        return
    except SettingError as exc:
        await reply(ack, escape(str(exc)))
        return
    await reply(ack, "Saved. " + _describe_settings(ws, deps))


def _describe_settings(ws: Workspace, deps: Deps) -> str:
    hours = Hours.from_rules(deps.recovery.playbook.nudges, ws)
    lead = f"<#{ws.lead_channel}>" if ws.lead_channel else \
        "none (escalations go to the case thread, mentioning the leads; no weekly digest)"
    return (f"Working hours: {hours.describe()}, in each owner's own timezone. "
            f"Lead channel: {lead}. Weekly digest: {ws.digest_on.title()} {ws.digest_at} "
            f"({ws.timezone}). Reaction trigger: "
            + (f":{ws.reaction}: on a message opens a case from it." if ws.reaction else
               "off (`/recover settings reaction :sos:` turns it on)."))
