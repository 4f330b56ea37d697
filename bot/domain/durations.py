"""How far back a lead's request reaches: "30d" -> 30 days.

    parse_days("30d", maximum=366)                        -> 30
    parse_days("", maximum=366, default=30)               -> 30
    parse_days("45", maximum=3650, unit_required=False)   -> 45
    parse_days("45d", maximum=90, allowed=(7, 30, 90))    -> None

`/recover stats`, `/recover export` and `python -m bot export --since` read their
period with this one parser; each says what it accepts in its own words.
"""

from __future__ import annotations

import re
from collections.abc import Collection

_DAYS_RE = re.compile(r"(\d{1,4})(d?)", re.ASCII)


def parse_days(text: str, *, maximum: int, default: int | None = None,
               unit_required: bool = True, allowed: Collection[int] = ()) -> int | None:
    """The number of days in `text` ("30d", any case, spaces around ignored), or None
    when it is not a whole number from 1 to `maximum` (one of `allowed`, if given).

    Empty text gives `default`; the "d" may be left out unless `unit_required`.
    """
    clean = text.strip().lower()
    if not clean and default is not None:
        return default
    match = _DAYS_RE.fullmatch(clean)
    if not match or (unit_required and not match.group(2)):
        return None
    days = int(match.group(1))
    if not 0 < days <= maximum or (allowed and days not in allowed):
        return None
    return days
