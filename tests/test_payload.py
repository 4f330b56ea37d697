"""Every Slack payload is read once, by handlers/payload.py, into typed values."""

from __future__ import annotations

import json
import re
from pathlib import Path

from handlers.ids import Action, Block
from handlers.payload import COMMAND, read

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"


def test_a_slash_command_reads_its_ids_text_trigger_and_response_url():
    p = read({"command": "/recover", "team_id": "T1", "user_id": "U1", "channel_id": "C1",
              "text": "take 3", "trigger_id": "tr.1", "response_url": "http://r/1"})
    assert (p.kind, p.team_id, p.user_id, p.channel_id, p.text, p.trigger_id,
            p.response_url) == (COMMAND, "T1", "U1", "C1", "take 3", "tr.1", "http://r/1")


def test_a_click_reads_its_action_as_the_enum_and_its_values():
    p = read({"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1",
              "team_id": "E1"}, "channel": {"id": "C1"}, "trigger_id": "tr",
              "response_url": "http://r", "message": {"ts": "1.2", "text": "card"},
              "actions": [{"action_id": "case_checklist", "block_id": "b~T1",
                           "action_ts": "9.9", "value": "12", "selected_user": "U2",
                           "selected_options": [{"value": "act"}, {"value": "apologize"}]}]})
    assert p.action is Action.CHECKLIST
    assert (p.team_id, p.user_id, p.channel_id, p.value, p.block_id, p.action_ts,
            p.selected_user, p.selected, p.message_ts) == \
        ("T1", "U1", "C1", "12", "b~T1", "9.9", "U2", ("act", "apologize"), "1.2")


def test_a_click_in_the_app_home_says_so():
    p = read({"type": "block_actions", "view": {"id": "V1", "type": "home"},
              "actions": [{"action_id": "case_take", "value": "3"}]})
    assert (p.action, p.view_type, p.response_url) == (Action.TAKE, "home", None)


def test_an_action_mend_did_not_name_is_none():
    assert read({"type": "block_actions", "actions": [{"action_id": "other"}]}).action is None


def test_a_view_submission_reads_its_inputs_and_private_metadata():
    values = {Block.NOTE_TEXT: {Action.TEXT: {"type": "plain_text_input", "value": " hi "}},
              Block.FOLLOWUP_QUICK: {Action.QUICK: {"selected_option": {"value": "1h"}}},
              Block.FOLLOWUP_DATE: {Action.DATE: {"selected_date": "2026-12-01"}}}
    p = read({"type": "view_submission", "user": {"id": "U1", "team_id": "T9"},
              "view": {"id": "V1", "callback_id": "mend_note", "team_id": "T1",
                       "private_metadata": json.dumps({"case": "4", "tz": "UTC"}),
                       "state": {"values": values}}})
    assert (p.team_id, p.view_id, p.callback_id, p.meta) == \
        ("T1", "V1", "mend_note", {"case": "4", "tz": "UTC"})
    assert p.typed(Block.NOTE_TEXT) == "hi"
    assert p.input(Block.FOLLOWUP_QUICK, Action.QUICK) == "1h"
    assert p.input(Block.FOLLOWUP_DATE, Action.DATE, "selected_date") == "2026-12-01"
    assert p.input(Block.FOLLOWUP_TIME, Action.TIME, "selected_time") is None


def test_metadata_that_is_not_a_json_object_reads_as_empty():
    for text in ("not json", "[1, 2]", "", None):
        assert read({"type": "view_submission", "view": {"private_metadata": text}}).meta == {}


def test_an_event_reads_its_team_user_and_id():
    p = read({"type": "event_callback", "team_id": "T1", "event_id": "Ev1",
              "event": {"type": "app_home_opened", "user": "U1", "tab": "home"}})
    assert (p.team_id, p.user_id, p.event_id, p.event["tab"]) == ("T1", "U1", "Ev1", "home")


def test_missing_fields_read_as_empty():
    p = read({"type": "block_actions"})
    assert (p.team_id, p.user_id, p.channel_id, p.trigger_id, p.response_url, p.action,
            p.value, p.message, p.values, p.meta) == ("", "", "", None, None, None, "", {},
                                                      {}, {})


def test_no_listener_reads_the_raw_body():
    """Only handlers/payload.py looks into Slack's body; listeners read its Payload."""
    raw = re.compile(r"\bbody(\.get\(|\[)|\bbody: dict")
    offenders = [f"{path.name}:{n}" for path in sorted(HANDLERS.glob("*.py"))
                 if path.name != "payload.py"
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if raw.search(line)]
    assert offenders == []
