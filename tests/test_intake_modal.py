"""A bare `/recover` opens a form; submitting it does what the text form does."""

from __future__ import annotations

import json

from handlers.ids import Action, Block, Callback
from tests.helpers import all_text, assert_valid_blocks


def form(what: str, customer: str = "", contact: str | None = None,
         severity: str = "normal") -> dict:
    def select(value):
        return {"type": "static_select",
                "selected_option": {"value": value} if value else None}

    return {
        Block.WHAT: {Action.WHAT: {"type": "plain_text_input", "value": what}},
        Block.CUSTOMER: {Action.CUSTOMER: {"type": "plain_text_input", "value": customer}},
        Block.CONTACT: {Action.CONTACT: select(contact)},
        Block.SEVERITY: {Action.SEVERITY: select(severity)},
    }


async def opened_modal(slack, mend, slack_user) -> dict:
    await slack_user.command("", channel_id="C9")
    await mend.settle()
    view = slack.calls_to("views.open")[-1].args["view"]
    return json.loads(view) if isinstance(view, str) else view


async def test_intake_modal_is_valid_and_remembers_channel(mend, slack, slack_user):
    view = await opened_modal(slack, mend, slack_user)
    assert view["callback_id"] == Callback.INTAKE
    assert_valid_blocks(view["blocks"], limit=100)
    assert json.loads(view["private_metadata"])["channel_id"] == "C9"


async def test_submitting_intake_opens_case_and_shows_playbook(mend, slack, slack_user):
    view = await opened_modal(slack, mend, slack_user)
    reply = await slack_user.view_submission(
        Callback.INTAKE,
        form("They were put on hold three times and cut off", "Acme Ltd", "phone", "critical"),
        private_metadata=view["private_metadata"], user_id="U2",
    )
    assert reply.status == 200
    assert reply.json["response_action"] == "update"
    assert "Case #1" in all_text(reply.json["view"]["blocks"])
    assert_valid_blocks(reply.json["view"]["blocks"], limit=100)
    case = await mend.store.case_by_number("T1", 1)
    assert (case.customer, case.contact, case.severity) == ("Acme Ltd", "phone", "critical")
    assert case.owner_id == "U2" and case.channel_id == "C9"
    await mend.settle()
    assert len(slack.messages("C9")) == 1


async def test_blank_what_happened_is_a_field_error(mend, slack, slack_user):
    view = await opened_modal(slack, mend, slack_user)
    reply = await slack_user.view_submission(
        Callback.INTAKE, form("   "), private_metadata=view["private_metadata"])
    assert reply.json["response_action"] == "errors"
    assert Block.WHAT in reply.json["errors"]
    assert await mend.store.case_by_number("T1", 1) is None


async def test_forged_select_values_are_ignored(mend, slack, slack_user):
    view = await opened_modal(slack, mend, slack_user)
    await slack_user.view_submission(
        Callback.INTAKE, form("Waited on hold an hour", contact="carrier-pigeon",
                              severity="apocalyptic"),
        private_metadata=view["private_metadata"])
    case = await mend.store.case_by_number("T1", 1)
    assert case.contact != "carrier-pigeon" and case.severity == "normal"
