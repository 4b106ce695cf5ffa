"""Deal hygiene: the open opportunities that break a rule of the sales method, counted per
account manager.

- **Stalled**: no open activity due today or later (no next step; services/funnel.py).
- **Past close**: the expected close date is in the past.
- **Zero revenue**: no revenue entered.

The lists behind these counts: services/deal_lists.py (the stalled list:
services/stalled_opportunities.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select, union_all

from crmlite.extensions import db
from crmlite.models import HygieneCount, Opportunity
from crmlite.models.rollups import (
    CLOSE_DAY,
    CLOSE_MONTH,
    NEXT_STEP_DAY,
    NEXT_STEP_MONTH,
    ZERO_REVENUE,
)
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
    Read from the counts the database keeps (``kept_counts``); ``counted_from_deals`` is
    the same rule over the deals themselves, which a test compares with it."""
    counts = kept_counts(today, (statuses or status_ids()).open, member_id)
    names = member_names() if names is None else names
    return [
        Hygiene(mid, manager_name(mid, names), *counts[mid])
        for mid in by_name(counts, names)
        if any(counts[mid])
    ]


Counts = dict[int | None, tuple[int, int, int]]  # account manager: stalled, past close, zero


def kept_counts(today: date, open_ids: Sequence[int], member_id: int | None = None) -> Counts:
    """The three counts per account manager (None: none set) from ``hygiene_rollups``: the
    deals whose latest open activity or expected close falls in a month before this one or
    on a day of this month before today, and those without revenue. A few rows per member
    and month, whatever the number of open deals (issue #19). ``member_id`` narrows it to
    one account manager (0: none)."""
    kept = HygieneCount
    this_month = today.year * 100 + today.month
    before_today = {  # kind: its periods before today, as an index range
        NEXT_STEP_MONTH: (None, this_month),
        CLOSE_MONTH: (None, this_month),
        NEXT_STEP_DAY: (this_month * 100, this_month * 100 + today.day),
        CLOSE_DAY: (this_month * 100, this_month * 100 + today.day),
        ZERO_REVENUE: (None, None),
    }
    parts = []
    for kind, (after, before) in before_today.items():
        where = [kept.status_id.in_(list(open_ids)), kept.kind == kind]
        if after is not None:
            where.append(kept.period > after)
        if before is not None:
            where.append(kept.period < before)
        if member_id is not None:
            where.append(kept.account_manager_id == member_id)
        parts.append(
            select(kept.account_manager_id, kept.kind, func.sum(kept.deals))
            .where(*where)
            .group_by(kept.account_manager_id, kept.kind)
        )
    column = {NEXT_STEP_MONTH: 0, NEXT_STEP_DAY: 0, CLOSE_MONTH: 1, CLOSE_DAY: 1, ZERO_REVENUE: 2}
    found: dict[int | None, list[int]] = {}
    for manager, kind, deals in db.session.execute(union_all(*parts)):
        found.setdefault(manager or None, [0, 0, 0])[column[kind]] += int(deals)
    return {manager: (s, p, z) for manager, (s, p, z) in found.items()}


def counted_from_deals(
    today: date, open_ids: Sequence[int], member_id: int | None = None
) -> Counts:
    """The same counts from the open deals themselves (one grouped query over them all):
    the rule the kept counts must equal."""

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
            Opportunity.status_id.in_(list(open_ids)),
            *matches(Opportunity.account_manager_id, member_id),
        )
        .group_by(Opportunity.account_manager_id)
    )
    return {mid: (int(s or 0), int(p or 0), int(z or 0)) for mid, s, p, z in rows}
