"""Lists you can act on: `/recover open` and the App Home link each case to its card
and offer *Take* / *Assign* where the viewer may use them (the lifecycle's rules)."""

from __future__ import annotations

import re

import pytest

from handlers.ids import Action
from tests.helpers import (
    THURSDAY,
    all_text,
    assert_valid_blocks,
    case1,
    lead,
    open_case,
    said,
)


@pytest.fixture
def clock(clock):
    clock.set(THURSDAY)
    return clock


def rows(blocks: list[dict]) -> dict[int, list[dict]]:
    """Each case's blocks in a list, by case number (from the row block ids)."""
    found: dict[int, list[dict]] = {}
    for block in blocks:
        match = re.match(r"^row_[a-z]+_(\d+)", str(block.get("block_id") or ""))
        if match:
            found.setdefault(int(match.group(1)), []).append(block)
    return found


def controls(row: list[dict]) -> list[str]:
    """The action ids a case's row offers."""
    elements = [b["accessory"] for b in row if "accessory" in b]
    elements += [e for b in row for e in b.get("elements", []) if b["type"] == "actions"]
    return [e["action_id"] for e in elements]


async def three_cases(mend, slack_user):
    """#1 owned by U1, #2 released (unowned), #3 owned by U1."""
    for text in ("customer Acme: late order", "customer Bolt: charged twice",
                 "customer Cora: rude agent"):
        await open_case(mend, slack_user, text=text)
    await slack_user.command("release 2", user_id="U1")
    await mend.settle()


async def test_open_list_links_cards_and_offers_what_the_viewer_may_do(mend, slack,
                                                                       slack_user):
    await three_cases(mend, slack_user)
    await slack_user.command("open", user_id="U2")  # an agent in C1, not a lead
    await mend.settle()
    blocks = slack.responses[-1]["body"]["blocks"]
    assert_valid_blocks(blocks)
    by_case = rows(blocks)
    assert controls(by_case[2]) == [Action.LIST_TAKE, Action.LIST_ASSIGN]  # unowned
    assert controls(by_case[1]) == [] and controls(by_case[3]) == []  # U1's: not U2's to move
    text = all_text(blocks)
    assert "<#C1>" in text
    links = re.findall(r"<(https://[^|>]+)\|open card>", text)
    card_ts = (await case1(mend)).card_ts.replace(".", "")
    assert len(links) == 3 and any(card_ts in link for link in links)  # chat.getPermalink
    assert slack.calls_to("chat.getPermalink")

    await slack_user.command("open", user_id="U1")  # the owner may reassign their own
    await mend.settle()
    mine = rows(slack.responses[-1]["body"]["blocks"])
    assert controls(mine[1]) == [Action.LIST_ASSIGN] and controls(mine[3]) == [Action.LIST_ASSIGN]
    assert controls(mine[2]) == [Action.LIST_TAKE, Action.LIST_ASSIGN]


async def test_a_lead_may_take_or_assign_any_case_and_links_come_inside_the_ack(
        mend, slack, slack_user):
    await three_cases(mend, slack_user)
    await lead(mend, "ULEAD")
    first = await slack_user.command("open", user_id="ULEAD")  # answered in the ack
    await mend.settle()
    assert all(controls(r) == [Action.LIST_TAKE, Action.LIST_ASSIGN]
               for r in rows(first.json["blocks"]).values())
    again = await slack_user.command("open", user_id="ULEAD")  # links known by now
    assert all_text(again.json["blocks"]).count("|open card>") == 3
    assert_valid_blocks(again.json["blocks"])


async def test_take_and_assign_from_the_list(mend, slack, slack_user):
    await three_cases(mend, slack_user)
    await slack_user.command("open", user_id="U2")
    await mend.settle()
    blocks = slack.responses[-1]["body"]["blocks"]
    take_row = [b for b in rows(blocks)[2] if b["type"] == "actions"][0]
    await slack_user.block_action(Action.LIST_TAKE, user_id="U2", blocks=blocks,
                                  block_id=take_row["block_id"])
    await mend.settle()
    assert (await mend.store.case_by_number("T1", 2)).owner_id == "U2"
    assert "Case #2 is yours now" in said(slack)

    # U1 reassigns their own case #3 to U2 with the row's user picker.
    await slack_user.command("open", user_id="U1")
    await mend.settle()
    blocks = slack.responses[-1]["body"]["blocks"]
    [row] = rows(blocks)[3]
    await slack_user.block_action(Action.LIST_ASSIGN, user_id="U1", blocks=blocks,
                                  block_id=row["block_id"], selected={"selected_user": "U2"})
    await mend.settle()
    assert (await mend.store.case_by_number("T1", 3)).owner_id == "U2"
    assert "Case #3 now belongs to <@U2>" in said(slack)
    assert (await case1(mend)).owner_id == "U1"  # the other rows untouched


async def test_take_from_the_app_home_says_so_in_the_home(mend, slack, slack_user):
    await three_cases(mend, slack_user)
    await slack_user.event({"type": "app_home_opened", "user": "U2", "tab": "home"})
    await mend.settle()
    home = slack.calls_to("views.publish")[-1].arg("view")
    assert_valid_blocks(home["blocks"], limit=100)
    waiting = rows(home["blocks"])
    assert controls(waiting[2]) == [Action.LIST_TAKE, Action.LIST_ASSIGN]
    assert "|open card>" in all_text(home["blocks"])
    await slack_user.block_action(Action.LIST_TAKE, user_id="U2", view=home,
                                  block_id=[b for b in waiting[2]
                                            if b["type"] == "actions"][0]["block_id"])
    await mend.settle()
    assert (await mend.store.case_by_number("T1", 2)).owner_id == "U2"
    latest = slack.calls_to("views.publish")[-1]
    assert latest.arg("user_id") == "U2"
    text = all_text(latest.arg("view")["blocks"])
    assert "Case #2 is yours now" in text and "My cases* (1)" in text


async def test_a_refusal_in_the_home_is_shown_there(mend, slack, slack_user):
    await three_cases(mend, slack_user)
    await slack_user.event({"type": "app_home_opened", "user": "U2", "tab": "home"})
    await mend.settle()
    home = slack.calls_to("views.publish")[-1].arg("view")
    await slack_user.command("take 2", user_id="U1")  # U1 takes #2 first
    await mend.settle()
    await slack_user.block_action(Action.LIST_TAKE, user_id="U2", view=home,
                                  block_id=[b for b in rows(home["blocks"])[2]
                                            if b["type"] == "actions"][0]["block_id"])
    await mend.settle()
    latest = slack.calls_to("views.publish")[-1]
    assert latest.arg("user_id") == "U2"
    assert "already owned by <@U1>" in all_text(latest.arg("view")["blocks"])


async def test_full_lists_stay_within_block_kit_limits(mend, slack, slack_user):
    for i in range(24):
        await slack_user.command(f"customer Acme {i}: late order, "
                                 f"{'critical ' * (i % 3 == 0)}outage for every user")
    await mend.settle()
    for n in range(1, 25, 2):
        await slack_user.command(f"release {n}", user_id="U1")
    await lead(mend, "ULEAD")
    await mend.settle()
    reply = await slack_user.command("open", user_id="ULEAD")
    assert_valid_blocks(reply.json["blocks"])  # 20 rows of two blocks, paging: under 50
    text = all_text(reply.json["blocks"])
    assert ":rotating_light: *CRITICAL*" in text
    await slack_user.event({"type": "app_home_opened", "user": "ULEAD", "tab": "home"})
    await mend.settle()
    home = slack.calls_to("views.publish")[-1].arg("view")
    assert_valid_blocks(home["blocks"], limit=100)
    ids = [b["block_id"] for b in home["blocks"] if "block_id" in b]
    assert len(ids) == len(set(ids))  # a case in two lists keeps unique block ids
