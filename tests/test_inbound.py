"""Every inbound request is done once, whoever sends it again (handlers/inbound.py).

Requests are replayed byte for byte, signed as Slack signs them, against Mend over HTTP.
"""

from __future__ import annotations

import asyncio
import json

from handlers import commands
from handlers.ids import Action, Block, Callback
from standin.driver import FORM
from tests.helpers import DANA_REPORT, REPORT, all_text, case1


async def cases(mend, team="T1") -> int:
    return await mend.store._value("SELECT COUNT(*) FROM cases WHERE team_id = ?", [team])


async def test_the_same_signed_recover_twice_opens_one_case_and_answers_alike(
        mend, slack, slack_user):
    first = await slack_user.command(REPORT)
    again = await slack_user.raw(first.request_body, FORM)
    await mend.settle()
    assert first.status == again.status == 200
    assert await cases(mend) == 1 and len(slack.messages("C1")) == 1
    assert again.json == first.json and "Case #1 opened" in all_text(first.json["blocks"])


async def test_a_double_submit_before_the_answer_is_written_gets_the_same_answer(
        mend, slack, slack_user, monkeypatch):
    # The ack's answer is written after the ack; a duplicate arriving in between (a slow
    # database, PostgreSQL's round trip) must still be answered as the first was.
    written = mend.store.answer_inbounds

    async def slow(batch):
        await asyncio.sleep(0.3)
        await written(batch)

    monkeypatch.setattr(mend.store, "answer_inbounds", slow)
    first = await slack_user.command(REPORT)
    again = await slack_user.raw(first.request_body, FORM)
    await mend.settle()
    assert again.status == 200 and again.json == first.json
    assert await cases(mend) == 1


async def test_a_retry_with_x_slack_retry_num_opens_no_second_case(mend, slack, slack_user):
    first = await slack_user.command(REPORT)
    retry = await slack_user.raw(first.request_body, FORM,
                                 {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    await mend.settle()
    assert retry.status == 200 and retry.json == first.json
    assert await cases(mend) == 1


async def test_a_replayed_note_adds_one_note(mend, slack, slack_user):
    await slack_user.command(REPORT)
    first = await slack_user.command("note 1 customer prefers a call")
    await slack_user.raw(first.request_body, FORM, {"X-Slack-Retry-Num": "1"})
    await mend.settle()
    notes = [e for e in await mend.store.events("T1", (await case1(mend)).id)
             if e.kind == "note"]
    assert len(notes) == 1


async def test_the_intake_modal_submitted_twice_opens_one_case_and_one_card(
        mend, slack, slack_user):
    values = {Block.WHAT: {Action.WHAT: {"type": "plain_text_input", "value": REPORT}}}
    for _ in range(2):
        reply = await slack_user.view_submission(
            Callback.INTAKE, values, private_metadata='{"channel_id": "C1"}', view_id="VINTAKE")
        assert reply.status == 200
    await mend.settle()
    assert await cases(mend) == 1 and len(slack.messages("C1")) == 1


async def test_a_retried_event_is_handled_once(mend, slack, slack_user):
    for retry in (None, 1):
        await slack_user.event({"type": "app_home_opened", "user": "U1", "tab": "home"},
                               event_id="Ev1", retry_num=retry)
        await mend.settle()
    assert len(slack.calls_to("views.publish")) == 1


async def test_a_case_whose_ack_was_lost_is_found_again_by_the_retry(
        mend, slack, slack_user, clock, monkeypatch):
    real = commands.blocks.playbook_reply

    def crash(*args):  # the case is committed, then the process dies before the ack
        raise RuntimeError("killed between commit and ack")

    monkeypatch.setattr(commands.blocks, "playbook_reply", crash)
    first = await slack_user.command(REPORT)
    assert first.status != 200 and await cases(mend) == 1
    monkeypatch.setattr(commands.blocks, "playbook_reply", real)
    clock.advance(seconds=30)
    retry = await slack_user.raw(first.request_body, FORM, {"X-Slack-Retry-Num": "1"})
    assert retry.status == 200 and "Case #1 opened" in retry.body
    assert await cases(mend) == 1


async def test_each_retry_finds_its_own_case_among_several_opened_within_seconds(
        mend, slack, slack_user, clock, monkeypatch):
    """One person opens two cases in one channel within the same second, and both
    requests die before their acks: each retry answers with the case its own request
    opened (found by the request's key, not by who, where and when), and opens none."""
    real = commands.blocks.playbook_reply

    def crash(*args):  # the case is committed, then the process dies before the ack
        raise RuntimeError("killed between commit and ack")

    monkeypatch.setattr(commands.blocks, "playbook_reply", crash)
    first = await slack_user.command(REPORT)
    second = await slack_user.command(DANA_REPORT)
    assert first.status != 200 and second.status != 200 and await cases(mend) == 2
    monkeypatch.setattr(commands.blocks, "playbook_reply", real)
    clock.advance(seconds=30)
    retry = await slack_user.raw(second.request_body, FORM, {"X-Slack-Retry-Num": "1"})
    assert retry.status == 200 and "Case #2 opened" in retry.body
    retry = await slack_user.raw(first.request_body, FORM, {"X-Slack-Retry-Num": "1"})
    assert retry.status == 200 and "Case #1 opened" in retry.body
    assert await cases(mend) == 2


async def test_a_retry_whose_first_attempt_opened_nothing_opens_the_case_once(
        mend, slack, slack_user, clock, monkeypatch):
    """A first attempt that died before writing its case: the retry opens it (under the
    same key), and a second retry finds that one."""
    recovery = mend.mend.deps.recovery
    real = recovery.open_case

    async def crash(*args, **kwargs):
        raise RuntimeError("killed before the case was written")

    monkeypatch.setattr(recovery, "open_case", crash)
    first = await slack_user.command(REPORT)
    assert first.status != 200 and await cases(mend) == 0
    monkeypatch.setattr(recovery, "open_case", real)
    clock.advance(seconds=30)
    retry = await slack_user.raw(first.request_body, FORM, {"X-Slack-Retry-Num": "1"})
    assert retry.status == 200 and await cases(mend) == 1
    assert "#1" in retry.body


async def test_typing_the_command_again_on_purpose_still_gets_the_duplicate_offer(
        mend, slack, slack_user):
    await slack_user.command(DANA_REPORT)
    again = await slack_user.command(DANA_REPORT)  # a new trigger_id: a new request
    await mend.settle()
    assert await cases(mend) == 2
    assert "#1" in all_text(again.json["blocks"]) and "is open" in all_text(again.json["blocks"])


async def test_claims_survive_a_restart(settings, clock, slack):
    from standin import MendDriver
    from tests.helpers import SECRET, start_mend

    running = await start_mend(settings, clock)
    async with MendDriver(running.url, SECRET, slack) as driver:
        first = await driver.command(REPORT)
    await running.stop()
    running = await start_mend(settings, clock)
    try:
        async with MendDriver(running.url, SECRET, slack) as driver:
            again = await driver.raw(first.request_body, FORM, {"X-Slack-Retry-Num": "2"})
        assert json.loads(again.body) == first.json and await cases(running) == 1
    finally:
        await running.stop()


async def test_the_same_command_sent_several_times_at_once_opens_one_case(
        mend, slack, slack_user):
    # Claims arriving together are committed together (SQLite): within one batch the
    # second claim of a key must still find the first.
    replies = await asyncio.gather(*(slack_user.command(REPORT, trigger_id="Tsame")
                                     for _ in range(5)))
    await mend.settle()
    assert {reply.status for reply in replies} == {200}
    assert await cases(mend) == 1 and len(slack.messages("C1")) == 1


async def test_claims_in_one_batch_are_answered_each_as_alone(mend):
    store = mend.store
    await store.claim_inbound("cmd:T1:old", "2026-01-01T09:00:00Z")
    await store.answer_inbound("cmd:T1:old", "kept")
    at = "2026-01-01T09:00:05Z"
    claims = await store.claim_inbounds([("cmd:T1:a", at), ("cmd:T1:a", at),
                                         ("cmd:T1:old", at), ("cmd:T1:b", at)])
    assert [(c.first, c.at, c.answer) for c in claims] == [
        (True, at, None), (False, at, None), (False, "2026-01-01T09:00:00Z", "kept"),
        (True, at, None)]
