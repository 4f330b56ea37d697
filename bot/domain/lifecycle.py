"""The life of a case after it is opened: owner, follow-up, checklist, outcome.

Rules (plain Python, no Slack):
- anyone may take or assign an unowned case; only the owner or a lead may
  reassign, release, resolve or close an owned one;
- open -> resolved -> closed, and reopen back to open; resolving schedules
  the satisfaction follow-up; recording that follow-up closes the case; a
  lead may close any case with a reason; step five of the checklist is the
  latest resolution's satisfaction check (resolving and reopening clear it);
- a reminder's answer (done, snooze) applies only to the follow-up it was
  sent for; a new owner of an overdue case gets a follow-up of their own,
  due `remind_every` later (the old one counts as missed, once), so they
  are reminded when it falls due and can be on time;
- every change is one compare-and-set with its timeline event, so a race or
  a retried click or form (`once_key`) changes nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.errors import NotFound, OutOfDate, Refused
from bot.domain.models import Case, Event, StepMark
from bot.domain.outcomes import TIMELINE_EVENTS, Done, NeedsConfirmation, Timeline
from bot.domain.playbook import Playbook
from bot.domain.ports import CaseStore
from bot.domain.schedule import followup_timer, update_timer
from bot.domain.times import Clock, from_iso, to_iso
from bot.domain.vocabulary import EventKind, FollowupKind, Status

NOTE_MAX = 3000
STEP_ALIASES = {
    "apologize": "apologize", "apologise": "apologize", "apology": "apologize",
    "act": "act", "action": "act",
    "compassion": "compassion", "empathy": "compassion",
    "compensate": "compensate", "compensation": "compensate",
    "follow-up": "follow_up", "followup": "follow_up", "follow_up": "follow_up",
}
ACCEPTED = ("yes", "no", "not_offered")
__all__ = ["Done", "Lifecycle", "NeedsConfirmation", "NotFound", "OutOfDate", "Refused",
           "Timeline"]


class Lifecycle:
    """Changes to existing cases, with the rules about who may do what."""

    def __init__(self, store: CaseStore, playbook: Playbook, clock: Clock,
                 initial_leads: tuple[str, ...] = ()):
        self.store = store
        self.playbook = playbook
        self.clock = clock
        self.initial_leads = initial_leads

    # -- reading -----------------------------------------------------------------
    async def get(self, team_id: str, number: int) -> Case:
        case = await self.store.case_by_number(team_id, number)
        if case is None:
            raise NotFound(number)
        return case

    async def timeline(self, team_id: str, number: int) -> Timeline:
        case = await self.get(team_id, number)
        events, total = await self.store.recent_events(team_id, case.id, TIMELINE_EVENTS)
        return Timeline(case, await self.store.steps(team_id, case.id), events, total)

    async def leads(self, team_id: str) -> list[str]:
        """The workspace's leads; MEND_LEADS seeds a workspace that has none yet."""
        leads = await self.store.leads(team_id)
        if not leads and self.initial_leads:
            await self.store.set_leads(team_id, list(self.initial_leads), "MEND_LEADS", self._now())
            leads = await self.store.leads(team_id)
        return leads

    async def is_lead(self, team_id: str, user_id: str) -> bool:
        return user_id in await self.leads(team_id)

    # -- ownership -----------------------------------------------------------------
    async def take(self, team_id: str, number: int, actor: str) -> Done:
        case = await self.get(team_id, number)
        self._require_status(case, (Status.OPEN, Status.RESOLVED), "take")
        if case.owner_id == actor:
            return Done(case, changed=False, message=f"Case #{number} is already yours.")
        if case.owner_id and not await self.is_lead(team_id, actor):
            raise Refused(f"Case #{number} is already owned by {{owner}}.",
                          await self._managers(case), owner=case.owner_id)
        return await self._set_owner(case, actor, actor, EventKind.TAKEN)

    async def release(self, team_id: str, number: int, actor: str) -> Done:
        case = await self.get(team_id, number)
        self._require_status(case, (Status.OPEN, Status.RESOLVED), "release")
        if case.owner_id is None:
            return Done(case, changed=False, message=f"Case #{number} has no owner already.")
        await self._require_manager(case, actor, "release")
        return await self._set_owner(case, None, actor, EventKind.RELEASED)

    async def assign(self, team_id: str, number: int, actor: str, assignee: str,
               confirmed: bool = False) -> Done | NeedsConfirmation:
        case = await self.get(team_id, number)
        if case.owner_id == assignee:
            return Done(case, changed=False, message=f"Case #{number} is already theirs.")
        if case.owner_id:
            await self._require_manager(case, actor, "reassign")
        self._require_status(case, (Status.OPEN, Status.RESOLVED), "assign")
        limit = self.playbook.settings.max_open_per_owner
        count = await self.store.open_count(team_id, assignee)
        if count >= limit and not confirmed:
            return NeedsConfirmation(case, assignee, count, limit)
        return await self._set_owner(case, assignee, actor, EventKind.ASSIGNED)

    async def _set_owner(self, case: Case, owner: str | None, actor: str, kind: str) -> Done:
        now = self.clock.now()
        changes: dict = {"owner_id": owner}
        expect = {"owner_id": case.owner_id, "status": case.status}
        timers: tuple[dict, ...] = ()
        also: tuple = ()
        if owner and case.next_followup_at and from_iso(case.next_followup_at) < now:
            # The reminders, escalation and unassignment of an overdue follow-up were
            # the old owner's, and so is the miss (this event ends it, once, in the
            # stats). The new owner gets a follow-up of their own with a ladder of its
            # own, due after the pause between reminders: a fair chance to be on time,
            # and their first reminder comes when it falls due.
            due = to_iso(now + self.playbook.nudges.remind_every)
            changes["next_followup_at"] = due
            expect["next_followup_at"] = case.next_followup_at
            timers = (followup_timer(due),)
            also = ((case.id, EventKind.FOLLOWUP_SET,
                     {"before": case.next_followup_at, "after": due,
                      "kind": case.followup_kind or FollowupKind.UPDATE, "reason": "new owner"}),)
        changed = await self.store.change_case(
            case.team_id, case.id, changes=changes, expect=expect, actor_id=actor,
            kind=kind, detail={"before": case.owner_id, "after": owner}, at=to_iso(now),
            timers=timers, also=also)
        if changed is None:
            return await self._lost_race(case, actor, kind)
        return Done(changed, before=case)

    async def _lost_race(self, case: Case, actor: str, kind: str) -> Done:
        """Someone changed the case between our read and our write."""
        now = await self.get(case.team_id, case.number)
        if kind == EventKind.TAKEN and now.owner_id and now.owner_id != actor:
            raise Refused(f"Case #{case.number} was just taken by {{owner}}.",
                          (now.owner_id,), owner=now.owner_id)
        return Done(now, changed=False, message=f"Case #{case.number} changed just now.")

    # -- follow-up, notes, checklist --------------------------------------------------
    async def set_followup(self, team_id: str, number: int, actor: str, due: datetime,
                     once_key: str | None = None) -> Done:
        case = await self.get(team_id, number)
        if await self._applied(case, once_key):
            return Done(case, changed=False)
        await self._check_followup(case, actor)
        after = to_iso(due)
        if case.next_followup_at == after:
            return Done(case, changed=False)
        return await self._change(case, actor, EventKind.FOLLOWUP_SET, {"next_followup_at": after},
                            {"before": case.next_followup_at, "after": after,
                             "kind": case.followup_kind or FollowupKind.UPDATE},
                            timers=(followup_timer(after),), once_key=once_key)

    async def _check_followup(self, case: Case, actor: str) -> None:
        await self._require_manager(case, actor, "set the follow-up of")
        self._require_status(case, (Status.OPEN, Status.RESOLVED), "set a follow-up on")

    async def note(self, team_id: str, number: int, actor: str, text: str,
             once_key: str | None = None) -> Done:
        case = await self.get(team_id, number)
        text = " ".join(text.split()) if "\n" not in text else text.strip()
        if not text:
            raise Refused("A note needs some text.")
        if len(text) > NOTE_MAX:
            raise Refused(f"Notes are kept under {NOTE_MAX:,} characters; this one has "
                          f"{len(text):,}.")
        added = await self.store.add_event(team_id, case.id, actor, EventKind.NOTE, {"text": text},
                                     self._now(), once_key=once_key)
        return Done(case, changed=added)

    async def step(self, team_id: str, number: int, actor: str, step: str,
             done: bool = True) -> Done:
        key = STEP_ALIASES.get(step.strip().lower())
        if key is None:
            raise Refused("Steps are: apologize, act, compassion, compensate, follow-up.")
        case = await self.get(team_id, number)
        await self._require_manager(case, actor, "tick the checklist of")
        self._require_status(case, (Status.OPEN, Status.RESOLVED), "change the checklist of")
        if done and key == "follow_up" and case.status == Status.RESOLVED:
            # On a resolved case step five is the satisfaction check (resolving
            # cleared any earlier tick): recording it closes the case, in one change.
            return await self._satisfied(case, actor)
        mark = self.store.mark_step if done else self.store.unmark_step
        changed = await mark(team_id, case.id, key, actor, self._now())
        return Done(await self.get(team_id, number), changed=changed)

    async def _satisfied(self, case: Case, actor: str, **expect) -> Done:
        return await self._close(case, actor, "satisfaction follow-up recorded", satisfaction=True,
                           tick=("follow_up",), expect=expect)

    async def steps(self, team_id: str, case_id: int) -> dict[str, StepMark]:
        return await self.store.steps(team_id, case_id)

    # -- outcome ---------------------------------------------------------------------
    async def resolve(self, team_id: str, number: int, actor: str, what: str = "",
                compensation: str = "", accepted: str = "not_offered",
                once_key: str | None = None) -> Done:
        case = await self.get(team_id, number)
        if await self._applied(case, once_key):
            return Done(case, changed=False)
        if await self._check_resolve(case, actor):
            return Done(case, changed=False, message=f"Case #{number} is already resolved.")
        now = self.clock.now()
        due = now + timedelta(days=self.playbook.settings.satisfaction_followup_days)
        accepted = accepted if accepted in ACCEPTED else "not_offered"
        if not compensation.strip():
            accepted = "not_offered"  # nothing offered, so nothing was accepted or declined
        fields = {"status": Status.RESOLVED, "resolved_at": to_iso(now), "resolution": what.strip(),
                  "compensation": compensation.strip(), "compensation_accepted": accepted,
                  "next_followup_at": to_iso(due), "followup_kind": FollowupKind.SATISFACTION}
        return await self._change(case, actor, EventKind.RESOLVED, fields,
                            {"before": case.status, "after": Status.RESOLVED,
                             "what": what.strip(), "compensation": compensation.strip(),
                             "accepted": accepted, "satisfaction_due": to_iso(due)},
                            timers=(followup_timer(to_iso(due)),), once_key=once_key,
                            # Step five is now this resolution's satisfaction check.
                            untick=("follow_up",))

    async def _check_resolve(self, case: Case, actor: str) -> bool:
        """True if it is resolved already; raises if `actor` may not resolve it."""
        await self._require_manager(case, actor, "resolve")
        if case.status == Status.RESOLVED:
            return True
        self._require_status(case, (Status.OPEN,), "resolve")
        return False

    async def close(self, team_id: str, number: int, actor: str, reason: str = "",
              once_key: str | None = None) -> Done:
        case = await self.get(team_id, number)
        if await self._applied(case, once_key):
            return Done(case, changed=False)
        if case.status == Status.CLOSED:
            return Done(case, changed=False, message=f"Case #{number} is already closed.")
        if await self._check_close(case, actor, reason):
            why = reason.strip() or "satisfaction follow-up recorded"
            return await self._close(case, actor, why, satisfaction=True, once_key=once_key)
        return await self._close(case, actor, reason.strip(), once_key=once_key)

    async def _check_close(self, case: Case, actor: str, reason: str | None) -> bool:
        """Whether closing now records the satisfaction check (raises if `actor` may not
        close it; `reason` None: not given yet)."""
        number = case.number
        # Resolving clears step five: ticked now, it is this resolution's check.
        ticked = await self.store.steps(case.team_id, case.id)
        if case.status == Status.RESOLVED and "follow_up" in ticked:
            await self._require_manager(case, actor, "close")
            return True
        if not await self.is_lead(case.team_id, actor):
            how = ("resolve it first; it closes once the customer's satisfaction follow-up "
                   "is recorded" if case.status == Status.OPEN else
                   f"it closes once the customer's satisfaction follow-up is recorded (tick "
                   f"*Follow up* on its card, or `/recover step {number} follow-up`)")
            raise Refused(f"Case #{number} is {case.status}: {how}. A lead can close it "
                          "early, with a reason.", tuple(await self.leads(case.team_id)))
        if reason is not None and not reason.strip():
            raise Refused("Give a reason when closing a case before its satisfaction "
                          f"follow-up, e.g. `/recover close {number} customer stopped "
                          "replying`.")
        return False

    async def _close(self, case: Case, actor: str, reason: str, satisfaction: bool = False,
               tick: tuple[str, ...] = (), once_key: str | None = None,
               expect: dict | None = None) -> Done:
        return await self._change(case, actor, EventKind.CLOSED,
                            {"status": Status.CLOSED, "closed_at": self._now(),
                             "next_followup_at": None},
                            {"before": case.status, "after": Status.CLOSED, "reason": reason,
                             "satisfaction": satisfaction},
                            tick=tick, once_key=once_key, expect=expect)

    async def reopen(self, team_id: str, number: int, actor: str) -> Done:
        case = await self.get(team_id, number)
        if case.status == Status.OPEN:
            return Done(case, changed=False, message=f"Case #{number} is already open.")
        await self._require_manager(case, actor, "reopen")
        due = self.clock.now() + timedelta(hours=self.playbook.settings.followup_default_hours)
        updated = self._now()  # a reopened case is usually the customer coming back
        return await self._change(case, actor, EventKind.REOPENED,
                            {"status": Status.OPEN, "followup_kind": FollowupKind.UPDATE,
                             "next_followup_at": to_iso(due), "duplicate_of": None,
                             "withdrawn_at": None,
                             "customer_updated_at": updated},
                            {"before": case.status, "after": Status.OPEN, "due": to_iso(due)},
                            timers=(followup_timer(to_iso(due)), self._update_timer(updated)),
                            untick=("follow_up",))  # the next resolution needs its own check

    async def merge(self, team_id: str, number: int, actor: str, into: int) -> Done:
        """Fold a just-opened duplicate into the customer's open case, as a note."""
        case, target = await self.get(team_id, number), await self.get(team_id, into)
        if case.duplicate_of == into:
            return Done(target, changed=False, message=f"Already added to case #{into}.")
        if case.status != Status.OPEN or into == number:
            where = f" (added to case #{case.duplicate_of})" if case.duplicate_of else ""
            raise Refused(f"Case #{number} is {case.status}{where}, so it can't be added to "
                          f"case #{into} now.")
        await self._require_manager(case, actor, "merge")
        self._require_status(target, (Status.OPEN, Status.RESOLVED), "add a note to")
        # The note and the close are one change: if the close loses a race, no note.
        done = await self._change(case, actor, EventKind.CLOSED,
                            {"status": Status.CLOSED, "closed_at": self._now(),
                             "duplicate_of": into, "next_followup_at": None},
                            {"before": case.status, "after": Status.CLOSED,
                             "reason": f"duplicate of case #{into}"},
                            also=((target.id, EventKind.NOTE, {"text": case.summary,
                                                        "from_case": number}),))
        if not done.changed:
            now = await self.get(team_id, into)
            # The note was not added, nor the close.
            if now.status not in (Status.OPEN, Status.RESOLVED):
                raise Refused(f"Case #{into} was {now.status} just now, so case #{number} "
                              "was not added to it; it stays open.")
            return done
        return Done(await self.get(team_id, into), before=target)

    async def withdraw(self, team_id: str, number: int, actor: str, reason: str = "",
                       once_key: str | None = None) -> Done:
        """A case opened by mistake is withdrawn: closed, its reminders stopped, and
        left out of every statistic (its timeline keeps what happened)."""
        case = await self.get(team_id, number)
        if await self._applied(case, once_key):
            return Done(case, changed=False)
        if case.withdrawn_at:
            return Done(case, changed=False, message=f"Case #{number} is already withdrawn.")
        await self.check_withdraw(case, actor)
        reason = " ".join(reason.split())[:500]
        if not reason:
            raise Refused(f"Say why case #{number} is withdrawn, e.g. `/recover withdraw "
                          f"{number} opened twice for the same call`.")
        now = self._now()
        return await self._change(case, actor, EventKind.WITHDRAWN,
                                  {"status": Status.CLOSED, "closed_at": now,
                                   "withdrawn_at": now, "next_followup_at": None},
                                  {"before": case.status, "after": Status.CLOSED,
                                   "reason": reason}, once_key=once_key)

    async def check_withdraw(self, case: Case, actor: str) -> None:
        """The person who opened the case, or a lead, may withdraw it while it is open
        or resolved."""
        self._require_status(case, (Status.OPEN, Status.RESOLVED), "withdraw")
        if actor == case.reporter_id or await self.is_lead(case.team_id, actor):
            return
        leads = await self.leads(case.team_id)
        raise Refused(f"Only the person who opened case #{case.number} ({{owner}}) or a lead "
                      "can withdraw it.", (case.reporter_id, *leads), owner=case.reporter_id)

    # -- answering nudges -------------------------------------------------------------
    async def followup_done(self, team_id: str, number: int, actor: str,
                      due_key: str | None = None) -> Done:
        """The follow-up happened: a satisfaction check closes the case; otherwise
        the follow-up is recorded (it counts as a customer update) and cleared.
        `due_key`: the follow-up the reminder was sent for (refused if it is not
        the one in force any more)."""
        case = await self.get(team_id, number)
        self._require_current(case, due_key)
        guard = {"next_followup_at": case.next_followup_at}
        if case.status == Status.RESOLVED and case.followup_kind == FollowupKind.SATISFACTION:
            await self._require_manager(case, actor, "record the satisfaction check of")
            return await self._satisfied(case, actor, **guard)
        await self._require_manager(case, actor, "record the follow-up of")
        self._require_status(case, (Status.OPEN,), "record a follow-up on")
        if not case.next_followup_at:
            return Done(case, changed=False, message=f"Case #{number} has no follow-up due.")
        now = self._now()
        return await self._change(case, actor, EventKind.FOLLOWUP_DONE,
                            {"next_followup_at": None, "customer_updated_at": now},
                            {"due": case.next_followup_at, "customer_updated": True},
                            timers=(self._update_timer(now),), expect=guard)

    async def snooze(self, team_id: str, number: int, actor: str, until: datetime,
               reason: str = "", due_key: str | None = None,
               once_key: str | None = None) -> Done:
        case = await self.get(team_id, number)
        if await self._applied(case, once_key):
            return Done(case, changed=False)
        await self.check_snooze(case, actor, due_key)
        after = to_iso(until)
        if case.next_followup_at == after:
            return Done(case, changed=False)
        return await self._change(case, actor, EventKind.SNOOZED, {"next_followup_at": after},
                            {"before": case.next_followup_at, "until": after,
                             "reason": " ".join(reason.split())[:500]},
                            timers=(followup_timer(after),), once_key=once_key,
                            expect={"next_followup_at": case.next_followup_at})

    async def check_snooze(self, case: Case, actor: str, due_key: str | None = None) -> None:
        """Raise if `actor` may not snooze this reminder now (before the form opens)."""
        self._require_current(case, due_key)
        await self._require_manager(case, actor, "snooze")
        self._require_status(case, (Status.OPEN, Status.RESOLVED), "snooze")

    async def check_form(self, case: Case, actor: str, form: str) -> None:
        """Raise now if `actor` could not submit `form` (followup, resolve, close) on
        the case as it stands: say so before they fill it in."""
        if form == "followup":
            await self._check_followup(case, actor)
        elif form == "resolve" and await self._check_resolve(case, actor):
            raise Refused(f"Case #{case.number} is already resolved.")
        elif form == "withdraw":
            if case.withdrawn_at:
                raise Refused(f"Case #{case.number} is already withdrawn.")
            await self.check_withdraw(case, actor)
        elif form == "close":
            if case.status == Status.CLOSED:
                raise Refused(f"Case #{case.number} is already closed.")
            await self._check_close(case, actor, None)

    async def customer_updated(self, team_id: str, number: int, actor: str) -> Done:
        case = await self.get(team_id, number)
        await self._require_manager(case, actor, "record a customer update on")
        self._require_status(case, (Status.OPEN,), "record an update on")
        now = self._now()
        return await self._change(case, actor, EventKind.CUSTOMER_UPDATED,
                                  {"customer_updated_at": now}, {},
                                  timers=(self._update_timer(now),))

    async def unassign_overdue(self, case: Case, overdue_for: timedelta) -> Done:
        """Mend itself gives an overdue case back to the unowned queue."""
        hours = round(overdue_for.total_seconds() / 3600, 1)
        changed = await self.store.change_case(
            case.team_id, case.id, changes={"owner_id": None},
            expect={"owner_id": case.owner_id, "status": case.status}, actor_id=None,
            kind=EventKind.RELEASED, detail={"before": case.owner_id, "after": None,
                                     "reason": f"follow-up overdue for {hours:g}h"},
            at=self._now())
        return Done(changed, before=case) if changed else Done(case, changed=False)

    async def last_snooze(self, team_id: str, case_id: int) -> Event | None:
        snoozes, _ = await self.store.recent_events(team_id, case_id, 1, kind=EventKind.SNOOZED)
        return snoozes[-1] if snoozes else None

    # -- helpers ---------------------------------------------------------------------
    def _update_timer(self, updated_iso: str) -> dict:
        return update_timer(updated_iso, self.playbook.nudges)

    async def _change(self, case: Case, actor: str, kind: str, fields: dict, detail: dict,
                timers: tuple[dict, ...] = (), once_key: str | None = None,
                expect: dict | None = None, **more) -> Done:
        """One compare-and-set on status and owner (and `expect`), with its event.
        `more`: the store's tick, untick and also."""
        changed = await self.store.change_case(
            case.team_id, case.id, changes=fields,
            expect={"status": case.status, "owner_id": case.owner_id, **(expect or {})},
            actor_id=actor, kind=kind, detail=detail, at=self._now(), timers=timers,
            once_key=once_key, **more)
        if changed is None:
            if once_key and await self.store.seen_before(case.team_id, once_key):
                return Done(await self.get(case.team_id, case.number), changed=False)
            return await self._lost_race(case, actor, kind)
        return Done(changed, before=case)

    async def _applied(self, case: Case, once_key: str | None) -> bool:
        """A submission delivered again after it was applied: nothing more to do."""
        return bool(once_key) and await self.store.seen_before(case.team_id, once_key)

    @staticmethod
    def _require_current(case: Case, due_key: str | None) -> None:
        """A reminder's answer applies only to the follow-up it was sent for."""
        if due_key is not None and case.next_followup_at != due_key:
            raise OutOfDate(case.number)

    async def _managers(self, case: Case) -> tuple[str, ...]:
        owner = (case.owner_id,) if case.owner_id else ()
        return owner + tuple(u for u in await self.leads(case.team_id) if u not in owner)

    async def _require_manager(self, case: Case, actor: str, verb: str) -> None:
        """Owner or lead; anyone when the case has no owner."""
        if case.owner_id in (None, actor) or await self.is_lead(case.team_id, actor):
            return
        raise Refused(f"Only the owner ({{owner}}) or a lead can {verb} case #{case.number}.",
                      await self._managers(case), owner=case.owner_id)

    @staticmethod
    def _require_status(case: Case, allowed: tuple[str, ...], verb: str) -> None:
        if case.status not in allowed:
            raise Refused(f"Case #{case.number} is {case.status}; reopen it first to {verb} "
                          "it.")

    def _now(self) -> str:
        return to_iso(self.clock.now())
