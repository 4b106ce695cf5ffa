"""A seller's loop in a real browser: log an activity from a board card, close it, get
asked for the next step, schedule it, and find it on the calendar."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from crmlite.extensions import db
from crmlite.models import Activity, Role
from crmlite.services.team import local_today
from tests.browser.conftest import sign_in_page

EMAIL = "nick@example.com"


@pytest.fixture()
def deal(make_member, make_opportunity, make_company) -> int:
    nick = make_member(name="Nick Points", email=EMAIL, role=Role.REP)
    chartec = make_company(name="CharTec")
    opportunity = make_opportunity(
        name="Managed Services - Phone System", account_manager_id=nick.id, company_id=chartec.id
    )
    db.session.commit()
    return opportunity.id


def test_log_close_and_schedule_the_next_step_from_a_board_card(
    page: Page, live_server: str, deal: int
) -> None:
    today = local_today(ZoneInfo("America/Los_Angeles"))
    sign_in_page(page, live_server, EMAIL)
    page.goto("/board/")
    card = page.locator(f"#card-{deal}")
    expect(card).to_contain_text("Stalled")

    card.locator(".card-menu summary").click()  # the card's "⋯" menu
    card.get_by_role("button", name="+ Activity (Managed Services - Phone System)").click()
    form = page.locator("#board-panel form")
    expect(form).to_contain_text("For Managed Services - Phone System")
    form.get_by_label("Type").select_option(label="SE - Follow up Call/Email")
    form.get_by_label("Subject").fill("Call Jason about the phone system")
    form.get_by_label("Date").fill(today.isoformat())
    form.get_by_role("button", name="Save").click()
    item = page.locator("#board-panel .activity-item")
    expect(item).to_contain_text("Call Jason about the phone system")
    # The card now shows it as its next step.
    expect(card).to_contain_text("Call Jason about the phone system")

    item.get_by_role("button", name="Done").click()
    expect(item).to_contain_text("has no next step now")
    item.get_by_role("button", name="Schedule the next step").click()
    form = page.locator("#board-panel form")
    day = today + timedelta(days=(7 - today.weekday()) % 7 or 7)  # next Monday
    form.get_by_label("Type").select_option(label="SA - 1st Appointment")
    form.get_by_label("Subject").fill("1st Appointment with Jason")
    form.get_by_label("Date").fill(day.isoformat())
    form.get_by_label("Start").fill("10:00")
    form.get_by_label("End").fill("11:00")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#board-panel")).to_contain_text("1st Appointment with Jason")
    expect(card).to_contain_text("1st Appointment with Jason")
    expect(card).not_to_contain_text("Stalled")

    # And it is on that week's calendar, 10:00–11:00.
    page.goto(f"/calendar/?week={day.isoformat()}")
    block = page.locator("main").get_by_role(
        "button", name=re.compile("1st Appointment with Jason")
    )
    expect(block).to_be_visible()
    expect(block).to_contain_text("10:00")

    db.session.rollback()
    subjects = {a.subject: a.status for a in db.session.query(Activity)}
    assert subjects == {
        "Call Jason about the phone system": "Closed",
        "1st Appointment with Jason": "Open",
    }
