"""Revenue quotas: what each member should close per month, in revenue and optionally in
margin, set per year; and how they roll up to locations and business units.

Rules:
- A quota is per member, year and month. A month without a quota row has no quota (the
  dashboard shows "—" rather than an attainment against zero).
- The margin quota is optional: a month may have a revenue quota and no margin quota.
- "Same every month" sets all twelve months of the year to one amount.
- Quotas roll up to a location and a business unit through the member's location and
  business unit as they are now (members carry no history of where they were).
- Quotas are a sales plan, set for years from 2000 to 2100: narrower on purpose than the
  years crmlite reads (``periods.FIRST_YEAR`` to ``LAST_YEAR``, which also hold imported
  history), so a mistyped year (1925 for 2025) is refused rather than becoming a plan no
  screen will ever show. The dashboard, which sets wins against quotas, offers the same
  years.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import BusinessUnit, Location, Member, RevenueQuota
from crmlite.models.base import ZERO
from crmlite.services import events
from crmlite.services.money import format_amount
from crmlite.services.periods import month_name, quarter_months

MONTHS = tuple(range(1, 13))
FIRST_QUOTA_YEAR, LAST_QUOTA_YEAR = 2000, 2100
# Members (and deals) with no location or business unit set roll up under these names.
NO_LOCATION = "No location"
NO_UNIT = "No business unit"


@dataclass(frozen=True)
class MonthQuota:
    revenue: Decimal
    margin: Decimal | None = None


@dataclass
class MemberQuotas:
    """One member's quotas for a year; months without a quota are missing from `months`."""

    member: Member
    months: dict[int, MonthQuota] = field(default_factory=dict)

    def revenue(self, month: int) -> Decimal | None:
        quota = self.months.get(month)
        return quota.revenue if quota else None

    def margin(self, month: int) -> Decimal | None:
        quota = self.months.get(month)
        return quota.margin if quota else None

    @property
    def revenue_total(self) -> Decimal | None:
        return sum_present(q.revenue for q in self.months.values())

    @property
    def margin_total(self) -> Decimal | None:
        return sum_present(q.margin for q in self.months.values())


def sum_present(values: Iterable[Decimal | None]) -> Decimal | None:
    """The sum of the amounts given, or None when none is given."""
    present = [v for v in values if v is not None]
    return sum(present, ZERO) if present else None


def is_quota_year(year: int) -> bool:
    """Whether quotas may be set (and the dashboard asked) for this year."""
    return FIRST_QUOTA_YEAR <= year <= LAST_QUOTA_YEAR


def quotas_by_member(
    months: Iterable[tuple[int, int]], member_ids: Iterable[int] | None = None
) -> dict[int, dict[tuple[int, int], MonthQuota]]:
    """{member id: {(year, month): quota}} for these (year, month) pairs, in one query."""
    by_year: dict[int, list[int]] = {}
    for year, month in months:
        by_year.setdefault(year, []).append(month)
    if not by_year:
        return {}
    query = select(
        RevenueQuota.member_id,
        RevenueQuota.year,
        RevenueQuota.month,
        RevenueQuota.revenue,
        RevenueQuota.margin,
    ).where(
        or_(
            *(
                and_(RevenueQuota.year == year, RevenueQuota.month.in_(sorted(set(ms))))
                for year, ms in by_year.items()
            )
        )
    )
    if member_ids is not None:
        query = query.where(RevenueQuota.member_id.in_(list(member_ids)))
    found: dict[int, dict[tuple[int, int], MonthQuota]] = {}
    for member_id, year, month, revenue, margin in db.session.execute(query):
        found.setdefault(member_id, {})[(year, month)] = MonthQuota(revenue, margin)
    return found


def year_quotas(year: int) -> list[MemberQuotas]:
    """Every active member, and any inactive one with a quota that year, with their quotas,
    by name. Four queries (quotas, members, their locations and business units)."""
    quotas = quotas_by_member((year, m) for m in MONTHS)
    members = db.session.scalars(
        select(Member)
        .where(or_(Member.active, Member.id.in_(list(quotas))))
        .options(selectinload(Member.location), selectinload(Member.business_unit))
        .order_by(Member.name, Member.id)
    )
    return [
        MemberQuotas(member, {month: q for (_y, month), q in quotas.get(member.id, {}).items()})
        for member in members
    ]


def member_year_quotas(member: Member, year: int) -> MemberQuotas:
    quotas = quotas_by_member(((year, m) for m in MONTHS), [member.id]).get(member.id, {})
    return MemberQuotas(member, {month: q for (_y, month), q in quotas.items()})


def set_year_quotas(
    member: Member,
    year: int,
    revenue: Mapping[int, Decimal | None],
    margin: Mapping[int, Decimal | None] | None = None,
    *,
    by: Member | None = None,
) -> None:
    """Set a member's revenue and margin quotas for the months given in each mapping (a
    month left out of a mapping keeps that amount). A month left with neither a revenue
    nor a margin quota (None, or a zero revenue and no margin) has no quota. The months
    that change are published as one ``QuotaChanged`` when ``by`` (who made the change)
    is given; scripts and the demo data leave it out."""
    if not is_quota_year(year):
        raise ValueError(f"year {year} out of range")
    margin = margin or {}
    months = sorted(set(revenue) | set(margin))
    if any(m not in MONTHS for m in months):
        raise ValueError("months run from 1 to 12")
    if any(v is not None and v < 0 for v in (*revenue.values(), *margin.values())):
        raise ValueError("a quota cannot be negative")
    existing = {
        q.month: q
        for q in db.session.scalars(
            select(RevenueQuota).where(
                RevenueQuota.member_id == member.id, RevenueQuota.year == year
            )
        )
    }
    changed: dict[int, tuple[MonthQuota | None, MonthQuota | None]] = {}
    for month in months:
        row = existing.get(month)
        was = MonthQuota(row.revenue, row.margin) if row is not None else None
        amount = revenue.get(month, row.revenue if row else None)
        margin_amount = margin.get(month, row.margin if row else None)
        if not amount and margin_amount is None:
            if row is not None:
                db.session.delete(row)
                changed[month] = (was, None)
            continue
        if row is None:
            row = RevenueQuota(member_id=member.id, year=year, month=month)
            db.session.add(row)
        row.revenue = amount or ZERO
        row.margin = margin_amount
        if was != MonthQuota(row.revenue, row.margin):
            changed[month] = (was, MonthQuota(row.revenue, row.margin))
    db.session.flush()
    if by is not None and changed:
        _publish_change(member, year, changed, by)


def _publish_change(
    member: Member,
    year: int,
    changed: Mapping[int, tuple[MonthQuota | None, MonthQuota | None]],
    by: Member,
) -> None:
    """One ``QuotaChanged`` for the months of a save that changed: "Revenue quota of Cory
    Ferguson, 2026-11: 4,000.00 → 5,000.00", or for several months each month named."""

    def text(quota: MonthQuota | None) -> str:
        if quota is None:
            return "none"
        if quota.margin is None:
            return format_amount(quota.revenue)
        return f"{format_amount(quota.revenue)} (margin {format_amount(quota.margin)})"

    if len(changed) == 1:
        [(month, (was, now))] = changed.items()
        what = f"Revenue quota of {member.name}, {year}-{month:02d}"
        before, after = text(was), text(now)
    else:
        what = f"Revenue quotas of {member.name}, {year}"
        before = "; ".join(
            f"{month_name(m, short=True)} {text(w)}" for m, (w, _n) in changed.items()
        )
        after = "; ".join(
            f"{month_name(m, short=True)} {text(n)}" for m, (_w, n) in changed.items()
        )
    events.publish(events.QuotaChanged(what, before, after, by=by, at=utcnow()))


def same_every_month(
    member: Member,
    year: int,
    revenue: Decimal | None,
    margin: Decimal | None = None,
    *,
    by: Member | None = None,
) -> None:
    """ "Same every month": all twelve months of the year get these amounts."""
    set_year_quotas(
        member, year, dict.fromkeys(MONTHS, revenue), dict.fromkeys(MONTHS, margin), by=by
    )


@dataclass
class RollUp:
    """Quotas of a location or business unit: per quarter and for the year."""

    name: str
    quarters: list[Decimal | None]
    year: Decimal | None
    units: list[RollUp] = field(default_factory=list)


def roll_up(quotas: list[MemberQuotas], *, margin: bool = False) -> list[RollUp]:
    """Quotas per location, with its business units nested, per quarter and for the year:
    each member's quotas count where the member belongs now. No query."""
    locations: dict[tuple[int, str], dict[tuple[int, str], list[MemberQuotas]]] = {}
    for mq in quotas:
        if not mq.months:
            continue
        member = mq.member
        location = _place(member.location_id, member.location, NO_LOCATION)
        unit = _place(member.business_unit_id, member.business_unit, NO_UNIT)
        locations.setdefault(location, {}).setdefault(unit, []).append(mq)

    def amounts(members: list[MemberQuotas]) -> tuple[list[Decimal | None], Decimal | None]:
        def month_amount(mq: MemberQuotas, month: int) -> Decimal | None:
            return mq.margin(month) if margin else mq.revenue(month)

        quarters = [
            sum_present(month_amount(mq, m) for mq in members for m in quarter_months(q))
            for q in (1, 2, 3, 4)
        ]
        return quarters, sum_present(quarters)

    rows = []
    for (_lid, lname), units in sorted(locations.items(), key=lambda kv: _order(kv[0])):
        unit_rows = []
        for (_uid, uname), members in sorted(units.items(), key=lambda kv: _order(kv[0])):
            quarters, year = amounts(members)
            unit_rows.append(RollUp(uname, quarters, year))
        quarters, year = amounts([mq for ms in units.values() for mq in ms])
        rows.append(RollUp(lname, quarters, year, unit_rows))
    return rows


def _place(
    ident: int | None, obj: Location | BusinessUnit | None, none_name: str
) -> tuple[int, str]:
    return (ident, obj.name) if ident is not None and obj is not None else (0, none_name)


def _order(key: tuple[int, str]) -> tuple[bool, str]:
    """By name, the "No …" group last."""
    return (key[0] == 0, key[1])
