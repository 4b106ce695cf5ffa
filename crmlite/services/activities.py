"""Activities: what a member has to do next."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from crmlite.extensions import db
from crmlite.models import Activity, ActivityStatus, Member, Opportunity


def upcoming_for(member_id: int, today: date, limit: int = 10) -> list[Activity]:
    """A member's open activities, overdue first, then by day and start time."""
    query = (
        select(Activity)
        .where(Activity.assigned_to_id == member_id, Activity.status == ActivityStatus.OPEN.value)
        .options(
            joinedload(Activity.type),
            joinedload(Activity.company),
            joinedload(Activity.opportunity),
        )
        .order_by(Activity.due_on, Activity.starts_at.is_(None), Activity.starts_at, Activity.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


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
    place: str = "",
    reminder_minutes: int | None = None,
) -> Activity:
    """An open activity on the calendar; start and end are local wall times on its day.

    Company, contact and campaign come from the opportunity when there is one."""
    if (start is None) != (end is None):
        raise ValueError("give both a start and an end time, or neither")
    starts_at = datetime.combine(due_on, start, tz) if start else None
    ends_at = datetime.combine(due_on, end, tz) if end else None
    if starts_at and ends_at and ends_at <= starts_at:
        raise ValueError("the end must come after the start")
    activity = Activity(
        subject=subject.strip(),
        type_id=type_id,
        status=ActivityStatus.OPEN.value,
        due_on=due_on,
        starts_at=starts_at,
        ends_at=ends_at,
        assigned_to_id=assigned_to_id,
        assigned_by_id=by.id,
        place=place,
        reminder_minutes=reminder_minutes,
    )
    if opportunity is not None:
        activity.opportunity_id = opportunity.id
        activity.company_id = opportunity.company_id
        activity.contact_id = opportunity.contact_id
        activity.campaign_id = opportunity.campaign_id
    db.session.add(activity)
    db.session.flush()
    return activity
