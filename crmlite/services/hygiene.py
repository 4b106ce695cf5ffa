"""Deal hygiene: the open opportunities that break a rule of the sales method, counted per
account manager.

- **Stalled**: no open activity due today or later (no next step; services/funnel.py).
- **Past close**: the expected close date is in the past.
- **Zero revenue**: no revenue entered.

The lists behind these counts: services/deal_lists.py (the stalled list:
services/stalled_opportunities.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select

from crmlite.extensions import db
from crmlite.models import Opportunity
from crmlite.services.next_steps import has_next_step
from crmlite.services.wins import (
    StatusIds,
    by_name,
    manager_name,
    matches,
    member_names,
    status_ids,
)


def past_close(today: date) -> ColumnElement[bool]:
    """Its expected close date has passed (and it is still open, where this is asked)."""
    return and_(Opportunity.expected_close_on.is_not(None), Opportunity.expected_close_on < today)


def zero_revenue() -> ColumnElement[bool]:
    """No revenue entered yet."""
    return Opportunity.revenue == 0


# The hygiene rules with a list of their own (the stalled one is the board's and the
# stalled list's), as the dashboard's links name them.
HYGIENE_KINDS = {"past-close": "Close date in the past", "zero-revenue": "Zero revenue"}


@dataclass(frozen=True)
class Hygiene:
    member_id: int | None
    name: str
    stalled: int
    past_close: int
    zero_revenue: int


def hygiene(
    today: date,
    *,
    member_id: int | None = None,
    names: dict[int, str] | None = None,
    statuses: StatusIds | None = None,
) -> list[Hygiene]:
    """Per account manager with at least one: open opportunities that are stalled (no
    open activity due today or later), past their expected close date, or without revenue.
    One grouped query, read from a covering index (ix_opportunities_open_book)."""

    def counted(rule: ColumnElement[bool]) -> Any:
        return func.sum(case((rule, 1), else_=0))

    rows = db.session.execute(
        select(
            Opportunity.account_manager_id,
            counted(~has_next_step(today)),
            counted(past_close(today)),
            counted(zero_revenue()),
        )
        .where(
            Opportunity.status_id.in_((statuses or status_ids()).open),
            *matches(Opportunity.account_manager_id, member_id),
        )
        .group_by(Opportunity.account_manager_id)
    )
    counts = {mid: (int(s or 0), int(p or 0), int(z or 0)) for mid, s, p, z in rows}
    names = member_names() if names is None else names
    return [
        Hygiene(mid, manager_name(mid, names), *counts[mid])
        for mid in by_name(counts, names)
        if any(counts[mid])
    ]
