"""What people see of a case after a change: its card, their App Home, its timeline."""

from __future__ import annotations

import dataclasses

from bot.domain.models import Case, Event
from handlers import case_blocks
from tests.helpers import REPORT, all_text, case1, open_case


# -- the card ---------------------------------------------------------------------------
async def test_card_is_not_left_stale_when_an_update_is_retried(mend, slack, slack_user):
    """Slack rate-limits the first of two updates: its retry, rendered before the second
    change, lands after the second update; the card must still end up current."""
    await open_case(mend, slack_user)
    slack.fail("chat.update", status=429, retry_after=1)
    await slack_user.command("step 1 apologize", user_id="U1")  # its update: 429, retry in 1 s
    await slack_user.command("step 1 act", user_id="U1")  # this one goes through first
    await mend.settle()
    assert len(await mend.store.steps("T1", (await case1(mend)).id)) == 2
    last = slack.calls_to("chat.update")[-1]
    assert "Recovery checklist 2/5" in all_text(last.arg("blocks"))
    assert "Recovery checklist 2/5" in all_text(slack.messages("C1")[0]["blocks"])


async def test_an_update_is_not_sent_twice_when_nothing_changed_meanwhile(mend, slack,
                                                                         slack_user):
    await open_case(mend, slack_user)
    await slack_user.command("step 1 apologize", user_id="U1")
    await mend.settle()
    assert len(slack.calls_to("chat.update")) == 1


# -- App Home ---------------------------------------------------------------------------
async def open_home(mend, slack_user, user="U1"):
    await slack_user.event({"type": "app_home_opened", "user": user, "tab": "home"})
    await mend.settle()


def my_cases(slack, user="U1") -> str:
    return all_text(slack.home[user]["blocks"]).split("Waiting for an owner")[0]


async def test_new_case_shows_in_its_owners_home(mend, slack, slack_user):
    await open_home(mend, slack_user)
    await open_case(mend, slack_user)
    assert "*#1*" in my_cases(slack)


async def test_release_refreshes_the_previous_owners_home(mend, slack, slack_user):
    await open_case(mend, slack_user)
    await open_home(mend, slack_user)
    assert "*#1*" in my_cases(slack)
    await slack_user.command("release 1", user_id="U1")
    await mend.settle()
    assert "*#1*" not in my_cases(slack)


async def test_reassign_refreshes_both_owners_homes(mend, slack, slack_user):
    await open_case(mend, slack_user)
    await open_home(mend, slack_user, "U1")
    await open_home(mend, slack_user, "U2")
    assert "*#1*" not in my_cases(slack, "U2")
    await slack_user.command("assign 1 <@U2|kofi>", user_id="U1")
    await mend.settle()
    assert "*#1*" not in my_cases(slack, "U1") and "*#1*" in my_cases(slack, "U2")


async def test_intake_form_case_shows_in_its_owners_home(mend, slack, slack_user):
    from handlers.ids import Action, Block, Callback

    await open_home(mend, slack_user)
    values = {Block.WHAT: {Action.WHAT: {"type": "plain_text_input", "value": REPORT}}}
    await slack_user.view_submission(Callback.INTAKE, values,
                                     private_metadata='{"channel_id": "C1"}')
    await mend.settle()
    assert "*#1*" in my_cases(slack)


# -- the timeline and forms say what happened -----------------------------------------
BLANK = Case(*([None] * len(Case.__dataclass_fields__)))


def line(kind: str, detail: dict, actor: str | None = "U1") -> str:
    event = Event(id=1, team_id="T1", case_id=1, at="2026-11-26T18:00:00.000000Z",
                  actor_id=actor, kind=kind, detail=detail)
    return case_blocks._event_line(event, {})


def test_followup_form_of_an_unowned_case_asks_when_we_get_back():
    case = dataclasses.replace(BLANK, id=1, team_id="T1", number=3, owner_id=None,
                               status="open")
    text = case_blocks.followup_modal(case)["blocks"][0]["text"]["text"]
    assert text.startswith("When should we next get back to the customer?")


def test_timeline_says_until_when_and_why_a_case_was_snoozed():
    text = line("snoozed", {"before": "2026-11-26T17:00:00.000000Z",
                            "until": "2026-11-27T17:00:00.000000Z",
                            "reason": "customer on <holiday>"})
    assert "snoozed the follow-up until <!date^1795798800^" in text
    assert "customer on &lt;holiday&gt;" in text


def test_timeline_says_why_mend_released_a_case():
    text = line("released", {"before": "U1", "after": None,
                             "reason": "follow-up overdue for 8h"}, actor=None)
    assert "Mend released it to the unowned queue (was <@U1>; follow-up overdue for 8h)" in text


def test_timeline_explains_followups_updates_and_reminders():
    done = line("followup_done", {"due": "2026-11-26T17:00:00.000000Z"})
    assert "recorded the follow-up due <!date^" in done and "(late)" in done
    assert "(late)" not in line("followup_done", {"due": "2026-11-26T19:00:00.000000Z"})
    assert "recorded an update to the customer" in line("customer_updated", {})
    assert "(reminder 2)" in line("nudge_sent", {"kind": "followup", "rung": 1}, actor=None)
    assert "told the leads" in line("nudge_sent", {"kind": "escalation", "rung": 0}, None)
    failed = line("nudge_failed", {"kind": "update", "rung": 0, "error": "not_in_channel"},
                  actor=None)
    assert "could not send the reminder to update the customer (not_in_channel)" in failed


def test_timeline_says_why_resolving_or_reopening_unticked_step_five():
    assert line("step_undone", {"step": "follow_up"}).endswith("unticked *follow_up*")
    resolved = line("step_undone", {"step": "follow_up", "reason": "resolved"})
    assert "unticked *follow_up* on resolving: the satisfaction follow-up" in resolved
    reopened = line("step_undone", {"step": "follow_up", "reason": "reopened"})
    assert "unticked *follow_up* on reopening: the next resolution needs its own" in reopened
    assert "(<b>)" not in line("step_undone", {"step": "act", "reason": "<b>"})
