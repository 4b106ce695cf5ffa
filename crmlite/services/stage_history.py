"""Keeps what the funnel reads from each stage move in step with the opportunity's history.

The dashboard's funnel health asks, of each move into a stage, whether the opportunity went
further along later and whether it was won later, and of each move out of a stage, how long
the opportunity had been in it. Looking those up per move at read time costs a second per
year of history; instead each StageChange row stores them:

- ``from_stage_entered_at``: when the opportunity entered the stage this move leaves (the
  time of its previous move), so a stay is one subtraction;
- ``advanced_later``: a later move went to a stage further along the funnel (not Lost);
- ``won_later``: a later move went to Won.

They depend on the opportunity's other moves, so whenever the ORM flushes a new move the
opportunity's whole history is recomputed in SQL (a handful of rows). Bulk loads that bypass
the ORM call ``refresh()`` themselves; migration 0006 does the same for existing rows.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, aliased

from crmlite.models import SalesStage, StageChange

DERIVED = ("from_stage_entered_at", "advanced_later", "won_later")


def refresh(session: Session, opportunity_ids: Iterable[int] | None = None) -> None:
    """Recompute the derived columns of these opportunities' moves (all when None)."""
    if opportunity_ids is None:
        session.execute(_statement(some=False), execution_options={"synchronize_session": False})
    else:
        ids = sorted(set(opportunity_ids))
        if not ids:
            return
        session.execute(
            _statement(some=True), {"ids": ids}, execution_options={"synchronize_session": False}
        )
    # Moves already loaded show the new values on their next read (expiring issues no SQL).
    for change in list(session.identity_map.values()):
        if isinstance(change, StageChange):
            session.expire(change, list(DERIVED))


@functools.cache
def _statement(*, some: bool) -> Any:
    """The UPDATE, built once (building it takes milliseconds, longer than running it for
    one opportunity): of the opportunities in the ``ids`` parameter when ``some``, else all."""
    earlier = aliased(StageChange)
    later = aliased(StageChange)
    later_stage = aliased(SalesStage)
    this_stage = aliased(SalesStage)

    def later_move(*conditions: Any) -> Any:
        return (
            select(later.id)
            .join(later_stage, later_stage.id == later.to_stage_id)
            .where(
                later.opportunity_id == StageChange.opportunity_id,
                later.changed_at > StageChange.changed_at,
                *conditions,
            )
            .exists()
        )

    this_position = (
        select(this_stage.position)
        .where(this_stage.id == StageChange.to_stage_id)
        .correlate(StageChange)  # the row being updated, two levels up
        .scalar_subquery()
    )
    statement = update(StageChange).values(
        from_stage_entered_at=select(func.max(earlier.changed_at))
        .where(
            earlier.opportunity_id == StageChange.opportunity_id,
            earlier.changed_at < StageChange.changed_at,
        )
        .scalar_subquery(),
        advanced_later=later_move(~later_stage.is_lost, later_stage.position > this_position),
        won_later=later_move(later_stage.is_won),
    )
    if some:
        statement = statement.where(
            StageChange.opportunity_id.in_(bindparam("ids", expanding=True))
        )
    return statement


def _after_flush(session: Session, _context: Any) -> None:
    # New rows have their keys by now; remember whose history to recompute.
    moved = {c.opportunity_id for c in session.new if isinstance(c, StageChange)}
    if moved:
        session.info.setdefault("stage_history_moved", set()).update(moved)


def _after_flush_postexec(session: Session, _context: Any) -> None:
    ids = session.info.pop("stage_history_moved", None)
    if ids:
        refresh(session, ids)


def register() -> None:
    from sqlalchemy import event

    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_flush_postexec", _after_flush_postexec)
