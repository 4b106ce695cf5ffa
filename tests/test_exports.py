"""Exports of the list pages: each holds exactly what its page shows with the same filters
and rights (every row, not one page), amounts as numbers, dates ISO, no formula runs; CSV
streamed, XLSX read back with openpyxl; a constant number of queries."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import Campaign, CampaignType, Member, Role
from crmlite.services import quotas
from crmlite.services.pagination import PER_PAGE
from crmlite.services.parsing import guarded
from crmlite.services.team import local_today
from tests.conftest import page_token

LA = ZoneInfo("America/Los_Angeles")


def csv_rows(client: FlaskClient, url: str) -> list[dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.is_streamed
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads it as UTF-8
    return list(csv.DictReader(io.StringIO(text[1:])))


def xlsx_rows(client: FlaskClient, url: str) -> tuple[list[str], list[list[Any]], Any]:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert response.mimetype.endswith("spreadsheetml.sheet")
    workbook = load_workbook(io.BytesIO(response.data))
    response.close()
    sheet = workbook.worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    return [str(title) for title in rows[0]], rows[1:], sheet


# ---------------------------------------------------------------- the board


@pytest.fixture()
def deals(
    make_opportunity: Callable[..., Any], make_company: Callable[..., Any], make_member: Any
) -> dict[str, Any]:
    manny = make_member(name="Manny Martinez")
    acme = make_company(name="Acme Dental")
    now = datetime.now(UTC)
    return {
        "manny": manny,
        "hot": make_opportunity(
            name="Hot deal",
            rating="Hot",
            revenue="1234.50",
            cost=Decimal("234.50"),
            company_id=acme.id,
            expected_close_on=date(2026, 11, 30),
        ),
        "cold": make_opportunity(name="Cold deal", rating="Cold", account_manager_id=manny.id),
        "won": make_opportunity(
            name="Won now", stage_name="Won", closed_at=now, won_amount=Decimal("500.00")
        ),
        "old": make_opportunity(
            name="Won long ago", stage_name="Won", closed_at=now - timedelta(days=200)
        ),
    }


def test_the_board_export_holds_what_the_board_shows(
    client: FlaskClient, signed_in: Callable[..., Member], deals: dict[str, Any]
) -> None:
    signed_in(Role.REP)  # everyone reads the board; a rep's export is the same board
    rows = csv_rows(client, "/board/export.csv")
    assert {r["Name"] for r in rows} == {"Hot deal", "Cold deal", "Won now"}  # as the board
    hot = next(r for r in rows if r["Name"] == "Hot deal")
    assert hot["Revenue"] == "1234.50" and hot["Cost"] == "234.50" and hot["Margin"] == "1000.00"
    assert hot["Expected close"] == "2026-11-30"
    assert hot["Company"] == "Acme Dental" and hot["Stage"] == "Prospect"
    assert hot["Next step"] == "stalled" and hot["Rating"] == "Hot"
    won = next(r for r in rows if r["Name"] == "Won now")
    assert won["Won amount"] == "500.00"
    assert datetime.fromisoformat(won["Closed at"]).utcoffset() is not None  # ISO, with zone
    assert list(rows[0].keys())[:3] == ["Id", "Name", "Stage"]


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("rating=Hot", {"Hot deal"}),
        ("q=acme", {"Hot deal"}),
        ("account_manager_id={manny}", {"Cold deal"}),
        ("stalled_only=1", {"Hot deal", "Cold deal"}),
    ],
)
def test_the_board_export_keeps_the_filters(
    client: FlaskClient,
    signed_in: Callable[..., Member],
    deals: dict[str, Any],
    query: str,
    shown: set[str],
) -> None:
    signed_in(Role.MANAGER)
    url = "/board/export.csv?" + query.format(manny=deals["manny"].id)
    assert {r["Name"] for r in csv_rows(client, url)} == shown


def test_the_board_export_as_xlsx_has_numbers_and_dates(
    client: FlaskClient, signed_in: Callable[..., Member], deals: dict[str, Any]
) -> None:
    signed_in(Role.MANAGER)
    header, rows, sheet = xlsx_rows(client, "/board/export.xlsx?rating=Hot")
    assert header[:3] == ["Id", "Name", "Stage"]
    assert len(rows) == 1
    hot = dict(zip(header, rows[0], strict=True))
    assert hot["Name"] == "Hot deal"
    assert hot["Revenue"] == 1234.5 and isinstance(hot["Revenue"], float | int)
    assert hot["Margin"] == 1000
    assert hot["Expected close"] == datetime(2026, 11, 30)  # a date cell, not text
    assert sheet["I2"].number_format == "#,##0.00"
    assert hot["Probability %"] == 10


def test_the_board_links_to_its_exports_with_its_filters(
    client: FlaskClient, signed_in: Callable[..., Member], deals: dict[str, Any]
) -> None:
    signed_in(Role.MANAGER)
    html = client.get("/board/?rating=Hot").get_data(as_text=True)
    assert 'href="/board/export.csv?rating=Hot"' in html
    assert 'href="/board/export.xlsx?rating=Hot"' in html


def test_filtering_the_board_in_place_brings_its_export_links_along(
    client: FlaskClient, signed_in: Callable[..., Member], deals: dict[str, Any]
) -> None:
    signed_in(Role.MANAGER)
    headers = {"HX-Request": "true", "HX-Target": "board"}
    html = client.get("/board/?rating=Hot", headers=headers).get_data(as_text=True)
    links = html[html.index('id="board-exports"') :]
    assert 'hx-swap-oob="true"' in links[:80]
    assert 'href="/board/export.xlsx?rating=Hot"' in links


def test_an_unknown_format_is_not_found(
    client: FlaskClient, signed_in: Callable[..., Member]
) -> None:
    signed_in(Role.MANAGER)
    assert client.get("/board/export.pdf").status_code == 404
    assert client.get("/companies/export.json").status_code == 404


def test_the_board_export_reads_in_a_constant_number_of_queries(
    client: FlaskClient,
    signed_in: Callable[..., Member],
    make_opportunity: Callable[..., Any],
    make_company: Callable[..., Any],
    make_activity: Callable[..., Any],
    queries: Callable[[], Any],
) -> None:
    me = signed_in(Role.MANAGER)

    def add(n: int) -> None:
        for i in range(n):
            company = make_company(name=f"Company {i} {n}")
            deal = make_opportunity(
                name=f"Deal {i} {n}", company_id=company.id, account_manager_id=me.id
            )
            make_activity(me, f"Step {i}", opportunity_id=deal.id)

    add(3)
    with queries() as few:
        assert len(csv_rows(client, "/board/export.csv")) == 3
    add(40)
    with queries() as many:
        assert len(csv_rows(client, "/board/export.csv")) == 43
    assert many.count == few.count, many.statements
    with queries() as workbook:
        assert len(xlsx_rows(client, "/board/export.xlsx")[1]) == 43
    assert workbook.count == few.count


# ---------------------------------------------------------------- formula injection


def test_a_formula_in_a_text_cell_is_never_run(
    client: FlaskClient, signed_in: Callable[..., Member], make_company: Callable[..., Any]
) -> None:
    signed_in(Role.MANAGER)
    make_company(name='=HYPERLINK("http://evil.example","Click")', phone="+1 555 0100")
    make_company(name="@SUM(A1)", industry="-2+3")
    rows = {r["Id"]: r for r in csv_rows(client, "/companies/export.csv")}
    names = sorted(r["Name"] for r in rows.values())
    assert names == ['\'=HYPERLINK("http://evil.example","Click")', "'@SUM(A1)"]
    assert {r["Phone"] for r in rows.values()} == {"'+1 555 0100", ""}
    assert "'-2+3" in {r["Industry"] for r in rows.values()}

    _, cells, sheet = xlsx_rows(client, "/companies/export.xlsx")
    by_name = {row[1]: row for row in cells}
    assert '=HYPERLINK("http://evil.example","Click")' in by_name  # as typed, as text
    for row in sheet.iter_rows(min_row=2):
        assert row[1].data_type == "s"


def test_the_guard_leaves_ordinary_text_alone() -> None:
    assert guarded("Acme") == "Acme"
    assert guarded("") == ""
    assert guarded("=1+1") == "'=1+1"
    assert guarded("\t=1") == "'\t=1"


# ---------------------------------------------------------------- companies and contacts


def test_the_companies_export_holds_every_match_not_one_page(
    client: FlaskClient,
    signed_in: Callable[..., Member],
    make_company: Callable[..., Any],
    make_opportunity: Callable[..., Any],
) -> None:
    signed_in(Role.REP)
    for i in range(PER_PAGE + 5):
        make_company(name=f"Dental {i:03d}")
    make_company(name="Other Plumbing")
    first = db.session.scalars(
        select(Member).order_by(Member.id)
    ).first()  # any member: an account manager
    dental = make_company(name="Dental Main", account_manager_id=first.id if first else None)
    make_opportunity(name="Open one", company_id=dental.id)
    make_opportunity(name="Open two", company_id=dental.id)
    make_opportunity(name="Closed", company_id=dental.id, stage_name="Lost")
    rows = csv_rows(client, "/companies/export.csv?q=dental")
    assert len(rows) == PER_PAGE + 6
    assert "Other Plumbing" not in {r["Name"] for r in rows}
    assert [r["Name"] for r in rows[:2]] == ["Dental 000", "Dental 001"]  # the list's order
    main = next(r for r in rows if r["Name"] == "Dental Main")
    assert main["Open opportunities"] == "2"
    html = client.get("/companies?q=dental").get_data(as_text=True)
    assert 'href="/companies/export.csv?q=dental"' in html


def test_the_contacts_export_keeps_the_search(
    client: FlaskClient,
    signed_in: Callable[..., Member],
    make_contact: Callable[..., Any],
    make_company: Callable[..., Any],
) -> None:
    signed_in(Role.REP)
    chartec = make_company(name="CharTec")
    make_contact("Jason", "Rivas", email="jason@chartec.example", company_id=chartec.id)
    make_contact("Shane", "Swanson", email="shane@tows.example")
    rows = csv_rows(client, "/contacts/export.csv?q=chartec")
    assert [(r["First name"], r["Company"], r["E-mail"]) for r in rows] == [
        ("Jason", "CharTec", "jason@chartec.example")
    ]
    header, cells, _ = xlsx_rows(client, "/contacts/export.xlsx")
    assert header[:3] == ["Id", "First name", "Last name"]
    assert sorted(row[1] for row in cells) == ["Jason", "Shane"]


# ---------------------------------------------------------------- activities


def test_a_reps_activity_export_holds_only_their_list(
    client: FlaskClient,
    signed_in: Callable[..., Member],
    make_member: Callable[..., Member],
    make_activity: Callable[..., Any],
) -> None:
    rep = signed_in(Role.REP)
    other = make_member(name="Someone Else")
    today = local_today(LA)
    start = datetime(today.year, today.month, today.day, 18, tzinfo=UTC)
    make_activity(rep, "My call", due_on=today, starts_at=start, ends_at=start + timedelta(hours=1))
    make_activity(rep, "My old call", closed=True)
    make_activity(other, "Their call")
    rows = csv_rows(client, "/activities/export.csv")
    assert [r["Subject"] for r in rows] == ["My call"]  # open ones, the list's default
    assert rows[0]["Due"] == today.isoformat() and rows[0]["Type code"] == "SE"
    assert datetime.fromisoformat(rows[0]["Starts at"]) == start
    done = csv_rows(client, "/activities/export.csv?when=done")
    assert [(r["Subject"], r["Points earned"]) for r in done] == [("My old call", "1")]
    # Another member's list, or the team's, is not the rep's to export.
    assert client.get(f"/activities/export.csv?member_id={other.id}").status_code == 403
    team = csv_rows(client, "/activities/export.csv?member_id=team")
    assert [r["Subject"] for r in team] == ["My call"]


def test_a_manager_exports_the_teams_activities(
    client: FlaskClient,
    signed_in: Callable[..., Member],
    make_member: Callable[..., Member],
    make_activity: Callable[..., Any],
) -> None:
    signed_in(Role.MANAGER)
    rep = make_member(name="Rep One")
    other = make_member(name="Rep Two")
    make_activity(rep, "One's call")
    make_activity(other, "Two's call")
    team = csv_rows(client, "/activities/export.csv?member_id=team&when=all")
    assert {(r["Subject"], r["Assigned to"]) for r in team} == {
        ("One's call", "Rep One"),
        ("Two's call", "Rep Two"),
    }
    one = csv_rows(client, f"/activities/export.csv?member_id={rep.id}")
    assert [r["Subject"] for r in one] == ["One's call"]
    html = client.get("/activities/?member_id=team").get_data(as_text=True)
    assert 'href="/activities/export.csv?member_id=team&amp;when=open"' in html


# ---------------------------------------------------------------- campaigns


def test_the_campaign_export_keeps_the_analysis_filters(
    client: FlaskClient, signed_in: Callable[..., Member], make_opportunity: Callable[..., Any]
) -> None:
    signed_in(Role.REP)
    kinds = list(db.session.scalars(select(CampaignType).order_by(CampaignType.id)))
    referral = Campaign(name="Referral - 2026", type_id=kinds[0].id, actual_cost=Decimal("100.00"))
    event = Campaign(name="Event - 2026", type_id=kinds[1].id)
    db.session.add_all([referral, event])
    db.session.commit()
    make_opportunity(name="From referral", campaign_id=referral.id, revenue="2500.00")
    rows = csv_rows(client, f"/campaigns/export.csv?type_id={kinds[0].id}")
    assert [r["Campaign"] for r in rows] == ["Referral - 2026"]
    assert rows[0]["Actual cost"] == "100.00" and rows[0]["Pipeline"] == "2500.00"
    assert rows[0]["Opportunities"] == "1" and rows[0]["Type"] == kinds[0].name
    everything = csv_rows(client, "/campaigns/export.csv?sort=name")
    assert [r["Campaign"] for r in everything] == ["Event - 2026", "Referral - 2026"]
    html = client.get(f"/campaigns/?type_id={kinds[0].id}").get_data(as_text=True)
    assert f'href="/campaigns/export.csv?type_id={kinds[0].id}&amp;sort=roi"' in html


# ---------------------------------------------------------------- the dashboard's tables


def test_a_reps_dashboard_export_holds_only_their_row(
    client: FlaskClient,
    signed_in: Callable[..., Member],
    make_member: Callable[..., Member],
    make_opportunity: Callable[..., Any],
) -> None:
    rep = signed_in(Role.REP, name="Manny Martinez")
    other = make_member(name="Cory Ferguson")
    now = datetime.now(UTC)
    for member, amount in ((rep, "700.00"), (other, "900.00")):
        make_opportunity(
            name=f"Won by {member.name}",
            stage_name="Won",
            closed_at=now,
            won_amount=Decimal(amount),
            revenue=amount,
            account_manager_id=member.id,
        )
    today = local_today(LA)
    # Monthly totals count members with a revenue quota (issue #18): both have one.
    for member in (rep, other):
        quotas.same_every_month(member, today.year, Decimal("1000.00"))
    db.session.commit()
    quarter = (today.month - 1) // 3 + 1
    url = f"/dashboard/export/members.csv?year={today.year}&quarter={quarter}"
    rows = csv_rows(client, url)
    assert {r["Member"] for r in rows} == {"Manny Martinez", "Monthly totals"}
    this_month = f"{today.year}-{today.month:02d}"
    mine = next(r for r in rows if r["Member"] == "Manny Martinez" and r["Month"] == this_month)
    assert mine["Won"] == "700.00"
    assert client.get(f"/dashboard/export/locations.csv?year={today.year}").status_code == 403

    client.post("/sign-out", data={"csrf_token": page_token(client, "/")})
    signed_in(Role.MANAGER)
    rows = csv_rows(client, url)
    assert {"Manny Martinez", "Cory Ferguson", "Monthly totals"} <= {r["Member"] for r in rows}
    totals = next(r for r in rows if r["Member"] == "Monthly totals" and r["Month"] == this_month)
    assert totals["Won"] == "1600.00"
    locations = csv_rows(client, url.replace("members", "locations"))
    assert locations[-1]["Group"] == "Totals" and locations[-1]["Total"] == "1600.00"
    # Two blocks, locations then business units, each adding up to the totals.
    for group in ("Location", "Business unit"):
        block = [Decimal(r["Total"]) for r in locations if r["Group"] == group]
        assert sum(block) == Decimal("1600.00")
    year_url = url.replace("members", "locations") + "&period=year"
    whole_year = csv_rows(client, year_url)
    assert "Dec" in whole_year[0] and whole_year[-1]["Total"] == "1600.00"
    header, _, _ = xlsx_rows(client, url.replace(".csv", ".xlsx"))
    assert header == ["Member", "Month", "Won", "Quota", "%", "YTD won", "YTD quota", "YTD %"]


def test_the_dashboard_export_refuses_a_bad_choice(
    client: FlaskClient, signed_in: Callable[..., Member]
) -> None:
    signed_in(Role.MANAGER)
    response = client.get("/dashboard/export/members.csv?quarter=9")
    assert response.status_code == 400
    assert "quarter" in response.get_data(as_text=True).lower()
    assert client.get("/dashboard/export/other.csv").status_code == 404
    html = client.get("/dashboard/?year=2026&quarter=4").get_data(as_text=True)
    assert "/dashboard/export/members.csv?year=2026&amp;quarter=4" in html


def test_the_forecast_and_hygiene_tables_export_as_the_page_shows_them(
    client: FlaskClient,
    signed_in: Callable[..., Member],
    make_member: Callable[..., Member],
    make_opportunity: Callable[..., Any],
) -> None:
    rep = signed_in(Role.REP, name="Manny Martinez")
    other = make_member(name="Cory Ferguson")
    today = local_today(LA)
    quotas.same_every_month(rep, today.year, Decimal("5000.00"))
    db.session.commit()
    for member, amount, name in ((rep, "1200.00", "Mine"), (other, "900.00", "Theirs")):
        make_opportunity(
            name=name,
            revenue=amount,
            probability=50,
            expected_close_on=today,
            account_manager_id=member.id,
        )
    make_opportunity(name="Nothing yet", revenue="0", account_manager_id=rep.id)

    forecast = csv_rows(client, "/dashboard/export/forecast.csv")
    this_month = f"{today.year}-{today.month:02d}"
    mine = next(r for r in forecast if r["Member"] == "Manny Martinez" and r["Month"] == this_month)
    assert (mine["Pipeline"], mine["Weighted"], mine["Quota"], mine["Gap"]) == (
        "1200.00",
        "600.00",
        "5000.00",
        "5000.00",
    )
    assert "Cory Ferguson" not in {r["Member"] for r in forecast}  # a rep sees their own
    hygiene = csv_rows(client, "/dashboard/export/hygiene.csv")
    assert hygiene == [
        {
            "Member": "Manny Martinez",
            "Stalled": "2",
            "Close date in the past": "0",
            "Zero revenue": "1",
        }
    ]

    client.post("/sign-out", data={"csrf_token": page_token(client, "/")})
    signed_in(Role.MANAGER)
    names = {r["Member"] for r in csv_rows(client, "/dashboard/export/hygiene.csv")}
    assert names == {"Manny Martinez", "Cory Ferguson"}
    totals = [
        r for r in csv_rows(client, "/dashboard/export/forecast.csv") if r["Member"] == "Totals"
    ]
    assert next(r for r in totals if r["Month"] == this_month)["Pipeline"] == "2100.00"
    html = client.get("/dashboard/").get_data(as_text=True)
    assert "/dashboard/export/forecast.csv" in html and "/dashboard/export/hygiene.xlsx" in html


# ---------------------------------------------- stalled, and the deals behind a figure


def test_a_reps_stalled_export_holds_their_own(
    client: FlaskClient,
    signed_in: Callable[..., Member],
    make_member: Callable[..., Member],
    make_opportunity: Callable[..., Any],
    make_activity: Callable[..., Any],
) -> None:
    rep = signed_in(Role.REP, name="Manny Martinez")
    other = make_member(name="Cory Ferguson")
    make_opportunity(name="My stalled", account_manager_id=rep.id, revenue="300.00")
    moving = make_opportunity(name="My moving", account_manager_id=rep.id)
    make_activity(rep, "Next step", opportunity_id=moving.id, due_on=date.today() + timedelta(2))
    make_opportunity(name="Their stalled", account_manager_id=other.id)
    rows = csv_rows(client, "/opportunities/stalled.csv")
    assert [(r["Opportunity"], r["Account manager"], r["Revenue"]) for r in rows] == [
        ("My stalled", "Manny Martinez", "300.00")
    ]
    assert 'href="/opportunities/stalled.xlsx"' in client.get("/opportunities/stalled").get_data(
        as_text=True
    )


def test_the_deals_behind_a_figure_export_as_the_page_lists_them(
    client: FlaskClient,
    signed_in: Callable[..., Member],
    make_member: Callable[..., Member],
    make_opportunity: Callable[..., Any],
) -> None:
    rep = signed_in(Role.REP, name="Manny Martinez")
    other = make_member(name="Cory Ferguson")
    now = datetime.now(UTC)
    for member, amount in ((rep, "700.00"), (other, "900.00")):
        make_opportunity(
            name=f"Won by {member.name}",
            stage_name="Won",
            closed_at=now,
            won_amount=Decimal(amount),
            revenue=amount,
            account_manager_id=member.id,
        )
    today = local_today(LA)
    query = f"year={today.year}&month={today.month}"
    page = client.get(f"/dashboard/won?{query}").get_data(as_text=True)
    assert f'href="/dashboard/won.csv?year={today.year}&amp;month={today.month}"' in page
    rows = csv_rows(client, f"/dashboard/won.csv?{query}")
    assert [(r["Opportunity"], r["Counts for"]) for r in rows] == [
        ("Won by Manny Martinez", "700.00")
    ]
    assert datetime.fromisoformat(rows[0]["Won at"]).utcoffset() is not None
    assert client.get(f"/dashboard/won.csv?{query}&member_id={other.id}").status_code == 403
    assert client.get(f"/dashboard/won.pdf?{query}").status_code == 404
    header, cells, _ = xlsx_rows(client, "/dashboard/open/zero-revenue.xlsx")
    assert header[:2] == ["Id", "Opportunity"] and cells == []
