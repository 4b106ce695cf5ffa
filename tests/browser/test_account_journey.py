"""Your account in a real browser: changing your password, and "Confirm your password"
before a change in Setup, coming back to the page you were on (issue #14)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import Member, MemberSession, Role
from tests.browser.conftest import sign_in_page
from tests.conftest import PASSWORD

EMAIL = "nick@example.com"
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture()
def nick(make_member: Callable[..., Member]) -> None:
    # Committed by the factory; its attributes are not read here (see test_sign_in_journey).
    make_member(name="Nick Points", email=EMAIL, role=Role.ADMIN)


@pytest.mark.usefixtures("nick")
def test_change_your_password_from_your_account(page: Page, live_server: str) -> None:
    sign_in_page(page, live_server, EMAIL)
    page.get_by_role("link", name="Nick Points").click()
    expect(page.get_by_role("heading", name="Your account", level=1)).to_be_visible()
    section = page.locator("#change-password")

    # A refusal says why next to the field and keeps the person on the page.
    section.get_by_label("Current password").fill(PASSWORD)
    section.get_by_label("New password", exact=True).fill("password1234")
    section.get_by_label("New password again").fill("password1234")
    section.get_by_role("button", name="Change password").click()
    expect(page.locator("#new_password-error")).to_contain_text("most common passwords")
    expect(page.get_by_label("New password", exact=True)).to_have_attribute("aria-invalid", "true")

    section.get_by_label("Current password").fill(PASSWORD)
    section.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    section.get_by_label("New password again").fill(NEW_PASSWORD)
    section.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Password changed.")).to_be_visible()
    expect(page).to_have_url(f"{live_server}/account")

    # Still signed in here; out, then in with the new password only.
    page.get_by_role("button", name="Sign out", exact=True).click()
    sign_in_page(page, live_server, EMAIL, PASSWORD)
    expect(page.locator("#sign-in-error")).to_be_visible()
    sign_in_page(page, live_server, EMAIL, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Good day, Nick")).to_be_visible()


@pytest.mark.usefixtures("nick")
def test_confirm_your_password_before_a_change_in_setup(page: Page, live_server: str) -> None:
    sign_in_page(page, live_server, EMAIL)
    expect(page.get_by_role("heading", name="Good day, Nick")).to_be_visible()
    # Eleven minutes pass.
    db.session.execute(
        update(MemberSession).values(password_confirmed_at=utcnow() - timedelta(minutes=11))
    )
    db.session.commit()

    page.goto("/setup/activity-types")
    expect(page).to_have_url(re.compile(r"/confirm-password\?next="))
    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_be_focused()

    page.get_by_label("Password", exact=True).fill("not my password")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#password-error")).to_have_text("That is not your password.")

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(f"{live_server}/setup/activity-types")
    expect(page.get_by_role("heading", name="Activity types", level=1)).to_be_visible()
