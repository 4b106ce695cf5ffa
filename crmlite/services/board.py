"""The funnel board: columns with their totals and cards, filtered, in a constant number
of queries whatever the number of opportunities."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    false,
    func,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
)

from crmlite.database import written
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityStatus,
    BoardTotal,
    ChecklistItem,
    Company,
    Member,
    Opportunity,
    SalesStage,
    board_totals,
)
from crmlite.services import reference, rollups, text_search
from crmlite.services.money import ZERO, cents, from_cents
from crmlite.services.next_steps import has_next_step, has_next_step_on, stalled
from crmlite.services.periods import quarter_start
from crmlite.services.statuses import is_open, is_open_status, open_status_ids

CARDS_PER_COLUMN = 25


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
    """A column header's figures, one rule for all: an open stage shows its deals' revenue
    and probability-weighted revenue; Won the amounts won (not their revenue), Lost the
    amounts lost; neither has a weighted figure (None)."""

    count: int = 0
    amount: Decimal = Decimal("0.00")
    weighted_revenue: Decimal | None = Decimal("0.00")


class OpenActivity(NamedTuple):
    subject: str
    due_on: date
    starts_at: datetime | None


class Card(NamedTuple):
    """What a board card shows: read straight from SQL rows, no ORM objects. A value (a
    tuple): made fast, and the same card is equal to itself, so its HTML can be kept."""

    id: int
    name: str
    version: int
    stage_id: int
    stage_name: str
    revenue: Decimal
    rating: str
    expected_close_on: date | None
    company_name: str | None
    account_manager_name: str | None
    won_amount: Decimal | None
    lost_reason: str
    # Its earliest open activity: the next step, or the overdue one it is stalled on.
    earliest_open: OpenActivity | None
    state: str  # "stalled", "overdue", "today", "scheduled", "won" or "lost"
    days_in_stage: int
    # The Commitment checklist's progress, "3/5" (done of all); "" when it has none.
    checklist: str = ""

    @property
    def company_shown(self) -> str:
        """The company, unless the name already starts with it (it would add nothing)."""
        company = self.company_name or ""
        return "" if self.name.lower().startswith(company.lower()) else company

    @property
    def next_label(self) -> str:
        """The next step's word for a card with one: Overdue, Today or Next."""
        return _NEXT_LABELS.get(self.state, "Next")

    @property
    def owner_initials(self) -> str:
        """The account manager's initials (at most two), or a dash when there is none."""
        return "".join(part[0] for part in (self.account_manager_name or "").split()[:2]) or "–"


_NEXT_LABELS = {"overdue": "Overdue", "today": "Today"}


@dataclass
class Column:
    stage: SalesStage
    totals: ColumnTotals
    cards: list[Card] = field(default_factory=list)
    has_more: bool = False
    next_offset: int = 0


def _visible(stage_list: list[SalesStage], since: datetime) -> ColumnElement[bool]:
    """Open opportunities in the open stages; in Won and Lost, those closed since ``since``:
    the start of this quarter in the team's zone (periods.quarter_start)."""
    open_ids = [s.id for s in stage_list if not s.is_closed]
    closed_ids = [s.id for s in stage_list if s.is_closed]
    # Only the kinds of stage asked for, so each reads its own index.
    visible = []
    if open_ids:
        visible.append(and_(Opportunity.stage_id.in_(open_ids), is_open()))
    if closed_ids:
        visible.append(and_(Opportunity.stage_id.in_(closed_ids), Opportunity.closed_at >= since))
    return or_(false(), *visible)


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
            # Written into the text when it runs, so the board's cards keep no bound value
            # (see _columns_statement).
            query = query.where(column == literal(value, column.type, literal_execute=True))
    if filters.stalled_only:
        query = query.where(stalled(today))
    if filters.q:
        query = query.where(text_search.deals_containing(filters.q))
    return query


def on_board(query: Any, filters: BoardFilters, today: date, tz: ZoneInfo) -> Any:
    """The query narrowed to the opportunities the board shows with these filters, every
    column and every card (not only the first of each): the board's export reads through
    it, so it holds exactly what the board shows."""
    since = quarter_start(today, tz)
    return _filtered(query.where(_visible(reference.stages(), since)), filters, today)


def column_totals(
    stage_list: list[SalesStage], filters: BoardFilters, today: date, tz: ZoneInfo
) -> dict[int, ColumnTotals]:
    """Per stage: how many deals and their amount (revenue in an open stage, the amounts won
    in Won, the amounts lost in Lost); the probability-weighted revenue in open stages only.

    The whole board's open columns read the totals the database keeps (``BoardTotal``: a few
    rows, whatever the number of deals); a filtered board adds up its matching deals, and
    Won and Lost add up this quarter's, in one grouped query each."""
    closed_ids = {s.id for s in stage_list if s.is_closed}
    totals = _zero_totals(stage_list)
    unfiltered = filters == BoardFilters()
    counted = stage_list
    if unfiltered:
        totals.update(_kept_open_totals(stage_list))
        kept_closed = _kept_closed_totals(stage_list, quarter_start(today, tz))
        totals.update(kept_closed)
        counted = [s for s in stage_list if s.is_closed and s.id not in kept_closed]
    if not counted:
        return totals
    query = select(
        Opportunity.stage_id,
        func.count(Opportunity.id),
        func.coalesce(func.sum(_column_amount(counted)), 0),
        func.coalesce(func.sum(_WEIGHTED), 0),
    ).where(_visible(counted, quarter_start(today, tz)))
    query = _filtered(query, filters, today).group_by(Opportunity.stage_id)
    for stage_id, count, amount_sum, weighted in db.session.execute(query):
        totals[stage_id] = _column_totals(stage_id, count, amount_sum, weighted, closed_ids)
    return totals


_WEIGHTED = Opportunity.revenue * Opportunity.probability / 100


def _column_amount(stage_list: list[SalesStage]) -> Any:
    """A deal's amount in its column's total: won in Won, lost in Lost, else its revenue
    (only the stages asked for: a move's answer asks for the columns it changed)."""
    won_ids = [s.id for s in stage_list if s.is_won]
    lost_ids = [s.id for s in stage_list if s.is_lost]
    whens: list[tuple[Any, Any]] = []
    if won_ids:
        whens.append((Opportunity.stage_id.in_(won_ids), func.coalesce(Opportunity.won_amount, 0)))
    if lost_ids:
        whens.append(
            (Opportunity.stage_id.in_(lost_ids), func.coalesce(Opportunity.lost_amount, 0))
        )
    return case(*whens, else_=Opportunity.revenue) if whens else Opportunity.revenue


def _zero_totals(stage_list: list[SalesStage]) -> dict[int, ColumnTotals]:
    """Every column's totals before any deal is counted (no weighted figure when closed)."""
    return {s.id: ColumnTotals(weighted_revenue=None if s.is_closed else ZERO) for s in stage_list}


def _column_totals(
    stage_id: int, count: int, amount: Any, weighted: Any, closed_ids: set[int]
) -> ColumnTotals:
    return ColumnTotals(
        int(count), cents(amount or 0), None if stage_id in closed_ids else cents(weighted or 0)
    )


_KEPT_OPEN_TOTALS = (
    select(
        BoardTotal.stage_id,
        func.sum(BoardTotal.deals),
        func.sum(BoardTotal.revenue_cents),
        func.sum(BoardTotal.weighted_cent_percents),
    )
    .where(
        BoardTotal.stage_id.in_(bindparam("stages", expanding=True)),
        is_open_status(BoardTotal.status_id),
    )
    .group_by(BoardTotal.stage_id)
)


def _kept_open_totals(stage_list: list[SalesStage]) -> dict[int, ColumnTotals]:
    """The open stages' totals from ``BoardTotal``: its open statuses' rows, one query."""
    open_ids = [s.id for s in stage_list if not s.is_closed]
    rows = db.session.execute(_KEPT_OPEN_TOTALS, {"stages": open_ids})
    return {
        stage_id: ColumnTotals(
            int(count or 0),
            from_cents(revenue),
            from_cents(weighted, 4),
        )
        for stage_id, count, revenue, weighted in rows
    }


def _kept_closed_totals(stage_list: list[SalesStage], since: datetime) -> dict[int, ColumnTotals]:
    """The closed stages' totals since ``since`` from the board's closed roll-up (Won: the
    amounts won, Lost: the amounts lost), one query; empty when it cannot answer."""
    closed = [s for s in stage_list if s.is_closed]
    kept = rollups.board_closed(since, [s.id for s in closed]) if closed else None
    if kept is None:
        return {}
    totals = {}
    for stage in closed:
        deals, won, lost = kept.get(stage.id, (0, ZERO, ZERO))
        totals[stage.id] = ColumnTotals(deals, won if stage.is_won else lost, None)
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
    to tell whether there are more. Stalled first (no open activity at all, then only
    overdue ones), then by the earliest open activity, then longest in the stage; Won and
    Lost newest first (see services/next_steps.py).

    Unsearched, each column is one top-N query on the board index; a text search instead
    ranks the matching opportunities of every column in one pass, as it must read them all.
    """
    if filters.q:
        return _searched(stage_list, filters, today, tz, offset=offset, limit=limit)[0]
    since = quarter_start(today, tz)
    shape = tuple((stage.id, stage.is_closed) for stage in stage_list)
    rows = db.session.execute(
        _columns_statement(shape, open_status_ids(), filters),
        {"today": today, "since": since, "offset": offset, "take": offset + limit + 1},
    )
    return [(row[0], row[1]) for row in rows]


def _column_cards(
    stage_list: list[SalesStage],
    filters: BoardFilters,
    today: date,
    tz: ZoneInfo,
    now: datetime,
    limit: int,
) -> list[tuple[int, Card]]:
    """The unsearched board's first cards of each column, one more than ``limit`` (as
    ``_card_ids``), with everything they show: one statement."""
    shape = tuple((stage.id, stage.is_closed) for stage in stage_list)
    rows = (
        db.session.connection()
        .execute(
            _column_cards_statement(shape, open_status_ids(), filters),
            {"today": today, "since": quarter_start(today, tz), "offset": 0, "take": limit + 1},
        )
        .all()
    )
    return [(row[-1], _card(row, today, now)) for row in rows]


def _searched(
    stage_list: list[SalesStage],
    filters: BoardFilters,
    today: date,
    tz: ZoneInfo,
    *,
    offset: int,
    limit: int,
) -> tuple[list[tuple[int, int]], dict[int, ColumnTotals]]:
    """A text search's cards (as ``_card_ids``) and every column's totals (zero where
    nothing was found), in one pass over the matching opportunities: each ranked in its
    column, which also counts and adds them up (reading the matches once, not twice)."""
    column = Opportunity.stage_id
    rank = func.row_number().over(
        partition_by=column,
        order_by=[
            Opportunity.closed_at.desc(),
            has_next_step(today),
            Opportunity.first_open_activity_on.is_(None).desc(),
            Opportunity.first_open_activity_on,
            Opportunity.stage_entered_at,
            Opportunity.id,
        ],
    )
    query = select(
        Opportunity.stage_id,
        Opportunity.id,
        rank.label("rank"),
        func.count().over(partition_by=column).label("deals"),
        func.sum(_column_amount(stage_list)).over(partition_by=column).label("amount"),
        func.sum(_WEIGHTED).over(partition_by=column).label("weighted"),
    ).where(_visible(stage_list, quarter_start(today, tz)))
    ranked = _filtered(query, filters, today).subquery()
    rows = db.session.execute(
        select(ranked)
        .where(ranked.c.rank > offset, ranked.c.rank <= offset + limit + 1)
        .order_by(ranked.c.stage_id, ranked.c.rank)
    ).all()
    closed_ids = {s.id for s in stage_list if s.is_closed}
    totals = _zero_totals(stage_list)
    for row in rows:
        totals[row.stage_id] = _column_totals(
            row.stage_id, row.deals, row.amount, row.weighted, closed_ids
        )
    return [(row.stage_id, row.id) for row in rows], totals


def _none(column: Any) -> Any:
    """NULL typed and named as ``column``, so the parts of a UNION line up on every engine."""
    return cast(null(), column.type).label(column.key)


@functools.lru_cache(maxsize=64)
def _columns_statement(
    shape: tuple[tuple[int, bool], ...], open_statuses: tuple[int, ...], filters: BoardFilters
) -> Any:
    """The unsearched board's cards in one statement, built once per set of stages and
    filters. Each column comes in up to three parts, each read in the order of an index
    from its first row, never sorting a whole column: open deals without any open activity,
    longest in the stage first; those stalled on overdue activities, oldest first; those
    with a next step, by its day. Won and Lost: newest first. The parts are ranked per
    column and the page's rows kept: stage id, opportunity id, the column's position and
    the card's rank in it."""
    # The day and the page are written into the text when it runs, like the stages and
    # statuses here: a statement with no parameters is planned once by PostgreSQL and its
    # plan kept (with parameters it was planned again at every run once the table grew:
    # 3 ms of the 9 at 100,000 open deals).
    today: Any = bindparam("today", type_=Date, literal_execute=True)  # the day, a date
    take = bindparam("take", type_=Integer, literal_execute=True)
    order = [Opportunity.first_open_activity_on, Opportunity.stage_entered_at, Opportunity.id]
    parts: list[Any] = []
    for position, (stage_id, is_closed) in enumerate(shape):
        if is_closed:
            since = bindparam("since", type_=Opportunity.closed_at.type, literal_execute=True)
            where = [Opportunity.stage_id == written(stage_id), Opportunity.closed_at >= since]
            ordered: list[tuple[list[Any], list[Any]]] = [
                (where, [Opportunity.closed_at.desc(), Opportunity.id])
            ]
        else:
            planned = Opportunity.first_open_activity_on.is_not(None)
            # The open statuses by id: twenty parts each with a subquery cost PostgreSQL
            # more to plan than to run.
            where = [
                Opportunity.stage_id == written(stage_id),
                Opportunity.status_id.in_([written(i) for i in open_statuses]),
            ]
            ordered = [
                ([*where, Opportunity.first_open_activity_on.is_(None)], order),
                ([*where, planned, ~has_next_step(today)], order),
                ([*where, planned, has_next_step(today)], order),
            ]
        for conditions, part_order in ordered:
            # Won and Lost sort on closed_at alone (newest first), open deals on the others.
            query = select(
                Opportunity.id,
                *(
                    (_none(Opportunity.first_open_activity_on), _none(Opportunity.stage_entered_at))
                    if is_closed
                    else (Opportunity.first_open_activity_on, Opportunity.stage_entered_at)
                ),
                Opportunity.closed_at if is_closed else _none(Opportunity.closed_at),
            )
            query = query.where(*conditions).order_by(*part_order).limit(take)
            part = _filtered(query, filters, today).subquery()
            parts.append(
                select(
                    written(position).label("position"),
                    written(stage_id).label("stage_id"),
                    written(len(parts)).label("part"),
                    *part.c,
                )
            )
    both = union_all(*parts).subquery()
    rank = func.row_number().over(
        partition_by=both.c.position,
        order_by=[
            both.c.part,
            both.c.first_open_activity_on,
            both.c.stage_entered_at,
            both.c.closed_at.desc(),
            both.c.id,
        ],
    )
    ranked = select(both.c.position, both.c.stage_id, both.c.id, rank.label("rank")).subquery()
    return (
        select(ranked.c.stage_id, ranked.c.id, ranked.c.position, ranked.c.rank)
        .where(
            ranked.c.rank > bindparam("offset", type_=Integer, literal_execute=True),
            ranked.c.rank <= take,
        )
        .order_by(ranked.c.position, ranked.c.rank)
    )


@functools.lru_cache(maxsize=64)
def _column_cards_statement(
    shape: tuple[tuple[int, bool], ...], open_statuses: tuple[int, ...], filters: BoardFilters
) -> Any:
    """The unsearched board's page of cards with everything they show, in one statement:
    ``_columns_statement``'s ranked ids joined to the cards' rows (``_CARD_ROWS``). The same
    text all day (nothing in it is bound), so PostgreSQL keeps it prepared (a second
    statement on a list of ids, of another length each time, was planned again every time:
    6.7 → 4.3 ms for the cards at 10,000 open deals)."""
    page = _columns_statement(shape, open_statuses, filters).order_by(None).subquery("page")
    return (
        _CARD_ROWS.add_columns(page.c.stage_id)
        .join(page, page.c.id == Opportunity.id)
        .order_by(page.c.position, page.c.rank)
    )


def _cards(opportunity_ids: list[int], today: date, now: datetime) -> dict[int, Card]:
    """Cards for these opportunities: one query whatever their number."""
    if not opportunity_ids:
        return {}
    rows = db.session.connection().execute(_CARDS, {"ids": opportunity_ids})
    return {row[0]: _card(row, today, now) for row in rows}


def _card(row: Any, today: date, now: datetime) -> Card:
    """A card from a row of ``_CARD_ROWS``, by position (reading 20 fields of 200 rows by
    name took longer than the query): its first twelve columns are the card's first twelve
    fields, the rest make the others."""
    (
        is_won,
        is_lost,
        first_open_activity_on,
        last_open_activity_on,
        stage_entered_at,
        subject,
        due_on,
        starts_at,
        checklist,
    ) = row[12:21]
    return Card._make(
        (
            *row[:12],
            OpenActivity(subject, due_on, starts_at) if due_on is not None else None,
            card_state(is_won, is_lost, first_open_activity_on, last_open_activity_on, today),
            max(0, (now - stage_entered_at).days),
            checklist or "",
        )
    )


def _name_of(model: Any, key: Any) -> Any:
    return select(model.name).where(model.id == key).correlate(Opportunity).scalar_subquery()


# What each card shows: its earliest open activity (its next step, or an overdue one),
# found per card on the activities' (opportunity, status, due day) index; not looked for
# when the opportunity has no open activity (its kept first open day is empty): the cards
# a column shows first (0.6 of the cards' 2.8 ms at 100,000 open deals on PostgreSQL).
_EARLIEST_OPEN = case(
    (Opportunity.first_open_activity_on.is_(None), null()),
    else_=select(Activity.id)
    .where(
        Activity.opportunity_id == Opportunity.id,
        Activity.status == written(ActivityStatus.OPEN.value),
    )
    .order_by(Activity.due_on, Activity.starts_at.is_(None), Activity.starts_at, Activity.id)
    .limit(written(1))
    .correlate(Opportunity)
    .scalar_subquery(),
)


# The card's Commitment checklist as "done/all" ("3/5"; none when it has no items): one
# probe of the items' (opportunity, done) index.
_CHECKLIST = (
    select(
        cast(func.count(ChecklistItem.done_at), String)
        + written("/")
        + cast(func.count(ChecklistItem.id), String)
    )
    .where(ChecklistItem.opportunity_id == Opportunity.id)
    .having(func.count(ChecklistItem.id) > written(0))
    .correlate(Opportunity)
    .scalar_subquery()
)


# What a card shows, one row per opportunity, in ``_card``'s order (``Card``'s first).
_CARD_ROWS = (
    select(
        Opportunity.id,
        Opportunity.name,
        Opportunity.version,
        Opportunity.stage_id,
        SalesStage.name.label("stage_name"),
        Opportunity.revenue,
        Opportunity.rating,
        Opportunity.expected_close_on,
        # Looked up per card (an index probe each): a join would let PostgreSQL hash the
        # whole table for a page of 200 cards. The few members are joined (PostgreSQL
        # scanned them once per card: 0.8 ms of the cards' 6.7 at 10,000 open deals).
        _name_of(Company, Opportunity.company_id).label("company_name"),
        Member.name.label("account_manager_name"),
        Opportunity.won_amount,
        Opportunity.lost_reason,
        SalesStage.is_won,
        SalesStage.is_lost,
        Opportunity.first_open_activity_on,
        Opportunity.last_open_activity_on,
        Opportunity.stage_entered_at,
        Activity.subject,
        Activity.due_on,
        Activity.starts_at,
        _CHECKLIST.label("checklist"),
    )
    .join(SalesStage, SalesStage.id == Opportunity.stage_id)
    .outerjoin(Member, Member.id == Opportunity.account_manager_id)
    .outerjoin(Activity, Activity.id == _EARLIEST_OPEN)
)
_CARDS = _CARD_ROWS.where(Opportunity.id.in_(bindparam("ids", expanding=True)))


def card_state(
    is_won: bool,
    is_lost: bool,
    first_open_activity_on: date | None,
    last_open_activity_on: date | None,
    today: date,
) -> str:
    """How the next-step rule stands, at a glance, for a card in an open stage: "stalled"
    (no open activity due today or later: none, or only overdue ones, as the next-step rule
    says), "overdue" (a next step is scheduled, but an earlier open activity's day has
    passed), "today" or "scheduled" (the next step's day); "won" or "lost"."""
    if is_won:
        return "won"
    if is_lost:
        return "lost"
    if first_open_activity_on is None or not has_next_step_on(last_open_activity_on, today):
        return "stalled"
    if first_open_activity_on < today:
        return "overdue"
    return "today" if first_open_activity_on == today else "scheduled"


def board(
    filters: BoardFilters,
    today: date,
    tz: ZoneInfo,
    now: datetime | None = None,
    per_column: int = CARDS_PER_COLUMN,
) -> list[Column]:
    """Every column with its totals and first cards."""
    now = now or datetime.now(UTC)
    stage_list = reference.stages()
    if filters.q:  # the totals come with the cards
        ids, totals = _searched(stage_list, filters, today, tz, offset=0, limit=per_column)
        cards = _cards([opportunity_id for _, opportunity_id in ids], today, now)
        placed = [(stage_id, cards[opportunity_id]) for stage_id, opportunity_id in ids]
    else:
        totals = column_totals(stage_list, filters, today, tz)
        placed = _column_cards(stage_list, filters, today, tz, now, per_column)
    columns = {s.id: Column(stage=s, totals=totals[s.id]) for s in stage_list}
    for stage_id, card in placed:
        column = columns[stage_id]
        if len(column.cards) == per_column:
            column.has_more = True
            column.next_offset = per_column
        else:
            column.cards.append(card)
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
        for _, opportunity_id in _card_ids(
            [stage], filters, today, tz, offset=offset, limit=per_column
        )
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


def rebuild_totals() -> None:
    """Recompute the kept column totals (``BoardTotal``) from the opportunities: after a
    restore from an old backup, or to check them (the triggers keep them otherwise)."""
    for statement in board_totals.rebuild_sql(db.engine.dialect.name):
        db.session.execute(text(statement))
