"""The reply coach and apology wordings, through Slack."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import quote

from handlers.ids import Action, Shortcut
from standin import sign_request
from tests.helpers import SECRET, all_text, assert_valid_blocks

BLAME = ("Our policy doesn't allow refunds after 30 days, and the system is down anyway, so "
         "feel free to call us back later <!channel>.")


async def test_check_quotes_the_words_and_offers_better_ones(mend, slack_user):
    reply = await slack_user.command(f"check {BLAME}")
    blocks = reply.json["blocks"]
    assert_valid_blocks(blocks)
    text = all_text(blocks)
    assert "policy doesn" in text and "call us back" in text
    assert "*Try*" in text and "A rewrite that keeps your facts" in text
    assert "<!channel>" not in text  # the draft's words are shown, never run


async def test_a_good_reply_is_praised(mend, slack_user):
    good = ("Dana, I'm so sorry we charged you twice; I can see why you're upset. I have "
            "refunded the second charge and I will call you by 3pm today to confirm it landed.")
    reply = await slack_user.command(f"check {good}")
    text = all_text(reply.json["blocks"])
    assert "What works" in text


async def test_check_against_a_case_uses_its_customer(mend, slack_user):
    await slack_user.command("for Dana Lee: charged twice for her order, she emailed us furious")
    reply = await slack_user.command("check #1 Sorry about that, we refunded it and I will "
                                     "call you tomorrow at 10am to confirm.")
    assert "name" in all_text(reply.json["blocks"]).lower()


async def test_empty_check_says_what_to_send(mend, slack_user):
    reply = await slack_user.command("check")
    assert "Paste the reply" in all_text(reply.json["blocks"])


async def test_message_shortcut_answers_only_the_asker(mend, slack, slack_user):
    payload = {"type": "message_action", "callback_id": Shortcut.CHECK_REPLY,
               "team": {"id": "T1", "domain": "x"}, "user": {"id": "U1", "team_id": "T1"},
               "channel": {"id": "C1", "name": "support"}, "trigger_id": "t1",
               "response_url": slack.response_url("shortcut"), "action_ts": str(time.time()),
               "message_ts": "1.1", "message": {"type": "message", "text": BLAME, "ts": "1.1"},
               "token": "x", "api_app_id": "A1"}
    body = ("payload=" + quote(json.dumps(payload))).encode()
    headers = sign_request(SECRET, body)
    reply = await slack_user.raw(body, "application/x-www-form-urlencoded", headers)
    assert reply.status == 200
    await mend.settle()
    [answer] = [r for r in slack.responses if r["key"] == "shortcut"]
    assert answer["body"]["response_type"] == "ephemeral"
    assert "policy doesn" in all_text(answer["body"]["blocks"])


async def test_another_wording_cycles_in_place(mend, slack, slack_user):
    reply = await slack_user.command("for Dana Lee: charged twice, she emailed us furious")
    blocks = reply.json["blocks"]
    assert "Another wording" in all_text(blocks)
    labels = []
    value = "1:0"
    for _ in range(7):
        await slack_user.block_action(Action.ANOTHER_WORDING, value=value)
        await mend.settle()
        answer = slack.responses[-1]["body"]
        assert answer["replace_original"] is True
        assert_valid_blocks(answer["blocks"])
        section = [b for b in answer["blocks"] if "Dana" in all_text([b])
                   and b.get("type") == "section"][-1]
        labels.append(section["text"]["text"].split("*")[1])
        [button] = [e for b in answer["blocks"] if b.get("block_id") == "wording"
                    for e in b["elements"]]
        value = button["value"]
    assert len(set(labels)) == 6 and labels[6] == labels[0]


async def test_another_wording_promises_the_followup_as_it_stands_now(mend, slack, slack_user):
    await slack_user.command("for Dana Lee: charged twice, she emailed us furious")
    await slack_user.command("followup 1 in 4h")
    await mend.settle()
    await slack_user.block_action(Action.ANOTHER_WORDING, value="1:0")
    await mend.settle()
    text = all_text(slack.responses[-1]["body"]["blocks"])
    assert "within 4 hours" in text and "tomorrow" not in text


NO_CASE = "No case #{n} that you can see: checked the draft on its own."


async def test_check_against_a_missing_case_says_the_draft_was_checked_alone(mend, slack_user):
    reply = await slack_user.command("check #99 Sorry Dana, I'll call you at 3pm today.")
    blocks = reply.json["blocks"]
    assert_valid_blocks(blocks)
    [note] = [b for b in blocks if b["type"] == "context" and "#99" in all_text([b])]
    assert note["elements"][0]["text"] == NO_CASE.format(n=99)
    assert blocks.index(note) == 1  # right under the header
    assert "Customer's name" not in all_text(blocks)  # no case, so no name to check
    # the rewrite keeps the agent's own opening first
    assert "Sorry Dana, I can see how frustrating" in all_text(blocks)


async def test_a_case_you_cannot_see_reads_exactly_like_one_that_does_not_exist(mend, slack_user):
    await slack_user.command("for Dana Lee: charged twice for her order, she emailed us furious")
    draft = "Sorry about that, I will call you tomorrow at 10am to confirm."
    hidden = await slack_user.command(f"check #1 {draft}", user_id="U2", channel_id="C9")
    missing = await slack_user.command(f"check #2 {draft}", user_id="U2", channel_id="C9")
    hidden_text, missing_text = all_text(hidden.json["blocks"]), all_text(missing.json["blocks"])
    assert NO_CASE.format(n=1) in hidden_text and NO_CASE.format(n=2) in missing_text
    assert "Dana" not in hidden_text  # the hidden case's customer is not used
    strip = re.compile(r"#\d|Checked in [\d.]+ ms")
    assert strip.sub("", hidden_text) == strip.sub("", missing_text)


async def test_a_case_you_can_see_gets_no_note(mend, slack_user):
    await slack_user.command("for Dana Lee: charged twice for her order, she emailed us furious")
    reply = await slack_user.command("check #1 Sorry about that, I will call you tomorrow at "
                                     "10am to confirm.")
    assert "that you can see" not in all_text(reply.json["blocks"])


async def test_passing_the_customer_on_is_flagged_with_a_wording_that_keeps_it(mend, slack_user):
    reply = await slack_user.command("check Sorry Dana, I can see how frustrating this is. "
                                     "Someone from billing will be in touch.")
    blocks = reply.json["blocks"]
    assert_valid_blocks(blocks)
    text = all_text(blocks)
    assert "Passing the customer on" in text and "Someone from billing will be in touch" in text
    assert "billing team myself" in text  # the suggestion keeps the agent as the owner
    assert "I'll call you back myself [by 3pm today]" in text


async def test_bringing_a_team_in_and_calling_back_yourself_is_not_flagged(mend, slack_user):
    reply = await slack_user.command("check Sorry Dana, I can see how frustrating this is. "
                                     "I've asked billing to refund it and I'll call you by 3pm "
                                     "to confirm.")
    assert "Passing the customer on" not in all_text(reply.json["blocks"])
