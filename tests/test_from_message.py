"""Cases from messages: the *Open recovery case* shortcut and the reaction trigger."""

from __future__ import annotations

import json

from handlers.ids import Action, Block, Callback, Event, Shortcut
from tests.helpers import all_text, card, lead

CUSTOMER_SAYS = "My order #4411 never arrived and nobody answers the phone. I want a refund."


def customer_message(slack, channel="C1"):
    """A message from a customer in a channel shared with them (Slack Connect)."""
    return slack.add_message(channel, CUSTOMER_SAYS, user="UEXT", user_team="TCUSTOMER",
                             user_profile={"real_name": "Dana Lee", "team": "TCUSTOMER"})


async def test_shortcut_opens_the_form_filled_in_from_the_message(mend, slack, slack_user):
    message = customer_message(slack)
    reply = await slack_user.message_shortcut(Shortcut.OPEN_CASE, "C1", message)
    assert reply.status == 200
    await mend.settle()
    [opened] = [c for c in slack.calls_to("views.open") if c.ok]
    view = opened.args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    elements = {b["block_id"]: b["element"] for b in view["blocks"]}
    assert elements[Block.WHAT]["initial_value"] == CUSTOMER_SAYS
    assert elements[Block.CUSTOMER]["initial_value"] == "Dana Lee"
    meta = json.loads(view["private_metadata"])
    assert meta["source_link"].startswith("https://") and "/archives/C1/p" in meta["source_link"]

    values = {Block.WHAT: {Action.WHAT: {"type": "plain_text_input", "value": CUSTOMER_SAYS}},
              Block.CUSTOMER: {Action.CUSTOMER: {"type": "plain_text_input",
                                                 "value": "Dana Lee"}},
              Block.SEVERITY: {Action.SEVERITY: {"type": "static_select",
                                                 "selected_option": {"value": "normal"}}}}
    await slack_user.view_submission(Callback.INTAKE, values, view["private_metadata"])
    await mend.settle()
    case = await mend.store.case_by_number("T1", 1)
    assert case.customer == "Dana Lee" and case.source_link == meta["source_link"]
    shown = all_text(card(slack, index=1)["blocks"])  # after the customer's message
    assert meta["source_link"] in shown and "a message" in shown


async def test_teammates_message_is_not_taken_for_the_customer(mend, slack, slack_user):
    message = slack.add_message("C1", "Acme called: their invoice is wrong again", user="U2")
    await slack_user.message_shortcut(Shortcut.OPEN_CASE, "C1", message)
    await mend.settle()
    view = [c for c in slack.calls_to("views.open") if c.ok][0].args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    customer = next(b for b in view["blocks"] if b["block_id"] == Block.CUSTOMER)
    assert "initial_value" not in customer["element"]


def reaction(message, user="U2", emoji="sos"):
    return {"type": Event.REACTION_ADDED, "user": user, "reaction": emoji,
            "item": {"type": "message", "channel": "C1", "ts": message["ts"]},
            "item_user": message["user"], "event_ts": message["ts"]}


async def test_reaction_trigger_is_off_until_a_lead_sets_it(mend, slack, slack_user):
    message = customer_message(slack)
    await slack_user.event(reaction(message))
    await mend.settle()
    assert await mend.store.case_by_number("T1", 1) is None

    refused = await slack_user.command("settings reaction :sos:", user_id="U2")
    assert "Only a lead" in all_text(refused.json["blocks"])
    await lead(mend, "U1")
    saved = await slack_user.command("settings reaction :sos:", user_id="U1")
    assert ":sos: on a message opens a case" in all_text(saved.json["blocks"])
    assert (await mend.store.workspace("T1")).reaction == "sos"


async def test_reaction_opens_one_case_per_message_answered_in_its_thread(mend, slack,
                                                                        slack_user):
    await lead(mend, "U1")
    await slack_user.command("settings reaction :sos:", user_id="U1")
    message = customer_message(slack)
    await slack_user.event(reaction(message, emoji="thumbsup"))  # not the trigger
    await mend.settle()
    assert await mend.store.case_by_number("T1", 1) is None
    for user in ("U2", "U1", "U2"):  # several people, and Slack delivering again
        await slack_user.event(reaction(message, user=user))
        await mend.settle()
    case = await mend.store.case_by_number("T1", 1)
    assert await mend.store.case_by_number("T1", 2) is None
    assert case.reporter_id == "U2" and case.owner_id == "U2"
    assert case.customer == "Dana Lee" and CUSTOMER_SAYS[:30] in case.summary
    assert "/archives/C1/p" in case.source_link
    [answer] = slack.thread("C1", message["ts"])
    assert "Case #1 opened from this message" in answer["text"]
    cards = [m for m in slack.messages("C1") if (m.get("metadata") or {}).get("event_type")
             == "mend_case_card"]
    assert len(cards) == 1


async def test_reaction_on_mends_own_card_opens_nothing(mend, slack, slack_user):
    await lead(mend, "U1")
    await slack_user.command("settings reaction sos", user_id="U1")
    await slack_user.command("customer Acme: order arrived two weeks late")
    await mend.settle()
    await slack_user.event(reaction(card(slack)))
    await mend.settle()
    assert await mend.store.case_by_number("T1", 2) is None
