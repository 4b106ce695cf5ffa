"""The board's column totals kept by the database (models/board_totals.py): whatever writes
the opportunities (the ORM, bulk UPDATE and INSERT statements, deletes), the kept totals equal
the totals added up from the opportunities themselves; the board's headers read them."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import delete, insert, select, text, update

from crmlite.extensions import db
from crmlite.models import BoardTotal, Opportunity, OpportunityStatus, SalesStage
from crmlite.services import board, reference
from crmlite.services.board import BoardFilters, ColumnTotals
from crmlite.services.money import cents
from crmlite.services.team import get_team, local_today
from tests.conftest import status

Totals = dict[tuple[int, int], tuple[int, Decimal, Decimal]]


def kept() -> Totals:
    """The kept rows, without those emptied to zero."""
    return {
        (row.stage_id, row.status_id): (
            row.deals,
            Decimal(row.revenue_cents) / 100,
            Decimal(row.weighted_cent_percents) / 10_000,
        )
        for row in db.session.scalars(select(BoardTotal))
        if row.deals
    }


def added_up() -> Totals:
    """The same figures added up in Python from every opportunity."""
    totals: Totals = {}
    for opportunity in db.session.scalars(select(Opportunity)):
        key = (opportunity.stage_id, opportunity.status_id)
        count, revenue, weighted = totals.get(key, (0, Decimal(0), Decimal(0)))
        totals[key] = (
            count + 1,
            revenue + opportunity.revenue,
            weighted + opportunity.revenue * opportunity.probability / 100,
        )
    return totals


def test_a_random_walk_of_changes_keeps_the_totals_exact(
    app: Flask, make_opportunity: Callable[..., Opportunity]
) -> None:
    """300 changes of every kind, by every path that writes opportunities; after each batch
    the kept totals equal the totals added up from scratch."""
    chance = random.Random(16)
    stages = list(db.session.scalars(select(SalesStage)))
    statuses = list(db.session.scalars(select(OpportunityStatus)))

    def amount() -> Decimal:
        return Decimal(chance.randrange(0, 5_000_000)) / 100

    for number in range(12):
        make_opportunity(name=f"Deal {number}", revenue=amount())

    def ids() -> list[int]:
        return list(db.session.scalars(select(Opportunity.id).order_by(Opportunity.id)))

    def orm_change() -> None:
        opportunity = db.session.get(Opportunity, chance.choice(ids()))
        assert opportunity is not None
        field = chance.choice(["stage", "status", "revenue", "probability", "name", "all"])
        if field in ("stage", "all"):
            opportunity.stage_id = chance.choice(stages).id
        if field in ("status", "all"):
            opportunity.status_id = chance.choice(statuses).id
        if field in ("revenue", "all"):
            opportunity.revenue = amount()
        if field in ("probability", "all"):
            opportunity.probability = chance.randrange(0, 101)
        if field == "name":  # a change the totals ignore
            opportunity.name = f"Renamed {chance.random()}"

    def bulk_update() -> None:
        some = chance.sample(ids(), k=min(4, len(ids())))
        db.session.execute(
            update(Opportunity)
            .where(Opportunity.id.in_(some))
            .values(probability=chance.randrange(0, 101), stage_id=chance.choice(stages).id)
            .execution_options(synchronize_session=False)
        )

    def bulk_insert() -> None:
        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = [
            {
                "name": f"Imported {chance.random()}",
                "stage_id": chance.choice(stages).id,
                "status_id": chance.choice(statuses).id,
                "revenue": amount(),
                "probability": chance.randrange(0, 101),
                "stage_entered_at": now,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            for _ in range(chance.randrange(1, 4))
        ]
        db.session.execute(insert(Opportunity), rows)

    def remove() -> None:
        if len(ids()) > 3:
            db.session.execute(delete(Opportunity).where(Opportunity.id == chance.choice(ids())))

    def add() -> None:
        make_opportunity(name=f"New {chance.random()}", revenue=amount())

    steps = [orm_change] * 5 + [bulk_update, bulk_insert, remove, add]
    for batch in range(30):
        for _ in range(10):
            chance.choice(steps)()
            db.session.flush()
        if batch % 3 == 0:
            db.session.rollback()  # a transaction that did not happen leaves no trace
        else:
            db.session.commit()
        assert kept() == added_up(), f"after batch {batch}"


def test_rebuilding_recomputes_spoiled_totals(
    app: Flask, make_opportunity: Callable[..., Opportunity]
) -> None:
    make_opportunity(revenue="1234.56", probability=25)
    make_opportunity(revenue="100.00", probability=10)
    expected = kept()
    assert expected == added_up()
    db.session.execute(update(BoardTotal).values(deals=99, revenue_cents=1))
    db.session.commit()
    assert kept() != expected

    board.rebuild_totals()
    db.session.commit()
    assert kept() == expected


def test_the_headers_of_the_whole_board_read_the_kept_totals(
    app: Flask, make_opportunity: Callable[..., Opportunity], queries: Callable[[], Any]
) -> None:
    """The unfiltered board's open columns come from board_totals and equal what a filtered
    board matching everything adds up; Won and Lost still count this quarter only."""
    make_opportunity(stage_name="Prospect", revenue="1000.10", probability=10)
    make_opportunity(stage_name="Prospect", revenue="2000.25", probability=15)
    make_opportunity(stage_name="Discovery", revenue="333.33", probability=33)
    lost = make_opportunity(stage_name="Lost", revenue="500.00", lost_amount=Decimal("450.00"))
    lost.closed_at = datetime.now(UTC)
    db.session.commit()
    tz = ZoneInfo(get_team().time_zone)
    today = local_today(tz)
    stages = reference.stages()

    kept_totals = board.column_totals(stages, BoardFilters(), today, tz)
    # Every deal has the default rating "Medium": a filter that matches them all, added up.
    counted = board.column_totals(stages, BoardFilters(rating="Medium"), today, tz)
    assert kept_totals == counted
    by_name = {stage.name: kept_totals[stage.id] for stage in stages}
    assert by_name["Prospect"] == ColumnTotals(
        2, Decimal("3000.35"), cents(Decimal("1000.10") * 10 / 100 + Decimal("2000.25") * 15 / 100)
    )
    assert by_name["Discovery"] == ColumnTotals(1, Decimal("333.33"), Decimal("110.00"))
    assert by_name["Lost"] == ColumnTotals(1, Decimal("450.00"), None)
    assert by_name["Won"] == ColumnTotals(0, Decimal("0.00"), None)
    # Moving a deal changes the kept totals at once, in the same transaction.
    prospect = db.session.scalars(
        select(Opportunity).where(Opportunity.revenue == Decimal("1000.10"))
    ).one()
    prospect.stage_id = next(s.id for s in stages if s.name == "Discovery")
    db.session.flush()
    moved = board.column_totals(stages, BoardFilters(), today, tz)
    assert moved[prospect.stage_id].count == 2
    db.session.rollback()
    assert board.column_totals(stages, BoardFilters(), today, tz) == kept_totals


def test_a_status_turning_closed_leaves_its_deals_out_of_the_open_columns(
    app: Flask, make_opportunity: Callable[..., Opportunity]
) -> None:
    """Whether a status is open is asked when reading, not frozen in the kept rows."""
    make_opportunity(stage_name="Prospect", revenue="10.00")
    tz = ZoneInfo(get_team().time_zone)
    stages = reference.stages()
    prospect = next(s for s in stages if s.name == "Prospect")
    before = board.column_totals(stages, BoardFilters(), local_today(tz), tz)
    assert before[prospect.id].count == 1
    status("Open").is_closed = True
    db.session.commit()
    after = board.column_totals(stages, BoardFilters(), local_today(tz), tz)
    assert after[prospect.id] == ColumnTotals(0, Decimal("0.00"), Decimal("0.00"))


@pytest.mark.parametrize("statement", ["DELETE FROM opportunities"])
def test_deleting_every_opportunity_empties_the_totals(
    app: Flask, make_opportunity: Callable[..., Opportunity], statement: str
) -> None:
    make_opportunity(revenue="10.00")
    make_opportunity(revenue="20.00")
    db.session.execute(text(statement))
    db.session.commit()
    assert kept() == {}
