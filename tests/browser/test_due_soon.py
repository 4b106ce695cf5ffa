"""The "Due soon" strip of a busy rep (issue #19: at a million activities every page
rendered all 60-odd reminders due): the five soonest on one line at 1600 px, then a link
to the rest; on a phone it wraps without running off the screen. The home page's table of
the day's activities stays inside its card."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, expect

from crmlite.extensions import db
from crmlite.models import Role
from tests.browser.conftest import sign_in_page
from tests.browser.test_calendar import EMAIL, LA


@pytest.mark.parametrize(("width", "height"), [(1600, 1000), (390, 844)])
def test_a_busy_strip_shows_the_soonest_five_and_links_to_the_rest(
    browser: Browser, live_server: str, make_member, make_activity, width: int, height: int
) -> None:
    nick = make_member(name="Nick Points", email=EMAIL, role=Role.REP)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for n in range(9):
        starts = now + timedelta(minutes=5 + 5 * n)
        make_activity(
            nick,
            f"Call customer number {n + 1}",
            due_on=starts.astimezone(LA).date(),
            starts_at=starts,
            ends_at=starts + timedelta(minutes=15),
            reminder_minutes=60,
        )
    db.session.commit()
    context = browser.new_context(base_url=live_server, viewport={"width": width, "height": height})
    page = context.new_page()
    sign_in_page(page, live_server, EMAIL)
    page.goto("/")
    strip = page.locator("#due-soon")
    expect(strip.locator(".due-soon-item")).to_have_count(5)
    expect(strip).to_contain_text("Call customer number 1")
    expect(strip).not_to_contain_text("Call customer number 6")
    more = strip.get_by_role("link", name="and 4 more due")
    box = strip.bounding_box()
    assert box is not None
    page.screenshot(path=f"/tmp/due-soon-{width}.png")
    if width == 1600:
        line = strip.locator(".due-soon-item").first.bounding_box()
        assert line is not None and box["height"] < 2 * line["height"] + 16  # one line
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing cut off
    card, table = (page.locator(f"#my-day{part}").bounding_box() for part in ("", " table"))
    assert card and table and table["x"] + table["width"] <= card["x"] + card["width"]
    more.click()
    expect(page).to_have_url(f"{live_server}/activities/?member_id={nick.id}&when=open")
    expect(page.locator("#main")).to_contain_text("Call customer number 9")
    context.close()
