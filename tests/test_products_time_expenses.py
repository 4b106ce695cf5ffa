"""Products catalogue, forecast lines from products grouped by category, time and
expenses on an opportunity, the seed's forecast footer, and campaign profit with them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import (
    Campaign,
    CampaignType,
    ExpenseEntry,
    ForecastLine,
    Member,
    Opportunity,
    OpportunityType,
    Role,
    TimeEntry,
)
from crmlite.services import campaigns, time_expenses
from tests.conftest import page_token, status


def htmx(token: str) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRFToken": token}


def product(name: str, category: str, revenue: str, cost: str, recurring: bool = False) -> Any:
    row = OpportunityType(
        name=name,
        category=category,
        default_revenue=Decimal(revenue),
        default_cost=Decimal(cost),
        recurring=recurring,
    )
    db.session.add(row)
    db.session.commit()
    return row


def test_a_manager_adds_edits_and_deletes_a_product_and_a_rep_may_not(
    client: FlaskClient, signed_in: Callable[..., Member]
) -> None:
    signed_in(Role.MANAGER)
    token = page_token(client, "/setup/products/")
    response = client.post(
        "/setup/products/",
        headers=htmx(token),
        data={
            "new-name": "Managed Backup",
            "new-category": "Managed Service",
            "new-default_revenue": "1,200.00",
            "new-default_cost": "300",
            "new-kind": "recurring",
            "new-active": "y",
        },
    )
    assert "Managed Backup added." in response.get_data(as_text=True)
    made = db.session.scalars(select(OpportunityType).filter_by(name="Managed Backup")).one()
    made_id = made.id
    assert (made.category, made.default_revenue, made.default_cost, made.recurring) == (
        "Managed Service",
        Decimal("1200.00"),
        Decimal("300.00"),
        True,
    )
    # A refused amount: message next to the field, what was typed kept, nothing saved.
    response = client.post(
        "/setup/products/",
        headers=htmx(token),
        data={
            "new-name": "Bad",
            "new-category": "Service",
            "new-default_revenue": "-5",
            "new-default_cost": "0",
            "new-kind": "one-off",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The default revenue cannot be negative." in html and 'value="-5"' in html
    assert db.session.scalar(select(OpportunityType).filter_by(name="Bad")) is None
    response = client.post(f"/setup/products/{made_id}/delete", headers=htmx(token))
    assert "Managed Backup deleted." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(OpportunityType, made_id) is None


def test_a_rep_cannot_manage_products(
    client: FlaskClient, signed_in: Callable[..., Member]
) -> None:
    signed_in(Role.REP)
    assert client.get("/setup/products/").status_code == 403


def test_a_line_from_a_product_starts_with_its_defaults_and_lines_group_by_category(
    client: FlaskClient,
    signed_in: Callable[..., Member],
    make_opportunity: Callable[..., Opportunity],
) -> None:
    me = signed_in(Role.REP)
    managed = product("Test Managed Desk", "Managed Service", "500.00", "100.00", True)
    cabling = product("Test Cabling", "Service", "1000.00", "400.00")
    o = make_opportunity(account_manager_id=me.id)
    token = page_token(client, f"/opportunities/{o.id}")
    for chosen, kind in ((managed, "recurring"), (cabling, "one-off")):
        response = client.post(
            f"/opportunities/{o.id}/lines",
            headers=htmx(token),
            data={
                "add-product_id": str(chosen.id),
                "add-kind": kind,
                "add-revenue": "",
                "add-cost": "",
                "add-months": "12" if kind == "recurring" else "1",
                "add-status_id": "0",
                "add-include_in_forecast": "y",
                "version": str(db.session.get(Opportunity, o.id).version),
            },
        )
        assert response.status_code == 200
        db.session.expire_all()
    lines = db.session.scalars(select(ForecastLine).order_by(ForecastLine.id)).all()
    assert [(x.revenue, x.cost) for x in lines] == [
        (Decimal("500.00"), Decimal("100.00")),
        (Decimal("1000.00"), Decimal("400.00")),
    ]
    html = client.get(f"/opportunities/{o.id}").get_data(as_text=True)
    # Service first, then Managed Service, each with its subtotal.
    assert html.index('id="lines-service"') < html.index('id="lines-managed-service"')
    assert "Managed Service subtotal" in html and "6,000.00" in html
    # Choosing a product in the form refills its amounts.
    defaults = client.get(
        f"/opportunities/line-defaults?add-product_id={managed.id}&add-description=Kept"
    ).get_data(as_text=True)
    assert 'value="500.00"' in defaults and 'value="Kept"' in defaults


def test_time_costs_hours_times_rate_and_the_footer_matches_the_seed(
    client: FlaskClient,
    signed_in: Callable[..., Member],
    make_opportunity: Callable[..., Opportunity],
    queries: Callable[[], Any],
) -> None:
    me = signed_in(Role.REP, cost_rate=Decimal("37.50"))
    o = make_opportunity(revenue="6200.00", account_manager_id=me.id)
    page = f"/opportunities/{o.id}"
    html = client.get(page).get_data(as_text=True)
    # The seed's footer: 6,200.00 / 0.00 / 6,200.00 / 100.00, then Time and Expenses 0.00.
    assert "Forecast Total less Time and Expenses" in html
    assert html.count("100.00") >= 2
    token = page_token(client, page)
    client.post(
        f"{page}/costs/time",
        headers=htmx(token),
        data={"time-member_id": str(me.id), "time-worked_on": "2026-11-02", "time-hours": "2"},
    )
    response = client.post(
        f"{page}/costs/expenses",
        headers=htmx(token),
        data={
            "expense-spent_on": "2026-11-03",
            "expense-amount": "24.99",
            "expense-category": "Travel",
            "expense-note": "Gas",
        },
    )
    html = response.get_data(as_text=True)
    entry = db.session.scalars(select(TimeEntry)).one()
    assert (entry.hours, entry.cost) == (Decimal("2.00"), Decimal("75.00"))
    assert 'hx-swap-oob="true"' in html  # the footer follows
    # 6,200.00 − 75.00 − 24.99 = 6,100.01, 98.39 % (6100.01 / 6200 = 98.387…, half up).
    assert "6,100.01" in html and "98.39" in html and "99.99" in html
    # Bad hours: the message next to the field, nothing saved.
    response = client.post(
        f"{page}/costs/time",
        headers=htmx(token),
        data={"time-member_id": str(me.id), "time-worked_on": "2026-11-02", "time-hours": "25"},
    )
    assert "at most 24" in response.get_data(as_text=True)
    assert db.session.scalar(select(db.func.count(TimeEntry.id))) == 1
    # Queries do not grow with entries.
    with queries() as few:
        client.get(page)
    for _ in range(5):
        db.session.add(
            ExpenseEntry(
                opportunity_id=o.id,
                spent_on=date(2026, 11, 4),
                amount=Decimal("1.00"),
                category="Other",
            )
        )
    db.session.commit()
    with queries() as more:
        client.get(page)
    assert more.count == few.count
    # The entries are read once for the costs section and the forecast footer together.
    assert sum("FROM time_entries" in s for s in more.statements) == 1
    assert sum("FROM expense_entries" in s for s in more.statements) == 1


def test_a_rep_not_on_the_deal_cannot_log_time(
    client: FlaskClient,
    signed_in: Callable[..., Member],
    make_member: Callable[..., Member],
    make_opportunity: Callable[..., Opportunity],
) -> None:
    me = signed_in(Role.REP)
    other = make_member()
    o = make_opportunity(account_manager_id=other.id)
    token = page_token(client, f"/opportunities/{o.id}")
    response = client.post(
        f"/opportunities/{o.id}/costs/time",
        headers=htmx(token),
        data={"time-member_id": str(me.id), "time-worked_on": "2026-11-02", "time-hours": "1"},
    )
    assert response.status_code == 403
    assert db.session.scalar(select(db.func.count(TimeEntry.id))) == 0


def test_campaign_gross_profit_and_roi_subtract_time_and_expenses(
    app: Any, make_member: Callable[..., Member], make_opportunity: Callable[..., Opportunity]
) -> None:
    kind = CampaignType(name="Test Referral")
    db.session.add(kind)
    db.session.flush()
    campaign = Campaign(name="Referral - 2026", type_id=kind.id, actual_cost=Decimal("1000.00"))
    db.session.add(campaign)
    db.session.commit()
    won = make_opportunity(revenue="6200.00", campaign_id=campaign.id)
    won.status_id = status("Won").id
    won.won_amount = Decimal("6200.00")
    won.cost = Decimal("200.00")
    open_deal = make_opportunity(revenue="999.00", campaign_id=campaign.id)
    member = make_member()
    for deal in (won, open_deal):
        db.session.add(
            TimeEntry(
                opportunity_id=deal.id,
                member_id=member.id,
                worked_on=date(2026, 11, 2),
                hours=Decimal("2"),
                cost_rate=Decimal("50.00"),
                cost=Decimal("100.00"),
            )
        )
        db.session.add(
            ExpenseEntry(
                opportunity_id=deal.id,
                spent_on=date(2026, 11, 2),
                amount=Decimal("400.00"),
                category="Travel",
            )
        )
    db.session.commit()
    figures = campaigns.figures([campaign.id])[campaign.id]
    # 6,200 − 200 − 100 (time) − 400 (expenses); the open deal's costs do not count.
    assert figures.gross_profit == Decimal("5500.00")
    assert figures.roi == Decimal(450)  # (5,500 − 1,000) ÷ 1,000
    assert time_expenses.time_cost(Decimal("1.25"), Decimal("33.33")) == Decimal("41.66")
