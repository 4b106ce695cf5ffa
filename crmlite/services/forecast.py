"""The forecast: the open pipeline by expected close month, this month and the next two,
against what is left of each member's quota.

The rules, in business words (the basis and what counts as won: services/wins.py):

- The **pipeline** of a month: the open opportunities expected to close in it, in total
  and weighted by their probability (rounded half up to the cent).
- The **quota gap** of a month is what is left to close: its quota minus what was won in
  it, never below zero; the **shortfall**, how much of the gap the weighted pipeline leaves
  uncovered.

Two grouped queries (pipeline, wins) and the quotas, whatever the number of deals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select

from crmlite.extensions import db
from crmlite.models import PipelineMonth
from crmlite.services.money import ZERO, as_decimal, cents, from_cents
from crmlite.services.periods import add_months
from crmlite.services.quotas import quotas_by_member, sum_present
from crmlite.services.rollups import won_per_month
from crmlite.services.wins import (
    Basis,
    StatusIds,
    by_name,
    manager_name,
    member_names,
    quota_on,
    status_ids,
)


@dataclass(frozen=True)
class OpenAmounts:
    revenue: Decimal = ZERO
    cost: Decimal = ZERO
    weighted_revenue: Decimal = ZERO
    weighted_cost: Decimal = ZERO

    def value(self, basis: Basis) -> Decimal:
        return self.revenue - self.cost if basis is Basis.MARGIN else self.revenue

    def weighted(self, basis: Basis) -> Decimal:
        if basis is Basis.MARGIN:
            return self.weighted_revenue - self.weighted_cost
        return self.weighted_revenue


def _open_amounts(values: Sequence[Any]) -> OpenAmounts:
    revenue, cost, weighted_revenue, weighted_cost = values
    return OpenAmounts(
        cents(revenue),
        cents(cost),
        cents(as_decimal(weighted_revenue) / 100),
        cents(as_decimal(weighted_cost) / 100),
    )


def forecast_months(today: date) -> list[tuple[int, int]]:
    """This month and the next two."""
    return [add_months(today.year, today.month, n) for n in range(3)]


def pipeline_by_month(
    today: date, *, member_id: int | None = None, statuses: StatusIds | None = None
) -> dict[int | None, dict[int, OpenAmounts]]:
    """Open opportunities by account manager and expected close month (0-2: this month and
    the next two). One grouped query."""
    months = forecast_months(today)
    keys = [y * 100 + m for y, m in months]
    where: list[ColumnElement[bool]] = [
        PipelineMonth.status_id.in_((statuses or status_ids()).open),
        PipelineMonth.month.in_(keys),
    ]
    if member_id is not None:
        where.append(PipelineMonth.account_manager_id == member_id)
    # The pipeline is kept per expected close month by the database (models/rollups.py).
    rows = db.session.execute(
        select(
            PipelineMonth.account_manager_id,
            PipelineMonth.month,
            func.sum(PipelineMonth.revenue_cents),
            func.sum(PipelineMonth.cost_cents),
            func.sum(PipelineMonth.weighted_revenue),
            func.sum(PipelineMonth.weighted_cost),
        )
        .where(*where)
        .group_by(PipelineMonth.account_manager_id, PipelineMonth.month)
    )
    found: dict[int | None, dict[int, OpenAmounts]] = {}
    for member, month, revenue, cost, weighted_revenue, weighted_cost in rows:
        found.setdefault(member or None, {})[keys.index(month)] = OpenAmounts(
            from_cents(revenue),
            from_cents(cost),
            from_cents(weighted_revenue, 4),
            from_cents(weighted_cost, 4),
        )
    return found


@dataclass(frozen=True)
class ForecastMonth:
    year: int
    month: int
    pipeline: Decimal = ZERO
    weighted: Decimal = ZERO
    quota: Decimal | None = None
    won: Decimal = ZERO

    @property
    def gap(self) -> Decimal | None:
        """What is left to close this month: quota − won, never below zero."""
        if self.quota is None:
            return None
        return max(ZERO, self.quota - self.won)

    def __add__(self, other: ForecastMonth) -> ForecastMonth:
        return ForecastMonth(
            self.year,
            self.month,
            self.pipeline + other.pipeline,
            self.weighted + other.weighted,
            sum_present((self.quota, other.quota)),
            self.won + other.won,
        )


@dataclass
class MemberForecast:
    member_id: int | None
    name: str
    months: list[ForecastMonth]

    @property
    def pipeline(self) -> Decimal:
        return sum((m.pipeline for m in self.months), ZERO)

    @property
    def weighted(self) -> Decimal:
        return sum((m.weighted for m in self.months), ZERO)

    @property
    def gap(self) -> Decimal | None:
        return sum_present(m.gap for m in self.months)

    @property
    def shortfall(self) -> Decimal | None:
        """How much of the gap the weighted forecast leaves uncovered (zero when covered)."""
        gap = self.gap
        return None if gap is None else max(ZERO, gap - self.weighted)


@dataclass
class Forecast:
    basis: Basis
    months: list[tuple[int, int]]
    members: list[MemberForecast]

    @property
    def totals(self) -> MemberForecast:
        months = []
        for i, (year, month) in enumerate(self.months):
            total = ForecastMonth(year, month)
            for member in self.members:
                total = total + member.months[i]
            months.append(total)
        return MemberForecast(None, "Totals", months)


def forecast(
    today: date,
    tz: ZoneInfo,
    basis: Basis = Basis.REVENUE,
    *,
    member_id: int | None = None,
    names: dict[int, str] | None = None,
    statuses: StatusIds | None = None,
) -> Forecast:
    """Open pipeline by expected close month for this month and the next two, in total and
    probability-weighted, next to each member's quota and what they already won in those
    months. Members shown: those with a quota or pipeline in those months."""
    months = forecast_months(today)
    statuses = statuses or status_ids()
    pipeline = {
        mid: {i: (a.value(basis), a.weighted(basis)) for i, a in by_month.items()}
        for mid, by_month in pipeline_by_month(
            today, member_id=member_id, statuses=statuses
        ).items()
    }
    won = won_per_month(
        months, tz, ["account_manager_id"], basis, statuses.won, member_id=member_id
    )
    quotas = quotas_by_member(months, None if member_id is None else [member_id])
    names = member_names() if names is None else names
    rows = []
    in_pipeline = {mid for mid, by in pipeline.items() if any(t or w for t, w in by.values())}
    for mid in by_name(in_pipeline | set(quotas), names):
        mine = pipeline.get(mid, {})
        rows.append(
            MemberForecast(
                mid,
                manager_name(mid, names),
                [
                    ForecastMonth(
                        y,
                        m,
                        *mine.get(i, (ZERO, ZERO)),
                        quota_on(quotas.get(mid, {}).get((y, m)), basis) if mid else None,
                        won.get((mid,), {}).get(i, ZERO),
                    )
                    for i, (y, m) in enumerate(months)
                ],
            )
        )
    return Forecast(basis, months, rows)
