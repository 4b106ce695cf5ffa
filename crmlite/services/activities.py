"""Activities: what a member has to do next."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from crmlite.extensions import db
from crmlite.models import Activity, ActivityStatus


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
