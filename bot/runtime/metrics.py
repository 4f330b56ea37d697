"""Mend's Prometheus metrics, served as text on `GET /metrics` (`MEND_METRICS=0`: off).

Each running Mend has a registry of its own. Counters count in this process (a
replica); what every replica must report alike (the outbox backlog, the age of the
oldest unsent nudge, who holds the sweep lease) is read from the database at
scrape time. Labels are names from a fixed set (a surface, a Web API method, a
Slack error code, a replica id): never customer text, never a user id.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from bot.domain.times import from_iso, to_iso
from bot.runtime.jsonlog import bind_request, unbind

ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
SWEEP_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0)
SURFACES = {
    "block_actions": "action", "interactive_message": "action",
    "view_submission": "view", "view_closed": "view",
    "event_callback": "event",
    "shortcut": "shortcut", "message_action": "shortcut",
    "block_suggestion": "options",
}
# What the storage tells after a commit -> the counter it counts in.
TOPICS = {
    "case.opened": "cases_opened", "case.resolved": "cases_resolved",
    "case.closed": "cases_closed", "nudge.sent": "nudges_sent",
    "nudge.retried": "nudges_retried", "nudge.failed": "nudges_failed",
}


def surface_of(body: dict) -> str:
    """command, action, view, event (or shortcut, options, other) for a request body."""
    if not isinstance(body, dict):
        return "other"
    if body.get("command"):
        return "command"
    return SURFACES.get(str(body.get("type") or ""), "other")


class Metrics:
    """The metrics of one running Mend; hand it to the storage, client and Bolt."""

    def __init__(self, replica: str):
        self.replica = replica
        self.registry = r = CollectorRegistry()
        self.ack = Histogram("mend_ack_seconds", "Time to answer Slack (ack), by surface",
                             ["surface"], buckets=ACK_BUCKETS, registry=r)

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, registry=r)

        self.cases_opened = counter("mend_cases_opened", "Cases opened")
        self.cases_resolved = counter("mend_cases_resolved", "Cases resolved")
        self.cases_closed = counter("mend_cases_closed", "Cases closed")
        self.nudges_sent = counter("mend_nudges_sent", "Nudges and digests posted")
        self.nudges_retried = counter("mend_nudges_retried",
                                      "Nudges put back in the outbox to try again")
        self.nudges_failed = counter("mend_nudges_failed", "Nudges given up on")
        self.slack_calls = counter("mend_slack_api_calls",
                                   "Slack Web API attempts, by method and outcome",
                                   ("method", "error"))
        self.rate_limited = counter("mend_slack_rate_limited",
                                    "Slack 429 answers, by method", ("method",))
        self.retry_after = counter("mend_slack_retry_after_seconds",
                                   "Seconds waited on Slack's Retry-After")
        self.sweep = Histogram("mend_sweep_seconds", "Duration of a scheduler sweep",
                               buckets=SWEEP_BUCKETS, registry=r)
        self.backlog = Gauge("mend_outbox_backlog",
                             "Nudges and digests not sent yet (from the database)",
                             registry=r)
        self.oldest = Gauge("mend_outbox_oldest_unsent_age_seconds",
                            "Age of the oldest unsent outbox row, 0 when none "
                            "(from the database)", registry=r)
        self.lease = Gauge("mend_sweep_lease_holder",
                           "1 for the replica holding the sweep lease (from the database)",
                           ["replica"], registry=r)
        Gauge("mend_replica_info", "This process's replica id", ["replica"],
              registry=r).labels(replica).set(1)

    # -- hooks -----------------------------------------------------------------------
    def on_store(self, topic: str) -> None:
        """The storage's observer: a change committed."""
        name = TOPICS.get(topic)
        if name:
            getattr(self, name).inc()

    def api_call(self, method: str, outcome: str) -> None:
        self.slack_calls.labels(method, outcome).inc()

    def rate_limited_wait(self, method: str, waited: float) -> None:
        self.rate_limited.labels(method).inc()
        self.retry_after.inc(waited)

    def on_sweep(self, seconds: float) -> None:
        self.sweep.observe(seconds)

    def timed_dispatch(self, dispatch: Callable[..., Awaitable]) -> Callable[..., Awaitable]:
        """Wrap Bolt's `async_dispatch`: the time to the ack (listeners ack first, then
        spawn slow work), by surface; and the request's ids bound for the logs."""

        async def dispatch_timed(request):
            surface = surface_of(request.body)
            tokens = bind_request(request.body)
            started = time.perf_counter()
            try:
                return await dispatch(request)
            finally:
                self.ack.labels(surface).observe(time.perf_counter() - started)
                unbind(tokens)

        return dispatch_timed

    # -- scraping ------------------------------------------------------------------------
    async def read_database(self, store, now: datetime, lease: str) -> None:
        """Refresh what the database knows: backlog, its oldest row, the lease holder."""
        count, oldest = await store.outbox_backlog()
        self.backlog.set(count)
        age = (now - from_iso(oldest)).total_seconds() if oldest else 0.0
        self.oldest.set(max(0.0, age))
        holder = await store.lease_holder(lease, to_iso(now))
        self.lease.clear()
        if holder:
            self.lease.labels(holder.rsplit("/", 1)[0]).set(1)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class ClientObserver:
    """Adapts Metrics to slack_client's CallObserver."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def api_call(self, method: str, outcome: str) -> None:
        self.metrics.api_call(method, outcome)

    def rate_limited(self, method: str, waited: float) -> None:
        self.metrics.rate_limited_wait(method, waited)
