"""Wins: what counts as won in a month, for whom and for how much; the basis (revenue or
margin) every sales figure is counted on.

The rules, in business words:

- **Won in a month**: an opportunity whose status is Won now and whose `closed_at` (the
  moment it became Won) falls in that month in the team's time zone. An opportunity won,
  then reopened, is no longer won and no longer counts anywhere.
- A win is credited to the opportunity's **account manager**, and to the **location and
  business unit recorded on the opportunity** (copied from the account manager when it was
  created, editable on its page). A member who changes location keeps their earlier wins
  where they were booked; quotas roll up through the member's location as it is now
  (see services/quotas.py).
- **Basis**: on the revenue basis a win counts its won amount (its revenue when no won
  amount was recorded) against the revenue quota, an open opportunity its revenue; on the
  margin basis both count their margin (revenue − cost) against the margin quota.

These are the building blocks the attainment, forecast, funnel health, hygiene and deal
lists share: SQL expressions and grouped queries, never a query per deal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, case, func, select

from crmlite.extensions import db
from crmlite.models import Member, Opportunity, OpportunityStatus
from crmlite.services.money import cents
from crmlite.services.quotas import MonthQuota

NO_MANAGER = "No account manager"


class Basis(StrEnum):
    REVENUE = "revenue"
    MARGIN = "margin"

    @property
    def label(self) -> str:
        return {
            "revenue": "Revenue: won amounts against revenue quotas",
            "margin": "Margin: revenue − cost of the won deals against margin quotas",
        }[self.value]


def won_amount(basis: Basis) -> SQLColumnExpression[Any]:
    """What a won opportunity counts for on this basis."""
    if basis is Basis.MARGIN:
        return Opportunity.revenue - Opportunity.cost
    return func.coalesce(Opportunity.won_amount, Opportunity.revenue)


def pipeline_amount(basis: Basis) -> SQLColumnExpression[Any]:
    """What an open opportunity is worth on this basis."""
    if basis is Basis.MARGIN:
        return Opportunity.revenue - Opportunity.cost
    return Opportunity.revenue


def quota_on(quota: MonthQuota | None, basis: Basis) -> Decimal | None:
    """The month's quota a win counts against on this basis (None: no quota)."""
    if quota is None:
        return None
    return quota.margin if basis is Basis.MARGIN else quota.revenue


@dataclass(frozen=True)
class StatusIds:
    """The ids of the open, won and lost statuses. Filtering on the listed ids rather than
    a subquery lets SQLite read the opportunities from a covering index."""

    open: list[int]
    won: list[int]
    lost: list[int]


def status_ids() -> StatusIds:
    found = StatusIds([], [], [])
    for status in db.session.scalars(select(OpportunityStatus)):
        if not status.is_closed:
            found.open.append(status.id)
        if status.is_won:
            found.won.append(status.id)
        if status.is_lost:
            found.lost.append(status.id)
    return found


def is_won() -> ColumnElement[bool]:
    return Opportunity.status_id.in_(select(OpportunityStatus.id).where(OpportunityStatus.is_won))


def matches(column: Any, value: int | None) -> list[ColumnElement[bool]]:
    """Filter on an id: None matches everything, 0 matches "none set"."""
    if value is None:
        return []
    return [column.is_(None)] if value == 0 else [column == value]


def won_per_month(
    starts: Sequence[datetime],
    keys: Sequence[Any],
    basis: Basis,
    where: Sequence[ColumnElement[bool]],
    won_ids: list[int],
) -> dict[tuple[Any, ...], dict[int, Decimal]]:
    """Won amounts grouped by `keys` and by month: month i (0-based) holds the wins with
    starts[i] <= closed_at < starts[i + 1]. One query, on the closed_at index. The reports
    read the monthly roll-ups instead (services/rollups.py); this scan of the period's deals
    is the rule they must equal (tests/test_rollups.py compares both)."""
    month = case(
        *((Opportunity.closed_at < starts[i + 1], i) for i in range(len(starts) - 1)),
    )
    labels = [f"k{n}" for n in range(len(keys))]
    inner = (
        select(
            *(key.label(label) for key, label in zip(keys, labels, strict=True)),
            month.label("month"),
            won_amount(basis).label("amount"),
        )
        .where(
            # Listed ids, not a subquery: SQLite then reads the wins from an index.
            Opportunity.status_id.in_(won_ids),
            Opportunity.closed_at >= starts[0],
            Opportunity.closed_at < starts[-1],
            *where,
        )
        .subquery()
    )
    # Grouped outside: PostgreSQL cannot match a CASE with bound parameters across clauses.
    key_columns = [inner.c[label] for label in labels]
    rows = db.session.execute(
        select(*key_columns, inner.c.month, func.sum(inner.c.amount)).group_by(
            *key_columns, inner.c.month
        )
    )
    found: dict[tuple[Any, ...], dict[int, Decimal]] = {}
    for row in rows:
        *key, index, amount = row
        found.setdefault(tuple(key), {})[index] = cents(amount)
    return found


def member_names() -> dict[int, str]:
    return dict(db.session.execute(select(Member.id, Member.name)).all())


def manager_name(member_id: int | None, names: dict[int, str]) -> str:
    """The account manager's name, or "No account manager"."""
    return names.get(member_id, "") if member_id is not None else NO_MANAGER


def by_name(ids: Iterable[int | None], names: dict[int, str]) -> list[int | None]:
    """Members by name; "no account manager" last."""
    return sorted(ids, key=lambda i: (i is None, names.get(i, "") if i is not None else "", i or 0))
