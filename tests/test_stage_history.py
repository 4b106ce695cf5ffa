"""Each stage move stores what the funnel asks of it: when the stage it leaves was entered,
and whether the opportunity later went further along or was won (services/stage_history)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from crmlite.extensions import db
from crmlite.models import Member, Opportunity, StageChange
from crmlite.services import funnel, stage_history
from crmlite.services.opportunities import create_opportunity
from tests.conftest import stage

LA = ZoneInfo("America/Los_Angeles")
T0 = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)

Row = tuple[str, datetime | None, bool, bool]


def derived(opportunity_id: int) -> list[Row]:
    """(stage moved to, when the stage left was entered, advanced later, won later), in order."""
    names = {s.id: s.name for s in db.session.scalars(select(type(stage("Won"))))}
    rows = db.session.execute(
        select(
            StageChange.to_stage_id,
            StageChange.from_stage_entered_at,
            StageChange.advanced_later,
            StageChange.won_later,
        )
        .where(StageChange.opportunity_id == opportunity_id)
        .order_by(StageChange.changed_at)
    )
    return [(names[to], entered, bool(advanced), bool(won)) for to, entered, advanced, won in rows]


def walk(opportunity: Opportunity, by: Member, *stages: str) -> list[datetime]:
    """Move through these stages a day apart, after the last move; returns the move times."""
    moments = []
    for name in stages:
        moment = opportunity.stage_entered_at + timedelta(days=1)
        funnel.move_to_stage(
            opportunity,
            stage(name),
            by=by,
            expected_version=opportunity.version,
            tz=LA,
            lost_reason="Price" if name == "Lost" else "",
            now=moment,
        )
        db.session.commit()
        moments.append(moment)
    return moments


def test_each_move_knows_its_past_and_is_updated_by_later_moves(
    make_member: Callable[..., Member],
) -> None:
    nick = make_member(name="Nick Points")
    deal = create_opportunity(name="Tows R Us", by=nick, revenue=Decimal("1000"), now=T0, tz=LA)
    db.session.commit()
    assert derived(deal.id) == [("Prospect", None, False, False)]

    first, second = walk(deal, nick, "Discovery", "1st Appointment")
    # Prospect was followed by Discovery (further along); Discovery only by a step back.
    assert derived(deal.id) == [
        ("Prospect", None, True, False),
        ("Discovery", T0, False, False),
        ("1st Appointment", first, False, False),
    ]

    lost, reopened, won = walk(deal, nick, "Lost", "Presentation", "Won")
    assert derived(deal.id) == [
        ("Prospect", None, True, True),
        ("Discovery", T0, True, True),  # Presentation came after the reopening
        ("1st Appointment", first, True, True),
        ("Lost", second, False, True),  # nothing is further along than Lost
        ("Presentation", lost, True, True),
        ("Won", reopened, False, False),
    ]
    assert won > reopened


def test_lost_is_never_further_along(make_member: Callable[..., Member]) -> None:
    nick = make_member(name="Nick Points")
    deal = create_opportunity(name="Lakeside", by=nick, now=T0, tz=LA)
    db.session.commit()
    walk(deal, nick, "Discovery", "Lost")
    assert [(name, advanced, won) for name, _at, advanced, won in derived(deal.id)] == [
        ("Prospect", True, False),
        ("Discovery", False, False),
        ("Lost", False, False),
    ]


def test_a_loaded_move_reads_the_new_values(make_member: Callable[..., Member]) -> None:
    nick = make_member(name="Nick Points")
    deal = create_opportunity(name="Halcyon", by=nick, now=T0, tz=LA)
    db.session.commit()
    first = db.session.scalars(
        select(StageChange).where(StageChange.opportunity_id == deal.id)
    ).one()
    assert first.advanced_later is False
    walk(deal, nick, "Won")
    assert first.advanced_later is True
    assert first.won_later is True


def test_refresh_fills_in_rows_loaded_around_the_orm(
    make_opportunity: Callable[..., Opportunity],
) -> None:
    deal = make_opportunity(stage_name="Won")
    db.session.execute(
        insert(StageChange),
        [
            {"opportunity_id": deal.id, "to_stage_id": stage("Prospect").id, "changed_at": T0},
            {
                "opportunity_id": deal.id,
                "from_stage_id": stage("Prospect").id,
                "to_stage_id": stage("Won").id,
                "changed_at": T0 + timedelta(days=3),
            },
        ],
    )
    assert derived(deal.id) == [("Prospect", None, False, False), ("Won", None, False, False)]
    stage_history.refresh(db.session)
    assert derived(deal.id) == [("Prospect", None, True, True), ("Won", T0, False, False)]
