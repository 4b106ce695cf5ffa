"""The funnel board: columns with their totals and cards, filtered, in a constant number
of queries whatever the number of opportunities."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import joinedload

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityStatus,
    Company,
    Contact,
    Opportunity,
    OpportunityStatus,
    SalesStage,
)
from crmlite.services.funnel import has_next_step, is_next_step_candidate

CARDS_PER_COLUMN = 25
CENTS = Decimal("0.01")


@dataclass(frozen=True)
class BoardFilters:
    """What the person narrowed the board to; kept in the URL."""

    account_manager_id: int | None = None
    type_id: int | None = None
    campaign_id: int | None = None
    location_id: int | None = None
    business_unit_id: int | None = None
    rating: str | None = None
    stalled_only: bool = False
    q: str = ""

    def query_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value not in (None, "", False):
                args[f.name] = "1" if value is True else value
        return args


@dataclass
class ColumnTotals:
    count: int = 0
    revenue: Decimal = Decimal("0.00")
    weighted_revenue: Decimal = Decimal("0.00")


@dataclass
class Card:
    opportunity: Opportunity
    next_step: Activity | None
    state: str  # "stalled", "overdue", "today" or "scheduled"; "won"/"lost" when closed
    days_in_stage: int


@dataclass
class Column:
    stage: SalesStage
    totals: ColumnTotals
    cards: list[Card] = field(default_factory=list)
    has_more: bool = False
    next_offset: int = 0


def quarter_start(today: date, tz: ZoneInfo) -> datetime:
    """Won and Lost show only this quarter's cards: from the quarter's first day, local."""
    first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    return datetime.combine(first, time(0), tz).astimezone(UTC)


def stages() -> list[SalesStage]:
    return list(db.session.scalars(select(SalesStage).order_by(SalesStage.position)))


def _visible(stage_list: list[SalesStage], since: datetime) -> ColumnElement[bool]:
    """Open opportunities in the open stages; this quarter's in Won and Lost."""
    open_ids = [s.id for s in stage_list if not s.is_closed]
    closed_ids = [s.id for s in stage_list if s.is_closed]
    open_statuses = select(OpportunityStatus.id).where(~OpportunityStatus.is_closed)
    return or_(
        and_(Opportunity.stage_id.in_(open_ids), Opportunity.status_id.in_(open_statuses)),
        and_(Opportunity.stage_id.in_(closed_ids), Opportunity.closed_at >= since),
    )


def _filtered(query: Any, filters: BoardFilters, today: date) -> Any:
    exact = {
        Opportunity.account_manager_id: filters.account_manager_id,
        Opportunity.type_id: filters.type_id,
        Opportunity.campaign_id: filters.campaign_id,
        Opportunity.location_id: filters.location_id,
        Opportunity.business_unit_id: filters.business_unit_id,
        Opportunity.rating: filters.rating,
    }
    for column, value in exact.items():
        if value is not None:
            query = query.where(column == value)
    if filters.stalled_only:
        query = query.where(~has_next_step(today))
    if filters.q:
        pattern = f"%{filters.q.strip()}%"
        query = (
            query.outerjoin(Company, Company.id == Opportunity.company_id)
            .outerjoin(Contact, Contact.id == Opportunity.contact_id)
            .where(
                or_(
                    Opportunity.name.ilike(pattern),
                    Company.name.ilike(pattern),
                    (Contact.first_name + " " + Contact.last_name).ilike(pattern),
                )
            )
        )
    return query


def column_totals(
    stage_list: list[SalesStage], filters: BoardFilters, today: date, tz: ZoneInfo
) -> dict[int, ColumnTotals]:
    """Count, revenue and probability-weighted revenue per stage, in one grouped query."""
    query = select(
        Opportunity.stage_id,
        func.count(Opportunity.id),
        func.coalesce(func.sum(Opportunity.revenue), 0),
        func.coalesce(func.sum(Opportunity.revenue * Opportunity.probability / 100), 0),
    ).where(_visible(stage_list, quarter_start(today, tz)))
    query = _filtered(query, filters, today).group_by(Opportunity.stage_id)
    totals = {s.id: ColumnTotals() for s in stage_list}
    for stage_id, count, revenue, weighted in db.session.execute(query):
        totals[stage_id] = ColumnTotals(
            count, Decimal(revenue).quantize(CENTS), Decimal(weighted).quantize(CENTS)
        )
    return totals


def _card_ids(
    stage_list: list[SalesStage],
    filters: BoardFilters,
    today: date,
    tz: ZoneInfo,
    *,
    offset: int,
    limit: int,
) -> list[tuple[int, int]]:
    """(stage id, opportunity id) of each column's cards from offset, one more than limit
    to tell whether there are more. Stalled first (longest in the stage first), then by
    next step; Won and Lost newest first."""
    next_due = (
        select(func.min(Activity.due_on))
        .where(Activity.opportunity_id == Opportunity.id, is_next_step_candidate(today))
        .correlate(Opportunity)
        .scalar_subquery()
    )
    inner = _filtered(
        select(
            Opportunity.id,
            Opportunity.stage_id,
            Opportunity.stage_entered_at,
            Opportunity.closed_at,
            next_due.label("next_due"),
        ).where(_visible(stage_list, quarter_start(today, tz))),
        filters,
        today,
    ).subquery()
    rank = (
        func.row_number()
        .over(
            partition_by=inner.c.stage_id,
            order_by=[
                inner.c.closed_at.desc(),
                inner.c.next_due.is_(None).desc(),
                inner.c.next_due,
                inner.c.stage_entered_at,
                inner.c.id,
            ],
        )
        .label("rank")
    )
    ranked = select(inner.c.stage_id, inner.c.id, rank).subquery()
    query = (
        select(ranked.c.stage_id, ranked.c.id)
        .where(ranked.c.rank > offset, ranked.c.rank <= offset + limit + 1)
        .order_by(ranked.c.stage_id, ranked.c.rank)
    )
    return [(stage_id, opportunity_id) for stage_id, opportunity_id in db.session.execute(query)]


def _cards(opportunity_ids: list[int], today: date, now: datetime) -> dict[int, Card]:
    """Cards for these opportunities: 3 queries whatever their number."""
    if not opportunity_ids:
        return {}
    opportunities = db.session.scalars(
        select(Opportunity)
        .where(Opportunity.id.in_(opportunity_ids))
        .options(
            joinedload(Opportunity.company),
            joinedload(Opportunity.account_manager),
            joinedload(Opportunity.stage),
        )
    ).all()
    # Each opportunity's next step: its earliest open activity due today or later.
    order = func.row_number().over(
        partition_by=Activity.opportunity_id,
        order_by=[Activity.due_on, Activity.starts_at.is_(None), Activity.starts_at, Activity.id],
    )
    ranked = (
        select(Activity.id, order.label("rank"))
        .where(Activity.opportunity_id.in_(opportunity_ids), is_next_step_candidate(today))
        .subquery()
    )
    next_steps = {
        a.opportunity_id: a
        for a in db.session.scalars(
            select(Activity)
            .join(ranked, and_(ranked.c.id == Activity.id, ranked.c.rank == 1))
            .options(joinedload(Activity.type))
        )
    }
    overdue = set(
        db.session.scalars(
            select(Activity.opportunity_id).where(
                Activity.opportunity_id.in_(opportunity_ids),
                Activity.status == ActivityStatus.OPEN.value,
                Activity.due_on < today,
            )
        )
    )
    cards = {}
    for opportunity in opportunities:
        step = next_steps.get(opportunity.id)
        cards[opportunity.id] = Card(
            opportunity=opportunity,
            next_step=step,
            state=card_state(opportunity, step, opportunity.id in overdue, today),
            days_in_stage=max(0, (now - opportunity.stage_entered_at).days),
        )
    return cards


def card_state(
    opportunity: Opportunity, step: Activity | None, has_overdue: bool, today: date
) -> str:
    """How the next-step rule stands, at a glance."""
    if opportunity.stage.is_won:
        return "won"
    if opportunity.stage.is_lost:
        return "lost"
    if step is None:
        # No next step: stalled; "overdue" when a step was scheduled but its day has passed.
        return "overdue" if has_overdue else "stalled"
    return "today" if step.due_on == today else "scheduled"


def board(
    filters: BoardFilters,
    today: date,
    tz: ZoneInfo,
    now: datetime | None = None,
    per_column: int = CARDS_PER_COLUMN,
) -> list[Column]:
    """Every column with its totals and first cards."""
    now = now or datetime.now(UTC)
    stage_list = stages()
    totals = column_totals(stage_list, filters, today, tz)
    ids = _card_ids(stage_list, filters, today, tz, offset=0, limit=per_column)
    cards = _cards([opportunity_id for _, opportunity_id in ids], today, now)
    columns = {s.id: Column(stage=s, totals=totals[s.id]) for s in stage_list}
    for stage_id, opportunity_id in ids:
        column = columns[stage_id]
        if len(column.cards) == per_column:
            column.has_more = True
            column.next_offset = per_column
        else:
            column.cards.append(cards[opportunity_id])
    return list(columns.values())


def more_cards(
    stage: SalesStage,
    filters: BoardFilters,
    today: date,
    tz: ZoneInfo,
    offset: int,
    per_column: int = CARDS_PER_COLUMN,
    now: datetime | None = None,
) -> Column:
    """The next cards of one column, for "Load more"."""
    now = now or datetime.now(UTC)
    ids = [
        opportunity_id
        for stage_id, opportunity_id in _card_ids(
            [stage], filters, today, tz, offset=offset, limit=per_column
        )
        if stage_id == stage.id
    ]
    column = Column(stage=stage, totals=ColumnTotals())
    column.has_more = len(ids) > per_column
    column.next_offset = offset + per_column
    cards = _cards(ids[:per_column], today, now)
    column.cards = [cards[i] for i in ids[:per_column]]
    return column


def card(opportunity_id: int, today: date, now: datetime | None = None) -> Card | None:
    """One card, e.g. after it moved."""
    return _cards([opportunity_id], today, now or datetime.now(UTC)).get(opportunity_id)
