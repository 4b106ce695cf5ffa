"""The funnel board: columns with their totals and cards, filtered, in a constant number
of queries whatever the number of opportunities."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import joinedload, load_only

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityStatus,
    Company,
    Contact,
    Member,
    Opportunity,
    OpportunityStatus,
    SalesStage,
)
from crmlite.services.funnel import has_next_step

CARDS_PER_COLUMN = 25
# What a card shows: loading only these keeps a 200-card board cheap.
CARD_COLUMNS = (
    Opportunity.name,
    Opportunity.stage_id,
    Opportunity.status_id,
    Opportunity.revenue,
    Opportunity.rating,
    Opportunity.expected_close_on,
    Opportunity.won_amount,
    Opportunity.lost_reason,
    Opportunity.closed_at,
    Opportunity.account_manager_id,
    Opportunity.company_id,
    Opportunity.stage_entered_at,
    Opportunity.first_open_activity_on,
    Opportunity.last_open_activity_on,
    Opportunity.version,
)
STEP_COLUMNS = (
    Activity.opportunity_id,
    Activity.subject,
    Activity.due_on,
    Activity.starts_at,
)
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
    to tell whether there are more: one indexed top-N query per stage. Stalled first (no
    open activity at all, then only missed ones), then by the earliest open activity, then
    longest in the stage; Won and Lost newest first (see services/next_steps.py)."""
    scheduled = func.coalesce(Opportunity.last_open_activity_on >= today, False)
    open_order = [
        scheduled,
        Opportunity.first_open_activity_on.is_(None).desc(),
        Opportunity.first_open_activity_on,
        Opportunity.stage_entered_at,
        Opportunity.id,
    ]
    closed_order = [Opportunity.closed_at.desc(), Opportunity.id]
    since = quarter_start(today, tz)
    found: list[tuple[int, int]] = []
    for stage in stage_list:
        query = (
            select(Opportunity.id)
            .where(_visible([stage], since))
            .order_by(*(closed_order if stage.is_closed else open_order))
            .offset(offset)
            .limit(limit + 1)
        )
        found += [(stage.id, i) for i in db.session.scalars(_filtered(query, filters, today))]
    return found


def _cards(opportunity_ids: list[int], today: date, now: datetime) -> dict[int, Card]:
    """Cards for these opportunities: 2 queries whatever their number."""
    if not opportunity_ids:
        return {}
    opportunities = db.session.scalars(
        select(Opportunity)
        .where(Opportunity.id.in_(opportunity_ids))
        .options(
            load_only(*CARD_COLUMNS, raiseload=True),
            joinedload(Opportunity.company).load_only(Company.name, raiseload=True),
            joinedload(Opportunity.account_manager).load_only(Member.name, raiseload=True),
            joinedload(Opportunity.stage),
        )
    ).all()
    # What each card shows as its next step: its earliest open activity.
    order = func.row_number().over(
        partition_by=Activity.opportunity_id,
        order_by=[Activity.due_on, Activity.starts_at.is_(None), Activity.starts_at, Activity.id],
    )
    ranked = (
        select(Activity.id, order.label("rank"))
        .where(
            Activity.opportunity_id.in_(opportunity_ids),
            Activity.status == ActivityStatus.OPEN.value,
        )
        .subquery()
    )
    next_steps = {
        a.opportunity_id: a
        for a in db.session.scalars(
            select(Activity)
            .join(ranked, and_(ranked.c.id == Activity.id, ranked.c.rank == 1))
            .options(load_only(*STEP_COLUMNS, raiseload=True))
        )
    }
    return {
        o.id: Card(
            opportunity=o,
            next_step=next_steps.get(o.id),
            state=card_state(o, today),
            days_in_stage=max(0, (now - o.stage_entered_at).days),
        )
        for o in opportunities
    }


def card_state(opportunity: Opportunity, today: date) -> str:
    """How the next-step rule stands, at a glance: "stalled" (no open activity), "overdue"
    (the earliest open one's day has passed), "today" or "scheduled"; "won" or "lost"."""
    if opportunity.stage.is_won:
        return "won"
    if opportunity.stage.is_lost:
        return "lost"
    first = opportunity.first_open_activity_on
    if first is None:
        return "stalled"
    if first < today:
        return "overdue"
    return "today" if first == today else "scheduled"


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
