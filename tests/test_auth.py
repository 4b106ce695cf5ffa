"""Sign-in, sign-out, the sign-in guard, rate limiting and CSRF."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from crmlite.extensions import db
from crmlite.models import Member, Role
from tests.conftest import PASSWORD, csrf_token_from, page_token, sign_in


def test_every_page_needs_sign_in(client: FlaskClient) -> None:
    for url in [
        "/",
        "/board/",
        "/companies",
        "/contacts",
        "/opportunities/stalled",
        "/activities/",
        "/calendar/",
        "/points/",
        "/dashboard/",
        "/campaigns/",
        "/tracks/",
        "/setup/",
        "/setup/members",
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/sign-in?next="), url


def test_htmx_request_without_session_is_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/sign-in"


def test_sign_in_then_home_then_sign_out(client: FlaskClient, make_member) -> None:
    member = make_member(name="Cory Ferguson", email="cory@example.com")
    response = sign_in(client, "Cory@Example.com ")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    home = client.get("/").get_data(as_text=True)
    assert "Good day, Cory" in home
    assert db.session.get(Member, member.id).last_sign_in_at is not None

    token = csrf_token_from(home)
    response = client.post("/sign-out", data={"csrf_token": token})
    assert response.headers["Location"] == "/sign-in"
    assert client.get("/").status_code == 302


def test_wrong_password_keeps_email_and_says_so(client: FlaskClient, make_member) -> None:
    make_member(email="nick@example.com")
    response = sign_in(client, "nick@example.com", "wrong-password")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "That e-mail and password do not match" in html
    assert 'value="nick@example.com"' in html
    assert client.get("/").status_code == 302


def test_unknown_email_gets_the_same_message(client: FlaskClient) -> None:
    html = sign_in(client, "nobody@example.com").get_data(as_text=True)
    assert "That e-mail and password do not match" in html


def test_inactive_member_cannot_sign_in(client: FlaskClient, make_member) -> None:
    make_member(email="gone@example.com", active=False)
    assert sign_in(client, "gone@example.com").status_code == 200
    assert client.get("/").status_code == 302


def test_empty_and_malformed_fields_get_messages_beside_them(client: FlaskClient) -> None:
    token = page_token(client, "/sign-in")
    html = client.post(
        "/sign-in", data={"email": "not-an-email", "password": "", "csrf_token": token}
    ).get_data(as_text=True)
    assert 'id="email-error">Enter a valid e-mail address.' in html
    assert 'id="password-error">Enter your password.' in html
    assert 'value="not-an-email"' in html


def test_password_managers_know_the_fields(client: FlaskClient, signed_in) -> None:
    """WCAG 1.3.5: the sign-in name and passwords say what they are (autocomplete)."""
    html = client.get("/sign-in").get_data(as_text=True)
    assert re.search(r'<input[^>]*autocomplete="username"[^>]*name="email"', html)
    assert re.search(r'<input[^>]*autocomplete="current-password"[^>]*name="password"', html)
    signed_in()
    account = client.get("/account").get_data(as_text=True)
    for name, purpose in (
        ("current_password", "current-password"),
        ("new_password", "new-password"),
        ("new_password_again", "new-password"),
    ):
        assert re.search(rf'<input[^>]*autocomplete="{purpose}"[^>]*name="{name}"', account), name


def test_next_goes_back_to_the_page_but_never_off_site(client: FlaskClient, make_member) -> None:
    make_member(email="a@example.com")
    for target, expected in [
        ("/setup/", "/setup/"),
        ("https://evil.example/x", "/"),
        ("//evil.example", "/"),
    ]:
        client.get("/sign-in")
        token = page_token(client, "/sign-in")
        response = client.post(
            f"/sign-in?next={target}",
            data={"email": "a@example.com", "password": PASSWORD, "csrf_token": token},
        )
        assert response.headers["Location"] == expected, target
        client.post("/sign-out", data={"csrf_token": page_token(client, "/")})


def test_post_without_csrf_token_is_refused_and_changes_nothing(
    client: FlaskClient, make_member
) -> None:
    make_member(email="a@example.com")
    response = client.post("/sign-in", data={"email": "a@example.com", "password": PASSWORD})
    assert response.status_code == 400
    assert "nothing was changed" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_sign_in_attempts_are_rate_limited_per_address(client: FlaskClient, make_member) -> None:
    make_member(email="a@example.com")
    # A different e-mail each time, so the per-account limit (test_sign_in_throttle) is not hit.
    statuses = [
        sign_in(client, f"guess{n}@example.com", "wrong-password").status_code for n in range(11)
    ]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429
    # Even the right password waits until the window passes.
    response = sign_in(client, "a@example.com")
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/sign-in")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    html = response.get_data(as_text=True)
    assert "<script>" not in html and "onclick" not in html
    assert '"allowEval":false' in html and '"allowScriptTags":false' in html


def test_session_cookie_is_httponly_and_lax(client: FlaskClient, make_member) -> None:
    make_member(email="a@example.com")
    response = sign_in(client, "a@example.com")
    cookie = next(
        v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session=")
    )
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_passwords_are_hashed_with_scrypt(make_member) -> None:
    member = make_member(role=Role.REP)
    assert member.password_hash.startswith("scrypt:")
    assert PASSWORD not in member.password_hash
