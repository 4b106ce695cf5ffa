"""Tracks in a real browser: enroll a contact from their page, "Run now", and find the
track's first activity on the calendar."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from crmlite.extensions import db
from crmlite.models import Role
from crmlite.web import tracks as tracks_web
from tests.browser.conftest import sign_in_page

EMAIL = "cory@example.com"


def last_business_day(day: date) -> date:
    return day - timedelta(days=max(0, day.weekday() - 4))


@pytest.fixture()
def shane(make_member, make_company, make_contact) -> int:
    cory = make_member(name="Cory Ferguson", email=EMAIL, role=Role.MANAGER)
    company = make_company(name="Tows R Us", account_manager_id=cory.id)
    contact = make_contact(first_name="Shane", last_name="Swanson", company_id=company.id)
    db.session.commit()
    return contact.id


def test_enroll_from_the_contact_page_then_run_now_shows_on_the_calendar(
    page: Page, live_server: str, shane: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing is due on a weekend: on one, the track pages act as of the Friday before
    # (still this calendar week).
    real = tracks_web.local_today
    monkeypatch.setattr(tracks_web, "local_today", lambda tz: last_business_day(real(tz)))
    sign_in_page(page, live_server, EMAIL)
    page.goto(f"/contacts/{shane}")
    tracks = page.locator("#contact-tracks")
    tracks.get_by_label("Put on a track").select_option(label="Value-Add Review")
    tracks.get_by_role("button", name="Enroll").click()
    expect(page.get_by_text("1 contact put on Value-Add Review.")).to_be_visible()
    expect(page.locator("#contact-tracks")).to_contain_text("0 / 3")
    expect(page.locator("#contact-tracks")).to_contain_text("Plan a technology business review")

    page.goto("/tracks/")
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_text("Tracks ran: 1 steps run: 1 activities scheduled")).to_be_visible()

    page.goto("/calendar/?weekend=1")
    expect(page.locator("main")).to_contain_text("Plan a technology business review")
    page.goto(f"/contacts/{shane}")
    expect(page.locator("#contact-tracks")).to_contain_text("1 / 3")
