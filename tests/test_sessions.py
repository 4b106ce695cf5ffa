"""Sessions that really end (issue #14): a copied cookie dies at sign-out, remember-me is
revocable, limited and new at each sign-in, the session is renewed at sign-in, idle and
absolute ends, sign out everywhere, and "Confirm your password" before changes in Setup."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from crmlite.config import Config
from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import Member, MemberSession, Role
from crmlite.services import events
from crmlite.web.sessions import LAST_SEEN
from tests.conftest import PASSWORD, RequestClient, csrf_token_from, page_token, sign_in

REMEMBER = "remember_token"


def new_client(app: Flask) -> FlaskClient:
    app.test_client_class = RequestClient
    return app.test_client()


def cookie(client: FlaskClient, name: str) -> str | None:
    found = client.get_cookie(name)
    return found.value if found is not None else None


def sign_in_remembered(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    token = page_token(client, "/sign-in")
    return client.post(
        "/sign-in",
        data={"email": email, "password": password, "remember": "y", "csrf_token": token},
    )


def sign_out(client: FlaskClient) -> None:
    response = client.post("/sign-out", data={"csrf_token": page_token(client, "/")})
    assert response.status_code == 302


def is_signed_in(client: FlaskClient) -> bool:
    response = client.get("/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def with_cookie(app: Flask, name: str, value: str | None) -> FlaskClient:
    """A browser holding only this cookie (a thief's copy)."""
    assert value
    other = new_client(app)
    other.set_cookie(name, value)
    return other


def rows_of(member: Member) -> list[MemberSession]:
    db.session.rollback()
    return list(
        db.session.scalars(select(MemberSession).where(MemberSession.member_id == member.id))
    )


# ---------------------------------------------------------------- the findings, re-tried


def test_a_copied_session_cookie_stops_working_at_sign_out(
    app: Flask, client: FlaskClient, make_member
) -> None:
    member = make_member()
    assert sign_in(client, member.email).status_code == 302
    thief = with_cookie(app, "session", cookie(client, "session"))
    assert is_signed_in(thief)  # the copy works while the owner is signed in

    sign_out(client)
    response = thief.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")
    assert rows_of(member) == []


def test_the_remember_cookie_differs_at_each_sign_in(client: FlaskClient, make_member) -> None:
    member = make_member()
    values = []
    for _ in range(2):
        assert sign_in_remembered(client, member.email).status_code == 302
        values.append(cookie(client, REMEMBER))
        sign_out(client)
        assert cookie(client, REMEMBER) is None  # deleted at sign-out
    assert None not in values
    assert values[0] != values[1]


def test_the_anonymous_csrf_secret_does_not_carry_over_sign_in(
    client: FlaskClient, make_member
) -> None:
    member = make_member()
    before = page_token(client, "/sign-in")
    response = client.post(
        "/sign-in", data={"email": member.email, "password": PASSWORD, "csrf_token": before}
    )
    assert response.status_code == 302
    # A token an attacker planted or read before sign-in is no good after it.
    refused = client.post("/sign-out", data={"csrf_token": before})
    assert refused.status_code == 400
    assert is_signed_in(client)
    after = csrf_token_from(client.get("/").get_data(as_text=True))
    assert after != before


def test_a_copied_remember_cookie_stops_working_at_sign_out(
    app: Flask, client: FlaskClient, make_member
) -> None:
    member = make_member()
    assert sign_in_remembered(client, member.email).status_code == 302
    stolen = cookie(client, REMEMBER)
    assert is_signed_in(with_cookie(app, REMEMBER, stolen))  # it signs a new browser in

    sign_out(client)
    thief = with_cookie(app, REMEMBER, stolen)
    assert not is_signed_in(thief)
    assert cookie(thief, REMEMBER) is None  # and the dead cookie is deleted


def test_remember_me_lasts_30_days_and_is_configurable(client: FlaskClient, make_member) -> None:
    member = make_member()
    response = sign_in_remembered(client, member.email)
    header = next(v for v in response.headers.getlist("Set-Cookie") if v.startswith(REMEMBER))
    assert "HttpOnly" in header and "SameSite=Lax" in header
    found = client.get_cookie(REMEMBER)
    assert found is not None and found.expires is not None
    lifetime = found.expires - utcnow()
    assert timedelta(days=29, hours=23) < lifetime <= timedelta(days=30)
    (row,) = rows_of(member)
    assert row.remember
    assert timedelta(days=29, hours=23) < row.expires_at - utcnow() <= timedelta(days=30)

    # Read from the environment when the app starts (a fresh interpreter here).
    script = (
        "from crmlite.config import Config; c = Config(); "
        "print(c.REMEMBER_COOKIE_DURATION.days, c.SESSION_IDLE_MINUTES, c.SESSION_MAX_HOURS)"
    )
    env = {
        **os.environ,
        "REMEMBER_COOKIE_DURATION": "7",
        "SESSION_IDLE_MINUTES": "15",
        "SESSION_MAX_HOURS": "9",
        "SECRET_KEY": "x" * 40,
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["7", "15", "9"]
    defaults = (
        Config.REMEMBER_COOKIE_DURATION,
        Config.SESSION_IDLE_MINUTES,
        Config.SESSION_MAX_HOURS,
    )
    assert defaults == (timedelta(days=30), 120, 12)


# ---------------------------------------------------------------- how sign-ins end


def test_signing_out_ends_only_this_browser(app: Flask, client: FlaskClient, make_member) -> None:
    member = make_member()
    phone = new_client(app)
    assert sign_in(client, member.email).status_code == 302
    assert sign_in(phone, member.email).status_code == 302
    assert len(rows_of(member)) == 2
    sign_out(client)
    assert not is_signed_in(client)
    assert is_signed_in(phone)


def test_only_a_digest_of_the_token_is_stored(client: FlaskClient, make_member) -> None:
    member = make_member()
    sign_in(client, member.email)
    (row,) = rows_of(member)
    with client.session_transaction() as session:
        member_id, _, token = session["_user_id"].partition(":")
    assert member_id == str(member.id) and len(token) >= 40
    assert token not in row.token_digest and len(row.token_digest) == 64


def test_a_sign_in_ends_at_its_absolute_end(client: FlaskClient, make_member) -> None:
    member = make_member()
    sign_in(client, member.email)
    (row,) = rows_of(member)
    assert timedelta(hours=11, minutes=59) < row.expires_at - utcnow() <= timedelta(hours=12)
    assert is_signed_in(client)
    db.session.execute(update(MemberSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert not is_signed_in(client)


def test_a_sign_in_ends_after_the_idle_time(client: FlaskClient, make_member) -> None:
    member = make_member()
    sign_in(client, member.email)
    with client.session_transaction() as session:
        seen = session[LAST_SEEN]
        assert abs(seen - time.time()) < 60
        session[LAST_SEEN] = int(time.time()) - 119 * 60
    assert is_signed_in(client)  # 119 minutes: still there, and the clock starts again
    with client.session_transaction() as session:
        assert abs(session[LAST_SEEN] - time.time()) < 60
        session[LAST_SEEN] = int(time.time()) - 121 * 60
    assert not is_signed_in(client)


def test_the_pages_own_refresh_is_not_activity(client: FlaskClient, make_member) -> None:
    member = make_member()
    sign_in(client, member.email)
    long_ago = int(time.time()) - 100 * 60
    with client.session_transaction() as session:
        session[LAST_SEEN] = long_ago
    assert client.get("/activities/due-soon", headers={"HX-Request": "true"}).status_code == 200
    with client.session_transaction() as session:
        assert session[LAST_SEEN] == long_ago


def test_keep_me_signed_in_has_no_idle_end(client: FlaskClient, make_member) -> None:
    member = make_member()
    sign_in_remembered(client, member.email)
    with client.session_transaction() as session:
        session[LAST_SEEN] = int(time.time()) - 24 * 60 * 60
    assert is_signed_in(client)


def test_sign_out_everywhere_from_your_own_page(
    app: Flask, client: FlaskClient, make_member, published
) -> None:
    member = make_member()
    signed_out = published(events.SignedOutEverywhere)
    phone = new_client(app)
    sign_in_remembered(phone, member.email)
    remembered = cookie(phone, REMEMBER)
    sign_in(client, member.email)
    page = client.get("/account").get_data(as_text=True)
    assert "You are signed in on 2 browsers" in page
    response = client.post(
        "/account/sign-out-everywhere", data={"csrf_token": csrf_token_from(page)}
    )
    assert response.headers["Location"] == "/sign-in"
    assert not is_signed_in(client)
    assert not is_signed_in(phone)
    assert not is_signed_in(with_cookie(app, REMEMBER, remembered))
    assert rows_of(member) == []
    assert signed_out == [{"member": member.id, "by": member.id, "at": signed_out[0]["at"]}]


def test_an_admin_signs_a_member_out_everywhere(
    app: Flask, client: FlaskClient, make_member, signed_in, published
) -> None:
    member = make_member()
    signed_out = published(events.SignedOutEverywhere)
    laptop = new_client(app)
    sign_in(laptop, member.email)
    admin = signed_in(Role.ADMIN)
    url = f"/setup/members/{member.id}"
    token = page_token(client, url)
    response = client.post(f"{url}/sign-out-everywhere", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == url
    assert not is_signed_in(laptop)
    assert is_signed_in(client)  # the admin stays
    assert [(e["member"], e["by"]) for e in signed_out] == [(member.id, admin.id)]


def test_a_rep_cannot_sign_others_out(
    app: Flask, client: FlaskClient, make_member, signed_in
) -> None:
    member = make_member()
    laptop = new_client(app)
    sign_in(laptop, member.email)
    signed_in(Role.REP)
    token = page_token(client, "/account")
    response = client.post(
        f"/setup/members/{member.id}/sign-out-everywhere", data={"csrf_token": token}
    )
    assert response.status_code == 403
    assert is_signed_in(laptop)


def member_form(member: Member, **changes: str) -> dict[str, str]:
    data = {
        "name": member.name,
        "email": member.email,
        "title": "",
        "role": member.role,
        "location_id": "0",
        "business_unit_id": "0",
        "points_quota": "",
        "active": "y",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    ("change", "ends"),
    [({"role": "manager"}, True), ({"active": None}, True), ({"title": "Account Manager"}, False)],
)
def test_a_role_change_or_deactivation_ends_the_members_sign_ins(
    app: Flask, client: FlaskClient, make_member, signed_in, change: dict[str, Any], ends: bool
) -> None:
    member = make_member()
    laptop = new_client(app)
    sign_in_remembered(laptop, member.email)
    remembered = cookie(laptop, REMEMBER)
    signed_in(Role.ADMIN)
    url = f"/setup/members/{member.id}"
    token = page_token(client, url)
    data = member_form(member, **change)
    response = client.post(url, data={**data, "csrf_token": token})
    assert response.status_code == 302
    assert is_signed_in(laptop) is not ends
    assert is_signed_in(with_cookie(app, REMEMBER, remembered)) is not ends


# ---------------------------------------------------------------- confirm your password


def confirm_target(location: str) -> str:
    """Where "Confirm your password" at this address returns to."""
    parts = urlsplit(location)
    assert parts.path == "/confirm-password", location
    return parse_qs(parts.query)["next"][0]


def make_stale(member: Member, minutes: int = 11) -> None:
    db.session.execute(
        update(MemberSession)
        .where(MemberSession.member_id == member.id)
        .values(password_confirmed_at=utcnow() - timedelta(minutes=minutes))
    )
    db.session.commit()


def test_setup_changes_ask_for_the_password_after_ten_minutes(
    client: FlaskClient, signed_in
) -> None:
    admin = signed_in(Role.ADMIN)
    assert client.get("/setup/team").status_code == 200  # just signed in: fresh
    make_stale(admin, minutes=9)
    assert client.get("/setup/team").status_code == 200
    make_stale(admin, minutes=11)

    # Read-only Setup pages do not ask.
    assert client.get("/setup/").status_code == 200
    assert client.get("/setup/members").status_code == 200

    response = client.get("/setup/team")
    assert response.status_code == 303
    assert confirm_target(response.headers["Location"]) == "/setup/team"
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert "Confirm your password" in html and "10 minutes" in html

    token = csrf_token_from(html)
    wrong = client.post(
        "/confirm-password?next=%2Fsetup%2Fteam",
        data={"password": "not my password at all", "csrf_token": token},
    )
    assert 'id="password-error">That is not your password.' in wrong.get_data(as_text=True)
    assert client.get("/setup/team").status_code == 303

    right = client.post(
        "/confirm-password?next=%2Fsetup%2Fteam", data={"password": PASSWORD, "csrf_token": token}
    )
    assert right.status_code == 302 and right.headers["Location"] == "/setup/team"
    assert client.get("/setup/team").status_code == 200


def test_a_stale_role_change_is_refused_until_confirmed(
    client: FlaskClient, make_member, signed_in
) -> None:
    member = make_member()
    admin = signed_in(Role.ADMIN)
    url = f"/setup/members/{member.id}"
    token = page_token(client, url)
    make_stale(admin)
    response = client.post(
        url,
        data={**member_form(member, role="admin"), "csrf_token": token},
        headers={"Referer": f"http://localhost{url}"},
    )
    assert response.status_code == 303
    assert confirm_target(response.headers["Location"]) == url
    db.session.rollback()
    assert db.session.get(Member, member.id).role == "rep"


def test_a_stale_htmx_change_sends_the_page_to_confirm(client: FlaskClient, signed_in) -> None:
    manager = signed_in(Role.MANAGER)
    token = page_token(client, "/setup/activity-types")
    make_stale(manager)
    before = db.session.scalar(select(func.count()).select_from(MemberSession))
    response = client.post(
        "/setup/activity-types",
        data={
            "new-code": "ZZ",
            "new-name": "Zed",
            "new-group": "sales",
            "new-points": "1",
            "new-monthly_count": "1",
            "csrf_token": token,
        },
        headers={
            "HX-Request": "true",
            "HX-Current-URL": "http://localhost/setup/activity-types?edit=3",
        },
    )
    assert response.status_code == 401
    assert confirm_target(response.headers["HX-Redirect"]) == "/setup/activity-types?edit=3"
    assert db.session.scalar(select(func.count()).select_from(MemberSession)) == before


def test_confirm_never_sends_you_off_site(client: FlaskClient, signed_in) -> None:
    signed_in(Role.ADMIN)
    token = page_token(client, "/confirm-password?next=https://evil.example/")
    response = client.post(
        "/confirm-password?next=https://evil.example/",
        data={"password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"
