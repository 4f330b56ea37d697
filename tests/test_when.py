"""Reading follow-up times typed by agents, in each agent's own timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.when import (
    EXAMPLES,
    QUICK_CHOICES,
    BadTime,
    check_when,
    combine_local,
    parse_when,
    quick_choice,
    warm_up,
)

LA = "America/Los_Angeles"
KOLKATA = "Asia/Kolkata"
# Thursday 26 Nov 2026: 07:00 in Los Angeles, 20:30 in Kolkata.
THURSDAY = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)


def local(moment: datetime, tz: str) -> str:
    """`moment` as the agent in `tz` sees it."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M")


def at_local(text: str, tz: str) -> datetime:
    """A `now` given as local clock time: at_local("2026-11-26 16:00", LA)."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- the phrases agents type ---------------------------------------------------------
LA_CASES = [  # now is Thu 07:00 in Los Angeles
    ("in 30m", "Thu 2026-11-26 07:30"),
    ("in 30 min", "Thu 2026-11-26 07:30"),
    ("30m", "Thu 2026-11-26 07:30"),
    ("in 2h", "Thu 2026-11-26 09:00"),
    ("in 2 hours", "Thu 2026-11-26 09:00"),
    ("in an hour", "Thu 2026-11-26 08:00"),
    ("in 2 days", "Sat 2026-11-28 07:00"),
    ("in 1 week", "Thu 2026-12-03 07:00"),
    ("tomorrow", "Fri 2026-11-27 09:00"),
    ("tomorrow 9am", "Fri 2026-11-27 09:00"),
    ("Tomorrow 9AM.", "Fri 2026-11-27 09:00"),
    ("tomorrow at 9:30", "Fri 2026-11-27 09:30"),
    ("tomorrow 9.30", "Fri 2026-11-27 09:30"),
    ("tomorrow at 9", "Fri 2026-11-27 09:00"),
    ("tomorrow 3", "Fri 2026-11-27 15:00"),
    ("at 3 tomorrow", "Fri 2026-11-27 15:00"),
    ("tomorrow morning", "Fri 2026-11-27 09:00"),
    ("friday 14:00", "Fri 2026-11-27 14:00"),
    ("fri 2pm", "Fri 2026-11-27 14:00"),
    ("friday at 9", "Fri 2026-11-27 09:00"),
    ("next monday", "Mon 2026-11-30 09:00"),
    ("monday", "Mon 2026-11-30 09:00"),
    ("monday 10am", "Mon 2026-11-30 10:00"),
    ("thursday", "Thu 2026-12-03 09:00"),
    ("thurs 3pm", "Thu 2026-11-26 15:00"),  # today: 3pm is still ahead at 07:00
    ("2026-12-01 10:00", "Tue 2026-12-01 10:00"),
    ("2026-12-01", "Tue 2026-12-01 09:00"),
    ("1 dec 10:00", "Tue 2026-12-01 10:00"),
    ("dec 1 10am", "Tue 2026-12-01 10:00"),
    ("today 5pm", "Thu 2026-11-26 17:00"),
    ("tonight", "Thu 2026-11-26 20:00"),
    ("later today", "Thu 2026-11-26 10:00"),
    ("end of day", "Thu 2026-11-26 17:00"),
    ("eod", "Thu 2026-11-26 17:00"),
    ("noon", "Thu 2026-11-26 12:00"),
]

KOLKATA_CASES = [  # now is Thu 20:30 in Kolkata
    ("in 30m", "Thu 2026-11-26 21:00"),
    ("in 30 min", "Thu 2026-11-26 21:00"),
    ("30m", "Thu 2026-11-26 21:00"),
    ("in 2h", "Thu 2026-11-26 22:30"),
    ("in 2 hours", "Thu 2026-11-26 22:30"),
    ("in 2 days", "Sat 2026-11-28 20:30"),
    ("in 1 week", "Thu 2026-12-03 20:30"),
    ("tomorrow 9am", "Fri 2026-11-27 09:00"),
    ("tomorrow at 9:30", "Fri 2026-11-27 09:30"),
    ("tomorrow morning", "Fri 2026-11-27 09:00"),
    ("friday 14:00", "Fri 2026-11-27 14:00"),
    ("fri 2pm", "Fri 2026-11-27 14:00"),
    ("next monday", "Mon 2026-11-30 09:00"),
    ("monday 10am", "Mon 2026-11-30 10:00"),
    ("2026-12-01 10:00", "Tue 2026-12-01 10:00"),
    ("2026-12-01", "Tue 2026-12-01 09:00"),
    ("1 dec 10:00", "Tue 2026-12-01 10:00"),
    ("dec 1 10am", "Tue 2026-12-01 10:00"),
    ("9:30", "Fri 2026-11-27 09:30"),  # this morning's 9:30 has gone, so tomorrow's
    ("tonight", "Thu 2026-11-26 21:30"),  # already evening: in an hour
    ("later today", "Thu 2026-11-26 21:30"),  # after 17:00: in an hour
    ("end of day", "Fri 2026-11-27 17:00"),  # today's 17:00 has gone
    ("eod", "Fri 2026-11-27 17:00"),
    ("noon", "Fri 2026-11-27 12:00"),
]


@pytest.mark.parametrize(("text", "expected"), LA_CASES, ids=[t for t, _ in LA_CASES])
def test_phrase_is_read_in_los_angeles_time(text, expected):
    assert local(parse_when(text, LA, THURSDAY), LA) == expected


@pytest.mark.parametrize(("text", "expected"), KOLKATA_CASES, ids=[t for t, _ in KOLKATA_CASES])
def test_phrase_is_read_in_kolkata_time(text, expected):
    assert local(parse_when(text, KOLKATA, THURSDAY), KOLKATA) == expected


def test_result_is_an_aware_utc_datetime():
    moment = parse_when("tomorrow 9am", KOLKATA, THURSDAY)
    assert moment.tzinfo is UTC


def test_tomorrow_9am_is_nine_local_for_each_agent_so_a_different_instant():
    in_la = parse_when("tomorrow 9am", LA, THURSDAY)
    in_kolkata = parse_when("tomorrow 9am", KOLKATA, THURSDAY)
    assert in_la == utc("2026-11-27 17:00")
    assert in_kolkata == utc("2026-11-27 03:30")
    assert local(in_la, LA) == local(in_kolkata, KOLKATA) == "Fri 2026-11-27 09:00"


def test_tomorrow_is_the_agents_tomorrow_not_utcs():
    # 23:30 Wednesday in LA is already Thursday in UTC.
    now = at_local("2026-11-25 23:30", LA)
    assert local(parse_when("tomorrow 9am", LA, now), LA) == "Thu 2026-11-26 09:00"


def test_friday_on_a_thursday_is_tomorrow():
    assert parse_when("friday 14:00", LA, THURSDAY) == utc("2026-11-27 22:00")


def test_next_monday_on_a_monday_is_a_week_away_at_nine():
    monday = at_local("2026-11-30 08:00", LA)
    assert local(parse_when("next monday", LA, monday), LA) == "Mon 2026-12-07 09:00"
    assert local(parse_when("monday", LA, monday), LA) == "Mon 2026-12-07 09:00"


def test_iso_datetime_is_that_local_time_exactly():
    assert parse_when("2026-12-01 10:00", KOLKATA, THURSDAY) == utc("2026-12-01 04:30")
    assert parse_when("2026-12-01 10:00", LA, THURSDAY) == utc("2026-12-01 18:00")


def test_text_that_names_its_own_zone_uses_that_zone():
    for tz in (LA, KOLKATA):
        assert parse_when("tomorrow 10am utc", tz, THURSDAY) == utc("2026-11-27 10:00")


@pytest.mark.parametrize("tz", [LA, KOLKATA])
def test_every_help_example_is_understood(tz):
    for example in EXAMPLES:
        assert parse_when(example, tz, THURSDAY) > THURSDAY


# -- refusals ------------------------------------------------------------------------
def test_time_already_gone_today_is_refused_showing_how_it_was_read():
    with pytest.raises(BadTime) as caught:
        parse_when("today 5pm", KOLKATA, THURSDAY)  # it's 20:30 there
    assert "in the past" in str(caught.value)
    assert "Thu 26 Nov 17:00" in str(caught.value)


def test_past_date_in_another_year_shows_the_year():
    with pytest.raises(BadTime, match="in the past.*Sun 30 Nov 2025 09:00"):
        parse_when("2025-11-30", LA, THURSDAY)


def test_up_to_a_minute_ago_still_counts_as_now():
    just_now = THURSDAY - timedelta(seconds=59)
    assert check_when(just_now, LA, THURSDAY) == just_now
    assert parse_when("now", LA, THURSDAY) == THURSDAY
    with pytest.raises(BadTime, match="in the past"):
        check_when(THURSDAY - timedelta(seconds=61), LA, THURSDAY)


@pytest.mark.parametrize("text", ["banana", "call the customer", "asdf", "?"])
def test_text_that_is_not_a_time_is_refused_with_examples(text):
    with pytest.raises(BadTime) as caught:
        parse_when(text, LA, THURSDAY)
    assert EXAMPLES[0] in str(caught.value)


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_text_is_refused_with_examples(text):
    with pytest.raises(BadTime, match=EXAMPLES[0]):
        parse_when(text, LA, THURSDAY)


def test_bad_time_is_a_value_error():
    assert issubclass(BadTime, ValueError)


@pytest.mark.parametrize("text", ["2028-01-01", "in 400 days", "in 60 weeks", "1 dec 2027"])
def test_more_than_a_year_ahead_is_refused(text):
    with pytest.raises(BadTime, match="more than a year away"):
        parse_when(text, LA, THURSDAY)


def test_exactly_a_year_ahead_is_allowed():
    assert parse_when("in 365 days", "UTC", THURSDAY) == THURSDAY + timedelta(days=365)


@pytest.mark.parametrize("text", ["12/01 10:00", "01/12", "12/01/2026", "1.12.2026"])
def test_all_number_dates_are_refused_as_ambiguous(text):
    with pytest.raises(BadTime, match='"1 dec" or "2026-12-01"'):
        parse_when(text, LA, THURSDAY)


@pytest.mark.parametrize("text", ["december", "in 2 months", "3rd"])
def test_text_without_a_day_is_refused(text):
    with pytest.raises(BadTime, match="need a day"):
        parse_when(text, LA, THURSDAY)


def test_pasted_paragraph_is_refused():
    with pytest.raises(BadTime, match="too long"):
        parse_when("tomorrow 9am " * 20, LA, THURSDAY)


# -- daylight saving time ------------------------------------------------------------
# US clocks go forward on Sun 14 Mar 2027 and back on Sun 7 Nov 2027.
FRIDAY_BEFORE_SPRING = at_local("2027-03-12 09:00", LA)
SATURDAY_BEFORE_SPRING = at_local("2027-03-13 09:00", LA)


@pytest.mark.parametrize("text", ["in 2 days", "sunday 9am", "sunday"])
def test_day_across_spring_forward_lands_on_nine_local(text):
    moment = parse_when(text, LA, FRIDAY_BEFORE_SPRING)
    assert local(moment, LA) == "Sun 2027-03-14 09:00"
    assert moment == utc("2027-03-14 16:00")  # PDT, not PST's 17:00


@pytest.mark.parametrize("text", ["tomorrow 9am", "tomorrow", "in 1 day"])
def test_tomorrow_across_spring_forward_lands_on_nine_local(text):
    # dateparser alone gives 09:00 with Saturday's PST offset here, an hour late.
    assert parse_when(text, LA, SATURDAY_BEFORE_SPRING) == utc("2027-03-14 16:00")


def test_next_week_across_spring_forward_keeps_the_clock_time():
    assert local(parse_when("next week", LA, SATURDAY_BEFORE_SPRING), LA) == "Sat 2027-03-20 09:00"


def test_hours_across_spring_forward_are_elapsed_time():
    assert parse_when("in 24h", LA, SATURDAY_BEFORE_SPRING) == utc("2027-03-14 17:00")


def test_tomorrow_across_fall_back_lands_on_nine_local():
    saturday = at_local("2027-11-06 09:00", LA)
    assert parse_when("tomorrow 9am", LA, saturday) == utc("2027-11-07 17:00")


# -- quick choices -------------------------------------------------------------------
def test_quick_choices_are_in_button_order():
    assert QUICK_CHOICES == (
        ("in_1h", "In 1 hour"),
        ("later_today", "Later today"),
        ("tomorrow_morning", "Tomorrow morning"),
    )


@pytest.mark.parametrize(("tz", "key", "expected"), [
    (LA, "in_1h", "Thu 2026-11-26 08:00"),
    (LA, "later_today", "Thu 2026-11-26 10:00"),
    (LA, "tomorrow_morning", "Fri 2026-11-27 09:00"),
    (KOLKATA, "in_1h", "Thu 2026-11-26 21:30"),
    (KOLKATA, "later_today", "Thu 2026-11-26 21:30"),
    (KOLKATA, "tomorrow_morning", "Fri 2026-11-27 09:00"),
])
def test_quick_choice_gives_the_local_time(tz, key, expected):
    assert local(quick_choice(key, tz, THURSDAY), tz) == expected


@pytest.mark.parametrize(("key", "label"), QUICK_CHOICES)
def test_quick_choice_matches_typing_its_label(key, label):
    for tz in (LA, KOLKATA):
        assert quick_choice(key, tz, THURSDAY) == parse_when(label, tz, THURSDAY)


def test_unknown_quick_choice_is_refused():
    with pytest.raises(BadTime):
        quick_choice("next_year", LA, THURSDAY)


@pytest.mark.parametrize(("now_local", "expected"), [
    ("2026-11-26 07:00", "Thu 2026-11-26 10:00"),  # three hours on
    ("2026-11-26 16:00", "Thu 2026-11-26 18:00"),  # but not past 18:00
    ("2026-11-26 17:30", "Thu 2026-11-26 18:30"),  # after 17:00, an hour on
])
def test_later_today_is_three_hours_capped_at_six(now_local, expected):
    assert local(parse_when("later today", LA, at_local(now_local, LA)), LA) == expected


@pytest.mark.parametrize(("now_local", "expected"), [
    ("2026-11-26 16:59", "Thu 2026-11-26 17:00"),
    ("2026-11-26 17:00", "Fri 2026-11-27 17:00"),
])
def test_end_of_day_is_five_today_or_tomorrow_once_passed(now_local, expected):
    assert local(parse_when("eod", LA, at_local(now_local, LA)), LA) == expected


@pytest.mark.parametrize(("now_local", "expected"), [
    ("2026-11-26 07:00", "Thu 2026-11-26 20:00"),
    ("2026-11-26 19:30", "Thu 2026-11-26 20:30"),
])
def test_tonight_is_eight_or_an_hour_on_once_evening(now_local, expected):
    assert local(parse_when("tonight", LA, at_local(now_local, LA)), LA) == expected


# -- Slack date and time pickers -----------------------------------------------------
def test_picked_date_and_time_are_local_to_the_agent():
    assert combine_local("2026-12-01", "14:30", KOLKATA) == utc("2026-12-01 09:00")
    assert combine_local("2026-12-01", "14:30", LA) == utc("2026-12-01 22:30")


def test_picked_time_skipped_by_dst_moves_forward_by_the_gap():
    moment = combine_local("2027-03-14", "02:30", LA)
    assert local(moment, LA) == "Sun 2027-03-14 03:30"


def test_picked_time_repeated_by_dst_is_the_first_one():
    assert combine_local("2027-11-07", "01:30", LA) == utc("2027-11-07 08:30")  # PDT


@pytest.mark.parametrize(("date_str", "time_str"), [
    ("2026-13-01", "14:30"),
    ("2026-12-01", "25:00"),
    ("tomorrow", "14:30"),
    ("2026-12-01", "2pm"),
    ("", ""),
    (None, "14:30"),
])
def test_malformed_picker_values_are_refused(date_str, time_str):
    with pytest.raises(BadTime):
        combine_local(date_str, time_str, LA)


# -- timezones -----------------------------------------------------------------------
@pytest.mark.parametrize("tz", ["", "Mars/Olympus_Mons", "../etc/passwd", None])
def test_unknown_timezone_falls_back_to_utc(tz):
    assert parse_when("tomorrow 9am", tz, THURSDAY) == utc("2026-11-27 09:00")
    assert quick_choice("tomorrow_morning", tz, THURSDAY) == utc("2026-11-27 09:00")
    assert combine_local("2026-12-01", "14:30", tz) == utc("2026-12-01 14:30")


def test_warm_up_parses_without_error():
    warm_up()


# A clock time alone is the next time the clock shows it, in the agent's own zone.
BARE_TIMES = [
    ("Asia/Kolkata", "3pm", "Fri 2026-11-27 15:00"),
    ("Asia/Kolkata", "at 3", "Fri 2026-11-27 15:00"),
    ("Asia/Kolkata", "15:00", "Fri 2026-11-27 15:00"),
    ("Asia/Kolkata", "noon", "Fri 2026-11-27 12:00"),
    ("Asia/Kolkata", "9am", "Sat 2026-11-28 09:00"),
    ("America/Los_Angeles", "9am", "Sat 2026-11-28 09:00"),
    ("America/Los_Angeles", "5:45pm", "Fri 2026-11-27 17:45"),
    ("Australia/Sydney", "8pm", "Fri 2026-11-27 20:00"),
    ("Europe/London", "10:29", "Sat 2026-11-28 10:29"),
    ("Asia/Kolkata", "friday 2pm", "Fri 2026-11-27 14:00"),
    ("Asia/Kolkata", "friday 9am", "Fri 2026-12-04 09:00"),
    ("America/Los_Angeles", "sat at 3", "Sat 2026-11-28 15:00"),
]


@pytest.mark.parametrize(("tz", "text", "expected"), BARE_TIMES,
                         ids=[f"{tz}-{t}" for tz, t, _ in BARE_TIMES])
def test_a_clock_time_is_the_next_one_in_the_agents_zone(tz, text, expected):
    friday_half_ten = datetime(2026, 11, 27, 10, 30, tzinfo=ZoneInfo(tz)).astimezone(UTC)
    assert local(parse_when(text, tz, friday_half_ten), tz) == expected


def test_a_typed_time_equal_to_the_clock_is_kept_not_moved_to_nine():
    eleven = datetime(2026, 11, 26, 11, 0, tzinfo=ZoneInfo(LA)).astimezone(UTC)
    assert local(parse_when("tomorrow 11am", LA, eleven), LA) == "Fri 2026-11-27 11:00"
    assert local(parse_when("in 2 days at 11am", LA, eleven), LA) == "Sat 2026-11-28 11:00"
