"""Sales activity points: every points figure crmlite shows, exports or prints comes from here.

The rules (PRODUCT.md, "Sales activity points"):

- An activity earns points when it is closed. They count in the month it was closed, in the
  team's time zone, for the member it is assigned to.
- It earns the points stored on it when it closed (``Activity.points_earned``): changing a
  type's value later, deactivating the type or editing the activity rewrites no history.
- A member's monthly quota is the one a manager set for that month (``PointsMonthQuota``)
  when there is one; else their own when set, else the team's (500 in the method). A change
  of either applies from the month it is made in; earlier months keep the quota they had
  (``PointsQuotaChange``), so a past month prints the same next year. A closed month whose
  sheet is frozen cannot get a quota set for it (it prints as it was printed).
- Attainment is points ÷ quota as a whole percent, rounded half up.
- A closed month's sheet is frozen: its lines (the activity types with their names, point
  values, recommended monthly counts and active flags) and its recommended plan are those
  of the points table when the month was frozen (``PointsMonthSheet``), written the first
  time the closed month is read or, at the latest, just before the points table changes.
  Earned points and quotas were frozen already, so a closed month prints the same forever.
- Pace: the quota spread evenly over the month's working days (Monday to Friday); the points
  expected by today are the share of the working days up to and including today. A past
  month expects the whole quota, a future month nothing.

Totals are computed by the database (GROUP BY member and type over the UTC moments of the
team's month boundaries, on ``ix_activities_assignee_closed``), never by visiting activities.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Integer,
    Select,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from crmlite.database import utcnow, written
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityGroup,
    ActivityStatus,
    ActivityType,
    Member,
    PointsMonthQuota,
    PointsMonthSheet,
    PointsQuotaChange,
    Team,
    TrackStep,
)
from crmlite.models.people import MAX_POINTS_QUOTA
from crmlite.services import events, reference
from crmlite.services.money import half_up, whole_percent
from crmlite.services.periods import Month

# -- arithmetic ------------------------------------------------------------------------------


def attainment(points: int, quota: int) -> int:
    """Percent of the quota attained, a whole number rounded half up (quota 0: 0, not "no
    percentage": a member without a quota has attained nothing of it)."""
    if quota <= 0:
        return 0
    return whole_percent(points, quota) or 0


def expected_points(quota: int, month: Month, today: date) -> int:
    """The points a member on pace has by the end of today: the quota spread over the
    month's working days (rounded half up); all of it for a past month, none for a future."""
    if today < month.first_day:
        return 0
    if today > month.last_day:
        return quota
    days = month.working_days()
    elapsed = sum(1 for day in days if day <= today)
    return int(half_up(Decimal(quota) * elapsed / len(days)))


class Pace(StrEnum):
    AHEAD = "ahead"
    ON_PACE = "on pace"
    BEHIND = "behind"


def pace(points: int, expected: int) -> Pace:
    if points > expected:
        return Pace.AHEAD
    return Pace.ON_PACE if points == expected else Pace.BEHIND


class Progress:
    """Points earned against the quota and the pace: what a member's summary and their row on
    the leaderboard both show. The class using it holds ``points``, ``quota`` and
    ``expected`` (the points expected by today)."""

    if TYPE_CHECKING:

        @property
        def points(self) -> int: ...

        quota: int
        expected: int

    @property
    def attained(self) -> int:
        return attainment(self.points, self.quota)

    @property
    def ahead_by(self) -> int:
        """Points above (or, negative, below) the pace."""
        return self.points - self.expected

    @property
    def pace(self) -> Pace:
        return pace(self.points, self.expected)


# -- quotas ----------------------------------------------------------------------------------


class QuotaSource(StrEnum):
    """Where a member's quota for a month comes from."""

    TEAM = "team default"
    OWN = "member's own"
    MONTH = "set for this month"


@dataclass(frozen=True)
class MonthQuota:
    """A member's points quota for one month, where it comes from, and whether a manager may
    still set it (not when the month is closed and its sheet frozen: it prints as it was)."""

    month: Month
    quota: int
    source: QuotaSource
    frozen: bool = False


# (member id or None for the team, the quota before the change, valid_before, id)
_Change = tuple[int | None, int | None, date, int]


def _values_then(changes: Iterable[_Change], start: date) -> dict[int | None, int | None]:
    """Scope (member id, None: the team) → the value it had in the month starting ``start``,
    for the scopes changed since: the earliest change made after the month began holds it."""
    then: dict[int | None, int | None] = {}
    later = sorted((c for c in changes if c[2] > start), key=lambda c: (c[2], c[3]))
    for member_id, quota, _valid_before, _id in reversed(later):  # the earliest wins
        then[member_id] = quota
    return then


def _by_rule(
    then: dict[int | None, int | None], member: Member, team: Team
) -> tuple[int, QuotaSource]:
    """The rule without a month set explicitly: the member's own quota if they had one then,
    else the team's as it was then."""
    own = then.get(member.id, member.points_quota)
    if own is not None:
        return own, QuotaSource.OWN
    team_then = then.get(None)
    return (team_then if team_then is not None else team.points_quota), QuotaSource.TEAM


def quotas_for(members: Iterable[Member], month: Month, team: Team) -> dict[int, int]:
    """Each member's quota for the month: the one a manager set for that month if any, else
    their own override if they had one then, else the team's quota as it was then. One
    query (the quota history after the month began, and the month's explicit quotas)."""
    start = month.first_day
    rows: Sequence[Any] = db.session.execute(
        union_all(
            select(
                PointsQuotaChange.member_id,
                PointsQuotaChange.quota,
                PointsQuotaChange.valid_before,
                PointsQuotaChange.id,
                literal(0, Integer),
            ).where(PointsQuotaChange.valid_before > start),
            select(
                PointsMonthQuota.member_id,
                PointsMonthQuota.quota,
                PointsMonthQuota.month,
                PointsMonthQuota.id,
                literal(1, Integer),
            ).where(PointsMonthQuota.month == start),
        )
    ).all()
    explicit = {member_id: quota for member_id, quota, _d, _i, kind in rows if kind == 1}
    then = _values_then(((m, q, d, i) for m, q, d, i, kind in rows if kind == 0), start)
    return {
        member.id: explicit[member.id] if member.id in explicit else _by_rule(then, member, team)[0]
        for member in members
    }


def year_quotas(member: Member, year: int, *, team: Team, today: date) -> list[MonthQuota]:
    """The member's points quota for each month of the year, where each comes from, and
    which months are frozen. Three queries."""
    months = [Month(year, m) for m in range(1, 13)]
    changes: list[_Change] = [
        (m, q, d, i)
        for m, q, d, i in db.session.execute(
            select(
                PointsQuotaChange.member_id,
                PointsQuotaChange.quota,
                PointsQuotaChange.valid_before,
                PointsQuotaChange.id,
            ).where(
                or_(
                    PointsQuotaChange.member_id.is_(None), PointsQuotaChange.member_id == member.id
                ),
                PointsQuotaChange.valid_before > months[0].first_day,
            )
        )
    ]
    explicit: dict[date, int] = dict(
        db.session.execute(
            select(PointsMonthQuota.month, PointsMonthQuota.quota).where(
                PointsMonthQuota.member_id == member.id,
                PointsMonthQuota.month.between(months[0].first_day, months[-1].first_day),
            )
        ).all()
    )
    frozen = _frozen_months(months[0], months[-1], today)
    result = []
    for month in months:
        if month.first_day in explicit:
            quota, source = explicit[month.first_day], QuotaSource.MONTH
        else:
            quota, source = _by_rule(_values_then(changes, month.first_day), member, team)
        result.append(MonthQuota(month, quota, source, month.first_day in frozen))
    return result


def _frozen_months(first: Month, last: Month, today: date) -> set[date]:
    """First days of the closed months from ``first`` to ``last`` whose sheet is frozen."""
    last_closed = Month.of(today).previous()
    if last_closed is None:
        return set()
    before = min(last, last_closed)
    if before < first:
        return set()
    return set(
        db.session.scalars(
            select(PointsMonthSheet.month).where(
                PointsMonthSheet.month.between(first.first_day, before.first_day)
            )
        )
    )


class MonthQuotaRefused(ValueError):
    """The month's quota cannot change (said in words for the field)."""


def set_month_quota(
    member: Member, month: Month, quota: int | None, *, team: Team, today: date, by: Member
) -> MonthQuota:
    """A manager sets the member's points quota for one month (``quota`` None: clears it, and
    the rule applies again). A closed month whose sheet is frozen keeps the quota it was
    printed with: refused. Published as ``QuotaChanged``; returns the month as it now is."""
    if quota is not None and not 0 <= quota <= MAX_POINTS_QUOTA:
        raise MonthQuotaRefused(f"The quota is a whole number from 0 to {MAX_POINTS_QUOTA:,}.")
    if _frozen_months(month, month, today):
        raise MonthQuotaRefused(
            f"{month.label} is closed and its points sheet is frozen: "
            "its quota stays as it was printed."
        )
    before = month_quota(member, month, team=team, today=today)
    row = db.session.scalar(
        select(PointsMonthQuota).where(
            PointsMonthQuota.member_id == member.id, PointsMonthQuota.month == month.first_day
        )
    )
    if quota is None:
        if row is not None:
            db.session.delete(row)
    elif row is None:
        try:
            with db.session.begin_nested():
                db.session.add(
                    PointsMonthQuota(
                        member_id=member.id, month=month.first_day, quota=quota, set_by_id=by.id
                    )
                )
        except IntegrityError as taken:  # set by someone else at the same moment
            raise MonthQuotaRefused(
                f"{month.label} was set meanwhile by someone else: reload to see it."
            ) from taken
    else:
        row.quota, row.set_by_id, row.set_at = quota, by.id, utcnow()
    db.session.flush()
    after = month_quota(member, month, team=team, today=today)
    if (after.quota, after.source) != (before.quota, before.source):
        events.publish(
            events.QuotaChanged(
                f"Points quota of {member.name}, {month.key}",
                f"{before.quota:,} ({before.source})",
                f"{after.quota:,} ({after.source})",
                by=by,
                at=utcnow(),
            )
        )
    return after


def month_quota(member: Member, month: Month, *, team: Team, today: date) -> MonthQuota:
    """The member's points quota for one month, as the year's grid shows it."""
    return next(
        q for q in year_quotas(member, month.year, team=team, today=today) if q.month == month
    )


def record_quota_change(
    *, member: Member | None, team: Team, new_quota: int | None, today: date, by: Member
) -> None:
    """Before the team's quota (member None) or a member's override changes: keep the value
    that applied so far, so the months before this one keep it, and publish the change
    (``QuotaChanged``). Call before changing it."""
    old = team.points_quota if member is None else member.points_quota
    if old == new_quota:
        return
    events.publish(
        events.QuotaChanged(
            "Team points quota" if member is None else f"Points quota of {member.name}",
            _quota_text(old, team),
            _quota_text(new_quota, team),
            by=by,
            at=utcnow(),
        )
    )
    this_month = Month.of(today).first_day
    member_id = member.id if member is not None else None
    already = db.session.scalar(
        select(func.count(PointsQuotaChange.id)).where(
            PointsQuotaChange.member_id.is_(None)
            if member_id is None
            else PointsQuotaChange.member_id == member_id,
            PointsQuotaChange.valid_before == this_month,
        )
    )
    if not already:  # a second change this month: the earlier months' value is kept already
        db.session.add(PointsQuotaChange(member_id=member_id, valid_before=this_month, quota=old))
        db.session.flush()


def _quota_text(quota: int | None, team: Team) -> str:
    """A points quota as the audit log writes it; a member without their own has the team's."""
    return f"{quota:,}" if quota is not None else f"the team's ({team.points_quota:,})"


# -- the aggregate ---------------------------------------------------------------------------


def _closed_in(month: Month, tz: ZoneInfo) -> list[Any]:
    start, end = month.bounds(tz)
    return [
        # A literal, not a bound value, so the planner matches the partial index
        # ix_activities_points (WHERE status = 'Closed') and totals come from it alone.
        Activity.status == written(ActivityStatus.CLOSED.value),
        Activity.closed_at >= start,
        Activity.closed_at < end,
    ]


@dataclass(frozen=True)
class Tally:
    count: int
    points: int
    lowest: int
    highest: int


def tallies(month: Month, tz: ZoneInfo, member_ids: Sequence[int]) -> dict[tuple[int, int], Tally]:
    """(member id, type id) → the activities closed in the month and the points they earned.
    One GROUP BY query."""
    if not member_ids:
        return {}
    earned = func.coalesce(Activity.points_earned, 0)
    rows = db.session.execute(
        select(
            Activity.assigned_to_id,
            Activity.type_id,
            func.count(Activity.id),
            func.sum(earned),
            func.min(earned),
            func.max(earned),
        )
        .where(Activity.assigned_to_id.in_(member_ids), *_closed_in(month, tz))
        .group_by(Activity.assigned_to_id, Activity.type_id)
    )
    return {
        (member_id, type_id): Tally(int(count), int(points), int(lowest), int(highest))
        for member_id, type_id, count, points, lowest, highest in rows
    }


def points_by_member(month: Month, tz: ZoneInfo, member_ids: Sequence[int]) -> dict[int, int]:
    """Member id → points earned in the month. One GROUP BY query."""
    if not member_ids:
        return {}
    rows = db.session.execute(
        select(Activity.assigned_to_id, func.sum(func.coalesce(Activity.points_earned, 0)))
        .where(Activity.assigned_to_id.in_(member_ids), *_closed_in(month, tz))
        .group_by(Activity.assigned_to_id)
    )
    return {member_id: int(points) for member_id, points in rows}


# -- the points table of a month -------------------------------------------------------------


@dataclass(frozen=True)
class SheetType:
    """An activity type as a month's sheet shows it (for a closed month: as it was frozen)."""

    id: int
    code: str
    name: str
    group: str
    points: int
    monthly_count: int
    active: bool
    position: int

    @property
    def monthly_total(self) -> int:
        return self.points * self.monthly_count


def _sheet_type(t: ActivityType) -> SheetType:
    return SheetType(t.id, t.code, t.name, t.group, t.points, t.monthly_count, t.active, t.position)


def _freeze(month: Month, types: list[SheetType]) -> PointsMonthSheet:
    """Store the month's points table; a concurrent request that froze it first wins."""
    row = PointsMonthSheet(
        month=month.first_day, types=json.dumps([asdict(t) for t in types], sort_keys=True)
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        frozen = db.session.scalar(
            select(PointsMonthSheet).where(PointsMonthSheet.month == month.first_day)
        )
        assert frozen is not None
        return frozen
    return row


def sheet_types(month: Month, today: date) -> list[SheetType]:
    """The points table a month's sheet shows, in its order: the current one for this month
    and later months; for a closed month the one frozen with it (frozen now, from the
    current table, when the month is read for the first time since it closed). One or two
    queries."""
    if month >= Month.of(today):
        return [_sheet_type(t) for t in reference.activity_types()]
    frozen = db.session.scalar(
        select(PointsMonthSheet).where(PointsMonthSheet.month == month.first_day)
    )
    if frozen is None:
        frozen = _freeze(month, [_sheet_type(t) for t in reference.activity_types()])
    return [SheetType(**item) for item in json.loads(frozen.types)]


def frozen_at(month: Month, today: date) -> datetime | None:
    """When a closed month's points table was frozen (frozen now if it was not yet); None
    for this month and later ones."""
    if month >= Month.of(today):
        return None
    sheet_types(month, today)
    return db.session.scalar(
        select(PointsMonthSheet.frozen_at).where(PointsMonthSheet.month == month.first_day)
    )


def _team_today() -> date:
    team = db.session.scalar(select(Team))
    tz = ZoneInfo(team.time_zone) if team is not None else ZoneInfo("UTC")
    return datetime.now(tz).date()


def freeze_closed_months(today: date | None = None) -> int:
    """Before the points table changes: every closed month not frozen yet is frozen with the
    table as it stands (it has not changed since those months closed, or they would be
    frozen already). From the month of the first closed activity (or last month) to last
    month; returns how many were frozen. Three queries and one insert per month frozen."""
    last = Month.of(today or _team_today()).previous()
    if last is None:
        return 0
    first_closed = db.session.scalar(
        select(func.min(Activity.closed_at)).where(Activity.status == ActivityStatus.CLOSED.value)
    )
    # A day early: the first activity may have closed on the 1st in a zone behind UTC.
    first = (
        Month.of((first_closed.astimezone(UTC) - timedelta(days=1)).date())
        if first_closed is not None
        else last
    )
    first = min(first, last)
    frozen = set(
        db.session.scalars(
            select(PointsMonthSheet.month).where(PointsMonthSheet.month >= first.first_day)
        )
    )
    table = [_sheet_type(t) for t in reference.activity_types()]
    count = 0
    month: Month | None = first
    while month is not None and month <= last:
        if month.first_day not in frozen:
            _freeze(month, table)
            count += 1
        month = month.next()
    return count


# -- a member's month ------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeLine:
    """One activity type in a member's month."""

    type_id: int
    code: str
    name: str
    active: bool
    count: int  # activities of the type closed in the month
    points: int  # the points they earned (as stored when each closed)
    lowest: int  # the points one earned: lowest and highest (the type's value if none)
    highest: int
    recommended: int  # the type's recommended monthly count

    @property
    def points_each(self) -> str:
        """What one earned; a range when the type's value changed during the month."""
        return str(self.lowest) if self.lowest == self.highest else f"{self.lowest}–{self.highest}"

    @property
    def gap(self) -> int:
        """Done minus recommended: negative is short of the recommendation."""
        return self.count - self.recommended


@dataclass(frozen=True)
class GroupLines:
    group: ActivityGroup
    lines: list[TypeLine]

    @property
    def label(self) -> str:
        return self.group.label

    @property
    def count(self) -> int:
        return sum(line.count for line in self.lines)

    @property
    def points(self) -> int:
        return sum(line.points for line in self.lines)

    @property
    def recommended(self) -> int:
        return sum(line.recommended for line in self.lines)

    @property
    def gap(self) -> int:
        return self.count - self.recommended


@dataclass(frozen=True)
class MemberMonth(Progress):
    """A member's points summary for a month: by type, grouped, against the quota."""

    member_id: int
    member_name: str
    month: Month
    groups: list[GroupLines]
    quota: int
    expected: int  # pace: points expected by today
    target: int = field(default=0)  # points of every active type's recommended count (644)

    @property
    def count(self) -> int:
        return sum(group.count for group in self.groups)

    @property
    def points(self) -> int:
        return sum(group.points for group in self.groups)

    @property
    def recommended(self) -> int:
        return sum(group.recommended for group in self.groups)

    @property
    def gap(self) -> int:
        return self.count - self.recommended

    @property
    def lines(self) -> list[TypeLine]:
        return [line for group in self.groups for line in group.lines]


def member_months(
    members: Sequence[Member], month: Month, *, tz: ZoneInfo, team: Team, today: date
) -> list[MemberMonth]:
    """The month's summary of each member, in a constant number of queries (3) for any
    number of members: the types, one aggregate, the quota history.

    Every active type gets a line (so the gaps show); an inactive one only when something
    of it closed in the month. The types are the month's points table (``sheet_types``:
    frozen with a closed month)."""
    types = sheet_types(month, today)
    counted = tallies(month, tz, [m.id for m in members])
    quotas = quotas_for(members, month, team)
    target = monthly_target(types)
    summaries = []
    for member in members:
        by_group: dict[str, list[TypeLine]] = defaultdict(list)
        for t in types:
            tally = counted.get((member.id, t.id))
            if tally is None and not t.active:
                continue
            by_group[t.group].append(
                TypeLine(
                    type_id=t.id,
                    code=t.code,
                    name=t.name,
                    active=t.active,
                    count=tally.count if tally else 0,
                    points=tally.points if tally else 0,
                    lowest=tally.lowest if tally else t.points,
                    highest=tally.highest if tally else t.points,
                    recommended=t.monthly_count if t.active else 0,
                )
            )
        quota = quotas[member.id]
        summaries.append(
            MemberMonth(
                member_id=member.id,
                member_name=member.name,
                month=month,
                groups=[GroupLines(g, by_group[g.value]) for g in ActivityGroup],
                quota=quota,
                expected=expected_points(quota, month, today),
                target=target,
            )
        )
    return summaries


def member_month(
    member: Member, month: Month, *, tz: ZoneInfo, team: Team, today: date
) -> MemberMonth:
    return member_months([member], month, tz=tz, team=team, today=today)[0]


# -- the team's month ------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing(Progress):
    """A member's row on the month's leaderboard."""

    rank: int
    member_id: int
    name: str
    active: bool
    points: int
    quota: int
    expected: int


def members_of_month(month: Month, tz: ZoneInfo) -> tuple[list[Member], dict[int, int]]:
    """Whom a month's figures cover, by name: every active member, and anyone since
    deactivated who earned points in it; with the points each earned. Two queries."""
    members = list(db.session.scalars(select(Member).order_by(Member.name, Member.id)))
    points = points_by_member(month, tz, [m.id for m in members])
    return [m for m in members if m.active or points.get(m.id)], points


def month_summaries(month: Month, *, tz: ZoneInfo, team: Team, today: date) -> list[MemberMonth]:
    """The summaries of everyone a month's figures cover (as members_of_month), by name:
    what "print all" prints. The month's activities are added up once."""
    members = list(db.session.scalars(select(Member).order_by(Member.name, Member.id)))
    summaries = member_months(members, month, tz=tz, team=team, today=today)
    active = {m.id for m in members if m.active}
    return [s for s in summaries if s.member_id in active or s.points]


def team_standings(month: Month, *, tz: ZoneInfo, team: Team, today: date) -> list[Standing]:
    """Every active member, and any other who earned points in the month, ranked by quota
    attained (exactly, not the rounded percent), then points, then name; equal attainment
    and points share a rank. Three queries."""
    shown, points = members_of_month(month, tz)
    quotas = quotas_for(shown, month, team)

    def score(member: Member) -> tuple[Fraction, int]:
        earned = points.get(member.id, 0)
        return Fraction(earned, max(quotas[member.id], 1)), earned

    shown.sort(key=lambda m: score(m), reverse=True)  # stable: names stay in order on ties
    standings: list[Standing] = []
    for position, member in enumerate(shown, start=1):
        rank = position
        if standings and score(member) == score(shown[position - 2]):
            rank = standings[-1].rank
        quota = quotas[member.id]
        standings.append(
            Standing(
                rank=rank,
                member_id=member.id,
                name=member.name,
                active=member.active,
                points=points.get(member.id, 0),
                quota=quota,
                expected=expected_points(quota, month, today),
            )
        )
    return standings


@dataclass(frozen=True)
class TeamRow(Progress):
    """The team's row under the leaderboard: everyone's points against the sum of their
    quotas, % attained (half up) and pace against the sum of what each is expected to have."""

    members: int
    points: int
    quota: int
    expected: int


def team_row(standings: Sequence[Standing]) -> TeamRow:
    """The leaderboard's team row, from its members' rows (no query)."""
    return TeamRow(
        members=len(standings),
        points=sum(s.points for s in standings),
        quota=sum(s.quota for s in standings),
        expected=sum(s.expected for s in standings),
    )


# -- the activities behind a figure ----------------------------------------------------------


def activities_behind(
    member_id: int,
    month: Month,
    *,
    tz: ZoneInfo,
    type_id: int | None = None,
    limit: int = 200,
    offset: int = 0,
) -> tuple[list[Activity], int, int]:
    """The closed activities a summary line counts (all of the month's when no type), in
    the order they closed, with how many there are and the points they earned together."""
    conditions = [Activity.assigned_to_id == member_id, *_closed_in(month, tz)]
    if type_id is not None:
        conditions.append(Activity.type_id == type_id)
    count, points = db.session.execute(
        select(func.count(Activity.id), func.sum(func.coalesce(Activity.points_earned, 0))).where(
            *conditions
        )
    ).one()
    rows = db.session.scalars(
        select(Activity)
        .where(*conditions)
        .options(joinedload(Activity.type), joinedload(Activity.company))
        .order_by(Activity.closed_at, Activity.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(count or 0), int(points or 0)


def open_to_close(member_id: int, month: Month, *, limit: int) -> tuple[list[Activity], int]:
    """The member's open activities due in the month, earliest first: closing one now
    earns its points this month. With how many there are."""
    condition = [
        Activity.assigned_to_id == member_id,
        Activity.due_on.between(month.first_day, month.last_day),
        Activity.status == ActivityStatus.OPEN.value,
    ]
    total = db.session.scalar(select(func.count(Activity.id)).where(*condition)) or 0
    rows = db.session.scalars(
        _open_query(condition).limit(limit),
    )
    return list(rows), total


def _open_query(condition: list[Any]) -> Select[Activity]:
    return (
        select(Activity)
        .where(*condition)
        .options(
            joinedload(Activity.type),
            joinedload(Activity.company),
            joinedload(Activity.opportunity),
            joinedload(Activity.assigned_to),
        )
        .order_by(Activity.due_on, Activity.starts_at.is_(None), Activity.starts_at, Activity.id)
    )


# -- the points table (activity types) -------------------------------------------------------


def monthly_target(types: Iterable[ActivityType | SheetType]) -> int:
    """Points of doing every active type's recommended count (644 with the defaults)."""
    return sum(t.monthly_total for t in types if t.active)


def members_with_own_quota() -> int:
    """Active members whose quota overrides the team's."""
    return (
        db.session.scalar(
            select(func.count(Member.id)).where(Member.active, Member.points_quota.is_not(None))
        )
        or 0
    )


def types_in_use() -> set[int]:
    """Ids of the types some activity or track step uses: they cannot be deleted."""
    used = or_(
        exists().where(Activity.type_id == ActivityType.id),
        exists().where(TrackStep.activity_type_id == ActivityType.id),
    )
    return set(db.session.scalars(select(ActivityType.id).where(used)))


class TypeInUse(Exception):
    """The type has activities or track steps: deactivate it instead."""


def code_taken(code: str, *, except_id: int | None = None) -> bool:
    query = select(func.count(ActivityType.id)).where(
        func.upper(ActivityType.code) == code.strip().upper()
    )
    if except_id is not None:
        query = query.where(ActivityType.id != except_id)
    return bool(db.session.scalar(query))


def name_taken(name: str, *, except_id: int | None = None) -> bool:
    query = select(func.count(ActivityType.id)).where(
        func.lower(ActivityType.name) == name.strip().lower()
    )
    if except_id is not None:
        query = query.where(ActivityType.id != except_id)
    return bool(db.session.scalar(query))


def point_value(points: int, monthly_count: int, active: bool) -> str:
    """What a type is worth, as the audit log writes it: "10 points, 3 a month, active"."""
    unit = "point" if points == 1 else "points"
    return f"{points} {unit}, {monthly_count} a month, {'active' if active else 'inactive'}"


def _worth(activity_type: ActivityType) -> str:
    return point_value(activity_type.points, activity_type.monthly_count, activity_type.active)


def _publish_worth(activity_type: ActivityType, before: str, by: Member) -> None:
    """Publish ``PointValueChanged`` when the points, monthly count or active flag changed
    (``before`` empty: a new type)."""
    after = _worth(activity_type)
    if after != before:
        events.publish(
            events.PointValueChanged(activity_type.label, before, after, by=by, at=utcnow())
        )


def save_activity_type(
    activity_type: ActivityType | None,
    *,
    code: str,
    name: str,
    group: ActivityGroup,
    points: int,
    monthly_count: int,
    active: bool,
    by: Member,
) -> ActivityType:
    """Add a type (None) or change one. A new point value applies to activities closed from
    now on; those closed already keep the points they earned. A new type or a change of its
    points, monthly count or active flag is published (``PointValueChanged``)."""
    if points < 0 or monthly_count < 0:
        raise ValueError("points and monthly count cannot be negative")
    freeze_closed_months()
    before = ""
    if activity_type is None:
        last = db.session.scalar(select(func.max(ActivityType.position))) or 0
        activity_type = ActivityType(position=last + 1)
        db.session.add(activity_type)
    else:
        before = _worth(activity_type)
    activity_type.code = code.strip().upper()
    activity_type.name = name.strip()
    activity_type.group = group.value
    activity_type.points = points
    activity_type.monthly_count = monthly_count
    activity_type.active = active
    db.session.flush()
    _publish_worth(activity_type, before, by)
    return activity_type


def set_type_active(activity_type: ActivityType, active: bool, *, by: Member) -> ActivityType:
    """Deactivated types are no longer offered for new activities; what they earned stays.
    Published (``PointValueChanged``) when it changes."""
    freeze_closed_months()
    before = _worth(activity_type)
    activity_type.active = active
    db.session.flush()
    _publish_worth(activity_type, before, by)
    return activity_type


def delete_activity_type(activity_type: ActivityType, *, by: Member) -> None:
    """Only a type nothing uses may go; one in use raises TypeInUse. Published
    (``Deleted``)."""
    if activity_type.id in types_in_use():
        raise TypeInUse(activity_type.code)
    freeze_closed_months()
    label = activity_type.label
    db.session.delete(activity_type)
    db.session.flush()
    events.publish(events.Deleted("activity type", label, by=by, at=utcnow()))
