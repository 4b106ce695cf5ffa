"""Business days and the send window, in the team's zone.

Tracks touch people on business days only (Monday to Friday): a step that falls on a
Saturday or Sunday moves to the Monday after, and a track e-mail goes out within the
team's send window (``TRACK_SEND_WINDOW``, e.g. 08:00-18:00 local): one queued outside it
waits for the window's next opening on a business day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SATURDAY = 5


def is_business_day(day: date) -> bool:
    return day.weekday() < SATURDAY


def first_business_day_from(day: date) -> date:
    """The day itself on a weekday; the Monday after on a Saturday or Sunday."""
    return day + timedelta(days=(7 - day.weekday()) % 7 if not is_business_day(day) else 0)


def next_send_time(now: datetime, tz: ZoneInfo, window: tuple[time, time]) -> datetime:
    """When an e-mail queued at ``now`` may go (UTC): now when the window is open on a
    business day; else the window's next opening on a business day."""
    opens, closes = window
    local = now.astimezone(tz)
    day = local.date()
    if is_business_day(day) and opens <= local.time() < closes:
        return now.astimezone(UTC)
    if not is_business_day(day) or local.time() >= opens:
        day = first_business_day_from(day + timedelta(days=1))
    return datetime.combine(day, opens, tzinfo=tz).astimezone(UTC)
