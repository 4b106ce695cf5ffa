"""Funnel health over a period, from the stage history.

The rules, in business words (the basis: services/wins.py):

- Per stage **now**: the open opportunities in it, count and value.
- **Conversion**: of the moves into a stage during the period, the share followed (by now)
  by a move to a later stage other than Lost, and the share followed by a move to Won.
- **Average days** in a stage: of the stays in it that ended during the period.
- **Win rate**: won ÷ (won + lost) among those closed in the period (as they are now).
- **Lost reasons** of the period, most frequent first.

Percentages are whole, half up (services.money). A fixed number of grouped queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select

from crmlite.extensions import db
from crmlite.models import BoardTotal, Opportunity, StageChange
from crmlite.services import rollups
from crmlite.services.funnel import open_stages
from crmlite.services.money import ZERO, as_decimal, cents, from_cents, half_up, whole_percent
from crmlite.services.periods import month_start, quarter_months
from crmlite.services.wins import Basis, matches, pipeline_amount, status_ids

LOST_REASONS_SHOWN = 10


class Period(StrEnum):
    """What the funnel figures cover: the chosen quarter or its whole year."""

    QUARTER = "quarter"
    YEAR = "year"


def period_months(quarter: int, period: Period) -> tuple[int, int]:
    """The first and last month of the quarter, or of its whole year."""
    if period is Period.YEAR:
        return 1, 12
    months = quarter_months(quarter)
    return months[0], months[-1]


def period_bounds(
    year: int, quarter: int, period: Period, tz: ZoneInfo
) -> tuple[datetime, datetime]:
    """The UTC moments the quarter (or its year) starts and ends, in the team's zone."""
    first, last = period_months(quarter, period)
    return month_start(year, first, tz), month_start(year, last + 1, tz)


@dataclass(frozen=True)
class StageHealth:
    stage_id: int
    name: str
    count: int  # open now
    value: Decimal
    entered: int  # moves into the stage during the period
    advanced: int  # of those, followed by a move to a later stage (not Lost)
    won: int  # of those, followed by a move to Won
    average_days: Decimal | None  # of the stays in the stage that ended during the period
    stays: int

    @property
    def to_next(self) -> int | None:
        return whole_percent(self.advanced, self.entered)

    @property
    def to_won(self) -> int | None:
        return whole_percent(self.won, self.entered)


@dataclass(frozen=True)
class LostReason:
    reason: str
    count: int
    amount: Decimal


@dataclass
class FunnelHealth:
    stages: list[StageHealth]
    won: int
    lost: int
    lost_reasons: list[LostReason]
    other_reasons: int  # lost deals whose reasons are beyond the ranked ones

    @property
    def win_rate(self) -> int | None:
        return whole_percent(self.won, self.won + self.lost)

    @property
    def open_count(self) -> int:
        return sum(s.count for s in self.stages)

    @property
    def open_value(self) -> Decimal:
        return sum((s.value for s in self.stages), ZERO)


def _days_between(later: Any, earlier: Any) -> ColumnElement[Any]:
    if db.session.get_bind().dialect.name == "sqlite":
        return func.julianday(later) - func.julianday(earlier)
    return func.extract("epoch", later - earlier) / 86400


MS_PER_DAY = 86_400_000


def _moves_scanned(
    start: datetime, end: datetime, stages: list[Any], mine: list[ColumnElement[bool]]
) -> tuple[dict[int, tuple[int, int, int]], dict[int, tuple[Decimal | None, int]]]:
    """The period's moves read from the stage history itself, for a period that is not whole
    months in any zone (the team's, or a member's: their opportunities' moves)."""

    def moves(stage: Any, *columns: Any) -> Any:
        query = select(stage, *columns).where(
            StageChange.changed_at >= start, StageChange.changed_at < end
        )
        if not mine:
            query = query.where(stage.in_([s.id for s in stages]))
        else:
            query = query.where(StageChange.opportunity_id.in_(select(Opportunity.id).where(*mine)))
        return db.session.execute(query.group_by(stage))

    conversion = {
        stage_id: (count, advanced, won)
        for stage_id, count, advanced, won in moves(
            StageChange.to_stage_id,
            func.count(),
            func.count().filter(StageChange.advanced_later),
            func.count().filter(StageChange.won_later),
        )
    }
    days = _days_between(StageChange.changed_at, StageChange.from_stage_entered_at)
    stays = {
        stage_id: (
            None if average is None else half_up(as_decimal(average), 1),
            count,
        )
        for stage_id, average, count in moves(
            StageChange.from_stage_id, func.avg(days), func.count(StageChange.from_stage_entered_at)
        )
    }
    return conversion, stays


def funnel_health(
    start: datetime,
    end: datetime,
    basis: Basis = Basis.REVENUE,
    *,
    member_id: int | None = None,
) -> FunnelHealth:
    """The funnel now and over the period [start, end), from the stage history.

    - Per stage now: the open opportunities in it, count and value.
    - Conversion: of the moves into a stage during the period, the share followed (by now)
      by a move to a later stage other than Lost, and the share followed by a move to Won.
    - Average days: the stays in a stage that ended during the period, from the move into
      the stage to the move out of it.
    - Win rate: won ÷ (won + lost) among the opportunities closed during the period (a
      reopened one counts as it is now).
    - Lost reasons of the opportunities lost during the period, most frequent first.
    """
    stages = open_stages()
    statuses = status_ids()
    mine = matches(Opportunity.account_manager_id, member_id)
    if member_id is None and basis is Basis.REVENUE:
        # The team's open deals on the revenue basis: the board's kept column totals.
        now_by_stage = {
            stage_id: (int(count), from_cents(value))
            for stage_id, count, value in db.session.execute(
                select(
                    BoardTotal.stage_id,
                    func.sum(BoardTotal.deals),
                    func.sum(BoardTotal.revenue_cents),
                )
                .where(BoardTotal.status_id.in_(statuses.open))
                .group_by(BoardTotal.stage_id)
            )
            if count
        }
    else:
        now_by_stage = {
            stage_id: (count, cents(value))
            for stage_id, count, value in db.session.execute(
                select(Opportunity.stage_id, func.count(), func.sum(pipeline_amount(basis)))
                .where(Opportunity.status_id.in_(statuses.open), *mine)
                .group_by(Opportunity.stage_id)
            )
        }

    # The period's moves into and out of each stage; what happened before and after a move
    # is stored on it (stage_history.py). They are read from the monthly roll-ups
    # (services/rollups.py): the team's, or one member's.
    period = rollups.span(start, end)
    if period is not None:
        kept = rollups.stage_moves(period, [s.id for s in stages], member_id=member_id)
        conversion = {i: (m.entered, m.advanced, m.won) for i, m in kept.items()}
        stays = {
            i: (
                None if not m.stays else half_up(Decimal(m.stay_ms) / m.stays / MS_PER_DAY, 1),
                m.stays,
            )
            for i, m in kept.items()
        }
    else:
        conversion, stays = _moves_scanned(start, end, stages, mine)
    if period is not None:
        closed = rollups.closed_between(period, statuses.won + statuses.lost, member_id=member_id)
    else:
        closed = dict(
            db.session.execute(
                select(Opportunity.status_id, func.count())
                .where(
                    Opportunity.status_id.in_(statuses.won + statuses.lost),
                    Opportunity.closed_at >= start,
                    Opportunity.closed_at < end,
                    *mine,
                )
                .group_by(Opportunity.status_id)
            ).all()
        )
    if period is not None:
        counted = rollups.lost_reasons(period, statuses.lost, member_id=member_id)
    else:
        counted = [
            (reason, count, cents(amount))
            for reason, count, amount in db.session.execute(
                select(
                    Opportunity.lost_reason,
                    func.count(Opportunity.id),
                    func.sum(func.coalesce(Opportunity.lost_amount, Opportunity.revenue)),
                )
                .where(
                    Opportunity.status_id.in_(statuses.lost),
                    Opportunity.closed_at >= start,
                    Opportunity.closed_at < end,
                    *mine,
                )
                .group_by(Opportunity.lost_reason)
                .order_by(func.count(Opportunity.id).desc(), Opportunity.lost_reason)
            )
        ]
    reasons = [
        LostReason(reason or "(no reason recorded)", count, amount)
        for reason, count, amount in counted
    ]
    shown = reasons[:LOST_REASONS_SHOWN]
    return FunnelHealth(
        stages=[
            StageHealth(
                stage_id=s.id,
                name=s.name,
                count=now_by_stage.get(s.id, (0, ZERO))[0],
                value=now_by_stage.get(s.id, (0, ZERO))[1],
                entered=conversion.get(s.id, (0, 0, 0))[0],
                advanced=conversion.get(s.id, (0, 0, 0))[1],
                won=conversion.get(s.id, (0, 0, 0))[2],
                average_days=stays.get(s.id, (None, 0))[0],
                stays=stays.get(s.id, (None, 0))[1],
            )
            for s in stages
        ],
        won=sum(closed.get(i, 0) for i in statuses.won),
        lost=sum(closed.get(i, 0) for i in statuses.lost),
        lost_reasons=shown,
        other_reasons=sum(r.count for r in reasons[LOST_REASONS_SHOWN:]),
    )
