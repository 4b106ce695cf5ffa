"""Points in a real browser: the summary rises as activities close on the page, the printed
page (print media) is the clean signed sheet, and the points table is edited in place."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pypdf
from playwright.sync_api import Page, expect

from crmlite.extensions import db
from crmlite.models import Activity, Role
from crmlite.services import activities
from crmlite.services.team import local_today
from tests.browser.conftest import sign_in_page
from tests.conftest import activity_type

EMAIL = "nick@example.com"


def test_closing_an_activity_raises_the_points_without_a_reload(
    page: Page, live_server: str, make_member, make_activity
) -> None:
    nick = make_member(name="Nick Points", email=EMAIL, role=Role.REP)
    today = local_today(ZoneInfo("America/Los_Angeles"))
    make_activity(nick, "Cold call block: accounting offices", code="CC", due_on=today)
    make_activity(nick, "Review with CharTec", code="TBR", due_on=today)
    sign_in_page(page, live_server, EMAIL)
    page.goto(f"/points/members/{nick.id}")
    summary = page.locator("#points-summary")
    earned = summary.locator(".points-earned")
    expect(earned).to_have_text("0")
    page.evaluate("window.notReloaded = true")

    item = page.locator(".activity-item", has_text="Cold call block")
    item.get_by_role("button", name="Done").click()
    expect(earned).to_have_text("15")
    expect(summary.locator(".points-attained")).to_have_text("3 %")
    expect(item).to_contain_text("Done")

    page.locator(".activity-item", has_text="Review with CharTec").get_by_role(
        "button", name="Done"
    ).click()
    expect(earned).to_have_text("35")
    cold_calls = summary.locator("tr", has_text="2 Hr Cold Call Block")
    expect(cold_calls.locator(".line-count")).to_have_text("1")
    assert page.evaluate("window.notReloaded") is True

    db.session.rollback()
    closed = db.session.query(Activity).filter(Activity.points_earned.is_not(None)).count()
    assert closed == 2


def test_the_printed_page_is_the_signed_sheet(
    page: Page, live_server: str, make_member, make_activity
) -> None:
    nick = make_member(name="Nick Points", email=EMAIL, role=Role.REP)
    for code in ("SA", "SA", "TBR", "HQ"):
        activity = make_activity(nick, f"{code} work", code=code)
        activities.close_activity(activity, by=nick, now=datetime(2025, 10, 15, 18, tzinfo=UTC))
    db.session.commit()
    sign_in_page(page, live_server, EMAIL)
    page.goto(f"/points/members/{nick.id}?month=2025-10")
    sheet = page.locator(f"#points-sheet-{nick.id}")
    # On screen: navigation and the month picker; no signature lines.
    expect(page.locator(".site-header")).to_be_visible()
    expect(sheet.locator(".signatures")).to_be_hidden()

    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".month-picker")).to_be_hidden()
    expect(page.get_by_role("link", name="PDF")).to_be_hidden()
    expect(sheet.locator(".sheet-header")).to_be_visible()
    expect(sheet.locator(".sheet-team")).to_have_text("crmlite")
    expect(sheet.locator(".sheet-title")).to_have_text("Points summary: Nick Points · October 2025")
    expect(sheet.locator(".sheet-generated")).to_contain_text("(America/Los_Angeles)")
    expect(sheet.locator(".points-earned")).to_have_text("45")
    expect(sheet.locator(".points-quota")).to_have_text("500")
    expect(sheet.locator(".points-attained")).to_have_text("9 %")
    expect(sheet.locator(".points-total")).to_have_text("45")
    appointment = sheet.locator("tr", has_text="1st Appointment")
    expect(appointment.locator(".line-count")).to_have_text("2")
    expect(appointment.locator(".line-points")).to_have_text("20")
    expect(sheet.locator(".signatures")).to_be_visible()
    expect(sheet.locator(".signatures")).to_contain_text("Member: Nick Points")
    expect(sheet.locator(".signatures")).to_contain_text("Manager")
    expect(sheet.locator(".points-pace")).to_have_text("−455 behind")  # the whole quota
    # The whole sheet fits on one printed page, Letter or A4, its figures first.
    for paper in ("Letter", "A4"):
        printed = pypdf.PdfReader(io.BytesIO(page.pdf(format=paper)))
        assert len(printed.pages) == 1, (paper, [p.extract_text()[:600] for p in printed.pages])
        text = printed.pages[0].extract_text()
        assert re.search(r"Points earned\s*45\s*Monthly quota\s*500\s*Quota attained\s*9 %", text)
        assert text.index("Quota attained") < text.index("1st Appointment") < text.index("Date")


def test_the_print_button_prints_this_months_sheet_with_its_pace(
    page: Page, live_server: str, make_member, make_activity
) -> None:
    nick = make_member(name="Nick Points", email=EMAIL, role=Role.REP)
    activity = make_activity(nick, "Review with CharTec", code="TBR")
    activities.close_activity(activity, by=nick, now=datetime.now(UTC))
    db.session.commit()
    sign_in_page(page, live_server, EMAIL)
    page.goto(f"/points/members/{nick.id}")
    page.get_by_role("link", name="Print", exact=True).click()
    expect(page).to_have_title(re.compile(r"^Points summary: Nick Points · \w+ \d{4} · crmlite$"))
    # A stub records the call (a real print dialog would block the headless browser).
    page.evaluate("() => { window.print = () => { window.printed = (window.printed || 0) + 1; }; }")
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.printed") == 1

    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    sheet = page.locator(f"#points-sheet-{nick.id}")
    expect(sheet.locator(".points-earned")).to_have_text("20")
    # This month: the pace is on paper, "behind" in words (or ahead, or on pace).
    expect(sheet.locator(".points-pace")).to_be_visible()
    in_words = re.compile(r"^(−\d+ behind|\+\d+ ahead|0 on pace)$")
    expect(sheet.locator(".points-pace")).to_have_text(in_words)
    expect(sheet.locator(".points-expected")).to_contain_text("points expected by today")
    for paper in ("Letter", "A4"):
        printed = pypdf.PdfReader(io.BytesIO(page.pdf(format=paper)))
        assert len(printed.pages) == 1, paper
        assert "Pace today" in printed.pages[0].extract_text()


def test_print_all_puts_each_member_on_a_page_of_their_own(
    page: Page, live_server: str, make_member
) -> None:
    make_member(name="Cory Ferguson", email=EMAIL, role=Role.MANAGER)
    make_member(name="Manny Martinez")
    make_member(name="Nick Points")
    sign_in_page(page, live_server, EMAIL)
    page.goto("/points/")
    page.get_by_role("link", name="Print all members").click()
    page.emulate_media(media="print")
    # The leaderboard with its team row first, then each member on a page of their own.
    sheets = page.locator(".points-sheet")
    expect(sheets).to_have_count(4)
    expect(sheets.first).to_have_id("points-leaderboard")
    breaks = [sheets.nth(i).evaluate("el => getComputedStyle(el).breakBefore") for i in range(4)]
    assert breaks == ["auto", "page", "page", "page"]
    expect(page.locator(".site-header")).to_be_hidden()
    for paper in ("Letter", "A4"):
        printed = pypdf.PdfReader(io.BytesIO(page.pdf(format=paper)))
        titles = [p.extract_text().split("\n")[1] for p in printed.pages]
        assert titles[0].startswith("Points leaderboard"), paper
        assert [t.split(" · ")[0] for t in titles[1:]] == [
            "Points summary: Cory Ferguson",
            "Points summary: Manny Martinez",
            "Points summary: Nick Points",
        ], paper


def test_edit_the_points_table_in_place(page: Page, live_server: str, make_member) -> None:
    make_member(name="Cory Ferguson", email=EMAIL, role=Role.MANAGER)
    appointment = activity_type("SA")
    sign_in_page(page, live_server, EMAIL)
    page.goto("/setup/activity-types")
    expect(page.locator("#points-total")).to_have_text("644")
    page.evaluate("window.notReloaded = true")

    page.get_by_role("link", name="Edit SA - 1st Appointment").click()
    row = page.locator(f"#type-{appointment.id}")
    row.get_by_label("Points").fill("-2")
    row.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("The points cannot be negative.")
    expect(row.get_by_label("Points")).to_have_value("-2")
    expect(page.locator("#points-total")).to_have_text("644")

    row.get_by_label("Points").fill("12")
    row.get_by_label("Points").press("Enter")
    expect(page.locator("#activity-types")).to_contain_text("SA - 1st Appointment saved.")
    expect(page.locator("#points-total")).to_have_text(str(644 + 14))
    expect(row).to_contain_text("12")
    assert page.evaluate("window.notReloaded") is True
