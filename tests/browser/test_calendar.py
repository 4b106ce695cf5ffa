"""The calendar in a real browser: drag an activity to another day and time with the mouse;
click a free slot to schedule one in place."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from playwright.sync_api import Locator, Page, expect

from crmlite.database import write_intent
from crmlite.extensions import db
from crmlite.models import Activity, Role
from crmlite.services.calendar import week_start
from crmlite.services.team import local_today
from tests.browser.conftest import sign_in_page

LA = ZoneInfo("America/Los_Angeles")
EMAIL = "nick@example.com"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), LA).astimezone(UTC)


@pytest.fixture()
def week(make_member, make_activity, make_company) -> dict:
    nick = make_member(name="Nick Points", email=EMAIL, role=Role.REP)
    chartec = make_company(name="CharTec")
    monday = week_start(local_today(LA)) + timedelta(days=7)
    meeting = make_activity(
        nick,
        "1st Appointment with Jason",
        code="SA",
        due_on=monday,
        starts_at=at(monday, 10),
        ends_at=at(monday, 11),
        company_id=chartec.id,
    )
    db.session.commit()
    return {"member": nick.id, "monday": monday, "meeting": meeting.id}


def column(page: Page, day: date) -> Locator:
    return page.locator(f'.cal-day[data-day="{day.isoformat()}"]')


def drag(page: Page, item: Locator, target: Locator) -> None:
    """Press on the block, move the mouse in steps onto the slot, release: a person's drag."""
    start = item.bounding_box()
    end = target.bounding_box()
    assert start and end
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + 8)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 10, start["y"] + 20, steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=20)
    page.mouse.up()


def open_week(page: Page, live_server: str, monday: date) -> None:
    sign_in_page(page, live_server, EMAIL)
    page.goto(f"/calendar/?week={monday.isoformat()}")
    expect(page.get_by_role("heading", name="Calendar", level=1)).to_be_visible()


def test_drag_an_activity_to_another_day_and_time(page: Page, live_server: str, week: dict) -> None:
    monday, meeting = week["monday"], week["meeting"]
    wednesday = monday + timedelta(days=2)
    open_week(page, live_server, monday)
    block = page.locator(f"#cal-activity-{meeting}")
    expect(column(page, monday).locator(f"#cal-activity-{meeting}")).to_contain_text(
        "10:00 am–11:00 am"
    )
    expect(block).to_contain_text("CharTec")

    drag(page, block, column(page, wednesday).locator('.cal-slot[data-start="14:30"]'))

    moved = column(page, wednesday).locator(f"#cal-activity-{meeting}")
    expect(moved).to_contain_text("2:30 pm–3:30 pm")
    expect(column(page, monday).locator(f"#cal-activity-{meeting}")).to_have_count(0)
    # The drop did not open the activity in the panel.
    expect(page.locator("#calendar-panel-body")).to_be_empty()

    page.reload()
    expect(column(page, wednesday).locator(f"#cal-activity-{meeting}")).to_contain_text(
        "2:30 pm–3:30 pm"
    )
    db.session.rollback()
    activity = db.session.get(Activity, meeting)
    assert activity.due_on == wednesday
    assert activity.starts_at == at(wednesday, 14, 30)
    assert activity.ends_at == at(wednesday, 15, 30)
    assert activity.version == 2


def test_a_stale_drag_shows_where_the_activity_really_is(
    page: Page, live_server: str, week: dict
) -> None:
    monday, meeting = week["monday"], week["meeting"]
    tuesday, thursday = monday + timedelta(days=1), monday + timedelta(days=3)
    open_week(page, live_server, monday)
    # Someone else moves it to Tuesday 9:00 while this page still shows Monday 10:00.
    db.session.rollback()
    writing = write_intent.set(True)  # a writer's transaction, as the server's would be
    try:
        activity = db.session.get(Activity, meeting)
        activity.due_on, activity.starts_at = tuesday, at(tuesday, 9)
        activity.ends_at = at(tuesday, 10)
        db.session.commit()
    finally:
        write_intent.reset(writing)

    block = column(page, monday).locator(f"#cal-activity-{meeting}")
    drag(page, block, column(page, thursday).locator('.cal-slot[data-start="15:00"]'))

    expect(page.locator(".cal-notice")).to_contain_text("Someone changed this activity meanwhile")
    expect(column(page, tuesday).locator(f"#cal-activity-{meeting}")).to_contain_text(
        "9:00 am–10:00 am"
    )
    expect(column(page, thursday).locator(f"#cal-activity-{meeting}")).to_have_count(0)


def _has_activity_form(app: Flask) -> bool:
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    return "/activities/new" in rules and "/activities/<int:activity_id>/edit" in rules


def test_click_a_free_slot_to_schedule_in_place(
    page: Page, live_server: str, week: dict, app: Flask
) -> None:
    if not _has_activity_form(app):
        pytest.skip("the activities area's in-place form (/activities/new) is not built yet")
    monday = week["monday"]
    tuesday = monday + timedelta(days=1)
    open_week(page, live_server, monday)
    column(page, tuesday).locator('.cal-slot[data-start="09:00"]').click()
    form = page.locator("#calendar-panel-body #activity-form")
    expect(form).to_be_visible()
    expect(form.get_by_label("Date")).to_have_value(tuesday.isoformat())
    expect(form.get_by_label("Start")).to_have_value("09:00")
    expect(form.get_by_label("End")).to_have_value("09:30")

    form.get_by_label("Subject").fill("Call Jason about the phone system")
    form.get_by_role("button", name="Save").click()
    # Saved: the week refreshes itself and shows it in its slot.
    new_block = column(page, tuesday).locator(".cal-block", has_text="Call Jason")
    expect(new_block).to_contain_text("9:00 am")
    expect(new_block).to_have_attribute("title", re.compile(r"^9:00 am–9:30 am · Call Jason"))
    expect(new_block).to_have_class(re.compile(r"\brow-start-5 row-span-1\b"))

    page.get_by_role("button", name="Close").click()
    expect(page.locator("#calendar-panel-body")).to_be_empty()
    # Enter on a block opens it in the same panel, to edit it with the keyboard.
    page.locator(f"#cal-activity-{week['meeting']}").focus()
    page.keyboard.press("Enter")
    edit_form = page.locator(f"#calendar-panel-body #activity-form-{week['meeting']}")
    expect(edit_form).to_be_visible()
    expect(edit_form.get_by_label("Subject")).to_have_value("1st Appointment with Jason")
