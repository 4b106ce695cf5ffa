"""Sign-in throttled per account as well as per address (issue #14), and the sign-in events
for the audit log."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from crmlite.models import Role
from crmlite.services import events
from tests.conftest import PASSWORD, RequestClient, csrf_token_from

THROTTLED = "Too many failed sign-ins for this account"


def browser(app: Flask, address: str) -> FlaskClient:
    """A browser of its own, connecting from ``address``."""
    app.test_client_class = RequestClient
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def attempt(client: FlaskClient, email: str, password: str) -> Any:
    token = csrf_token_from(client.get("/sign-in").get_data(as_text=True))
    return client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token})


def test_failures_from_many_addresses_throttle_the_account(
    app: Flask, make_member, published
) -> None:
    member = make_member(email="cory@example.com")
    failed = published(events.SignInFailed)
    for n in range(5):  # five addresses, one guess each: no address reaches its own limit
        response = attempt(browser(app, f"10.0.0.{n}"), member.email, "wrong password guess")
        assert response.status_code == 200
        assert "do not match" in response.get_data(as_text=True)

    # The sixth try, even with the right password, from yet another address, waits.
    response = attempt(browser(app, "10.0.0.99"), "Cory@Example.com", PASSWORD)
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert THROTTLED in html and "minutes" in html
    assert 'value="Cory@Example.com"' in html  # the form is still there, as typed
    assert [e["reason"] for e in failed] == ["wrong password"] * 5 + ["throttled"]
    assert [e["address"] for e in failed][-2:] == ["10.0.0.4", "10.0.0.99"]
    # Other accounts are not held back.
    other = make_member(email="manny@example.com")
    assert attempt(browser(app, "10.0.0.99"), other.email, PASSWORD).status_code == 302


def test_the_members_usual_browser_is_not_locked_out(app: Flask, make_member) -> None:
    member = make_member(email="cory@example.com")
    own = browser(app, "192.0.2.10")
    assert attempt(own, member.email, PASSWORD).status_code == 302
    own.post("/sign-out", data={"csrf_token": csrf_token_from(own.get("/").get_data(as_text=True))})

    for n in range(6):  # an attacker keeps the account throttled…
        attempt(browser(app, f"198.51.100.{n}"), member.email, "wrong password guess")
    assert attempt(browser(app, "192.0.2.11"), member.email, PASSWORD).status_code == 429
    # …but the browser Cory signed in from before still signs in.
    assert attempt(own, member.email, PASSWORD).status_code == 302


def test_the_throttle_ends_after_its_window(app: Flask, make_member, monkeypatch) -> None:
    member = make_member(email="cory@example.com")
    monkeypatch.setitem(app.config, "LOGIN_ACCOUNT_RATE_LIMIT", "3 per 2 seconds")
    for n in range(3):
        attempt(browser(app, f"10.1.0.{n}"), member.email, "wrong password guess")
    assert attempt(browser(app, "10.1.0.9"), member.email, PASSWORD).status_code == 429
    time.sleep(2.1)
    assert attempt(browser(app, "10.1.0.9"), member.email, PASSWORD).status_code == 302


def test_unknown_addresses_are_throttled_alike(app: Flask, published) -> None:
    failed = published(events.SignInFailed)
    for n in range(6):
        response = attempt(browser(app, f"10.2.0.{n}"), "nobody@example.com", "some guess here")
    assert response.status_code == 429 and THROTTLED in response.get_data(as_text=True)
    assert [e["reason"] for e in failed] == ["unknown e-mail"] * 5 + ["throttled"]


def test_sign_ins_are_published_with_the_client_address(app: Flask, make_member, published) -> None:
    member = make_member(email="cory@example.com")
    make_member(email="gone@example.com", active=False)
    signed = published(events.SignedIn)
    failed = published(events.SignInFailed)
    client = browser(app, "203.0.113.7")
    assert attempt(client, "gone@example.com", PASSWORD).status_code == 200
    assert attempt(client, member.email, PASSWORD).status_code == 302
    assert [(e["member"], e["address"]) for e in signed] == [(member.id, "203.0.113.7")]
    assert [(e["email"], e["reason"], e["address"]) for e in failed] == [
        ("gone@example.com", "inactive", "203.0.113.7")
    ]


def test_a_forged_known_browser_cookie_does_not_help(app: Flask, make_member) -> None:
    member = make_member(email="cory@example.com", role=Role.REP)
    for n in range(5):
        attempt(browser(app, f"10.3.0.{n}"), member.email, "wrong password guess")
    forged = browser(app, "10.3.0.9")
    forged.set_cookie("crmlite_known", f"{member.id}.forged.signature")
    assert attempt(forged, member.email, PASSWORD).status_code == 429
