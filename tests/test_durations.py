"""One parser for "N days": the limits of stats, export and the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.durations import parse_days
from bot.domain.reports import ReportError, period
from handlers.lead_commands import EXPORT_MAX_DAYS, export_since

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(("text", "days"), [("30d", 30), ("7D", 7), (" 366d ", 366), ("", 30)])
def test_export_reads_days_with_a_d(text, days):
    assert parse_days(text, maximum=366, default=30) == days
    assert export_since(text, NOW) == NOW - timedelta(days=days)


@pytest.mark.parametrize("text", ["0d", "367d", "30", "d", "-3d", "3.5d", "12345d", "٣d", "30 d"])
def test_export_refuses_other_text(text):
    assert parse_days(text, maximum=EXPORT_MAX_DAYS, default=30) is None
    with pytest.raises(ReportError, match="up to 366"):
        export_since(text, NOW)


def test_without_a_default_empty_text_is_refused():
    assert parse_days("", maximum=366) is None


def test_the_command_line_may_leave_out_the_d():
    assert parse_days("45", maximum=3650, unit_required=False) == 45
    assert parse_days("3650d", maximum=3650, unit_required=False) == 3650
    assert parse_days("3651", maximum=3650, unit_required=False) is None


@pytest.mark.parametrize(("text", "label", "days"),
                         [("", "30d", 30), ("7d", "7d", 7), ("90D", "90d", 90)])
def test_stats_periods(text, label, days):
    assert period(text, NOW) == (label, NOW - timedelta(days=days))


@pytest.mark.parametrize("text", ["45d", "365d", "7", "week"])
def test_stats_refuses_other_periods(text):
    with pytest.raises(ReportError, match="Pick a period"):
        period(text, NOW)
