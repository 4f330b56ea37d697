"""`/recover <what happened>` end to end: signed HTTP in, Web API calls out."""

from __future__ import annotations

import json

from bot.domain.advice import promise_for
from bot.domain.times import from_iso
from bot.domain.vocabulary import Status
from bot.runtime.config import DEFAULT_PLAYBOOK
from standin import MendDriver
from tests.helpers import (
    DANA_REPORT,
    SECRET,
    all_text,
    assert_valid_blocks,
    replace_settings,
    start_mend,
)


async def test_recover_opens_case_and_answers_with_playbook(mend, slack, slack_user):
    reply = await slack_user.command(DANA_REPORT, user_id="U1", channel_id="C1")

    assert reply.status == 200
    body = reply.json
    assert body["response_type"] == "ephemeral"
    assert_valid_blocks(body["blocks"])
    text = all_text(body["blocks"])
    assert "Case #1 opened" in text
    for step in ("Apolog", "compassion", "ompensat", "ollow"):
        assert step in text
    assert "Dana" in text  # the apology uses the customer's name
    case = await mend.store.case_by_number("T1", 1)
    assert case.owner_id == "U1" and case.status == Status.OPEN
    assert case.customer == "Dana Lee"
    assert case.category == "billing_error"
    assert case.emotion == "irate" and case.contact == "email"
    assert [e.kind for e in await mend.store.events("T1", case.id)][0] == "opened"


async def test_irate_email_customer_gets_call_instead_warning(mend, slack_user):
    reply = await slack_user.command(DANA_REPORT)
    text = all_text(reply.json["blocks"]).lower()
    assert "call" in text and "email" in text


async def test_case_card_is_posted_in_channel_and_recorded(mend, slack, slack_user):
    await slack_user.command(DANA_REPORT, user_id="U1", channel_id="C1")
    await mend.settle()

    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 1 and posts[0].ok
    message = slack.messages("C1")[0]
    assert_valid_blocks(message["blocks"])
    card = all_text(message["blocks"])
    assert "Case #1" in card and "<@U1>" in card and "Billing" in card
    assert "<!date^" in card  # opened time shown in each reader's timezone
    case = await mend.store.case_by_number("T1", 1)
    assert (case.card_channel, case.card_ts) == ("C1", message["ts"])
    assert "card_posted" in [e.kind for e in await mend.store.events("T1", case.id)]


async def test_case_numbers_count_per_workspace(mend, slack_user):
    await slack_user.command(DANA_REPORT, team_id="T1")
    await slack_user.command(DANA_REPORT, team_id="T1")
    await slack_user.command(DANA_REPORT, team_id="T2")
    assert await mend.store.case_by_number("T1", 2) is not None
    other = await mend.store.case_by_number("T2", 1)
    assert other is not None and other.team_id == "T2"
    assert await mend.store.case_by_number("T2", 2) is None


async def test_severity_read_from_text(mend, slack_user):
    await slack_user.command("URGENT: customer Acme lost their data after our outage, critical")
    assert (await mend.store.case_by_number("T1", 1)).severity == "critical"


async def test_help_lists_every_registered_subcommand(mend, slack_user):
    from handlers.commands import help_entries

    reply = await slack_user.command("help")
    text = all_text(reply.json["blocks"])
    for usage, _ in help_entries():
        assert usage.replace("<", "&lt;").replace(">", "&gt;") in text
    assert await mend.store.case_by_number("T1", 1) is None


async def test_unknown_subcommand_answers_with_reference(mend, slack_user):
    reply = await slack_user.command("frobnicate")
    text = all_text(reply.json["blocks"])
    assert "frobnicate" in text and "Mend commands" in text
    assert await mend.store.case_by_number("T1", 1) is None


async def test_app_home_lists_my_open_cases(mend, slack, slack_user):
    await slack_user.command(DANA_REPORT, user_id="U1")
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


async def test_promised_time_in_the_reply_is_when_the_follow_up_falls_due(mend, slack_user):
    reply = await slack_user.command("for Dana Lee: charged twice for her order")
    case = await mend.store.case_by_number("T1", 1)
    hours = (from_iso(case.next_followup_at) - from_iso(case.created_at)).total_seconds() / 3600
    text = all_text(reply.json["blocks"])
    assert promise_for(hours) in text
    assert text.count(promise_for(hours)) >= 2  # to say and to write
    assert "end of today" not in text


async def test_a_shorter_first_follow_up_gives_a_shorter_promise(settings, clock, slack,
                                                                  tmp_path):
    text = DEFAULT_PLAYBOOK.read_text(encoding="utf-8").replace(
        "followup_default_hours: 24", "followup_default_hours: 4", 1)
    path = tmp_path / "playbook.yaml"
    path.write_text(text, encoding="utf-8")
    running = await start_mend(replace_settings(settings, playbook_path=str(path)), clock)
    try:
        async with MendDriver(running.url, SECRET, slack, team_id="T1") as user:
            reply = await user.command("for Dana Lee: charged twice for her order")
        case = await running.store.case_by_number("T1", 1)
        due = from_iso(case.next_followup_at) - from_iso(case.created_at)
        assert due.total_seconds() == 4 * 3600
        assert "within 4 hours" in all_text(reply.json["blocks"])
    finally:
        await running.stop()


async def test_written_apology_follows_the_call_when_mend_says_to_call(mend, slack_user):
    reply = await slack_user.command(DANA_REPORT)  # irate, by email
    text = all_text(reply.json["blocks"])
    assert "*To write* (after you have called them)" in text
    assert "*To write* (email or chat)" not in text
    calm = await slack_user.command("for Dana Lee: charged twice, she emailed us")
    assert "*To write* (email or chat)" in all_text(calm.json["blocks"])


async def test_reply_header_names_a_second_problem(mend, slack_user):
    reply = await slack_user.command("for Fay: was double charged and on hold 40 mins")
    header = reply.json["blocks"][0]["text"]["text"]
    assert header == "Case #1 opened · Long wait or hold (also: Billing error)"
    assert_valid_blocks(reply.json["blocks"])
