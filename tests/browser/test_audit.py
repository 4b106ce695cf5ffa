"""The audit log in a real browser: a point value changed in place shows in the log, and
the filters narrow the list in place and stay in the address."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from crmlite.models import Role
from tests.browser.conftest import sign_in_page
from tests.conftest import activity_type

EMAIL = "nick@example.com"


def test_a_changed_point_value_shows_in_the_log_and_filters_apply_in_place(
    page: Page, live_server: str, make_member
) -> None:
    make_member(name="Nick Points", email=EMAIL, role=Role.ADMIN)
    appointment = activity_type("SA")
    sign_in_page(page, live_server, EMAIL)
    page.goto("/setup/activity-types")
    page.get_by_role("link", name="Edit SA - 1st Appointment").click()
    row = page.locator(f"#type-{appointment.id}")
    row.get_by_label("Points").fill("12")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#activity-types")).to_contain_text("SA - 1st Appointment saved.")

    page.goto("/setup/")
    page.get_by_role("link", name="Audit log").click()
    entries = page.locator("#audit-entries")
    expect(entries).to_contain_text(
        "Nick Points changed SA - 1st Appointment: 10 points, 7 a month, active → "
        "12 points, 7 a month, active"
    )
    page.evaluate("window.notReloaded = true")

    page.get_by_label("What").select_option("deleted")
    expect(page.locator("#audit-count")).to_have_text("No entries matching the filters.")
    expect(page).to_have_url(f"{live_server}/audit/?kind=deleted&member_id=&from=&to=&q=")
    page.get_by_label("What").select_option("point_value_changed")
    expect(entries).to_contain_text("SA - 1st Appointment")
    page.get_by_label("Summary contains").fill("appointment")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-count")).to_have_text("1–1 of 1 entry matching the filters.")
    page.get_by_label("From").fill("2026-11-28")
    page.get_by_label("To").fill("2026-11-01")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#audit-error")).to_contain_text("The last day is before the first day")
    expect(page.locator("#error-banner")).to_be_hidden()
    assert page.evaluate("window.notReloaded") is True
