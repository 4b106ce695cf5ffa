"""Quota attainment: what each member, location and business unit won against its quota,
per month of a quarter and year to date.

The rules, in business words (what counts as a win, and for how much: services/wins.py):

- **%** is total ÷ quota, rounded to a whole percent, half up (services.money); no quota,
  no %.
- The **Monthly Totals** (and their YTD) of the team count only the members who have a
  quota that month (that year to date): a win of a member without a quota would lift the
  team's % above what its quotas ask. Those left out are shown apart ("not counted").
- **YTD** at a month: everything won from January 1 to the end of that month, against the
  monthly quotas summed over those months.
- By **location and business unit**: the wins booked on the opportunities there, against
  the quotas of the members who belong there now (services/quotas.py).

Every figure comes from a fixed number of grouped queries, whatever the number of deals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from itertools import accumulate
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import BusinessUnit, Location, Member, RevenueQuota
from crmlite.services.money import ZERO, cents, whole_percent
from crmlite.services.periods import quarter_months
from crmlite.services.quotas import NO_LOCATION, NO_UNIT, quotas_by_member, sum_present
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
class Attainment:
    """A won total against a quota."""

    total: Decimal = ZERO
    quota: Decimal | None = None

    @cached_property  # a page asks hundreds of them, some twice
    def percent(self) -> int | None:
        return whole_percent(self.total, self.quota)

    @property
    def on_quota(self) -> bool:
        return self.quota is not None and self.quota != 0 and self.total >= self.quota

    def __add__(self, other: Attainment) -> Attainment:
        return Attainment(self.total + other.total, sum_present((self.quota, other.quota)))


def combined(items: Iterable[Attainment]) -> Attainment:
    """Totals and quotas added up (a missing quota adds nothing)."""
    result = Attainment()
    for item in items:
        result = result + item
    return result


# ------------------------------------------------------------------ by member


@dataclass
class MemberQuarter:
    member_id: int | None
    name: str
    months: list[Attainment]
    ytd: list[Attainment]

    @cached_property
    def quarter(self) -> Attainment:
        return combined(self.months)


@dataclass(frozen=True)
class NotCounted:
    """The rows left out of a Monthly Totals figure: how many had no quota, and what they won."""

    members: int = 0
    won: Decimal = ZERO


def _counted(items: list[Attainment]) -> tuple[Attainment, NotCounted]:
    """The attainments with a quota added up, and the others apart."""
    left_out = [a for a in items if a.quota is None]
    return (
        combined(a for a in items if a.quota is not None),
        NotCounted(len(left_out), sum((a.total for a in left_out), ZERO)),
    )


@dataclass
class QuarterByMember:
    year: int
    quarter: int
    basis: Basis
    months: list[int]
    members: list[MemberQuarter]
    monthly_totals: list[Attainment]  # members with a quota that month only
    ytd_totals: list[Attainment]  # members with a quota that year to date only
    not_counted: list[NotCounted] = field(default_factory=list)  # per month: the others

    @property
    def quarter_total(self) -> Attainment:
        return combined(self.monthly_totals)

    @property
    def quarter_not_counted(self) -> NotCounted:
        """Members without a quota in some month of the quarter, and what they won then."""
        left_out = [a for r in self.members for a in r.months if a.quota is None]
        return NotCounted(
            sum(1 for r in self.members if any(a.quota is None for a in r.months)),
            sum((a.total for a in left_out), ZERO),
        )


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
    wins = won_per_month(
        [(year, m) for m in range(1, last + 1)],
        tz,
        ["account_manager_id"],
        basis,
        (statuses or status_ids()).won,
        member_id=member_id,
    )
    quotas = quotas_by_member(
        ((year, m) for m in range(1, 13)), None if member_id is None else [member_id]
    )
    names = member_names() if names is None else names
    ids = {key[0] for key in wins} | set(quotas)
    rows = []
    for mid in by_name(ids, names):
        won = wins.get((mid,), {})
        quota = quotas.get(mid, {}) if mid is not None else {}
        # Won and quota from January to the end of each month (a quota: None until one).
        month_won = [won.get(m - 1, ZERO) for m in range(1, last + 1)]
        month_quotas = [quota_on(quota.get((year, m)), basis) for m in range(1, last + 1)]
        ytd_won = list(accumulate(month_won))
        ytd_quota = list(accumulate(month_quotas, lambda a, b: sum_present((a, b))))
        rows.append(
            MemberQuarter(
                member_id=mid,
                name=manager_name(mid, names),
                months=[Attainment(month_won[m - 1], month_quotas[m - 1]) for m in months],
                ytd=[Attainment(ytd_won[m - 1], ytd_quota[m - 1]) for m in months],
            )
        )
    return QuarterByMember(
        year=year,
        quarter=quarter,
        basis=basis,
        months=months,
        members=rows,
        monthly_totals=[_counted([r.months[i] for r in rows])[0] for i in range(3)],
        ytd_totals=[_counted([r.ytd[i] for r in rows])[0] for i in range(3)],
        not_counted=[_counted([r.months[i] for r in rows])[1] for i in range(3)],
    )


# ------------------------------------------------------------------ by location


@dataclass
class PlaceQuarter:
    """A row of the summary by place: a location or a business unit (or "No location" /
    "No business unit", id 0), won per month of the period, and the period against its
    quota."""

    id: int  # 0: none set
    name: str
    months: list[Decimal]
    quota: Decimal | None
    active: bool = True

    @property
    def total(self) -> Decimal:
        return sum(self.months, ZERO)

    @property
    def percent(self) -> int | None:
        return whole_percent(self.total, self.quota)


@dataclass
class QuarterByLocation:
    """The summary by location and business unit over a quarter (``quarter``) or the whole
    year (``quarter`` None): two blocks of rows, the locations and the business units, each
    adding up to the totals."""

    year: int
    quarter: int | None
    basis: Basis
    months: list[int]
    locations: list[PlaceQuarter]
    units: list[PlaceQuarter]

    @property
    def totals(self) -> PlaceQuarter:
        return PlaceQuarter(
            0,
            "Totals",
            [sum((loc.months[i] for loc in self.locations), ZERO) for i in range(len(self.months))],
            sum_present(loc.quota for loc in self.locations),
        )

    @property
    def period_label(self) -> str:
        return str(self.year) if self.quarter is None else f"Q{self.quarter} {self.year}"


def _place_rows(
    won: dict[int, list[Decimal]],
    quotas: dict[int, Decimal | None],
    names: dict[int, tuple[str, bool]],
    none_name: str,
    width: int,
) -> list[PlaceQuarter]:
    """Every active place, and an inactive one or "none" (id 0) with a win or a quota;
    by name, "none" last."""
    shown = {i for i, (_n, active) in names.items() if active} | set(won) | set(quotas)
    rows = [
        PlaceQuarter(
            ident,
            names[ident][0] if ident in names else none_name,
            won.get(ident, [ZERO] * width),
            quotas.get(ident),
            names[ident][1] if ident in names else True,
        )
        for ident in shown
    ]
    rows.sort(key=lambda r: (r.id == 0, r.name.lower()))
    return rows


def summary_by_place(
    year: int,
    quarter: int | None,
    tz: ZoneInfo,
    basis: Basis = Basis.REVENUE,
    *,
    statuses: StatusIds | None = None,
) -> QuarterByLocation:
    """Won per month per location and, apart, per business unit, over a quarter or (quarter
    None) the year, each with its quota: the quotas of the members who belong there now.
    A win counts where its opportunity was booked. Wins without a location (business unit)
    go to "No location" ("No business unit"), so each block adds up to the totals. Four
    queries, whatever the number of deals."""
    months = list(range(1, 13)) if quarter is None else quarter_months(quarter)
    width = len(months)
    wins = won_per_month(
        [(year, m) for m in months],
        tz,
        ["location_id", "business_unit_id"],
        basis,
        (statuses or status_ids()).won,
    )
    quota_column = RevenueQuota.margin if basis is Basis.MARGIN else RevenueQuota.revenue
    quota_query = (
        select(Member.location_id, Member.business_unit_id, func.sum(quota_column))
        .join(Member, Member.id == RevenueQuota.member_id)
        .where(RevenueQuota.year == year, RevenueQuota.month.in_(months))
        .group_by(Member.location_id, Member.business_unit_id)
    )
    won_by: tuple[dict[int, list[Decimal]], dict[int, list[Decimal]]] = ({}, {})
    for key, by_month in wins.items():
        for won_side, ident in zip(won_by, key, strict=True):
            row = won_side.setdefault(ident or 0, [ZERO] * width)
            for i, won in by_month.items():
                row[i] += won
    quota_by: tuple[dict[int, Decimal | None], dict[int, Decimal | None]] = ({}, {})
    for loc, unit, amount in db.session.execute(quota_query):
        for quota_side, ident in ((quota_by[0], loc), (quota_by[1], unit)):
            summed = sum_present((quota_side.get(ident or 0), amount))
            quota_side[ident or 0] = None if summed is None else cents(summed)
    location_names = {
        i: (name, active)
        for i, name, active in db.session.execute(
            select(Location.id, Location.name, Location.active)
        )
    }
    unit_names = {
        i: (name, active)
        for i, name, active in db.session.execute(
            select(BusinessUnit.id, BusinessUnit.name, BusinessUnit.active)
        )
    }
    return QuarterByLocation(
        year,
        quarter,
        basis,
        months,
        _place_rows(won_by[0], quota_by[0], location_names, NO_LOCATION, width),
        _place_rows(won_by[1], quota_by[1], unit_names, NO_UNIT, width),
    )


def quarter_by_location(
    year: int,
    quarter: int,
    tz: ZoneInfo,
    basis: Basis = Basis.REVENUE,
    *,
    statuses: StatusIds | None = None,
) -> QuarterByLocation:
    """The summary by location and business unit over one quarter (summary_by_place)."""
    return summary_by_place(year, quarter, tz, basis, statuses=statuses)
