"""The method's defaults (PRODUCT.md) and `flask crm init`."""

from __future__ import annotations

from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import (
    ActivityGroup,
    ActivityType,
    CampaignSubType,
    CampaignType,
    OpportunityStatus,
    SalesStage,
    TrackKind,
)
from crmlite.services import points, reference
from crmlite.services.defaults import load_defaults
from crmlite.services.team import get_team


def counts() -> dict[str, int]:
    return {
        model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
        for model in (
            SalesStage,
            OpportunityStatus,
            ActivityType,
            CampaignType,
            CampaignSubType,
            TrackKind,
        )
    }


def test_stages_in_funnel_order_then_won_and_lost(app) -> None:
    stages = reference.stages()
    assert [s.name for s in stages] == [
        "Prospect",
        "1st Appointment",
        "Discovery",
        "Presentation",
        "Follow-Up",
        "Commitment",
        "Won",
        "Lost",
    ]
    assert [s.is_won for s in stages].count(True) == 1 and stages[-2].is_won
    assert stages[-1].is_lost and stages[-1].default_probability == 0
    probabilities = [s.default_probability for s in stages[:-1]]
    assert probabilities == sorted(probabilities)


def test_the_points_table_totals_644_against_a_500_quota(app) -> None:
    types = reference.activity_types()
    assert len(types) == 22  # the points table's 21, and E-mail for captured mail
    assert points.monthly_target(types) == 644
    email = types[-1]
    assert (email.code, email.name, email.points, email.monthly_count) == ("EM", "E-mail", 0, 0)
    assert get_team().points_quota == 500
    by_name = {t.name: t for t in types}
    assert (
        by_name["Technology Business Review Meeting"].points,
        by_name["Technology Business Review Meeting"].monthly_count,
    ) == (20, 4)
    assert by_name["New Addendum Quote"].monthly_total == 100
    assert {t.group for t in types} == {g.value for g in ActivityGroup}
    assert len({t.code for t in types}) == 22


def test_every_campaign_sub_type_belongs_to_its_type(app) -> None:
    types = {t.name: [s.name for s in t.sub_types] for t in reference.campaign_types()}
    assert len(types) == 14
    assert types["Website"] == ["Visitor ID", "Website"]
    assert types["Walk-In"] == [] and types["Webinar"] == []
    assert types["Email"][-1] == "Track – Vertical"


def test_five_track_kinds(app) -> None:
    assert [k.name for k in reference.track_kinds()] == [
        "General Interest",
        "Industry Specific",
        "Value-Add",
        "Event Specific",
        "Lost Sale",
    ]


def test_loading_defaults_again_adds_nothing_and_keeps_changes(app) -> None:
    before = counts()
    changed = db.session.scalars(select(ActivityType).where(ActivityType.code == "PF")).one()
    changed.points = 4
    db.session.commit()
    load_defaults()
    db.session.commit()
    assert counts() == before
    assert (
        db.session.scalars(select(ActivityType.points).where(ActivityType.code == "PF")).one() == 4
    )


def test_crm_init_command_is_idempotent(app) -> None:
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["crm", "init"])
        assert result.exit_code == 0, result.output
        assert "Defaults loaded." in result.output
    assert counts()["activity_types"] == 22


def test_add_member_command(app) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "crm",
            "add-member",
            "--email",
            "Ann@Example.com",
            "--name",
            "Ann Lee",
            "--role",
            "manager",
            "--password",
            "long-enough-pw",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "ann@example.com" in result.output
    result = runner.invoke(
        args=[
            "crm",
            "add-member",
            "--email",
            "ann@example.com",
            "--name",
            "Ann Again",
            "--password",
            "long-enough-pw",
        ]
    )
    assert result.exit_code != 0
    assert "already a member" in result.output
    result = runner.invoke(
        args=[
            "crm",
            "add-member",
            "--email",
            "bo@example.com",
            "--name",
            "Bo",
            "--password",
            "short",
        ]
    )
    assert result.exit_code != 0
    assert "at least 12 characters" in result.output
