"""`/recover <what happened>` end to end: signed HTTP in, Web API calls out."""

from __future__ import annotations

import json

from slack_sdk.models.blocks import Block

from bot.models import OPEN
from standin.blockkit import check_blocks

REPORT = "for Dana Lee: charged twice for her order, she emailed us furious"


def all_text(blocks: list[dict]) -> str:
    """Every string inside a list of blocks, for searching."""
    return json.dumps(blocks, ensure_ascii=False)


def assert_valid_blocks(blocks: list[dict], limit: int = 50) -> None:
    """Valid for slack_sdk's models and for the stand-in's stricter checks (lengths
    inside elements, unique action ids), as Slack itself would judge them."""
    assert 0 < len(blocks) <= limit
    for block in Block.parse_all(blocks):
        block.validate_json()
    check_blocks(blocks, limit=limit)


async def test_recover_opens_case_and_answers_with_playbook(mend, slack, slack_user):
    reply = await slack_user.command(REPORT, user_id="U1", channel_id="C1")

    assert reply.status == 200
    body = reply.json
    assert body["response_type"] == "ephemeral"
    assert_valid_blocks(body["blocks"])
    text = all_text(body["blocks"])
    assert "Case #1 opened" in text
    for step in ("Apolog", "compassion", "ompensat", "ollow"):
        assert step in text
    assert "Dana" in text  # the apology uses the customer's name
    case = mend.store.case_by_number("T1", 1)
    assert case.owner_id == "U1" and case.status == OPEN
    assert case.customer == "Dana Lee"
    assert case.category == "billing_error"
    assert case.emotion == "irate" and case.contact == "email"
    assert [e.kind for e in mend.store.events("T1", case.id)][0] == "opened"


async def test_irate_email_customer_gets_call_instead_warning(mend, slack_user):
    reply = await slack_user.command(REPORT)
    text = all_text(reply.json["blocks"]).lower()
    assert "call" in text and "email" in text


async def test_case_card_is_posted_in_channel_and_recorded(mend, slack, slack_user):
    await slack_user.command(REPORT, user_id="U1", channel_id="C1")
    await mend.settle()

    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 1 and posts[0].ok
    message = slack.messages("C1")[0]
    assert_valid_blocks(message["blocks"])
    card = all_text(message["blocks"])
    assert "Case #1" in card and "<@U1>" in card and "Billing" in card
    assert "<!date^" in card  # opened time shown in each reader's timezone
    case = mend.store.case_by_number("T1", 1)
    assert (case.card_channel, case.card_ts) == ("C1", message["ts"])
    assert "card_posted" in [e.kind for e in mend.store.events("T1", case.id)]


async def test_case_numbers_count_per_workspace(mend, slack_user):
    await slack_user.command(REPORT, team_id="T1")
    await slack_user.command(REPORT, team_id="T1")
    await slack_user.command(REPORT, team_id="T2")
    assert mend.store.case_by_number("T1", 2) is not None
    other = mend.store.case_by_number("T2", 1)
    assert other is not None and other.team_id == "T2"
    assert mend.store.case_by_number("T2", 2) is None


async def test_severity_read_from_text(mend, slack_user):
    await slack_user.command("URGENT: customer Acme lost their data after our outage, critical")
    assert mend.store.case_by_number("T1", 1).severity == "critical"


async def test_help_lists_every_registered_subcommand(mend, slack_user):
    from handlers.commands import help_entries

    reply = await slack_user.command("help")
    text = all_text(reply.json["blocks"])
    for usage, _ in help_entries():
        assert usage.replace("<", "&lt;").replace(">", "&gt;") in text
    assert mend.store.case_by_number("T1", 1) is None


async def test_unknown_subcommand_answers_with_reference(mend, slack_user):
    reply = await slack_user.command("frobnicate")
    text = all_text(reply.json["blocks"])
    assert "frobnicate" in text and "Mend commands" in text
    assert mend.store.case_by_number("T1", 1) is None


async def test_app_home_lists_my_open_cases(mend, slack, slack_user):
    await slack_user.command(REPORT, user_id="U1")
    reply = await slack_user.event({"type": "app_home_opened", "user": "U1", "tab": "home",
                                    "channel": "D1", "event_ts": "1.0"})
    assert reply.status == 200
    await mend.settle()
    publish = slack.calls_to("views.publish")[-1]
    assert publish.ok
    view = publish.args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert "*#1* Dana Lee" in all_text(view["blocks"])
    assert_valid_blocks(view["blocks"], limit=100)
