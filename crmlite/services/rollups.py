"""The deals closed per month, read from the roll-ups the database keeps (models/rollups.py)
instead of the period's opportunities: what the dashboard, the quarter switch, the summary
by location and business unit, the forecast's "won" and the funnel's win rate count.

The rule is the one of services/wins.py, unchanged: a deal counts in the month, in the
team's zone, of its ``closed_at``, with its status as it is now. The roll-ups are kept per
UTC month; a month in the team's zone starts and ends up to 14 hours away from the UTC
month's, so each end is corrected from the deals closed in those few hours (one grouped
query on the ``closed_at`` index). Two queries, whatever the length of the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, or_, select, text

from crmlite.extensions import db
from crmlite.models import ClosedMonth, Opportunity
from crmlite.models import rollups as kept
from crmlite.services.money import ZERO, cents
from crmlite.services.periods import add_months, month_start
from crmlite.services.wins import Basis, won_amount

# What a roll-up row and an opportunity are grouped by, under the same name.
KEYS: dict[str, tuple[Any, Any]] = {
    "account_manager_id": (ClosedMonth.account_manager_id, Opportunity.account_manager_id),
    "location_id": (ClosedMonth.location_id, Opportunity.location_id),
    "business_unit_id": (ClosedMonth.business_unit_id, Opportunity.business_unit_id),
    "status_id": (ClosedMonth.status_id, Opportunity.status_id),
}


@dataclass(frozen=True)
class Closed:
    """The deals closed in a month: how many, and what they count for on the basis."""

    deals: int = 0
    amount: Decimal = ZERO

    def __add__(self, other: Closed) -> Closed:
        return Closed(self.deals + other.deals, self.amount + other.amount)

    def __neg__(self) -> Closed:
        return Closed(-self.deals, -self.amount)


Found = dict[tuple[Any, ...], dict[int, Closed]]


def _utc_month(year: int, month: int) -> int:
    return year * 100 + month


def closed_per_month(
    months: Sequence[tuple[int, int]],
    tz: ZoneInfo,
    keys: Sequence[str],
    basis: Basis,
    status_ids: Sequence[int],
    *,
    member_id: int | None = None,
) -> Found:
    """The deals of these statuses closed in each of these consecutive months (year, month)
    of the zone ``tz``, grouped by ``keys`` (names in KEYS; "none set" reads None) and by
    month: month i (0-based) holds the deals with start(months[i]) <= closed_at <
    start(months[i] + 1). Only the months with a deal are given. ``member_id`` narrows it
    to one account manager (0: none)."""
    if not months or not status_ids:
        return {}
    bounds = [*months, add_months(*months[-1], 1)]
    found: Found = {}

    def add(key: tuple[Any, ...], index: int, closed: Closed) -> None:
        key = tuple(None if value == 0 else value for value in key)
        by_month = found.setdefault(key, {})
        by_month[index] = by_month.get(index, Closed()) + closed

    # The UTC months, from the roll-ups.
    columns = [KEYS[name][0] for name in keys]
    amount = ClosedMonth.margin_cents if basis is Basis.MARGIN else ClosedMonth.won_cents
    where: list[ColumnElement[bool]] = [
        ClosedMonth.status_id.in_(list(status_ids)),
        ClosedMonth.month.in_([_utc_month(y, m) for y, m in months]),
    ]
    if member_id is not None:
        where.append(ClosedMonth.account_manager_id == member_id)
    index_of = {_utc_month(y, m): i for i, (y, m) in enumerate(months)}
    for *key, month, deals, amount_cents in db.session.execute(
        select(*columns, ClosedMonth.month, func.sum(ClosedMonth.deals), func.sum(amount))
        .where(*where)
        .group_by(*columns, ClosedMonth.month)
    ):
        add(tuple(key), index_of[month], Closed(int(deals), Decimal(int(amount_cents)).scaleb(-2)))

    # Each end: the hours between the UTC month's start and the zone's, added to or taken
    # from the months on either side.
    edges = []  # (boundary index, lower, upper, sign)
    for j, (y, m) in enumerate(bounds):
        utc, local = datetime(*add_months(y, m, 0), 1, tzinfo=UTC), month_start(y, m, tz)
        if local != utc:
            edges.append((j, min(utc, local), max(utc, local), 1 if local > utc else -1))
    if edges:
        for key, j, closed in _closed_between(edges, keys, basis, status_ids, member_id):
            sign = next(s for k, _lo, _hi, s in edges if k == j)
            # local month i = UTC month i − edge i + edge i+1
            if j < len(months):
                add(key, j, -closed if sign > 0 else closed)
            if j > 0:
                add(key, j - 1, closed if sign > 0 else -closed)
    return {
        key: {i: c for i, c in by_month.items() if c.deals}
        for key, by_month in found.items()
        if any(c.deals for c in by_month.values())
    }


def _closed_between(
    edges: list[tuple[int, datetime, datetime, int]],
    keys: Sequence[str],
    basis: Basis,
    status_ids: Sequence[int],
    member_id: int | None,
) -> list[tuple[tuple[Any, ...], int, Closed]]:
    """The deals closed in each edge's hours, grouped by the keys and the edge."""
    edge = case(*((Opportunity.closed_at < upper, j) for j, _lower, upper, _s in edges))
    labels = [f"k{n}" for n in range(len(keys))]
    where: list[ColumnElement[bool]] = [
        Opportunity.status_id.in_(list(status_ids)),
        or_(
            *(
                and_(Opportunity.closed_at >= lower, Opportunity.closed_at < upper)
                for _j, lower, upper, _s in edges
            )
        ),
    ]
    if member_id is not None:
        where.append(
            Opportunity.account_manager_id.is_(None)
            if member_id == 0
            else Opportunity.account_manager_id == member_id
        )
    inner = (
        select(
            *(KEYS[name][1].label(label) for name, label in zip(keys, labels, strict=True)),
            edge.label("edge"),
            won_amount(basis).label("amount"),
        )
        .where(*where)
        .subquery()
    )
    # Grouped outside: PostgreSQL cannot match a CASE with bound parameters across clauses.
    key_columns = [inner.c[label] for label in labels]
    rows = db.session.execute(
        select(*key_columns, inner.c.edge, func.count(), func.sum(inner.c.amount)).group_by(
            *key_columns, inner.c.edge
        )
    )
    return [(tuple(row[:-3]), row[-3], Closed(row[-2], cents(row[-1]))) for row in rows]


def won_per_month(
    months: Sequence[tuple[int, int]],
    tz: ZoneInfo,
    keys: Sequence[str],
    basis: Basis,
    won_ids: Sequence[int],
    *,
    member_id: int | None = None,
) -> dict[tuple[Any, ...], dict[int, Decimal]]:
    """Won amounts grouped by the keys and by month (closed_per_month on the won statuses)."""
    return {
        key: {i: c.amount for i, c in by_month.items()}
        for key, by_month in closed_per_month(
            months, tz, keys, basis, won_ids, member_id=member_id
        ).items()
    }


def rebuild() -> None:
    """Recompute every roll-up row from the opportunities: after a restore from an old
    backup, or to check them (the triggers keep them otherwise)."""
    for statement in kept.rebuild_sql(db.session.get_bind().dialect.name):
        db.session.execute(text(statement))
