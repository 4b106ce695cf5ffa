"""Setup pages: team settings, members, reference lists; rights and bad input."""

from __future__ import annotations

from flask.testing import FlaskClient

from crmlite.extensions import db
from crmlite.models import BusinessUnit, Location, Member, Role
from crmlite.services.team import get_team
from tests.conftest import page_token


def test_setup_shows_the_points_table_and_quota(client: FlaskClient, signed_in) -> None:
    signed_in(Role.REP)
    html = client.get("/setup/").get_data(as_text=True)
    assert 'id="points-total">644<' in html
    assert 'id="points-quota">500<' in html
    assert "Technology Business Review Meeting" in html
    assert "Visitor ID, Website" in html
    assert "Lost Sale" in html
    # A rep sees the lists but no admin actions.
    assert "Edit team settings" not in html


def test_admin_changes_team_settings(client: FlaskClient, signed_in) -> None:
    signed_in(Role.ADMIN)
    token = page_token(client, "/setup/team")
    response = client.post(
        "/setup/team",
        data={
            "name": "ARRC Sales",
            "time_zone": "America/Chicago",
            "points_quota": "450",
            "currency": " eur ",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    team = get_team()
    assert (team.name, team.time_zone, team.points_quota) == ("ARRC Sales", "America/Chicago", 450)
    assert team.currency == "EUR"
    assert "ARRC Sales" in client.get("/").get_data(as_text=True)


def test_bad_team_settings_keep_the_input_and_change_nothing(
    client: FlaskClient, signed_in
) -> None:
    signed_in(Role.ADMIN)
    token = page_token(client, "/setup/team")
    response = client.post(
        "/setup/team",
        data={
            "name": "",
            "time_zone": "Mars/Olympus",
            "points_quota": "-3",
            "currency": "EURO",
            "csrf_token": token,
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="name-error">Enter the team&#39;s name.' in html
    assert 'id="time_zone-error">Unknown time zone.' in html
    assert 'id="points_quota-error">The monthly points quota must be from 1 to 100,000.' in html
    assert 'id="currency-error">Unknown currency.' in html
    assert 'value="Mars/Olympus"' in html and 'value="-3"' in html and 'value="EURO"' in html
    team = get_team()
    assert (team.name, team.time_zone, team.points_quota) == ("crmlite", "America/Los_Angeles", 500)
    assert team.currency == "USD"


def test_non_numeric_quota_is_a_message_not_a_500(client: FlaskClient, signed_in) -> None:
    signed_in(Role.ADMIN)
    token = page_token(client, "/setup/team")
    response = client.post(
        "/setup/team",
        data={"name": "X", "time_zone": "UTC", "points_quota": "lots", "csrf_token": token},
    )
    assert response.status_code == 200
    assert 'id="points_quota-error"' in response.get_data(as_text=True)
    assert get_team().name == "crmlite"


def test_team_settings_need_a_valid_csrf_token(client: FlaskClient, signed_in) -> None:
    signed_in(Role.ADMIN)
    response = client.post(
        "/setup/team",
        data={"name": "Hijacked", "time_zone": "UTC", "points_quota": "1", "csrf_token": "forged"},
    )
    assert response.status_code == 400
    assert get_team().name == "crmlite"


def test_htmx_requests_may_send_the_token_in_a_header(client: FlaskClient, signed_in) -> None:
    signed_in(Role.ADMIN)
    token = page_token(client, "/setup/team")
    response = client.post(
        "/setup/team",
        headers={"X-CSRFToken": token, "HX-Request": "true"},
        data={"name": "Via header", "time_zone": "UTC", "points_quota": "500"},
    )
    assert response.status_code == 302
    assert get_team().name == "Via header"


def test_reps_and_managers_cannot_change_team_settings(client: FlaskClient, signed_in) -> None:
    signed_in(Role.MANAGER)
    assert client.get("/setup/team").status_code == 403
    token = page_token(client, "/setup/")
    response = client.post(
        "/setup/team",
        data={"name": "Nope", "time_zone": "UTC", "points_quota": "1", "csrf_token": token},
    )
    assert response.status_code == 403
    assert "You do not have permission" in response.get_data(as_text=True)
    assert get_team().name == "crmlite"


def test_members_list_is_for_managers(client: FlaskClient, signed_in, make_member) -> None:
    location = Location(name="ARRC")
    unit = BusinessUnit(name="MS Sales")
    db.session.add_all([location, unit])
    db.session.commit()
    make_member(
        name="Cory Ferguson", location_id=location.id, business_unit_id=unit.id, points_quota=450
    )
    signed_in(Role.MANAGER)
    html = client.get("/setup/members").get_data(as_text=True)
    assert "Cory Ferguson" in html and "ARRC" in html and "MS Sales" in html
    assert "450" in html
    assert "New member" not in html  # admins only


def test_rep_cannot_see_members(client: FlaskClient, signed_in) -> None:
    signed_in(Role.REP)
    assert client.get("/setup/members").status_code == 403


def test_admin_adds_a_member_who_can_then_sign_in(client: FlaskClient, signed_in) -> None:
    signed_in(Role.ADMIN)
    token = page_token(client, "/setup/members/new")
    response = client.post(
        "/setup/members/new",
        data={
            "name": "Manny Martinez",
            "email": "manny@example.com",
            "title": "Sales Executive",
            "role": "rep",
            "location_id": "0",
            "business_unit_id": "0",
            "points_quota": "",
            "password": "a-long-password",
            "active": "y",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    manny = db.session.query(Member).filter_by(email="manny@example.com").one()
    assert (manny.name, manny.role, manny.points_quota, manny.active) == (
        "Manny Martinez",
        "rep",
        None,
        True,
    )


def test_new_member_bad_input(client: FlaskClient, signed_in, make_member) -> None:
    make_member(email="taken@example.com")
    signed_in(Role.ADMIN)
    token = page_token(client, "/setup/members/new")
    before = db.session.query(Member).count()
    html = client.post(
        "/setup/members/new",
        data={
            "name": "Dup",
            "email": "TAKEN@example.com",
            "role": "rep",
            "location_id": "0",
            "business_unit_id": "0",
            "password": "short",
            "csrf_token": token,
        },
    ).get_data(as_text=True)
    assert 'id="email-error">Another member already uses this e-mail address.' in html
    assert 'id="password-error">Use at least 12 characters.' in html
    assert 'value="Dup"' in html
    assert db.session.query(Member).count() == before


def test_admin_edits_a_member(client: FlaskClient, signed_in, make_member) -> None:
    member = make_member(name="Cory F")
    signed_in(Role.ADMIN)
    url = f"/setup/members/{member.id}"
    token = page_token(client, url)
    response = client.post(
        url,
        data={
            "name": "Cory Ferguson",
            "email": member.email,
            "title": "Account Manager",
            "role": "manager",
            "location_id": "0",
            "business_unit_id": "0",
            "points_quota": "600",
            "active": "y",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    member = db.session.get(Member, member.id)
    assert (member.name, member.role, member.points_quota) == ("Cory Ferguson", "manager", 600)


def test_admin_cannot_demote_themselves(client: FlaskClient, signed_in) -> None:
    me = signed_in(Role.ADMIN)
    url = f"/setup/members/{me.id}"
    token = page_token(client, url)
    html = client.post(
        url,
        data={
            "name": me.name,
            "email": me.email,
            "role": "rep",
            "location_id": "0",
            "business_unit_id": "0",
            "active": "y",
            "csrf_token": token,
        },
    ).get_data(as_text=True)
    assert "You cannot remove your own admin rights." in html
    assert db.session.get(Member, me.id).role == "admin"


def test_unknown_member_is_404_and_unknown_choice_is_a_message(
    client: FlaskClient, signed_in, make_member
) -> None:
    signed_in(Role.ADMIN)
    assert client.get("/setup/members/999999").status_code == 404
    member = make_member()
    url = f"/setup/members/{member.id}"
    token = page_token(client, url)
    response = client.post(
        url,
        data={
            "name": "X",
            "email": member.email,
            "role": "emperor",
            "location_id": "12345",
            "business_unit_id": "0",
            "csrf_token": token,
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="role-error">Not a valid choice.' in html
    assert 'id="location_id-error">Location: choose one from the list.' in html
    assert db.session.get(Member, member.id).role == "rep"


def test_members_list_query_count_does_not_grow(
    client: FlaskClient, signed_in, make_member, queries
) -> None:
    signed_in(Role.MANAGER)
    location = Location(name="ARRC")
    db.session.add(location)
    db.session.commit()
    for _ in range(3):
        make_member(location_id=location.id)
    with queries() as few:
        client.get("/setup/members")
    for _ in range(30):
        make_member(location_id=location.id)
    with queries() as many:
        html = client.get("/setup/members").get_data(as_text=True)
    assert html.count("ARRC") >= 33
    assert many.count == few.count


def test_times_show_in_the_team_time_zone(client: FlaskClient, signed_in, make_member) -> None:
    from datetime import UTC, datetime

    make_member(name="Early Bird", last_sign_in_at=datetime(2026, 1, 15, 17, 5, tzinfo=UTC))
    signed_in(Role.MANAGER)
    assert "Thu 2026-01-15 9:05 am" in client.get("/setup/members").get_data(as_text=True)
    team = get_team()
    team.time_zone = "Europe/Paris"
    db.session.commit()
    assert "Thu 2026-01-15 6:05 pm" in client.get("/setup/members").get_data(as_text=True)


def test_the_paper_of_the_pdfs_is_a_team_setting(client: FlaskClient, signed_in) -> None:
    signed_in(Role.ADMIN)
    assert get_team().paper == "A4"  # the default
    form = client.get("/setup/team").get_data(as_text=True)
    assert '<option selected value="A4">A4 (210 × 297 mm)</option>' in form
    settings = {"name": "crmlite", "time_zone": "America/Chicago", "points_quota": "500"}
    token = page_token(client, "/setup/team")
    response = client.post("/setup/team", data={**settings, "paper": "Letter", "csrf_token": token})
    assert response.status_code == 302
    assert get_team().paper == "Letter"
    assert 'id="team-paper">Letter<' in client.get("/setup/").get_data(as_text=True)

    # An unknown paper: a message by the field, nothing saved.
    token = page_token(client, "/setup/team")
    response = client.post(
        "/setup/team",
        data={**settings, "time_zone": "Europe/Paris", "paper": "A3", "csrf_token": token},
    )
    assert response.status_code == 200
    assert 'id="paper-error">Not a valid choice' in response.get_data(as_text=True)
    db.session.rollback()
    assert (get_team().paper, get_team().time_zone) == ("Letter", "America/Chicago")
