"""A member's points quotas month by month in a real browser: a manager sets this month's
(htmx swaps the month's row), types something wrong (the error by the field, what was typed
kept), then clears it and the team's default applies again."""

from __future__ import annotations

from datetime import date

from playwright.sync_api import Page, expect

from crmlite.extensions import db
from crmlite.models import Role
from crmlite.services.periods import Month
from tests.browser.conftest import settled, sign_in_page

EMAIL = "manny@example.com"


def test_set_a_month_then_clear_it(page: Page, live_server: str, make_member) -> None:
    make_member(name="Manny Manager", email=EMAIL, role=Role.MANAGER)
    make_member(name="Cory Ferguson")
    db.session.commit()
    month = Month.of(date.today())
    sign_in_page(page, live_server, EMAIL)

    page.goto(f"/quotas/?year={month.year}")
    page.get_by_role("link", name=f"Cory Ferguson's points quotas for {month.year}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Cory Ferguson: points quotas for {month.year}"
    )
    row = page.locator(f"#points-month-{month.key}")
    expect(row).to_contain_text("team default")
    quota = row.get_by_label(f"{month.label} points quota")

    quota.fill("12 points")
    row.get_by_role("button", name="Set").click()
    expect(row.locator(".field-error")).to_contain_text("whole number")
    expect(quota).to_have_value("12 points")
    expect(quota).to_have_attribute("aria-invalid", "true")
    settled(row)

    quota.fill("350")
    quota.press("Enter")
    expect(row.locator(f"#points-quota-{month.key}")).to_have_text("350")
    expect(row).to_contain_text("set for this month")
    expect(row.get_by_role("status")).to_have_text("Saved.")
    settled(row)

    row.get_by_role("button", name="Clear").click()
    expect(row.locator(f"#points-quota-{month.key}")).to_have_text("500")
    expect(row).to_contain_text("team default")
    expect(row.get_by_role("button", name="Clear")).to_have_count(0)
