"""A workspace's own settings, and the rules for changing them and its leads."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime
from zoneinfo import available_timezones

from bot.domain.errors import Refused
from bot.domain.times import Clock, to_iso

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
COMMAND = "/recover"
HOURS = re.compile(r"^(?P<days>[a-z,\-]+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$")
EMOJI = re.compile(r"^[a-z0-9_+\-']{1,80}$")
CHANNEL = re.compile(r"<#([CG][A-Z0-9]{1,30})(?:\|[^<>]*)?>")


@dataclass(frozen=True)
class Workspace:
    """A workspace's own settings: None where it uses the defaults, which live here
    (working hours default to the playbook's `nudges:`)."""

    team_id: str = ""
    lead_channel: str | None = None
    work_days: str | None = None  # "mon,tue,wed"
    work_start: str | None = None  # "09:00"
    work_end: str | None = None
    digest_day: str | None = None  # "mon"
    digest_time: str | None = None  # "09:00"
    tz: str | None = None  # an IANA name
    reaction: str | None = None  # an emoji name ("sos"): reacting with it opens a case

    @property
    def digest_on(self) -> str:
        return self.digest_day or "mon"

    @property
    def digest_at(self) -> str:
        return self.digest_time or "09:00"

    @property
    def timezone(self) -> str:
        return self.tz or "UTC"


SETTINGS = tuple(f.name for f in fields(Workspace) if f.name != "team_id")


class SettingError(ValueError):
    """A setting typed wrongly; the message says how to write it."""


def parse_setting(what: str, value: str) -> dict[str, str | None]:
    """`lead-channel #x | off`, `hours mon-fri 09:00-18:00`, `digest mon 09:00`,
    `timezone Europe/Paris` as the fields they change."""
    if what == "lead-channel":
        return _lead_channel(value)
    if what == "hours":
        return _hours(value.lower())
    if what == "digest":
        return _digest(value.lower())
    if what == "timezone":
        return _timezone(value)
    if what == "reaction":
        return _reaction(value)
    raise SettingError(f"Settings are `lead-channel`, `hours`, `digest`, `timezone` and "
                       f"`reaction`, e.g. "
                       f"`{COMMAND} settings hours mon-fri 09:00-18:00`.")


def _lead_channel(value: str) -> dict[str, str | None]:
    if value.lower() in ("off", "none"):
        return {"lead_channel": None}
    match = CHANNEL.search(value)
    if not match:
        raise SettingError(f"Name a channel: `{COMMAND} settings lead-channel #support-leads`.")
    return {"lead_channel": match.group(1)}


def _reaction(value: str) -> dict[str, str | None]:
    """`:sos:` (or `sos`) turns the reaction trigger on; `off` turns it off."""
    name = value.strip().strip(":").lower()
    if name in ("off", "none"):
        return {"reaction": None}
    if not EMOJI.match(name):
        raise SettingError(f"Name an emoji, e.g. `{COMMAND} settings reaction :sos:` "
                           "(`off` turns it off).")
    return {"reaction": name}


def _timezone(value: str) -> dict[str, str | None]:
    zones = {z.lower(): z for z in available_timezones()}
    value = zones.get(value.lower(), value)
    if value not in available_timezones():
        raise SettingError(f"Use a timezone name such as `Europe/Paris` or `America/Chicago` "
                           f"(got `{value[:40]}`).")
    return {"tz": value}


def _digest(value: str) -> dict[str, str | None]:
    day, _, at = value.partition(" ")
    try:
        clock = datetime.strptime(at.strip(), "%H:%M").time()
    except ValueError:
        clock = None
    if day[:3] not in DAY_NAMES or clock is None:
        raise SettingError(f"Give a day and a time, e.g. `{COMMAND} settings digest mon 09:00`.")
    return {"digest_day": day[:3], "digest_time": f"{clock:%H:%M}"}


def _days(spec: str, example: str) -> list[str]:
    days: list[str] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise SettingError(f"Days are mon, tue, wed, thu, fri, sat, sun, e.g. {example}.")
        start, stop = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        # fri-mon wraps around the weekend
        days += [DAY_NAMES[(start + i) % 7] for i in range((stop - start) % 7 + 1)]
    return days


def _hours(value: str) -> dict[str, str | None]:
    """`mon-fri 09:00-18:00` or `mon,tue,thu 08:30-17:00`."""
    match = HOURS.match(value)
    example = f"`{COMMAND} settings hours mon-fri 09:00-18:00`"
    if not match:
        raise SettingError(f"Give days and hours, e.g. {example}.")
    days = _days(match["days"], example)
    try:
        start, end = (datetime.strptime(match[k], "%H:%M").time() for k in ("start", "end"))
    except ValueError:
        raise SettingError(f"Hours look like 09:00, e.g. {example}.") from None
    if end <= start:
        raise SettingError("The day must end after it starts.")
    return {"work_days": ",".join(dict.fromkeys(days)), "work_start": f"{start:%H:%M}",
            "work_end": f"{end:%H:%M}"}


class WorkspaceRules:
    """Who may change a workspace's leads and settings, and the change itself."""

    def __init__(self, store, lifecycle, clock: Clock):
        self.store = store  # the storage's workspace aggregate
        self.lifecycle = lifecycle  # knows the leads (seeding them from MEND_LEADS)
        self.clock = clock

    async def get(self, team_id: str) -> Workspace:
        return await self.store.workspace(team_id)

    async def set_leads(self, team_id: str, actor: str, actor_is_admin: bool,
                        wanted: list[str]) -> None:
        """Workspace admins and current leads may name the leads."""
        current = await self.lifecycle.leads(team_id)
        if not (actor_is_admin or actor in current):
            raise Refused("Only a workspace admin or a current lead can set the leads.",
                          tuple(current))
        await self.store.set_leads(team_id, wanted, actor, to_iso(self.clock.now()))

    async def change(self, team_id: str, actor: str, what: str, value: str) -> Workspace:
        """Leads change the settings; raises Refused or SettingError."""
        leads = await self.lifecycle.leads(team_id)
        if actor not in leads:
            raise Refused("Only a lead can change the settings.", tuple(leads))
        changes = parse_setting(what, value)
        await self.store.set_workspace(team_id, to_iso(self.clock.now()), **changes)
        return await self.get(team_id)

    async def left(self, enterprise_id: str | None, team_id: str | None) -> list[str]:
        """Slack says Mend was uninstalled (or its token revoked): the workspaces whose
        work stops now; their cases are kept for the retention period."""
        return await self.store.mark_uninstalled(enterprise_id, team_id,
                                                 to_iso(self.clock.now()))

    async def remember_names(self, team_id: str, names: dict[str, str]) -> None:
        """People's names as Slack gave them, so an export shows names next to ids."""
        await self.store.remember_names(team_id, names, to_iso(self.clock.now()))
