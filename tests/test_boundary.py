"""The HTTP boundary: only what Slack signed, of the shape Mend reads, reaches Bolt.

Every request here goes over HTTP to the real app, signed as Slack signs or deliberately
not; what is refused gets a 4xx, changes nothing, and leaves one short log line that
quotes nothing from the request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.app import Mend
from bot.runtime import boundary
from handlers.ids import Action, Callback
from tests.helpers import APP_TOKEN, all_text, replace_settings

FORM = "application/x-www-form-urlencoded"
REPORT = "customer Acme: order arrived two weeks late, they are upset"
FORGED = "FORGED-Zanzibar"  # any of it in a log line means the request wrote the log


def form(payload: object) -> bytes:
    """Form-encoded as Slack sends interactivity: JSON in UTF-8, then percent-encoded."""
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()


def event(user: object) -> bytes:
    return json.dumps({"type": "event_callback", "team_id": "T1", "event": {
        "type": "app_home_opened", "user": user, "tab": "home", "note": FORGED}}).encode()


UNSIGNED = {
    "payload=null": (b"payload=null", FORM),
    "payload=[]": (b"payload=%5B%5D", FORM),
    "json null": (b"null", "application/json"),
    "json list": (json.dumps([FORGED]).encode(), "application/json"),
    "event user is a number": (event(123), "application/json"),
}
WRONG_TIMESTAMPS = {"letters": "abc" + FORGED, "empty": "", "too long": "1" * 40,
                    "negative": "-1", "spaces": " 1764169200"}


def refusals(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "mend.boundary"]


def assert_refused_quietly(reply, caplog, status: int = 401) -> None:
    """A 4xx, no traceback anywhere, one short line that quotes nothing sent."""
    assert reply.status == status, (reply.status, reply.body)
    assert "Traceback" not in reply.body and FORGED not in reply.body
    [line] = refusals(caplog)
    assert len(line.getMessage()) < 100 and not line.exc_info
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert FORGED not in logged and "abc" not in logged
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("name", UNSIGNED)
@pytest.mark.parametrize("signature", [None, "v0=" + "0" * 64])
async def test_unsigned_bodies_of_any_shape_are_refused_before_parsing(
        mend, slack_user, caplog, monkeypatch, name, signature):
    caplog.set_level(logging.INFO)
    parsed = []
    monkeypatch.setattr(boundary, "parse_signed", lambda *a: parsed.append(a) or {})
    body, content_type = UNSIGNED[name]
    headers = {} if signature is None else {
        "X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": signature}
    reply = await slack_user.raw(body, content_type, headers, sign=False)
    assert_refused_quietly(reply, caplog)
    assert parsed == []  # refused on its headers or signature, never parsed
    assert (await mend.store.workspaces()) == []


@pytest.mark.parametrize("name", WRONG_TIMESTAMPS)
async def test_a_malformed_timestamp_is_refused_and_never_logged(mend, slack_user, caplog,
                                                                 name):
    caplog.set_level(logging.INFO)
    body = urlencode({"command": "/recover", "text": REPORT, "team_id": "T1",
                      "user_id": "U1", "channel_id": "C1"}).encode()
    reply = await slack_user.raw(body, FORM, {
        "X-Slack-Request-Timestamp": WRONG_TIMESTAMPS[name],
        "X-Slack-Signature": "v0=" + "0" * 64}, sign=False)
    assert_refused_quietly(reply, caplog)
    assert (await mend.store.case_by_number("T1", 1)) is None


async def test_a_signature_of_the_wrong_form_is_refused(mend, slack_user, caplog):
    caplog.set_level(logging.INFO)
    reply = await slack_user.command(REPORT, signature="v1=" + FORGED)
    assert_refused_quietly(reply, caplog)


async def test_health_check_stays_open_and_slack_requests_still_work(mend, slack_user):
    async with aiohttp.ClientSession() as session:
        async with session.get(mend.url.replace("/slack/events", "/healthz")) as resp:
            assert resp.status == 200 and (await resp.json())["ok"] is True
    reply = await slack_user.command(REPORT)
    assert "Case #1 opened" in all_text(reply.json["blocks"])


async def test_a_report_that_says_payload_opens_a_case(mend, slack_user):
    # Bolt alone reads any form containing "payload" as a click and answers 404.
    reply = await slack_user.command("the payment payload failed twice, customer payload=lost")
    assert reply.status == 200
    assert "Case #1 opened" in all_text(reply.json["blocks"])


@pytest.mark.parametrize("body", [b"ssl_check=1&token=legacy",
                                  b"ssl_check=1&command=%2Frecover&text=smuggled&team_id=T1"
                                  b"&user_id=U1&channel_id=C1"])
async def test_slacks_unsigned_certificate_check_is_answered_and_nothing_else(
        mend, slack, slack_user, caplog, body):
    caplog.set_level(logging.INFO)
    reply = await slack_user.raw(body, FORM, sign=False)
    await mend.settle()
    assert (reply.status, reply.body) == (200, "")
    assert (await mend.store.case_by_number("T1", 1)) is None and slack.calls == []
    assert refusals(caplog) == []


# -- the size of what is read -------------------------------------------------------------
async def raw_http(url: str, head: str, chunks: list[bytes]) -> bytes:
    """Send a request as written (for a length aiohttp's client won't lie about); the
    answer, or b"" if the connection was reset under a body Mend would not read."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head.encode())
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout=5)
    except (ConnectionResetError, BrokenPipeError):
        return b""
    finally:
        writer.close()


def signing_headers() -> str:
    return (f"X-Slack-Request-Timestamp: {int(time.time())}\r\n"
            f"X-Slack-Signature: v0={'0' * 64}\r\n")


async def test_a_body_declared_too_large_is_refused_before_it_is_read(mend, caplog):
    caplog.set_level(logging.INFO)
    head = (f"POST /slack/events HTTP/1.1\r\nHost: localhost\r\n{signing_headers()}"
            f"Content-Type: {FORM}\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n")
    started = time.monotonic()
    answer = await raw_http(mend.url, head, [b"payload="])  # and never the other 50 MB
    assert answer.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 2
    assert [r.getMessage() for r in refusals(caplog)] == [
        "refused a request to /slack/events: body too large"]


async def test_a_chunked_body_is_cut_off_at_the_cap(mend, caplog):
    caplog.set_level(logging.INFO)
    head = (f"POST /slack/events HTTP/1.1\r\nHost: localhost\r\n{signing_headers()}"
            f"Content-Type: {FORM}\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"a=" + b"b" * 65534
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * 40 + [b"0\r\n\r\n"]  # 2.6 MB
    answer = await raw_http(mend.url, head, chunks)
    # No length was given: the cap while reading refused it, and the connection was
    # closed under the rest (the sender may see the reset before the answer).
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413")
    assert [r.getMessage() for r in refusals(caplog)] == [
        "refused a request to /slack/events: body too large"]


async def test_large_unverified_bodies_wait_for_a_budget_small_requests_do_not(
        mend, slack_user, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(boundary, "UNVERIFIED", boundary.Budget(rate=100_000, burst=0))
    monkeypatch.setattr(boundary, "READ_SECONDS", 1.0)
    large = b"a=1&" * 100_000  # 400 KB: 336 KB past the free bytes, 3.4 s of budget
    headers = {"X-Slack-Request-Timestamp": str(int(time.time())),
               "X-Slack-Signature": "v0=" + "0" * 64}
    held = asyncio.create_task(slack_user.raw(large, FORM, headers, sign=False))
    await asyncio.sleep(0.3)  # it is being read, slowly
    reply = await slack_user.command(REPORT)
    assert reply.status == 200 and reply.elapsed_ms < 600  # not held behind it (>= 0.7 s)
    try:
        assert (await held).status == 408
    except aiohttp.ClientError:
        pass  # closed under the unread rest of its body before the answer was read
    assert [r.getMessage() for r in refusals(caplog)] == [
        "refused a request to /slack/events: body too slow"]


async def test_the_largest_payload_slack_sends_still_gets_through(mend, slack_user):
    """A message shortcut on a 40,000-character message (Slack's cap) in a script that
    takes three bytes a character, its text again in rich_text blocks: about 720 KB."""
    text = "顧客" * 20_000
    payload = {"type": "message_action", "callback_id": "mend_check_reply",
               "team": {"id": "T1"}, "user": {"id": "U1", "team_id": "T1"},
               "channel": {"id": "C1"}, "trigger_id": "1.2", "response_url": "",
               "message": {"type": "message", "ts": "1.1", "user": "U2", "text": text,
                           "blocks": [{"type": "rich_text", "elements": [
                               {"type": "rich_text_section",
                                "elements": [{"type": "text", "text": text}]}]}]}}
    body = form(payload)
    assert 700_000 < len(body) < boundary.MAX_BODY
    reply = await slack_user.raw(body, FORM)
    assert reply.status == 200


# -- signed, but not the shape Mend reads ----------------------------------------------
def click(**changes) -> dict:
    payload = {"type": "block_actions", "team": {"id": "T1"},
               "user": {"id": "U1", "team_id": "T1"}, "channel": {"id": "C1"},
               "trigger_id": "1.2", "response_url": "",
               "actions": [{"action_id": Action.ASSIGN, "block_id": "b", "value": "1",
                            "type": "users_select", "action_ts": "1.3",
                            "selected_user": "U2"}]}
    payload.update(changes)
    return payload


def submission(**view) -> dict:
    return {"type": "view_submission", "team": {"id": "T1"},
            "user": {"id": "U1", "team_id": "T1"},
            "view": {"id": "V1", "callback_id": Callback.NOTE,
                     "private_metadata": json.dumps({"case": 1, "team": "T1"}), **view}}


WRONG_SHAPES = {
    "actions is a string": click(actions="take"),
    "actions is empty": click(actions=[]),
    "an action is a string": click(actions=["take"]),
    "user is a string": click(user="U1"),
    "team is a string": click(team="T1"),
    "selected_user is a number": click(actions=[{**click()["actions"][0],
                                                 "selected_user": 123}]),
    "selected_user is not a user id": click(actions=[{**click()["actions"][0],
                                                      "selected_user": "=cmd|' /C calc'!A0"}]),
    "view without state": submission(),
    "view state values is a list": submission(state={"values": ["note"]}),
    "event user is a number": {"type": "event_callback", "team_id": "T1",
                               "event": {"type": "app_home_opened", "user": 123}},
}


@pytest.mark.parametrize("name", WRONG_SHAPES)
async def test_signed_payloads_of_the_wrong_shape_are_refused_and_not_stored(
        mend, slack, slack_user, caplog, name):
    await slack_user.command(REPORT)  # case #1, owned by U1
    await mend.settle()
    before = [e.kind for e in (await mend.store.events("T1", 1))]
    caplog.set_level(logging.INFO)
    payload = WRONG_SHAPES[name]
    if payload["type"] == "event_callback":
        reply = await slack_user.raw(json.dumps(payload).encode(), "application/json")
    else:
        reply = await slack_user.raw(form(payload), FORM)
    await mend.settle()
    assert reply.status == 400 and "Traceback" not in reply.body
    assert (await mend.store.case_by_number("T1", 1)).owner_id == "U1"
    assert [e.kind for e in (await mend.store.events("T1", 1))] == before
    [line] = refusals(caplog)
    assert "wrong type" in line.getMessage() and "calc" not in line.getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_well_formed_user_pick_still_assigns(mend, slack, slack_user):
    await slack_user.command(REPORT)
    await mend.settle()
    reply = await slack_user.raw(form(click()), FORM)
    await mend.settle()
    assert reply.status == 200
    assert (await mend.store.case_by_number("T1", 1)).owner_id == "U2"


async def test_socket_mode_payloads_of_the_wrong_shape_get_an_empty_ack(settings, clock,
                                                                         slack):
    socket = replace_settings(settings, app_token=APP_TOKEN, signing_secret=None)
    mend = await Mend.start(socket, clock=clock, retry_backoff=0.01, run_scheduler=False)
    handler = await mend.connect_socket()
    try:
        await slack.wait_socket_connected()
        command = {"team_id": "T1", "channel_id": "C1", "user_id": "U1", "text": REPORT,
                   "command": "/recover", "response_url": slack.response_url("s")}
        await slack.socket_send("slash_commands", command)
        await mend.deps.tasks.drain()
        bad = WRONG_SHAPES["selected_user is a number"]
        ack = await slack.socket_send("interactive", bad)
        await mend.deps.tasks.drain()
        assert not ack.get("payload")
        assert (await mend.deps.store.case_by_number("T1", 1)).owner_id == "U1"
    finally:
        await handler.close_async()
        await mend.close()


# -- what Bolt logs about requests it has no listener for ------------------------------------
async def test_unhandled_suggestion_requests_do_not_log_what_was_typed(mend, slack_user,
                                                                       caplog):
    caplog.set_level(logging.DEBUG)
    payload = {"type": "block_suggestion", "team": {"id": "T1"},
               "user": {"id": "U1", "team_id": "T1"}, "action_id": "customer_lookup",
               "block_id": "b", "value": "Ms Private " + FORGED}
    reply = await slack_user.raw(form(payload), FORM)
    assert reply.status == 404  # Mend has no options listener: Bolt says so
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "Unhandled request" not in logged or "withheld" in logged
    assert FORGED not in logged and "Private" not in logged


@pytest.mark.parametrize("body, content_type", [
    (urlencode({"team_id": "T1", "user_id": "U1", "channel_id": "C1", "command": "/recover",
                "text": "for Dana: charged twice", "response_url": "http://x/r",
                "trigger_id": "t1"}), "application/x-www-form-urlencoded"),
    (urlencode({"payload": json.dumps({"type": "block_actions", "team": {"id": "T1"},
                                       "user": {"id": "U1", "team_id": "T1"},
                                       "actions": []})}), "application/x-www-form-urlencoded"),
    (json.dumps({"type": "event_callback", "team_id": "T1", "event": {"type": "x"}}),
     "application/json"),
])
def test_a_request_parsed_once_is_the_request_bolt_would_build(body, content_type):
    from slack_bolt.request.async_request import AsyncBoltRequest

    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": "1"}
    theirs = AsyncBoltRequest(body=body, query="a=1", headers=headers)
    ours = boundary.parsed_request(body, boundary.parse_signed(body, content_type), "a=1",
                                   headers)
    for name in ("raw_body", "body", "query", "headers", "content_type", "lazy_only",
                 "lazy_function_name", "mode"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert dict(ours.context) == dict(theirs.context)


@pytest.mark.parametrize("text", [
    "", "&", "a", "a=", "=b", "a=b&a=c", "a+b=c+d", "a=%41%zz%", "a=%C3%A9%E2%82%AC&%ff=1",
    "text=for+Dana%3A+charged+twice%2C+100%25&&user_id=U1&x=1=2", "a=b&&c&d=",
    urlencode({"text": "50% off & more = +plus+ é€ <@U1>", "payload": "not json"}),
])
def test_form_fields_are_parse_qsl_fields(text):
    from urllib.parse import parse_qsl

    expected = dict(parse_qsl(text, keep_blank_values=True))
    assert list(boundary.form_fields(text).items()) == list(expected.items())
