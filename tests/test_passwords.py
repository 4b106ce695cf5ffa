"""Passwords (issue #14): the rule for new passwords, changing your own, reset links."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from crmlite.models import Role
from crmlite.services import members
from tests.conftest import PASSWORD, page_token


def test_a_password_of_eleven_characters_is_refused(app) -> None:
    with pytest.raises(ValueError, match="12 characters"):
        members.create_member(
            email="eleven@example.com", name="Eleven", password="abcdefghijk", role=Role.REP
        )


def test_a_member_changes_their_own_password(client: FlaskClient, signed_in) -> None:
    signed_in(Role.REP)
    token = page_token(client, "/account")
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase",
            "new_password_again": "a brand new passphrase",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302


def test_add_member_refuses_an_address_the_sign_in_form_refuses(app) -> None:
    result = app.test_cli_runner().invoke(
        args=["crm", "add-member", "--email", "bob@localhost", "--name", "Bob"],
        input="a long enough passphrase\na long enough passphrase\n",
    )
    assert result.exit_code != 0, result.output
