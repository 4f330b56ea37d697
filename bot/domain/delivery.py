"""How Mend's own messages move towards Slack, as the handlers may change it.

Cards: pending -> posting (recorded just before the post) -> posted | failed, or back to
pending when Slack did not take it. Outbox rows (nudges, digests): pending -> sending
(claimed before the message goes out) -> sent, back to pending to retry later, or
dropped as cancelled or failed. An interaction seen once is never handled twice.
The handlers post and read Slack; every change of these states goes through here.
"""

from __future__ import annotations

from typing import Any

from bot.domain.models import Nudge, Timer
from bot.domain.vocabulary import CardState

DROPPED = ("cancelled", "failed", "skipped")  # outbox rows that will never be sent


class Delivery:
    """The write side of cards, the outbox and seen interactions, over the store."""

    def __init__(self, store):
        self.store = store

    # -- cards ---------------------------------------------------------------------------
    async def claim_card(self, team_id: str, case_id: int, at: str):
        """pending -> posting, before the post: the case as claimed, with its steps and
        its workspace's settings (what the card shows); None when it is not pending
        (another process has it, or it is out)."""
        return await self.store.claim_card(team_id, case_id, at)

    async def release_card(self, team_id: str, case_id: int, at: str) -> None:
        """posting -> pending: Slack did not take it; a later sweep posts it."""
        await self.store.set_card_state(team_id, case_id, CardState.POSTING,
                                        CardState.PENDING, at)

    async def card_posted(self, team_id: str, case_id: int, channel: str, ts: str,
                          at: str) -> None:
        await self.store.record_card(team_id, case_id, channel, ts, at)

    async def card_failed(self, team_id: str, case_id: int, error: str, at: str) -> None:
        """Slack refused the card for a reason no retry will change."""
        await self.store.record_card_failed(team_id, case_id, error, at)

    # -- the outbox ------------------------------------------------------------------------
    async def record_plans(self, team_id: str, processed: list[Timer], timers: list[Timer],
                           send: list[tuple[int, dict[str, Any]]],
                           skip: list[tuple[int, dict[str, Any]]], at: str) -> None:
        """A sweep's decisions, in one transaction: timers done and next, rows to send."""
        await self.store.apply_sweep(team_id, processed=processed, timers=timers, send=send,
                                     skip=skip, at=at)

    async def queue_digest(self, team_id: str, week: str, at: str) -> bool:
        return await self.store.enqueue_digest(team_id, week, at)

    async def claim(self, nudge: Nudge, channel: str, thread_ts: str | None, at: str) -> bool:
        """pending -> sending, recorded before the message goes out."""
        return await self.store.claim_nudge(nudge, channel, thread_ts, at)

    async def sent(self, nudge: Nudge, ts: str, at: str) -> bool:
        return await self.store.nudge_sent(nudge, ts, at)

    async def retry(self, nudge: Nudge, send_after: str, error: str, at: str) -> bool:
        return await self.store.nudge_retry(nudge, send_after, error, at)

    async def drop(self, nudge: Nudge, state: str, error: str, at: str,
                   before: str = "pending") -> bool:
        """A row that will never be sent: the case moved on, or Slack refused for good."""
        if state not in DROPPED:
            raise ValueError(f"an outbox row is dropped as one of {DROPPED}, not {state!r}")
        return await self.store.nudge_dropped(nudge, state, error, at, before=before)

    # -- interactions -------------------------------------------------------------------------
    async def first_time(self, team_id: str, key: str, at: str) -> bool:
        """True the first time `key` is seen: a retried interaction is handled once."""
        return await self.store.first_time(team_id, key, at)

    # -- cases from messages ---------------------------------------------------------------
    async def claim_message(self, team_id: str, channel: str, ts: str, at: str) -> bool:
        """True the first time a message is claimed to open a case: once per message."""
        return await self.store.claim_message(team_id, channel, ts, at)

    async def record_message_case(self, team_id: str, channel: str, ts: str,
                                  case_id: int | None) -> None:
        """The case a claimed message opened (None: none could be opened)."""
        await self.store.record_message_case(team_id, channel, ts, case_id)
