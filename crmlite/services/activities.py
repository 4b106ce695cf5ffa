"""Activities: scheduling, closing ("Done"), rescheduling, notes and reassigning; what a
member has to do next."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple, TypedDict
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import joinedload

from crmlite.database import written
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityNote,
    ActivityStatus,
    ActivityType,
    Company,
    Contact,
    Member,
    Opportunity,
)
from crmlite.services import events
from crmlite.services.next_steps import stalled


def upcoming_for(member_id: int, limit: int = 10) -> list[Activity]:
    """A member's open activities, overdue first, then by day and start time."""
    query = (
        select(Activity)
        .where(Activity.assigned_to_id == member_id, Activity.status == ActivityStatus.OPEN.value)
        .options(joinedload(Activity.type), joinedload(Activity.company))
        .order_by(Activity.due_on, Activity.starts_at.is_(None), Activity.starts_at, Activity.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def open_count(opportunity_id: int) -> int:
    """How many open activities an opportunity has (what closing it would leave undone)."""
    return (
        db.session.scalar(
            select(func.count(Activity.id)).where(
                Activity.opportunity_id == opportunity_id,
                Activity.status == ActivityStatus.OPEN.value,
            )
        )
        or 0
    )


def overdue_count(member_id: int, today: date) -> int:
    return (
        db.session.scalar(
            select(func.count(Activity.id)).where(
                Activity.assigned_to_id == member_id,
                Activity.status == ActivityStatus.OPEN.value,
                Activity.due_on < today,
            )
        )
        or 0
    )


def schedule_activity(
    *,
    subject: str,
    type_id: int,
    due_on: date,
    assigned_to_id: int,
    by: Member,
    tz: ZoneInfo,
    start: time | None = None,
    end: time | None = None,
    opportunity: Opportunity | None = None,
    company_id: int | None = None,
    contact_id: int | None = None,
    campaign_id: int | None = None,
    phone: str = "",
    place: str = "",
    reminder_minutes: int | None = None,
) -> Activity:
    """An open activity on the calendar; start and end are local wall times on its day.

    Company, contact and campaign come from the opportunity when there is one, unless
    given (see ``context_for``)."""
    starts_at, ends_at = local_span(due_on, start, end, tz)
    activity = Activity(
        subject=subject.strip(),
        type_id=type_id,
        status=ActivityStatus.OPEN.value,
        due_on=due_on,
        starts_at=starts_at,
        ends_at=ends_at,
        assigned_to_id=assigned_to_id,
        assigned_by_id=by.id,
        company_id=company_id,
        contact_id=contact_id,
        campaign_id=campaign_id,
        phone=phone,
        place=place,
        reminder_minutes=reminder_minutes,
    )
    if opportunity is not None:
        activity.opportunity_id = opportunity.id
        if company_id is None:
            activity.company_id = opportunity.company_id
        if contact_id is None:
            activity.contact_id = opportunity.contact_id
        if campaign_id is None:
            activity.campaign_id = opportunity.campaign_id
    db.session.add(activity)
    db.session.flush()
    return activity


class ActivityChangedMeanwhile(Exception):
    """Someone else changed the activity since this person loaded it."""


class InvalidActivity(ValueError):
    """What was entered breaks an activity rule; ``errors`` maps the fields at fault
    (``type_id``, ``subject``, ``due_on``, ``start``, ``end``) to what to fix."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


def check_times(start: time | None, end: time | None) -> None:
    """An activity has both a start and an end time on its day, or neither (all day); the
    end comes after the start. InvalidActivity names the field at fault."""
    if (start is None) != (end is None):
        field = "end" if end is None else "start"
        raise InvalidActivity({field: "Give both a start and an end time, or neither."})
    if start is not None and end is not None and end <= start:
        raise InvalidActivity({"end": "The end must come after the start."})


def local_span(
    due_on: date, start: time | None, end: time | None, tz: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """Start and end moments of a day's wall-clock times (see ``check_times``)."""
    check_times(start, end)
    if start is None or end is None:
        return None, None
    return datetime.combine(due_on, start, tz), datetime.combine(due_on, end, tz)


def schedule_next_step(
    opportunity: Opportunity,
    *,
    type_id: int | None,
    subject: str,
    due_on: date | None,
    start: time | None,
    end: time | None,
    by: Member,
    tz: ZoneInfo,
    today: date,
) -> Activity:
    """The next step asked for when an opportunity moves forward without one: a kind of
    activity, a subject, a day from today on, and a start and an end time (end after
    start). It goes to the opportunity's account manager, else to whoever schedules it.
    InvalidActivity lists every field to fix; nothing is scheduled then."""
    errors: dict[str, str] = {}
    if not type_id or db.session.get(ActivityType, type_id) is None:
        errors["type_id"] = "Choose the kind of activity."
    if not subject.strip():
        errors["subject"] = "Enter a subject."
    if due_on is None:
        errors["due_on"] = "Enter the date."
    elif due_on < today:
        errors["due_on"] = "A next step is in the future: pick today or later."
    if start is None:
        errors["start"] = "Enter the start time."
    if end is None:
        errors["end"] = "Enter the end time."
    if not errors:
        try:
            check_times(start, end)
        except InvalidActivity as refused:
            errors.update(refused.errors)
    if errors:
        raise InvalidActivity(errors)
    assert type_id is not None and due_on is not None
    return schedule_activity(
        subject=subject,
        type_id=type_id,
        due_on=due_on,
        start=start,
        end=end,
        assigned_to_id=opportunity.account_manager_id or by.id,
        by=by,
        tz=tz,
        opportunity=opportunity,
    )


def close_activity(activity: Activity, *, by: Member, now: datetime | None = None) -> Activity:
    """Done: closed now, by this member. It earns its type's points as they are at this
    moment; the figure is stored, so a later change of the type's value rewrites nothing.
    Publishes ``ActivityDone``. A cancelled one (its deal closed) may still be done."""
    if activity.status == ActivityStatus.CLOSED.value:
        return activity
    points = db.session.scalar(
        select(ActivityType.points).where(ActivityType.id == activity.type_id)
    )
    closed_at = now or datetime.now(UTC)
    activity.status = ActivityStatus.CLOSED.value
    activity.closed_at = closed_at
    activity.closed_by_id = by.id
    activity.points_earned = points or 0
    db.session.flush()
    events.publish(events.ActivityDone(activity, by=by, at=closed_at))
    return activity


def cancel_open_activities(
    opportunity: Opportunity, *, by: Member, why: str, now: datetime | None = None
) -> int:
    """A deal won or lost leaves no loose ends: its open activities (the remaining next
    steps) are cancelled. They earn no points, are kept with a stamped note saying why
    (``why``, e.g. "the deal was won"), and may still be opened or marked done later.
    Returns how many were cancelled."""
    at = now or datetime.now(UTC)
    open_ones = db.session.scalars(
        select(Activity).where(
            Activity.opportunity_id == opportunity.id,
            Activity.status == ActivityStatus.OPEN.value,
        )
    ).all()
    for activity in open_ones:
        activity.status = ActivityStatus.CANCELLED.value
        db.session.add(
            ActivityNote(
                activity_id=activity.id, author_id=by.id, body=f"Cancelled: {why}.", created_at=at
            )
        )
    db.session.flush()
    return len(open_ones)


def reopen_activity(activity: Activity, *, by: Member, now: datetime | None = None) -> Activity:
    """Undo "Done": open again, with no points until it closes again, so its points leave
    the month it closed in. Publishes ``ActivityReopened`` (the audit log keeps who and
    when). Who may reopen is ``services.permissions``' rule (``activity.reopen``)."""
    if activity.is_open:
        return activity
    at = now or datetime.now(UTC)
    closed_at = activity.closed_at or at
    points = activity.points_earned
    activity.status = ActivityStatus.OPEN.value
    activity.closed_at = None
    activity.closed_by_id = None
    activity.points_earned = None
    db.session.flush()
    events.publish(
        events.ActivityReopened(activity, closed_at=closed_at, by=by, at=at, points=points)
    )
    return activity


def reschedule(
    activity: Activity,
    *,
    due_on: date,
    start: time | None,
    end: time | None,
    tz: ZoneInfo,
    expected_version: int,
) -> Activity:
    """Move an activity to another day or time (e.g. dragged on the calendar); refused
    when it changed since the person loaded it."""
    if expected_version != activity.version:
        raise ActivityChangedMeanwhile
    activity.starts_at, activity.ends_at = local_span(due_on, start, end, tz)
    activity.due_on = due_on
    db.session.flush()
    return activity


def add_note(
    activity: Activity, *, by: Member, body: str, now: datetime | None = None
) -> ActivityNote:
    """A stamped note (who, when, text), appended; earlier notes are never changed."""
    if not body.strip():
        raise ValueError("a note needs some text")
    note = ActivityNote(
        activity_id=activity.id,
        author_id=by.id,
        body=body.strip(),
        created_at=now or datetime.now(UTC),
    )
    db.session.add(note)
    db.session.flush()
    return note


def reassign(activity_ids: list[int], *, to: Member, by: Member) -> int:
    """Give these open activities to another member; returns how many changed."""
    activities = db.session.scalars(
        select(Activity).where(
            Activity.id.in_(activity_ids), Activity.status == ActivityStatus.OPEN.value
        )
    ).all()
    for activity in activities:
        activity.assigned_to_id = to.id
        activity.assigned_by_id = by.id
    db.session.flush()
    return len(activities)


def opportunity_left_without_next_step(activity: Activity, today: date) -> Opportunity | None:
    """After this activity closed: its opportunity, when that is open and now has no next
    step scheduled (it is stalled), so the person can schedule one at once."""
    if activity.opportunity_id is None:
        return None
    # The stored next-step days were refreshed when the close was flushed.
    return db.session.scalar(
        select(Opportunity).where(Opportunity.id == activity.opportunity_id, stalled(today))
    )


def update_activity(
    activity: Activity,
    *,
    expected_version: int,
    subject: str,
    type_id: int,
    due_on: date,
    start: time | None,
    end: time | None,
    assigned_to_id: int,
    by: Member,
    tz: ZoneInfo,
    place: str = "",
    reminder_minutes: int | None = None,
) -> Activity:
    """Change an activity's details; refused when it changed since the person loaded it."""
    if expected_version != activity.version:
        raise ActivityChangedMeanwhile
    activity.starts_at, activity.ends_at = local_span(due_on, start, end, tz)
    if assigned_to_id != activity.assigned_to_id:
        activity.assigned_by_id = by.id
    activity.subject = subject.strip()
    activity.type_id = type_id
    activity.due_on = due_on
    activity.assigned_to_id = assigned_to_id
    activity.place = place
    activity.reminder_minutes = reminder_minutes
    db.session.flush()
    return activity


class ActivityContext(TypedDict):
    """Where an activity is logged from: the records it belongs to, and the phone to call."""

    opportunity_id: int | None
    company_id: int | None
    contact_id: int | None
    campaign_id: int | None
    phone: str


def context_for(
    *,
    opportunity_id: int | None = None,
    company_id: int | None = None,
    contact_id: int | None = None,
    campaign_id: int | None = None,
) -> ActivityContext:
    """Company, contact, campaign and phone filled in from where an activity is logged:
    an opportunity brings its company, contact and campaign; a contact its company."""
    found: ActivityContext = {
        "opportunity_id": None,
        "company_id": None,
        "contact_id": None,
        "campaign_id": campaign_id,
        "phone": "",
    }
    if opportunity_id:
        opportunity = db.session.get(Opportunity, opportunity_id)
        if opportunity is not None:
            found["opportunity_id"] = opportunity.id
            found["company_id"] = opportunity.company_id
            found["contact_id"] = opportunity.contact_id
            found["campaign_id"] = campaign_id or opportunity.campaign_id
    if contact_id and db.session.get(Contact, contact_id) is not None:
        found["contact_id"] = contact_id
    if company_id and db.session.get(Company, company_id) is not None:
        found["company_id"] = company_id
    if found["contact_id"]:
        contact = db.session.get(Contact, found["contact_id"])
        assert contact is not None
        found["company_id"] = found["company_id"] or contact.company_id
        found["phone"] = contact.phone or contact.mobile
    if not found["phone"] and found["company_id"]:
        company = db.session.get(Company, found["company_id"])
        found["phone"] = company.phone if company else ""
    return found


# Minutes: a reminder comes at most a week before the activity.
LONGEST_REMINDER = 10_080
# Reminder lengths that bound how soon a candidate must start: one with a reminder of at
# most 15 minutes is due only if it starts within 15 minutes, and so on; longer ones within
# a week (a superset: the exact rule is applied to what is found).
REMINDER_BANDS = (15, 60, 1_440)


# The strip shows the soonest few, one line on a desktop; the rest are counted.
DUE_SOON_SHOWN = 5


class DueItem(NamedTuple):
    """A reminder as the strip shows it."""

    subject: str
    starts_at: datetime | None
    company_name: str | None


@dataclass(frozen=True)
class DueSoon:
    """The reminders that have come due: the soonest `shown` ones, and how many in all."""

    shown: list[DueItem]
    count: int

    @property
    def more(self) -> int:
        return self.count - len(self.shown)


# Each reminder band's latest start that may be due (its minutes and the longest's).
_BANDS = (*REMINDER_BANDS, LONGEST_REMINDER)


@functools.cache
def _due_soon_statement() -> Any:
    """``due_soon``'s statement, built once (building it took longer than running it)."""
    now = bindparam("now", type_=Activity.starts_at.type)
    today = bindparam("today", type_=Activity.due_on.type)

    def soon(band: int) -> Any:
        return bindparam(f"soon_{band}", type_=Activity.starts_at.type)

    starts_soon = or_(
        *(
            and_(Activity.reminder_minutes <= band, Activity.starts_at <= soon(band))
            for band in REMINDER_BANDS
        ),
        and_(
            Activity.reminder_minutes > REMINDER_BANDS[-1],
            Activity.starts_at <= soon(LONGEST_REMINDER),
        ),
    )
    return (
        select(
            Activity.starts_at,
            Activity.reminder_minutes,
            Activity.subject,
            select(Company.name)
            .where(Company.id == Activity.company_id)
            .scalar_subquery()
            .label("company_name"),
        )
        .where(
            Activity.assigned_to_id == bindparam("member_id"),
            Activity.due_on.between(
                bindparam("first_day", type_=Activity.due_on.type),
                bindparam("last_day", type_=Activity.due_on.type),
            ),
            # A literal, not a bound value, so the planner matches the partial index
            # ix_activities_reminders (WHERE status = 'Open' …) in PostgreSQL's generic plan
            # too (a statement prepared after five runs): bound, it read 4.0 ms, not 1.9, at
            # a million activities.
            Activity.status == written(ActivityStatus.OPEN.value),
            Activity.reminder_minutes.is_not(None),
            or_(
                and_(Activity.starts_at.is_(None), Activity.due_on == today),
                and_(starts_soon, func.coalesce(Activity.ends_at, Activity.starts_at) >= now),
            ),
        )
        # Untimed ones after the day's timed ones, as in the list (both engines alike).
        .order_by(Activity.due_on, Activity.starts_at.is_(None), Activity.starts_at, Activity.id)
    )


def due_soon(
    member_id: int, now: datetime, tz: ZoneInfo, *, shown: int = DUE_SOON_SHOWN
) -> DueSoon:
    """Open activities with a reminder whose reminder time has come and that have not
    ended yet (untimed ones: on their day), soonest first: the first `shown`, and how many.
    Every page shows them: one statement reading only activities that could qualify, as
    plain rows (the exact rule is applied to them here)."""
    today = now.astimezone(tz).date()
    candidates = db.session.execute(
        _due_soon_statement(),
        {
            "member_id": member_id,
            "now": now,
            "today": today,
            "first_day": today - timedelta(days=1),
            "last_day": today + timedelta(days=8),
            **{f"soon_{band}": now + timedelta(minutes=band) for band in _BANDS},
        },
    ).all()
    due = [
        DueItem(row.subject, row.starts_at, row.company_name)
        for row in candidates
        if row.starts_at is None
        or row.starts_at - timedelta(minutes=row.reminder_minutes or 0) <= now
    ]
    return DueSoon(due[:shown], len(due))


WHEN_CHOICES = {
    "open": "All open",
    "overdue": "Overdue",
    "today": "Today",
    "week": "This week",
    "done": "Done",
    "all": "Everything",
}


@dataclass(frozen=True)
class ActivityFilters:
    """What the activity list shows; kept in the URL. member_id None: the whole team."""

    member_id: int | None = None
    when: str = "open"
    type_id: int | None = None
    campaign_id: int | None = None

    def query_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"member_id": self.member_id or "team", "when": self.when}
        if self.type_id:
            args["type_id"] = self.type_id
        if self.campaign_id:
            args["campaign_id"] = self.campaign_id
        return args


def listed(query: Any, filters: ActivityFilters, today: date) -> Any:
    """The query narrowed to what the activity list shows with these filters, in its order:
    open ones by day and time, done ones newest first (the list and its export share it)."""
    if filters.member_id:
        query = query.where(Activity.assigned_to_id == filters.member_id)
    if filters.type_id:
        query = query.where(Activity.type_id == filters.type_id)
    if filters.campaign_id:
        query = query.where(Activity.campaign_id == filters.campaign_id)
    is_open = Activity.status == ActivityStatus.OPEN.value
    monday = today - timedelta(days=today.weekday())
    match filters.when:
        case "overdue":
            query = query.where(is_open, Activity.due_on < today)
        case "today":
            query = query.where(is_open, Activity.due_on == today)
        case "week":
            query = query.where(Activity.due_on.between(monday, monday + timedelta(days=6)))
        case "done":
            query = query.where(~is_open)
        case "open":
            query = query.where(is_open)
    if filters.when == "done":
        return query.order_by(Activity.closed_at.desc(), Activity.id.desc())
    return query.order_by(
        Activity.due_on, Activity.starts_at.is_(None), Activity.starts_at, Activity.id
    )


def activity_list(
    filters: ActivityFilters, today: date, *, limit: int, offset: int = 0
) -> tuple[list[Activity], bool]:
    """The activities the filters ask for (and whether there are more), in a constant
    number of queries: open ones by day and time, done ones newest first."""
    query = select(Activity).options(
        joinedload(Activity.type),
        joinedload(Activity.company),
        joinedload(Activity.opportunity).load_only(Opportunity.name, raiseload=True),
        joinedload(Activity.assigned_to),
        joinedload(Activity.closed_by),
    )
    query = listed(query, filters, today)
    rows = list(db.session.scalars(query.offset(offset).limit(limit + 1)))
    return rows[:limit], len(rows) > limit
