"""Passwords (issue #14): the one rule for new passwords, changing your own, one-time reset
links, and one e-mail rule for the CLI and the forms."""

from __future__ import annotations

import re
import time
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from crmlite.demo import DEMO_PASSWORD
from crmlite.extensions import db
from crmlite.models import Member, OutboxMessage, Role
from crmlite.services import delivery, events, members
from crmlite.web.auth_forms import SignInForm
from tests.conftest import PASSWORD, RequestClient, csrf_token_from, page_token, sign_in

NEW_PASSWORD = "a brand new passphrase"


def new_client(app: Flask) -> FlaskClient:
    app.test_client_class = RequestClient
    return app.test_client()


def fresh(member: Member) -> Member:
    db.session.rollback()
    found = db.session.get(Member, member.id)
    assert found is not None
    return found


# ---------------------------------------------------------------- the rule


@pytest.mark.parametrize(
    ("password", "refusal"),
    [
        ("abcdefghijk", "Use at least 12 characters."),  # 11: the old minimum let it in
        ("x" * 257, "Use at most 256 characters."),
        ("cory.ferguson@example.com", "Do not use your e-mail address"),
        ("Cory.Ferguson", "Do not use your e-mail address"),  # its local part, any case
        ("cory.ferguson2026!", "Do not use your e-mail address"),  # padded
        ("qwerty123456", "most common passwords"),
        ("1q2w3e4r5t6y", "most common passwords"),
        ("Password1234", "most common passwords"),
        ("Sunshine2026!!", "most common passwords"),  # a common one with digits added
        ("iloveyou!!!!!!", "most common passwords"),
    ],
)
def test_new_passwords_that_are_refused(password: str, refusal: str) -> None:
    found = members.password_refusal(password, email="Cory.Ferguson@example.com")
    assert found is not None and refusal in found


@pytest.mark.parametrize(
    "password", ["abcdefghijkl", PASSWORD, DEMO_PASSWORD, NEW_PASSWORD, "x" * 256]
)
def test_new_passwords_that_pass(password: str) -> None:
    assert members.password_refusal(password, email="cory@example.com") is None


def test_the_bundled_list_of_common_passwords() -> None:
    common = members.common_passwords()
    assert len(common) > 1_000
    assert {"password", "123456", "qwerty123456", "1qaz2wsx3edc"} <= common
    assert all(word == word.lower() and not word.startswith("#") for word in common)
    text = members.COMMON_PASSWORDS_FILE.read_text()
    assert "Royce Williams" in text and "BSD-3-Clause" in text  # where it comes from
    assert members.COMMON_PASSWORDS_FILE.with_suffix(".LICENSE").exists()


def test_a_password_of_eleven_characters_is_refused(app) -> None:
    with pytest.raises(ValueError, match="12 characters"):
        members.create_member(
            email="eleven@example.com", name="Eleven", password="abcdefghijk", role=Role.REP
        )


def test_members_with_older_passwords_still_sign_in(client: FlaskClient, make_member) -> None:
    member = make_member()
    member.password_hash = members.hash_password("ten-chars!")  # set before the rule
    db.session.commit()
    assert sign_in(client, member.email, "ten-chars!").status_code == 302


def add_member(app: Flask, email: str, password: str) -> Any:
    return app.test_cli_runner().invoke(
        args=["crm", "add-member", "--email", email, "--name", "Bob", "--password", password]
    )


def test_add_member_follows_the_password_rule(app: Flask) -> None:
    result = add_member(app, "bob@example.com", "password1234")
    assert result.exit_code != 0 and "most common passwords" in result.output
    result = add_member(app, "bob.builder@example.com", "bob.builder@example.com")
    assert result.exit_code != 0 and "e-mail address" in result.output
    assert add_member(app, "bob@example.com", NEW_PASSWORD).exit_code == 0


def test_the_new_member_form_follows_the_password_rule(client: FlaskClient, signed_in) -> None:
    signed_in(Role.ADMIN)
    token = page_token(client, "/setup/members/new")
    html = client.post(
        "/setup/members/new",
        data={
            "name": "Manny",
            "email": "manny@example.com",
            "role": "rep",
            "location_id": "0",
            "business_unit_id": "0",
            "password": "qwerty123456",
            "csrf_token": token,
        },
    ).get_data(as_text=True)
    assert re.search(r'id="password-error">This is one of the most common passwords', html)
    assert db.session.query(Member).filter_by(email="manny@example.com").count() == 0


# ---------------------------------------------------------------- one e-mail rule


@pytest.mark.parametrize(
    "address",
    [
        "bob@localhost",
        "bob@example.test",
        "bob",
        "bob@@example.com",
        "bob smith@example.com",
        "bob@example..com",
        "x" * 250 + "@example.com",
        "ann@example.com",
        "Ann.Lee+crm@Example.COM",
    ],
)
def test_add_member_and_the_sign_in_form_agree_on_addresses(app: Flask, address: str) -> None:
    with app.test_request_context(method="POST", data={"email": address, "password": "x"}):
        form_accepts = SignInForm(meta={"csrf": False}).validate()
    result = add_member(app, address, NEW_PASSWORD)
    assert (result.exit_code == 0) is form_accepts, result.output
    if not form_accepts:
        assert "Enter" in result.output or "at most 254" in result.output


def test_add_member_refuses_an_address_the_sign_in_form_refuses(app) -> None:
    result = app.test_cli_runner().invoke(
        args=["crm", "add-member", "--email", "bob@localhost", "--name", "Bob"],
        input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )
    assert result.exit_code != 0, result.output
    assert "should have a period" in result.output
    assert members.find_by_email("bob@localhost") is None


def test_the_member_form_refuses_what_sign_in_would_refuse(
    client: FlaskClient, make_member, signed_in
) -> None:
    member = make_member()
    signed_in(Role.ADMIN)
    url = f"/setup/members/{member.id}"
    token = page_token(client, url)
    html = client.post(
        url,
        data={
            "name": member.name,
            "email": "bob@localhost",
            "role": "rep",
            "location_id": "0",
            "business_unit_id": "0",
            "active": "y",
            "csrf_token": token,
        },
    ).get_data(as_text=True)
    assert 'id="email-error">Enter a valid e-mail address.' in html
    assert fresh(member).email == member.email


# ---------------------------------------------------------------- changing your own


def change(client: FlaskClient, current: str, new: str, again: str | None = None) -> Any:
    token = page_token(client, "/account")
    return client.post(
        "/account/password",
        data={
            "current_password": current,
            "new_password": new,
            "new_password_again": new if again is None else again,
            "csrf_token": token,
        },
    )


def test_a_member_changes_their_own_password(
    app: Flask, client: FlaskClient, make_member, published
) -> None:
    member = make_member()
    changed = published(events.PasswordChanged)
    laptop = new_client(app)
    sign_in(laptop, member.email)
    sign_in(client, member.email)
    page = client.get("/account").get_data(as_text=True)
    assert 'id="change-password"' in page and "Current password" in page
    before = client.get_cookie("session")
    assert before is not None

    response = change(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    assert check_password_hash(fresh(member).password_hash, NEW_PASSWORD)
    assert client.get("/").status_code == 200  # this browser stays signed in…
    assert laptop.get("/").status_code == 302  # …every other one is signed out
    thief = new_client(app)
    thief.set_cookie("session", before.value)
    assert thief.get("/").status_code == 302  # and this browser's old cookie is dead
    assert [(e["member"], e["by"]) for e in changed] == [(member.id, member.id)]

    other = new_client(app)
    assert sign_in(other, member.email, PASSWORD).status_code == 200
    assert sign_in(other, member.email, NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "again", "field", "message"),
    [
        ("wrong password here", NEW_PASSWORD, None, "current_password", "not your current"),
        (PASSWORD, NEW_PASSWORD, "another passphrase", "new_password_again", "differ"),
        (PASSWORD, "password1234", None, "new_password", "most common"),
        (PASSWORD, "short", None, "new_password", "at least 12"),
        (PASSWORD, PASSWORD, None, "new_password", "your current password"),
        ("", NEW_PASSWORD, None, "current_password", "Enter your current password."),
    ],
)
def test_a_refused_password_change_says_why_and_changes_nothing(
    client: FlaskClient,
    signed_in,
    published,
    current: str,
    new: str,
    again: str | None,
    field: str,
    message: str,
) -> None:
    member = signed_in(Role.REP)
    changed = published(events.PasswordChanged)
    hashed = fresh(member).password_hash
    response = change(client, current, new, again)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    error = re.search(rf'id="{field}-error">([^<]*)<', html)
    assert error and message in error.group(1), html[:200]
    assert fresh(member).password_hash == hashed
    assert changed == []
    assert client.get("/").status_code == 200


# ---------------------------------------------------------------- reset links


def issue_link(client: FlaskClient, member: Member) -> str:
    url = f"/setup/members/{member.id}"
    response = client.post(f"{url}/reset-link", data={"csrf_token": page_token(client, url)})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    match = re.search(r'id="reset-link-url"[^>]*value="([^"]+)"', html)
    assert match, html
    return match.group(1).replace("&amp;", "&")


def path_of(link: str) -> str:
    return link.removeprefix("http://localhost")


def reset(app: Flask, link: str, new: str = NEW_PASSWORD, again: str | None = None) -> Any:
    visitor = new_client(app)
    page = visitor.get(path_of(link))
    assert page.status_code == 200, page.status_code
    return visitor.post(
        path_of(link),
        data={
            "new_password": new,
            "new_password_again": new if again is None else again,
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
        },
    )


def test_an_admin_issues_a_one_time_reset_link(
    app: Flask, client: FlaskClient, make_member, signed_in, published
) -> None:
    member = make_member(email="forgetful@example.com")
    issued = published(events.PasswordResetIssued)
    changed = published(events.PasswordChanged)
    laptop = new_client(app)
    sign_in(laptop, member.email)
    admin = signed_in(Role.ADMIN)

    link = issue_link(client, member)
    assert link.startswith("http://localhost/reset-password/")
    assert [(e["member"], e["by"]) for e in issued] == [(member.id, admin.id)]
    # Shown once: the member's page does not show it again.
    assert link not in client.get(f"/setup/members/{member.id}").get_data(as_text=True)

    visitor = new_client(app)
    page = visitor.get(path_of(link))
    assert "For forgetful@example.com" in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"

    response = reset(app, link)
    assert response.status_code == 302 and response.headers["Location"] == "/sign-in"
    assert check_password_hash(fresh(member).password_hash, NEW_PASSWORD)
    assert laptop.get("/").status_code == 302  # every sign-in of theirs ended
    assert [(e["member"], e["by"]) for e in changed] == [(member.id, None)]

    # Single use: the same link again leads nowhere.
    used = new_client(app).get(path_of(link))
    assert used.status_code == 410
    assert "used already" in used.get_data(as_text=True)
    assert sign_in(new_client(app), member.email, NEW_PASSWORD).status_code == 302


def test_a_reset_link_refuses_a_weak_password_and_stays_usable(
    app: Flask, client: FlaskClient, make_member, signed_in
) -> None:
    member = make_member()
    signed_in(Role.ADMIN)
    link = issue_link(client, member)
    html = reset(app, link, "password1234").get_data(as_text=True)
    assert 'id="new_password-error">This is one of the most common passwords' in html
    html = reset(app, link, NEW_PASSWORD, "something else entirely").get_data(as_text=True)
    assert 'id="new_password_again-error">The two passwords differ' in html
    assert check_password_hash(fresh(member).password_hash, PASSWORD)
    assert reset(app, link).status_code == 302


def test_a_reset_link_expires_after_an_hour(
    app: Flask, client: FlaskClient, make_member, signed_in, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = make_member()
    signed_in(Role.ADMIN)
    link = issue_link(client, member)
    later = time.time() + 3601
    monkeypatch.setattr(time, "time", lambda: later)
    response = new_client(app).get(path_of(link))
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)


def test_a_reset_link_dies_when_the_member_changes_their_password(
    app: Flask, client: FlaskClient, make_member, signed_in
) -> None:
    member = make_member()
    signed_in(Role.ADMIN)
    link = issue_link(client, member)
    own = new_client(app)
    sign_in(own, member.email)
    assert change(own, PASSWORD, NEW_PASSWORD).status_code == 302
    assert new_client(app).get(path_of(link)).status_code == 410


def test_a_tampered_reset_link_is_refused(
    app: Flask, client: FlaskClient, make_member, signed_in
) -> None:
    member = make_member()
    signed_in(Role.ADMIN)
    link = path_of(issue_link(client, member))
    for bad in (link[:-2] + ("AA" if not link.endswith("AA") else "BB"), "/reset-password/x"):
        response = new_client(app).get(bad)
        assert response.status_code == 410
        assert "not a valid reset link" in response.get_data(as_text=True)


def test_only_admins_issue_reset_links(
    client: FlaskClient, make_member, signed_in, published
) -> None:
    member = make_member()
    issued = published(events.PasswordResetIssued)
    signed_in(Role.MANAGER)
    token = page_token(client, "/account")
    response = client.post(f"/setup/members/{member.id}/reset-link", data={"csrf_token": token})
    assert response.status_code == 403
    assert issued == []


class FakeMailer:
    sent: list[EmailMessage] = []

    def __enter__(self) -> FakeMailer:
        return self

    def __exit__(self, *_: object) -> None:
        pass

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


def test_the_link_is_e_mailed_when_a_mail_server_is_configured(
    app: Flask, client: FlaskClient, make_member, signed_in, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = make_member(email="forgetful@example.com")
    signed_in(Role.ADMIN)
    FakeMailer.sent = []

    issue_link(client, member)
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0  # shown only

    monkeypatch.setitem(app.config, "MAIL_SERVER", "mail.example.com")
    url = f"/setup/members/{member.id}"
    response = client.post(f"{url}/reset-link", data={"csrf_token": page_token(client, url)})
    html = response.get_data(as_text=True)
    assert "It is also on its way by e-mail to forgetful@example.com" in html
    assert FakeMailer.sent == []  # queued, not sent inside the request
    delivered = delivery.deliver(FakeMailer(), sender=app.config["MAIL_FROM"])  # the worker
    assert delivered.sent == 1
    (message,) = FakeMailer.sent
    assert message["To"].addresses[0].addr_spec == "forgetful@example.com"
    link = re.search(r'id="reset-link-url"[^>]*value="([^"]+)"', html)
    assert link and link.group(1) in message.get_content()
