"""The next-step rule: every open opportunity has a next step; one without is stalled.

PRODUCT.md: every open opportunity should have a next-step activity scheduled; an open
opportunity without a future open activity is "stalled" and must be visible as such. Here:

- an opportunity's **next step** is its earliest open activity due today or later;
- it is **stalled** when it is open (``statuses.is_open``) and has no open activity due today
  or later: none at all, or only overdue ones.

The rule is written once, in a Python form (``is_stalled``, ``has_next_step_on``) and its
SQL form (``stalled``, ``has_next_step``); every screen (board, opportunity page, stalled
list, home page, dashboard) asks one of them. Both read two stored days on the opportunity,
``first_open_activity_on`` and ``last_open_activity_on``, which this module also keeps:
they are recomputed whenever the ORM flushes a change to an activity (added, closed, moved
to another day or opportunity, deleted). Bulk loads that bypass the ORM call ``refresh()``
themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, event, func, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from crmlite.extensions import db
from crmlite.models import Activity, ActivityStatus, Opportunity
from crmlite.services.statuses import is_open

# ---------------------------------------------------------------- the rule


def is_next_step_candidate(today: date) -> ColumnElement[bool]:
    """SQL on Activity: open and due today or later; the earliest of an opportunity's is
    its next step."""
    return and_(Activity.status == ActivityStatus.OPEN.value, Activity.due_on >= today)


def next_step(opportunity_id: int, today: date) -> Activity | None:
    """The earliest open activity of the opportunity due today or later."""
    return db.session.scalars(
        select(Activity)
        .where(Activity.opportunity_id == opportunity_id, is_next_step_candidate(today))
        .order_by(Activity.due_on, Activity.starts_at.is_(None), Activity.starts_at, Activity.id)
        .limit(1)
    ).first()


def has_next_step_on(last_open_activity_on: date | None, today: date) -> bool:
    """It has an open activity due today or later, told by the day of its latest open
    activity (None: no open activity at all)."""
    return last_open_activity_on is not None and last_open_activity_on >= today


def has_next_step(today: date) -> ColumnElement[bool]:
    """SQL on Opportunity, the same as ``has_next_step_on``: it has an open activity due
    today or later. Never NULL, so ``~has_next_step(today)`` is its exact opposite."""
    return and_(
        Opportunity.last_open_activity_on.is_not(None),
        Opportunity.last_open_activity_on >= today,
    )


def is_stalled(opportunity: Opportunity, today: date) -> bool:
    """Open, with no open activity due today or later (none, or only overdue ones)."""
    return not opportunity.status.is_closed and not has_next_step_on(
        opportunity.last_open_activity_on, today
    )


def stalled(today: date) -> ColumnElement[bool]:
    """SQL on Opportunity, the same as ``is_stalled``: open, with no open activity due today
    or later. Won, Lost and other closed opportunities are never stalled."""
    return and_(is_open(), ~has_next_step(today))


# ---------------------------------------------------------------- the stored days

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
    """Keep the stored days in step from now on (called once by ``create_app``)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush_postexec", _after_flush)
