"""The funnel: what sits in each stage, and which open opportunities are stalled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, exists, func, select

from crmlite.extensions import db
from crmlite.models import Activity, ActivityStatus, Opportunity, OpportunityStatus, SalesStage
from crmlite.models.base import ZERO


@dataclass(frozen=True)
class StageSummary:
    stage_id: int
    name: str
    count: int
    revenue: Decimal
    weighted_revenue: Decimal


def open_stages() -> list[SalesStage]:
    """The six working stages, in funnel order (Won and Lost excluded)."""
    return list(
        db.session.scalars(
            select(SalesStage)
            .where(~SalesStage.is_won, ~SalesStage.is_lost)
            .order_by(SalesStage.position)
        )
    )


def has_next_step(today: date):
    """SQL: the opportunity has an open activity due today or later (its next step)."""
    return exists().where(
        and_(
            Activity.opportunity_id == Opportunity.id,
            Activity.status == ActivityStatus.OPEN.value,
            Activity.due_on >= today,
        )
    )


def is_open():
    return Opportunity.status_id.in_(
        select(OpportunityStatus.id).where(~OpportunityStatus.is_closed)
    )


def stage_summary(account_manager_id: int | None = None) -> list[StageSummary]:
    """Count, revenue and probability-weighted revenue of open opportunities per stage,
    in one grouped query."""
    weighted = func.sum(Opportunity.revenue * Opportunity.probability / 100)
    query = (
        select(
            SalesStage.id,
            SalesStage.name,
            func.count(Opportunity.id),
            func.coalesce(func.sum(Opportunity.revenue), 0),
            func.coalesce(weighted, 0),
        )
        .outerjoin(
            Opportunity,
            and_(
                Opportunity.stage_id == SalesStage.id,
                is_open(),
                *(
                    [Opportunity.account_manager_id == account_manager_id]
                    if account_manager_id
                    else []
                ),
            ),
        )
        .where(~SalesStage.is_won, ~SalesStage.is_lost)
        .group_by(SalesStage.id, SalesStage.name, SalesStage.position)
        .order_by(SalesStage.position)
    )
    cents = Decimal("0.01")
    return [
        StageSummary(
            stage_id,
            name,
            count,
            Decimal(revenue or ZERO).quantize(cents),
            Decimal(weighted_sum or ZERO).quantize(cents),
        )
        for stage_id, name, count, revenue, weighted_sum in db.session.execute(query)
    ]


def stalled_count(today: date, account_manager_id: int | None = None) -> int:
    """Open opportunities with no next step scheduled: the next-step rule is broken."""
    query = select(func.count(Opportunity.id)).where(is_open(), ~has_next_step(today))
    if account_manager_id:
        query = query.where(Opportunity.account_manager_id == account_manager_id)
    return db.session.scalar(query) or 0
