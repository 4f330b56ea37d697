"""The reply coach in Slack: `/recover check`, the message shortcut, and
*Another wording* on the playbook answer."""

from __future__ import annotations

import time
from datetime import datetime

from slack_bolt.async_app import AsyncApp

from bot.domain import situation
from bot.domain.advice import apology_variants, build_advice
from bot.domain.coach import Review, check
from bot.domain.coach.learned import coach_scorer
from bot.domain.intake import Report
from bot.domain.lifecycle import NotFound
from bot.domain.models import Case
from bot.domain.promises import promise_words
from bot.domain.times import from_iso
from handlers import blocks, payload
from handlers.blocks import Blocks, context, fit, header, section
from handlers.commands import COMMAND, Ack, Invocation, subcommand
from handlers.context import Deps
from handlers.ids import Action, Shortcut
from handlers.mrkdwn import escape, quote, truncate
from handlers.payload import Payload
from handlers.promise_blocks import known_now, nudge_note, nudged
from handlers.reply import reply, respond
from handlers.slack_text import number as parse_number
from handlers.slack_text import plain
from handlers.visibility import sees_case

SHORTCUTS = (Shortcut.CHECK_REPLY,)
MAX_DRAFT = 4000
SEVERITY_MARK = {"change": ":large_orange_circle: Change",
                 "consider": ":large_blue_circle: Consider"}


def review_blocks(review: Review, millis: float, note: str = "") -> Blocks:
    """Findings with the exact words, the reasons and better phrasings; then a rewrite.
    `note` (plain text) is shown first, in a context line."""
    out: Blocks = [header("Reply check")]
    if note:
        out.append(context(escape(note)))
    if review.strengths:
        out.append(section(":white_check_mark: *What works*: "
                           + escape(" · ".join(review.strengths))))
    if not review.findings:
        out.append(section(":tada: Nothing to change: this reply owns the problem, answers "
                           "the feeling and says what happens next."))
    for finding in review.findings[:12]:
        words = quote(finding.quote) if finding.quote else "_(missing)_"
        out.append(section(truncate(
            f"{SEVERITY_MARK.get(finding.severity, '')} · *{escape(finding.title)}*\n{words}\n"
            f"{escape(finding.why)}\n*Try*: {escape(finding.suggestion)}", 3000)))
    if review.rewrite and review.findings:
        # Cut the rewrite itself, so the code block always closes.
        out.append(section("*A rewrite that keeps your facts* (fill in the [brackets])\n"
                           f"```{truncate(escape(review.rewrite), 2900)}```"))
    out.append(context(f"Checked in {millis:.1f} ms against the rules in data/coach.yaml."))
    return fit(out)


async def _case_context(deps: Deps, team_id: str, user_id: str, here: str | None,
                  words: str) -> tuple[Case | None, str, str]:
    """`#12 draft…` checks the draft against case 12's customer and feeling, when the
    person may see case 12 without asking Slack. Otherwise the draft is checked alone,
    with a note that says so in the same words whether or not case 12 exists.

    Returns (the case or None, the draft, the note or "")."""
    first, _, rest = words.partition(" ")
    found = parse_number(first.lstrip("#")) if first.startswith("#") else None
    if found is None:
        return None, words, ""
    try:
        case = await deps.lifecycle.get(team_id, found)
    except NotFound:
        case = None
    if case is not None and await sees_case(deps, case, user_id, here):
        return case, rest.strip(), ""
    return None, rest.strip(), f"No case #{found} that you can see: checked the draft on its own."


async def review(deps: Deps, team_id: str, user_id: str, draft: str,
           here: str | None = None) -> tuple[Blocks | None, str]:
    """The check as blocks, or (None, a message saying what to send)."""
    case, draft, note = await _case_context(deps, team_id, user_id, here, plain(draft).strip())
    if not draft:
        return None, (f"Paste the reply you're about to send: `{COMMAND} check Hi Dana, I'm "
                      "so sorry…` (start with `#12` to check it against case 12).")
    if len(draft) > MAX_DRAFT:
        return None, f"That draft has {len(draft):,} characters; I check up to {MAX_DRAFT:,}."
    started = time.perf_counter()
    reader = deps.recovery.reader
    result = check(draft, deps.coach, customer_name=case.customer if case else None,
                   customer_upset=(case.emotion != "calm") if case else True,
                   scorer=coach_scorer(reader))
    return review_blocks(result, (time.perf_counter() - started) * 1000, note), ""


@subcommand("check", f"{COMMAND} check [#N] <draft reply>",
            "Check a reply before you send it: blame, hand-offs, call-backs, apology, next step…")
async def check_command(ack: Ack, inv: Invocation, args: str, deps: Deps) -> None:
    found, message = await review(deps, inv.team_id, inv.user_id, args, inv.channel_id)
    if found is None:
        await reply(ack, escape(message))
    else:
        await ack(response_type="ephemeral", text="Reply check", blocks=found)


async def on_shortcut(ack, asked: Payload, deps: Deps) -> None:
    """"Check reply with Mend" on any message: the review, only to the person who asked."""
    await ack()
    text = str(asked.message.get("text") or "")
    found, message = await review(deps, asked.team_id, asked.user_id, text)
    deps.tasks.spawn(respond(deps.client, asked.response_url, message or "Reply check",
                             found), name="check-reply")


async def another_wording(deps: Deps, click: Payload) -> None:
    """Show the next apology variant in the playbook answer, in place."""
    number, _, index = click.value.partition(":")
    case_number, step = parse_number(number), parse_number(index)
    team_id, user_id = click.team_id, click.user_id
    if case_number is None or step is None:
        return
    try:
        case = await deps.lifecycle.get(team_id, case_number)
    except NotFound:
        return
    if user_id not in (case.reporter_id, case.owner_id) and \
            not await deps.lifecycle.is_lead(team_id, user_id):
        return  # the button sits in its reporter's own answer
    report = Report(summary=case.summary, customer=case.customer, contact=case.contact,
                    category=case.category, category_cues=(), emotion=case.emotion,
                    severity=case.severity, stakes=situation.stakes(case.summary),
                    language=situation.language(case.summary))
    playbook = deps.recovery.playbook
    now = deps.clock.now()
    local = await known_now(deps, team_id, nudged(case) or "")
    when = _promise(case, now, local.tz if local else None)
    variants = apology_variants(report, playbook, when)
    chosen = variants[step % len(variants)]
    shown = blocks.playbook_reply(case, build_advice(report, playbook, when),
                                  variant=(chosen, (step + 1) % len(variants)),
                                  nudge_note=nudge_note(case, now, local))
    await respond(deps.client, click.response_url, "Mend", shown, replace=True)


def _promise(case: Case, now: datetime, tz: str | None = None) -> str | None:
    """What the apology promises: the case's follow-up as it stands now (it may have
    moved since the case was opened), in the owner's day (`tz`); None (the playbook's
    default) if it has none."""
    if not case.next_followup_at:
        return None
    return promise_words(now, from_iso(case.next_followup_at), tz)


def register(app: AsyncApp, deps: Deps) -> None:
    async def shortcut(ack, context):
        await on_shortcut(ack, payload.of(context), deps)

    async def wording(ack, context):
        await ack()
        deps.tasks.spawn(another_wording(deps, payload.of(context)), name="another-wording")

    for callback in SHORTCUTS:
        app.shortcut(callback)(shortcut)
    app.action(Action.ANOTHER_WORDING)(wording)
