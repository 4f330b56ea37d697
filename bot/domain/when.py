"""Read a follow-up time typed by an agent ("in 2h", "tomorrow 9am", "eod").

Text is read in the agent's own timezone (from Slack's users.info) and the answer
is an aware UTC datetime. A few fixed phrases and plain durations are read here;
dateparser reads everything else.

How the text is read:
- Durations under a day ("30m", "in 2 hours") are elapsed time. Days and weeks
  keep the clock time: "in 2 days" at 09:00 is 09:00 two days later, DST or not.
- A day without a time ("tomorrow", "monday", "2026-12-01") means 09:00 local.
- A clock time alone ("3pm", "at 15:00", "noon") is the next time the clock shows it
  in the agent's zone: today if still ahead, else tomorrow. "friday 2pm" is today if
  it is Friday and 2pm is still ahead, else the next Friday.
- A bare weekday or "next <weekday>" is its next occurrence, never today.
- A lone hour after "at", a weekday, "today" or "tomorrow" is an hour: "friday at 9"
  is 09:00; 1 to 7 mean the afternoon ("tomorrow 3" is 15:00), as calendars read them.
- "later today" is in 3 hours but not after 18:00; from 17:00 on, in 1 hour.
- "eod" / "end of day" is 17:00 today, or 17:00 tomorrow from 17:00 on.
- "tonight" is 20:00; from 19:00 on, in 1 hour.
- All-number dates ("12/01", "1.12.2026") are refused: agents differ on day-first
  and month-first. "1 dec 10:00", "dec 1 10am" and "2026-12-01 10:00" are the forms to use.
- A clock time that DST skips moves forward by the gap (02:30 -> 03:30); one that
  happens twice is the first of the two.
- Zone names in the text ("10am utc") are left to dateparser and are unreliable
  ("ist" is Israel), so the help text does not offer them.

dateparser 1.5 notes: RELATIVE_BASE must be the naive wall-clock time in TIMEZONE
(an aware base returns None for "5pm"; a naive UTC base is off by the UTC offset).
Its aware results keep the base date's UTC offset after date arithmetic ("in 2 days"
across a DST change), so we keep its wall-clock time and attach the zone ourselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateparser.date import DateDataParser

EXAMPLES = (
    "in 2h",
    "tomorrow 9am",
    "friday 14:00",
    "next monday",
    "later today",
    "eod",
    "1 dec 10:00",
    "2026-12-01 10:00",
)
QUICK_CHOICES = (
    ("in_1h", "In 1 hour"),
    ("later_today", "Later today"),
    ("tomorrow_morning", "Tomorrow morning"),
)

PAST_SLACK = timedelta(seconds=60)  # typing takes a moment; "now" is not the past
MAX_AHEAD = timedelta(days=365)
MAX_TEXT = 100  # keep dateparser away from pasted paragraphs

MORNING = time(9)
END_OF_DAY = time(17)
LATER_TODAY_CUTOFF = time(18)
TONIGHT = time(20)
TONIGHT_CUTOFF = time(19)  # after this, "tonight" is simply an hour away

_UTC_ZONE = ZoneInfo("UTC")
_WARM_UP_NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class BadTime(ValueError):
    """The text is not a usable follow-up time; the message is fit to show the agent."""


# -- public API --------------------------------------------------------------------
def parse_when(text: str, tz: str, now: datetime) -> datetime:
    """The UTC moment meant by `text`, read in timezone `tz` at the instant `now`."""
    zone = _zone(tz)
    cleaned = _clean(text)
    if not cleaned:
        raise BadTime(f"Tell me when to follow up. {_try()}")
    if len(cleaned) > MAX_TEXT:
        raise BadTime(f"That's too long to be a time. {_try()}")
    return check_when(_read(cleaned, zone, now), tz, now)


def quick_choice(key: str, tz: str, now: datetime) -> datetime:
    """The UTC moment for one of the `QUICK_CHOICES` keys."""
    try:
        choose = _QUICK[key]
    except KeyError:
        raise BadTime(f"I don't know the quick choice {key!r}.") from None
    return choose(now, _zone(tz))


def combine_local(date_str: str, time_str: str, tz: str) -> datetime:
    """The UTC moment for Slack datepicker ("2026-12-01") and timepicker ("14:30") values."""
    try:
        wall = datetime.strptime(f"{date_str} {time_str}", "%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        raise BadTime("Pick a date and a time.") from None
    return _localize(wall, _zone(tz))


def check_when(moment: datetime, tz: str, now: datetime) -> datetime:
    """`moment` (any aware datetime) in UTC, if it is neither past nor over a year away."""
    zone = _zone(tz)
    if moment < now - PAST_SLACK:
        raise BadTime(f"That's in the past (I read it as {_show(moment, zone, now)}). {_try()}")
    if moment - now > MAX_AHEAD:
        raise BadTime(f"That's more than a year away (I read it as {_show(moment, zone, now)}). "
                      f"{_try()}")
    return moment.astimezone(UTC)


def warm_up() -> None:
    """Parse once so dateparser loads its data now rather than on an agent's first try."""
    # A zone other than UTC: the first one pytz loads costs more than the rest.
    parse_when("tomorrow 9am", "America/New_York", _WARM_UP_NOW)


# -- reading -----------------------------------------------------------------------
def _read(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """The moment `text` means, unchecked: our phrases and durations, else dateparser."""
    if text in _PHRASES:
        return _PHRASES[text](now, zone)
    if duration := _DURATION.fullmatch(text):
        return _after(duration, now, zone)
    if numeric := _NUMERIC_DATE.search(text):
        raise BadTime(f'I can\'t tell whether "{numeric.group()}" is day/month or month/day. '
                      'Write it like "1 dec" or "2026-12-01".')
    text = _respell(text)
    if (moment := _day_and_clock(text, zone, now)) is not None:
        return moment
    return _library_read(text, zone, now)


_DURATION = re.compile(
    r"(?:in\s+)?(\d{1,5}|an?)\s*(m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?)"
)
# "12/01", "12/01/2026", "1.12.2026"; a dotted pair without a year is a time ("9.30").
_NUMERIC_DATE = re.compile(r"\b\d{1,2}(?:/\d{1,2}(?:/\d{2,4})?|\.\d{1,2}\.\d{2,4})\b")
# dateparser drops "9.30" after a day ("tomorrow 9.30") and reads "9:30" right.
_DOTTED_TIME = re.compile(r"(?<![\d.])(\d{1,2})\.([0-5]\d)(?![\d.])")
# dateparser doesn't know these spellings of weekdays.
_WEEKDAY_SPELLINGS = ((re.compile(r"\bthurs?\b"), "thu"), (re.compile(r"\bweds\b"), "wed"))
# dateparser reads the 9 in "friday at 9" as September and drops it from "tomorrow 9".
_LONE_HOURS = (
    re.compile(r"\b(at)\s+(\d{1,2})\b(?![:.]|\s*[ap]\.?m\b)"),
    re.compile(r"\b(today|tomorrow|(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*)\s+(\d{1,2})$"),
)
# A clock time alone, or after a weekday: read here, because dateparser decides
# "today or tomorrow?" against UTC rather than the agent's zone.
_CLOCK = (r"(?:at\s+)?(?:(?P<h12>\d{1,2})(?::(?P<m12>[0-5]\d))?\s*(?P<ampm>[ap])\.?m\.?"
          r"|(?P<h24>\d{1,2}):(?P<m24>[0-5]\d)|(?P<noon>noon|midday))")
_DAY_AND_CLOCK = re.compile(
    r"(?:(?:on\s+)?(?P<weekday>mon|tue|wed|thu|fri|sat|sun)[a-z]*\s+)?" + _CLOCK)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Text that names a clock time (after _respell has turned lone hours into "15:00").
_HAS_CLOCK = re.compile(r"\d:[0-5]\d|\d\s*[ap]\.?m\b|\bnoon\b|\bmidday\b|\bmidnight\b")
# A time dateparser gives with these periods has no day in it ("december", "3rd").
_VAGUE_PERIODS = {"month", "year"}


def _after(duration: re.Match[str], now: datetime, zone: ZoneInfo) -> datetime:
    """`now` plus a duration: minutes and hours elapsed, days and weeks on the calendar."""
    count_text, unit = duration.groups()
    count = 1 if count_text in ("a", "an") else int(count_text)
    if unit[0] in "mh":
        return now + timedelta(**{"minutes" if unit[0] == "m" else "hours": count})
    days = count * (7 if unit[0] == "w" else 1)
    return _localize(_wall(now, zone) + timedelta(days=days), zone)


def _respell(text: str) -> str:
    """Rewrite the few forms dateparser misreads into ones it reads right."""
    for pattern, spelling in _WEEKDAY_SPELLINGS:
        text = pattern.sub(spelling, text)
    text = _DOTTED_TIME.sub(r"\1:\2", text)
    for pattern in _LONE_HOURS:
        text = pattern.sub(_hour_with_minutes, text)
    return text


def _hour_with_minutes(match: re.Match[str]) -> str:
    hour = int(match.group(2))
    if 1 <= hour <= 7:
        hour += 12  # nobody books a customer follow-up for 3 am
    return f"{match.group(1)} {hour}:00"


def _day_and_clock(text: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    """ "3pm", "at 15:00", "noon": the next time the clock shows it (today if still
    ahead). "friday 2pm": that weekday, today included if the time is still ahead."""
    found = _DAY_AND_CLOCK.fullmatch(text)
    if not found or not (clock := _clock(found)):
        return None
    local = now.astimezone(zone)
    days = 0
    if found["weekday"]:
        days = (_WEEKDAYS.index(found["weekday"]) - local.weekday()) % 7
    day = local.date() + timedelta(days=days)
    moment = _at(day, clock, zone)
    if moment <= now:  # already gone today: the next time it comes round
        moment = _at(day + timedelta(days=7 if found["weekday"] else 1), clock, zone)
    return moment


def _clock(found: re.Match[str]) -> time | None:
    """The clock time in a `_DAY_AND_CLOCK` match, or None if it isn't one (25:00)."""
    if found["noon"]:
        return time(12)
    if found["ampm"]:
        hour, minute = int(found["h12"]), int(found["m12"] or 0)
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if found["ampm"] == "p" else 0)
    else:
        hour, minute = int(found["h24"]), int(found["m24"])
    return time(hour, minute) if hour < 24 else None


def _library_read(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """Let dateparser read `text`; a day without a time becomes 09:00 local."""
    settings = {
        "PREFER_DATES_FROM": "future",
        "TIMEZONE": zone.key,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "RELATIVE_BASE": _wall(now, zone),
        "RETURN_TIME_AS_PERIOD": True,  # tells "monday" ("day") from "monday 10am" ("time")
    }
    data = DateDataParser(languages=["en"], settings=settings).get_date_data(text)
    if data.date_obj is None:
        raise BadTime(f"I couldn't read that as a time. {_try()}")
    if data.period in _VAGUE_PERIODS:
        raise BadTime(f"I need a day for that. {_try()}")
    found: datetime = data.date_obj
    if getattr(found.tzinfo, "zone", None) != zone.key:
        return found.astimezone(UTC)  # the text named its own zone ("tomorrow 10am utc")
    wall = found.replace(tzinfo=None)
    # Judge "no time given" by the text: dateparser also says "day" when the time
    # typed happens to equal the clock's ("tomorrow 11am" at 11:00:00).
    if data.period == "day" and not _HAS_CLOCK.search(text):
        wall = datetime.combine(wall.date(), MORNING)
    return _localize(wall, zone)


# -- phrases and quick choices -------------------------------------------------------
def _in_one_hour(now: datetime, zone: ZoneInfo) -> datetime:
    return now + timedelta(hours=1)


def _later_today(now: datetime, zone: ZoneInfo) -> datetime:
    """In 3 hours, but not after 18:00 local; from 17:00 on, in 1 hour."""
    local = now.astimezone(zone)
    if local.time() >= END_OF_DAY:
        return now + timedelta(hours=1)
    return min(now + timedelta(hours=3), _at(local.date(), LATER_TODAY_CUTOFF, zone))


def _end_of_day(now: datetime, zone: ZoneInfo) -> datetime:
    """17:00 local today, or tomorrow once today's has come."""
    local = now.astimezone(zone)
    day = local.date() if local.time() < END_OF_DAY else local.date() + timedelta(days=1)
    return _at(day, END_OF_DAY, zone)


def _tonight(now: datetime, zone: ZoneInfo) -> datetime:
    """20:00 local; from 19:00 on, in 1 hour."""
    local = now.astimezone(zone)
    if local.time() >= TONIGHT_CUTOFF:
        return now + timedelta(hours=1)
    return _at(local.date(), TONIGHT, zone)


def _tomorrow_morning(now: datetime, zone: ZoneInfo) -> datetime:
    return _at(now.astimezone(zone).date() + timedelta(days=1), MORNING, zone)


_Reader = Callable[[datetime, ZoneInfo], datetime]
_PHRASES: dict[str, _Reader] = {
    "later today": _later_today,
    "later": _later_today,
    "eod": _end_of_day,
    "end of day": _end_of_day,
    "end of the day": _end_of_day,
    "tonight": _tonight,
    "tomorrow morning": _tomorrow_morning,
}
_QUICK: dict[str, _Reader] = {
    "in_1h": _in_one_hour,
    "later_today": _later_today,
    "tomorrow_morning": _tomorrow_morning,
}


# -- small helpers -------------------------------------------------------------------
def _zone(tz: str | None) -> ZoneInfo:
    """The agent's zone; UTC when Slack gave none or one we don't know."""
    if not tz:
        return _UTC_ZONE
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return _UTC_ZONE


def _clean(text: str | None) -> str:
    """Lower case, single spaces, no closing full stop or exclamation mark."""
    return " ".join((text or "").lower().split()).rstrip(".!").strip()


def _wall(moment: datetime, zone: ZoneInfo) -> datetime:
    """The naive local clock time at `moment` in `zone`."""
    return moment.astimezone(zone).replace(tzinfo=None)


def _localize(wall: datetime, zone: ZoneInfo) -> datetime:
    """A local clock time in `zone` as UTC."""
    # fold=0: a skipped time takes the offset before the change, so it moves forward
    # by the gap; a repeated time is the first of the two.
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return _localize(datetime.combine(day, clock), zone)


def _show(moment: datetime, zone: ZoneInfo, now: datetime) -> str:
    """How a moment reads to the agent: "Mon 30 Nov 09:00" (with the year if not this one)."""
    local = moment.astimezone(zone)
    year = "" if local.year == now.astimezone(zone).year else f" {local.year}"
    return f"{local:%a} {local.day} {local:%b}{year} {local:%H:%M}"


def _try() -> str:
    first, second, third = EXAMPLES[:3]
    return f'Try "{first}", "{second}" or "{third}".'
