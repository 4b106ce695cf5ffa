"""Campaigns: naming, figures (ROI, gross profit, roll-ups) with hand-computed numbers,
the pages, and bad input."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import Campaign, CampaignSubType, CampaignType, Role
from crmlite.services import campaigns as service
from tests.conftest import page_token


def campaign_type(name: str) -> CampaignType:
    return db.session.scalars(select(CampaignType).where(CampaignType.name == name)).one()


def sub_type(type_name: str, name: str) -> CampaignSubType:
    return db.session.scalars(
        select(CampaignSubType).where(
            CampaignSubType.type_id == campaign_type(type_name).id, CampaignSubType.name == name
        )
    ).one()


@pytest.fixture()
def make_campaign(app):
    def make(
        type_name: str = "Referral",
        sub_name: str | None = "Business Referral",
        cost: str = "0",
        **fields,
    ) -> Campaign:
        campaign = service.save_campaign(
            None,
            type_id=campaign_type(type_name).id,
            sub_type_id=sub_type(type_name, sub_name).id if sub_name else None,
            actual_cost=Decimal(cost),
            starts_on=fields.pop("starts_on", date(2013, 1, 1)),
            **fields,
        )
        db.session.commit()
        return campaign

    return make


def test_names_are_proposed_from_type_sub_type_and_year(make_campaign) -> None:
    assert make_campaign().name == "Referral - Business Referral - 2013"
    assert make_campaign("Walk-In", None).name == "Walk-In - 2013"
    assert make_campaign(name="Academy - March - 2013").name == "Academy - March - 2013"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"sub_type_id": "Postcard"}, "sub_type_id"),
        ({"actual_cost": Decimal("-1")}, "actual_cost"),
        ({"starts_on": date(2013, 5, 1), "ends_on": date(2013, 4, 1)}, "ends_on"),
        ({"name": "Taken"}, "name"),
    ],
)
def test_rules_refuse_bad_campaigns(make_campaign, values, field) -> None:
    make_campaign(name="Taken")
    referral = campaign_type("Referral").id
    if values.get("sub_type_id") == "Postcard":
        values["sub_type_id"] = sub_type("Direct Mail", "Postcard").id
    with pytest.raises(service.CampaignRefused) as refused:
        service.save_campaign(None, type_id=referral, **values)
    assert refused.value.field == field
    db.session.rollback()


def test_figures_roi_and_gross_profit(make_campaign, make_opportunity) -> None:
    campaign = make_campaign(cost="1000.00", budgeted_cost=Decimal("1500.00"))
    won_at = datetime(2013, 6, 1, tzinfo=UTC)
    make_opportunity(
        name="Won 1",
        stage_name="Won",
        revenue="6200.00",
        campaign_id=campaign.id,
        won_amount=Decimal("6200.00"),
        cost=Decimal("1200.00"),
        closed_at=won_at,
    )
    make_opportunity(
        name="Won 2",
        stage_name="Won",
        revenue="3000.00",
        campaign_id=campaign.id,
        won_amount=Decimal("2500.00"),
        cost=Decimal("500.00"),
        closed_at=won_at,
    )
    make_opportunity(
        name="Lost", stage_name="Lost", revenue="800.00", campaign_id=campaign.id, closed_at=won_at
    )
    make_opportunity(
        name="Open", stage_name="Discovery", revenue="4000.00", campaign_id=campaign.id
    )
    f = service.figures([campaign.id])[campaign.id]
    assert (f.opportunities, f.won, f.lost) == (4, 2, 1)
    assert f.won_revenue == Decimal("8700.00")
    # Gross profit: (6,200 − 1,200) + (2,500 − 500) = 7,000.
    assert f.gross_profit == Decimal("7000.00")
    # ROI: (7,000 − 1,000) ÷ 1,000 = 600 %.
    assert f.roi == Decimal("600")
    assert f.pipeline == Decimal("4000.00") and f.weighted_pipeline == Decimal("2400.00")
    assert f.cost_per_opportunity == Decimal("250.00")
    assert f.win_rate == Decimal("67")  # 2 of 3 closed
    assert f.budget_left == Decimal("500.00")


def test_roi_is_undefined_without_cost(make_campaign, make_opportunity) -> None:
    campaign = make_campaign(cost="0")
    f = service.figures([campaign.id])[campaign.id]
    assert f.roi is None and f.roi_reason == "no cost recorded"
    assert f.cost_per_opportunity is None and f.win_rate is None


def test_rollups_per_type_and_sub_type(make_campaign, make_opportunity) -> None:
    a = make_campaign(cost="100.00", name="A")
    b = make_campaign(
        "Referral", "Business Referral", cost="300.00", name="B", starts_on=date(2014, 1, 1)
    )
    c = make_campaign("Direct Mail", "Postcard", cost="50.00", name="C")
    for campaign, amount in ((a, "1000.00"), (b, "500.00"), (c, "20.00")):
        make_opportunity(
            name=f"Win {campaign.name}",
            stage_name="Won",
            revenue=amount,
            won_amount=Decimal(amount),
            campaign_id=campaign.id,
            closed_at=datetime(2013, 6, 1, tzinfo=UTC),
        )
    result = service.analysis(service.AnalysisFilters(sort="won"))
    assert [c.name for c, _ in result.rows] == ["A", "B", "C"]
    assert result.total.actual_cost == Decimal("450.00")
    assert result.total.gross_profit == Decimal("1520.00")
    referral = next(r for r in result.by_type if r.label == "Referral")
    assert referral.figures.won_revenue == Decimal("1500.00")
    assert referral.figures.roi == Decimal("275")  # (1,500 − 400) ÷ 400
    assert [child.label for child in referral.children] == ["Business Referral"]
    only_2014 = service.analysis(service.AnalysisFilters(year=2014))
    assert [c.name for c, _ in only_2014.rows] == ["B"]


def test_analysis_page_and_filters(client, signed_in, make_campaign) -> None:
    signed_in(Role.REP)
    make_campaign(cost="100.00", name="Referral 2013")
    make_campaign("Direct Mail", "Letter", name="Letters 2013")
    html = client.get("/campaigns/").get_data(as_text=True)
    assert "Referral 2013" in html and "Letters 2013" in html
    assert '— <span class="muted">(no cost recorded)</span>' in html
    assert "<svg" in html and "New campaign" not in html  # reps do not create campaigns
    partial = client.get(
        f"/campaigns/?type_id={campaign_type('Direct Mail').id}",
        headers={"HX-Request": "true", "HX-Target": "campaign-analysis"},
    )
    text = partial.get_data(as_text=True)
    assert text.lstrip().startswith('<section id="campaign-analysis">')
    assert "Letters 2013" in text and "Referral 2013" not in text
    assert client.get("/campaigns/?year=abc&sort=nonsense").status_code == 200


def test_sub_types_follow_the_type_in_place(client, signed_in) -> None:
    signed_in(Role.MANAGER)
    html = client.get(
        f"/campaigns/sub-types?type_id={campaign_type('Website').id}&starts_on=2013-03-01"
    ).get_data(as_text=True)
    assert re.findall(r"<option[^>]*>([^<]+)</option>", html) == ["—", "Visitor ID", "Website"]
    assert "Proposed name: <strong>Website - 2013</strong>" in html


def test_create_and_edit_campaign(client, signed_in) -> None:
    me = signed_in(Role.MANAGER)
    token = page_token(client, "/campaigns/new")
    data = {
        "type_id": campaign_type("Referral").id,
        "sub_type_id": sub_type("Referral", "Business Referral").id,
        "name": "",
        "status": "Active",
        "starts_on": "2013-01-15",
        "ends_on": "",
        "owner_id": me.id,
        "location_id": 0,
        "budgeted_cost": "500",
        "actual_cost": "450.50",
        "expected_revenue": "10000",
        "notes": "",
        "csrf_token": token,
    }
    response = client.post("/campaigns/new", data=data)
    assert response.status_code == 302
    campaign = db.session.scalars(select(Campaign)).one()
    assert campaign.name == "Referral - Business Referral - 2013"
    assert campaign.actual_cost == Decimal("450.50")
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'id="actual-cost">450.50<' in page and 'id="budget-left">49.50<' in page


def test_bad_campaign_input_is_shown_next_to_the_field(client, signed_in) -> None:
    signed_in(Role.MANAGER)
    token = page_token(client, "/campaigns/new")
    html = client.post(
        "/campaigns/new",
        data={
            "type_id": campaign_type("Referral").id,
            "sub_type_id": sub_type("Direct Mail", "Postcard").id,
            "name": "Mixed",
            "status": "Active",
            "owner_id": 0,
            "location_id": 0,
            "actual_cost": "-5",
            "csrf_token": token,
        },
    ).get_data(as_text=True)
    assert 'id="actual_cost-error">The actual cost cannot be negative.' in html
    assert 'value="Mixed"' in html
    html = client.post(
        "/campaigns/new",
        data={
            "type_id": campaign_type("Referral").id,
            "sub_type_id": sub_type("Direct Mail", "Postcard").id,
            "name": "Mixed",
            "status": "Active",
            "owner_id": 0,
            "location_id": 0,
            "actual_cost": "5",
            "csrf_token": token,
        },
    ).get_data(as_text=True)
    assert 'id="sub_type_id-error">That sub-type is not one of Referral.' in html
    assert db.session.scalar(select(Campaign.id)) is None


def test_amounts_owner_and_location_are_checked_next_to_their_fields(
    client, signed_in, make_member
) -> None:
    signed_in(Role.MANAGER)
    gone = make_member(name="Gone Member", active=False)
    token = page_token(client, "/campaigns/new")
    base = {
        "type_id": campaign_type("Referral").id,
        "sub_type_id": 0,
        "name": "Checked",
        "status": "Active",
        "owner_id": 0,
        "location_id": 0,
        "csrf_token": token,
    }
    for overrides, field, message in [
        ({"budgeted_cost": "1e3"}, "budgeted_cost", "The budgeted cost must be digits"),
        ({"expected_revenue": "12.345"}, "expected_revenue", "at most two decimals"),
        ({"owner_id": "424242"}, "owner_id", "The owner must be a member of the team"),
        ({"owner_id": gone.id}, "owner_id", "The owner must be an active member: Gone Member"),
        ({"location_id": "424242"}, "location_id", "Location: choose one from the list."),
        ({"type_id": "x"}, "type_id", "Type: choose one from the list."),
        ({"type_id": 0}, "type_id", "Choose a campaign type."),
    ]:
        html = client.post("/campaigns/new", data={**base, **overrides}).get_data(as_text=True)
        match = re.search(rf'id="{field}-error">([^<]*)<', html)
        assert match and message in match.group(1), (overrides, match and match.group(1))
    assert db.session.scalar(select(Campaign.id)) is None
    response = client.post("/campaigns/new", data={**base, "budgeted_cost": "1,500.50"})
    assert response.status_code == 302
    assert db.session.scalars(select(Campaign)).one().budgeted_cost == Decimal("1500.50")


def test_type_and_sub_type_setup_rules(app, make_campaign, make_member) -> None:
    nick = make_member()
    added = service.add_type("  Trade\nShow  ")
    assert (added.name, added.active) == ("Trade Show", True)
    assert added.position == max(t.position for t in db.session.scalars(select(CampaignType)))
    with pytest.raises(service.CampaignRefused, match="There is a type called trade show"):
        service.add_type("trade show")
    with pytest.raises(service.CampaignRefused, match="Enter the new type's name"):
        service.add_type("   ")
    first = service.add_sub_type(added, "Spring")
    second = service.add_sub_type(added, "Autumn")
    assert (first.position, second.position) == (1, 2)
    with pytest.raises(service.CampaignRefused, match="Trade Show has a sub-type SPRING"):
        service.add_sub_type(added, "SPRING")
    assert len(service.add_type("x" * 100).name) == service.MAX_TYPE_NAME
    service.toggle_active(second)
    assert second.active is False
    assert [s.name for s in service.sub_types_of(added.id)] == ["Spring"]
    used = make_campaign("Trade Show", "Spring", name="Spring show")
    assert service.sub_types_in_use() >= {used.sub_type_id}
    with pytest.raises(service.CampaignRefused, match="used by 1 campaign"):
        service.delete_sub_type(first, by=nick)
    with pytest.raises(service.CampaignRefused, match="used by 1 campaign"):
        service.delete_type(added, by=nick)
    service.delete_sub_type(second, by=nick)
    db.session.delete(used)
    service.delete_type(added, by=nick)  # with its last sub-type
    db.session.commit()
    assert (
        db.session.scalar(select(CampaignSubType.id).where(CampaignSubType.name == "Spring"))
        is None
    )


def test_rights_and_unknown_ids(client, signed_in, make_campaign) -> None:
    signed_in(Role.REP)
    campaign = make_campaign()
    assert client.get("/campaigns/new").status_code == 403
    assert client.get(f"/campaigns/{campaign.id}/edit").status_code == 403
    assert client.get("/campaigns/types").status_code == 403
    assert client.get("/campaigns/424242").status_code == 404


def test_a_type_in_use_cannot_be_deleted(client, signed_in, make_campaign) -> None:
    signed_in(Role.MANAGER)
    make_campaign()
    referral = campaign_type("Referral")
    token = page_token(client, "/campaigns/types")
    response = client.post(
        f"/campaigns/types/{referral.id}/delete", data={"csrf_token": token}, follow_redirects=True
    )
    assert "is used by 1 campaign(s), so it cannot be deleted" in response.get_data(as_text=True)
    assert db.session.get(CampaignType, referral.id) is not None
    client.post(f"/campaigns/types/{referral.id}/active", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(CampaignType, referral.id).active is False
    webinar_id = campaign_type("Webinar").id
    referral_id = referral.id
    client.post(f"/campaigns/types/{webinar_id}/delete", data={"csrf_token": token})
    assert db.session.get(CampaignType, webinar_id) is None
    assert client.post(f"/campaigns/types/{referral_id}/delete").status_code == 400


def test_analysis_query_count_does_not_grow(client, signed_in, make_campaign, queries) -> None:
    signed_in(Role.MANAGER)
    for i in range(2):
        make_campaign(name=f"Few {i}")
    with queries() as few:
        client.get("/campaigns/")
    for i in range(20):
        make_campaign(name=f"Many {i}")
    with queries() as many:
        html = client.get("/campaigns/").get_data(as_text=True)
    assert html.count('id="campaign-') >= 22
    assert many.count == few.count
