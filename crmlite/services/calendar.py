"""The calendar: a member's week laid out in half-hour rows like an Outlook week, a month at a
glance, rescheduling by drag and drop, and the private iCalendar (RFC 5545) feed that shows
crmlite's schedule in Outlook, Google Calendar or Apple Calendar."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityNote,
    ActivityStatus,
    ActivityType,
    Company,
    Member,
)
from crmlite.services import permissions
from crmlite.services.activities import ActivityChangedMeanwhile, reschedule
from crmlite.services.capture import is_captured
from crmlite.services.periods import FIRST_DAY, FIRST_YEAR, LAST_DAY, LAST_YEAR, Month

# The working day shown: 7:00 to 19:00 in half-hour rows; earlier or later activities sit at
# the edge and say their real time.
DAY_STARTS = 7 * 60
DAY_ENDS = 19 * 60
SLOT_MINUTES = 30
ROWS = (DAY_ENDS - DAY_STARTS) // SLOT_MINUTES
LUNCH = (12 * 60, 13 * 60)
# Overlapping activities share their day's width in lanes of a 12-column grid
# (12 divides evenly by 1, 2, 3, 4 and 6 lanes).
LANE_COLUMNS = 12
# An untimed activity dropped on a time slot gets this much time.
DEFAULT_MINUTES = 30
MONTH_SUBJECTS = 3
# Several members side by side: enough for a team lead's group, few enough to read.
MAX_SIDE_BY_SIDE = 8
FEED_PAST_DAYS = 30
FEED_FUTURE_DAYS = 180
FEED_PRODID = "-//crmlite//Calendar feed//EN"


# -- the week ------------------------------------------------------------------------------------


def week_start(day: date) -> date:
    """The Monday of the week a day falls in."""
    return day - timedelta(days=day.weekday())


def week_days(monday: date, *, weekend: bool) -> list[date]:
    return [monday + timedelta(days=n) for n in range(7 if weekend else 5)]


@dataclass(frozen=True)
class Slot:
    """A half-hour row of the week grid."""

    row: int  # 1-based grid row
    start: time
    end: time

    @property
    def is_lunch(self) -> bool:
        minutes = self.start.hour * 60 + self.start.minute
        return LUNCH[0] <= minutes < LUNCH[1]

    @property
    def on_the_hour(self) -> bool:
        return self.start.minute == 0

    @property
    def hour_label(self) -> str:
        hour = self.start.hour
        return f"{hour % 12 or 12} {'am' if hour < 12 else 'pm'}"


def slots() -> list[Slot]:
    def at(minutes: int) -> time:
        return time(minutes // 60, minutes % 60)

    return [
        Slot(n + 1, at(DAY_STARTS + n * SLOT_MINUTES), at(DAY_STARTS + (n + 1) * SLOT_MINUTES))
        for n in range(ROWS)
    ]


@dataclass
class Block:
    """An activity as the calendar shows it."""

    id: int
    subject: str
    status: str
    due_on: date
    starts_at: datetime | None
    ends_at: datetime | None
    version: int
    assigned_to_id: int
    place: str
    type_code: str
    type_name: str
    type_group: str
    company_name: str | None
    overdue: bool = False
    # Placement in the day's grid (timed activities only).
    row_start: int = 0
    row_span: int = 0
    starts_earlier: bool = False  # before 7:00: shown at the top edge
    ends_later: bool = False  # after 19:00: shown at the bottom edge
    lane: int = 0
    lanes: int = 1

    @property
    def is_open(self) -> bool:
        return self.status == ActivityStatus.OPEN.value

    def is_overdue(self, today: date) -> bool:
        """As ``Activity.is_overdue``: still open after the day it was due."""
        return self.is_open and self.due_on < today

    @property
    def is_timed(self) -> bool:
        return self.starts_at is not None and self.ends_at is not None

    @property
    def lane_span(self) -> int:
        return max(1, LANE_COLUMNS // self.lanes)

    @property
    def lane_start(self) -> int:
        return (self.lane * self.lane_span) % LANE_COLUMNS + 1


@dataclass
class Day:
    day: date
    is_today: bool
    timed: list[Block] = field(default_factory=list)
    untimed: list[Block] = field(default_factory=list)

    @property
    def is_weekend(self) -> bool:
        return self.day.weekday() >= 5

    @property
    def count(self) -> int:
        return len(self.timed) + len(self.untimed)


@dataclass
class MemberWeek:
    member: Member
    days: list[Day]
    # Activities on Saturday or Sunday while the weekend is hidden.
    hidden_on_weekend: int = 0
    # The viewer may drag its open activities: whoever may see this calendar (agenda.read).
    may_move: bool = False


def _wall_minutes(moment: datetime, day: date, tz: ZoneInfo) -> int:
    """Minutes after the day's local midnight, by the wall clock; before or after the day
    gives a value outside 0..1440 (the calendar only needs which side)."""
    local = moment.astimezone(tz)
    if local.date() < day:
        return -1
    if local.date() > day:
        return 24 * 60 + 1
    return local.hour * 60 + local.minute


def place(block: Block, tz: ZoneInfo) -> None:
    """Rows of a timed activity in the 7:00 to 19:00 grid, clamped to its edges."""
    assert block.starts_at is not None and block.ends_at is not None
    start = _wall_minutes(block.starts_at, block.due_on, tz)
    end = max(_wall_minutes(block.ends_at, block.due_on, tz), start)
    block.starts_earlier = start < DAY_STARTS
    block.ends_later = end > DAY_ENDS
    start = min(max(start, DAY_STARTS), DAY_ENDS)
    end = min(max(end, DAY_STARTS), DAY_ENDS)
    first = min((start - DAY_STARTS) // SLOT_MINUTES, ROWS - 1)
    after_last = -(-(end - DAY_STARTS) // SLOT_MINUTES)  # rounded up
    after_last = min(max(after_last, first + 1), ROWS)
    block.row_start = first + 1
    block.row_span = after_last - first


def assign_lanes(blocks: list[Block]) -> None:
    """Side by side where they overlap: each group of overlapping activities shares the
    day's width in lanes, each activity in the first lane free at its start."""
    ordered = sorted(blocks, key=lambda b: (b.row_start, -b.row_span, b.id))
    group: list[Block] = []
    lane_ends: list[int] = []
    group_end = 0

    def close_group() -> None:
        for member in group:
            member.lanes = len(lane_ends)

    for block in ordered:
        end = block.row_start + block.row_span
        if group and block.row_start >= group_end:
            close_group()
            group, lane_ends, group_end = [], [], 0
        lane = next((n for n, ends in enumerate(lane_ends) if ends <= block.row_start), None)
        if lane is None:
            lane = len(lane_ends)
            lane_ends.append(end)
        else:
            lane_ends[lane] = end
        block.lane = lane
        group.append(block)
        group_end = max(group_end, end)
    if group:
        close_group()


def week_query(member_ids: list[int], first: date, last: date) -> Select[*tuple[Any, ...]]:
    """The members' activities due in these days with what a block shows, one statement
    on the (assigned_to_id, due_on, starts_at) index."""
    return (
        select(
            Activity.id,
            Activity.subject,
            Activity.status,
            Activity.due_on,
            Activity.starts_at,
            Activity.ends_at,
            Activity.version,
            Activity.assigned_to_id,
            Activity.place,
            ActivityType.code,
            ActivityType.name,
            ActivityType.group,
            Company.name,
        )
        .join(ActivityType, ActivityType.id == Activity.type_id)
        .outerjoin(Company, Company.id == Activity.company_id)
        .where(
            Activity.assigned_to_id.in_(member_ids),
            Activity.due_on >= first,
            Activity.due_on <= last,
        )
        .order_by(Activity.assigned_to_id, Activity.due_on, Activity.starts_at, Activity.id)
    )


def _blocks(member_ids: list[int], first: date, last: date, today: date) -> list[Block]:
    if not member_ids:
        return []
    blocks = [Block(*row) for row in db.session.execute(week_query(member_ids, first, last))]
    for block in blocks:
        block.overdue = block.is_overdue(today)
    return blocks


def week(
    members: list[Member],
    monday: date,
    *,
    weekend: bool,
    today: date,
    tz: ZoneInfo,
    viewer: Member,
) -> list[MemberWeek]:
    """Each member's week: timed activities placed in the grid (overlaps side by side),
    untimed ones listed on top of their day; closed ones stay, overdue ones are flagged.
    The viewer may drag the activities of the calendars they may see."""
    days = week_days(monday, weekend=weekend)
    by_key: dict[tuple[int, date], Day] = {}
    weeks = []
    for member in members:
        member_days = [Day(day, is_today=day == today) for day in days]
        by_key.update({(member.id, d.day): d for d in member_days})
        may_move = permissions.allows(viewer, "agenda.read", member)
        weeks.append(MemberWeek(member, member_days, may_move=may_move))
    hidden: dict[int, int] = {}
    # Always the whole week: with the weekend hidden, the page still says what is there.
    for block in _blocks([m.id for m in members], monday, monday + timedelta(days=6), today):
        day = by_key.get((block.assigned_to_id, block.due_on))
        if day is None:
            hidden[block.assigned_to_id] = hidden.get(block.assigned_to_id, 0) + 1
        elif block.is_timed:
            place(block, tz)
            day.timed.append(block)
        else:
            day.untimed.append(block)
    for member_week in weeks:
        member_week.hidden_on_weekend = hidden.get(member_week.member.id, 0)
        for day in member_week.days:
            assign_lanes(day.timed)
    return weeks


# -- the month -----------------------------------------------------------------------------------


@dataclass
class MonthDay:
    day: date
    in_month: bool
    is_today: bool
    count: int = 0
    # The first few, untimed first, then by start time.
    first: list[Block] = field(default_factory=list)

    @property
    def more(self) -> int:
        return self.count - len(self.first)


def month(
    member_ids: list[int], first: date, *, weekend: bool, today: date
) -> list[list[MonthDay]]:
    """The weeks of a month (Monday first): per day the number of activities and the first
    few subjects. One statement, counted and ranked in SQL, however busy the month."""
    grid_first = week_start(first)
    grid_last = week_start(Month.of(first).last_day) + timedelta(days=6)
    days = {
        grid_first + timedelta(days=n): MonthDay(
            grid_first + timedelta(days=n),
            in_month=(grid_first + timedelta(days=n)).month == first.month,
            is_today=grid_first + timedelta(days=n) == today,
        )
        for n in range((grid_last - grid_first).days + 1)
    }
    if member_ids:
        ranked = (
            select(
                Activity.id,
                Activity.subject,
                Activity.status,
                Activity.due_on,
                Activity.starts_at,
                Activity.ends_at,
                Activity.version,
                Activity.assigned_to_id,
                Activity.type_id,
                func.row_number()
                .over(
                    partition_by=Activity.due_on,
                    order_by=(Activity.starts_at.is_not(None), Activity.starts_at, Activity.id),
                )
                .label("rank"),
                func.count().over(partition_by=Activity.due_on).label("total"),
            )
            .where(
                Activity.assigned_to_id.in_(member_ids),
                Activity.due_on >= grid_first,
                Activity.due_on <= grid_last,
            )
            .subquery()
        )
        rows = db.session.execute(
            select(
                ranked.c.id,
                ranked.c.subject,
                ranked.c.status,
                ranked.c.due_on,
                ranked.c.starts_at,
                ranked.c.ends_at,
                ranked.c.version,
                ranked.c.assigned_to_id,
                ActivityType.code,
                ActivityType.name,
                ActivityType.group,
                ranked.c.total,
            )
            .join(ActivityType, ActivityType.id == ranked.c.type_id)
            .where(ranked.c.rank <= MONTH_SUBJECTS)
            .order_by(ranked.c.due_on, ranked.c.rank)
        )
        for row in rows:
            block = Block(
                id=row.id,
                subject=row.subject,
                status=row.status,
                due_on=row.due_on,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                version=row.version,
                assigned_to_id=row.assigned_to_id,
                place="",
                type_code=row.code,
                type_name=row.name,
                type_group=row.group,
                company_name=None,
            )
            block.overdue = block.is_overdue(today)
            month_day = days[block.due_on]
            month_day.count = row.total
            month_day.first.append(block)
    ordered = sorted(days.values(), key=lambda d: d.day)
    weeks = [ordered[n : n + 7] for n in range(0, len(ordered), 7)]
    return [w if weekend else w[:5] for w in weeks]


# -- moving by drag and drop ---------------------------------------------------------------------


class MoveRefused(ValueError):
    """The move cannot be made as asked; the message says why, in the person's words."""


def duration_minutes(activity: Activity) -> int | None:
    if activity.starts_at is None or activity.ends_at is None:
        return None
    return int((activity.ends_at - activity.starts_at).total_seconds() // 60)


def move_activity(
    activity: Activity, *, due_on: date, start: time | None, tz: ZoneInfo, expected_version: int
) -> Activity:
    """Dragged on the calendar: to another day and start time, keeping its length (an
    untimed one gets half an hour); dropped on a day's "all day" row it keeps no time.
    Refused when someone changed it meanwhile, when it is already done, or when it would
    run past midnight."""
    if expected_version != activity.version:
        raise ActivityChangedMeanwhile
    if not activity.is_open:
        raise MoveRefused("This activity is done, so it stays on the day it was done.")
    if not FIRST_DAY <= due_on <= LAST_DAY:
        raise MoveRefused(f"Pick a day between {FIRST_YEAR} and {LAST_YEAR}.")
    end = None
    if start is not None:
        minutes = duration_minutes(activity) or DEFAULT_MINUTES
        finish = datetime.combine(due_on, start) + timedelta(minutes=minutes)
        if finish.date() != due_on:
            raise MoveRefused(
                "At that time it would end after midnight; pick an earlier start or another day."
            )
        end = finish.time()
    return reschedule(
        activity, due_on=due_on, start=start, end=end, tz=tz, expected_version=expected_version
    )


# -- the calendar feed ---------------------------------------------------------------------------


def new_token() -> str:
    return secrets.token_urlsafe(32)


def start_subscription(member: Member) -> str:
    """The member's private feed address: made once, kept until reset or revoked."""
    if member.calendar_token is None:
        member.calendar_token = new_token()
        db.session.flush()
    return member.calendar_token


def reset_subscription(member: Member) -> str:
    """A new address; the old one stops working at once (e.g. after it leaked)."""
    member.calendar_token = new_token()
    db.session.flush()
    return member.calendar_token


def revoke_subscription(member: Member) -> None:
    """No address any more: every calendar subscribed to it stops updating."""
    member.calendar_token = None
    db.session.flush()


def subscriber(token: str) -> Member | None:
    """The active member whose feed this token opens, if any."""
    if not token or len(token) > 64:
        return None
    return db.session.scalar(
        select(Member).where(Member.calendar_token == token, Member.active.is_(True))
    )


# Calendar apps show a description in a small pane; a captured e-mail's text can be long.
DESCRIPTION_LIMIT = 8_000
DONE_PREFIX = "✓ Done: "


def cut(text: str, limit: int) -> str:
    """The text, or its first characters and "…" when it is longer than the limit."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _description(activity: Activity, tz: ZoneInfo) -> str:
    """What a calendar shows under the subject: the activity's facts, then its notes, newest
    first, each stamped with its day and author; cut to DESCRIPTION_LIMIT characters."""
    lines = [f"Type: {activity.type.label}"]
    if activity.company is not None:
        lines.append(f"Company: {activity.company.name}")
    if activity.contact is not None:
        lines.append(f"Contact: {activity.contact.name}")
    if activity.phone:
        lines.append(f"Phone: {activity.phone}")
    if activity.opportunity is not None:
        lines.append(f"Opportunity: {activity.opportunity.name}")
    lines.append(f"Status: {activity.status}")
    for note in activity.notes:
        author = note.author.name if note.author is not None else "Someone"
        stamped = f"{note.created_at.astimezone(tz):%Y-%m-%d %H:%M}"
        lines += ["", f"Note, {stamped}, {author}:", note.body]
    return cut("\n".join(lines), DESCRIPTION_LIMIT)


def _feed_window(member: Member, today: date) -> tuple[Any, ...]:
    """SQL: the activities the member's feed shows, by their settings."""
    conditions: tuple[Any, ...] = (
        Activity.assigned_to_id == member.id,
        Activity.due_on >= today - timedelta(days=FEED_PAST_DAYS),
        Activity.due_on <= today + timedelta(days=FEED_FUTURE_DAYS),
    )
    if not member.feed_include_captured:
        conditions += (~is_captured(),)
    if not member.feed_include_done:
        # Captured e-mails are closed as they are captured: asked for, they show anyway.
        conditions += (or_(Activity.status == ActivityStatus.OPEN.value, is_captured()),)
    return conditions


def update_feed_settings(member: Member, *, include_captured: bool, include_done: bool) -> None:
    """What the member's own feed shows besides their open activities: captured e-mails
    (off unless asked for) and done activities (on unless switched off)."""
    member.feed_include_captured = include_captured
    member.feed_include_done = include_done
    db.session.flush()


def feed_version(member: Member, *, today: date, calendar_name: str, tz: ZoneInfo) -> str:
    """A fingerprint of the feed's content, for its ETag, in one aggregate statement:
    every change to one of its activities bumps that activity's version, a deleted one
    lowers the count, a note added raises the notes' count (notes are never edited), and
    the window moves with the day; the member's feed settings and the team's zone count
    too. (A company renamed shows once one of the member's activities changes, or the next
    day.)"""
    window = _feed_window(member, today)
    notes = (
        select(func.count(ActivityNote.id))
        .join(Activity, Activity.id == ActivityNote.activity_id)
        .where(*window)
        .correlate(None)  # its own count of the window's notes, not tied to the outer rows
        .scalar_subquery()
    )
    count, last_change, versions, note_count = db.session.execute(
        select(
            func.count(Activity.id),
            func.max(Activity.updated_at),
            func.sum(Activity.version),
            notes,
        ).where(*window)
    ).one()
    facts = "|".join(
        str(fact)
        for fact in (
            member.id,
            calendar_name,
            today,
            tz.key,
            member.feed_include_captured,
            member.feed_include_done,
            count,
            last_change,
            versions,
            note_count,
        )
    )
    return hashlib.sha256(facts.encode()).hexdigest()[:32]


def _time_zone(tz: ZoneInfo, today: date) -> icalendar.Timezone:
    """The team's zone as a VTIMEZONE, with its offsets over the years the window touches."""
    first = today - timedelta(days=FEED_PAST_DAYS)
    last = today + timedelta(days=FEED_FUTURE_DAYS)
    return icalendar.Timezone.from_tzinfo(
        tz, tzid=tz.key, first_date=date(first.year, 1, 1), last_date=date(last.year + 1, 1, 1)
    )


def feed(member: Member, *, today: date, calendar_name: str, tz: ZoneInfo) -> bytes:
    """The member's activities from 30 days ago to 180 days ahead as an iCalendar feed,
    always valid (RFC 5545): the team's zone as a VTIMEZONE, timed activities as events in
    its local time, untimed ones as all-day events, each with a stable UID and its version
    as SEQUENCE so calendars update it in place. The description carries the facts and the
    notes. Done activities stay (they happened), "✓ Done: " before their subject, unless the
    member left them out; captured e-mails only when the member asked for them. A reminder
    rings only for an open activity with a time (an all-day one would ring the evening
    before)."""
    activities = db.session.scalars(
        select(Activity)
        .where(*_feed_window(member, today))
        .options(
            joinedload(Activity.type),
            joinedload(Activity.company),
            joinedload(Activity.contact),
            joinedload(Activity.opportunity),
            # Joined, not a second statement: the feed's statements stay as few as they were.
            joinedload(Activity.notes).joinedload(ActivityNote.author),
        )
        .order_by(Activity.due_on, Activity.starts_at, Activity.id)
    ).unique()
    calendar = icalendar.Calendar()
    calendar.add("prodid", FEED_PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", calendar_name)
    calendar.add("x-wr-calname", calendar_name)
    calendar.add("x-wr-timezone", tz.key)
    # Ask subscribers to look again every hour (RFC 7986; Outlook reads the X- one).
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    # Always there, so even a feed without activities has a component, as RFC 5545 requires.
    calendar.add_component(_time_zone(tz, today))
    stamp = datetime.now(UTC).replace(microsecond=0)
    for activity in activities:
        calendar.add_component(_event(activity, stamp, tz))
    return calendar.to_ical()


def _event(activity: Activity, stamp: datetime, tz: ZoneInfo) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", f"activity-{activity.id}@crmlite")
    event.add("dtstamp", stamp)
    timed = False
    if activity.starts_at is not None and activity.ends_at is not None:
        # Local times with the zone's TZID (its VTIMEZONE is in the feed), as calendars
        # show them and as the team booked them.
        event.add("dtstart", activity.starts_at.astimezone(tz))
        event.add("dtend", activity.ends_at.astimezone(tz))
        event.add("transp", "OPAQUE")
        timed = True
    else:
        event.add("dtstart", activity.due_on)
        event.add("dtend", activity.due_on + timedelta(days=1))
        event.add("transp", "TRANSPARENT")
    event.add("summary", activity.subject if activity.is_open else DONE_PREFIX + activity.subject)
    if activity.place:
        event.add("location", activity.place)
    event.add("description", _description(activity, tz))
    event.add("categories", [activity.type.name])
    # RFC 5545 allows a VEVENT only TENTATIVE, CONFIRMED or CANCELLED (COMPLETED is a VTODO's):
    # a done activity stays CONFIRMED, it happened; its subject and X-CRMLITE-STATUS say done.
    event.add("status", "CONFIRMED")
    event.add("x-crmlite-status", activity.status)
    event.add("sequence", activity.version)
    event.add("last-modified", activity.updated_at.astimezone(UTC))
    event.add("created", activity.created_at.astimezone(UTC))
    if activity.reminder_minutes is not None and activity.is_open and timed:
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", activity.subject)
        alarm.add("trigger", timedelta(minutes=-activity.reminder_minutes))
        event.add_component(alarm)
    return event
