"""Keeps each opportunity's first and last open activity days in step with its activities.

An opportunity's next step is its earliest open activity; it is stalled when it has no open
activity due today or later (PRODUCT.md). Both follow from two stored days,
``first_open_activity_on`` and ``last_open_activity_on``, which this module recomputes
whenever the ORM flushes a change to an activity (added, closed, moved to another day or
opportunity, deleted). Bulk loads that bypass the ORM call ``refresh()`` themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from crmlite.models import Activity, ActivityStatus, Opportunity

WATCHED = ("status", "due_on", "opportunity_id")


def refresh(session: Session, opportunity_ids: Iterable[int] | None = None) -> None:
    """Recompute the two days for these opportunities (all when None), in SQL."""

    def open_days(aggregate: Any) -> Any:
        return (
            select(aggregate(Activity.due_on))
            .where(
                Activity.opportunity_id == Opportunity.id,
                Activity.status == ActivityStatus.OPEN.value,
            )
            .scalar_subquery()
        )

    statement = update(Opportunity).values(
        first_open_activity_on=open_days(func.min), last_open_activity_on=open_days(func.max)
    )
    if opportunity_ids is not None:
        ids = sorted(set(opportunity_ids))
        if not ids:
            return
        statement = statement.where(Opportunity.id.in_(ids))
    # A plain UPDATE: derived data, so it neither bumps the version nor counts as an edit.
    session.execute(statement, execution_options={"synchronize_session": False})
    # Opportunities already loaded show the new days on their next read.
    if opportunity_ids is None:
        loaded = [o for o in session.identity_map.values() if isinstance(o, Opportunity)]
    else:
        found = (session.identity_map.get(identity_key(Opportunity, i)) for i in ids)
        loaded = [o for o in found if o is not None]
    for opportunity in loaded:
        session.expire(opportunity, ["first_open_activity_on", "last_open_activity_on"])


def _touched_opportunities(session: Session) -> set[int]:
    touched: set[int] = set()
    for activity in (*session.new, *session.dirty, *session.deleted):
        if not isinstance(activity, Activity):
            continue
        state = inspect(activity)
        changed = (
            activity in session.new
            or activity in session.deleted
            or any(state.attrs[name].history.has_changes() for name in WATCHED)
        )
        if not changed:
            continue
        # The current opportunity (loaded if expired) and, when it moved, the previous one.
        touched.update(
            i for i in (activity.opportunity_id, *state.attrs.opportunity_id.history.deleted) if i
        )
    return touched


def _after_flush(session: Session, _context: Any) -> None:
    ids = session.info.pop("next_steps_touched", None)
    if ids:
        refresh(session, ids)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    # Attribute history is only readable before the flush; remember what to refresh.
    touched = _touched_opportunities(session)
    if touched:
        session.info.setdefault("next_steps_touched", set()).update(touched)


def register() -> None:
    from sqlalchemy import event

    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush_postexec", _after_flush)
