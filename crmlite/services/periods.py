"""Days, months, quarters and years of the team, in its time zone: the one home of period
arithmetic.

Everything crmlite counts per period (points per month, won revenue per month and quarter,
the board's Won and Lost of this quarter, the calendar's month) asks this module where a
period starts and ends. Stored moments are UTC; a period's bounds are the UTC moments its
first and next-first local midnights fall on, so a deal won at 23:30 on 31 October in
California counts in October.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Years a person may ask for: wide enough for any history, narrow enough for `date`.
FIRST_YEAR, LAST_YEAR = 1900, 2199
FIRST_DAY, LAST_DAY = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTH_TEXT = re.compile(r"([0-9]{4})-([0-9]{1,2})")


class BadMonth(ValueError):
    """A month that cannot be read; the message says what to write instead."""


def month_name(month: int, short: bool = False) -> str:
    """ "November" (or "Nov") for 11, in English whatever the server's locale."""
    name = MONTH_NAMES[month - 1]
    return name[:3] if short else name


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first moment of a local day, as UTC."""
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def local_noon(day: date, tz: ZoneInfo) -> datetime:
    """Midday of a local day, as UTC: a moment safely inside that day in any zone."""
    return datetime.combine(day, time(12), tz).astimezone(UTC)


def add_months(year: int, month: int, count: int) -> tuple[int, int]:
    """(year, month) ``count`` months later (earlier when negative)."""
    index = year * 12 + month - 1 + count
    return index // 12, index % 12 + 1


def first_of_next_month(day: date) -> date:
    return date(*add_months(day.year, day.month, 1), 1)


def quarter_of(day: date) -> int:
    """1 to 4."""
    return (day.month - 1) // 3 + 1


def quarter_months(quarter: int) -> list[int]:
    """The three months of a quarter, e.g. [10, 11, 12] for the fourth."""
    return [3 * quarter - 2, 3 * quarter - 1, 3 * quarter]


def quarter_first_day(day: date) -> date:
    return date(day.year, quarter_months(quarter_of(day))[0], 1)


def quarter_start(day: date, tz: ZoneInfo) -> datetime:
    """The first moment of the quarter that holds ``day``, local, as UTC."""
    return local_midnight(quarter_first_day(day), tz)


def year_bounds(year: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC moments a local year starts and ends (exclusive)."""
    return local_midnight(date(year, 1, 1), tz), local_midnight(date(year + 1, 1, 1), tz)


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month of the team."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise BadMonth("Months run from 01 to 12.")
        if not FIRST_YEAR <= self.year <= LAST_YEAR:
            raise BadMonth(f"Choose a month between {FIRST_YEAR} and {LAST_YEAR}.")

    @classmethod
    def parse(cls, text: str) -> Month:
        """``2026-11`` (as an ``<input type="month">`` sends it)."""
        match = _MONTH_TEXT.fullmatch(text.strip())
        if match is None:
            raise BadMonth(f"“{text[:20]}” is not a month: write it as YYYY-MM, e.g. 2026-11.")
        try:
            return cls(int(match[1]), int(match[2]))
        except BadMonth as error:
            raise BadMonth(f"“{text[:20]}” is not a month. {error}") from None

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return first_of_next_month(self.first_day) - timedelta(days=1)

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        """ "November 2026"."""
        return f"{month_name(self.month)} {self.year}"

    @property
    def quarter(self) -> int:
        return quarter_of(self.first_day)

    def plus(self, count: int) -> Month:
        """The month ``count`` months later (earlier when negative)."""
        return Month(*add_months(self.year, self.month, count))

    def previous(self) -> Month | None:
        """The month before, or None before the first year crmlite reads."""
        return self.plus(-1) if (self.year, self.month) > (FIRST_YEAR, 1) else None

    def next(self) -> Month | None:
        """The month after, or None after the last year crmlite reads."""
        return self.plus(1) if (self.year, self.month) < (LAST_YEAR, 12) else None

    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range(self.last_day.day)]

    def working_days(self) -> list[date]:
        """Monday to Friday of the month."""
        return [day for day in self.days() if day.weekday() < 5]

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The UTC moments the month starts and ends (exclusive) in this time zone."""
        return local_midnight(self.first_day, tz), local_midnight(
            first_of_next_month(self.first_day), tz
        )

    def __str__(self) -> str:
        return self.key


class BadDay(ValueError):
    """A day that cannot be read; the message says what to write instead."""


_DAY_TEXT = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def parse_day(text: str, *, label: str = "The date") -> date:
    """``2026-11-28`` (as an ``<input type="date">`` sends it), a real day of the years
    crmlite reads; BadDay naming the field and what was typed otherwise."""
    shown = text.strip()[:20]
    match = _DAY_TEXT.fullmatch(text.strip())
    try:
        if match is None:
            raise ValueError
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise BadDay(
            f"{label} must be a day written as YYYY-MM-DD, e.g. 2026-11-28; “{shown}” is not one."
        ) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadDay(f"{label} must be between {FIRST_YEAR} and {LAST_YEAR}.")
    return day


# What spreadsheets and other CRMs' exports write after the day: a time of day, perhaps
# with seconds, fractions and a UTC offset ("2026-11-28 10:00:00", "2026-11-28T10:00Z").
_TIME_AFTER_DAY = re.compile(
    r"(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)


def parse_exported_day(value: object, *, label: str = "The date") -> date:
    """The day of an imported cell: a spreadsheet's date (or date and time) cell, or text
    ``YYYY-MM-DD`` as ``parse_day`` reads it, optionally followed by a time of day (which
    is ignored). BadDay otherwise; ambiguous forms such as ``11/12/2026`` are refused."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        if not FIRST_DAY <= value <= LAST_DAY:
            raise BadDay(f"{label} must be between {FIRST_YEAR} and {LAST_YEAR}.")
        return value
    text = str(value or "").strip()
    if not text:
        raise BadDay(f"{label} is required: write it as YYYY-MM-DD, e.g. 2026-11-28.")
    if len(text) > 10 and _TIME_AFTER_DAY.fullmatch(text[10:]):
        return parse_day(text[:10], label=label)
    return parse_day(text, label=label)


_MOMENT_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"
    r"(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def parse_moment(text: str, *, label: str = "The time") -> datetime:
    """A moment in ISO 8601 with its offset (``2026-11-28T09:30:00Z``,
    ``2026-11-28T10:30:00+01:00``), as UTC; BadDay naming the field otherwise. Without an
    offset the moment is ambiguous, so it is refused rather than guessed."""
    shown = text.strip()[:40]
    refusal = BadDay(
        f"{label} must be a moment in ISO 8601 with its offset, e.g. 2026-11-28T09:30:00Z; "
        f"“{shown}” is not one."
    )
    if not _MOMENT_TEXT.fullmatch(text.strip()):
        raise refusal
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise refusal from None
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        raise BadDay(f"{label} must be between {FIRST_YEAR} and {LAST_YEAR}.")
    return moment.astimezone(UTC)


def month_of(moment: datetime, tz: ZoneInfo) -> Month:
    """The team's month a moment (e.g. a closing) counts in."""
    return Month.of(moment.astimezone(tz).date())


def month_start(year: int, month: int, tz: ZoneInfo) -> datetime:
    """The first moment of a month in the team's zone, as UTC; month 13 is January of the
    next year (handy for exclusive ends)."""
    return local_midnight(date(*add_months(year, month, 0), 1), tz)


def months_between(first: Month, last: Month) -> list[Month]:
    """Every month from first to last, both included."""
    count = (last.year - first.year) * 12 + last.month - first.month
    return [first.plus(n) for n in range(count + 1)]
