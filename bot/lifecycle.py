"""The life of a case after it is opened: owner, follow-up, checklist, outcome.

Rules (plain Python, no Slack):
- anyone may take or assign an unowned case; only the owner or a lead may
  reassign, release, resolve or close an owned one;
- open -> resolved -> closed, and reopen back to open; resolving schedules
  the satisfaction follow-up; recording that follow-up closes the case; a
  lead may close any case with a reason;
- every change is one compare-and-set with its timeline event, so a race or
  a retried click changes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock, to_iso
from bot.models import CLOSED, OPEN, RESOLVED, SATISFACTION, UPDATE, Case, Event, StepMark
from bot.playbook import Playbook
from bot.schedule import followup_timer, update_timer
from bot.store import Store

NOTE_MAX = 3000
STEP_ALIASES = {
    "apologize": "apologize", "apologise": "apologize", "apology": "apologize",
    "act": "act", "action": "act",
    "compassion": "compassion", "empathy": "compassion",
    "compensate": "compensate", "compensation": "compensate",
    "follow-up": "follow_up", "followup": "follow_up", "follow_up": "follow_up",
}
ACCEPTED = ("yes", "no", "not_offered")


class NotFound(LookupError):
    """No such case in this workspace."""

    def __init__(self, number: int):
        super().__init__(f"There is no case #{number} in this workspace.")
        self.number = number


class Refused(Exception):
    """The actor may not do this now.

    `why` may contain `{owner}`, which the renderer replaces with a mention of
    `owner`; `who_can` lists the user ids who could do it.
    """

    def __init__(self, why: str, who_can: tuple[str, ...] = (), owner: str | None = None):
        super().__init__(why)
        self.why = why
        self.who_can = who_can
        self.owner = owner


@dataclass(frozen=True)
class Done:
    """The case after an action; `changed` is False when it already was so."""

    case: Case
    changed: bool = True
    message: str = ""


@dataclass(frozen=True)
class NeedsConfirmation:
    """Assigning would overload someone: ask before going ahead."""

    case: Case
    assignee: str
    open_count: int
    limit: int


TIMELINE_EVENTS = 150  # the newest ones; a case with more says how many are left out


@dataclass(frozen=True)
class Timeline:
    case: Case
    steps: dict[str, StepMark]
    events: list[Event]  # the newest TIMELINE_EVENTS, oldest first
    total_events: int


class Lifecycle:
    """Changes to existing cases, with the rules about who may do what."""

    def __init__(self, store: Store, playbook: Playbook, clock: Clock,
                 initial_leads: tuple[str, ...] = ()):
        self.store = store
        self.playbook = playbook
        self.clock = clock
        self.initial_leads = initial_leads

    # -- reading -----------------------------------------------------------------
    def get(self, team_id: str, number: int) -> Case:
        case = self.store.case_by_number(team_id, number)
        if case is None:
            raise NotFound(number)
        return case

    def timeline(self, team_id: str, number: int) -> Timeline:
        case = self.get(team_id, number)
        events, total = self.store.recent_events(team_id, case.id, TIMELINE_EVENTS)
        return Timeline(case, self.store.steps(team_id, case.id), events, total)

    def leads(self, team_id: str) -> list[str]:
        """The workspace's leads; MEND_LEADS seeds a workspace that has none yet."""
        leads = self.store.leads(team_id)
        if not leads and self.initial_leads:
            self.store.set_leads(team_id, list(self.initial_leads), "MEND_LEADS", self._now())
            leads = self.store.leads(team_id)
        return leads

    def is_lead(self, team_id: str, user_id: str) -> bool:
        return user_id in self.leads(team_id)

    # -- ownership -----------------------------------------------------------------
    def take(self, team_id: str, number: int, actor: str) -> Done:
        case = self.get(team_id, number)
        self._require_status(case, (OPEN, RESOLVED), "take")
        if case.owner_id == actor:
            return Done(case, changed=False, message=f"Case #{number} is already yours.")
        if case.owner_id and not self.is_lead(team_id, actor):
            raise Refused(f"Case #{number} is already owned by {{owner}}.",
                          self._managers(case), owner=case.owner_id)
        return self._set_owner(case, actor, actor, "taken")

    def release(self, team_id: str, number: int, actor: str) -> Done:
        case = self.get(team_id, number)
        self._require_status(case, (OPEN, RESOLVED), "release")
        if case.owner_id is None:
            return Done(case, changed=False, message=f"Case #{number} has no owner already.")
        self._require_manager(case, actor, "release")
        return self._set_owner(case, None, actor, "released")

    def assign(self, team_id: str, number: int, actor: str, assignee: str,
               confirmed: bool = False) -> Done | NeedsConfirmation:
        case = self.get(team_id, number)
        if case.owner_id == assignee:
            return Done(case, changed=False, message=f"Case #{number} is already theirs.")
        if case.owner_id:
            self._require_manager(case, actor, "reassign")
        self._require_status(case, (OPEN, RESOLVED), "assign")
        limit = self.playbook.settings.max_open_per_owner
        count = self.store.open_count(team_id, assignee)
        if count >= limit and not confirmed:
            return NeedsConfirmation(case, assignee, count, limit)
        return self._set_owner(case, assignee, actor, "assigned")

    def _set_owner(self, case: Case, owner: str | None, actor: str, kind: str) -> Done:
        changed = self.store.change_case(
            case.team_id, case.id, changes={"owner_id": owner},
            expect={"owner_id": case.owner_id, "status": case.status}, actor_id=actor,
            kind=kind, detail={"before": case.owner_id, "after": owner}, at=self._now())
        if changed is None:
            return self._lost_race(case, actor, kind)
        return Done(changed)

    def _lost_race(self, case: Case, actor: str, kind: str) -> Done:
        """Someone changed the case between our read and our write."""
        now = self.get(case.team_id, case.number)
        if kind == "taken" and now.owner_id and now.owner_id != actor:
            raise Refused(f"Case #{case.number} was just taken by {{owner}}.",
                          (now.owner_id,), owner=now.owner_id)
        return Done(now, changed=False, message=f"Case #{case.number} changed just now.")

    # -- follow-up, notes, checklist --------------------------------------------------
    def set_followup(self, team_id: str, number: int, actor: str, due: datetime) -> Done:
        case = self.get(team_id, number)
        self._require_manager(case, actor, "set the follow-up of")
        self._require_status(case, (OPEN, RESOLVED), "set a follow-up on")
        after = to_iso(due)
        if case.next_followup_at == after:
            return Done(case, changed=False)
        return self._change(case, actor, "followup_set", {"next_followup_at": after},
                            {"before": case.next_followup_at, "after": after,
                             "kind": case.followup_kind or UPDATE},
                            timers=(followup_timer(after),))

    def note(self, team_id: str, number: int, actor: str, text: str,
             once_key: str | None = None) -> Done:
        case = self.get(team_id, number)
        text = " ".join(text.split()) if "\n" not in text else text.strip()
        if not text:
            raise Refused("A note needs some text.")
        if len(text) > NOTE_MAX:
            raise Refused(f"Notes are kept under {NOTE_MAX:,} characters; this one has "
                          f"{len(text):,}.")
        added = self.store.add_event(team_id, case.id, actor, "note", {"text": text},
                                     self._now(), once_key=once_key)
        return Done(case, changed=added)

    def step(self, team_id: str, number: int, actor: str, step: str,
             done: bool = True) -> Done:
        key = STEP_ALIASES.get(step.strip().lower())
        if key is None:
            raise Refused("Steps are: apologize, act, compassion, compensate, follow-up.")
        case = self.get(team_id, number)
        self._require_manager(case, actor, "tick the checklist of")
        self._require_status(case, (OPEN, RESOLVED), "change the checklist of")
        mark = self.store.mark_step if done else self.store.unmark_step
        changed = mark(team_id, case.id, key, actor, self._now())
        if changed and done and key == "follow_up" and case.status == RESOLVED:
            return self._close(case, actor, "satisfaction follow-up recorded",
                               satisfaction=True)
        return Done(self.get(team_id, number), changed=changed)

    def steps(self, team_id: str, case_id: int) -> dict[str, StepMark]:
        return self.store.steps(team_id, case_id)

    # -- outcome ---------------------------------------------------------------------
    def resolve(self, team_id: str, number: int, actor: str, what: str = "",
                compensation: str = "", accepted: str = "not_offered") -> Done:
        case = self.get(team_id, number)
        self._require_manager(case, actor, "resolve")
        if case.status == RESOLVED:
            return Done(case, changed=False, message=f"Case #{number} is already resolved.")
        self._require_status(case, (OPEN,), "resolve")
        now = self.clock.now()
        due = now + timedelta(days=self.playbook.settings.satisfaction_followup_days)
        accepted = accepted if accepted in ACCEPTED else "not_offered"
        fields = {"status": RESOLVED, "resolved_at": to_iso(now), "resolution": what.strip(),
                  "compensation": compensation.strip(), "compensation_accepted": accepted,
                  "next_followup_at": to_iso(due), "followup_kind": SATISFACTION}
        return self._change(case, actor, "resolved", fields,
                            {"before": case.status, "after": RESOLVED,
                             "what": what.strip(), "compensation": compensation.strip(),
                             "accepted": accepted, "satisfaction_due": to_iso(due)},
                            timers=(followup_timer(to_iso(due)),))

    def close(self, team_id: str, number: int, actor: str, reason: str = "") -> Done:
        case = self.get(team_id, number)
        if case.status == CLOSED:
            return Done(case, changed=False, message=f"Case #{number} is already closed.")
        followed_up = "follow_up" in self.store.steps(team_id, case.id)
        if case.status == RESOLVED and followed_up:
            self._require_manager(case, actor, "close")
            return self._close(case, actor, reason.strip() or "satisfaction follow-up recorded",
                               satisfaction=True)
        if not self.is_lead(team_id, actor):
            raise Refused(
                f"Case #{number} closes once the customer's satisfaction follow-up is recorded "
                f"(resolve it, then `/recover step {number} follow-up`), or a lead can close "
                "it with a reason.", tuple(self.leads(team_id)))
        if not reason.strip():
            raise Refused("Give a reason when closing a case before its follow-up, e.g. "
                          f"`/recover close {number} customer stopped replying`.")
        return self._close(case, actor, reason.strip())

    def _close(self, case: Case, actor: str, reason: str, satisfaction: bool = False) -> Done:
        return self._change(case, actor, "closed",
                            {"status": CLOSED, "closed_at": self._now(),
                             "next_followup_at": None},
                            {"before": case.status, "after": CLOSED, "reason": reason,
                             "satisfaction": satisfaction})

    def reopen(self, team_id: str, number: int, actor: str) -> Done:
        case = self.get(team_id, number)
        if case.status == OPEN:
            return Done(case, changed=False, message=f"Case #{number} is already open.")
        self._require_manager(case, actor, "reopen")
        due = self.clock.now() + timedelta(hours=self.playbook.settings.followup_default_hours)
        updated = self._now()  # a reopened case is usually the customer coming back
        return self._change(case, actor, "reopened",
                            {"status": OPEN, "followup_kind": UPDATE,
                             "next_followup_at": to_iso(due), "duplicate_of": None,
                             "customer_updated_at": updated},
                            {"before": case.status, "after": OPEN},
                            timers=(followup_timer(to_iso(due)), self._update_timer(updated)))

    def merge(self, team_id: str, number: int, actor: str, into: int) -> Done:
        """Fold a just-opened duplicate into the customer's open case, as a note."""
        case, target = self.get(team_id, number), self.get(team_id, into)
        if case.duplicate_of == into:
            return Done(target, changed=False, message=f"Already added to case #{into}.")
        self._require_manager(case, actor, "merge")
        self._require_status(target, (OPEN, RESOLVED), "add a note to")
        self.store.add_event(team_id, target.id, actor, "note",
                             {"text": case.summary, "from_case": number}, self._now())
        self._change(case, actor, "closed",
                     {"status": CLOSED, "closed_at": self._now(), "duplicate_of": into,
                      "next_followup_at": None},
                     {"before": case.status, "after": CLOSED,
                      "reason": f"duplicate of case #{into}"})
        return Done(self.get(team_id, into))

    # -- answering nudges -------------------------------------------------------------
    def followup_done(self, team_id: str, number: int, actor: str) -> Done:
        """The follow-up happened: a satisfaction check closes the case; otherwise
        the follow-up is recorded (it counts as a customer update) and cleared."""
        case = self.get(team_id, number)
        if case.status == RESOLVED and case.followup_kind == SATISFACTION:
            return self.step(team_id, number, actor, "follow_up")
        self._require_manager(case, actor, "record the follow-up of")
        self._require_status(case, (OPEN,), "record a follow-up on")
        if not case.next_followup_at:
            return Done(case, changed=False, message=f"Case #{number} has no follow-up due.")
        now = self._now()
        return self._change(case, actor, "followup_done",
                            {"next_followup_at": None, "customer_updated_at": now},
                            {"due": case.next_followup_at, "customer_updated": True},
                            timers=(self._update_timer(now),))

    def snooze(self, team_id: str, number: int, actor: str, until: datetime,
               reason: str = "") -> Done:
        case = self.get(team_id, number)
        self._require_manager(case, actor, "snooze")
        self._require_status(case, (OPEN, RESOLVED), "snooze")
        after = to_iso(until)
        return self._change(case, actor, "snoozed", {"next_followup_at": after},
                            {"before": case.next_followup_at, "until": after,
                             "reason": " ".join(reason.split())[:500]},
                            timers=(followup_timer(after),))

    def customer_updated(self, team_id: str, number: int, actor: str) -> Done:
        case = self.get(team_id, number)
        self._require_manager(case, actor, "record a customer update on")
        self._require_status(case, (OPEN,), "record an update on")
        now = self._now()
        return self._change(case, actor, "customer_updated", {"customer_updated_at": now}, {},
                            timers=(self._update_timer(now),))

    def unassign_overdue(self, case: Case, overdue_for: timedelta) -> Done:
        """Mend itself gives an overdue case back to the unowned queue."""
        hours = round(overdue_for.total_seconds() / 3600, 1)
        changed = self.store.change_case(
            case.team_id, case.id, changes={"owner_id": None},
            expect={"owner_id": case.owner_id, "status": case.status}, actor_id=None,
            kind="released", detail={"before": case.owner_id, "after": None,
                                     "reason": f"follow-up overdue for {hours:g}h"},
            at=self._now())
        return Done(changed) if changed else Done(case, changed=False)

    def last_snooze(self, team_id: str, case_id: int) -> Event | None:
        snoozes, _ = self.store.recent_events(team_id, case_id, 1, kind="snoozed")
        return snoozes[-1] if snoozes else None

    # -- helpers ---------------------------------------------------------------------
    def _update_timer(self, updated_iso: str) -> dict:
        return update_timer(updated_iso, self.playbook.nudges)
    def _change(self, case: Case, actor: str, kind: str, fields: dict, detail: dict,
                timers: tuple[dict, ...] = ()) -> Done:
        changed = self.store.change_case(
            case.team_id, case.id, changes=fields,
            expect={"status": case.status, "owner_id": case.owner_id},
            actor_id=actor, kind=kind, detail=detail, at=self._now(), timers=timers)
        if changed is None:
            return self._lost_race(case, actor, kind)
        return Done(changed)

    def _managers(self, case: Case) -> tuple[str, ...]:
        owner = (case.owner_id,) if case.owner_id else ()
        return owner + tuple(u for u in self.leads(case.team_id) if u not in owner)

    def _require_manager(self, case: Case, actor: str, verb: str) -> None:
        """Owner or lead; anyone when the case has no owner."""
        if case.owner_id in (None, actor) or self.is_lead(case.team_id, actor):
            return
        raise Refused(f"Only the owner ({{owner}}) or a lead can {verb} case #{case.number}.",
                      self._managers(case), owner=case.owner_id)

    @staticmethod
    def _require_status(case: Case, allowed: tuple[str, ...], verb: str) -> None:
        if case.status not in allowed:
            raise Refused(f"Case #{case.number} is {case.status}; reopen it first to {verb} "
                          "it.")

    def _now(self) -> str:
        return to_iso(self.clock.now())
