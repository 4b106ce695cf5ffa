"""The deals behind a figure: the won opportunities behind an attainment figure, the open
ones behind a forecast month or a hygiene count, each with what it counts for, and the
totals of all of them (the same sums as the figure they explain).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, false, func, select

from crmlite.extensions import db
from crmlite.models import BusinessUnit, Company, Location, Member, Opportunity, SalesStage
from crmlite.services.hygiene import past_close, zero_revenue
from crmlite.services.money import as_decimal, cents, weighted
from crmlite.services.periods import add_months, month_start
from crmlite.services.statuses import is_open
from crmlite.services.wins import Basis, is_won, matches, pipeline_amount, won_amount


@dataclass(frozen=True)
class DealRow:
    id: int
    name: str
    company: str | None
    account_manager: str | None
    location: str | None
    business_unit: str | None
    stage: str
    revenue: Decimal
    cost: Decimal
    amount: Decimal  # what it counts for in the figure
    probability: int
    closed_at: datetime | None
    expected_close_on: date | None

    @property
    def weighted(self) -> Decimal:
        return weighted(self.amount, self.probability)


@dataclass
class DealList:
    """The deals behind a figure (the first `LIST_LIMIT`), and the totals of all of them."""

    rows: list[DealRow]
    count: int
    revenue: Decimal
    cost: Decimal
    amount: Decimal
    weighted: Decimal

    @property
    def truncated(self) -> bool:
        return self.count > len(self.rows)


LIST_LIMIT = 500
PAGE = -1  # ``limit``: the page's first LIST_LIMIT rows (read when asked, not when defined)


def _deal_list(
    amount: SQLColumnExpression[Any],
    where: Sequence[ColumnElement[bool]],
    order: Sequence[Any],
    limit: int | None = PAGE,
) -> DealList:
    """The first rows in that order (all of them with ``limit`` None, for an export) with
    what each counts for, and the totals of all the matching deals (the same sums as the
    figure they explain). Two queries."""
    count, revenue, cost, total, weighted_sum = db.session.execute(
        select(
            func.count(Opportunity.id),
            func.sum(Opportunity.revenue),
            func.sum(Opportunity.cost),
            func.sum(amount),
            func.sum(amount * Opportunity.probability),
        ).where(*where)
    ).one()
    query: Select[*tuple[Any, ...]] = (
        select(
            Opportunity.id,
            Opportunity.name,
            Company.name.label("company"),
            Member.name.label("account_manager"),
            Location.name.label("location"),
            BusinessUnit.name.label("business_unit"),
            SalesStage.name.label("stage"),
            Opportunity.revenue,
            Opportunity.cost,
            amount.label("amount"),
            Opportunity.probability,
            Opportunity.closed_at,
            Opportunity.expected_close_on,
        )
        .join(SalesStage, SalesStage.id == Opportunity.stage_id)
        .outerjoin(Company, Company.id == Opportunity.company_id)
        .outerjoin(Member, Member.id == Opportunity.account_manager_id)
        .outerjoin(Location, Location.id == Opportunity.location_id)
        .outerjoin(BusinessUnit, BusinessUnit.id == Opportunity.business_unit_id)
        .where(*where)
        .order_by(*order)
        .limit(LIST_LIMIT if limit == PAGE else limit)
    )
    rows = [
        DealRow(
            r.id,
            r.name,
            r.company,
            r.account_manager,
            r.location,
            r.business_unit,
            r.stage,
            r.revenue,
            r.cost,
            cents(r.amount),
            r.probability,
            r.closed_at,
            r.expected_close_on,
        )
        for r in db.session.execute(query)
    ]
    return DealList(
        rows,
        count,
        cents(revenue),
        cents(cost),
        cents(total),
        cents(as_decimal(weighted_sum) / 100),
    )


def won_deals(
    year: int,
    first_month: int,
    last_month: int,
    tz: ZoneInfo,
    basis: Basis = Basis.REVENUE,
    *,
    member_id: int | None = None,
    location_id: int | None = None,
    business_unit_id: int | None = None,
    limit: int | None = PAGE,
) -> DealList:
    """The won opportunities behind a figure: won from the first day of `first_month` to
    the end of `last_month` (team's time zone), for a member, location or business unit
    (None: any; 0: none set), newest first, each with what it counts for on the basis."""
    return _deal_list(
        won_amount(basis),
        [
            is_won(),
            Opportunity.closed_at >= month_start(year, first_month, tz),
            Opportunity.closed_at < month_start(year, last_month + 1, tz),
            *matches(Opportunity.account_manager_id, member_id),
            *matches(Opportunity.location_id, location_id),
            *matches(Opportunity.business_unit_id, business_unit_id),
        ],
        [Opportunity.closed_at.desc(), Opportunity.id.desc()],
        limit,
    )


def pipeline_deals(
    year: int,
    month: int,
    basis: Basis = Basis.REVENUE,
    *,
    member_id: int | None = None,
    limit: int | None = PAGE,
) -> DealList:
    """The open opportunities expected to close in a month, by expected close date."""
    return _deal_list(
        pipeline_amount(basis),
        [
            is_open(),
            Opportunity.expected_close_on >= date(year, month, 1),
            Opportunity.expected_close_on < date(*add_months(year, month, 1), 1),
            *matches(Opportunity.account_manager_id, member_id),
        ],
        [Opportunity.expected_close_on, Opportunity.id],
        limit,
    )


def hygiene_deals(
    kind: str, today: date, *, member_id: int | None = None, limit: int | None = PAGE
) -> DealList:
    """Open opportunities past their expected close date (oldest first) or without revenue
    (longest in the funnel first)."""
    if kind == "past-close":
        rule, order = past_close(today), [Opportunity.expected_close_on, Opportunity.id]
    elif kind == "zero-revenue":
        rule, order = zero_revenue(), [Opportunity.created_at, Opportunity.id]
    else:
        rule, order = false(), [Opportunity.id]
    return _deal_list(
        Opportunity.revenue,
        [is_open(), rule, *matches(Opportunity.account_manager_id, member_id)],
        order,
        limit,
    )
