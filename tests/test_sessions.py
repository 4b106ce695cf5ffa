"""Sessions that really end (issue #14): a copied cookie dies at sign-out, remember-me is
revocable and new at each sign-in, the session is renewed at sign-in."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import PASSWORD, csrf_token_from, page_token, sign_in

REMEMBER = "remember_token"


def cookie(client: FlaskClient, name: str) -> str | None:
    found = client.get_cookie(name)
    return found.value if found is not None else None


def sign_in_remembered(client: FlaskClient, email: str, password: str = PASSWORD):
    token = page_token(client, "/sign-in")
    return client.post(
        "/sign-in",
        data={"email": email, "password": password, "remember": "y", "csrf_token": token},
    )


def sign_out(client: FlaskClient) -> None:
    response = client.post("/sign-out", data={"csrf_token": page_token(client, "/")})
    assert response.status_code == 302


def test_a_copied_session_cookie_stops_working_at_sign_out(
    app: Flask, client: FlaskClient, make_member
) -> None:
    member = make_member()
    assert sign_in(client, member.email).status_code == 302
    stolen = cookie(client, "session")
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/").status_code == 200  # the copy works while the owner is signed in

    sign_out(client)
    response = thief.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_the_remember_cookie_differs_at_each_sign_in(client: FlaskClient, make_member) -> None:
    member = make_member()
    values = []
    for _ in range(2):
        assert sign_in_remembered(client, member.email).status_code == 302
        values.append(cookie(client, REMEMBER))
        sign_out(client)
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
    assert client.get("/").status_code == 200
    after = csrf_token_from(client.get("/").get_data(as_text=True))
    assert after != before
