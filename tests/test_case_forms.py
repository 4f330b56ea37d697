"""The case card's forms: what is typed is kept, a form applies once, a form that
changes nothing says so, and a refusal says why and who can."""

from __future__ import annotations

import json

from bot.domain.vocabulary import Status
from handlers.ids import Action, Block, Callback
from tests.helpers import LA_MORNING, REPORT, card, case1, click, open_case, said

LEAD_SINCE = "2026-11-26T00:00:00.000000Z"


def meta(number: int = 1, **extra: str) -> str:
    return json.dumps({"case": number, "team": "T1", **extra})


def text_input(value: str) -> dict:
    return {Action.TEXT: {"type": "plain_text_input", "value": value}}


def resolve_values(what: str, compensation: str = "", accepted: str = "not_offered") -> dict:
    return {Block.RESOLVE_WHAT: text_input(what),
            Block.RESOLVE_COMPENSATION: text_input(compensation),
            Block.RESOLVE_ACCEPTED: {Action.ACCEPTED: {"type": "radio_buttons",
                                                       "selected_option": {"value": accepted}}}}


async def kinds(mend) -> list[str]:
    return [e.kind for e in await mend.store.events("T1", (await case1(mend)).id)]


# -- what is typed is kept ------------------------------------------------------------
async def test_form_text_is_kept_as_typed(mend, slack, slack_user):
    """Form inputs arrive as typed, not Slack-escaped: `<`, `>` and `&amp;` stay."""
    await open_case(mend, slack_user)
    typed = "Refund if < 20 EUR, else escalate > tier 2. Ticket &amp; invoice attached"
    await slack_user.view_submission(Callback.NOTE, {Block.NOTE_TEXT: text_input(typed)},
                                     view_id="VNOTE1", private_metadata=meta())
    await slack_user.view_submission(Callback.RESOLVE, resolve_values("Sent <new> one & more"),
                                     view_id="VRES1", private_metadata=meta())
    await mend.settle()
    notes = [e.detail["text"] for e in await mend.store.events("T1", (await case1(mend)).id)
             if e.kind == "note"]
    assert notes == [typed]
    assert (await case1(mend)).resolution == "Sent <new> one & more"


# -- applied once -----------------------------------------------------------------------
async def test_followup_and_snooze_forms_delivered_twice_apply_once(mend, slack, slack_user,
                                                                    clock):
    clock.set(LA_MORNING)  # the first follow-up is in working hours: Mend leaves it be
    await open_case(mend, slack_user)
    quick = {Block.FOLLOWUP_QUICK: {Action.QUICK: {
        "type": "radio_buttons", "selected_option": {"value": "in_1h"}}}}
    for _ in range(2):  # the same view submitted twice, a second apart
        reply = await slack_user.view_submission(
            Callback.FOLLOWUP, quick, view_id="VFU1",
            private_metadata=meta(tz="America/Los_Angeles"))
        assert reply.status == 200 and not reply.body
        clock.advance(seconds=1)
    reason = {Block.SNOOZE_REASON: text_input("customer at lunch")}
    for _ in range(2):
        reply = await slack_user.view_submission(
            Callback.SNOOZE, reason, view_id="VSN1",
            private_metadata=meta(tz="America/Los_Angeles", choice="in_1h"))
        assert reply.status == 200 and not reply.body
        clock.advance(seconds=1)
    for _ in range(2):
        await slack_user.view_submission(Callback.RESOLVE, resolve_values("Reshipped"),
                                         view_id="VRES1", private_metadata=meta())
    await mend.settle()
    events = await kinds(mend)
    assert (events.count("followup_set"), events.count("snoozed"),
            events.count("resolved")) == (1, 1, 1), events


async def test_a_form_refused_once_can_be_corrected_and_sent_again(mend, slack, slack_user):
    """Only a change that was made marks the form as applied."""
    await open_case(mend, slack_user)
    reply = await slack_user.view_submission(
        Callback.RESOLVE, resolve_values("Reshipped", accepted="yes"), view_id="VRES1",
        private_metadata=meta())
    assert Block.RESOLVE_COMPENSATION in reply.json["errors"]
    await slack_user.view_submission(
        Callback.RESOLVE, resolve_values("Reshipped", "Free shipping", "yes"),
        view_id="VRES1", private_metadata=meta())
    await mend.settle()
    case = await case1(mend)
    assert (case.status, case.compensation_accepted) == (Status.RESOLVED, "yes")


async def test_note_refused_as_empty_can_then_be_added(mend, slack, slack_user):
    await slack_user.command(REPORT)
    meta = json.dumps({"case": 1, "team": "T1"})
    for text in ("   ", "Customer prefers email"):
        values = {Block.NOTE_TEXT: {Action.TEXT: {"type": "plain_text_input", "value": text}}}
        await slack_user.view_submission(Callback.NOTE, values, view_id="V7",
                                         private_metadata=meta)
    notes = [e for e in await mend.store.events("T1", 1) if e.kind == "note"]
    assert [n.detail["text"] for n in notes] == ["Customer prefers email"]


async def test_accepted_with_nothing_offered_is_asked_about(mend, slack, slack_user):
    await open_case(mend, slack_user)
    reply = await slack_user.view_submission(
        Callback.RESOLVE, resolve_values("Reshipped", "", "yes"), private_metadata=meta())
    assert "what was offered" in reply.json["errors"][Block.RESOLVE_COMPENSATION]
    assert (await case1(mend)).status == Status.OPEN


# -- a form that changes nothing says so -------------------------------------------------
async def test_resolve_form_on_an_already_resolved_case_says_so(mend, slack, slack_user):
    await open_case(mend, slack_user)
    await mend.store.set_leads("T1", ["ULEAD"], "U0", LEAD_SINCE)
    await slack_user.command("resolve 1 reshipped", user_id="U1")
    reply = await slack_user.view_submission(
        Callback.RESOLVE, resolve_values("Refunded the shipping", "20 EUR voucher", "yes"),
        user_id="ULEAD", private_metadata=meta())
    await mend.settle()
    assert reply.json["response_action"] == "errors"
    assert "already resolved" in reply.json["errors"][Block.RESOLVE_WHAT]
    assert (await case1(mend)).resolution == "reshipped"


# -- refusals say why and who can ---------------------------------------------------------
async def test_card_button_refuses_before_the_form_opens_saying_who_can(mend, slack,
                                                                       slack_user):
    await open_case(mend, slack_user)
    await mend.store.set_leads("T1", ["ULEAD"], "U0", LEAD_SINCE)
    for action in (Action.RESOLVE, Action.FOLLOWUP):
        await click(slack_user, mend, slack, action, user="U2")
    assert slack.calls_to("views.open") == []
    assert said(slack).count("Who can: <@U1>, <@ULEAD>") == 2
    await click(slack_user, mend, slack, Action.NOTE, user="U2")  # anyone may add a note
    assert len(slack.calls_to("views.open")) == 1


async def test_close_button_of_the_owner_explains_the_satisfaction_check(mend, slack,
                                                                        slack_user):
    await open_case(mend, slack_user)
    await mend.store.set_leads("T1", ["ULEAD"], "U0", LEAD_SINCE)
    await slack_user.command("resolve 1 done", user_id="U1")
    await mend.settle()
    await click(slack_user, mend, slack, Action.CLOSE, user="U1")
    assert slack.calls_to("views.open") == []
    text = said(slack)
    assert "satisfaction follow-up is recorded" in text and "Who can: <@ULEAD>" in text
    await click(slack_user, mend, slack, Action.CLOSE, user="ULEAD")
    [opened] = slack.calls_to("views.open")
    [reason] = [b for b in opened.arg("view")["blocks"] if b.get("block_id") ==
                Block.CLOSE_REASON]
    assert reason["optional"] is False  # a lead closing early must say why


async def test_form_refusal_says_why_in_full_and_sends_who_can(mend, slack, slack_user):
    """A form's error is plain text: it says why, whole; the names come as a message."""
    await open_case(mend, slack_user)
    await mend.store.set_leads("T1", ["ULEAD"], "U0", LEAD_SINCE)
    reply = await slack_user.view_submission(
        Callback.RESOLVE, resolve_values("Reshipped"), user_id="U2", private_metadata=meta())
    await mend.settle()
    error = reply.json["errors"][Block.RESOLVE_WHAT]
    assert error.startswith("Only the owner or a lead can resolve case #1.")
    assert "<@" not in error and "{owner}" not in error
    [told] = [e for e in slack.ephemerals if e["user"] == "U2"]
    assert told["channel"] == "C1" and "Who can: <@U1>, <@ULEAD>" in told["text"]
    await slack_user.command("resolve 1 done", user_id="U1")
    reply = await slack_user.view_submission(Callback.CLOSE, {Block.CLOSE_REASON:
                                                              text_input("")},
                                             user_id="U1", private_metadata=meta())
    error = reply.json["errors"][Block.CLOSE_REASON]
    assert error.endswith(".") and "A lead can close it early, with a reason." in error
    assert (await case1(mend)).status == Status.RESOLVED


async def test_lead_closes_early_with_a_reason_from_the_form(mend, slack, slack_user):
    await open_case(mend, slack_user)
    await mend.store.set_leads("T1", ["ULEAD"], "U0", LEAD_SINCE)
    reply = await slack_user.view_submission(
        Callback.CLOSE, {Block.CLOSE_REASON: text_input("customer went quiet")},
        user_id="ULEAD", private_metadata=meta())
    await mend.settle()
    assert reply.status == 200 and not reply.body and (await case1(mend)).status == Status.CLOSED


# -- when Slack will not open a form --------------------------------------------------------
async def test_a_form_slack_would_not_open_is_explained(mend, slack, slack_user):
    await open_case(mend, slack_user)
    slack.fail("views.open", error="expired_trigger_id")
    await click(slack_user, mend, slack, Action.FOLLOWUP)
    text = said(slack)
    assert "Slack did not open the form" in text and "expired_trigger_id" in text
    assert "/recover followup 1" in text
    assert card(slack)  # nothing else happened


async def test_a_slow_users_info_does_not_hold_up_the_form(mend, slack, slack_user):
    """The trigger id lasts 3 s: the form opens without waiting long for a timezone."""
    await open_case(mend, slack_user)
    mend.mend.deps.people._cache.clear()  # as after a restart
    slack.fail("users.info", delay=2.5)
    await click(slack_user, mend, slack, Action.FOLLOWUP)
    [opened] = slack.calls_to("views.open")
    info = slack.calls_to("users.info")[-1]
    assert opened.at - info.at < 2.0
    assert "tz" not in json.loads(opened.arg("view")["private_metadata"])


async def test_followup_form_answers_without_waiting_for_users_info(mend, slack, slack_user,
                                                                     clock):
    await slack_user.command(REPORT)
    await mend.settle()
    await slack_user.block_action(Action.FOLLOWUP, message_ts=slack.messages("C1")[0]["ts"])
    await mend.settle()
    view = slack.calls_to("views.open")[-1].arg("view")
    mend.mend.deps.people._cache.clear()  # as after a restart
    slack.fail("users.info", delay=3.0)
    values = {Block.FOLLOWUP_QUICK: {Action.QUICK: {
        "type": "radio_buttons", "selected_option": {"value": "in_1h"}}}}
    reply = await slack_user.view_submission(Callback.FOLLOWUP, values,
                                             private_metadata=view["private_metadata"])
    assert reply.status == 200 and reply.elapsed_ms < 1000
    slack.reset()
