"""The dashboard in a real browser: open it, switch the quarter in place (no reload, the
URL follows), follow a figure to the deals behind it, and print it."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pypdf
import pytest
from playwright.sync_api import Page, expect

from crmlite.demo import DEMO_PASSWORD, load_demo
from crmlite.extensions import db
from crmlite.models import Member, Role
from crmlite.services import quotas
from crmlite.services.team import get_team, local_today
from tests.browser.conftest import sign_in_page

EMAIL = "nick@example.com"


@pytest.fixture()
def cory(make_member: Callable[..., Member], make_opportunity) -> Member:
    make_member(name="Nick Points", email=EMAIL, role=Role.MANAGER)
    member = make_member(name="Cory Ferguson")
    quotas.same_every_month(member, 2025, Decimal("4000"))
    for name, amount, moment in [
        ("Tows R Us - Managed Services - Complete", "45966.00", datetime(2025, 8, 5, 18)),
        ("CharTec - Managed Services - Phone System", "2895.00", datetime(2025, 10, 9, 18)),
    ]:
        make_opportunity(
            name,
            "Won",
            amount,
            won_amount=Decimal(amount),
            account_manager_id=member.id,
            closed_at=moment.replace(tzinfo=UTC),
        )
    db.session.commit()
    return member


def test_switch_quarter_in_place_then_follow_a_figure(
    page: Page, live_server: str, cory: Member
) -> None:
    sign_in_page(page, live_server, EMAIL)
    page.goto("/dashboard/?year=2025&quarter=4")
    expect(page.locator("#dashboard-quarter")).to_have_text("Q4 2025")
    expect(page.locator(f"#m{cory.id}-10-percent")).to_have_text("72 %")
    expect(page.locator(f"#m{cory.id}-ytd-10-percent")).to_have_text("122 %")
    expect(page.locator("#funnel-stages")).to_be_visible()  # loaded in place

    page.evaluate("window.notReloaded = true")
    page.get_by_label("Quarter", exact=True).select_option("3")
    expect(page).to_have_url(f"{live_server}/dashboard/?year=2025&quarter=3")
    expect(page.locator("#dashboard-quarter")).to_have_text("Q3 2025")
    expect(page.locator(f"#m{cory.id}-8-total")).to_have_text("45,966")
    expect(page.locator(f"#m{cory.id}-8-percent")).to_have_text("1149 %")
    expect(page.locator("#funnel-period")).to_contain_text("Q3 2025")
    assert page.evaluate("window.notReloaded") is True

    page.get_by_role("radio", name="Margin").check()
    expect(page).to_have_url(f"{live_server}/dashboard/?year=2025&quarter=3&basis=margin")
    expect(page.locator("#dashboard-basis")).to_contain_text("Margin")
    page.get_by_role("radio", name="Revenue").check()
    expect(page.locator("#dashboard-basis")).to_contain_text("Revenue")
    assert page.evaluate("window.notReloaded") is True

    page.locator(f"#m{cory.id}-8-total a").click()
    expect(page.get_by_role("heading", name="Won opportunities")).to_be_visible()
    expect(page.locator("#deals-subtitle")).to_have_text("Won August 2025 · Cory Ferguson")
    expect(page.locator("#deals")).to_contain_text("Tows R Us - Managed Services - Complete")
    expect(page.locator("#deals")).not_to_contain_text("CharTec")
    expect(page.locator("#deals-total")).to_have_text("45,966.00")
    page.get_by_role("link", name="Tows R Us - Managed Services - Complete").click()
    expect(page).to_have_url(f"{live_server}/opportunities/{_id(page)}")


def _id(page: Page) -> str:
    return page.url.rstrip("/").rsplit("/", 1)[-1]


def test_the_location_and_business_unit_summary_prints_on_one_page(
    page: Page, live_server: str, cory: Member, make_member: Callable[..., Member]
) -> None:
    """Quarter and year views of the summary by place, Letter and A4: one sheet each, the
    two blocks and the totals on it."""
    from crmlite.services import places

    for n in range(6):
        office = places.create_place(places.LOCATIONS, f"Site {n} - Merced")
        unit = places.create_place(places.BUSINESS_UNITS, f"Unit {n} - Managed Services")
        member = make_member(name=f"Member {n}", location_id=office.id, business_unit_id=unit.id)
        quotas.same_every_month(member, 2025, Decimal("123456.78"))
    db.session.commit()
    sign_in_page(page, live_server, EMAIL)
    page.goto("/dashboard/?year=2025&quarter=4")
    page.locator("#places-print-view").click()
    expect(page.locator("#by-location-title")).to_contain_text("Q4 2025")
    for period, title in (("quarter", "Q4 2025"), ("year", "2025")):
        page.goto(f"/dashboard/places?year=2025&quarter=4&period={period}")
        expect(page.locator("#by-location-title")).to_contain_text(title)
        page.emulate_media(media="print")
        expect(page.locator("#places-switch")).to_be_hidden()
        expect(page.locator("#unit-rows")).to_contain_text("Unit 5 - Managed Services")
        expect(page.locator("#location-totals")).to_contain_text("2,895")
        for paper in ("Letter", "A4"):
            # The year's twelve months ask for landscape (@page), as a browser's print does.
            pdf = page.pdf(format=paper, prefer_css_page_size=True)
            printed = pypdf.PdfReader(io.BytesIO(pdf))
            assert len(printed.pages) == 1, (period, paper)
            box = printed.pages[0].mediabox
            assert (box.width > box.height) == (period == "year"), (period, paper)
            text = printed.pages[0].extract_text()
            assert "Site 5 - Merced" in text and "Totals" in text
        page.emulate_media(media="screen")


def test_the_printed_dashboard_has_its_header_and_page_numbers_on_every_page(
    page: Page, live_server: str
) -> None:
    """The demo's dashboard printed at A4 and Letter: the title, period, basis and the time
    it was generated at the top of every page and "Page n of N" at the bottom (CSS paged
    media in Chromium), two full pages (no near-empty last one), every section once; the
    header follows the quarter switched in place."""
    load_demo()
    db.session.commit()
    team = get_team()
    today = local_today(ZoneInfo(team.time_zone))
    sign_in_page(page, live_server, "cory@example.com", DEMO_PASSWORD)
    page.goto("/dashboard/")
    expect(page.locator("#funnel-stages")).to_be_visible()  # loaded in place
    quarter = page.locator("#dashboard-quarter").inner_text()
    page.emulate_media(media="print")
    expect(page.locator("#dashboard-switch")).to_be_hidden()
    expect(page.locator("#funnel-period")).to_contain_text(f"as of {today:%a %Y-%m-%d}.")
    generated = rf"Generated {today:%a %Y-%m-%d} \d+:\d\d [ap]m \({team.time_zone}\)"

    for paper in ("A4", "Letter"):
        printed = pypdf.PdfReader(io.BytesIO(page.pdf(format=paper)))
        pages = [p.extract_text() for p in printed.pages]
        assert len(pages) == 2, paper
        for number, text in enumerate(pages, start=1):
            assert f"{team.name} · Sales dashboard · {quarter} · Revenue" in text, (paper, number)
            assert re.search(generated, text), (paper, number)
            assert f"Page {number} of 2" in text, (paper, number)
        assert len(pages[-1].splitlines()) > 25, paper  # the last page is no stub
        whole = "\n".join(pages)
        for heading in (
            "Quarterly summary by member",
            "Quarterly summary by location and business unit",
            "Forecast: the next three months",
            "Funnel health",
            "Lost reasons",
            "Deals that need attention",
        ):
            assert whole.count(heading) == 1, (paper, heading)
        assert "Export CSV" not in whole and "Sign out" not in whole

    page.emulate_media(media="screen")
    year, q = quarter[3:], int(quarter[1])
    other = 1 if q != 1 else 2
    page.get_by_label("Quarter", exact=True).select_option(str(other))
    expect(page.locator("#dashboard-quarter")).to_have_text(f"Q{other} {year}")
    expect(page.locator("#funnel-stages")).to_be_visible()
    page.emulate_media(media="print")  # page.pdf() prints with the emulated media
    first = pypdf.PdfReader(io.BytesIO(page.pdf(format="A4"))).pages[0].extract_text()
    assert f"Sales dashboard · Q{other} {year} · Revenue" in first
