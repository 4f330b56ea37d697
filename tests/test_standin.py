"""Tests for the Slack stand-in (standin/), driven through slack_sdk's real clients."""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from standin import MendDriver, SlackStandIn, sign_request

SECRET = "test-signing-secret"


@pytest.fixture
async def s():
    async with SlackStandIn() as standin:
        yield standin


@pytest.fixture
async def client(s):
    yield AsyncWebClient(token="xoxb-test", base_url=s.api_url)


def button(text: str, action_id: str = "go") -> dict:
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": text},
                "action_id": action_id,
            }
        ],
    }


def modal(blocks: list | None = None, **extra) -> dict:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Recover"},
        "blocks": blocks if blocks is not None else [{"type": "divider"}],
        **extra,
    }


async def api_error(coro) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await coro
    return info.value


# --------------------------------------------------------------------------- basics


async def test_binds_loopback_and_answers_auth_test(s, client):
    assert s.api_url.startswith("http://127.0.0.1:") and s.api_url.endswith("/api/")
    assert s.base_url == s.api_url[: -len("/api/")]
    resp = await client.auth_test()
    assert resp["team_id"] == "T1"
    assert resp["user_id"] == "UBOT"
    assert resp["bot_id"] == "BBOT"


async def test_post_message_recorded_with_increasing_ts(s, client):
    first = await client.chat_postMessage(channel="C1", text="one")  # JSON body
    second = await client.api_call(  # form body
        "chat.postMessage", data={"channel": "C1", "text": "two"}
    )
    assert first["ok"] and first["channel"] == "C1"
    assert first["message"]["text"] == "one" and first["message"]["user"] == "UBOT"
    assert float(second["ts"]) > float(first["ts"])

    calls = await s.wait_for("chat.postMessage", count=2, timeout=1)
    assert [c.args["text"] for c in calls] == ["one", "two"]
    assert all(c.ok and c.token == "xoxb-test" for c in calls)
    assert [m["text"] for m in s.messages("C1")] == ["one", "two"]
    assert [m["ts"] for m in s.messages("C1")] == [first["ts"], second["ts"]]


async def test_unknown_method_refused(s, client):
    err = await api_error(client.api_call("chat.postMessageX"))
    assert err.response["error"] == "unknown_method"
    assert s.calls[-1].method == "chat.postMessageX" and not s.calls[-1].ok


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_missing_required_arg_refused(s, client):
    err = await api_error(client.api_call("chat.postMessage", json={"text": "hi"}))
    assert err.response["error"] == "invalid_arguments"
    assert err.response["response_metadata"]["messages"] == [
        "[ERROR] missing required field: channel"
    ]
    # From the built-in supplement (not in the 2020 spec):
    err = await api_error(client.api_call("files.getUploadURLExternal", params={"length": 3}))
    assert (
        "[ERROR] missing required field: filename" in err.response["response_metadata"]["messages"]
    )
    # no_text: a message needs text or blocks
    err = await api_error(client.chat_postMessage(channel="C1"))
    assert err.response["error"] == "no_text"


async def test_tokens_checked(s):
    bad = AsyncWebClient(token="xoxb-nope", base_url=s.api_url)
    assert (await api_error(bad.auth_test())).response["error"] == "invalid_auth"
    anon = AsyncWebClient(base_url=s.api_url)
    assert (await api_error(anon.auth_test())).response["error"] == "not_authed"
    bot = AsyncWebClient(token="xoxb-test", base_url=s.api_url)
    err = await api_error(bot.apps_connections_open(app_token="xoxb-test"))
    assert err.response["error"] == "not_allowed_token_type"
    app = AsyncWebClient(token="xapp-test", base_url=s.api_url)
    err = await api_error(app.chat_postMessage(channel="C1", text="x"))
    assert err.response["error"] == "not_allowed_token_type"
    opened = await bot.apps_connections_open(app_token="xapp-test")
    assert opened["url"] == f"ws://127.0.0.1:{s.port}/socket"
    assert [c.token for c in s.calls][:2] == ["xoxb-nope", None]


async def test_without_spec_any_method_is_accepted_but_supplement_checked():
    async with SlackStandIn(spec_path=False) as s:
        client = AsyncWebClient(token="xoxb-test", base_url=s.api_url)
        assert (await client.api_call("brand.newMethod"))["ok"]
        err = await api_error(client.api_call("files.completeUploadExternal"))
        assert err.response["error"] == "invalid_arguments"
    assert s.spec.source is None


# --------------------------------------------------------------------------- faults


async def test_429_fault_carries_retry_after_then_succeeds(s, client):
    s.fail("chat.postMessage", status=429, retry_after=7)
    err = await api_error(client.chat_postMessage(channel="C1", text="x"))
    assert err.response.status_code == 429
    assert err.response.headers["Retry-After"] == "7"
    assert err.response["error"] == "ratelimited"
    assert (await client.chat_postMessage(channel="C1", text="x"))["ok"]
    assert [c.status for c in s.calls_to("chat.postMessage")] == [429, 200]
    assert len(s.messages("C1")) == 1


async def test_5xx_fault_times(s, client):
    s.fail("chat.postMessage", status=503, times=2)
    for _ in range(2):
        err = await api_error(client.chat_postMessage(channel="C1", text="x"))
        assert err.response.status_code == 503
    assert (await client.chat_postMessage(channel="C1", text="x"))["ok"]
    assert s.calls[0].response["body"].startswith("<html>")
    assert s.faults == []


async def test_error_and_delay_faults(s, client):
    s.fail("chat.postMessage", error="not_in_channel")
    err = await api_error(client.chat_postMessage(channel="C1", text="x"))
    assert err.response.status_code == 200 and err.response["error"] == "not_in_channel"

    s.fail("*", delay=0.2)
    started = time.perf_counter()
    task = asyncio.create_task(client.auth_test())
    (pending,) = await s.wait_for("auth.test", timeout=1)
    assert pending.status == 0  # still held by the fault
    assert (await task)["ok"]
    assert time.perf_counter() - started >= 0.2
    assert pending.ok


async def test_wait_for_timeout_message(s, client):
    await client.auth_test()
    with pytest.raises(AssertionError, match=r"chat.postMessage.*auth.test ok"):
        await s.wait_for("chat.postMessage", timeout=0.05)


# --------------------------------------------------------------------------- Block Kit


async def test_invalid_blocks_refused(s, client):
    too_many = [{"type": "divider"}] * 51
    err = await api_error(client.chat_postMessage(channel="C1", text="x", blocks=too_many))
    assert err.response["error"] == "invalid_blocks"
    assert "50" in err.response["response_metadata"]["messages"][0]

    err = await api_error(
        client.chat_postMessage(channel="C1", text="x", blocks=[button("x" * 76)])
    )
    assert err.response["error"] == "invalid_blocks"
    assert "75" in err.response["response_metadata"]["messages"][0]

    long_section = {"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}
    err = await api_error(
        client.api_call(
            "chat.update",
            data={"channel": "C1", "ts": "1.0", "blocks": json.dumps([long_section])},
        )
    )
    assert err.response["error"] == "invalid_blocks"

    err = await api_error(
        client.chat_postMessage(channel="C1", text="x", blocks=[{"type": "no_such_block"}])
    )
    assert "unsupported type" in err.response["response_metadata"]["messages"][0]

    ok = await client.chat_postMessage(
        channel="C1", text="x", blocks=[button("x" * 75)] + [{"type": "divider"}] * 49
    )
    assert ok["ok"]
    assert s.messages("C1")[0]["blocks"][0]["elements"][0]["text"]["text"] == "x" * 75

    err = await api_error(
        client.views_open(trigger_id="t", view=modal([{"type": "divider"}] * 101))
    )
    assert err.response["error"] == "invalid_blocks"


# --------------------------------------------------------------------------- directory


async def test_users_info_tz(s, client):
    s.add_user("U1", name="maria", tz="America/Los_Angeles", is_admin=True)
    user = (await client.users_info(user="U1"))["user"]
    assert user["id"] == "U1" and user["team_id"] == "T1" and user["name"] == "maria"
    assert user["tz"] == "America/Los_Angeles"
    assert user["tz_offset"] in (-28800, -25200)
    assert user["tz_label"] in ("Pacific Standard Time", "Pacific Daylight Time")
    assert user["is_admin"] is True and user["is_bot"] is False
    assert user["profile"]["display_name"] == "maria"
    err = await api_error(client.users_info(user="U404"))
    assert err.response["error"] == "user_not_found"


async def test_channel_membership(s, client):
    s.add_channel("C2", name="secret", bot_member=False)
    err = await api_error(client.chat_postMessage(channel="C2", text="x"))
    assert err.response["error"] == "not_in_channel"
    s.add_channel("C4", name="general")
    assert (await client.chat_postMessage(channel="#general", text="x"))["channel"] == "C4"
    assert (await client.chat_postMessage(channel="CNEW", text="x"))["ok"]  # auto-created
    err = await api_error(client.chat_postMessage(channel="#nowhere", text="x"))
    assert err.response["error"] == "channel_not_found"


# --------------------------------------------------------------------------- messages


async def test_chat_update_replaces_in_place_and_delete(s, client):
    a = await client.chat_postMessage(channel="C1", text="first")
    b = await client.chat_postMessage(channel="C1", text="second")
    upd = await client.chat_update(channel="C1", ts=a["ts"], text="edited", blocks=[button("Ok")])
    assert upd["ts"] == a["ts"] and upd["text"] == "edited"
    msgs = s.messages("C1")
    assert [m["ts"] for m in msgs] == [a["ts"], b["ts"]]
    assert msgs[0]["text"] == "edited" and msgs[0]["blocks"][0]["type"] == "actions"
    assert "edited" in msgs[0]
    err = await api_error(client.chat_update(channel="C1", ts="123.456", text="x"))
    assert err.response["error"] == "message_not_found"
    await client.chat_delete(channel="C1", ts=b["ts"])
    assert [m["ts"] for m in s.messages("C1")] == [a["ts"]]


async def test_threads_history_and_metadata(s, client):
    meta = {"event_type": "case", "event_payload": {"id": 7}}
    parent = await client.chat_postMessage(channel="C1", text="parent", metadata=meta)
    r1 = await client.chat_postMessage(channel="C1", text="r1", thread_ts=parent["ts"])
    await client.chat_postMessage(channel="C1", text="r2", thread_ts=parent["ts"])
    later = await client.chat_postMessage(channel="C1", text="later")

    assert [m["text"] for m in s.thread("C1", parent["ts"])] == ["r1", "r2"]
    assert s.messages("C1")[0]["metadata"] == meta

    replies = await client.conversations_replies(channel="C1", ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["parent", "r1", "r2"]
    assert replies["messages"][0]["reply_count"] == 2
    assert "metadata" not in replies["messages"][0]

    history = await client.conversations_history(channel="C1", include_all_metadata=True)
    assert [m["ts"] for m in history["messages"]] == [later["ts"], parent["ts"]]
    assert history["messages"][1]["metadata"] == meta

    link = await client.chat_getPermalink(channel="C1", message_ts=r1["ts"])
    assert link["permalink"].startswith(
        f"https://example.slack.com/archives/C1/p{r1['ts'].replace('.', '')}"
    )


async def test_ephemeral_recorded(s, client):
    s.add_channel("C3", members=["U1"])
    resp = await client.chat_postEphemeral(channel="C3", user="U1", text="only you")
    assert resp["message_ts"]
    assert s.ephemerals == [
        {
            "channel": "C3",
            "user": "U1",
            "text": "only you",
            "blocks": [],
            "thread_ts": None,
            "message_ts": resp["message_ts"],
        }
    ]
    err = await api_error(client.chat_postEphemeral(channel="C3", user="U2", text="x"))
    assert err.response["error"] == "user_not_in_channel"
    assert s.messages("C3") == []


async def test_dm_by_user_id_and_reset(s, client):
    s.add_user("U1", name="maria")
    resp = await client.chat_postMessage(channel="U1", text="psst")
    assert resp["channel"].startswith("D")
    assert [m["text"] for m in s.messages("U1")] == ["psst"]
    assert s.messages(resp["channel"]) == s.messages("U1")
    s.reset()
    assert s.calls == [] and s.messages("U1") == []
    assert (await client.users_info(user="U1"))["user"]["name"] == "maria"  # directory kept


# --------------------------------------------------------------------------- views


async def test_views_open_update_publish(s, client):
    opened = await client.views_open(trigger_id="123.456.abc", view=modal(callback_id="rec"))
    view_id = opened["view"]["id"]
    assert view_id.startswith("V") and opened["view"]["callback_id"] == "rec"
    assert s.views[view_id]["title"]["text"] == "Recover"

    updated = await client.views_update(view_id=view_id, view=modal([button("Next")]))
    assert updated["view"]["id"] == view_id
    assert s.views[view_id]["blocks"][0]["type"] == "actions"
    err = await api_error(client.views_update(view_id="VNOPE", view=modal()))
    assert err.response["error"] == "not_found"
    err = await api_error(client.views_update(view_id=view_id, hash="stale", view=modal()))
    assert err.response["error"] == "hash_conflict"

    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
    }
    published = await client.views_publish(user_id="U1", view=home)
    assert s.home["U1"]["id"] == published["view"]["id"]
    err = await api_error(client.views_open(trigger_id="t", view={"type": "modal", "blocks": []}))
    assert err.response["error"] == "invalid_arguments"  # modal without title


# --------------------------------------------------------------------------- response URLs, files


async def test_response_url_recording(s):
    url = s.response_url("r1")
    assert url == f"{s.base_url}/respond/r1"
    resp = await AsyncWebhookClient(url).send(text="done", response_type="ephemeral")
    assert resp.status_code == 200
    assert s.responses[0]["key"] == "r1"
    assert s.responses[0]["body"]["text"] == "done"

    s.fail("respond", status=404, error="expired_url")
    resp = await AsyncWebhookClient(s.response_url()).send(text="late")
    assert resp.status_code == 404 and s.responses[-1]["status"] == 404


async def test_file_upload_flow(s, client):
    resp = await client.files_upload_v2(
        channel="C1",
        content=b"line1\nline2",
        filename="log.txt",
        title="Log",
        initial_comment="see",
    )
    file_id = resp["file"]["id"]
    record = s.files[file_id]
    assert record["bytes"] == b"line1\nline2"
    assert record["filename"] == "log.txt" and record["title"] == "Log"
    assert record["channel_id"] == "C1" and record["initial_comment"] == "see"
    assert record["completed"] is True
    assert s.messages("C1")[-1]["files"][0]["id"] == file_id


# --------------------------------------------------------------------------- Socket Mode


async def test_socket_mode_raw_client_hello_envelope_ack(s):
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(s.socket_url) as ws:
            hello = await ws.receive_json(timeout=1)
            assert hello["type"] == "hello" and hello["connection_info"]["app_id"] == "A1"
            await s.wait_socket_connected(timeout=1)
            sending = asyncio.create_task(
                s.socket_send("slash_commands", {"text": "hi"}, timeout=1)
            )
            envelope = await ws.receive_json(timeout=1)
            assert envelope["type"] == "slash_commands"
            assert envelope["payload"] == {"text": "hi"}
            assert envelope["accepts_response_payload"] is True
            await ws.send_json({"envelope_id": envelope["envelope_id"], "payload": {"text": "ok"}})
            ack = await sending
            assert ack == {"envelope_id": envelope["envelope_id"], "payload": {"text": "ok"}}


async def test_socket_mode_with_slack_sdk_client(s):
    web_client = AsyncWebClient(base_url=s.api_url)
    sm = SocketModeClient(app_token="xapp-test", web_client=web_client, ping_interval=1)

    async def listener(client, req):
        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=req.envelope_id, payload={"seen": req.payload["text"]})
        )

    sm.socket_mode_request_listeners.append(listener)
    try:
        await sm.connect()
        await s.wait_socket_connected(timeout=2)
        ack = await s.socket_send("slash_commands", {"text": "/recover"}, timeout=2)
        assert ack["payload"] == {"seen": "/recover"}
        assert s.calls_to("apps.connections.open")[0].token == "xapp-test"
    finally:
        await sm.close()


async def test_socket_mode_with_bolt_handler(s):
    """The path Mend uses: Bolt's AsyncSocketModeHandler connected to the stand-in."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from slack_bolt.async_app import AsyncApp

    app = AsyncApp(client=AsyncWebClient(token="xoxb-test", base_url=s.api_url))

    @app.command("/recover")
    async def recover(ack, say, command):
        await ack(f"on it: {command['text']}")
        await say("recovering")

    handler = AsyncSocketModeHandler(
        app, "xapp-test", web_client=AsyncWebClient(base_url=s.api_url)
    )
    try:
        await handler.connect_async()
        ack = await s.socket_send(
            "slash_commands",
            {"command": "/recover", "text": "db-1", "user_id": "U1", "channel_id": "C1"},
            timeout=2,
        )
        assert ack["payload"] == {"text": "on it: db-1"}
        await s.wait_for("chat.postMessage", timeout=2)
        assert s.messages("C1")[-1]["text"] == "recovering"
    finally:
        await handler.close_async()


# --------------------------------------------------------------------------- signing and driver


def test_sign_request_matches_slack_sdk_verifier():
    body = b"token=x&text=hello+world"
    headers = sign_request(SECRET, body)
    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid(
        body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    )
    assert verifier.is_valid_request(body, headers)
    old = sign_request(SECRET, body, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(body, old)
    assert not SignatureVerifier("other").is_valid_request(body, headers)


@pytest.fixture
async def echo_app():
    """A tiny app that checks signatures with slack_sdk and records requests."""
    received: list[dict] = []
    verifier = SignatureVerifier(SECRET)

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        received.append({"body": body, "headers": dict(request.headers)})
        if not verifier.is_valid_request(body, dict(request.headers)):
            return web.Response(status=401, text="invalid request")
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/slack/events", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/slack/events", received
    await runner.cleanup()


async def test_driver_requests_are_slack_shaped(s, echo_app):
    url, received = echo_app
    s.add_user("U1", name="maria")
    s.add_channel("C1", name="support")
    posted = await AsyncWebClient(token="xoxb-test", base_url=s.api_url).chat_postMessage(
        channel="C1", text="pick", blocks=[{**button("Go", "go"), "block_id": "pick"}]
    )
    async with MendDriver(url, SECRET, standin=s) as d:
        reply = await d.command("deploy now")
        assert reply.status == 200 and reply.json == {"ok": True}
        form = {k: v[0] for k, v in parse_qs(received[-1]["body"].decode()).items()}
        assert form["command"] == "/recover" and form["text"] == "deploy now"
        assert form["user_name"] == "maria" and form["channel_name"] == "support"
        assert form["is_enterprise_install"] == "false"
        assert form["response_url"] == reply.response_url
        assert reply.response_url.startswith(f"{s.base_url}/respond/")
        assert received[-1]["headers"]["Content-Type"] == "application/x-www-form-urlencoded"

        bad = await d.command("x", signature="v0=deadbeef")
        assert bad.status == 401
        stale = await d.command("x", timestamp=int(time.time()) - 3600)
        assert stale.status == 401
        await d.command("x", extra={"trigger_id": None, "enterprise_id": "E1"})
        form = parse_qs(received[-1]["body"].decode())
        assert "trigger_id" not in form and form["enterprise_id"] == ["E1"]

        await d.block_action("go", value="v1", message_ts=posted["ts"])
        payload = json.loads(parse_qs(received[-1]["body"].decode())["payload"][0])
        assert payload["type"] == "block_actions"
        assert payload["actions"][0]["block_id"] == "pick"
        assert payload["actions"][0]["value"] == "v1"
        assert payload["message"]["text"] == "pick"
        assert payload["container"]["message_ts"] == posted["ts"]

        await d.block_action("who", selected={"selected_user": "U2"})
        action = json.loads(parse_qs(received[-1]["body"].decode())["payload"][0])["actions"][0]
        assert action["type"] == "users_select" and action["selected_user"] == "U2"

        values = {"b1": {"reason": {"type": "plain_text_input", "value": "lost"}}}
        await d.view_submission("recover_modal", values, private_metadata="C1")
        payload = json.loads(parse_qs(received[-1]["body"].decode())["payload"][0])
        assert payload["view"]["state"]["values"] == values
        assert payload["view"]["callback_id"] == "recover_modal"

        reply = await d.event({"type": "app_mention", "text": "hi", "user": "U1", "channel": "C1"})
        body = json.loads(received[-1]["body"])
        assert body["type"] == "event_callback" and body["event"]["type"] == "app_mention"
        assert received[-1]["headers"]["Content-Type"] == "application/json"

        raw = await d.raw(b"not a form", "text/plain", sign=False)
        assert raw.status == 401


async def test_driver_against_real_bolt_app(s):
    """End to end: driver -> Bolt AsyncApp over HTTP -> stand-in."""
    from slack_bolt.async_app import AsyncApp

    app = AsyncApp(
        client=AsyncWebClient(token="xoxb-test", base_url=s.api_url), signing_secret=SECRET
    )

    @app.command("/recover")
    async def recover(ack, respond, say, command):
        await ack("working")
        await respond(f"recovering {command['text']}")
        await say("posted")

    runner = web.AppRunner(app.web_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    try:
        async with MendDriver(url, SECRET, standin=s) as d:
            reply = await d.command("db-1")
            assert reply.status == 200 and reply.body == "working"
            await s.wait_until(lambda: s.responses, timeout=2, what="respond()")
            await s.wait_for("chat.postMessage", timeout=2)
            assert s.responses[0]["body"]["text"] == "recovering db-1"
            assert s.messages("C1")[-1]["text"] == "posted"
            assert (await d.command("x", signature="v0=bad")).status == 401
    finally:
        await runner.cleanup()
