"""Setup → Locations and Business units: create, rename, deactivate, reactivate, delete
unused ones; names unique whatever the case; pick lists; rights; and a fresh install that
creates them, assigns a member and a deal, wins it and sees it on the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import BusinessUnit, Location, Member, Opportunity, Role
from crmlite.services import places, quotas
from crmlite.services.team import get_team, local_today
from tests.conftest import page_token
from tests.test_opportunity_page import fields_data

HTMX = {"HX-Request": "true"}


def post(client: FlaskClient, url: str, data: dict[str, str], *, htmx: bool = True) -> Any:
    token = page_token(client, "/setup/locations")
    headers = {**HTMX, "X-CSRFToken": token} if htmx else {}
    if not htmx:
        data = {**data, "csrf_token": token}
    return client.post(url, data=data, headers=headers)


def names(model: type[Location] | type[BusinessUnit]) -> list[tuple[str, bool]]:
    db.session.expire_all()
    return [(p.name, p.active) for p in db.session.scalars(select(model).order_by(model.id))]


# ---------------------------------------------------------------- service


def test_names_are_parsed_and_unique_whatever_the_case(app: Any) -> None:
    arrc = places.create_place(places.LOCATIONS, "  ARRC\x00 \n")
    assert arrc.name == "ARRC" and arrc.active
    for typed, message in [
        ("arrc", "Another location is called “arrc”."),
        (" \t ", "Enter the location's name."),
        ("x" * 81, "At most 80 characters."),
    ]:
        with pytest.raises(places.PlaceRefused, match=message):
            places.create_place(places.LOCATIONS, typed)
    # The same name in the other list is another thing.
    assert places.create_place(places.BUSINESS_UNITS, "ARRC").name == "ARRC"
    # Renaming to its own name in another case is fine.
    assert places.rename_place(places.LOCATIONS, arrc, "Arrc").name == "Arrc"


def test_a_used_place_is_not_deleted_an_unused_one_is(
    app: Any, make_member: Any, make_opportunity: Any
) -> None:
    used = places.create_place(places.BUSINESS_UNITS, "MS Sales")
    spare = places.create_place(places.BUSINESS_UNITS, "Typo")
    make_opportunity("Tows R Us", business_unit_id=used.id)
    admin = make_member(role=Role.ADMIN)
    assert places.in_use(places.BUSINESS_UNITS) == {used.id: 1}
    with pytest.raises(places.PlaceRefused, match="in use: deactivate it instead"):
        places.delete_place(places.BUSINESS_UNITS, used, by=admin)
    places.delete_place(places.BUSINESS_UNITS, spare, by=admin)
    db.session.commit()
    assert names(BusinessUnit) == [("MS Sales", True)]


# ---------------------------------------------------------------- pages


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER])
def test_create_rename_deactivate_reactivate(
    client: FlaskClient, signed_in: Any, role: Role
) -> None:
    signed_in(role)
    html = post(client, "/setup/locations", {"new-name": " ARRC "}).get_data(as_text=True)
    assert html.startswith('<section id="places"') and "ARRC added." in html
    arrc = db.session.scalars(select(Location)).one()
    html = post(client, f"/setup/locations/{arrc.id}", {f"place-{arrc.id}-name": "ARRC West"})
    assert "ARRC renamed ARRC West." in html.get_data(as_text=True)
    post(client, f"/setup/locations/{arrc.id}/active", {"active": "0"})
    assert names(Location) == [("ARRC West", False)]
    post(client, f"/setup/locations/{arrc.id}/active", {"active": "1"})
    assert names(Location) == [("ARRC West", True)]
    # Business units, without htmx: a redirect and the message on the next page.
    response = post(client, "/setup/business-units", {"new-name": "MS Sales"}, htmx=False)
    assert response.status_code == 302
    assert "MS Sales added." in client.get(response.location).get_data(as_text=True)
    assert names(BusinessUnit) == [("MS Sales", True)]


def test_a_duplicate_is_refused_next_to_the_field_and_nothing_changes(
    client: FlaskClient, signed_in: Any
) -> None:
    signed_in(Role.MANAGER)
    post(client, "/setup/business-units", {"new-name": "MS Sales"})
    projects = places.create_place(places.BUSINESS_UNITS, "Projects")
    db.session.commit()
    html = post(client, "/setup/business-units", {"new-name": "ms sales"}).get_data(as_text=True)
    assert 'id="new-name-error">Another business unit is called “ms sales”.<' in html
    assert 'value="ms sales"' in html  # what was typed stays
    field = f"place-{projects.id}-name"
    response = post(client, f"/setup/business-units/{projects.id}", {field: "MS SALES"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="{field}-error">Another business unit is called “MS SALES”.<' in html
    assert names(BusinessUnit) == [("MS Sales", True), ("Projects", True)]
    html = post(client, "/setup/business-units", {"new-name": ""}).get_data(as_text=True)
    assert "Enter the business unit&#39;s name." in html
    assert db.session.scalar(select(func.count()).select_from(BusinessUnit)) == 2


def test_delete_only_an_unused_one(client: FlaskClient, signed_in: Any, make_member: Any) -> None:
    signed_in(Role.ADMIN)
    arrc = places.create_place(places.LOCATIONS, "ARRC")
    typo = places.create_place(places.LOCATIONS, "Fersno")
    make_member(name="Cory Ferguson", location_id=arrc.id)
    db.session.commit()
    page = client.get("/setup/locations").get_data(as_text=True)
    assert f'aria-label="Delete {typo.name}"' in page
    assert "Delete ARRC" not in page  # in use: only deactivate
    html = post(client, f"/setup/locations/{arrc.id}/delete", {}).get_data(as_text=True)
    assert "ARRC is in use: deactivate it instead." in html
    html = post(client, f"/setup/locations/{typo.id}/delete", {}).get_data(as_text=True)
    assert "Fersno deleted." in html
    assert names(Location) == [("ARRC", True)]


def test_reps_may_not_and_unknown_ids_are_404(client: FlaskClient, signed_in: Any) -> None:
    arrc = places.create_place(places.LOCATIONS, "ARRC")
    db.session.commit()
    signed_in(Role.REP)
    assert client.get("/setup/locations").status_code == 403
    token = page_token(client, "/")
    headers = {"X-CSRFToken": token}
    assert (
        client.post("/setup/locations", data={"new-name": "X"}, headers=headers).status_code == 403
    )
    assert client.post(f"/setup/locations/{arrc.id}/active", headers=headers).status_code == 403
    assert "Locations" not in client.get("/setup/").get_data(as_text=True).split("<main")[1]
    assert names(Location) == [("ARRC", True)]


def test_unknown_id_is_404_and_bad_csrf_400(client: FlaskClient, signed_in: Any) -> None:
    signed_in(Role.ADMIN)
    assert post(client, "/setup/locations/99999", {"place-99999-name": "X"}).status_code == 404
    assert post(client, "/setup/business-units/99999/delete", {}).status_code == 404
    assert client.get("/setup/regions").status_code == 404
    assert client.post("/setup/locations", data={"new-name": "X"}).status_code == 400
    assert names(Location) == []


def test_pick_lists_offer_active_ones_and_keep_a_current_inactive_one(
    client: FlaskClient, signed_in: Any, make_member: Any
) -> None:
    arrc = places.create_place(places.LOCATIONS, "ARRC")
    old = places.create_place(places.LOCATIONS, "Old office")
    cory = make_member(name="Cory Ferguson", location_id=old.id)
    manny = make_member(name="Manny Martinez")
    places.set_active(old, False)
    db.session.commit()
    signed_in(Role.ADMIN)
    mine = client.get(f"/setup/members/{cory.id}").get_data(as_text=True)
    assert f'<option selected value="{old.id}">Old office</option>' in mine
    theirs = client.get(f"/setup/members/{manny.id}").get_data(as_text=True)
    assert "Old office" not in theirs and f'value="{arrc.id}">ARRC<' in theirs
    # A forged post of the inactive one for another member is refused; nothing changes.
    token = page_token(client, f"/setup/members/{manny.id}")
    data = {
        "name": manny.name,
        "email": manny.email,
        "role": "rep",
        "location_id": str(old.id),
        "business_unit_id": "0",
        "active": "y",
        "csrf_token": token,
    }
    html = client.post(f"/setup/members/{manny.id}", data=data).get_data(as_text=True)
    assert "Location: choose one from the list." in html
    db.session.expire_all()
    assert db.session.get(Member, manny.id).location_id is None


# ---------------------------------------------------------------- a fresh install


def test_a_fresh_install_sees_its_own_places_on_the_dashboard(
    client: FlaskClient, signed_in: Any, make_member: Any
) -> None:
    from crmlite.services import funnel
    from crmlite.services.opportunities import create_opportunity
    from tests.conftest import stage

    admin = signed_in(Role.ADMIN)
    assert db.session.scalar(select(func.count()).select_from(Location)) == 0
    post(client, "/setup/locations", {"new-name": "ARRC"})
    post(client, "/setup/business-units", {"new-name": "MS Sales"})
    arrc = db.session.scalars(select(Location)).one()
    ms = db.session.scalars(select(BusinessUnit)).one()

    cory = make_member(name="Cory Ferguson")
    url = f"/setup/members/{cory.id}"
    response = client.post(
        url,
        data={
            "name": cory.name,
            "email": cory.email,
            "role": "rep",
            "location_id": str(arrc.id),
            "business_unit_id": str(ms.id),
            "active": "y",
            "csrf_token": page_token(client, url),
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    cory = db.session.get(Member, cory.id)
    assert (cory.location_id, cory.business_unit_id) == (arrc.id, ms.id)
    tz = ZoneInfo(get_team().time_zone)
    today = local_today(tz)
    quotas.same_every_month(cory, today.year, D("4000"))

    # An opportunity booked before the assignment gets its places on its edit form.
    deal = create_opportunity(name="Tows R Us - Managed Services", by=admin, revenue=D("2895"))
    deal.account_manager_id = cory.id
    db.session.commit()
    assert deal.location_id is None
    token = page_token(client, f"/opportunities/{deal.id}")
    edit = client.get(
        f"/opportunities/{deal.id}/fields/edit", headers={**HTMX, "X-CSRFToken": token}
    )
    assert f'value="{arrc.id}">ARRC<' in edit.get_data(as_text=True)
    response = client.post(
        f"/opportunities/{deal.id}/fields",
        headers={**HTMX, "X-CSRFToken": token},
        data=fields_data(deal, location_id=arrc.id, business_unit_id=ms.id),
    )
    assert response.status_code == 200
    deal = db.session.get(Opportunity, deal.id)
    db.session.refresh(deal)
    assert (deal.location_id, deal.business_unit_id) == (arrc.id, ms.id)

    now = datetime.now(UTC)
    deal.stage_id = stage("Commitment").id
    db.session.commit()
    funnel.move_to_stage(
        deal, stage("Won"), by=admin, expected_version=deal.version, tz=tz, now=now
    )
    db.session.commit()

    quarter = (today.month - 1) // 3 + 1
    for query, months in (("", 3), ("&period=year", 12)):
        page = client.get(f"/dashboard/?year={today.year}&quarter={quarter}{query}")
        html = page.get_data(as_text=True)
        location_row = html.split(f'id="location-{arrc.id}"')[1].split("</tr>")[0]
        unit_row = html.split(f'id="unit-{ms.id}"')[1].split("</tr>")[0]
        totals = html.split('id="location-totals"')[1].split("</tr>")[0]
        quota = "12,000" if months == 3 else "48,000"
        for row in (location_row, unit_row, totals):
            assert row.count('<td class="num">') == months + 3
            assert ">2,895</a></td>" in row and f">{quota}<" in row
        assert "No location" not in html and "No business unit" not in html


def test_the_print_view_of_the_summary_is_the_teams(
    client: FlaskClient, signed_in: Any, make_member: Any, make_opportunity: Any
) -> None:
    arrc = places.create_place(places.LOCATIONS, "ARRC")
    ms = places.create_place(places.BUSINESS_UNITS, "MS Sales")
    cory = make_member(name="Cory Ferguson", location_id=arrc.id, business_unit_id=ms.id)
    quotas.same_every_month(cory, 2025, D("4000"))
    make_opportunity(
        "CharTec - Phone System",
        "Won",
        "2895.00",
        won_amount=D("2895.00"),
        account_manager_id=cory.id,
        location_id=arrc.id,
        business_unit_id=ms.id,
        closed_at=datetime(2025, 10, 9, 18, tzinfo=UTC),
    )
    db.session.commit()
    signed_in(Role.MANAGER)  # a rep: 403 (the permissions matrix)
    html = client.get("/dashboard/places?year=2025&quarter=4").get_data(as_text=True)
    assert "Quarterly summary by location and business unit · Q4 2025" in html
    for row_id in (f"location-{arrc.id}", f"unit-{ms.id}", "location-totals"):
        row = html.split(f'id="{row_id}"')[1].split("</tr>")[0]
        assert ">2,895</a>" in row and ">12,000<" in row and ">24 %<" in row
    year = client.get("/dashboard/places?year=2025&quarter=4&period=year").get_data(as_text=True)
    assert "Yearly summary by location and business unit · 2025" in year
    assert ">48,000<" in year.split('id="location-totals"')[1].split("</tr>")[0]
    bad = client.get("/dashboard/places?year=2025&quarter=9")
    assert bad.status_code == 400 and "quarter" in bad.get_data(as_text=True).lower()


def test_the_command_adds_a_place_with_the_same_rules(app: Any) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["crm", "add-place", "business-units", " MS Sales "])
    assert result.exit_code == 0, result.output
    assert "Business unit MS Sales added." in result.output
    result = runner.invoke(args=["crm", "add-place", "business-units", "ms sales"])
    assert result.exit_code != 0 and "Another business unit is called" in result.output
    result = runner.invoke(args=["crm", "add-place", "locations", "ARRC"])
    assert result.exit_code == 0, result.output
    assert names(BusinessUnit) == [("MS Sales", True)] and names(Location) == [("ARRC", True)]


def test_the_setup_page_and_the_summary_do_not_grow_with_the_places(
    client: FlaskClient, signed_in: Any, make_member: Any, make_opportunity: Any, queries: Any
) -> None:
    signed_in(Role.MANAGER)

    def add(first: int, n: int) -> None:
        for i in range(first, first + n):
            office = places.create_place(places.LOCATIONS, f"Site {i}")
            unit = places.create_place(places.BUSINESS_UNITS, f"Unit {i}")
            where = {"location_id": office.id, "business_unit_id": unit.id}
            seller = make_member(name=f"Seller {i}", **where)
            make_opportunity(f"Deal {i}", account_manager_id=seller.id, **where)
        db.session.commit()

    def count(url: str) -> int:
        with queries() as counted:
            assert client.get(url).status_code == 200
        return counted.count

    urls = ["/setup/locations", "/setup/business-units", "/dashboard/places?period=year"]
    add(0, 1)
    few = [count(url) for url in urls]
    add(1, 8)
    assert [count(url) for url in urls] == few
    assert "Site 8" in client.get("/dashboard/places?period=year").get_data(as_text=True)
