"""Quota setup: per member and month, "same every month", optional margin quotas, the
roll-up to locations and business units, and who may set them."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from html import unescape

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import BusinessUnit, Location, Member, RevenueQuota, Role
from crmlite.services import quotas
from crmlite.services.money import FORMAT_HINT
from tests.conftest import page_token

D = Decimal


def stored(member: Member, year: int) -> dict[int, tuple[Decimal, Decimal | None]]:
    db.session.rollback()  # see what the request committed
    rows = db.session.scalars(
        select(RevenueQuota).where(RevenueQuota.member_id == member.id, RevenueQuota.year == year)
    )
    return {r.month: (r.revenue, r.margin) for r in rows}


# ---------------------------------------------------------------- the rules


def test_same_every_month_then_single_months(make_member: Callable[..., Member]) -> None:
    cory = make_member(name="Cory Ferguson")
    quotas.same_every_month(cory, 2026, D("4000"), D("1500"))
    db.session.commit()
    assert stored(cory, 2026) == {m: (D("4000.00"), D("1500.00")) for m in range(1, 13)}

    # December is higher, August has no quota, margins are dropped for Q1.
    quotas.set_year_quotas(
        cory,
        2026,
        {8: None, 12: D("6000")},
        {1: None, 2: None, 3: None, 8: None, 12: D("2000")},
    )
    db.session.commit()
    year = quotas.member_year_quotas(cory, 2026)
    assert year.revenue(8) is None
    assert year.revenue(12) == D("6000.00") and year.margin(12) == D("2000.00")
    assert year.revenue(1) == D("4000.00") and year.margin(1) is None
    assert year.revenue_total == D("4000") * 10 + D("6000")
    assert year.margin_total == D("1500") * 7 + D("2000")
    # Other years are untouched.
    assert quotas.member_year_quotas(cory, 2025).months == {}


def test_quotas_refuse_what_they_cannot_be(make_member: Callable[..., Member]) -> None:
    cory = make_member()
    with pytest.raises(ValueError, match="negative"):
        quotas.set_year_quotas(cory, 2026, {1: D("-1")})
    with pytest.raises(ValueError, match="1 to 12"):
        quotas.set_year_quotas(cory, 2026, {13: D("1")})
    with pytest.raises(ValueError, match="range"):
        quotas.set_year_quotas(cory, 1999, {1: D("1")})


def test_quotas_roll_up_through_the_members_location_and_business_unit(
    make_member: Callable[..., Member],
) -> None:
    arrc, fresno = Location(name="ARRC"), Location(name="Fresno")
    ms = BusinessUnit(name="MS Sales")
    db.session.add_all([arrc, fresno, ms])
    db.session.commit()
    cory = make_member(name="Cory Ferguson", location_id=arrc.id, business_unit_id=ms.id)
    manny = make_member(name="Manny Martinez", location_id=arrc.id)
    nick = make_member(name="Nick Points", location_id=fresno.id, business_unit_id=ms.id)
    make_member(name="No quota")
    quotas.same_every_month(cory, 2026, D("4000"), D("2000"))
    quotas.set_year_quotas(manny, 2026, {1: D("1000"), 12: D("3000")})
    quotas.set_year_quotas(nick, 2026, {4: D("500")})
    db.session.commit()

    year = quotas.year_quotas(2026)
    assert [mq.member.name for mq in year] == [
        "Cory Ferguson",
        "Manny Martinez",
        "Nick Points",
        "No quota",
    ]
    rows = quotas.roll_up(year)
    shown = [
        (loc.name, loc.quarters, loc.year, [(u.name, u.quarters, u.year) for u in loc.units])
        for loc in rows
    ]
    assert shown == [
        (
            "ARRC",
            [D("13000"), D("12000"), D("12000"), D("15000")],
            D("52000"),
            [
                ("MS Sales", [D("12000")] * 4, D("48000")),
                ("No business unit", [D("1000"), None, None, D("3000")], D("4000")),
            ],
        ),
        (
            "Fresno",
            [None, D("500"), None, None],
            D("500"),
            [("MS Sales", [None, D("500"), None, None], D("500"))],
        ),
    ]
    margins = quotas.roll_up(year, margin=True)
    assert margins[0].year == D("24000") and margins[1].year is None


# ---------------------------------------------------------------- the pages


def test_setup_page_lists_the_year(
    client: FlaskClient, signed_in, make_member: Callable[..., Member]
) -> None:
    signed_in(Role.MANAGER)
    cory = make_member(name="Cory Ferguson")
    quotas.set_year_quotas(cory, 2026, {10: D("4000")}, {10: D("1500")})
    db.session.commit()
    html = client.get("/quotas/?year=2026").get_data(as_text=True)
    row = re.search(rf'id="quota-member-{cory.id}">(.*?)</tr>', html, re.S)
    assert row is not None
    assert "4,000" in row.group(1) and "1,500" in row.group(1)
    assert f"/quotas/2026/members/{cory.id}" in html
    assert 'id="roll-up-revenue"' in html and 'id="roll-up-margin"' in html
    other = client.get("/quotas/?year=2027").get_data(as_text=True)
    assert "4,000" not in re.search(rf'id="quota-member-{cory.id}">(.*?)</tr>', other, re.S)[1]


def test_same_every_month_from_the_page(
    client: FlaskClient, signed_in, make_member: Callable[..., Member]
) -> None:
    signed_in(Role.ADMIN)
    cory = make_member(name="Cory Ferguson")
    url = f"/quotas/2026/members/{cory.id}"
    token = page_token(client, url)
    response = client.post(
        f"{url}/same",
        data={"same-csrf_token": token, "same-revenue": "4000", "same-margin": ""},
    )
    assert response.status_code == 302 and response.headers["Location"] == url
    assert stored(cory, 2026) == {m: (D("4000.00"), None) for m in range(1, 13)}
    page = client.get(url).get_data(as_text=True)
    assert 'name="month-revenue_12"' in page and 'value="4000.00"' in page

    empty = client.post(f"{url}/same", data={"same-csrf_token": token})
    assert empty.status_code == 200
    assert "Enter the monthly revenue quota." in empty.get_data(as_text=True)


def test_month_by_month_from_the_page(
    client: FlaskClient, signed_in, make_member: Callable[..., Member]
) -> None:
    signed_in(Role.MANAGER)
    cory = make_member(name="Cory Ferguson")
    quotas.same_every_month(cory, 2026, D("4000"))
    db.session.commit()
    url = f"/quotas/2026/members/{cory.id}"
    token = page_token(client, url)
    data = {"month-csrf_token": token}
    for month in range(1, 13):
        data[f"month-revenue_{month}"] = "4000.00"
        data[f"month-margin_{month}"] = ""
    data["month-revenue_12"] = "6,000"
    data["month-margin_12"] = "2500.50"
    data["month-revenue_8"] = ""  # no quota in August
    response = client.post(url, data=data)
    assert response.status_code == 302
    assert response.headers["Location"] == "/quotas/?year=2026"
    saved = stored(cory, 2026)
    assert 8 not in saved
    assert saved[12] == (D("6000.00"), D("2500.50"))
    assert saved[1] == (D("4000.00"), None)

    data["month-revenue_3"] = "-5"
    data["month-margin_4"] = "lots"
    refused = client.post(url, data=data)
    assert refused.status_code == 200
    html = unescape(refused.get_data(as_text=True))
    assert html.count("The March revenue quota cannot be negative.") == 1
    assert f"The April margin quota must be {FORMAT_HINT}; “lots” is not." in html
    assert stored(cory, 2026)[3] == (D("4000.00"), None)  # nothing saved


def test_who_may_set_quotas_and_bad_addresses(
    client: FlaskClient, signed_in, make_member: Callable[..., Member]
) -> None:
    cory = make_member(name="Cory Ferguson")
    signed_in(Role.REP)
    assert client.get("/quotas/").status_code == 403
    assert client.get(f"/quotas/2026/members/{cory.id}").status_code == 403


def test_bad_years_and_unknown_members(client: FlaskClient, signed_in) -> None:
    manager = signed_in(Role.MANAGER)
    response = client.get("/quotas/?year=abc")
    assert response.status_code == 400
    assert "The year must be a whole number from 2000 to 2100, not “abc”." in unescape(
        response.get_data(as_text=True)
    )
    assert client.get("/quotas/?year=99999999999999999999").status_code == 400
    assert client.get(f"/quotas/1999/members/{manager.id}").status_code == 404
    assert client.get("/quotas/2026/members/9999").status_code == 404


def test_the_dashboard_links_to_quota_setup(client: FlaskClient, signed_in) -> None:
    signed_in(Role.MANAGER)
    html = client.get("/dashboard/?year=2026&quarter=1").get_data(as_text=True)
    assert 'href="/quotas/?year=2026"' in html
