"""The scheduler: finds due follow-ups and nudges their owners, exactly once.

Every sweep (each `MEND_SWEEP_SECONDS`), the process holding the lease:
1. settles nudges left "in doubt" by a crash or a timeout (see below);
2. plans the ladder for cases whose next rung is due, writing outbox rows
   (unique per case, kind, due time and rung) in the same transaction as the
   case's ladder state;
3. sends pending rows, paced per channel: each row is marked 'sending'
   before the message goes out and 'sent' after Slack answers ok.

Exactly once, across crashes: a row still 'sending' means we may or may not
have posted it (the process died between sending and marking, or Slack's
answer timed out). Every nudge carries its outbox key in message metadata,
so before sending again we read the case thread (or the lead channel): if a
message with that key is there, the row is marked sent; only if it is not is
the row sent again. 429s (honouring Retry-After) are retried: Slack did not
post then. Timeouts, dropped connections and 5xx answers are not retried
blindly (Slack sometimes stores the message and answers 500): the row stays
'sending' and is settled as above.
Two processes on one database never both send: only the lease holder sweeps.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError

from bot.domain.models import Case, Nudge, Timer
from bot.domain.schedule import (
    Hours,
    Planner,
    digest_moment,
    working_time,
    zone,
)
from bot.domain.times import from_iso, to_iso
from bot.domain.vocabulary import CardState, NudgeKind, Severity, Status
from bot.runtime.scheduler import SweepReport
from bot.runtime.slack_client import AMBIGUOUS, doubt, in_doubt
from handlers import nudge_blocks
from handlers.cards import PERMANENT, find_message, refresh_card, resume_cards
from handlers.context import Deps
from handlers.ids import NUDGE_METADATA_TYPE

log = logging.getLogger("mend.nudges")
# Lookup answers after which a nudge can never be delivered.
GONE = {"thread_not_found", "channel_not_found", "not_in_channel", "is_archived",
        "message_not_found"}
RETRY_AFTER = timedelta(minutes=1)  # times the attempts made so far
MAX_RETRY_AFTER = timedelta(minutes=15)
UNKNOWN_ZONE_WAIT = timedelta(hours=1)
MAX_ATTEMPTS = 5  # for errors other than Slack being down (invalid_auth won't pass)
TRANSIENT = {"ratelimited", "service_unavailable", "request_timeout"}  # (5xx: in doubt)
LEAD_CHANNEL_FAILED = "lead channel: "
DIGEST_CATCH_UP = timedelta(hours=24)


class Nudger:
    """The Slack side of the scheduler's sweep: settles nudges in doubt, plans due
    follow-ups, queues the digest and sends, for one workspace at a time."""

    def __init__(self, deps: Deps):
        self.deps = deps  # posts with deps.clients.poster: no blind retry of timeouts
        self.inflight: set[int] = set()
        # Set by the scheduler: a paced send checks the lease is still ours, and a row
        # claimed within a lease length may still be in flight.
        self.hold_lease = _no_lease
        self.lease_length = timedelta(minutes=1)

    async def sweep_workspace(self, team_id: str, now: datetime, report: SweepReport) -> None:
        report.recovered += await self.recover(team_id)
        report.planned += await self.plan(team_id, now)
        await self.plan_digest(team_id, now)
        report.queued += await self.send(team_id, now)
        await resume_cards(self.deps, team_id)

    # -- planning ---------------------------------------------------------------------
    async def plan(self, team_id: str, now: datetime) -> int:
        """Plan every due timer of a workspace; one transaction records it all."""
        store, rules = self.deps.store, self.deps.recovery.playbook.nudges
        zones = await self._zones(team_id, await store.due_people(team_id, to_iso(now)))
        # The workspace, the timers and their cases are read after Slack answered:
        # meanwhile someone may have pressed Done or reassigned a case. From here to
        # the end nothing awaits, so what is planned is what is applied.
        ws = await store.workspace(team_id)
        fallback = ws.tz  # when Slack can't tell us theirs
        planner = Planner(now, rules, Hours.from_rules(rules, ws))
        plans = [(timer, case, planner.plan(case, timer,
                                            zones.get(case.owner_id or case.reporter_id,
                                                      fallback)))
                 for timer, case in await store.due_timers(team_id, to_iso(now))
                 if self._zone_known(case, timer, zones, now)]
        await self.deps.delivery.record_plans(
            team_id, processed=[timer for timer, _, _ in plans],
            timers=[Timer(team_id=team_id, case_id=case.id, **plan.next)
                    for _, case, plan in plans if plan.next],
            send=[(case.id, row) for _, case, plan in plans for row in plan.send],
            skip=[(case.id, row) for _, case, plan in plans for row in plan.skip],
            at=to_iso(now))
        for timer, case, plan in plans:
            if plan.unassign:
                await self._unassign(case, now)
            elif timer.kind == NudgeKind.FOLLOWUP and timer.at == timer.due_key and \
                    case.card_ts and plan.next and not plan.send and not plan.skip:
                # Due outside working hours: the reminder waits for the morning, but the
                # card says at once that the follow-up is overdue (else the first
                # reminder's delivery updates it).
                refresh_card(self.deps, case)
        return sum(len(plan.send) for _, _, plan in plans)

    async def plan_digest(self, team_id: str, now: datetime) -> None:
        """Once a week (workspace day, time and timezone), the digest into the outbox."""
        ws = await self.deps.store.workspace(team_id)
        if not ws.lead_channel:
            return
        moment = digest_moment(now, ws.digest_on, ws.digest_at, ws.timezone)
        if moment <= now < moment + DIGEST_CATCH_UP:  # late after downtime, not days late
            week = moment.astimezone(zone(ws.tz)).strftime("%G-W%V")
            await self.deps.delivery.queue_digest(team_id, week, to_iso(now))

    async def _zones(self, team_id: str, owners: list[str]) -> dict[str | None, str]:
        """Owners' timezones (users.info, cached); an unowned case uses its reporter's.
        People Slack could not tell us about are left out."""
        people = await asyncio.gather(*(self.deps.people.get(team_id, o)
                                        for o in sorted(owners)))
        return {p.user_id: p.tz for p in people if p.known}

    @staticmethod
    def _zone_known(case: Case, timer: Timer, zones: dict, now: datetime) -> bool:
        """Wait for Slack to tell us the owner's timezone (the next sweeps ask again)
        rather than nudge them at 2 am; after a while, go ahead with the workspace's."""
        if (case.owner_id or case.reporter_id) in zones or case.severity == Severity.CRITICAL:
            return True  # critical cases are nudged at any hour: no zone needed
        # Counted from the follow-up's own due time, so later rungs don't wait again.
        since = timer.due_key if timer.kind == NudgeKind.FOLLOWUP else timer.at
        return now - from_iso(since) >= UNKNOWN_ZONE_WAIT

    async def _unassign(self, case: Case, now: datetime) -> None:
        latest = await self.deps.store.case_by_id(case.team_id, case.id) or case
        due = latest.next_followup_at or now.isoformat()
        done = await self.deps.lifecycle.unassign_overdue(latest, now - _parse(due, now))
        if done.changed:
            refresh_card(self.deps, done.case, done.before)

    # -- sending ----------------------------------------------------------------------
    async def send(self, team_id: str, now: datetime) -> int:
        """Claim due outbox rows and queue them on their channel's pacer."""
        queued = 0
        lead_channel = (await self.deps.store.workspace(team_id)).lead_channel
        for nudge in await self.deps.store.sendable_nudges(team_id, to_iso(now)):
            if nudge.kind == NudgeKind.DIGEST:
                queued += await self._send_digest(nudge, lead_channel, now)
                continue
            case = await self.deps.store.case_by_id(team_id, nudge.case_id)
            stale = self._stale(nudge, case)
            if stale:
                await self.deps.delivery.drop(nudge, "cancelled", stale, to_iso(now))
                continue
            if not case.card_ts:
                if case.card_state == CardState.FAILED:
                    await self.deps.delivery.drop(nudge, "failed", "no case card",
                                                        to_iso(now))
                continue  # the card is still on its way: the thread will exist soon
            channel, thread = case.card_channel, case.card_ts
            to_leads = nudge.kind == NudgeKind.ESCALATION and lead_channel
            if to_leads and not _lead_channel_failed(nudge):
                channel, thread = lead_channel, None
            if not await self.deps.delivery.claim(nudge, channel, thread, to_iso(now)):
                continue
            self.inflight.add(nudge.id)
            self.deps.pacer.submit(channel, lambda n=nudge, c=channel, t=thread:
                                   self._deliver(n, c, t))
            queued += 1
        return queued

    async def _send_digest(self, nudge: Nudge, channel: str | None, now: datetime) -> int:
        if not channel:
            await self.deps.delivery.drop(nudge, "cancelled", "no lead channel", to_iso(now))
            return 0
        if not await self.deps.delivery.claim(nudge, channel, None, to_iso(now)):
            return 0
        self.inflight.add(nudge.id)
        self.deps.pacer.submit(channel, lambda: self._deliver(nudge, channel, None))
        return 1

    @staticmethod
    def _stale(nudge: Nudge, case: Case | None) -> str | None:
        """Why a pending nudge no longer applies (None if it still does)."""
        if case is None or case.status == Status.CLOSED:
            return "case closed"
        if nudge.kind == NudgeKind.CUSTOMER_UPDATE:
            if case.status != Status.OPEN:
                return "case no longer open"
            return None if case.customer_updated_at == nudge.due_key else "customer updated"
        if case.next_followup_at != nudge.due_key:
            return "follow-up moved or done"
        return None

    async def _deliver(self, nudge: Nudge, channel: str, thread: str | None) -> None:
        store, now = self.deps.store, self.deps.clock.now()
        try:
            case = await store.case_by_id(nudge.team_id, nudge.case_id)
            stale = None if nudge.kind == NudgeKind.DIGEST else self._stale(nudge, case)
            if stale:  # it may have waited its turn a while
                await self.deps.delivery.drop(nudge, "cancelled", stale, to_iso(now),
                                              before="sending")
                return
            if not await self.hold_lease(now):
                return  # another process took over: it settles this row, not us
            if nudge.kind == NudgeKind.DIGEST:
                text, blocks = "Mend weekly digest", await self._digest(nudge.team_id, now)
                meta = nudge_blocks.digest_metadata(nudge)
            else:
                text, blocks = await self._render(nudge, case, now)
                meta = nudge_blocks.metadata(nudge, case)
            poster = await self.deps.clients.poster(nudge.team_id)
            resp = await poster.chat_postMessage(
                channel=channel, thread_ts=thread, text=text, blocks=blocks, metadata=meta,
                unfurl_links=False)
        except (SlackApiError, *AMBIGUOUS) as exc:
            if in_doubt(exc):  # maybe posted, maybe not: stays 'sending'; a sweep looks first
                log.warning("nudge %s in doubt: %s", nudge.id, doubt(exc))
            else:
                await self._refused(nudge, exc, now)
        else:
            await self.deps.delivery.sent(nudge, resp["ts"], to_iso(now))
            if nudge.kind == NudgeKind.FOLLOWUP and nudge.rung == 0 and case is not None:
                refresh_card(self.deps, case)  # the card now says the follow-up is overdue
        finally:
            self.inflight.discard(nudge.id)

    async def _digest(self, team_id: str, now: datetime) -> list:
        from bot.domain.views import stats_from, team_numbers
        from handlers.lead_blocks import digest_blocks

        store, playbook = self.deps.store, self.deps.recovery.playbook
        team = await team_numbers(store, playbook, team_id, now)
        stats = await stats_from(store, team_id, now - timedelta(days=7), now)
        shown = team["overdue_cases"] + team["unowned_cases"]
        ticks = await self.deps.store.step_counts(team_id, [c.id for c in shown])
        return digest_blocks(stats, team, self.deps.recovery.labels(), ticks, now)

    async def _render(self, nudge: Nudge, case: Case, now: datetime):
        label = self.deps.recovery.category_label(case.category)
        snooze = await self.deps.lifecycle.last_snooze(case.team_id, case.id)
        return nudge_blocks.nudge_message(
            nudge, case, label, now, self.deps.recovery.playbook.nudges.max_reminders,
            await self.deps.lifecycle.leads(case.team_id), snooze,
            await self._late(case, nudge, now))

    async def _late(self, case: Case, nudge: Nudge, now: datetime) -> timedelta:
        """How overdue, counted as the ladder counts it: in the owner's working hours
        (a follow-up due Friday evening is not 63 hours late on Monday morning)."""
        due = from_iso(case.next_followup_at or nudge.due_key)
        if case.severity == Severity.CRITICAL:
            return now - due
        ws = await self.deps.store.workspace(case.team_id)
        person = self.deps.people.cached(case.team_id, case.owner_id or case.reporter_id)
        tz = person.tz if person else ws.tz
        return working_time(due, now, tz, Hours.from_rules(self.deps.recovery.playbook.nudges,
                                                           ws))

    async def _refused(self, nudge: Nudge, exc: SlackApiError, now: datetime) -> None:
        error = str(exc.response.get("error") or f"http {exc.response.status_code}")
        if error in PERMANENT and nudge.kind == NudgeKind.ESCALATION and not nudge.thread_ts:
            # Mend can't post in the lead channel: the case thread, naming the
            # leads, is better than no escalation at all.
            log.warning("lead channel refused escalation %s (%s): using the thread",
                        nudge.id, error)
            await self.deps.delivery.retry(nudge, to_iso(now), LEAD_CHANNEL_FAILED + error,
                                        to_iso(now))
            return
        made = nudge.attempts + 1  # this object was read before its claim counted
        transient = exc.response.status_code == 429 or error in TRANSIENT
        if error in PERMANENT or (not transient and made >= MAX_ATTEMPTS):
            await self.deps.delivery.drop(nudge, "failed", error, to_iso(now),
                                                before="sending")
            return
        # Slack did not post it, even after the client's own retries: try again later
        # (for as long as Slack is down; a few times for any other error).
        wait = min(RETRY_AFTER * made, MAX_RETRY_AFTER)
        await self.deps.delivery.retry(nudge, to_iso(now + wait), error, to_iso(now))
        log.warning("nudge %s postponed: %s", nudge.id, error)

    # -- recovering nudges in doubt ------------------------------------------------------
    async def recover(self, team_id: str) -> int:
        """Settle rows left 'sending' (by a crash, a timeout, or a process that lost
        the lease): sent if their message is in Slack, else pending again.
        Rows claimed within a lease length may still be in flight: left alone."""
        settled = 0
        now = self.deps.clock.now()
        for nudge in await self.deps.store.nudges_in_doubt(team_id):
            claimed = _parse(nudge.claimed_at or "", now)
            if nudge.id in self.inflight or claimed > now - self.lease_length:
                continue
            try:
                ts = await self._find(nudge)
            except SlackApiError as exc:
                error = str(exc.response.get("error") or "")
                if error in GONE:  # the thread or channel is gone: nowhere to send it
                    await self.deps.delivery.drop(nudge, "failed", error, to_iso(now),
                                                  before="sending")
                    settled += 1
                continue
            except AMBIGUOUS as exc:
                log.warning("could not check nudge %s: %s", nudge.id, type(exc).__name__)
                continue
            if ts:
                await self.deps.delivery.sent(nudge, ts, to_iso(now))
            else:
                await self.deps.delivery.retry(nudge, to_iso(now), "not found after a stop "
                                               "or an unclear answer", to_iso(now))
            settled += 1
        return settled

    async def _find(self, nudge: Nudge) -> str | None:
        """The ts of the message carrying this nudge's key, if Slack has one."""
        if not nudge.channel:
            return None
        poster = await self.deps.clients.poster(nudge.team_id)
        return await find_message(poster, nudge.channel, NUDGE_METADATA_TYPE,
                                  {"key": nudge_blocks.nudge_key(nudge)}, nudge.thread_ts)


def _lead_channel_failed(nudge: Nudge) -> bool:
    return (nudge.error or "").startswith(LEAD_CHANNEL_FAILED)


def _parse(iso: str, default: datetime) -> datetime:
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        return default


async def _no_lease(now: datetime) -> bool:
    return False
