"""Opportunity statuses: which ones count as open, and the status an opportunity takes.

Statuses are as few as possible (Open, Won, Lost, perhaps No Decision, PRODUCT.md); a status
marked closed ends the opportunity's life in the funnel. Every rule about open opportunities
starts from ``is_open()``, so this module sits at the bottom of the services: it reads the
models and nothing else.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select

from crmlite.extensions import db
from crmlite.models import Opportunity, OpportunityStatus


def is_open() -> ColumnElement[bool]:
    """SQL on Opportunity: its status is not a closed one (not Won, Lost…)."""
    return is_open_status(Opportunity.status_id)


def is_open_status(status_id: Any) -> ColumnElement[bool]:
    """SQL: this status id column names an open status."""
    return status_id.in_(select(OpportunityStatus.id).where(~OpportunityStatus.is_closed))


_OPEN_STATUS_IDS = (
    select(OpportunityStatus.id).where(~OpportunityStatus.is_closed).order_by(OpportunityStatus.id)
)


def open_status_ids() -> tuple[int, ...]:
    """The ids of the open statuses (usually one), in order."""
    return tuple(db.session.scalars(_OPEN_STATUS_IDS))


def status(*, won: bool = False, lost: bool = False) -> OpportunityStatus:
    """The status an opportunity takes: the first open one, or the first won or lost one."""
    query = select(OpportunityStatus)
    if won:
        query = query.where(OpportunityStatus.is_won)
    elif lost:
        query = query.where(OpportunityStatus.is_lost)
    else:
        query = query.where(~OpportunityStatus.is_closed)
    return db.session.scalars(query.order_by(OpportunityStatus.position).limit(1)).one()
