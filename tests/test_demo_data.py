"""Demo data (`flask crm demo`) and bench data (`python -m bench.data`)."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bench.data import generate
from bench.data.__main__ import main as bench_data_main
from crmlite import create_app
from crmlite.config import TestConfig
from crmlite.demo import DEMO_PASSWORD, FUTURE_DAYS, PAST_DAYS, load_demo
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityNote,
    ActivityStatus,
    ActivityType,
    BusinessUnit,
    Campaign,
    CampaignSubType,
    CampaignType,
    Company,
    Contact,
    ForecastLine,
    Location,
    Member,
    Opportunity,
    OpportunityStatus,
    OpportunityType,
    RevenueQuota,
    SalesStage,
    StageChange,
)
from crmlite.services import archive, board, rollups
from crmlite.services.defaults import load_defaults
from crmlite.services.funnel import stalled_count
from crmlite.services.members import authenticate
from crmlite.services.team import get_team
from tests.conftest import wipe

TODAY = date(2026, 11, 2)


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def name_of(model: Any, row_id: int | None) -> str | None:
    return db.session.scalar(select(model.name).where(model.id == row_id)) if row_id else None


def fingerprint() -> tuple[dict[str, int], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Row counts, then every opportunity and activity by content (not by id)."""
    counts = {
        model.__tablename__: count(model)
        for model in (
            Member,
            Company,
            Contact,
            Campaign,
            Opportunity,
            ForecastLine,
            StageChange,
            Activity,
            ActivityNote,
            RevenueQuota,
        )
    }
    opportunities = sorted(
        db.session.execute(
            select(
                Opportunity.name,
                Opportunity.revenue,
                Opportunity.cost,
                SalesStage.name,
                Opportunity.closed_at,
                Opportunity.expected_close_on,
                Opportunity.created_at,
            ).join(SalesStage, SalesStage.id == Opportunity.stage_id)
        )
    )
    activities = sorted(
        db.session.execute(
            select(
                Activity.subject,
                Activity.due_on,
                Activity.starts_at,
                Activity.status,
                Activity.points_earned,
                Activity.closed_at,
            )
        ),
        key=repr,
    )
    return counts, opportunities, activities


def test_demo_has_the_three_members(app: Flask) -> None:
    load_demo(today=TODAY)
    db.session.commit()
    members = {
        m.email: m
        for m in db.session.scalars(
            select(Member).options(
                selectinload(Member.location), selectinload(Member.business_unit)
            )
        )
    }
    assert set(members) == {"nick@example.com", "cory@example.com", "manny@example.com"}
    nick, cory, manny = (members[f"{n}@example.com"] for n in ("nick", "cory", "manny"))
    assert (nick.name, nick.role, nick.title) == (
        "Nick Points",
        "admin",
        "Channel Development Sales Executive",
    )
    assert (cory.name, cory.role, cory.title) == ("Cory Ferguson", "manager", "Account Manager")
    assert cory.location is not None and cory.location.name == "ARRC"
    assert cory.business_unit is not None and cory.business_unit.name == "MS Sales"
    assert (manny.name, manny.role, manny.title) == ("Manny Martinez", "rep", "Sales Executive")
    assert authenticate("cory@example.com", DEMO_PASSWORD) is not None
    assert count(Location) >= 2 and count(BusinessUnit) >= 2
    # A revenue quota for every month of this year and the last, for each member.
    for member in (nick, cory, manny):
        quotas = db.session.scalars(
            select(RevenueQuota).where(RevenueQuota.member_id == member.id)
        ).all()
        assert {(q.year, q.month) for q in quotas} == {
            (y, m) for y in (2025, 2026) for m in range(1, 13)
        }
    assert {
        q.revenue
        for q in db.session.scalars(select(RevenueQuota).where(RevenueQuota.member_id == cory.id))
    } == {Decimal("4000.00")}


def test_demo_has_the_example_opportunity(app: Flask) -> None:
    load_demo(today=TODAY)
    db.session.commit()
    tows = db.session.scalars(
        select(Opportunity).where(Opportunity.name == "Tows R Us - Managed Services - Complete")
    ).one()
    assert tows.description == "Managed Services for 3 sites"
    assert name_of(OpportunityType, tows.type_id) == ("Managed Services - Complete")
    assert tows.revenue == Decimal("6200.00")
    assert tows.cost == Decimal("0.00")
    assert tows.margin == Decimal("6200.00")
    assert tows.margin_percent == Decimal("100.0")
    assert tows.expected_close_on == date(2013, 11, 30)
    assert tows.rating == "Medium"
    assert name_of(SalesStage, tows.stage_id) == "Discovery"
    assert tows.probability == 60
    assert name_of(OpportunityStatus, tows.status_id) == "Open"
    assert name_of(Campaign, tows.campaign_id) == "Referral - Business Referral - 2013"
    assert name_of(Member, tows.account_manager_id) == "Cory Ferguson"
    assert name_of(Location, tows.location_id) == "ARRC"
    assert name_of(BusinessUnit, tows.business_unit_id) == "MS Sales"
    shane = db.session.get(Contact, tows.contact_id)
    assert shane is not None and (shane.first_name, shane.last_name) == ("Shane", "Swanson")
    company = db.session.get(Company, tows.company_id)
    assert company is not None
    assert (
        company.name,
        company.street,
        company.city,
        company.region,
        company.postal_code,
        company.country,
    ) == ("Tows R Us", "1600 Mill Rock Way", "Bakersfield", "CA", "93311", "United States")
    campaign = db.session.get(Campaign, tows.campaign_id)
    assert campaign is not None
    assert name_of(CampaignSubType, campaign.sub_type_id) == "Business Referral"
    stages = [
        name_of(SalesStage, c.to_stage_id)
        for c in db.session.scalars(
            select(StageChange)
            .where(StageChange.opportunity_id == tows.id)
            .order_by(StageChange.changed_at)
        )
    ]
    assert stages == ["Prospect", "1st Appointment", "Discovery"]


def test_demo_has_the_example_activity_and_its_note(app: Flask) -> None:
    load_demo(today=TODAY)
    db.session.commit()
    activity = db.session.scalars(
        select(Activity).where(Activity.subject == "1st Appointment with Jason")
    ).one()
    assert db.session.get(ActivityType, activity.type_id).code == "SA"  # type: ignore[union-attr]
    assert name_of(Company, activity.company_id) == "CharTec"
    jason = db.session.get(Contact, activity.contact_id)
    assert jason is not None and (jason.first_name, jason.last_name) == ("Jason", "Rivas")
    assert jason.phone == activity.phone == "(866) 544-2772"
    assert name_of(Opportunity, activity.opportunity_id) == "Managed Services - Phone System"
    assert name_of(Member, activity.assigned_to_id) == "Nick Points"
    assert activity.assigned_by_id == activity.assigned_to_id
    assert name_of(Campaign, activity.campaign_id) == "Referral - Partner Referral - 2013"
    partner = db.session.scalars(
        select(CampaignSubType).where(CampaignSubType.name == "Partner Referral")
    ).one()
    assert name_of(CampaignType, partner.type_id) == "Referral"
    assert activity.due_on == date(2013, 12, 9)
    assert activity.reminder_minutes == 15 and activity.place == "On-Site"
    tz = ZoneInfo(get_team().time_zone)
    assert activity.starts_at is not None and activity.ends_at is not None
    starts, ends = activity.starts_at.astimezone(tz), activity.ends_at.astimezone(tz)
    assert (starts.date(), starts.time(), ends.time()) == (date(2013, 12, 9), time(10), time(11))
    note = db.session.scalars(
        select(ActivityNote).where(ActivityNote.activity_id == activity.id)
    ).one()
    assert note.author_id == activity.assigned_to_id
    assert note.body == (
        "Meeting scheduled with Jason. He was referred by Jim over at Jim's "
        "towing. He is interested in a phone system upgrade."
    )


def test_demo_is_the_same_on_every_run(app: Flask) -> None:
    first_summary = load_demo(today=TODAY)
    db.session.commit()
    first = fingerprint()
    wipe(db.engine.dialect.name)
    load_defaults()
    second_summary = load_demo(today=TODAY)
    db.session.commit()
    assert second_summary == first_summary
    assert fingerprint() == first
    counts = first[0]
    assert counts["members"] == 3
    assert 35 <= counts["companies"] <= 50
    assert 100 <= counts["opportunities"] <= 160
    assert 800 <= counts["activities"] <= 1100


def test_demo_work_is_placed_around_today(app: Flask) -> None:
    load_demo(today=TODAY)
    db.session.commit()
    tz = ZoneInfo(get_team().time_zone)
    recent = select(Activity).where(Activity.due_on >= date(2020, 1, 1))
    activities = db.session.scalars(recent).all()
    assert min(a.due_on for a in activities) >= TODAY - timedelta(days=PAST_DAYS)
    assert max(a.due_on for a in activities) <= TODAY + timedelta(days=FUTURE_DAYS)
    for activity in activities:
        if activity.due_on >= TODAY:
            assert activity.status == ActivityStatus.OPEN
        if activity.status == ActivityStatus.CLOSED:
            assert activity.closed_at is not None and activity.points_earned is not None
            assert activity.closed_by_id == activity.assigned_to_id
        if activity.starts_at is not None:
            assert activity.ends_at is not None
            starts, ends = activity.starts_at.astimezone(tz), activity.ends_at.astimezone(tz)
            assert starts.date() == activity.due_on and starts.weekday() < 5
            assert time(8) <= starts.time() and ends.time() <= time(17)
            assert timedelta(minutes=30) <= ends - starts <= timedelta(minutes=120)
    assert any(a.due_on < TODAY and a.status == ActivityStatus.OPEN for a in activities)
    assert any(a.starts_at is None for a in activities)

    stages = {s.id: s for s in db.session.scalars(select(SalesStage))}
    statuses = {s.id: s.name for s in db.session.scalars(select(OpportunityStatus))}
    opportunities = db.session.scalars(
        select(Opportunity).options(
            selectinload(Opportunity.forecast_lines), selectinload(Opportunity.stage_changes)
        )
    ).all()
    assert {stages[o.stage_id].name for o in opportunities} == {s.name for s in stages.values()}
    for opportunity in opportunities:
        stage = stages[opportunity.stage_id]
        lines = opportunity.forecast_lines
        assert lines and opportunity.revenue == sum(line.total_revenue for line in lines)
        assert opportunity.cost == sum(line.total_cost for line in lines)
        changes = opportunity.stage_changes
        assert stages[changes[0].to_stage_id].name == "Prospect"
        assert changes[-1].to_stage_id == opportunity.stage_id
        assert opportunity.stage_entered_at == changes[-1].changed_at
        assert [c.changed_at for c in changes] == sorted({c.changed_at for c in changes})
        if opportunity.expected_close_on and opportunity.expected_close_on.year == 2013:
            continue  # PRODUCT.md's historical examples
        assert opportunity.probability == stage.default_probability
        assert Decimal(500) <= opportunity.revenue <= Decimal(60_000)
        if stage.is_won:
            assert statuses[opportunity.status_id] == "Won"
            assert opportunity.won_amount == opportunity.revenue and opportunity.closed_at
        elif stage.is_lost:
            assert statuses[opportunity.status_id] == "Lost"
            assert opportunity.lost_reason and opportunity.lost_amount and opportunity.closed_at
        else:
            assert statuses[opportunity.status_id] == "Open" and opportunity.closed_at is None
    assert any(
        line.recurring and line.months > 1 for o in opportunities for line in o.forecast_lines
    )


def test_demo_leaves_a_few_open_opportunities_stalled(app: Flask) -> None:
    load_demo(today=TODAY)
    db.session.commit()
    open_status = db.session.scalars(
        select(OpportunityStatus.id).where(OpportunityStatus.name == "Open")
    ).one()
    open_count = (
        db.session.scalar(
            select(func.count(Opportunity.id)).where(Opportunity.status_id == open_status)
        )
        or 0
    )
    stalled = stalled_count(TODAY)
    assert open_count >= 60
    assert 0.05 * open_count <= stalled <= 0.3 * open_count


def test_bench_data_small_run(app: Flask) -> None:
    messages: list[str] = []
    generate(opportunities=200, activities=2_000, members=5, seed=7, echo=messages.append)
    db.session.rollback()
    assert messages and "done" in messages[-1]
    assert (
        db.session.scalar(
            select(func.count(Member.id)).where(Member.email.like("bench-%@example.com"))
        )
        == 5
    )
    assert count(Opportunity) == 200
    assert count(Activity) == 2_000
    assert 50 <= count(Company) <= 80
    assert count(Contact) >= count(Company)
    assert count(ForecastLine) == 200
    assert count(RevenueQuota) == 5 * 12
    without_history = db.session.scalar(
        select(func.count(Opportunity.id)).where(
            ~select(StageChange.id).where(StageChange.opportunity_id == Opportunity.id).exists()
        )
    )
    assert without_history == 0
    closed = (
        db.session.scalar(
            select(func.count(Activity.id)).where(Activity.status == ActivityStatus.CLOSED.value)
        )
        or 0
    )
    assert 0.55 <= closed / 2_000 <= 0.85
    assert (
        db.session.scalar(
            select(func.count(Activity.id)).where(
                Activity.status == ActivityStatus.CLOSED.value, Activity.points_earned.is_(None)
            )
        )
        == 0
    )
    assert (
        db.session.scalar(
            select(func.count(Activity.id)).where(Activity.opportunity_id.is_not(None))
        )
        > 0
    )
    # The tables the triggers keep hold what a rebuild makes (on PostgreSQL the load runs
    # with the triggers off and rebuilds them once), and the triggers are on again after.
    kept = kept_tables()
    assert all(kept.values()), [name for name, rows in kept.items() if not rows]
    rollups.rebuild()
    board.rebuild_totals()
    assert kept_tables() == kept
    deal = db.session.scalars(
        select(Opportunity).where(Opportunity.account_manager_id.is_not(None))
    ).first()
    assert deal is not None
    deal.account_manager_id = None
    db.session.flush()
    moved = kept_tables()
    rollups.rebuild()
    board.rebuild_totals()
    assert kept_tables() == moved != kept


def kept_tables() -> dict[str, list[tuple[Any, ...]]]:
    """Every table the triggers keep (the search's aside), its rows in order; rows the
    triggers brought down to nothing (all figures 0) left out, as a rebuild makes none."""
    tables = db.metadata.tables
    kept = {}
    for name in sorted(archive.DERIVED & set(tables)):
        figures = [c.name for c in tables[name].columns if not c.primary_key]
        kept[name] = sorted(
            tuple(row.values())
            for row in db.session.execute(select(tables[name])).mappings()
            if any(row[f] for f in figures)
        )
    return kept


def test_bench_data_command_fills_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'bench.sqlite'}"
    with create_app(TestConfig(url)).app_context():
        db.create_all()
        db.engine.dispose()
    monkeypatch.setenv("CRMLITE_ENV", "testing")
    monkeypatch.setenv("DATABASE_URL", url)
    bench_data_main(["--opportunities", "30", "--activities", "300", "--members", "2"])
    assert "done: 2 members, 10 companies" in capsys.readouterr().out
    with create_app(TestConfig(url)).app_context():
        assert count(Opportunity) == 30 and count(Activity) == 300
        assert count(SalesStage) > 0  # the defaults were loaded first
        db.engine.dispose()
    with pytest.raises(SystemExit):
        bench_data_main(["--members", "0"])
    assert "--members: 0 is below 1" in capsys.readouterr().err
