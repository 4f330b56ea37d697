"""`/recover open` filters: mentions in the answer, older private channels, and a
viewer with no id."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain.models import CaseFilter, NewCase
from bot.domain.times import to_iso
from tests.helpers import THURSDAY, all_text, assert_valid_blocks, lead, numbers


@pytest.fixture
def clock(clock):
    clock.set(THURSDAY)
    return clock


async def test_an_empty_list_names_the_person_as_a_mention(mend, slack_user):
    await lead(mend)
    reply = await slack_user.command("open <@U2|kofi>", user_id="ULEAD")
    text = all_text(reply.json["blocks"])
    assert "No cases in play match (owned by <@U2>)" in text  # a mention, not "&lt;@U2&gt;"
    reply = await slack_user.command("open <#C7|vip> overdue", user_id="ULEAD")
    assert "(in <#C7>, overdue)" in all_text(reply.json["blocks"])


async def test_a_private_channel_of_an_older_workspace_is_a_filter(
        mend, slack, slack_user):
    await lead(mend)
    slack.add_channel("G0123ABC", name="old-private", members=["U1", "ULEAD"])
    await slack_user.command("customer Acme: charged twice", user_id="U1",
                             channel_id="G0123ABC")
    await slack_user.command("customer Bolt: waited on hold", user_id="U1")
    reply = await slack_user.command("open <#G0123ABC|old-private>", user_id="ULEAD")
    blocks = reply.json["blocks"]
    assert_valid_blocks(blocks)
    assert numbers(blocks) == [1] and "in <#G0123ABC>" in all_text(blocks)


async def test_an_empty_viewer_id_sees_no_case(database):
    store = await database.open()
    fields = dict(channel_id="C1", reporter_id="U9", owner_id="U9", summary="late",
                  category="broken_promise", emotion="upset", contact="email",
                  severity="normal", customer="Acme")
    await store.create_cases([NewCase("T1", fields, "U9", to_iso(datetime.now(UTC)))])
    assert await store.live_cases("T1", CaseFilter(viewer=""), 20) == ([], 0)
    assert (await store.live_cases("T1", CaseFilter(viewer="U9"), 20))[1] == 1
    await store.close()


async def test_an_older_private_channel_can_be_the_lead_channel(mend, slack_user):
    await lead(mend)
    reply = await slack_user.command("settings lead-channel <#G0123ABC|old-leads>",
                                     user_id="ULEAD")
    assert (await mend.store.workspace("T1")).lead_channel == "G0123ABC"
    assert "<#G0123ABC>" in all_text(reply.json["blocks"])


async def test_a_bad_timezone_is_quoted_once_escaped(mend, slack_user):
    await lead(mend)
    reply = await slack_user.command("settings timezone Mars/<Olympus>", user_id="ULEAD")
    text = all_text(reply.json["blocks"])
    assert "Mars/&lt;Olympus&gt;" in text and "&amp;lt;" not in text
