"""The calendar: a member's week laid out in half-hour rows like an Outlook week, a month at a
glance, and rescheduling by drag and drop. The private iCalendar feed is calendar_feed's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityStatus,
    ActivityType,
    Company,
    Member,
)
from crmlite.services import permissions
from crmlite.services.activities import ActivityChangedMeanwhile, reschedule
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

    @property
    def is_cancelled(self) -> bool:
        return self.status == ActivityStatus.CANCELLED.value

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
