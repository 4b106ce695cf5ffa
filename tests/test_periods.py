"""Periods of the team (services.periods): month names, the years crmlite reads, quarters."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from crmlite.services import periods
from crmlite.services.periods import Month

LA = ZoneInfo("America/Los_Angeles")


def test_month_names_are_english_whatever_the_locale() -> None:
    assert periods.month_name(11) == "November"
    assert periods.month_name(9, short=True) == "Sep"
    assert Month(2026, 2).label == "February 2026"


def test_the_days_crmlite_reads_are_those_of_its_years() -> None:
    readable = (periods.FIRST_DAY, periods.LAST_DAY)
    assert readable == (date(1900, 1, 1), date(2199, 12, 31))
    assert Month(2199, 12).next() is None and Month(1900, 1).previous() is None


def test_quarters_and_month_starts_in_the_teams_zone() -> None:
    assert periods.quarter_of(date(2026, 11, 30)) == 4
    assert periods.quarter_months(2) == [4, 5, 6]
    # Month 13 is January of the next year, handy for exclusive ends.
    assert periods.month_start(2025, 13, LA) == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert periods.month_start(2026, 3, LA) == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert periods.add_months(2025, 11, 3) == (2026, 2)
    assert periods.add_months(2026, 1, -1) == (2025, 12)
