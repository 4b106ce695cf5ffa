"""What comes in: body size, control characters, ids in paths (web/incoming.py)."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import Company, Role
from tests.conftest import page_token


def test_a_large_anonymous_post_is_refused_with_the_limit(client: FlaskClient) -> None:
    body = b"x=" + b"a" * (5 * 1024 * 1024)
    response = client.post(
        "/sign-in", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 413
    assert "larger than the 4 MB crmlite accepts" in response.get_data(as_text=True)


def test_ids_beyond_a_column_or_not_ascii_are_not_found(client: FlaskClient, signed_in) -> None:
    signed_in(Role.ADMIN)
    for path in ("/companies/2147483648", "/companies/99999999999999999999", "/companies/٣"):
        assert client.get(path).status_code == 404, path


def test_control_characters_never_reach_the_database(client: FlaskClient, signed_in, app) -> None:
    signed_in(Role.ADMIN)
    token = page_token(client, "/companies/new")
    response = client.post(
        "/companies/new",
        data={"csrf_token": token, "name": "Acme\x00 \x1bCorp", "notes": "one\ttwo\nthree\x07"},
    )
    assert response.status_code in (302, 303)
    company = db.session.scalars(select(Company)).one()
    assert company.name == "Acme Corp"
    assert company.notes == "one\ttwo\nthree"
