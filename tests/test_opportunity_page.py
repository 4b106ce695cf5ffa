"""The opportunity page: every section edited in place (htmx and plain posts), bad input,
stale versions, forecast lines and their totals, probability override, team, extra
contacts, notes, rights, the stalled list and query counts."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from crmlite.extensions import db
from crmlite.models import (
    Campaign,
    CampaignType,
    Company,
    Contact,
    ForecastLine,
    Member,
    Opportunity,
    OpportunityContact,
    OpportunityNote,
    OpportunityTeamMember,
    OpportunityType,
    Role,
    StageChange,
)
from crmlite.services import opportunity_details
from crmlite.services.money import FORMAT_HINT
from crmlite.services.team import local_today
from tests.conftest import page_token, stage, status

LA = ZoneInfo("America/Los_Angeles")
STALE = "Someone changed this opportunity since you opened it; here are the current values."


# ---------------------------------------------------------------- helpers


def htmx(token: str) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRFToken": token}


def fresh(opportunity_id: int) -> Opportunity:
    """The opportunity as the database holds it now."""
    db.session.expire_all()
    opportunity = db.session.get(Opportunity, opportunity_id)
    assert opportunity is not None
    return opportunity


def fields_data(o: Opportunity, **changes: Any) -> dict[str, str]:
    """The fields form as the page would post it, unchanged, plus ``changes``."""
    data = {
        "version": str(o.version),
        "name": o.name,
        "type_id": str(o.type_id or 0),
        "rating": o.rating,
        "revenue": f"{o.revenue:.2f}",
        "cost": f"{o.cost:.2f}",
        "expected_close_on": o.expected_close_on.isoformat() if o.expected_close_on else "",
        "probability": str(o.probability),
        "source": o.source,
        "campaign_id": str(o.campaign_id or 0),
        "account_manager_id": str(o.account_manager_id or 0),
        "sales_associate_id": str(o.sales_associate_id or 0),
        "company_id": str(o.company_id or 0),
        "contact_id": str(o.contact_id or 0),
        "location_id": str(o.location_id or 0),
        "business_unit_id": str(o.business_unit_id or 0),
        "description": o.description,
    }
    data.update({k: str(v) for k, v in changes.items()})
    return data


def line_data(
    version: int, prefix: str = "add", *, include: bool = True, **fields: Any
) -> dict[str, str]:
    values: dict[str, Any] = {
        "product_id": 0,
        "description": "",
        "kind": "one-off",
        "revenue": "0.00",
        "cost": "0.00",
        "months": 1,
        "status_id": 0,
    }
    values.update(fields)
    data = {f"{prefix}-{k}": str(v) for k, v in values.items()}
    if include:
        data[f"{prefix}-include_in_forecast"] = "y"
    data["version"] = str(version)
    return data


def error_of(html: str, field_id: str) -> str:
    match = re.search(rf'id="{re.escape(field_id)}-error">([^<]*)<', html)
    assert match, f"no error shown for {field_id}"
    return match.group(1)


@pytest.fixture()
def deal(
    signed_in: Callable[..., Member],
    make_company: Callable[..., Company],
    make_contact: Callable[..., Contact],
    make_opportunity: Callable[..., Opportunity],
) -> dict[str, Any]:
    """A rep signed in, account manager of "Tows R Us - Managed Services - Complete"."""
    me = signed_in(Role.REP, name="Cory Ferguson")
    company = make_company(name="Tows R Us", city="Bakersfield")
    shane = make_contact("Shane", "Swanson", company_id=company.id)
    opportunity = make_opportunity(
        stage_name="Discovery",
        revenue="6200.00",
        account_manager_id=me.id,
        company_id=company.id,
        contact_id=shane.id,
        description="Managed Services for 3 sites",
    )
    return {"me": me, "company": company, "shane": shane, "opportunity": opportunity}


def _url(o: Opportunity | int, suffix: str = "") -> str:
    ident = o if isinstance(o, int) else o.id
    return f"/opportunities/{ident}{suffix}"


# ---------------------------------------------------------------- the page


def test_page_shows_every_section(
    client: FlaskClient, deal: dict[str, Any], make_member, make_activity, make_contact
) -> None:
    o: Opportunity = deal["opportunity"]
    me: Member = deal["me"]
    manny = make_member(name="Manny Martinez")
    jane = make_contact("Jane", "Doe", company_id=deal["company"].id)
    today = local_today(LA)
    db.session.add_all(
        [
            OpportunityTeamMember(opportunity_id=o.id, member_id=manny.id, role="Engineer"),
            OpportunityContact(opportunity_id=o.id, contact_id=jane.id, role="Decision maker"),
            StageChange(
                opportunity_id=o.id,
                from_stage_id=None,
                to_stage_id=stage("Prospect").id,
                changed_by_id=me.id,
                changed_at=datetime(2013, 10, 1, 17, 0, tzinfo=UTC),
            ),
            StageChange(
                opportunity_id=o.id,
                from_stage_id=stage("Prospect").id,
                to_stage_id=stage("Discovery").id,
                changed_by_id=me.id,
                changed_at=datetime(2013, 10, 8, 17, 0, tzinfo=UTC),
            ),
        ]
    )
    db.session.commit()
    make_activity(
        me,
        subject="Discovery with Shane",
        code="DM",
        due_on=today + timedelta(days=2),
        opportunity_id=o.id,
    )
    make_activity(
        me,
        subject="Later presentation",
        code="PA",
        due_on=today + timedelta(days=9),
        opportunity_id=o.id,
    )
    make_activity(
        me,
        subject="1st Appointment",
        code="SA",
        due_on=today - timedelta(days=5),
        opportunity_id=o.id,
        closed=True,
    )

    html = client.get(_url(o)).get_data(as_text=True)
    header = html[html.index('id="opportunity-header"') : html.index('id="opportunity-fields"')]
    assert "Tows R Us - Managed Services - Complete" in header
    assert 'id="opportunity-stage">Discovery<' in header
    assert 'id="opportunity-status">Open<' in header
    assert ">Tows R Us</a>" in header and ">Shane Swanson</a>" in header
    assert "Stalled" not in header
    assert "Change the stage on the board" in header
    assert 'id="figure-revenue">6,200.00<' in html
    assert 'id="figure-margin">6,200.00<' in html
    assert 'id="figure-margin-percent">100.0 %<' in html
    assert "60 %" in html and "the stage&#39;s default" in html
    # Team, extra contacts and the history, from → to, oldest first.
    assert "Manny Martinez" in html and "Engineer" in html
    assert "Jane Doe" in html and "Decision maker" in html
    history = html[html.index('id="opportunity-history"') :]
    assert history.index("New → <strong>Prospect") < history.index("Prospect → <strong>Discovery")
    assert "Oldest first" in history
    # Activities: open and done, the next step highlighted.
    activities = html[html.index('id="opportunity-activities"') :]
    next_row = re.search(r'<tr id="activity-\d+" class="next-step">(.*?)</tr>', activities, re.S)
    assert next_row and "Discovery with Shane" in next_row.group(1)
    assert "Next step" in next_row.group(1)
    assert "Later presentation" in activities and "1st Appointment" in activities
    done = activities[activities.index('id="done-activities"') :]
    assert "1st Appointment" in done and "Discovery with Shane" not in done
    assert 'id="stalled-notice"' not in html


def test_stalled_opportunity_says_so(
    client: FlaskClient, deal: dict[str, Any], make_activity
) -> None:
    o: Opportunity = deal["opportunity"]
    make_activity(
        deal["me"],
        subject="Old call",
        due_on=local_today(LA) - timedelta(days=1),
        opportunity_id=o.id,
    )
    html = client.get(_url(o)).get_data(as_text=True)
    assert 'id="stalled-notice"' in html
    assert "Stalled: no next step" in html
    assert 'class="next-step"' not in html
    assert "overdue" in html


def test_unknown_ids_are_404(client: FlaskClient, deal: dict[str, Any]) -> None:
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    assert client.get(_url(99999)).status_code == 404
    assert client.get(_url(99999, "/fields/edit")).status_code == 404
    assert client.post(_url(99999, "/fields"), headers=htmx(token)).status_code == 404
    assert client.get(_url(o, "/lines/99999/edit")).status_code == 404
    assert client.post(_url(o, "/lines/99999"), headers=htmx(token)).status_code == 404
    assert client.post(_url(o, "/lines/99999/remove"), headers=htmx(token)).status_code == 404
    assert client.post(_url(o, "/team/99999/remove"), headers=htmx(token)).status_code == 404
    assert client.post(_url(o, "/contacts/99999/remove"), headers=htmx(token)).status_code == 404


# ---------------------------------------------------------------- fields


def test_fields_are_edited_in_place(
    client: FlaskClient, deal: dict[str, Any], make_member, make_contact
) -> None:
    o: Opportunity = deal["opportunity"]
    manny = make_member(name="Manny Martinez")
    kim = make_contact("Kim", "Lee", company_id=deal["company"].id)
    type_ms = db.session.scalars(select(OpportunityType).limit(1)).first()
    if type_ms is None:
        type_ms = OpportunityType(name="Managed Services - Complete")
        db.session.add(type_ms)
    campaign_type = db.session.scalars(select(CampaignType).limit(1)).one()
    campaign = Campaign(name="Referral - Business Referral - 2013", type_id=campaign_type.id)
    db.session.add(campaign)
    db.session.commit()
    token = page_token(client, _url(o))

    version = o.version
    form = client.get(_url(o, "/fields/edit"), headers=htmx(token)).get_data(as_text=True)
    assert form.lstrip().startswith('<section class="panel panel-editing" id="opportunity-fields"')
    assert f'name="version" value="{version}"' in form
    assert 'value="6,200.00"' in form or 'value="6200.00"' in form

    response = client.post(
        _url(o, "/fields"),
        headers=htmx(token),
        data=fields_data(
            o,
            name="Tows R Us - Managed Services - 3 sites",
            type_id=type_ms.id,
            rating="Hot",
            revenue="7,450.50",
            cost="1200.25",
            expected_close_on="2013-11-30",
            source="Referral from Jim",
            campaign_id=campaign.id,
            sales_associate_id=manny.id,
            contact_id=kim.id,
            description="Now 4 sites",
        ),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="panel" id="opportunity-fields"')
    assert 'id="figure-revenue">7,450.50<' in html
    assert 'id="figure-margin">6,250.25<' in html
    assert 'id="figure-margin-percent">83.9 %<' in html  # 6250.25 / 7450.50
    assert "Referral from Jim" in html and "Manny Martinez" in html and "Now 4 sites" in html
    # The header follows out of band, and the page's forms get the new version.
    assert 'id="opportunity-header" hx-swap-oob="true"' in html
    assert "Tows R Us - Managed Services - 3 sites" in html
    assert f"hx-swap-oob=\"outerHTML:input.opportunity-version[value='{version}']\"" in html

    saved = fresh(o.id)
    assert saved.name == "Tows R Us - Managed Services - 3 sites"
    assert (saved.revenue, saved.cost) == (Decimal("7450.50"), Decimal("1200.25"))
    assert saved.rating == "Hot" and saved.type_id == type_ms.id
    assert saved.campaign_id == campaign.id and saved.sales_associate_id == manny.id
    assert saved.contact_id == kim.id and saved.expected_close_on.isoformat() == "2013-11-30"
    assert saved.updated_by_id == deal["me"].id
    assert saved.version == version + 1
    assert saved.probability_overridden is False  # the probability was left as it was


def test_cancel_returns_the_read_only_section(client: FlaskClient, deal: dict[str, Any]) -> None:
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    html = client.get(_url(o, "/fields"), headers=htmx(token)).get_data(as_text=True)
    assert html.lstrip().startswith('<section class="panel" id="opportunity-fields"')
    assert "<form" not in html


def test_plain_post_redirects_back_to_the_page(client: FlaskClient, deal: dict[str, Any]) -> None:
    o: Opportunity = deal["opportunity"]
    html = client.get(_url(o, "?edit=fields")).get_data(as_text=True)
    assert 'id="opportunity-fields"' in html and 'action="/opportunities/' in html
    token = page_token(client, _url(o))
    response = client.post(
        _url(o, "/fields"), data={**fields_data(o, name="Renamed"), "csrf_token": token}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/opportunities/{o.id}#opportunity-fields")
    assert fresh(o.id).name == "Renamed"


def test_plain_post_with_bad_input_shows_the_page_with_the_errors(
    client: FlaskClient, deal: dict[str, Any]
) -> None:
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    response = client.post(
        _url(o, "/fields"), data={**fields_data(o, revenue="-5"), "csrf_token": token}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" in html and 'id="opportunity-lines"' in html  # the whole page
    assert error_of(html, "revenue") == "The revenue cannot be negative."
    assert fresh(o.id).revenue == Decimal("6200.00")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("revenue", "-100.00", "The revenue cannot be negative."),
        ("cost", "lots", f"The cost must be {FORMAT_HINT}; “lots” is not."),
        ("revenue", "12.345", "The revenue can have at most two decimals (cents)."),
        ("revenue", "0.001", "The revenue can have at most two decimals (cents)."),
        ("revenue", "NaN", f"The revenue must be {FORMAT_HINT}; “NaN” is not."),
        ("revenue", "Infinity", f"The revenue must be {FORMAT_HINT}; “Infinity” is not."),
        ("cost", "12e3", f"The cost must be {FORMAT_HINT}; “12e3” is not."),
        ("cost", "10,000,000,000", "The cost must be below 10,000,000,000.00."),
        ("name", "", "Enter the opportunity&#39;s name."),
        # A rep (the fixture's) gives the deal to nobody else; a manager's choice is checked
        # against the team (test_permissions_findings).
        (
            "account_manager_id",
            "99999",
            "Only a manager can give the opportunity to another account manager.",
        ),
        ("sales_associate_id", "x", "Sales associate: choose one from the list."),
        ("probability", "150", "The probability must be from 0 to 100."),
        (
            "probability",
            "5.5",
            "The probability must be a whole number written with the digits 0–9; “5.5” is not.",
        ),
        ("expected_close_on", "30/11/2013", "Not a valid date value."),
        ("company_id", "99999", "Choose a company from the list."),
    ],
)
def test_bad_field_input_is_refused_next_to_the_field(
    client: FlaskClient, deal: dict[str, Any], field: str, value: str, message: str
) -> None:
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    response = client.post(
        _url(o, "/fields"),
        headers=htmx(token),
        data=fields_data(o, **{field: value, "source": "kept input"}),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="panel panel-editing" id="opportunity-fields"')
    assert error_of(html, field) == message
    assert 'value="kept input"' in html
    if value:
        assert (
            f'value="{value}"' in html
            or f'<option selected value="{value}"' in html
            or (field.endswith("_id"))
        )
    saved = fresh(o.id)
    assert (saved.name, saved.revenue, saved.source) == (o.name, Decimal("6200.00"), "")
    assert saved.version == o.version


def test_contact_of_another_company_is_refused(
    client: FlaskClient, deal: dict[str, Any], make_company, make_contact
) -> None:
    o: Opportunity = deal["opportunity"]
    other = make_company(name="CharTec")
    jason = make_contact("Jason", "Rivas", company_id=other.id)
    token = page_token(client, _url(o))
    response = client.post(
        _url(o, "/fields"), headers=htmx(token), data=fields_data(o, contact_id=jason.id)
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert error_of(html, "contact_id") == "Jason Rivas does not work at the chosen company."
    assert fresh(o.id).contact_id == deal["shane"].id


def test_contact_choices_follow_the_company(
    client: FlaskClient, deal: dict[str, Any], make_company, make_contact
) -> None:
    other = make_company(name="CharTec")
    make_contact("Jason", "Rivas", company_id=other.id)
    token = page_token(client, _url(deal["opportunity"]))
    html = client.get(
        f"/opportunities/contact-options?company_id={other.id}", headers=htmx(token)
    ).get_data(as_text=True)
    assert "Jason Rivas" in html and "Shane Swanson" not in html
    assert '<option value="0">—</option>' in html


def test_stale_version_is_refused_with_the_current_values(
    client: FlaskClient, deal: dict[str, Any]
) -> None:
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    opened = fields_data(o, name="My rename")
    # Meanwhile someone else saves.
    o.source = "Changed by a colleague"
    db.session.commit()
    response = client.post(_url(o, "/fields"), headers=htmx(token), data=opened)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert STALE in html
    assert 'value="Changed by a colleague"' in html and "My rename" not in html
    current = fresh(o.id)
    assert f'name="version" value="{current.version}"' in html
    assert (current.name, current.source) == (o.name, "Changed by a colleague")


def test_stale_data_at_commit_is_refused_the_same_way(
    client: FlaskClient, deal: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version matched when the form was checked, but another writer got in first."""
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    update = opportunity_details.update_fields

    def racing(opportunity: Opportunity, *args: Any, **kwargs: Any) -> Opportunity:
        db.session.execute(
            text("UPDATE opportunities SET version = version + 1, source = 'racer' WHERE id = :id"),
            {"id": opportunity.id},
        )
        return update(opportunity, *args, **kwargs)

    monkeypatch.setattr(opportunity_details, "update_fields", racing)
    response = client.post(
        _url(o, "/fields"), headers=htmx(token), data=fields_data(o, name="Lost update")
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert STALE in html
    # The whole request was rolled back: neither the racer's test write nor ours.
    assert fresh(o.id).name == o.name


def test_probability_override_and_reset(client: FlaskClient, deal: dict[str, Any]) -> None:
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    html = client.post(
        _url(o, "/fields"), headers=htmx(token), data=fields_data(o, probability="75")
    ).get_data(as_text=True)
    assert "75 %" in html and "set by hand" in html
    saved = fresh(o.id)
    assert (saved.probability, saved.probability_overridden) == (75, True)

    html = client.post(
        _url(o, "/fields"),
        headers=htmx(token),
        data={**fields_data(saved, probability="75"), "use_stage_default": "y"},
    ).get_data(as_text=True)
    assert "60 %" in html and "the stage&#39;s default" in html
    saved = fresh(o.id)
    assert (saved.probability, saved.probability_overridden) == (60, False)


# ---------------------------------------------------------------- forecast lines


def add_line(client: FlaskClient, o_id: int, token: str, **fields: Any) -> str:
    response = client.post(
        _url(o_id, "/lines"), headers=htmx(token), data=line_data(fresh(o_id).version, **fields)
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_forecast_lines_recompute_the_totals(client: FlaskClient, deal: dict[str, Any]) -> None:
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    product = db.session.scalars(
        select(OpportunityType).where(OpportunityType.name == "Managed Services - Complete")
    ).one()

    html = add_line(
        client,
        o.id,
        token,
        product_id=product.id,
        description="3 sites",
        kind="recurring",
        revenue="1,200.00",
        cost="400.00",
        months=36,
    )
    assert html.lstrip().startswith('<section class="panel" id="opportunity-lines"')
    assert 'id="opportunity-figures" hx-swap-oob="true"' in html
    assert 'id="figure-revenue">43,200.00<' in html
    html = add_line(
        client,
        o.id,
        token,
        description="Set-up",
        revenue="3500.00",
        cost="2000.00",
    )
    # 1,200.00 x 36 + 3,500.00 = 46,700.00; 400.00 x 36 + 2,000.00 = 16,400.00.
    assert 'id="lines-total-revenue">46,700.00<' in html
    assert 'id="lines-total-cost">16,400.00<' in html
    assert 'id="lines-total-margin">30,300.00<' in html
    assert 'id="lines-total-margin-percent">64.9 %<' in html
    assert 'id="figure-revenue">46,700.00<' in html
    assert 'id="figure-margin-percent">64.9 %<' in html
    assert "Recurring × 36 months" in html
    saved = fresh(o.id)
    assert (saved.revenue, saved.cost) == (Decimal("46700.00"), Decimal("16400.00"))
    assert saved.margin == Decimal("30300.00") and saved.margin_percent == Decimal("64.9")
    recurring, one_off = saved_lines(o.id)
    assert (recurring.recurring, recurring.months, recurring.total_revenue) == (
        True,
        36,
        Decimal("43200.00"),
    )
    assert (one_off.recurring, one_off.months, one_off.position) == (False, 1, 2)

    # Edit: the one-off becomes 5,000.00; the row is a form first.
    form = client.get(_url(o, f"/lines/{one_off.id}/edit"), headers=htmx(token)).get_data(
        as_text=True
    )
    assert f'<tr id="line-{one_off.id}" class="row-editing">' in form
    assert 'name="edit-revenue"' in form and 'value="3500.00"' in form
    response = client.post(
        _url(o, f"/lines/{one_off.id}"),
        headers=htmx(token),
        data=line_data(
            saved.version,
            "edit",
            description="Set-up",
            revenue="5000.00",
            cost="2000.00",
            include=False,
        ),
    )
    html = response.get_data(as_text=True)
    assert 'id="lines-total-revenue">48,200.00<' in html
    assert 'id="figure-revenue">48,200.00<' in html
    saved = fresh(o.id)
    assert saved.revenue == Decimal("48200.00")
    assert saved_lines(o.id)[1].include_in_forecast is False

    # Remove the recurring line: only the one-off is left.
    recurring_id = recurring.id
    response = client.post(
        _url(o, f"/lines/{recurring_id}/remove"),
        headers=htmx(token),
        data={"version": str(saved.version)},
    )
    html = response.get_data(as_text=True)
    assert f'id="line-{recurring_id}"' not in html
    assert 'id="figure-revenue">5,000.00<' in html
    assert 'id="figure-margin-percent">60.0 %<' in html
    saved = fresh(o.id)
    assert (saved.revenue, saved.cost, saved.margin_percent) == (
        Decimal("5000.00"),
        Decimal("2000.00"),
        Decimal("60.0"),
    )
    assert len(saved_lines(o.id)) == 1


def saved_lines(opportunity_id: int) -> list[ForecastLine]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(ForecastLine)
            .where(ForecastLine.opportunity_id == opportunity_id)
            .order_by(ForecastLine.position)
        )
    )


def test_revenue_and_cost_are_read_only_once_lines_exist(
    client: FlaskClient, deal: dict[str, Any]
) -> None:
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    add_line(client, o.id, token, revenue="1000.00", cost="250.00")
    form = client.get(_url(o, "/fields/edit"), headers=htmx(token)).get_data(as_text=True)
    assert 'name="revenue"' not in form and 'name="cost"' not in form
    assert 'id="figure-revenue">1,000.00<' in form
    current = fresh(o.id)
    response = client.post(
        _url(o, "/fields"),
        headers=htmx(token),
        data=fields_data(current, revenue="99999.00", cost="1.00", name="Still computed"),
    )
    assert response.status_code == 200
    saved = fresh(o.id)
    assert (saved.name, saved.revenue, saved.cost) == (
        "Still computed",
        Decimal("1000.00"),
        Decimal("250.00"),
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("months", "0", "The number of months must be from 1 to 600."),
        ("revenue", "-1.00", "The revenue cannot be negative."),
        ("cost", "abc", f"The cost must be {FORMAT_HINT}; “abc” is not."),
        ("revenue", "", "Enter the revenue (0.00 if none)."),
        ("product_id", "99999", "Choose a product from the list."),
    ],
)
def test_bad_line_input_is_refused_next_to_the_field(
    client: FlaskClient, deal: dict[str, Any], field: str, value: str, message: str
) -> None:
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    data = line_data(
        o.version, description="Kept text", kind="recurring", revenue="100.00", months=12
    )
    data[f"add-{field}"] = value
    response = client.post(_url(o, "/lines"), headers=htmx(token), data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert error_of(html, f"add-{field}") == message
    assert 'value="Kept text"' in html
    if value and not field.endswith("_id"):
        assert f'value="{value}"' in html
    assert saved_lines(o.id) == []
    assert fresh(o.id).revenue == Decimal("6200.00")


def test_bad_edit_of_a_line_keeps_the_row_a_form(client: FlaskClient, deal: dict[str, Any]) -> None:
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    add_line(client, o.id, token, revenue="100.00")
    line = saved_lines(o.id)[0]
    response = client.post(
        _url(o, f"/lines/{line.id}"),
        headers=htmx(token),
        data=line_data(fresh(o.id).version, "edit", kind="recurring", revenue="100.00", months=0),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<tr id="line-{line.id}" class="row-editing">' in html
    assert error_of(html, "edit-months") == "The number of months must be from 1 to 600."
    assert saved_lines(o.id)[0].recurring is False


def test_line_change_on_a_stale_version_is_refused(
    client: FlaskClient, deal: dict[str, Any]
) -> None:
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    opened_version = o.version
    o.source = "Someone else"
    db.session.commit()
    response = client.post(
        _url(o, "/lines"),
        headers=htmx(token),
        data=line_data(opened_version, description="Mine", revenue="10.00"),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert STALE in html
    assert 'value="Mine"' in html  # the person's new line is kept to send again
    assert saved_lines(o.id) == []


def test_removing_a_line_without_js_asks_first(client: FlaskClient, deal: dict[str, Any]) -> None:
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    add_line(client, o.id, token, description="Cabling", revenue="800.00")
    line = saved_lines(o.id)[0]
    page = client.get(_url(o)).get_data(as_text=True)
    assert 'hx-confirm="Remove the line “Cabling”? Revenue and cost are recomputed."' in page
    confirm = client.get(_url(o, f"?remove={line.id}")).get_data(as_text=True)
    assert f'<tr id="line-{line.id}" class="row-confirm">' in confirm
    assert f'action="/opportunities/{o.id}/lines/{line.id}/remove"' in confirm
    response = client.post(
        _url(o, f"/lines/{line.id}/remove"),
        data={"version": str(fresh(o.id).version), "csrf_token": token},
    )
    assert response.status_code == 302
    assert saved_lines(o.id) == []
    assert fresh(o.id).revenue == Decimal("0.00")


# ---------------------------------------------------------------- team and extra contacts


def test_team_members_are_added_and_removed(
    client: FlaskClient, deal: dict[str, Any], make_member
) -> None:
    o: Opportunity = deal["opportunity"]
    manny = make_member(name="Manny Martinez")
    token = page_token(client, _url(o))
    version = o.version
    html = client.post(
        _url(o, "/team"),
        headers=htmx(token),
        data={"team-member_id": manny.id, "team-role": "Network engineer"},
    ).get_data(as_text=True)
    assert html.lstrip().startswith('<section class="panel" id="opportunity-team"')
    assert "Manny Martinez" in html and "Network engineer" in html

    duplicate = client.post(
        _url(o, "/team"), headers=htmx(token), data={"team-member_id": manny.id, "team-role": "x"}
    )
    assert duplicate.status_code == 200
    assert error_of(duplicate.get_data(as_text=True), "team-member_id") == (
        "Manny Martinez is already on this opportunity&#39;s team."
    )
    unknown = client.post(
        _url(o, "/team"), headers=htmx(token), data={"team-member_id": "99999", "team-role": ""}
    )
    assert error_of(unknown.get_data(as_text=True), "team-member_id") == (
        "Choose an active member of the team."
    )
    rows = db.session.scalars(select(OpportunityTeamMember)).all()
    assert [(r.member_id, r.role) for r in rows] == [(manny.id, "Network engineer")]
    # The team hangs off the opportunity: open forms of other sections stay valid.
    assert fresh(o.id).version == version

    html = client.post(_url(o, f"/team/{manny.id}/remove"), headers=htmx(token)).get_data(
        as_text=True
    )
    assert "Manny Martinez" not in html.split('<form method="post" action="/opportunities/')[0]
    assert db.session.scalar(select(func.count()).select_from(OpportunityTeamMember)) == 0


def test_a_team_member_may_change_the_opportunity(
    client: FlaskClient, make_opportunity, signed_in
) -> None:
    me = signed_in(Role.REP)
    o = make_opportunity()
    db.session.add(OpportunityTeamMember(opportunity_id=o.id, member_id=me.id, role="Helper"))
    db.session.commit()
    token = page_token(client, _url(o))
    response = client.post(
        _url(o, "/notes"), headers=htmx(token), data={"note-body": "Helping out"}
    )
    assert response.status_code == 200
    assert "Helping out" in response.get_data(as_text=True)


def test_extra_contacts_are_added_and_removed(
    client: FlaskClient, deal: dict[str, Any], make_contact
) -> None:
    o: Opportunity = deal["opportunity"]
    jane = make_contact("Jane", "Doe", company_id=deal["company"].id)
    token = page_token(client, _url(o))
    html = client.post(
        _url(o, "/contacts"),
        headers=htmx(token),
        data={"extra-contact_id": jane.id, "extra-role": "Decision maker"},
    ).get_data(as_text=True)
    assert html.lstrip().startswith('<section class="panel" id="opportunity-contacts"')
    assert "Jane Doe" in html and "Decision maker" in html
    again = client.post(
        _url(o, "/contacts"), headers=htmx(token), data={"extra-contact_id": jane.id}
    ).get_data(as_text=True)
    assert error_of(again, "extra-contact_id") == "Jane Doe is already listed here."
    main = client.post(
        _url(o, "/contacts"), headers=htmx(token), data={"extra-contact_id": deal["shane"].id}
    ).get_data(as_text=True)
    assert error_of(main, "extra-contact_id") == "Shane Swanson is already the main contact."
    assert db.session.scalar(select(func.count()).select_from(OpportunityContact)) == 1

    client.post(_url(o, f"/contacts/{jane.id}/remove"), headers=htmx(token))
    assert db.session.scalar(select(func.count()).select_from(OpportunityContact)) == 0


# ---------------------------------------------------------------- notes


def test_notes_are_appended_newest_first_and_stamped(
    client: FlaskClient, deal: dict[str, Any]
) -> None:
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    db.session.add(
        OpportunityNote(
            opportunity_id=o.id,
            author_id=deal["me"].id,
            created_at=datetime(2013, 12, 5, 22, 18, tzinfo=UTC),
            body="Meeting scheduled with Jason.",
        )
    )
    db.session.commit()
    html = client.post(
        _url(o, "/notes"),
        headers=htmx(token),
        data={"note-body": "  Sent the proposal.\nCall Friday. "},
    ).get_data(as_text=True)
    assert html.lstrip().startswith('<section class="panel" id="opportunity-notes"')
    assert html.index("Sent the proposal.") < html.index("Meeting scheduled with Jason.")
    # Who and when, in the team's time zone: 22:18 UTC is 2:18 pm in Los Angeles.
    assert "<strong>Cory Ferguson</strong>" in html
    assert "Thu 2013-12-05 2:18 pm" in html
    notes = db.session.scalars(select(OpportunityNote).order_by(OpportunityNote.id)).all()
    assert [n.body for n in notes] == [
        "Meeting scheduled with Jason.",
        "Sent the proposal.\nCall Friday.",
    ]
    assert notes[1].author_id == deal["me"].id

    empty = client.post(_url(o, "/notes"), headers=htmx(token), data={"note-body": "   "})
    assert empty.status_code == 200
    assert error_of(empty.get_data(as_text=True), "note-body") == "Write the note first."
    assert db.session.scalar(select(func.count()).select_from(OpportunityNote)) == 2
    # No way to edit or remove a note.
    assert client.post(_url(o, f"/notes/{notes[0].id}"), headers=htmx(token)).status_code in (
        404,
        405,
    )


# ---------------------------------------------------------------- rights


def test_another_rep_may_look_but_not_change(
    client: FlaskClient, make_opportunity, make_member, signed_in, make_contact
) -> None:
    owner = make_member(name="Cory Ferguson")
    o = make_opportunity(account_manager_id=owner.id)
    db.session.add(ForecastLine(opportunity_id=o.id, revenue=Decimal("10.00"), position=1))
    db.session.commit()
    line_id = db.session.scalars(select(ForecastLine.id)).one()
    contact = make_contact()
    signed_in(Role.REP, name="Manny Martinez")
    page = client.get(_url(o))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Edit</a>" not in html and "Add line" not in html and "Add note" not in html
    token = page_token(client, _url(o))
    before = fresh(o.id)
    version, name = before.version, before.name
    attempts = [
        ("get", _url(o, "/fields/edit"), {}),
        ("get", _url(o, f"/lines/{line_id}/edit"), {}),
        ("post", _url(o, "/fields"), fields_data(before, name="Hijacked")),
        ("post", _url(o, "/lines"), line_data(version, revenue="1.00")),
        ("post", _url(o, f"/lines/{line_id}"), line_data(version, "edit", revenue="1.00")),
        ("post", _url(o, f"/lines/{line_id}/remove"), {"version": str(version)}),
        ("post", _url(o, "/team"), {"team-member_id": str(owner.id)}),
        ("post", _url(o, "/contacts"), {"extra-contact_id": str(contact.id)}),
        ("post", _url(o, "/notes"), {"note-body": "Sneaky"}),
    ]
    for method, url, data in attempts:
        response = getattr(client, method)(url, headers=htmx(token), data=data)
        assert response.status_code == 403, url
    after = fresh(o.id)
    assert (after.name, after.version, after.revenue) == (name, version, before.revenue)
    assert len(saved_lines(o.id)) == 1 and saved_lines(o.id)[0].revenue == Decimal("10.00")
    assert db.session.scalar(select(func.count()).select_from(OpportunityNote)) == 0
    assert db.session.scalar(select(func.count()).select_from(OpportunityTeamMember)) == 0


def test_a_manager_may_change_any_opportunity(
    client: FlaskClient, make_opportunity, signed_in
) -> None:
    signed_in(Role.MANAGER)
    o = make_opportunity()
    token = page_token(client, _url(o))
    response = client.post(_url(o, "/fields"), headers=htmx(token), data=fields_data(o, name="Ok"))
    assert response.status_code == 200
    assert fresh(o.id).name == "Ok"


def test_changes_need_the_csrf_token(client: FlaskClient, deal: dict[str, Any]) -> None:
    o: Opportunity = deal["opportunity"]
    response = client.post(
        _url(o, "/fields"), headers={"HX-Request": "true"}, data=fields_data(o, name="Forged")
    )
    assert response.status_code == 400
    assert fresh(o.id).name == o.name


# ---------------------------------------------------------------- stalled list


def test_stalled_list_by_account_manager(
    client: FlaskClient, signed_in, make_member, make_opportunity, make_activity
) -> None:
    cory = make_member(name="Cory Ferguson")
    manny = make_member(name="Manny Martinez")
    today = local_today(LA)
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    stalled_cory = make_opportunity(
        name="Cory stalled", account_manager_id=cory.id, stage_entered_at=ten_days_ago
    )
    moving = make_opportunity(name="Cory moving", account_manager_id=cory.id)
    make_activity(cory, due_on=today + timedelta(days=1), opportunity_id=moving.id)
    overdue_only = make_opportunity(name="Manny overdue only", account_manager_id=manny.id)
    make_activity(manny, due_on=today - timedelta(days=2), opportunity_id=overdue_only.id)
    make_opportunity(name="Won deal", stage_name="Won", account_manager_id=manny.id)
    make_opportunity(name="Nobody's", account_manager_id=None)

    signed_in(Role.MANAGER)
    html = client.get("/opportunities/stalled").get_data(as_text=True)
    assert 'id="stalled-total">3<' in html
    cory_section = html[
        html.index(f'id="stalled-{cory.id}"') : html.index(f'id="stalled-{manny.id}"')
    ]
    assert "Cory stalled" in cory_section and "Cory moving" not in cory_section
    row = re.search(rf'id="stalled-opportunity-{stalled_cory.id}">(.*?)</tr>', cory_section, re.S)
    assert row and re.search(r'days-in-stage">(\d+)<', row.group(1)).group(1) in ("9", "10", "11")
    manny_section = html[
        html.index(f'id="stalled-{manny.id}"') : html.index('id="stalled-unassigned"')
    ]
    assert "Manny overdue only" in manny_section and "Won deal" not in html
    assert "Nobody&#39;s" in html[html.index('id="stalled-unassigned"') :]
    assert html.index("Cory Ferguson") < html.index("Manny Martinez")


def test_a_rep_sees_only_their_own_stalled(
    client: FlaskClient, signed_in, make_member, make_opportunity
) -> None:
    other = make_member(name="Cory Ferguson")
    make_opportunity(name="Not mine", account_manager_id=other.id)
    me = signed_in(Role.REP, name="Manny Martinez")
    make_opportunity(name="Mine and stalled", account_manager_id=me.id)
    response = client.get("/opportunities/stalled")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Mine and stalled" in html and "Not mine" not in html
    assert 'id="stalled-total">1<' in html


# ---------------------------------------------------------------- queries


def test_page_query_count_does_not_grow(
    client: FlaskClient, deal: dict[str, Any], make_member, make_contact, make_activity, queries
) -> None:
    o: Opportunity = deal["opportunity"]
    me: Member = deal["me"]
    today = local_today(LA)

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            helper = make_member(name=f"Helper {i}")
            contact = make_contact(f"Person{i}", "X", company_id=deal["company"].id)
            db.session.add_all(
                [
                    ForecastLine(
                        opportunity_id=o.id,
                        description=f"Line {i}",
                        position=i,
                        revenue=Decimal("100.00"),
                        cost=Decimal("10.00"),
                    ),
                    OpportunityNote(opportunity_id=o.id, author_id=helper.id, body=f"Note {i}"),
                    OpportunityTeamMember(opportunity_id=o.id, member_id=helper.id, role="R"),
                    OpportunityContact(opportunity_id=o.id, contact_id=contact.id, role="C"),
                    StageChange(
                        opportunity_id=o.id,
                        to_stage_id=stage("Discovery").id,
                        changed_by_id=helper.id,
                    ),
                ]
            )
            db.session.commit()
            make_activity(
                helper, subject=f"Open {i}", due_on=today + timedelta(days=i), opportunity_id=o.id
            )
            make_activity(helper, subject=f"Done {i}", closed=True, opportunity_id=o.id)

    def count() -> int:
        with queries() as counted:
            response = client.get(_url(o))
        assert response.status_code == 200
        return counted.count

    add(1, 1)
    small = count()
    add(6, 2)
    large = count()
    assert "Line 7" in client.get(_url(o)).get_data(as_text=True)
    assert large == small
    assert me.id  # signed in as the account manager: the edit forms are built too


def test_status_shown_for_a_won_opportunity(
    client: FlaskClient, signed_in, make_opportunity
) -> None:
    me = signed_in(Role.REP)
    o = make_opportunity(
        stage_name="Won",
        account_manager_id=me.id,
        won_amount=Decimal("6200.00"),
    )
    assert o.status_id == status("Won").id
    html = client.get(_url(o)).get_data(as_text=True)
    assert 'id="opportunity-status">Won<' in html
    assert 'id="field-won-amount">6,200.00' in html
    assert 'id="stalled-notice"' not in html


def test_without_js_a_line_is_edited_on_the_page(client: FlaskClient, deal: dict[str, Any]) -> None:
    o: Opportunity = deal["opportunity"]
    token = page_token(client, _url(o))
    add_line(client, o.id, token, description="Cabling", revenue="800.00")
    line = saved_lines(o.id)[0]
    html = client.get(_url(o, f"?edit=line-{line.id}")).get_data(as_text=True)
    assert f'<tr id="line-{line.id}" class="row-editing">' in html
    assert f'action="/opportunities/{o.id}/lines/{line.id}"' in html
    response = client.post(
        _url(o, f"/lines/{line.id}"),
        data={
            **line_data(fresh(o.id).version, "edit", description="Cabling", revenue="900.00"),
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("#opportunity-lines")
    assert fresh(o.id).revenue == Decimal("900.00")


def test_without_js_team_and_notes_redirect_back(
    client: FlaskClient, deal: dict[str, Any], make_member
) -> None:
    o: Opportunity = deal["opportunity"]
    manny = make_member(name="Manny Martinez")
    token = page_token(client, _url(o))
    team = client.post(
        _url(o, "/team"), data={"team-member_id": manny.id, "team-role": "", "csrf_token": token}
    )
    assert team.status_code == 302 and team.headers["Location"].endswith("#opportunity-team")
    note = client.post(_url(o, "/notes"), data={"note-body": "", "csrf_token": token})
    html = note.get_data(as_text=True)
    assert note.status_code == 200 and "<html" in html
    assert error_of(html, "note-body") == "Write the note first."
    assert "Manny Martinez" in html[html.index('id="opportunity-team"') :]
