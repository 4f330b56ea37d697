"""Working a case end to end: card buttons, modals and commands, against the stand-in."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from bot.domain.times import from_iso
from bot.domain.vocabulary import FollowupKind, Status
from handlers.ids import Action, Block, Callback
from tests.helpers import (
    LA_MORNING,
    REPORT,
    all_text,
    assert_valid_blocks,
    card,
    case1,
    click,
    open_case,
    said,
)


def view_of(call) -> dict:
    view = call.args["view"]
    return json.loads(view) if isinstance(view, str) else view


# -- the card -------------------------------------------------------------------------
async def test_card_offers_lifecycle_controls_and_checklist(mend, slack, slack_user):
    await open_case(mend, slack_user)
    blocks = card(slack)["blocks"]
    assert_valid_blocks(blocks)
    ids = {e.get("action_id") for b in blocks for e in b.get("elements", [])}
    assert {Action.ASSIGN, Action.FOLLOWUP, Action.NOTE, Action.RESOLVE,
            Action.CHECKLIST} <= ids
    assert Action.TAKE not in ids  # the reporter owns it already
    assert "Recovery checklist 0/5" in all_text(blocks)


async def test_every_change_updates_the_same_card_in_place(mend, slack, slack_user):
    await open_case(mend, slack_user)
    await slack_user.command("note 1 called the customer back")
    await slack_user.command("step 1 apologize")
    await slack_user.command("resolve #1 reshipped with express delivery")
    await mend.settle()
    assert len(slack.calls_to("chat.postMessage")) == 1
    updates = slack.calls_to("chat.update")
    assert updates and {u.arg("ts") for u in updates} == {card(slack)["ts"]}
    text = all_text(card(slack)["blocks"])
    assert "Resolved" in text and "Satisfaction check due" in text and "1/5" in text


# -- ownership ----------------------------------------------------------------------------
async def test_take_ownership_of_an_unowned_case(mend, slack, slack_user):
    await open_case(mend, slack_user)
    await slack_user.command("release 1", user_id="U1")
    await mend.settle()
    assert (await case1(mend)).owner_id is None
    assert Action.TAKE in all_text(card(slack)["blocks"])
    await click(slack_user, mend, slack, Action.TAKE, user="U2")
    assert (await case1(mend)).owner_id == "U2"
    assert "<@U2>" in all_text(card(slack)["blocks"])


async def test_race_on_take_ownership_has_one_winner(mend, slack, slack_user):
    await open_case(mend, slack_user)
    await slack_user.command("release 1")
    await mend.settle()
    ts = card(slack)["ts"]
    replies = await asyncio.gather(
        slack_user.block_action(Action.TAKE, user_id="U2", message_ts=ts),
        slack_user.block_action(Action.TAKE, user_id="U3", message_ts=ts),
    )
    assert all(r.status == 200 for r in replies)
    await mend.settle()
    winner = (await case1(mend)).owner_id
    assert winner in ("U2", "U3")
    events = [e for e in await mend.store.events("T1", (await case1(mend)).id) if e.kind == "taken"]
    assert len(events) == 1
    loser = "U3" if winner == "U2" else "U2"
    assert f"owned by <@{winner}>" in said(slack) or f"taken by <@{winner}>" in said(slack)
    assert loser not in {(await case1(mend)).owner_id}


async def test_repeated_delivery_of_one_click_changes_nothing_twice(mend, slack, slack_user):
    await open_case(mend, slack_user)
    same = {"action_ts": "1764169200.000100"}
    await click(slack_user, mend, slack, Action.CHECKLIST, selected={
        **same, "selected_options": [{"value": "apologize"}]})
    await slack_user.command("step 1 apologize")  # and again by command: still once
    await click(slack_user, mend, slack, Action.CHECKLIST, selected={
        **same, "selected_options": [{"value": "apologize"}]})
    kinds = [e.kind for e in await mend.store.events("T1", (await case1(mend)).id)]
    assert kinds.count("step_done") == 1


async def test_colleague_cannot_reassign_an_owned_case(mend, slack, slack_user):
    await open_case(mend, slack_user)
    await click(slack_user, mend, slack, Action.ASSIGN, user="U2",
                selected={"selected_user": "U3"})
    assert (await case1(mend)).owner_id == "U1"
    assert "Only the owner (<@U1>) or a lead can reassign case #1" in said(slack)


async def test_owner_assigns_with_the_user_picker(mend, slack, slack_user):
    await open_case(mend, slack_user)
    await click(slack_user, mend, slack, Action.ASSIGN, selected={"selected_user": "U3"})
    assert (await case1(mend)).owner_id == "U3"
    assert "<@U3>" in all_text(card(slack)["blocks"])


async def test_assigning_overloaded_owner_warns_then_goes_through(mend, slack, slack_user):
    limit = mend.mend.deps.recovery.playbook.settings.max_open_per_owner
    await open_case(mend, slack_user)
    for i in range(limit):
        await slack_user.command(f"customer C{i}: waited on hold", user_id="U9",
                                 channel_id="C7")
    reply = await slack_user.command("assign 1 <@U9|kofi>", user_id="U1")
    text = all_text(reply.json["blocks"])
    assert f"already owns {limit} open cases" in text and (await case1(mend)).owner_id == "U1"
    ephemeral = {"ts": "1.1", "blocks": reply.json["blocks"]}
    confirm = await slack_user.block_action(Action.ASSIGN_CONFIRM, value="1:U9",
                                            user_id="U1")
    assert confirm.status == 200 and ephemeral
    await mend.settle()
    assert (await case1(mend)).owner_id == "U9"


# -- follow-ups ---------------------------------------------------------------------------
async def test_followup_modal_quick_choice(mend, slack, slack_user, clock):
    await open_case(mend, slack_user)
    await click(slack_user, mend, slack, Action.FOLLOWUP)
    view = view_of(slack.calls_to("views.open")[-1])
    assert view["callback_id"] == Callback.FOLLOWUP
    assert_valid_blocks(view["blocks"], limit=100)
    values = {Block.FOLLOWUP_QUICK: {Action.QUICK: {
        "type": "radio_buttons", "selected_option": {"value": "in_1h"}}}}
    reply = await slack_user.view_submission(Callback.FOLLOWUP, values,
                                             private_metadata=view["private_metadata"])
    assert reply.status == 200 and not reply.body  # closes the modal
    await mend.settle()
    assert from_iso((await case1(mend)).next_followup_at) == clock.now() + timedelta(hours=1)
    assert "<!date^" in all_text(card(slack)["blocks"])


async def test_followup_modal_refuses_a_past_day(mend, slack, slack_user):
    await open_case(mend, slack_user)
    values = {Block.FOLLOWUP_DATE: {Action.DATE: {"type": "datepicker",
                                                  "selected_date": "2026-11-01"}},
              Block.FOLLOWUP_TIME: {Action.TIME: {"type": "timepicker",
                                                  "selected_time": "09:00"}}}
    reply = await slack_user.view_submission(Callback.FOLLOWUP, values,
                                             private_metadata=json.dumps({"case": 1}))
    assert reply.json["response_action"] == "errors"
    assert "past" in json.dumps(reply.json["errors"])


async def test_same_words_in_two_timezones_land_on_different_instants(mend, slack,
                                                                      slack_user):
    await open_case(mend, slack_user, user="U1")  # America/Los_Angeles
    await open_case(mend, slack_user, user="U2")  # Asia/Kolkata
    await slack_user.command("followup 1 tomorrow 9am", user_id="U1")
    await slack_user.command("followup 2 tomorrow 9am", user_id="U2")
    await mend.settle()
    la = from_iso((await case1(mend)).next_followup_at)
    kolkata = from_iso((await mend.store.case_by_number("T1", 2)).next_followup_at)
    assert la != kolkata
    assert (la.hour, la.minute) == (17, 0)  # 09:00 PST is 17:00 UTC
    assert (kolkata.hour, kolkata.minute) == (3, 30)  # 09:00 IST is 03:30 UTC
    assert len(slack.calls_to("users.info")) == 2  # and each timezone is then cached
    await slack_user.command("followup 1 in 2h", user_id="U1")
    assert len(slack.calls_to("users.info")) == 2


async def test_bad_and_past_times_get_examples(mend, slack, slack_user, clock):
    clock.set(LA_MORNING)  # the first follow-up is in working hours: Mend leaves it be
    await open_case(mend, slack_user)
    reply = await slack_user.command("followup 1 banana", user_id="U1")
    await mend.settle()
    assert "tomorrow 9am" in (all_text(reply.json["blocks"]) if reply.json else said(slack))
    reply = await slack_user.command("followup 1 2020-01-01 10:00", user_id="U1")
    await mend.settle()
    text = all_text(reply.json["blocks"]) if reply.json else said(slack)
    assert "past" in text
    assert (await case1(mend)).followup_kind == "update"
    events = await mend.store.events("T1", (await case1(mend)).id)
    assert [e.kind for e in events].count("followup_set") == 0


# -- notes, checklist, resolve, close ---------------------------------------------------
async def test_note_by_modal_is_added_once(mend, slack, slack_user):
    await open_case(mend, slack_user)
    values = {Block.NOTE_TEXT: {Action.TEXT: {"type": "plain_text_input",
                                              "value": "Customer prefers a call"}}}
    for _ in range(2):  # Slack retrying the same submission
        await slack_user.view_submission(Callback.NOTE, values, view_id="V1",
                                         private_metadata=json.dumps({"case": 1}))
    await mend.settle()
    notes = [e for e in await mend.store.events("T1", (await case1(mend)).id) if e.kind == "note"]
    assert [n.detail["text"] for n in notes] == ["Customer prefers a call"]


async def test_checklist_ticks_are_stamped_and_can_be_undone(mend, slack, slack_user):
    await open_case(mend, slack_user)
    await click(slack_user, mend, slack, Action.CHECKLIST, selected={
        "selected_options": [{"value": "apologize"}, {"value": "act"}]})
    text = all_text(card(slack)["blocks"])
    assert "2/5" in text and "<@U1>" in text
    await click(slack_user, mend, slack, Action.CHECKLIST, selected={
        "selected_options": [{"value": "act"}]})
    assert set(await mend.store.steps("T1", (await case1(mend)).id)) == {"act"}
    assert "1/5" in all_text(card(slack)["blocks"])


async def test_a_stale_checklist_cannot_untick_someone_elses_step(mend, slack, slack_user):
    await slack_user.command(REPORT)
    await mend.settle()
    stale = slack.messages("C1")[0]["blocks"]  # the card as U1's other screen still shows it
    await slack_user.block_action(Action.CHECKLIST, user_id="U1",
                                  message_ts=slack.messages("C1")[0]["ts"],
                                  selected={"selected_options": [{"value": "apologize"}]})
    await mend.settle()
    old_screen = slack.add_message("C1", "stale copy of the card", user="UBOT", blocks=stale)
    await slack_user.block_action(Action.CHECKLIST, user_id="U1", message_ts=old_screen["ts"],
                                  selected={"selected_options": [{"value": "act"}]})
    await mend.settle()
    assert set(await mend.store.steps("T1", 1)) == {"apologize", "act"}


async def test_resolve_modal_then_satisfaction_followup_closes(mend, slack, slack_user,
                                                               clock):
    await open_case(mend, slack_user)
    values = {
        Block.RESOLVE_WHAT: {Action.TEXT: {"type": "plain_text_input", "value": "Reshipped"}},
        Block.RESOLVE_COMPENSATION: {Action.TEXT: {"type": "plain_text_input",
                                                   "value": "Free shipping"}},
        Block.RESOLVE_ACCEPTED: {Action.ACCEPTED: {"type": "radio_buttons",
                                                   "selected_option": {"value": "yes"}}},
    }
    await slack_user.view_submission(Callback.RESOLVE, values,
                                     private_metadata=json.dumps({"case": 1}))
    await mend.settle()
    case = await case1(mend)
    assert case.status == Status.RESOLVED and case.followup_kind == FollowupKind.SATISFACTION
    assert from_iso(case.next_followup_at) == clock.now() + timedelta(days=2)
    assert (case.resolution, case.compensation, case.compensation_accepted) == (
        "Reshipped", "Free shipping", "yes")
    reply = await slack_user.command("step 1 follow-up")
    assert "closed" in all_text(reply.json["blocks"])
    await mend.settle()
    assert (await case1(mend)).status == Status.CLOSED
    ids = {e.get("action_id") for b in card(slack)["blocks"] for e in b.get("elements", [])}
    assert Action.REOPEN in ids and Action.RESOLVE not in ids


async def test_owner_close_refused_before_followup_naming_leads(mend, slack, slack_user):
    await open_case(mend, slack_user)
    await mend.store.set_leads("T1", ["ULEAD"], "U0", "2026-11-26T00:00:00.000000Z")
    reply = await slack_user.command("close 1", user_id="U1")
    text = all_text(reply.json["blocks"])
    assert "Who can: <@ULEAD>" in text and (await case1(mend)).status == Status.OPEN
    reply = await slack_user.command("close 1 customer went quiet", user_id="ULEAD")
    assert (await case1(mend)).status == Status.CLOSED
    reply = await slack_user.command("reopen 1", user_id="U1")
    assert (await case1(mend)).status == Status.OPEN


async def test_leads_are_set_by_a_workspace_admin_only(mend, slack, slack_user):
    slack.add_user("UADMIN", name="boss", tz="Europe/Berlin", is_admin=True)
    await slack_user.command("leads <@U2|kofi>", user_id="U1")
    await mend.settle()
    assert await mend.store.leads("T1") == [] and "Only a workspace admin" in said(slack)
    await slack_user.command("leads <@U2|kofi> <@U3|ana>", user_id="UADMIN")
    await mend.settle()
    assert await mend.store.leads("T1") == ["U2", "U3"]
    reply = await slack_user.command("leads")
    assert "<@U2>" in all_text(reply.json["blocks"])


# -- reading and refusing -------------------------------------------------------------------
async def test_case_command_shows_the_full_timeline(mend, slack, slack_user):
    await open_case(mend, slack_user)
    # Slack escapes what was typed: "<@U2|kofi> spoke to them & <b>apologized</b>"
    await slack_user.command("note 1 <@U2|kofi> spoke to them &amp; &lt;b&gt;apologized&lt;/b&gt;")
    await slack_user.command("step 1 apologize")
    reply = await slack_user.command("case #1")
    blocks = reply.json["blocks"]
    assert_valid_blocks(blocks)
    text = all_text(blocks)
    assert "opened the case" in text and "ticked *Apologise*" in text
    assert "@kofi spoke to them &amp; &lt;b&gt;apologized&lt;/b&gt;" in text


async def test_long_timeline_shows_the_newest_and_says_what_is_left_out(mend, slack_user):
    await slack_user.command(REPORT)
    life = mend.mend.deps.lifecycle
    for i in range(300):
        await life.note("T1", 1, "U1", f"note {i} " + "x" * 2900)
    reply = await slack_user.command("case 1")
    blocks = reply.json["blocks"]
    assert_valid_blocks(blocks)
    text = all_text(blocks)
    assert "note 299" in text and "earlier not shown" in text and "note 0 " not in text


async def test_unknown_case_numbers_are_answered(mend, slack_user):
    for command in ("take 99", "case #99", "note 99 hi", "resolve 99"):
        reply = await slack_user.command(command)
        assert "no case #99" in all_text(reply.json["blocks"])
    reply = await slack_user.command("take twelve")
    assert "Which case?" in all_text(reply.json["blocks"])


async def test_other_workspace_can_neither_read_nor_change_case_one(mend, slack, slack_user,
                                                                   clock):
    clock.set(LA_MORNING)  # the first follow-up is in working hours: Mend leaves it be
    await open_case(mend, slack_user, team="T1")
    for command in ("case 1", "take 1", "note 1 hello", "close 1 spam", "resolve 1"):
        reply = await slack_user.command(command, user_id="U5", team_id="T2")
        assert "no case #1" in all_text(reply.json["blocks"]), command
    await slack_user.block_action(Action.REOPEN, value="1", user_id="U5", team_id="T2")
    await slack_user.block_action(Action.TAKE, value="1", user_id="U5", team_id="T2")
    await mend.settle()
    assert [e.kind for e in await mend.store.events("T1", (await case1(mend)).id)] == ["opened",
                                                                           "card_posted"]


async def test_click_from_another_workspace_on_a_shared_card_is_refused(mend, slack,
                                                                        slack_user, clock):
    clock.set(LA_MORNING)  # the first follow-up is in working hours: Mend leaves it be
    await slack_user.command(REPORT, team_id="T1")
    await slack_user.command(REPORT, team_id="T2", channel_id="C2")
    await mend.settle()
    card = slack.messages("C1")[0]
    await slack_user.block_action(Action.NOTE, user_id="U5", team_id="T2",
                                  message_ts=card["ts"])
    await slack_user.block_action(Action.REOPEN, user_id="U5", team_id="T2",
                                  message_ts=card["ts"])
    await mend.settle()
    assert slack.calls_to("views.open") == []
    assert "another workspace" in json.dumps([r["body"] for r in slack.responses])
    for team in ("T1", "T2"):
        case = await mend.store.case_by_number(team, 1)
        assert [e.kind for e in await mend.store.events(team, case.id)] == ["opened", "card_posted"]


async def test_modal_from_another_workspaces_card_is_refused(mend, slack, slack_user):
    await slack_user.command(REPORT, team_id="T1")
    await slack_user.command(REPORT, team_id="T2", channel_id="C2")
    values = {Block.NOTE_TEXT: {Action.TEXT: {"type": "plain_text_input", "value": "hi"}}}
    reply = await slack_user.view_submission(
        Callback.NOTE, values, user_id="U5",
        private_metadata=json.dumps({"case": 1, "team": "T1"}), team_id="T2")
    assert reply.json["response_action"] == "errors"
    assert "note" not in [e.kind for e in await mend.store.events("T2", 1)]


# -- repeat customers and duplicates ---------------------------------------------------------
async def test_second_case_for_customer_offers_to_add_a_note_instead(mend, slack,
                                                                   slack_user):
    await open_case(mend, slack_user, user="U1")
    reply = await slack_user.command("customer ACME: still no delivery, furious", user_id="U2")
    text = all_text(reply.json["blocks"])
    assert "Case #1 for Acme is open, owned by <@U1>" in text
    await mend.settle()
    second = await mend.store.case_by_number("T1", 2)
    assert second.repeat_of == 1
    assert "Repeat customer" in all_text(card(slack, index=1)["blocks"])
    await slack_user.block_action(Action.MERGE, value="2:1", user_id="U2")
    await mend.settle()
    assert (await mend.store.case_by_number("T1", 2)).status == Status.CLOSED
    notes = [e for e in await mend.store.events("T1", (await case1(mend)).id) if e.kind == "note"]
    assert notes and notes[0].detail["from_case"] == 2


async def test_third_case_for_a_customer_still_gets_a_valid_reply(mend, slack_user):
    for _ in range(2):
        await slack_user.command(REPORT)
    reply = await slack_user.command(REPORT)
    assert_valid_blocks(reply.json["blocks"])  # two offers, two distinct blocks
    assert all_text(reply.json["blocks"]).count("as a note instead") == 2
