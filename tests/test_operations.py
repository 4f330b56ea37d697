"""Operating Mend: /metrics, /readyz and the JSON log format, through signed HTTP."""

from __future__ import annotations

import io
import json
import logging
import re
from collections import Counter

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.runtime import health
from bot.runtime.jsonlog import JsonFormatter, bind_request, unbind
from bot.runtime.logs import WithholdContent
from tests.helpers import (
    APP_TOKEN,
    DANA_REPORT,
    LA_MORNING,
    REPORT,
    nudges,
    replace_settings,
    start_mend,
    sweep,
)

CUSTOMER_WORDS = ("acme", "dana", "furious", "charged", "upset", "order", "late")


@pytest.fixture
def clock(clock):
    clock.set(LA_MORNING)
    return clock


def base(running) -> str:
    return running.url.rsplit("/slack/events", 1)[0]


async def get(running, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(base(running) + path) as resp:
        return resp.status, await resp.text()


async def scrape(running) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    status, text = await get(running, "/metrics")
    assert status == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(samples, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def nudge_due_now(running, clock) -> None:
    await running.mend.deps.lifecycle.set_followup("T1", 1, "U1", clock.now())


# -- metrics ------------------------------------------------------------------------------
async def test_100_recovers_and_one_nudge_show_exactly_those_counts(mend, slack, slack_user,
                                                                  clock):
    for _ in range(100):
        reply = await slack_user.command(REPORT, user_id="U1", channel_id="C1")
        assert reply.status == 200
    await mend.settle()
    await nudge_due_now(mend, clock)
    for _ in range(2):
        await sweep(mend)
    assert len(nudges(slack)) == 1
    samples = await scrape(mend)
    assert value(samples, "mend_cases_opened_total") == 100
    assert value(samples, "mend_nudges_sent_total") == 1
    assert value(samples, "mend_nudges_retried_total") == 0
    assert value(samples, "mend_nudges_failed_total") == 0
    assert value(samples, "mend_cases_resolved_total") == 0
    assert value(samples, "mend_ack_seconds_count", surface="command") == 100
    assert value(samples, "mend_sweep_seconds_count") == 2
    assert value(samples, "mend_outbox_backlog") == 0
    assert value(samples, "mend_outbox_oldest_unsent_age_seconds") == 0
    # Every Web API call the stand-in saw is counted, by method.
    seen = Counter(call.method for call in slack.calls)
    counted = Counter()
    for (name, labels), n in samples.items():
        if name == "mend_slack_api_calls_total":
            counted[dict(labels)["method"]] += int(n)
    assert counted == seen
    replica = mend.mend.metrics.replica
    assert value(samples, "mend_sweep_lease_holder", replica=replica) == 1
    assert value(samples, "mend_replica_info", replica=replica) == 1


async def test_resolved_and_closed_cases_are_counted(mend, slack_user, clock):
    await slack_user.command(REPORT, user_id="U1", channel_id="C1")
    await mend.settle()
    life = mend.mend.deps.lifecycle
    await life.resolve("T1", 1, "U1", what="refunded")
    await mend.settle()
    samples = await scrape(mend)
    assert value(samples, "mend_cases_resolved_total") == 1


async def test_an_unsent_nudge_shows_in_the_backlog_with_its_age(mend, slack, slack_user,
                                                                clock):
    await slack_user.command(REPORT, user_id="U1", channel_id="C1")
    await mend.settle()
    await nudge_due_now(mend, clock)
    slack.fail("chat.postMessage", error="service_unavailable")  # down: try again later
    await sweep(mend)
    await sweep(mend)
    assert nudges(slack) == []
    clock.advance(minutes=11)
    samples = await scrape(mend)
    assert value(samples, "mend_nudges_retried_total") == 1
    assert value(samples, "mend_outbox_backlog") == 1
    # The README's sample alert: oldest unsent nudge older than 10 minutes.
    assert value(samples, "mend_outbox_oldest_unsent_age_seconds") > 600
    assert value(samples, "mend_slack_api_calls_total", method="chat.postMessage",
                 error="service_unavailable") == 1


async def test_a_429_counts_with_the_retry_after_waited(mend, slack, slack_user):
    slack.fail("chat.postMessage", status=429, retry_after=0)
    await slack_user.command(REPORT, user_id="U1", channel_id="C1")
    await mend.settle()
    samples = await scrape(mend)
    assert value(samples, "mend_slack_rate_limited_total", method="chat.postMessage") == 1
    assert 0 <= value(samples, "mend_slack_retry_after_seconds_total") < 1
    assert value(samples, "mend_slack_api_calls_total", method="chat.postMessage",
                 error="ratelimited") == 1


async def test_no_metric_label_carries_customer_text_or_a_user_id(mend, slack, slack_user,
                                                                  clock):
    await slack_user.command(REPORT, user_id="U1", channel_id="C1")
    await slack_user.command(DANA_REPORT, user_id="U2", channel_id="C1")
    slack.fail("chat.postMessage", error="channel_not_found")
    await slack_user.command(REPORT + " again", user_id="U1", channel_id="C1")
    await mend.settle()
    await nudge_due_now(mend, clock)
    await sweep(mend)
    samples = await scrape(mend)
    labels = {v for (_, pairs) in samples for _, v in pairs}
    for label in labels:
        assert not any(word in label.lower() for word in CUSTOMER_WORDS), label
        assert not re.search(r"\b(U1|U2|ULEAD|C1)\b", label), label
    methods = {v for (name, pairs) in samples for k, v in pairs if k == "method"}
    assert "chat.postMessage" in methods


async def test_metrics_can_be_turned_off(settings, clock):
    running = await start_mend(replace_settings(settings, metrics=False), clock)
    try:
        assert (await get(running, "/metrics"))[0] == 404
        assert (await get(running, "/readyz"))[0] == 200
    finally:
        await running.stop()


# -- readiness -------------------------------------------------------------------------------
async def test_readyz_checks_the_schema_and_fails_first_on_shutdown(mend):
    status, text = await get(mend, "/readyz")
    body = json.loads(text)
    assert status == 200 and body["ready"] and body["schema"] == body["expected_schema"]
    mend.mend.expected_schema += 1  # a database at another schema than this Mend reads
    assert (await get(mend, "/readyz"))[0] == 503
    mend.mend.expected_schema -= 1
    mend.mend.stopping = True  # shutdown's first step
    status, text = await get(mend, "/readyz")
    assert status == 503 and json.loads(text)["stopping"]
    assert (await get(mend, "/healthz"))[0] == 200  # still alive while it drains


async def test_socket_mode_is_ready_once_the_socket_is_connected(settings, clock):
    running = await start_mend(replace_settings(settings, app_token=APP_TOKEN,
                                                signing_secret=None), clock)
    ops = await running.mend.serve_ops("127.0.0.1", 0)
    url = f"http://127.0.0.1:{ops.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/readyz") as resp:
                assert resp.status == 503
                assert (await resp.json())["socket"] == "disconnected"
            handler = await running.mend.connect_socket()
            try:
                async with http.get(url + "/readyz") as resp:
                    assert resp.status == 200, await resp.text()
                for path in ("/healthz", "/metrics"):
                    async with http.get(url + path) as resp:
                        assert resp.status == 200
                async with http.post(url + "/slack/events") as resp:
                    assert resp.status in (404, 405)  # only operations' endpoints here
            finally:
                await handler.close_async()
    finally:
        await ops.cleanup()
        await running.stop()


async def test_readiness_without_a_socket_handler():
    class Store:
        schema_version = 3

        async def ping(self):
            return True

    class Fake:
        deps = type("Deps", (), {"store": Store()})()
        settings = type("S", (), {"socket_mode": True})()
        stopping, socket, expected_schema = False, None, 3

    body = await health.readiness(Fake())
    assert not body["ready"] and body["socket"] == "disconnected"


# -- structured logs -------------------------------------------------------------------------
@pytest.fixture
def json_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("replica-a"))
    handler.addFilter(WithholdContent())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


async def test_json_logs_carry_ids_and_no_customer_text(mend, slack, slack_user, json_lines):
    slack.fail("chat.postMessage", error="channel_not_found")  # Mend logs the failure
    await slack_user.command(DANA_REPORT, user_id="U1", channel_id="C1")
    await mend.settle()
    # A library line quoting a request body and a response URL is withheld, in JSON too.
    logging.getLogger("slack_bolt.App").warning(
        "Failed to verify: body %s https://hooks.slack.com/x", DANA_REPORT)
    tokens = bind_request({"team_id": "T1", "event_id": "Ev123", "text": DANA_REPORT})
    logging.getLogger("mend.test").info("handled", extra={"case": 7})
    unbind(tokens)
    lines = json_lines()
    assert lines, "nothing was logged"
    for line in lines:
        assert {"time", "level", "message", "team_id", "case", "slack_event_id",
                "replica"} <= set(line)
        assert line["replica"] == "replica-a"
        text = json.dumps(line).lower()
        assert not any(word in text for word in CUSTOMER_WORDS), line
        assert "hooks.slack.com" not in text and "xoxb" not in text
    card = [line for line in lines if "not posted" in line["message"]]
    assert card and card[0]["team_id"] == "T1"  # bound for the request, seen in its tasks
    [mine] = [line for line in lines if line["message"] == "handled"]
    assert (mine["team_id"], mine["slack_event_id"], mine["case"]) == ("T1", "Ev123", "7")


def test_ids_that_are_not_ids_are_not_logged():
    tokens = bind_request({"team_id": "T1 furious customer", "event_id": "Ev1"})
    record = logging.LogRecord("mend", logging.INFO, "", 0, "x", (), None)
    line = json.loads(JsonFormatter("r").format(record))
    unbind(tokens)
    assert line["team_id"] is None and line["slack_event_id"] == "Ev1"


def test_log_format_json_is_chosen_by_the_environment(monkeypatch):
    from bot.runtime import logs

    root = logging.getLogger()
    saved = [(h, h.formatter) for h in root.handlers]
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        monkeypatch.setenv("MEND_LOG_FORMAT", "json")
        logs.configure()
        assert isinstance(handler.formatter, JsonFormatter)
        assert any(isinstance(f, WithholdContent) for f in handler.filters)
    finally:
        root.removeHandler(handler)
        for h, formatter in saved:
            h.setFormatter(formatter)

