"""Answering reminders: a reminder's buttons act on the follow-up it was sent for, a new
owner of an overdue case gets reminders of their own, and an unowned case's reminders
ask for an owner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.times import to_iso
from bot.domain.vocabulary import Status
from handlers.ids import Action, Block, Callback
from tests.helpers import (
    LA_MORNING,
    SECRET,
    all_text,
    case1,
    nudges,
    open_due,
    press,
    replace_settings,
    said,
    start_mend,
    sweep,
)


@pytest.fixture
def clock(clock):
    clock.set(LA_MORNING)  # Thursday, 10:00 in Los Angeles (U1)
    return clock


def buttons(message: dict) -> dict[str, str]:
    return {e["action_id"]: e.get("value") for b in message["blocks"]
            for e in b.get("elements", []) if e.get("type") == "button"}


async def test_reminder_buttons_name_the_followup_they_were_sent_for(mend, slack, slack_user,
                                                                    clock):
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    await sweep(mend)
    [nudge] = nudges(slack)
    due = (await case1(mend)).next_followup_at
    values = buttons(nudge)
    assert values[Action.NUDGE_DONE] == f"1::{due}"
    assert values[Action.NUDGE_SNOOZE] == f"1:in_1h:{due}"
    assert values[Action.NUDGE_SNOOZE_MORNING] == f"1:tomorrow_morning:{due}"


async def test_done_on_an_old_reminder_keeps_the_newer_followup(mend, slack, slack_user,
                                                               clock):
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    await sweep(mend)
    [old] = nudges(slack)
    await slack_user.command("followup 1 tomorrow 9am", user_id="U1")
    await mend.settle()
    newer = (await case1(mend)).next_followup_at
    await press(slack_user, mend, Action.NUDGE_DONE, old)
    assert (await case1(mend)).next_followup_at == newer
    events = await mend.store.events("T1", (await case1(mend)).id)
    assert "followup_done" not in [e.kind for e in events]
    assert "This reminder is out of date" in said(slack)
    answered = [m for m in slack.messages("C1") if m["ts"] == old["ts"]][0]
    assert not buttons(answered) and "out of date" in all_text(answered["blocks"])


async def test_snooze_on_an_older_reminder_does_not_revive_a_done_followup(mend, slack,
                                                                          slack_user, clock):
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    await sweep(mend)
    clock.advance(hours=2)
    await sweep(mend)
    first, second = nudges(slack)  # reminders 1 and 2, both with buttons
    await press(slack_user, mend, Action.NUDGE_DONE, second)
    assert (await case1(mend)).next_followup_at is None
    await press(slack_user, mend, Action.NUDGE_SNOOZE, first)  # scrolled up, clicked
    assert slack.calls_to("views.open") == []
    assert "This reminder is out of date" in said(slack)
    clock.advance(hours=1)
    await sweep(mend)
    assert len(nudges(slack)) == 2 and (await case1(mend)).next_followup_at is None


async def test_snooze_form_for_a_followup_that_moved_meanwhile_is_refused(mend, slack,
                                                                         slack_user, clock):
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    await sweep(mend)
    [nudge] = nudges(slack)
    await press(slack_user, mend, Action.NUDGE_SNOOZE, nudge)
    view = slack.calls_to("views.open")[-1].arg("view")
    await slack_user.command("followup 1 tomorrow 9am", user_id="U1")  # while the form is open
    newer = (await case1(mend)).next_followup_at
    reply = await slack_user.view_submission(
        Callback.SNOOZE, {Block.SNOOZE_REASON: {Action.TEXT: {"type": "plain_text_input",
                                                              "value": ""}}},
        private_metadata=view["private_metadata"])
    assert "out of date" in reply.json["errors"][Block.SNOOZE_REASON]
    assert (await case1(mend)).next_followup_at == newer


async def test_satisfaction_reminder_after_a_reopen_closes_with_done(mend, slack, slack_user,
                                                                      clock):
    """Resolve, record the satisfaction check, reopen, resolve again: Done on the new
    satisfaction reminder closes the case (the old tick does not count)."""
    await open_due(mend, slack_user, clock)
    await slack_user.command("resolve 1 reshipped", user_id="U1")
    await slack_user.command("step 1 follow-up", user_id="U1")
    assert (await case1(mend)).status == Status.CLOSED
    await slack_user.command("reopen 1", user_id="U1")
    await slack_user.command("resolve 1 refunded", user_id="U1")
    await mend.settle()
    assert (await case1(mend)).status == Status.RESOLVED
    assert "Recovery checklist 0/5" in all_text(slack.messages("C1")[0]["blocks"])
    clock.advance(days=4, hours=1)
    await sweep(mend)
    await press(slack_user, mend, Action.NUDGE_DONE, nudges(slack)[-1])
    assert (await case1(mend)).status == Status.CLOSED


async def test_a_reminder_from_before_a_reopen_is_out_of_date(mend, slack, slack_user, clock):
    await open_due(mend, slack_user, clock)
    await slack_user.command("resolve 1 reshipped", user_id="U1")
    clock.advance(days=4, hours=1)
    await sweep(mend)
    old = nudges(slack)[-1]
    await slack_user.command("step 1 follow-up", user_id="U1")  # closed by the checkbox
    await slack_user.command("reopen 1", user_id="U1")
    await mend.settle()
    reopened = (await case1(mend)).next_followup_at
    await press(slack_user, mend, Action.NUDGE_DONE, old)
    assert (await case1(mend)).next_followup_at == reopened and (await case1(mend)).status == "open"


async def test_update_reminder_on_an_unowned_case_asks_for_an_owner(mend, slack, slack_user,
                                                                   clock):
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    await mend.mend.deps.lifecycle.followup_done("T1", 1, "U1")
    await slack_user.command("release 1", user_id="U1")
    await mend.settle()
    clock.advance(hours=24)
    await sweep(mend)
    [nudge] = nudges(slack)
    text = all_text(nudge["blocks"])
    assert "_nobody yet_" not in text and "needs an owner" in text
    assert {Action.TAKE, Action.NUDGE_UPDATED} <= set(buttons(nudge))
    await press(slack_user, mend, Action.TAKE, nudge, user="U2")
    assert (await case1(mend)).owner_id == "U2"


# -- a new owner of an overdue case -----------------------------------------------------
async def _unassigning_mend(settings, tmp_path, clock, after: str):
    from bot.runtime.config import DEFAULT_PLAYBOOK

    playbook = tmp_path / "playbook.yaml"
    playbook.write_text(DEFAULT_PLAYBOOK.read_text().replace(
        'unassign_after: "off"', f"unassign_after: {after}"))
    return await start_mend(replace_settings(settings, playbook_path=str(playbook)), clock)


async def test_new_owner_of_an_overdue_case_gets_reminders_of_their_own(slack, clock, settings,
                                                                       tmp_path):
    """A lead answers the escalation by reassigning to Lee: Lee is reminded of a follow-up
    of their own (due 2 hours later, the playbook's remind_every), and the old ladder's
    unassignment does not take the case away from Lee."""
    from standin import MendDriver

    running = await _unassigning_mend(settings, tmp_path, clock, "6h")
    try:
        await running.store.set_leads("T1", ["ULEAD"], "U0", "2026-11-26T00:00:00.000000Z")
        slack.add_user("U3", name="lee", tz="America/Los_Angeles")
        async with MendDriver(running.url, SECRET, slack) as driver:
            await open_due(running, driver, clock, due_in=timedelta(0))  # due 10:00 LA
            clock.set(datetime(2026, 11, 26, 22, 0, tzinfo=UTC))  # 14:00 LA: overdue 4h
            await sweep(running)
            assert any("<@ULEAD>" in all_text(m["blocks"]) for m in nudges(slack))
            clock.advance(minutes=30)
            await driver.command("assign 1 <@U3|lee>", user_id="ULEAD")
            await running.settle()
        assert (await running.store.case_by_number("T1", 1)).next_followup_at == to_iso(
            clock.now() + timedelta(hours=2))  # 16:30 LA
        before = len(nudges(slack))
        clock.set(datetime(2026, 11, 27, 0, 0, tzinfo=UTC))  # 16:00 LA: 6h after the old due
        await sweep(running)
        assert len(nudges(slack)) == before  # the old ladder is gone, and Lee's not due yet
        clock.set(datetime(2026, 11, 27, 0, 30, tzinfo=UTC))  # 16:30 LA: Lee's falls due
        await sweep(running)
        new = [all_text(m["blocks"]) for m in nudges(slack)[before:]]
        assert (await running.store.case_by_number("T1", 1)).owner_id == "U3"
        assert new and all("<@U3>" in t for t in new) and "back in the unowned" not in str(new)
    finally:
        await running.stop()


async def test_assigning_during_the_escalation_cancels_the_old_owners_reminders(mend, slack,
                                                                               slack_user,
                                                                               clock):
    slack.add_user("U3", name="lee", tz="America/Los_Angeles")
    await open_due(mend, slack_user, clock, due_in=timedelta(0))
    due = (await case1(mend)).next_followup_at
    await sweep(mend)
    assert "<@U1>" in all_text(nudges(slack)[-1]["blocks"])
    clock.advance(hours=2)
    await slack_user.command("assign 1 <@U3|lee>", user_id="U1")
    await mend.settle()
    clock.advance(minutes=1)
    sent = len(nudges(slack))
    await sweep(mend)
    assert len(nudges(slack)) == sent  # U1's ladder is gone; lee's follow-up is not due yet
    clock.advance(hours=2)  # lee's own follow-up falls due (remind_every later)
    await sweep(mend)
    latest = all_text(nudges(slack)[-1]["blocks"])
    assert "<@U3>" in latest and "Reminder" not in latest  # lee's first, not U1's second
    rows = [(n.due_key == due, n.rung) for n in await mend.store.nudges_for_case("T1", 1)]
    assert rows == [(True, 0), (False, 0)]  # U1's second reminder never came
    timeline = all_text((await slack_user.command("case 1", user_id="U1")).json["blocks"])
    assert "moved the overdue follow-up" in timeline and "for the new owner" in timeline


def test_a_reminder_sent_before_buttons_named_their_followup_is_read_from_its_key():
    from handlers.actions import reminder_due
    from handlers.payload import read

    due = "2026-11-26T18:00:00.000000Z"
    legacy = {"type": "block_actions", "user": {"id": "U1"}, "team": {"id": "T1"},
              "actions": [{"action_id": Action.NUDGE_DONE, "value": "1"}],
              "message": {"ts": "1.2", "blocks": [], "metadata": {
                  "event_type": "mend_nudge",
                  "event_payload": {"key": f"T1:7:followup:{due}:1", "case": 1}}}}
    assert reminder_due(read(legacy)) == due
    legacy["message"]["metadata"] = None
    assert reminder_due(read(legacy)) is None  # taken to mean the follow-up in force
