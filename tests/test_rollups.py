"""The monthly roll-ups of the closed deals (models/rollups.py, services/rollups.py): whatever
writes the opportunities, the kept rows equal the rows rebuilt from scratch and the rows
added up in Python; the figures read from them equal the figures a scan of the period's
deals gives, in any time zone, cell for cell."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import delete, insert, select, update

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityStatus,
    BoardClosedMonth,
    BusinessUnit,
    ClosedMemberMonth,
    ClosedMonth,
    HygieneCount,
    Location,
    LostReasonMonth,
    Member,
    MemberStageMonth,
    Opportunity,
    PipelineMonth,
    RevenueQuota,
    SalesStage,
    StageChange,
    StageMonth,
)
from crmlite.models import rollups as kept_rows
from crmlite.services import attainment, board, funnel, hygiene, rollups, wins
from crmlite.services.board import BoardFilters
from crmlite.services.funnel_health import Period, funnel_health, period_bounds
from crmlite.services.periods import add_months, month_start
from crmlite.services.wins import Basis, matches, status_ids
from tests.conftest import activity_type, status

Rows = dict[tuple[int, ...], tuple[int, int, int]]
# Lost reasons: free text, a long one (PostgreSQL keys it by its MD5), two alike but for case.
REASONS = ["Went with another provider", "went with another provider", "", "Budget cut. " * 160]
ZONES = ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


def kept() -> Rows:
    """The kept rows, without those emptied to zero."""
    return {
        (r.month, r.status_id, r.account_manager_id, r.location_id, r.business_unit_id): (
            r.deals,
            r.won_cents,
            r.margin_cents,
        )
        for r in db.session.scalars(select(ClosedMonth))
        if (r.deals, r.won_cents, r.margin_cents) != (0, 0, 0)
    }


def added_up() -> Rows:
    """The same rows added up in Python from every closed opportunity."""
    rows: Rows = {}
    for o in db.session.scalars(select(Opportunity).where(Opportunity.closed_at.is_not(None))):
        assert o.closed_at is not None
        at = o.closed_at.astimezone(UTC)
        key = (
            at.year * 100 + at.month,
            o.status_id,
            o.account_manager_id or 0,
            o.location_id or 0,
            o.business_unit_id or 0,
        )
        deals, won, margin = rows.get(key, (0, 0, 0))
        amount = o.won_amount if o.won_amount is not None else o.revenue
        rows[key] = (
            deals + 1,
            won + int(amount * 100),
            margin + int(o.revenue * 100) - int(o.cost * 100),
        )
    return rows


BoardClosedRows = dict[tuple[int, int], tuple[int, int, int]]


def kept_board_closed() -> BoardClosedRows:
    return {
        (r.stage_id, r.month): (r.deals, r.won_cents, r.lost_cents)
        for r in db.session.scalars(select(BoardClosedMonth))
        if (r.deals, r.won_cents, r.lost_cents) != (0, 0, 0)
    }


def added_up_board_closed() -> BoardClosedRows:
    """The board's closed rows added up in Python from every closed opportunity."""
    rows: BoardClosedRows = {}
    for o in db.session.scalars(select(Opportunity).where(Opportunity.closed_at.is_not(None))):
        assert o.closed_at is not None
        at = o.closed_at.astimezone(UTC)
        key = (o.stage_id, at.year * 100 + at.month)
        deals, won, lost = rows.get(key, (0, 0, 0))
        rows[key] = (
            deals + 1,
            won + int((o.won_amount or 0) * 100),
            lost + int((o.lost_amount or 0) * 100),
        )
    return rows


LostRows = dict[tuple[int, int, int, str], tuple[int, int]]


def kept_lost() -> LostRows:
    return {
        (r.status_id, r.month, r.account_manager_id, r.lost_reason): (r.deals, r.amount_cents)
        for r in db.session.scalars(select(LostReasonMonth))
        if (r.deals, r.amount_cents) != (0, 0)
    }


def added_up_lost() -> LostRows:
    """The lost-reason rows added up in Python from every closed opportunity."""
    rows: LostRows = {}
    for o in db.session.scalars(select(Opportunity).where(Opportunity.closed_at.is_not(None))):
        assert o.closed_at is not None
        at = o.closed_at.astimezone(UTC)
        key = (o.status_id, at.year * 100 + at.month, o.account_manager_id or 0, o.lost_reason)
        deals, cents = rows.get(key, (0, 0))
        amount = o.lost_amount if o.lost_amount is not None else o.revenue
        rows[key] = (deals + 1, cents + int(amount * 100))
    return rows


def by_member(rows: Rows) -> dict[tuple[int, int, int], tuple[int, int, int]]:
    """Closed rows without the location and business unit, as member_closed_rollups keeps
    them: (status, month, account manager)."""
    found: dict[tuple[int, int, int], tuple[int, int, int]] = {}
    for (month, status_id, manager, _location, _unit), figures in rows.items():
        before = found.get((status_id, month, manager), (0, 0, 0))
        found[(status_id, month, manager)] = (
            before[0] + figures[0],
            before[1] + figures[1],
            before[2] + figures[2],
        )
    return {key: figures for key, figures in found.items() if figures != (0, 0, 0)}


def kept_by_member() -> dict[tuple[int, int, int], tuple[int, int, int]]:
    return {
        (r.status_id, r.month, r.account_manager_id): (r.deals, r.won_cents, r.margin_cents)
        for r in db.session.scalars(select(ClosedMemberMonth))
        if (r.deals, r.won_cents, r.margin_cents) != (0, 0, 0)
    }


PipelineRows = dict[tuple[int, int, int], tuple[int, int, int, int, int]]


def kept_pipeline() -> PipelineRows:
    return {
        (r.month, r.status_id, r.account_manager_id): (
            r.deals,
            r.revenue_cents,
            r.cost_cents,
            r.weighted_revenue,
            r.weighted_cost,
        )
        for r in db.session.scalars(select(PipelineMonth))
        if r.deals or r.revenue_cents or r.cost_cents
    }


def added_up_pipeline() -> PipelineRows:
    rows: PipelineRows = {}
    for o in db.session.scalars(
        select(Opportunity).where(Opportunity.expected_close_on.is_not(None))
    ):
        assert o.expected_close_on is not None
        key = (
            o.expected_close_on.year * 100 + o.expected_close_on.month,
            o.status_id,
            o.account_manager_id or 0,
        )
        revenue, cost = int(o.revenue * 100), int(o.cost * 100)
        before = rows.get(key, (0, 0, 0, 0, 0))
        rows[key] = (
            before[0] + 1,
            before[1] + revenue,
            before[2] + cost,
            before[3] + revenue * o.probability,
            before[4] + cost * o.probability,
        )
    return rows


HygieneRows = dict[tuple[int, int, int, int], int]


def kept_hygiene() -> HygieneRows:
    return {
        (r.status_id, r.kind, r.period, r.account_manager_id): r.deals
        for r in db.session.scalars(select(HygieneCount))
        if r.deals
    }


def added_up_hygiene() -> HygieneRows:
    """The hygiene rows added up in Python from every opportunity: per status, kind, period
    and account manager (models/rollups.py)."""
    rows: HygieneRows = {}
    for o in db.session.scalars(select(Opportunity)):
        periods = [(kept_rows.NEXT_STEP_MONTH, 0)]
        if (last := o.last_open_activity_on) is not None:
            periods = [
                (kept_rows.NEXT_STEP_MONTH, last.year * 100 + last.month),
                (kept_rows.NEXT_STEP_DAY, int(last.strftime("%Y%m%d"))),
            ]
        if (close := o.expected_close_on) is not None:
            periods += [
                (kept_rows.CLOSE_MONTH, close.year * 100 + close.month),
                (kept_rows.CLOSE_DAY, int(close.strftime("%Y%m%d"))),
            ]
        if o.revenue == 0:
            periods.append((kept_rows.ZERO_REVENUE, 0))
        for kind, period in periods:
            key = (o.status_id, kind, period, o.account_manager_id or 0)
            rows[key] = rows.get(key, 0) + 1
    return rows


def some_counts(counts: hygiene.Counts) -> hygiene.Counts:
    return {manager: figures for manager, figures in counts.items() if any(figures)}


StageRows = dict[tuple[int, int], tuple[int, int, int, int, int]]
MemberStageRows = dict[tuple[int, int, int], tuple[int, int, int, int, int]]


def kept_moves() -> StageRows:
    return {
        (r.month, r.stage_id): (r.entered, r.advanced, r.won, r.stays, r.stay_ms)
        for r in db.session.scalars(select(StageMonth))
        if (r.entered, r.advanced, r.won, r.stays, r.stay_ms) != (0, 0, 0, 0, 0)
    }


def kept_member_moves() -> MemberStageRows:
    return {
        (r.account_manager_id, r.month, r.stage_id): (
            r.entered,
            r.advanced,
            r.won,
            r.stays,
            r.stay_ms,
        )
        for r in db.session.scalars(select(MemberStageMonth))
        if (r.entered, r.advanced, r.won, r.stays, r.stay_ms) != (0, 0, 0, 0, 0)
    }


def added_up_moves(*, by_member: bool = False) -> Any:
    """The stage rows added up in Python from every move of the stage history; ``by_member``:
    per account manager of the move's deal now (0: none) too."""
    rows: dict[tuple[int, ...], tuple[int, int, int, int, int]] = {}

    def add(key: tuple[int, ...], *figures: int) -> None:
        key = (whose, *key) if by_member else key
        before = rows.get(key, (0, 0, 0, 0, 0))
        rows[key] = tuple(a + b for a, b in zip(before, figures, strict=True))  # type: ignore[assignment]

    moves = db.session.execute(
        select(StageChange, Opportunity.account_manager_id).join(
            Opportunity, Opportunity.id == StageChange.opportunity_id
        )
    )
    for c, manager in moves:
        whose = manager or 0
        at = c.changed_at.astimezone(UTC)
        month = at.year * 100 + at.month
        add((month, c.to_stage_id), 1, int(c.advanced_later), int(c.won_later), 0, 0)
        if c.from_stage_id is not None:
            known = c.from_stage_entered_at is not None
            ms = (
                round((c.changed_at - c.from_stage_entered_at).total_seconds() * 1000)
                if c.from_stage_entered_at is not None
                else 0
            )
            add((month, c.from_stage_id), 0, 0, 0, int(known), ms)
    return {k: v for k, v in rows.items() if v != (0, 0, 0, 0, 0)}


def same_moves(kept_rows: Any, added: Any) -> bool:
    """Equal, but for a millisecond of rounding per stay (SQLite measures in float days)."""
    if kept_rows.keys() != added.keys():
        return False
    return all(
        k[:4] == a[:4] and abs(k[4] - a[4]) <= a[3]
        for k, a in zip((kept_rows[key] for key in added), added.values(), strict=True)
    )


def scanned(
    months: Sequence[tuple[int, int]],
    tz: ZoneInfo,
    keys: Sequence[str],
    basis: Basis,
    won_ids: Sequence[int],
    *,
    member_id: int | None = None,
) -> dict[tuple[Any, ...], dict[int, Decimal]]:
    """What rollups.won_per_month gives, from a scan of the period's deals (wins.py)."""
    starts = [month_start(y, m, tz) for y, m in [*months, add_months(*months[-1], 1)]]
    return wins.won_per_month(
        starts,
        [rollups.KEYS[k][1] for k in keys],
        basis,
        matches(Opportunity.account_manager_id, member_id),
        list(won_ids),
    )


def test_a_random_walk_of_1000_changes_keeps_the_rollups_exact(
    app: Flask,
    make_member: Callable[..., Member],
    make_opportunity: Callable[..., Opportunity],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1,000 changes of every kind (win, reopen, lose, edit the won amount or date, revenue
    and cost, move a stage, delete, move a member or a deal to another place, change a
    quota), through the funnel's moves, the ORM and bulk statements, some rolled back. After
    each the kept rows equal the rows added up from scratch; every 100, the rebuilt rows
    equal them too and the dashboard's summaries read from them equal, cell for cell, those
    from a scan of the deals, in five time zones."""
    chance = random.Random(19)
    locations = [Location(name=f"Place {n}") for n in range(3)]
    units = [BusinessUnit(name=f"Unit {n}") for n in range(2)]
    db.session.add_all(locations + units)
    db.session.commit()
    people = [
        make_member(location_id=chance.choice(locations).id, business_unit_id=units[n % 2].id)
        for n in range(4)
    ]
    stages = list(db.session.scalars(select(SalesStage).order_by(SalesStage.position)))
    open_stages = [s for s in stages if not s.is_closed]
    won_stage = next(s for s in stages if s.is_won)
    lost_stage = next(s for s in stages if s.is_lost)
    won, lost, opened = status("Won").id, status("Lost").id, status("Open").id
    la = ZoneInfo("America/Los_Angeles")

    def amount() -> Decimal:
        return Decimal(chance.randrange(0, 2_000_000)) / 100

    def moment() -> datetime:
        """A moment in 2025 or 2026, often within hours of a month's end somewhere."""
        year, month = chance.choice([2025, 2026]), chance.randrange(1, 13)
        start = datetime(year, month, 1, tzinfo=UTC)
        if chance.random() < 0.5:
            return start + timedelta(minutes=chance.randrange(-16 * 60, 16 * 60))
        return start + timedelta(minutes=chance.randrange(0, 28 * 24 * 60))

    def some(value: list[Any]) -> Any:
        return chance.choice([*value, None])

    for number in range(30):
        make_opportunity(
            name=f"Deal {number}",
            revenue=amount(),
            cost=amount(),
            account_manager_id=some([p.id for p in people]),
            location_id=some([p.id for p in locations]),
            business_unit_id=some([u.id for u in units]),
            expected_close_on=moment().date(),
        )

    def pick(*, closed: bool | None = None) -> Opportunity | None:
        query = select(Opportunity)
        if closed is not None:
            query = query.where(
                Opportunity.closed_at.is_not(None) if closed else Opportunity.closed_at.is_(None)
            )
        found = list(db.session.scalars(query.order_by(Opportunity.id)))
        return chance.choice(found) if found else None

    def win() -> None:
        if (o := pick(closed=False)) is not None:
            o.status_id, o.stage_id, o.closed_at = won, won_stage.id, moment()
            o.won_amount = chance.choice([None, amount()])

    def win_on_the_board() -> None:
        if (o := pick(closed=False)) is not None:
            funnel.move_to_stage(
                o,
                won_stage,
                by=chance.choice(people),
                expected_version=o.version,
                tz=la,
                won_amount=chance.choice([None, amount()]),
                won_on=date(2026, 1, 1) + timedelta(days=chance.randrange(0, 300)),
                checklist_confirmed=True,
                cancel_open_activities=False,
            )

    def lose_or_reopen_on_the_board() -> None:
        if (o := pick()) is not None:
            to = lost_stage if o.closed_at is None else chance.choice(open_stages)
            funnel.move_to_stage(
                o,
                to,
                by=chance.choice(people),
                expected_version=o.version,
                tz=la,
                lost_reason=chance.choice([r for r in REASONS if r]),  # asked for
                cancel_open_activities=False,
                now=moment(),
            )

    def move_on_the_board() -> None:
        if (o := pick(closed=False)) is not None:
            funnel.move_to_stage(
                o,
                chance.choice(open_stages),
                by=chance.choice(people),
                expected_version=o.version,
                tz=la,
                now=moment(),
            )

    def reopen() -> None:
        if (o := pick(closed=True)) is not None:
            o.status_id, o.stage_id, o.closed_at = opened, chance.choice(open_stages).id, None
            o.won_amount = o.lost_amount = None

    def edit_closed() -> None:
        if (o := pick(closed=True)) is not None:
            field = chance.choice(
                ["won_amount", "closed_at", "revenue", "cost", "status", "lost_reason", "lost"]
            )
            if field == "won_amount":
                o.won_amount = chance.choice([None, amount()])
            elif field == "lost_reason":
                o.lost_reason = chance.choice(REASONS)
            elif field == "lost":
                o.lost_amount = chance.choice([None, amount()])
            elif field == "closed_at":
                o.closed_at = moment()
            elif field == "revenue":
                o.revenue = amount()
            elif field == "cost":
                o.cost = amount()
            else:
                o.status_id = won if o.status_id == lost else lost

    def move_deal() -> None:
        if (o := pick()) is not None:
            field = chance.choice(["account_manager_id", "location_id", "business_unit_id"])
            choices = {
                "account_manager_id": [p.id for p in people],
                "location_id": [p.id for p in locations],
                "business_unit_id": [u.id for u in units],
            }[field]
            setattr(o, field, some(choices))

    def edit_open() -> None:
        if (o := pick(closed=False)) is not None:
            field = chance.choice(["expected_close_on", "probability", "revenue", "cost"])
            if field == "expected_close_on":
                o.expected_close_on = chance.choice([None, moment().date()])
            elif field == "probability":
                o.probability = chance.randrange(0, 101)
            elif field == "revenue":
                o.revenue = chance.choice([Decimal(0), amount()])
            else:
                o.cost = amount()

    def move_stage() -> None:
        if (o := pick(closed=False)) is not None:
            o.stage_id = chance.choice(open_stages).id
            o.name = f"Renamed {chance.random()}"

    def remove() -> None:
        if (o := pick()) is not None:
            if chance.random() < 0.5:
                db.session.delete(o)
            else:
                db.session.execute(delete(Opportunity).where(Opportunity.id == o.id))
                db.session.expunge(o)

    def add() -> None:
        db.session.execute(
            insert(Opportunity),
            [
                {
                    "name": f"Imported {chance.random()}",
                    "stage_id": won_stage.id,
                    "status_id": won,
                    "revenue": amount(),
                    "cost": ZERO_COST,
                    "won_amount": chance.choice([None, amount()]),
                    "closed_at": moment(),
                    "account_manager_id": some([p.id for p in people]),
                    "location_id": some([p.id for p in locations]),
                    "stage_entered_at": datetime.now(UTC),
                    "created_at": datetime.now(UTC),
                    "updated_at": datetime.now(UTC),
                    "version": 1,
                }
                for _ in range(chance.randrange(1, 3))
            ],
        )

    def bulk_update() -> None:
        ids = list(db.session.scalars(select(Opportunity.id)))
        db.session.execute(
            update(Opportunity)
            .where(Opportunity.id.in_(chance.sample(ids, k=min(3, len(ids)))))
            .values(location_id=some([p.id for p in locations]), revenue=amount())
            .execution_options(synchronize_session=False)
        )
        db.session.expire_all()

    def plan_or_finish_activity() -> None:
        """A next step planned (often around a month's end), done, cancelled or deleted:
        the deal's latest open activity moves."""
        found = list(
            db.session.scalars(select(Activity).where(Activity.status == ActivityStatus.OPEN.value))
        )
        if found and chance.random() < 0.5:
            activity = chance.choice(found)
            if chance.random() < 0.3:
                db.session.delete(activity)
            else:
                activity.status = chance.choice(
                    [ActivityStatus.CLOSED.value, ActivityStatus.CANCELLED.value]
                )
                activity.closed_at = datetime.now(UTC)
        elif (o := pick()) is not None:
            db.session.add(
                Activity(
                    subject="Next step",
                    type_id=activity_type("SE").id,
                    assigned_to_id=chance.choice(people).id,
                    opportunity_id=o.id,
                    due_on=moment().date(),
                    status=ActivityStatus.OPEN.value,
                )
            )

    def move_member() -> None:
        chance.choice(people).location_id = some([p.id for p in locations])

    def change_quota() -> None:
        member, month = chance.choice(people), chance.randrange(1, 13)
        quota = db.session.scalars(
            select(RevenueQuota).where(
                RevenueQuota.member_id == member.id,
                RevenueQuota.year == 2026,
                RevenueQuota.month == month,
            )
        ).one_or_none()
        if quota is None:
            db.session.add(
                RevenueQuota(member_id=member.id, year=2026, month=month, revenue=amount())
            )
        else:
            quota.revenue, quota.margin = amount(), chance.choice([None, amount()])

    steps: list[Callable[[], None]] = [
        *[win] * 4,
        win_on_the_board,
        lose_or_reopen_on_the_board,
        *[move_on_the_board] * 3,
        *[reopen] * 2,
        *[edit_closed] * 4,
        move_deal,
        *[edit_open] * 2,
        move_stage,
        remove,
        add,
        bulk_update,
        move_member,
        change_quota,
        *[plan_or_finish_activity] * 3,
    ]
    statuses = status_ids()
    kinds_seen: set[int] = set()
    for step in range(1, 1001):
        chance.choice(steps)()
        db.session.flush()
        if step % 7 == 0:
            db.session.rollback()  # a transaction that did not happen leaves no trace
        elif step % 3 == 0:
            db.session.commit()
        added = added_up()
        assert kept() == added, f"after step {step}"
        assert kept_by_member() == by_member(added), f"by member after step {step}"
        assert kept_lost() == added_up_lost(), f"lost reasons after step {step}"
        assert kept_board_closed() == added_up_board_closed(), f"board after step {step}"
        assert same_moves(kept_moves(), added_up_moves()), f"moves after step {step}"
        assert same_moves(kept_member_moves(), added_up_moves(by_member=True)), (
            f"member moves after step {step}"
        )
        assert kept_pipeline() == added_up_pipeline(), f"pipeline after step {step}"
        kept_now = kept_hygiene()
        assert kept_now == added_up_hygiene(), f"hygiene after step {step}"
        kinds_seen.update(kind for _status, kind, _period, _manager in kept_now)
        if step % 100:
            continue
        db.session.commit()
        before, moves_before, pipeline_before = kept(), kept_moves(), kept_pipeline()
        member_moves_before = kept_member_moves()
        hygiene_before, members_before, lost_before = kept_hygiene(), kept_by_member(), kept_lost()
        rollups.rebuild()
        assert kept_lost() == lost_before, f"lost reasons rebuilt after step {step}"
        board_before = kept_board_closed()
        rollups.rebuild()
        assert kept_board_closed() == board_before, f"board rebuilt after step {step}"
        assert kept_hygiene() == hygiene_before, f"hygiene rebuilt after step {step}"
        assert kept_by_member() == members_before, f"by member rebuilt after step {step}"
        deals = list(db.session.scalars(select(Opportunity)))
        days_kept = sorted(
            day
            for o in deals
            for day in (o.last_open_activity_on, o.expected_close_on)
            if day is not None
        )
        # Fixed days, and days on which deals fall due (the edge of "before today").
        todays = [date(2026, 3, 1), date(2026, 3, 31), *chance.sample(days_kept, k=4)]
        for today in todays:
            for member_id in (None, 0, people[1].id):
                assert some_counts(
                    hygiene.kept_counts(today, statuses.open, member_id)
                ) == some_counts(hygiene.counted_from_deals(today, statuses.open, member_id)), (
                    step,
                    today,
                    member_id,
                )
        assert kept_pipeline() == pipeline_before, f"pipeline rebuilt after step {step}"
        assert kept() == before, f"rebuilt after step {step}"
        assert kept_moves() == moves_before, f"moves rebuilt after step {step}"
        assert kept_member_moves() == member_moves_before, f"member moves rebuilt, step {step}"
        for zone in ZONES:
            tz = ZoneInfo(zone)
            for basis in Basis:
                for keys in (["account_manager_id"], ["location_id", "business_unit_id"]):
                    months = [add_months(2024, 12, n) for n in range(14)]
                    assert rollups.won_per_month(months, tz, keys, basis, statuses.won) == scanned(
                        months, tz, keys, basis, statuses.won
                    ), (step, zone, keys)
                quarter = chance.randrange(1, 5)
                read = (
                    attainment.quarter_by_member(2026, quarter, tz, basis),
                    attainment.summary_by_place(2026, quarter, tz, basis),
                    attainment.summary_by_place(2025, None, tz, basis),
                )
                with monkeypatch.context() as patch:
                    patch.setattr(attainment, "won_per_month", scanned)
                    assert read == (
                        attainment.quarter_by_member(2026, quarter, tz, basis),
                        attainment.summary_by_place(2026, quarter, tz, basis),
                        attainment.summary_by_place(2025, None, tz, basis),
                    ), (step, zone, basis)
        closed_stages = [s for s in stages if s.is_closed]
        for zone in ZONES:
            tz = ZoneInfo(zone)
            for today in (date(2026, 1, 1), date(2026, 5, 20), date(2025, 12, 31)):
                kept_headers = board.column_totals(closed_stages, BoardFilters(), today, tz)
                with monkeypatch.context() as patch:
                    patch.setattr(board, "_kept_closed_totals", lambda _stages, _since: {})
                    assert kept_headers == board.column_totals(
                        closed_stages, BoardFilters(), today, tz
                    ), (step, zone, today)
        for zone in ZONES:
            tz = ZoneInfo(zone)
            for period in (Period.QUARTER, Period.YEAR):
                start, end = period_bounds(2026, chance.randrange(1, 5), period, tz)
                for member_id in (None, people[0].id, 0):
                    read = funnel_health(start, end, member_id=member_id)
                    if member_id is None:  # the open deals now: the board's kept totals
                        assert [(s.count, s.value) for s in read.stages] == [
                            (s.count, s.revenue) for s in funnel.stage_summary()
                        ]
                    with monkeypatch.context() as patch:
                        patch.setattr(rollups, "span", lambda _start, _end: None)
                        assert read == funnel_health(start, end, member_id=member_id), (
                            step,
                            zone,
                            period,
                        )
    assert (
        len(kept()) > 20 and len(kept_moves()) > 20
    )  # the walk did reach many months, statuses and places
    assert len({reason for *_key, reason in kept_lost()}) >= 3  # lost for several reasons
    assert kinds_seen == set(range(1, 6))  # every kind of hygiene row was kept at some point


ZERO_COST = Decimal("0.00")


def test_a_member_reads_only_their_wins_and_none_set_reads_none(
    app: Flask, make_member: Callable[..., Member], make_opportunity: Callable[..., Opportunity]
) -> None:
    nick, cory = make_member("Nick Points"), make_member("Cory Ferguson")
    edge = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)  # 31 October, 20:00 in California
    for who, revenue in ((nick, "100.00"), (cory, "200.00"), (None, "50.00")):
        make_opportunity(
            stage_name="Won",
            revenue=revenue,
            closed_at=edge,
            account_manager_id=who.id if who else None,
        )
    la, won = ZoneInfo("America/Los_Angeles"), status_ids().won
    months = [(2026, 10), (2026, 11)]
    assert rollups.won_per_month(months, la, ["account_manager_id"], Basis.REVENUE, won) == {
        (nick.id,): {0: Decimal("100.00")},
        (cory.id,): {0: Decimal("200.00")},
        (None,): {0: Decimal("50.00")},
    }
    assert rollups.won_per_month(
        months, la, ["account_manager_id"], Basis.REVENUE, won, member_id=nick.id
    ) == {(nick.id,): {0: Decimal("100.00")}}
    assert rollups.won_per_month(
        months, la, ["account_manager_id"], Basis.REVENUE, won, member_id=0
    ) == {(None,): {0: Decimal("50.00")}}
    # In UTC the same wins fall in November.
    assert rollups.won_per_month(
        months, ZoneInfo("UTC"), ["account_manager_id"], Basis.REVENUE, won, member_id=0
    ) == {(None,): {1: Decimal("50.00")}}


def test_the_dashboard_reads_a_fixed_number_of_queries_from_the_rollups(
    app: Flask,
    make_member: Callable[..., Member],
    make_opportunity: Callable[..., Opportunity],
    queries: Callable[[], Any],
) -> None:
    """No query of the quarter's summaries reads the period's opportunities beyond the hours
    at each end of a month; their number does not grow with the deals."""
    nick = make_member("Nick Points")
    la = ZoneInfo("America/Los_Angeles")
    counts = []
    for batch in range(2):
        for n in range(5 * (batch + 1)):
            make_opportunity(
                stage_name="Won",
                closed_at=datetime(2026, 10, 1 + n, 18, tzinfo=UTC),
                account_manager_id=nick.id,
            )
        with queries() as counted:
            attainment.quarter_by_member(2026, 4, la)
            attainment.summary_by_place(2026, 4, la)
        counts.append(counted.count)
        scans = [
            s
            for s in counted.statements
            if "FROM opportunities" in s and "closed_at" in s and "closed_rollups" not in s
        ]
        assert scans and all("closed_at <" in s for s in scans)
    assert counts[0] == counts[1]


def test_rebuild_rollups_command_recomputes_spoiled_rows(
    app: Flask, make_opportunity: Callable[..., Opportunity]
) -> None:
    make_opportunity(stage_name="Won", revenue="1234.56", closed_at=datetime.now(UTC))
    make_opportunity(stage_name="Lost", revenue="100.00", closed_at=datetime.now(UTC))
    expected = kept()
    assert expected == added_up() and len(expected) == 2
    db.session.execute(update(ClosedMonth).values(deals=99, won_cents=1))
    db.session.commit()
    assert kept() != expected

    result: Result = app.test_cli_runner().invoke(args=["crm", "rebuild-rollups"])
    assert result.exit_code == 0, result.output
    assert "rebuilt" in result.output
    db.session.expire_all()
    assert kept() == expected
