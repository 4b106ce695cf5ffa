"""The sales dashboard: quota attainment by member, location and business unit; the
forecast against the quota still to close; funnel health; deals that break the rules.

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
  amount was recorded) against the revenue quota; on the margin basis it counts its margin
  (revenue − cost) against the margin quota.
- **%** is total ÷ quota, rounded to a whole percent, half up, in Decimal; no quota, no %.
- **YTD** at a month: everything won from January 1 to the end of that month, against the
  monthly quotas summed over those months.
- **Forecast**: open opportunities by expected close month, this month and the next two,
  in total and weighted by their probability; the **quota gap** of a month is what is left
  to close: its quota minus what was won in it, never below zero.
- **Funnel** over a period, from the stage history: open opportunities per stage now
  (count and value); of the moves into a stage during the period, the share followed (by
  now) by a move to a later stage other than Lost, and the share followed by a move to Won;
  the average days of the stays in a stage that ended during the period; the win rate,
  won ÷ (won + lost) among those closed in the period (as they are now); and the lost
  reasons of the period, most frequent first.
- **Hygiene**, per account manager, among open opportunities: stalled (no open activity
  due today or later), expected close date in the past, zero revenue.

Every figure comes from a fixed number of grouped queries, whatever the number of deals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, false, func, select

from crmlite.extensions import db
from crmlite.models import (
    BusinessUnit,
    Company,
    Location,
    Member,
    Opportunity,
    OpportunityStatus,
    RevenueQuota,
    SalesStage,
    StageChange,
)
from crmlite.models.base import ZERO
from crmlite.services.funnel import open_stages
from crmlite.services.next_steps import has_next_step
from crmlite.services.quotas import MonthQuota, quotas_by_member, sum_present
from crmlite.services.statuses import is_open

CENTS = Decimal("0.01")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
NO_MANAGER = "No account manager"
NO_LOCATION = "No location"
NO_UNIT = "No business unit"
LOST_REASONS_SHOWN = 10


class Basis(StrEnum):
    REVENUE = "revenue"
    MARGIN = "margin"

    @property
    def label(self) -> str:
        return {
            "revenue": "Revenue: won amounts against revenue quotas",
            "margin": "Margin: revenue − cost of the won deals against margin quotas",
        }[self.value]


class Period(StrEnum):
    """What the funnel figures cover: the chosen quarter or its whole year."""

    QUARTER = "quarter"
    YEAR = "year"


# ------------------------------------------------------------------ arithmetic


def percent_of(total: Decimal, quota: Decimal | None) -> int | None:
    """total ÷ quota as a whole percent, half up; None without a (non-zero) quota."""
    if not quota:
        return None
    return int((total * 100 / quota).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _add(a: Decimal | None, b: Decimal | None) -> Decimal | None:
    """Sum of quotas: a missing quota adds nothing; both missing stays missing."""
    if a is None:
        return b
    return a if b is None else a + b


def _money(value: Any) -> Decimal:
    """A SQL sum as exact cents (SQLite may hand back a float)."""
    return _decimal(value).quantize(CENTS, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Attainment:
    """A won total against a quota."""

    total: Decimal = ZERO
    quota: Decimal | None = None

    @property
    def percent(self) -> int | None:
        return percent_of(self.total, self.quota)

    @property
    def on_quota(self) -> bool:
        return bool(self.quota) and self.total >= self.quota  # type: ignore[operator]

    def __add__(self, other: Attainment) -> Attainment:
        return Attainment(self.total + other.total, _add(self.quota, other.quota))


def _total(items: Iterable[Attainment]) -> Attainment:
    result = Attainment()
    for item in items:
        result = result + item
    return result


# ------------------------------------------------------------------ periods


def quarter_months(quarter: int) -> list[int]:
    return [3 * quarter - 2, 3 * quarter - 1, 3 * quarter]


def quarter_of(day: date) -> int:
    return (day.month - 1) // 3 + 1


def month_start(year: int, month: int, tz: ZoneInfo) -> datetime:
    """The first moment of a month in the team's time zone, as UTC; month 13 is January
    of the next year."""
    if month == 13:
        year, month = year + 1, 1
    return datetime(year, month, 1, tzinfo=tz).astimezone(UTC)


def last_day(year: int, month: int) -> date:
    """The last day of a month."""
    return date(*add_months(year, month, 1), 1) - timedelta(days=1)


def add_months(year: int, month: int, count: int) -> tuple[int, int]:
    index = year * 12 + month - 1 + count
    return index // 12, index % 12 + 1


def period_months(quarter: int, period: Period) -> tuple[int, int]:
    """The first and last month of the quarter, or of its whole year."""
    if period is Period.YEAR:
        return 1, 12
    months = quarter_months(quarter)
    return months[0], months[-1]


def period_bounds(
    year: int, quarter: int, period: Period, tz: ZoneInfo
) -> tuple[datetime, datetime]:
    first, last = period_months(quarter, period)
    return month_start(year, first, tz), month_start(year, last + 1, tz)


# ------------------------------------------------------------------ SQL building blocks


def won_amount(basis: Basis) -> ColumnElement[Any]:
    """What a won opportunity counts for on this basis."""
    if basis is Basis.MARGIN:
        return Opportunity.revenue - Opportunity.cost
    return func.coalesce(Opportunity.won_amount, Opportunity.revenue)


def pipeline_amount(basis: Basis) -> ColumnElement[Any]:
    """What an open opportunity is worth on this basis."""
    if basis is Basis.MARGIN:
        return Opportunity.revenue - Opportunity.cost
    return Opportunity.revenue


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


def _matches(column: Any, value: int | None) -> list[ColumnElement[bool]]:
    """Filter on an id: None matches everything, 0 matches "none set"."""
    if value is None:
        return []
    return [column.is_(None)] if value == 0 else [column == value]


def _won_per_month(
    starts: Sequence[datetime],
    keys: Sequence[Any],
    basis: Basis,
    where: Sequence[ColumnElement[bool]],
    won_ids: list[int],
) -> dict[tuple[Any, ...], dict[int, Decimal]]:
    """Won amounts grouped by `keys` and by month: month i (0-based) holds the wins with
    starts[i] <= closed_at < starts[i + 1]. One query, on the closed_at index."""
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
        found.setdefault(tuple(key), {})[index] = _money(amount)
    return found


def member_names() -> dict[int, str]:
    return dict(db.session.execute(select(Member.id, Member.name)).all())


def _by_name(ids: Iterable[int | None], names: dict[int, str]) -> list[int | None]:
    """Members by name; "no account manager" last."""
    return sorted(ids, key=lambda i: (i is None, names.get(i, "") if i is not None else "", i or 0))


def _quota(quota: MonthQuota | None, basis: Basis) -> Decimal | None:
    if quota is None:
        return None
    return quota.margin if basis is Basis.MARGIN else quota.revenue


# ------------------------------------------------------------------ by member


@dataclass
class MemberQuarter:
    member_id: int | None
    name: str
    months: list[Attainment]
    ytd: list[Attainment]

    @property
    def quarter(self) -> Attainment:
        return _total(self.months)


@dataclass
class QuarterByMember:
    year: int
    quarter: int
    basis: Basis
    months: list[int]
    members: list[MemberQuarter]
    monthly_totals: list[Attainment]
    ytd_totals: list[Attainment]

    @property
    def quarter_total(self) -> Attainment:
        return _total(self.monthly_totals)


def quarter_by_member(
    year: int,
    quarter: int,
    tz: ZoneInfo,
    basis: Basis = Basis.REVENUE,
    *,
    member_id: int | None = None,
    names: dict[int, str] | None = None,
    statuses: StatusIds | None = None,
) -> QuarterByMember:
    """Per member and month of the quarter: won total, quota and %; the YTD figures at each
    month's end; the Monthly Totals and YTD rows of everyone shown. Members shown: those
    with a quota that year or a win from January 1 to the quarter's end (and, for the whole
    team, the wins of no account manager). `member_id` narrows it to one member."""
    months = quarter_months(quarter)
    last = months[-1]
    starts = [month_start(year, m, tz) for m in range(1, last + 2)]
    wins = _won_per_month(
        starts,
        [Opportunity.account_manager_id],
        basis,
        _matches(Opportunity.account_manager_id, member_id),
        (statuses or status_ids()).won,
    )
    quotas = quotas_by_member(
        ((year, m) for m in range(1, 13)), None if member_id is None else [member_id]
    )
    names = member_names() if names is None else names
    ids = {key[0] for key in wins} | set(quotas)
    rows = []
    for mid in _by_name(ids, names):
        won = wins.get((mid,), {})
        quota = quotas.get(mid, {}) if mid is not None else {}

        def month_quota(m: int, quota: dict[tuple[int, int], MonthQuota] = quota) -> Decimal | None:
            return _quota(quota.get((year, m)), basis)

        rows.append(
            MemberQuarter(
                member_id=mid,
                name=names.get(mid, "") if mid is not None else NO_MANAGER,
                months=[Attainment(won.get(m - 1, ZERO), month_quota(m)) for m in months],
                ytd=[
                    Attainment(
                        sum((won.get(i - 1, ZERO) for i in range(1, m + 1)), ZERO),
                        sum_present(month_quota(i) for i in range(1, m + 1)),
                    )
                    for m in months
                ],
            )
        )
    return QuarterByMember(
        year=year,
        quarter=quarter,
        basis=basis,
        months=months,
        members=rows,
        monthly_totals=[_total(r.months[i] for r in rows) for i in range(3)],
        ytd_totals=[_total(r.ytd[i] for r in rows) for i in range(3)],
    )


# ------------------------------------------------------------------ by location


@dataclass
class PlaceQuarter:
    """A location or business unit: won per month of the quarter, and the quarter against
    its quota."""

    id: int  # 0: none set
    name: str
    months: list[Decimal]
    quota: Decimal | None
    units: list[PlaceQuarter] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum(self.months, ZERO)

    @property
    def percent(self) -> int | None:
        return percent_of(self.total, self.quota)


@dataclass
class QuarterByLocation:
    year: int
    quarter: int
    basis: Basis
    months: list[int]
    locations: list[PlaceQuarter]

    @property
    def totals(self) -> PlaceQuarter:
        return PlaceQuarter(
            0,
            "Totals",
            [sum((loc.months[i] for loc in self.locations), ZERO) for i in range(3)],
            sum_present(loc.quota for loc in self.locations),
        )


def quarter_by_location(
    year: int,
    quarter: int,
    tz: ZoneInfo,
    basis: Basis = Basis.REVENUE,
    *,
    statuses: StatusIds | None = None,
) -> QuarterByLocation:
    """Won per month of the quarter per location, with its business units nested, and
    each one's quarter quota (its members' quotas, by where they belong now). Every active
    location is listed; a business unit when it has a win or a quota there."""
    months = quarter_months(quarter)
    starts = [month_start(year, m, tz) for m in [*months, months[-1] + 1]]
    wins = _won_per_month(
        starts,
        [Opportunity.location_id, Opportunity.business_unit_id],
        basis,
        [],
        (statuses or status_ids()).won,
    )
    quota_column = RevenueQuota.margin if basis is Basis.MARGIN else RevenueQuota.revenue
    quota_query = (
        select(Member.location_id, Member.business_unit_id, func.sum(quota_column))
        .join(Member, Member.id == RevenueQuota.member_id)
        .where(RevenueQuota.year == year, RevenueQuota.month.in_(months))
        .group_by(Member.location_id, Member.business_unit_id)
    )
    quotas = {
        (loc, unit): None if amount is None else _money(amount)
        for loc, unit, amount in db.session.execute(quota_query)
    }
    location_names = {
        i: (name, active)
        for i, name, active in db.session.execute(
            select(Location.id, Location.name, Location.active)
        )
    }
    unit_names = dict(db.session.execute(select(BusinessUnit.id, BusinessUnit.name)).all())

    cells: dict[int, dict[int, tuple[list[Decimal], Decimal | None]]] = {}
    for loc_id, (_name, active) in location_names.items():
        if active:
            cells.setdefault(loc_id, {})
    for (loc, unit), by_month in wins.items():
        cells.setdefault(loc or 0, {})[unit or 0] = (
            [by_month.get(i, ZERO) for i in range(3)],
            None,
        )
    for (loc, unit), amount in quotas.items():
        won_months, _ = cells.setdefault(loc or 0, {}).get(unit or 0, ([ZERO] * 3, None))
        cells[loc or 0][unit or 0] = (won_months, amount)

    def place_name(ident: int, names: dict[int, str], none: str) -> str:
        return names.get(ident, none) if ident else none

    loc_labels = {i: n for i, (n, _a) in location_names.items()}
    rows = []
    for loc_id, units in cells.items():
        unit_rows = [
            PlaceQuarter(unit_id, place_name(unit_id, unit_names, NO_UNIT), won, quota)
            for unit_id, (won, quota) in units.items()
        ]
        unit_rows.sort(key=lambda u: (u.id == 0, u.name))
        rows.append(
            PlaceQuarter(
                loc_id,
                place_name(loc_id, loc_labels, NO_LOCATION),
                [sum((u.months[i] for u in unit_rows), ZERO) for i in range(3)],
                sum_present(u.quota for u in unit_rows),
                unit_rows,
            )
        )
    rows.sort(key=lambda r: (r.id == 0, r.name))
    return QuarterByLocation(year, quarter, basis, months, rows)


# ------------------------------------------------------------------ the open pipeline


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


def past_close(today: date) -> ColumnElement[bool]:
    return and_(Opportunity.expected_close_on.is_not(None), Opportunity.expected_close_on < today)


def zero_revenue() -> ColumnElement[bool]:
    return Opportunity.revenue == 0


def _open_amounts(values: Sequence[Any]) -> OpenAmounts:
    revenue, cost, weighted_revenue, weighted_cost = values
    return OpenAmounts(
        _money(revenue),
        _money(cost),
        _money(_decimal(weighted_revenue) / 100),
        _money(_decimal(weighted_cost) / 100),
    )


def forecast_months(today: date) -> list[tuple[int, int]]:
    """This month and the next two."""
    return [add_months(today.year, today.month, n) for n in range(3)]


def pipeline_by_month(
    today: date, *, member_id: int | None = None, statuses: StatusIds | None = None
) -> dict[int | None, dict[int, OpenAmounts]]:
    """Open opportunities by account manager and expected close month (0-2: this month and
    the next two). One grouped query."""
    firsts = [
        date(y, m, 1) for y, m in [*forecast_months(today), add_months(today.year, today.month, 3)]
    ]
    month = case(*((Opportunity.expected_close_on < firsts[i + 1], i) for i in range(2)), else_=2)
    inner = (
        select(
            Opportunity.account_manager_id.label("member_id"),
            month.label("month"),
            Opportunity.revenue,
            Opportunity.cost,
            Opportunity.probability,
        )
        .where(
            Opportunity.status_id.in_((statuses or status_ids()).open),
            Opportunity.expected_close_on >= firsts[0],
            Opportunity.expected_close_on < firsts[-1],
            *_matches(Opportunity.account_manager_id, member_id),
        )
        .subquery()
    )
    c = inner.c
    # Grouped outside: PostgreSQL cannot match a CASE with bound parameters across clauses.
    rows = db.session.execute(
        select(
            c.member_id,
            c.month,
            func.sum(c.revenue),
            func.sum(c.cost),
            func.sum(c.revenue * c.probability),
            func.sum(c.cost * c.probability),
        ).group_by(c.member_id, c.month)
    )
    found: dict[int | None, dict[int, OpenAmounts]] = {}
    for row in rows:
        found.setdefault(row[0], {})[int(row[1])] = _open_amounts(row[2:6])
    return found


def _decimal(value: Any) -> Decimal:
    if value is None:
        return ZERO
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


# ------------------------------------------------------------------ forecast


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
            _add(self.quota, other.quota),
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
    starts = [month_start(y, m, tz) for y, m in months] + [
        month_start(*add_months(*months[-1], 1), tz)
    ]
    won = _won_per_month(
        starts,
        [Opportunity.account_manager_id],
        basis,
        _matches(Opportunity.account_manager_id, member_id),
        statuses.won,
    )
    quotas = quotas_by_member(months, None if member_id is None else [member_id])
    names = member_names() if names is None else names
    rows = []
    in_pipeline = {mid for mid, by in pipeline.items() if any(t or w for t, w in by.values())}
    for mid in _by_name(in_pipeline | set(quotas), names):
        mine = pipeline.get(mid, {})
        rows.append(
            MemberForecast(
                mid,
                names.get(mid, "") if mid is not None else NO_MANAGER,
                [
                    ForecastMonth(
                        y,
                        m,
                        *mine.get(i, (ZERO, ZERO)),
                        _quota(quotas.get(mid, {}).get((y, m)), basis) if mid else None,
                        won.get((mid,), {}).get(i, ZERO),
                    )
                    for i, (y, m) in enumerate(months)
                ],
            )
        )
    return Forecast(basis, months, rows)


# ------------------------------------------------------------------ funnel


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
        return percent_of(Decimal(self.advanced), Decimal(self.entered))

    @property
    def to_won(self) -> int | None:
        return percent_of(Decimal(self.won), Decimal(self.entered))


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
        return percent_of(Decimal(self.won), Decimal(self.won + self.lost))

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
    mine = _matches(Opportunity.account_manager_id, member_id)
    now_by_stage = {
        stage_id: (count, _money(value))
        for stage_id, count, value in db.session.execute(
            select(Opportunity.stage_id, func.count(), func.sum(pipeline_amount(basis)))
            .where(Opportunity.status_id.in_(statuses.open), *mine)
            .group_by(Opportunity.stage_id)
        )
    }

    # The period's moves into and out of each stage; what happened before and after a move
    # is stored on it (stage_history.py). The team's are read from the stage's covering
    # index, a member's through their opportunities (a fiftieth of the period's moves).
    def moves(stage: Any, *columns: Any) -> Any:
        query = select(stage, *columns).where(
            StageChange.changed_at >= start, StageChange.changed_at < end
        )
        if member_id is None:
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
            None if average is None else _decimal(average).quantize(Decimal("0.1"), ROUND_HALF_UP),
            count,
        )
        for stage_id, average, count in moves(
            StageChange.from_stage_id, func.avg(days), func.count(StageChange.from_stage_entered_at)
        )
    }

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
    reasons = [
        LostReason(reason or "(no reason recorded)", count, _money(amount))
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


# ------------------------------------------------------------------ hygiene


@dataclass(frozen=True)
class Hygiene:
    member_id: int | None
    name: str
    stalled: int
    past_close: int
    zero_revenue: int


def hygiene(
    today: date,
    *,
    member_id: int | None = None,
    names: dict[int, str] | None = None,
    statuses: StatusIds | None = None,
) -> list[Hygiene]:
    """Per account manager with at least one: open opportunities that are stalled (no
    open activity due today or later), past their expected close date, or without revenue.
    One grouped query, read from a covering index (ix_opportunities_open_book)."""

    def counted(rule: ColumnElement[bool]) -> Any:
        return func.sum(case((rule, 1), else_=0))

    rows = db.session.execute(
        select(
            Opportunity.account_manager_id,
            counted(~has_next_step(today)),
            counted(past_close(today)),
            counted(zero_revenue()),
        )
        .where(
            Opportunity.status_id.in_((statuses or status_ids()).open),
            *_matches(Opportunity.account_manager_id, member_id),
        )
        .group_by(Opportunity.account_manager_id)
    )
    counts = {mid: (int(s or 0), int(p or 0), int(z or 0)) for mid, s, p, z in rows}
    names = member_names() if names is None else names
    return [
        Hygiene(mid, names.get(mid, "") if mid is not None else NO_MANAGER, *counts[mid])
        for mid in _by_name(counts, names)
        if any(counts[mid])
    ]


# ------------------------------------------------------------------ the deals behind a figure


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
        return (self.amount * self.probability / 100).quantize(CENTS, ROUND_HALF_UP)


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


def _deal_list(
    amount: ColumnElement[Any], where: Sequence[ColumnElement[bool]], order: Sequence[Any]
) -> DealList:
    """The first rows in that order with what each counts for, and the totals of all the
    matching deals (the same sums as the figure they explain). Two queries."""
    count, revenue, cost, total, weighted = db.session.execute(
        select(
            func.count(Opportunity.id),
            func.sum(Opportunity.revenue),
            func.sum(Opportunity.cost),
            func.sum(amount),
            func.sum(amount * Opportunity.probability),
        ).where(*where)
    ).one()
    query = (
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
        .limit(LIST_LIMIT)
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
            _money(r.amount),
            r.probability,
            r.closed_at,
            r.expected_close_on,
        )
        for r in db.session.execute(query)
    ]
    return DealList(
        rows,
        count,
        _money(revenue),
        _money(cost),
        _money(total),
        _money(_decimal(weighted) / 100),
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
            *_matches(Opportunity.account_manager_id, member_id),
            *_matches(Opportunity.location_id, location_id),
            *_matches(Opportunity.business_unit_id, business_unit_id),
        ],
        [Opportunity.closed_at.desc(), Opportunity.id.desc()],
    )


def pipeline_deals(
    year: int, month: int, basis: Basis = Basis.REVENUE, *, member_id: int | None = None
) -> DealList:
    """The open opportunities expected to close in a month, by expected close date."""
    return _deal_list(
        pipeline_amount(basis),
        [
            is_open(),
            Opportunity.expected_close_on >= date(year, month, 1),
            Opportunity.expected_close_on < date(*add_months(year, month, 1), 1),
            *_matches(Opportunity.account_manager_id, member_id),
        ],
        [Opportunity.expected_close_on, Opportunity.id],
    )


HYGIENE_KINDS = {"past-close": "Close date in the past", "zero-revenue": "Zero revenue"}


def hygiene_deals(kind: str, today: date, *, member_id: int | None = None) -> DealList:
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
        [is_open(), rule, *_matches(Opportunity.account_manager_id, member_id)],
        order,
    )


# ------------------------------------------------------------------ the whole page


@dataclass
class Dashboard:
    year: int
    quarter: int
    basis: Basis
    by_member: QuarterByMember
    by_location: QuarterByLocation | None
    forecast: Forecast
    hygiene: list[Hygiene]


def dashboard(
    year: int,
    quarter: int,
    today: date,
    tz: ZoneInfo,
    basis: Basis = Basis.REVENUE,
    *,
    member_id: int | None = None,
) -> Dashboard:
    """The attainment summaries, the forecast and the hygiene counts, for the whole team or
    (member_id) one member, whose view leaves out the locations. A fixed number of
    queries. The funnel, heavier, comes separately (funnel_health)."""
    names, statuses = member_names(), status_ids()
    mine: dict[str, Any] = {"member_id": member_id, "names": names, "statuses": statuses}
    return Dashboard(
        year=year,
        quarter=quarter,
        basis=basis,
        by_member=quarter_by_member(year, quarter, tz, basis, **mine),
        by_location=None
        if member_id is not None
        else quarter_by_location(year, quarter, tz, basis, statuses=statuses),
        forecast=forecast(today, tz, basis, **mine),
        hygiene=hygiene(today, **mine),
    )
