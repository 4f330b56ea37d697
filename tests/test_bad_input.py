"""Bad input gets a clear ephemeral answer and changes nothing it should not."""

from __future__ import annotations

import json
import time

import pytest

from handlers.ids import Action, Block, Callback
from standin import sign_request
from tests.helpers import REPORT, SECRET, all_text, assert_valid_blocks

REPORT_TEXT = "customer Acme waited on hold for two hours"


async def test_blank_text_opens_intake_modal_not_a_case(mend, slack, slack_user):
    reply = await slack_user.command("   ")
    assert reply.status == 200
    await mend.settle()
    opened = slack.calls_to("views.open")
    assert len(opened) == 1 and opened[0].ok
    assert await mend.store.case_by_number("T1", 1) is None


async def test_over_long_report_opens_a_case_and_keeps_every_word(mend, slack, slack_user):
    words = " ".join(f"word{i}" for i in range(1400))  # about 11,000 characters
    text = f"customer Acme: the order never came. {words} the very end"
    reply = await slack_user.command(text)
    assert reply.status == 200
    assert "Case #1 opened" in all_text(reply.json["blocks"])
    await mend.settle()
    case = await mend.store.case_by_number("T1", 1)
    assert len(case.summary) < 800 and "whole text is in the case's notes" in case.summary
    notes = [e for e in await mend.store.events("T1", case.id) if e.kind == "note"]
    assert len(notes) >= 4 and all(len(n.detail["text"]) <= 3000 for n in notes)
    kept = " ".join(n.detail["text"] for n in notes)
    assert kept.split() == text.split()  # nothing dropped, nothing added
    assert_valid_blocks(slack.messages("C1")[0]["blocks"])


async def test_report_longer_than_a_slack_message_is_refused_kindly(mend, slack, slack_user):
    reply = await slack_user.command("the customer waited " + "a" * 41000)
    assert "characters" in all_text(reply.json["blocks"])
    assert await mend.store.case_by_number("T1", 1) is None


async def test_emoji_and_non_latin_text_open_a_case(mend, slack, slack_user):
    text = "for 山田太郎: 注文が届かない 😡😡 waited on hold for an hour"
    reply = await slack_user.command(text)
    assert "Case #1" in all_text(reply.json["blocks"])
    await mend.settle()
    case = await mend.store.case_by_number("T1", 1)
    assert case.customer == "山田太郎"
    assert "😡" in case.summary
    assert "山田太郎" in all_text(slack.messages("C1")[0]["blocks"])


@pytest.mark.parametrize("evil", ["<!channel>", "<!here>", "<@U0123>",
                                  "<https://x.example|click>", "<!subteam^S1>"])
async def test_mrkdwn_and_mentions_in_user_text_are_escaped(mend, slack, slack_user, evil):
    reply = await slack_user.command(f"for Acme {evil}: our agent was rude {evil} and hung up")
    await mend.settle()
    card = all_text(slack.messages("C1")[0]["blocks"])
    reply_blocks = reply.json["blocks"]
    for text in (card, all_text(reply_blocks)):
        assert evil not in text and "<!" not in text.replace("<!date^", "")
        assert "<@U0123>" not in text
    case = await mend.store.case_by_number("T1", 1)
    assert "<" not in case.summary  # stored as a person reads it: @channel, @U0123, ...


async def test_literal_angle_brackets_typed_by_agent_are_shown_as_text(mend, slack, slack_user):
    # With escaping on, Slack sends typed "<" as "&lt;": we undo it, store it, escape it again.
    await slack_user.command("customer Acme says &lt;!channel&gt; &amp; waited on hold")
    await mend.settle()
    card = all_text(slack.messages("C1")[0]["blocks"])
    assert "&lt;!channel&gt; &amp; waited" in card
    case = await mend.store.case_by_number("T1", 1)
    assert case.summary.endswith("<!channel> & waited on hold")


async def test_long_fields_are_truncated_with_visible_ellipsis(mend, slack, slack_user):
    long_name = "Bartholomew " * 7  # > 75 chars
    text = f"customer: {long_name.strip()}, waited on hold " + "really " * 420
    reply = await slack_user.command(text[:2999])
    assert_valid_blocks(reply.json["blocks"])
    await mend.settle()
    blocks = slack.messages("C1")[0]["blocks"]
    assert_valid_blocks(blocks)
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b.get("text"))
    assert "…" in all_text(blocks)


async def test_payload_missing_user_is_answered_not_crashed(mend, slack, slack_user):
    reply = await slack_user.command(REPORT_TEXT, extra={"user_id": None})
    assert reply.status == 200
    assert "user" in all_text(reply.json["blocks"])
    await mend.settle()
    assert await mend.store.case_by_number("T1", 1) is None


async def test_bad_signature_is_refused_and_creates_nothing(mend, slack, slack_user):
    reply = await slack_user.command(REPORT_TEXT, signature="v0=" + "0" * 64)
    assert reply.status == 401
    await mend.settle()
    assert await mend.store.case_by_number("T1", 1) is None
    assert slack.calls_to("chat.postMessage") == []


async def test_stale_timestamp_is_refused_and_creates_nothing(mend, slack, slack_user):
    reply = await slack_user.command(REPORT_TEXT, timestamp=int(time.time()) - 6 * 60)
    assert reply.status == 401
    await mend.settle()
    assert await mend.store.case_by_number("T1", 1) is None


async def test_garbage_body_with_valid_signature_is_not_a_crash(mend, slack_user):
    body = b"payload=%7Bnot-json"
    headers = sign_request(SECRET, body)
    reply = await slack_user.raw(body, "application/x-www-form-urlencoded", headers)
    assert reply.status in (200, 400, 404)
    assert "Traceback" not in reply.body


async def test_odd_numbers_in_payloads_are_not_a_crash(mend, slack, slack_user):
    await slack_user.command(REPORT)
    await mend.settle()
    reply = await slack_user.view_submission(
        Callback.NOTE, {Block.NOTE_TEXT: None}, private_metadata=json.dumps({"case": "²"}))
    assert reply.status == 200 and reply.json["response_action"] == "errors"
    reply = await slack_user.block_action(Action.REOPEN, value="²")
    assert reply.status == 200
    await mend.settle()


async def test_customer_words_and_tokens_never_reach_the_logs(mend, slack, slack_user, caplog):
    secret_words = "Zanzibar-Quokka charged twice"
    caplog.set_level("DEBUG")
    await slack_user.command(f"for Ms Private: {secret_words}", signature="v0=" + "1" * 64)
    await slack_user.command(f"for Ms Private: {secret_words}")
    slack.add_channel("C5", name="private-team", bot_member=False)
    await slack_user.command(f"for Ms Private: {secret_words}", channel_id="C5")
    await mend.settle()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged  # something was logged, so the check below means something
    for leak in ("Zanzibar", "Private", "xoxb-", SECRET):
        assert leak not in logged
