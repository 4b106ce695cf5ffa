"""Companies and contacts: list, search and pagination, detail pages with opportunities and
activities, create and edit with bad input, and query counts."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from flask.testing import FlaskClient
from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import Company, Contact, Role
from tests.conftest import page_token


def company_names(html: str) -> list[str]:
    return re.findall(r'<tr id="company-\d+">\s*<td><a href="/companies/\d+">([^<]+)</a>', html)


def test_list_counts_open_opportunities_per_company(
    client: FlaskClient, signed_in, make_company, make_opportunity, make_member
) -> None:
    signed_in(Role.REP)
    cory = make_member(name="Cory Ferguson")
    tows = make_company(name="Tows R Us", city="Bakersfield", account_manager_id=cory.id)
    chartec = make_company(name="CharTec")
    make_company(name="Acme")
    make_opportunity(name="A", company_id=tows.id)
    make_opportunity(name="B", company_id=tows.id, stage_name="Discovery")
    make_opportunity(name="Won one", company_id=tows.id, stage_name="Won")
    make_opportunity(name="Lost one", company_id=chartec.id, stage_name="Lost")

    html = client.get("/companies").get_data(as_text=True)
    assert company_names(html) == ["Acme", "CharTec", "Tows R Us"]
    counts = dict(
        re.findall(
            r'<a href="/companies/\d+">([^<]+)</a>.*?class="num open-count">(\d+)<', html, re.S
        )
    )
    assert counts == {"Acme": "0", "CharTec": "0", "Tows R Us": "2"}
    assert "Bakersfield" in html and "Cory Ferguson" in html
    assert 'id="company-count">1–3 of 3 companies.' in html


def test_search_by_name_ignores_case_and_wildcards(
    client: FlaskClient, signed_in, make_company
) -> None:
    signed_in(Role.REP)
    for name in ("Tows R Us", "Towers Inc", "CharTec", "100% Uptime", "100 Percent"):
        make_company(name=name)
    html = client.get("/companies?q=TOW").get_data(as_text=True)
    assert company_names(html) == ["Towers Inc", "Tows R Us"]
    assert "matching “TOW”" in html
    assert company_names(client.get("/companies?q=100%25").get_data(as_text=True)) == [
        "100% Uptime"
    ]
    assert "No companies" in client.get("/companies?q=zzz").get_data(as_text=True)


def test_list_is_paginated_by_fifty_and_htmx_gets_the_results_alone(
    client: FlaskClient, signed_in
) -> None:
    signed_in(Role.REP)
    db.session.add_all(Company(name=f"Company {n:03d}") for n in range(1, 121))
    db.session.commit()
    first = client.get("/companies").get_data(as_text=True)
    assert company_names(first)[0] == "Company 001" and len(company_names(first)) == 50
    assert "Page 1 of 3" in first and 'href="/companies?page=2"' in first
    third = client.get("/companies?page=3").get_data(as_text=True)
    assert company_names(third) == [f"Company {n:03d}" for n in range(101, 121)]
    assert 'id="company-count">101–120 of 120 companies.' in third
    beyond = client.get("/companies?page=99").get_data(as_text=True)
    assert "Page 3 of 3" in beyond  # clamped to the last page
    assert company_names(client.get("/companies?page=abc").get_data(as_text=True))[0] == (
        "Company 001"
    )

    searched = client.get("/companies?q=company 11&page=1", headers={"HX-Request": "true"})
    html = searched.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="company-results">')
    assert "<html" not in html
    assert company_names(html) == [f"Company {n}" for n in range(110, 120)]


def test_create_a_company(client: FlaskClient, signed_in, make_member) -> None:
    signed_in(Role.MANAGER)  # a manager chooses the account manager (a rep's is theirs)
    cory = make_member(name="Cory Ferguson")
    token = page_token(client, "/companies/new")
    response = client.post(
        "/companies/new",
        data={
            "csrf_token": token,
            "name": "  Tows R Us ",
            "phone": "(661) 555-0100",
            "email": "Office@TowsRUs.example",
            "website": "towsrus.example",
            "industry": "Towing",
            "street": "1600 Mill Rock Way",
            "city": "Bakersfield",
            "region": "CA",
            "postal_code": "93311",
            "country": "United States",
            "account_manager_id": str(cory.id),
            "notes": "Three sites.",
        },
    )
    assert response.status_code == 302
    company = db.session.scalars(select(Company)).one()
    assert response.headers["Location"].endswith(f"/companies/{company.id}")
    assert (company.name, company.email, company.account_manager_id) == (
        "Tows R Us",
        "office@towsrus.example",
        cory.id,
    )
    html = client.get(f"/companies/{company.id}").get_data(as_text=True)
    assert "1600 Mill Rock Way<br>Bakersfield, CA 93311<br>United States" in html
    assert 'href="https://towsrus.example"' in html
    assert "Cory Ferguson" in html


def test_bad_company_input_keeps_it_and_saves_nothing(client: FlaskClient, signed_in) -> None:
    signed_in(Role.REP)
    token = page_token(client, "/companies/new")
    response = client.post(
        "/companies/new",
        data={"csrf_token": token, "name": "", "email": "not-an-email", "city": "Bakersfield"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="name-error">Enter the company&#39;s name.' in html
    assert 'id="email-error">Enter a valid e-mail address, like name@example.com.' in html
    assert 'value="not-an-email"' in html and 'value="Bakersfield"' in html
    assert db.session.scalar(select(func.count(Company.id))) == 0


def test_the_account_manager_is_an_active_member_or_the_one_kept(
    client: FlaskClient, signed_in, make_company, make_member
) -> None:
    signed_in(Role.MANAGER)
    gone = make_member(name="Gone Member", active=False)
    token = page_token(client, "/companies/new")
    for manager_id, message in [
        ("99999", "The account manager must be a member of the team"),
        (str(gone.id), "The account manager must be an active member: Gone Member"),
        ("abc", "Account manager: choose one from the list."),
    ]:
        html = client.post(
            "/companies/new",
            data={"csrf_token": token, "name": "Tows R Us", "account_manager_id": manager_id},
        ).get_data(as_text=True)
        assert 'id="account_manager_id-error">' + message in html, manager_id
    assert db.session.scalar(select(func.count(Company.id))) == 0
    # A company keeps the manager it has, even one who has left.
    tows = make_company(name="Tows R Us", account_manager_id=gone.id)
    url = f"/companies/{tows.id}/edit"
    assert "Gone Member" in client.get(url).get_data(as_text=True)
    response = client.post(
        url,
        data={"csrf_token": token, "name": "Tows R Us Inc", "account_manager_id": str(gone.id)},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Company, tows.id).account_manager_id == gone.id


def test_edit_a_company(client: FlaskClient, signed_in, make_company) -> None:
    signed_in(Role.REP)
    company = make_company(name="Tows R Us", phone="1")
    url = f"/companies/{company.id}/edit"
    token = page_token(client, url)
    bad = client.post(url, data={"csrf_token": token, "name": "Tows", "email": "x@"})
    assert bad.status_code == 200 and 'id="email-error"' in bad.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Company, company.id).name == "Tows R Us"
    response = client.post(
        url, data={"csrf_token": token, "name": "Tows R Us Inc", "phone": "(661) 555-0199"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Company, company.id)
    assert (saved.name, saved.phone) == ("Tows R Us Inc", "(661) 555-0199")
    assert client.get("/companies/99999").status_code == 404
    assert client.get("/companies/99999/edit").status_code == 404


def test_company_page_shows_contacts_opportunities_and_activities(
    client: FlaskClient, signed_in, make_company, make_contact, make_opportunity, make_activity
) -> None:
    me = signed_in(Role.REP, name="Nick Points")
    tows = make_company(name="Tows R Us")
    other = make_company(name="CharTec")
    shane = make_contact("Shane", "Swanson", company_id=tows.id, title="Owner")
    make_contact("Jason", "Rivas", company_id=other.id)
    deal = make_opportunity(
        company_id=tows.id, contact_id=shane.id, stage_name="Discovery", revenue="6200.00"
    )
    make_opportunity(name="Elsewhere", company_id=other.id)
    make_activity(
        me,
        subject="Discovery with Shane",
        company_id=tows.id,
        contact_id=shane.id,
        opportunity_id=deal.id,
        due_on=date(2013, 12, 9),
    )
    make_activity(me, subject="Call CharTec", company_id=other.id)

    html = client.get(f"/companies/{tows.id}").get_data(as_text=True)
    assert "Shane Swanson" in html and "Owner" in html and "Jason Rivas" not in html
    row = re.search(rf'id="related-opportunity-{deal.id}">(.*?)</tr>', html, re.S).group(1)
    assert f'href="/opportunities/{deal.id}"' in row
    assert "Discovery" in row and "6,200.00" in row
    assert "Elsewhere" not in html
    assert "Discovery with Shane" in html and "Call CharTec" not in html
    assert f'href="/contacts/new?company_id={tows.id}"' in html


def test_contact_page_shows_company_opportunities_and_activities(
    client: FlaskClient, signed_in, make_company, make_contact, make_opportunity, make_activity
) -> None:
    me = signed_in(Role.REP)
    tows = make_company(name="Tows R Us")
    shane = make_contact("Shane", "Swanson", company_id=tows.id, email="shane@towsrus.example")
    other = make_contact("Kim", "Lee", company_id=tows.id)
    mine = make_opportunity(name="Shane's deal", company_id=tows.id, contact_id=shane.id)
    make_opportunity(name="Kim's deal", company_id=tows.id, contact_id=other.id)
    make_activity(me, subject="Call Shane", contact_id=shane.id, opportunity_id=mine.id)
    make_activity(me, subject="Call Kim", contact_id=other.id)

    html = client.get(f"/contacts/{shane.id}").get_data(as_text=True)
    assert f'<a href="/companies/{tows.id}">Tows R Us</a>' in html
    assert "shane@towsrus.example" in html
    assert "Shane&#39;s deal" in html and "Kim&#39;s deal" not in html
    assert "Call Shane" in html and "Call Kim" not in html
    assert client.get("/contacts/99999").status_code == 404


def test_create_a_contact_for_a_company(client: FlaskClient, signed_in, make_company) -> None:
    signed_in(Role.REP)
    tows = make_company(name="Tows R Us")
    form = client.get(f"/contacts/new?company_id={tows.id}").get_data(as_text=True)
    assert f'<option selected value="{tows.id}">Tows R Us</option>' in form
    token = page_token(client, "/contacts/new")
    response = client.post(
        "/contacts/new",
        data={
            "csrf_token": token,
            "first_name": "Shane",
            "last_name": "Swanson",
            "title": "Owner",
            "company_id": str(tows.id),
            "email": " Shane.Swanson@TowsRUs.Example ",
            "phone": "(661) 555-0101",
            "mobile": "(661) 555-0102",
        },
    )
    assert response.status_code == 302
    contact = db.session.scalars(select(Contact)).one()
    assert response.headers["Location"].endswith(f"/contacts/{contact.id}")
    assert (contact.name, contact.email, contact.company_id, contact.mobile) == (
        "Shane Swanson",
        "shane.swanson@towsrus.example",
        tows.id,
        "(661) 555-0102",
    )


def test_bad_contact_input_keeps_it_and_saves_nothing(client: FlaskClient, signed_in) -> None:
    signed_in(Role.REP)
    token = page_token(client, "/contacts/new")
    response = client.post(
        "/contacts/new",
        data={"csrf_token": token, "first_name": " ", "last_name": "Swanson", "email": "shane@"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="first_name-error">Enter the first name.' in html
    assert 'id="email-error">Enter a valid e-mail address' in html
    assert 'value="Swanson"' in html and 'value="shane@"' in html
    unknown_company = client.post(
        "/contacts/new", data={"csrf_token": token, "first_name": "X", "company_id": "99999"}
    )
    assert 'id="company_id-error">The company must be one of the list' in (
        unknown_company.get_data(as_text=True)
    )
    assert db.session.scalar(select(func.count(Contact.id))) == 0


def test_edit_a_contact(client: FlaskClient, signed_in, make_company, make_contact) -> None:
    signed_in(Role.REP)
    tows = make_company(name="Tows R Us")
    chartec = make_company(name="CharTec")
    contact = make_contact("Jason", "Rivas", company_id=tows.id)
    url = f"/contacts/{contact.id}/edit"
    token = page_token(client, url)
    response = client.post(
        url,
        data={
            "csrf_token": token,
            "first_name": "Jason",
            "last_name": "Rivas",
            "company_id": str(chartec.id),
            "email": "JASON@chartec.example",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Contact, contact.id)
    assert (saved.company_id, saved.email) == (chartec.id, "jason@chartec.example")
    assert client.get("/contacts/99999/edit").status_code == 404


def test_contact_list_searches_name_email_and_company(
    client: FlaskClient, signed_in, make_company, make_contact
) -> None:
    signed_in(Role.REP)
    tows = make_company(name="Tows R Us")
    make_contact("Shane", "Swanson", company_id=tows.id)
    make_contact("Jason", "Rivas", email="jason@chartec.example")
    html = client.get("/contacts?q=shane swan").get_data(as_text=True)
    assert "Shane Swanson" in html and "Jason Rivas" not in html
    assert "Jason Rivas" in client.get("/contacts?q=CHARTEC").get_data(as_text=True)
    assert "Shane Swanson" in client.get("/contacts?q=tows").get_data(as_text=True)


def test_company_list_and_page_query_counts_do_not_grow(
    client: FlaskClient, signed_in, make_member, make_opportunity, make_activity, queries
) -> None:
    me = signed_in(Role.REP)

    def add(n: int, start: int) -> int:
        company_id = 0
        for i in range(start, start + n):
            manager = make_member(name=f"Manager {i}")
            company = Company(name=f"Company {i:03d}", account_manager_id=manager.id)
            db.session.add(company)
            db.session.flush()
            contact = Contact(first_name=f"Person {i}", company_id=company.id)
            db.session.add(contact)
            db.session.commit()
            make_opportunity(
                name=f"Deal {i}",
                company_id=company.id,
                contact_id=contact.id,
                account_manager_id=manager.id,
                revenue=Decimal("100.00"),
            )
            make_activity(me, subject=f"Call {i}", company_id=company.id, contact_id=contact.id)
            company_id = company.id
        return company_id

    def count(url: str) -> int:
        with queries() as counted:
            response = client.get(url)
        assert response.status_code == 200
        return counted.count

    first = add(2, 1)
    small_list = count("/companies")
    small_page = count(f"/companies/{first}")
    add(10, 3)
    db.session.add_all(Contact(first_name=f"Extra {i}", company_id=first) for i in range(5))
    db.session.commit()
    for i in range(5):
        make_opportunity(name=f"More {i}", company_id=first)
        make_activity(me, subject=f"More call {i}", company_id=first)
    assert count("/companies") == small_list
    assert count(f"/companies/{first}") == small_page
    assert len(company_names(client.get("/companies").get_data(as_text=True))) == 12


def test_history_restore_gets_the_whole_list_page(
    client: FlaskClient, signed_in, make_company
) -> None:
    signed_in(Role.REP)
    make_company(name="Tows R Us")
    html = client.get(
        "/companies?q=tows",
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    ).get_data(as_text=True)
    assert "<html" in html and company_names(html) == ["Tows R Us"]
