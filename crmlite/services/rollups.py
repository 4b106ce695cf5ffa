"""The deals closed per month, read from the roll-ups the database keeps (models/rollups.py)
instead of the period's opportunities: what the dashboard, the quarter switch, the summary
by location and business unit, the forecast's "won" and the funnel's win rate, moves and
lost reasons count.

The rule is the one of services/wins.py, unchanged: a deal counts in the month, in the
team's zone, of its ``closed_at``, with its status as it is now. The roll-ups are kept per
UTC month; a month in the team's zone starts and ends up to 14 hours away from the UTC
month's, so each end is corrected from the deals closed in those few hours (one grouped
query on the ``closed_at`` index, one index range per edge). A few statements, each built
once per shape, whatever the length of the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    bindparam,
    case,
    cast,
    func,
    select,
    text,
    union_all,
)

from crmlite.database import written
from crmlite.extensions import db
from crmlite.models import (
    BoardClosedMonth,
    ClosedMemberMonth,
    ClosedMonth,
    LostReasonMonth,
    MemberStageMonth,
    Opportunity,
    StageChange,
    StageMonth,
)
from crmlite.models import rollups as kept
from crmlite.services.money import ZERO, cents, from_cents
from crmlite.services.periods import add_months, month_start
from crmlite.services.wins import Basis, won_amount

# What a roll-up row and an opportunity are grouped by, under the same name.
KEYS: dict[str, tuple[Any, Any]] = {
    "account_manager_id": (ClosedMonth.account_manager_id, Opportunity.account_manager_id),
    "location_id": (ClosedMonth.location_id, Opportunity.location_id),
    "business_unit_id": (ClosedMonth.business_unit_id, Opportunity.business_unit_id),
    "status_id": (ClosedMonth.status_id, Opportunity.status_id),
}
MEMBER_KEYS = ("account_manager_id", "status_id")  # also kept in member_closed_rollups


@dataclass(frozen=True)
class Closed:
    """The deals closed in a month: how many, and what they count for on the basis."""

    deals: int = 0
    amount: Decimal = ZERO


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
    # key → month index → [deals, cents], added up as integers and made Decimals once.
    sums: dict[tuple[Any, ...], dict[int, list[int]]] = {}

    def add(key: tuple[Any, ...], index: int, deals: int, amount_cents: int) -> None:
        by_month = sums.setdefault(key, {})
        if index in by_month:
            by_month[index][0] += deals
            by_month[index][1] += amount_cents
        else:
            by_month[index] = [deals, amount_cents]

    # The UTC months, from the roll-ups: by member alone, the narrower table.
    kept_rows: Any = ClosedMemberMonth if set(keys) <= set(MEMBER_KEYS) else ClosedMonth
    columns = [getattr(kept_rows, name) for name in keys]
    amount = kept_rows.margin_cents if basis is Basis.MARGIN else kept_rows.won_cents
    where: list[ColumnElement[bool]] = [
        kept_rows.status_id.in_(list(status_ids)),
        kept_rows.month.in_([_utc_month(y, m) for y, m in months]),
    ]
    if member_id is not None:
        where.append(kept_rows.account_manager_id == member_id)
    index_of = {_utc_month(y, m): i for i, (y, m) in enumerate(months)}
    for *key, month, deals, amount_cents in db.session.execute(
        select(*columns, kept_rows.month, func.sum(kept_rows.deals), func.sum(amount))
        .where(*where)
        .group_by(*columns, kept_rows.month)
    ):
        add(tuple(value or None for value in key), index_of[month], int(deals), int(amount_cents))

    # Each end: the hours between the UTC month's start and the zone's, added to or taken
    # from the months on either side.
    edges = []  # (boundary index, lower, upper, sign)
    for j, (y, m) in enumerate(bounds):
        utc, local = datetime(*add_months(y, m, 0), 1, tzinfo=UTC), month_start(y, m, tz)
        if local != utc:
            edges.append((j, min(utc, local), max(utc, local), 1 if local > utc else -1))
    if edges:
        signs = {j: sign for j, _lo, _hi, sign in edges}
        for edge_key, j, deals, amount_cents in _closed_between(
            edges, keys, basis, status_ids, member_id
        ):
            # local month i = UTC month i − edge i + edge i+1
            if j < len(months):
                add(edge_key, j, -deals * signs[j], -amount_cents * signs[j])
            if j > 0:
                add(edge_key, j - 1, deals * signs[j], amount_cents * signs[j])
    return {
        key: {i: Closed(deals, from_cents(amount_cents)) for i, (deals, amount_cents) in kept}
        for key, by_month in sums.items()
        if (kept := [(i, figures) for i, figures in by_month.items() if figures[0]])
    }


def _closed_between(
    edges: list[tuple[int, datetime, datetime, int]],
    keys: Sequence[str],
    basis: Basis,
    status_ids: Sequence[int],
    member_id: int | None,
) -> list[tuple[tuple[Any, ...], int, int, int]]:
    """The deals closed in each edge's hours, grouped by the keys and the edge: their
    number and amount in cents."""
    member = _member_shape(member_id)
    params: dict[str, Any] = {"statuses": list(status_ids), "member": member_id}
    for n, (_j, lower, upper, _sign) in enumerate(edges):
        params[f"lower{n}"], params[f"upper{n}"] = lower, upper
    rows = db.session.execute(_between(tuple(keys), basis, len(edges), member), params)
    return [
        (tuple(row[:-3]), edges[row[-3]][0], int(row[-2]), int(cents(row[-1]) * 100))
        for row in rows
    ]


@cache
def _between(keys: tuple[str, ...], basis: Basis, edge_count: int, member: str) -> Select[Any]:
    """The query of ``_closed_between`` with bound parameters, built once per shape (the
    dashboard asks three times a request; building it took longer than running it):
    edge n is ``lower{n}`` <= closed_at < ``upper{n}``, one index range each (status and
    close time: ix_opportunities_wins), so no planner picks a scan of every won deal."""
    labels = [f"k{n}" for n in range(len(keys))]
    edges = [
        select(
            *(KEYS[name][1].label(label) for name, label in zip(keys, labels, strict=True)),
            written(n).label("edge"),
            won_amount(basis).label("amount"),
        ).where(
            Opportunity.status_id.in_(bindparam("statuses", expanding=True)),
            *_in_edge(Opportunity.closed_at, n),
            *_one_member(Opportunity.account_manager_id, member),
        )
        for n in range(edge_count)
    ]
    inner = union_all(*edges).subquery()
    key_columns = [inner.c[label] for label in labels]
    return select(*key_columns, inner.c.edge, func.count(), func.sum(inner.c.amount)).group_by(
        *key_columns, inner.c.edge
    )


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
    dialect = db.session.get_bind().dialect.name
    for statement in (
        kept.rebuild_sql(dialect)
        + kept.stage_rebuild_sql(dialect)
        + kept.pipeline_rebuild_sql(dialect)
        + kept.hygiene_rebuild_sql(dialect)
        + kept.member_rebuild_sql(dialect)
        + kept.lost_rebuild_sql(dialect)
        + kept.board_closed_rebuild_sql(dialect)
        + kept.member_stage_rebuild_sql(dialect)
    ):
        db.session.execute(text(statement))


# ------------------------------------------------------------------ any period near months


@dataclass(frozen=True)
class Span:
    """A period [start, end) as whole UTC months (YYYYMM) and, at each end, the hours to add
    (sign 1) or take away (sign -1): a month in any zone starts within 14 hours of the UTC
    month's start."""

    months: list[int]
    edges: list[tuple[datetime, datetime, int]]


def _nearest_utc_month(moment: datetime) -> datetime | None:
    first = moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = datetime(*add_months(first.year, first.month, 1), 1, tzinfo=UTC)
    best = min((first, following), key=lambda m: abs(m - moment))
    return best if abs(best - moment) <= timedelta(hours=15) else None


def span(start: datetime, end: datetime) -> Span | None:
    """The period as UTC months and edges; None when it does not start and end at the start
    of a month in some zone (read the deals themselves then)."""
    first, last = _nearest_utc_month(start), _nearest_utc_month(end)
    if first is None or last is None or last <= first:
        return None
    months, y, m = [], first.year, first.month
    while (y, m) < (last.year, last.month):
        months.append(_utc_month(y, m))
        y, m = add_months(y, m, 1)
    edges = []
    if start != first:
        edges.append((start, first, 1) if start < first else (first, start, -1))
    if end != last:
        edges.append((last, end, 1) if end > last else (end, last, -1))
    return Span(months, edges)


def _edge_params(period: Span) -> dict[str, Any]:
    """The bound values of a period's edges: ``lower{n}``, ``upper{n}``, ``sign{n}``."""
    params: dict[str, Any] = {"months": period.months}
    for n, (lower, upper, sign) in enumerate(period.edges):
        params |= {f"lower{n}": lower, f"upper{n}": upper, f"sign{n}": sign}
    return params


def _in_edge(moment: Any, n: int, *, written: bool = False) -> list[ColumnElement[bool]]:
    """``moment`` in edge n's hours: one index range per edge (SQLite plans an OR of two
    ranges as a pass over every row of the statuses or stages asked for). ``written``: the
    hours written into the statement's text when it runs, not bound."""
    return [
        moment >= bindparam(f"lower{n}", literal_execute=written),
        moment < bindparam(f"upper{n}", literal_execute=written),
    ]


def _sign(n: int, *, written: bool = False) -> Any:
    return bindparam(f"sign{n}", type_=Integer, literal_execute=written)


def _one_member(column: Any, member: str, *, kept: bool = False) -> list[ColumnElement[bool]]:
    """Everyone's rows ("any"), those of no account manager ("none": NULL on a deal, 0 in a
    ``kept`` roll-up row, bound as ``:member``) or of ``:member`` ("one")."""
    if member == "any":
        return []
    if member == "none" and not kept:
        return [column.is_(None)]
    return [column == bindparam("member")]


def _member_shape(member_id: int | None) -> str:
    return "any" if member_id is None else "none" if member_id == 0 else "one"


def _added_up(parts: list[Any]) -> Select[Any]:
    """The rows of ``parts`` (each: a key, then figures) added up per key."""
    rows = union_all(*parts).subquery()
    key, *figures = rows.c
    return select(key, *(func.sum(figure) for figure in figures)).group_by(key)


@cache
def _closed_query(edge_count: int, member: str) -> Select[Any]:
    """closed_between's statement, built once per shape (as _between): the per-member rows
    of the months and the deals of each edge, added up per status."""
    statuses: Any = bindparam("statuses", expanding=True)
    parts: list[Any] = [
        select(ClosedMemberMonth.status_id, ClosedMemberMonth.deals).where(
            ClosedMemberMonth.status_id.in_(statuses),
            ClosedMemberMonth.month.in_(bindparam("months", expanding=True)),
            *_one_member(ClosedMemberMonth.account_manager_id, member, kept=True),
        )
    ]
    parts += [
        select(Opportunity.status_id, _sign(n)).where(
            Opportunity.status_id.in_(statuses),
            *_in_edge(Opportunity.closed_at, n),
            *_one_member(Opportunity.account_manager_id, member),
        )
        for n in range(edge_count)
    ]
    return _added_up(parts)


def closed_between(
    period: Span, status_ids: Sequence[int], *, member_id: int | None = None
) -> dict[int, int]:
    """How many deals of each of these statuses closed in the period (status id: count),
    from the per-member roll-ups (no place to add up); ``member_id`` narrows it to one
    account manager (0: none)."""
    if not status_ids:
        return {}
    params = _edge_params(period) | {"statuses": list(status_ids), "member": member_id or 0}
    query = _closed_query(len(period.edges), _member_shape(member_id))
    return {
        status_id: int(deals)
        for status_id, deals in db.session.execute(query, params)
        if deals is not None
    }


@cache
def _lost_query(edge_count: int, member: str) -> Select[Any]:
    """lost_reasons' statement, built once per shape: the lost-reason rows of the months and
    the deals of each edge, added up per reason, most frequent first."""
    statuses: Any = bindparam("statuses", expanding=True)
    parts: list[Any] = [
        select(
            LostReasonMonth.lost_reason.label("reason"),
            LostReasonMonth.deals.label("deals"),
            LostReasonMonth.amount_cents.label("amount_cents"),
        ).where(
            LostReasonMonth.status_id.in_(statuses),
            LostReasonMonth.month.in_(bindparam("months", expanding=True)),
            *_one_member(LostReasonMonth.account_manager_id, member, kept=True),
        )
    ]
    amount = func.coalesce(Opportunity.lost_amount, Opportunity.revenue)
    parts += [
        select(
            Opportunity.lost_reason,
            _sign(n),
            _sign(n) * cast(func.round(amount * 100), BigInteger),
        ).where(
            Opportunity.status_id.in_(statuses),
            *_in_edge(Opportunity.closed_at, n),
            *_one_member(Opportunity.account_manager_id, member),
        )
        for n in range(edge_count)
    ]
    query = _added_up(parts)
    reason, deals, _amount = query.selected_columns
    return query.having(deals != 0).order_by(deals.desc(), reason)


def lost_reasons(
    period: Span, status_ids: Sequence[int], *, member_id: int | None = None
) -> list[tuple[str, int, Decimal]]:
    """The reasons the deals of these statuses closed in the period were lost for, most
    frequent first (then by reason): each with how many and their amount (the lost amount,
    or the revenue when none was recorded), from the lost-reason roll-ups and the deals of
    the period's edges; ``member_id`` narrows it to one account manager (0: none)."""
    if not status_ids:
        return []
    params = _edge_params(period) | {"statuses": list(status_ids), "member": member_id or 0}
    query = _lost_query(len(period.edges), _member_shape(member_id))
    return [
        (reason, int(count), from_cents(int(amount_cents)))
        for reason, count, amount_cents in db.session.execute(query, params)
    ]


@cache
def _board_closed_query(edge_count: int) -> Select[Any]:
    """board_closed's statement, built once per shape: the board's closed rows from the
    first month on, and the deals of the edge, added up per stage. Every board asks it: its
    values are written into its text when it runs, so PostgreSQL plans it once and keeps
    the plan (bound, it was planned again at every board)."""
    stages: Any = bindparam("stages", expanding=True, literal_execute=True)
    first: Any = bindparam("first", literal_execute=True)
    parts: list[Any] = [
        select(
            BoardClosedMonth.stage_id,
            BoardClosedMonth.deals,
            BoardClosedMonth.won_cents,
            BoardClosedMonth.lost_cents,
        ).where(BoardClosedMonth.stage_id.in_(stages), BoardClosedMonth.month >= first)
    ]

    def in_cents(amount: Any) -> Any:
        return cast(
            func.round(func.coalesce(amount, written(0)) * written(100)),
            BigInteger,
        )

    parts += [
        select(
            Opportunity.stage_id,
            _sign(n, written=True),
            _sign(n, written=True) * in_cents(Opportunity.won_amount),
            _sign(n, written=True) * in_cents(Opportunity.lost_amount),
        ).where(Opportunity.stage_id.in_(stages), *_in_edge(Opportunity.closed_at, n, written=True))
        for n in range(edge_count)
    ]
    return _added_up(parts)


def board_closed(
    since: datetime, stage_ids: Sequence[int]
) -> dict[int, tuple[int, Decimal, Decimal]] | None:
    """The deals in these stages closed at ``since`` or later (the start of a month in some
    zone), whatever their status, per stage: how many, and the sums of their won and of
    their lost amounts (none recorded: 0). None when ``since`` is no month's start."""
    first = _nearest_utc_month(since)
    if first is None:
        return None
    edges = [] if since == first else [(since, first, 1) if since < first else (first, since, -1)]
    params = _edge_params(Span([], edges)) | {
        "stages": list(stage_ids),
        "first": _utc_month(first.year, first.month),
    }
    return {
        stage_id: (int(deals), from_cents(int(won)), from_cents(int(lost)))
        for stage_id, deals, won, lost in db.session.execute(
            _board_closed_query(len(edges)), params
        )
    }


@dataclass(frozen=True)
class StageMoves:
    """A stage's moves in a period (see models/rollups.StageMonth)."""

    entered: int = 0
    advanced: int = 0
    won: int = 0
    stays: int = 0
    stay_ms: int = 0


def stay_ms(later: Any, earlier: Any, dialect: str) -> Any:
    """Milliseconds between two moments, in SQL (as models/rollups keeps them)."""
    if dialect == "sqlite":
        return cast(
            func.round((func.julianday(later) - func.julianday(earlier)) * 86_400_000), BigInteger
        )
    return cast(func.round(func.extract("epoch", later - earlier) * 1000), BigInteger)


@cache
def _moves_query(edge_count: int, dialect: str, member: str = "any") -> Select[Any]:
    """stage_moves' statement, built once per shape: the stage rows of the months (the
    team's, or one member's), and each edge's moves into a stage and out of one, added up
    per stage."""
    stages: Any = bindparam("stages", expanding=True)
    kept_rows: Any = StageMonth if member == "any" else MemberStageMonth
    theirs = [] if member == "any" else _one_member(kept_rows.account_manager_id, member, kept=True)
    parts: list[Any] = [
        select(
            kept_rows.stage_id,
            kept_rows.entered,
            kept_rows.advanced,
            kept_rows.won,
            kept_rows.stays,
            kept_rows.stay_ms,
        ).where(
            kept_rows.month.in_(bindparam("months", expanding=True)),
            kept_rows.stage_id.in_(stages),
            *theirs,
        )
    ]

    # A move's member, looked up for the few moves of the edge's hours (a join lets SQLite
    # read the member's deals first: all of them, 116 ms at a million).
    whose_deal = (
        select(Opportunity.account_manager_id)
        .where(Opportunity.id == StageChange.opportunity_id)
        .scalar_subquery()
    )
    whose = [] if member == "any" else _one_member(whose_deal, member)
    none: Any = written(0)
    for n in range(edge_count):
        sign = _sign(n)
        parts.append(
            select(
                StageChange.to_stage_id,
                sign,
                case((StageChange.advanced_later, sign), else_=0),
                case((StageChange.won_later, sign), else_=0),
                none,
                none,
            ).where(
                StageChange.to_stage_id.in_(stages), *_in_edge(StageChange.changed_at, n), *whose
            )
        )
        parts.append(
            select(
                StageChange.from_stage_id,
                none,
                none,
                none,
                sign,
                sign * stay_ms(StageChange.changed_at, StageChange.from_stage_entered_at, dialect),
            ).where(
                StageChange.from_stage_id.in_(stages),
                StageChange.from_stage_entered_at.is_not(None),
                *_in_edge(StageChange.changed_at, n),
                *whose,
            )
        )
    return _added_up(parts)


def stage_moves(
    period: Span, stage_ids: Sequence[int], *, member_id: int | None = None
) -> dict[int, StageMoves]:
    """The moves into and out of these stages in the period, per stage: the team's, or
    those of ``member_id``'s deals (0: of no account manager)."""
    query = _moves_query(
        len(period.edges), db.session.get_bind().dialect.name, _member_shape(member_id)
    )
    params = _edge_params(period) | {"stages": list(stage_ids), "member": member_id or 0}
    return {
        stage_id: StageMoves(*(int(v or 0) for v in sums))
        for stage_id, *sums in db.session.execute(query, params)
    }
