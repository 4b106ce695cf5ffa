"""What the answers tell the page after a save, a cancel or a move (issue #20): the words for
its live region and where the focus goes ("crm-done" in HX-Trigger-After-Settle, read by
static/app.js; tests/browser/test_focus_*.py drive the real pages)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from crmlite.extensions import db
from crmlite.models import Role
from crmlite.services.calendar import week_start
from crmlite.services.team import local_today
from tests.conftest import page_token, stage

LA = ZoneInfo("America/Los_Angeles")


def said(response: TestResponse) -> dict:
    """The "crm-done" detail an answer carries (empty when it carries none)."""
    header = response.headers.get("HX-Trigger-After-Settle")
    return json.loads(header)["crm-done"] if header else {}


def htmx_post(client: FlaskClient, url: str, data: dict, page: str) -> TestResponse:
    token = page_token(client, page)
    return client.post(url, data=data, headers={"HX-Request": "true", "X-CSRFToken": token})


def test_a_board_move_says_where_the_card_went_and_keeps_the_focus_on_it(
    client, signed_in, make_opportunity
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(name="Acme - Phones", account_manager_id=me.id)
    db.session.commit()
    lost = stage("Lost")
    url = f"/board/opportunities/{deal.id}/move"
    data = {"stage_id": lost.id, "version": deal.version, "via": "drag"}
    # A question first: nothing said, the question's own field has the focus.
    assert said(htmx_post(client, url, data, "/board/")) == {}
    data |= {"prompt": "lost", "lost_reason": "Chose the incumbent", "open_activities": "cancel"}
    response = htmx_post(client, url, data, "/board/")
    assert said(response) == {
        "say": "Moved Acme - Phones to Lost",
        "focus": [f"#card-{deal.id} .card-title"],
    }
    # With the keyboard, the focus goes to the card's "Move to" list in its new place.
    db.session.refresh(deal)
    data = {"stage_id": stage("Prospect").id, "version": deal.version, "prompt": "reopen"}
    assert said(htmx_post(client, url, data, "/board/")) == {
        "say": "Moved Acme - Phones to Prospect",
        "focus": [f"#move-{deal.id}", f"#card-{deal.id} .card-title"],
    }


def test_a_refused_board_move_says_why(client, signed_in, make_opportunity) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(name="Acme - Phones", account_manager_id=me.id)
    db.session.commit()
    url = f"/board/opportunities/{deal.id}/move"
    stale = {"stage_id": stage("Discovery").id, "version": deal.version + 1}
    detail = said(htmx_post(client, url, stale, "/board/"))
    assert "nothing was overwritten" in detail["say"]
    assert detail["focus"][-1] == f"#card-{deal.id} .card-title"
    bad = {"stage_id": 999_999, "version": deal.version}
    assert said(htmx_post(client, url, bad, "/board/")) == {
        "say": "That stage does not exist; nothing moved.",
        "focus": [f"#card-{deal.id} .card-title"],
    }


def test_a_cancelled_move_says_so_but_a_plain_card_refresh_says_nothing(
    client, signed_in, make_opportunity
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(name="Acme - Phones", stage_name="Discovery", account_manager_id=me.id)
    db.session.commit()
    plain = client.get(f"/board/opportunities/{deal.id}/card")
    assert said(plain) == {}
    cancelled = client.get(f"/board/opportunities/{deal.id}/card?cancelled=1")
    assert cancelled.get_data(as_text=True) == plain.get_data(as_text=True)
    assert said(cancelled) == {
        "say": "Not moved: Acme - Phones stays in Discovery",
        "focus": [f"#card-{deal.id} .card-title"],
    }
    assert client.get("/board/opportunities/999999/card?cancelled=1").status_code == 404


def test_a_new_opportunity_is_announced_and_focused(client, signed_in) -> None:
    me = signed_in(Role.REP)
    response = htmx_post(
        client,
        "/board/opportunities/new",
        {"new-name": "Acme - Phones", "new-account_manager_id": me.id},
        "/board/",
    )
    detail = said(response)
    assert detail["say"] == "Added Acme - Phones to Prospect"
    assert detail["focus"][0].endswith(" .card-title")


def test_saving_an_activity_says_so(client, signed_in, make_activity) -> None:
    me = signed_in(Role.REP)
    activity = make_activity(me, "Call Jason")
    db.session.commit()
    response = htmx_post(client, f"/activities/{activity.id}/done", {}, "/activities/")
    assert said(response) == {"say": "Marked done: Call Jason"}
    assert "activity-closed" in json.loads(response.headers["HX-Trigger"])


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), LA).astimezone(UTC)


def test_a_calendar_move_says_where_and_refreshes_due_soon(
    client, signed_in, make_activity
) -> None:
    me = signed_in(Role.REP)
    monday = week_start(local_today(LA)) + timedelta(days=7)
    tuesday = monday + timedelta(days=1)
    meeting = make_activity(
        me, "1st Appointment", due_on=monday, starts_at=at(monday, 10), ends_at=at(monday, 11)
    )
    db.session.commit()
    url = f"/calendar/activities/{meeting.id}/move"
    data = {"due_on": tuesday.isoformat(), "start": "11:00", "version": meeting.version}
    response = htmx_post(client, url, data, "/calendar/")
    assert said(response) == {
        "say": f"Moved 1st Appointment to Tue {tuesday.day} {tuesday:%b %Y}, 11:00 am",
        "focus": [f"#cal-activity-{meeting.id}"],
    }
    assert json.loads(response.headers["HX-Trigger"]) == {"activity-moved": {"id": meeting.id}}
    html = response.get_data(as_text=True)
    # The block's name starts with its day and full time.
    assert f'<span class="visually-hidden">Tue {tuesday.day} {tuesday:%b %Y}, 11:00 am' in html

    # The same version again: someone (this page) changed it meanwhile; nothing moves.
    stale = htmx_post(client, url, data | {"start": "15:00"}, "/calendar/")
    assert "Someone changed this activity meanwhile" in said(stale)["say"]
    assert said(stale)["focus"] == [f"#cal-activity-{meeting.id}"]
    assert "HX-Trigger" not in stale.headers
