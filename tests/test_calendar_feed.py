"""The private calendar feed: created, reset and revoked by its member; fetched without
signing in, as Outlook, Google Calendar or Apple Calendar do; valid iCalendar (RFC 5545), in
the team's time zone; done activities and captured e-mails as the member chooses."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient

from crmlite.extensions import db
from crmlite.models import Member, Role
from crmlite.services import calendar as cal
from crmlite.services.team import local_today
from tests.conftest import page_token

LA = ZoneInfo("America/Los_Angeles")
FEED_URL_RE = re.compile(r'value="(http://localhost/calendar/feed/([\w-]+)\.ics)"')


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), LA).astimezone(UTC)


@pytest.fixture()
def anonymous(app: Flask) -> FlaskClient:
    """A calendar app: no session, no cookies."""
    return app.test_client()


def subscribe(client: FlaskClient, action: str = "create") -> str:
    """Press the button on the feed page; returns the subscription address shown."""
    token = page_token(client, "/calendar/subscription")
    response = client.post(
        "/calendar/subscription",
        data={"action": action, "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    match = FEED_URL_RE.search(html)
    assert match, html
    return match.group(1)


def events(body: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(event["SUMMARY"]): event for event in calendar.walk("VEVENT")}


def test_subscribe_then_fetch_without_signing_in(
    client, signed_in, anonymous, make_activity, make_company, make_member, queries
) -> None:
    me = signed_in(Role.REP, name="Nick Points")
    html = client.get("/calendar/subscription").get_data(as_text=True)
    assert "Create my calendar feed" in html and "/calendar/feed/" not in html

    url = subscribe(client)
    db.session.expire_all()
    token = db.session.get(Member, me.id).calendar_token
    assert url == f"http://localhost/calendar/feed/{token}.ics"
    assert len(token) >= 43
    assert f'href="webcal://localhost/calendar/feed/{token}.ics"' in client.get(
        "/calendar/subscription"
    ).get_data(as_text=True)

    monday = local_today(LA) + timedelta(days=7 - local_today(LA).weekday())
    chartec = make_company(name="CharTec")
    meeting = make_activity(
        me,
        "1st Appointment with Jason",
        code="SA",
        due_on=monday,
        starts_at=at(monday, 10),
        ends_at=at(monday, 11),
        reminder_minutes=15,
        place="On-Site",
        company_id=chartec.id,
        phone="(866) 544-2772",
    )
    postcard = make_activity(me, "Thank you postcard", due_on=monday + timedelta(days=1))
    done = make_activity(
        me,
        "Met Shane",
        due_on=local_today(LA) - timedelta(days=3),
        closed=True,
        starts_at=at(local_today(LA) - timedelta(days=3), 9),
        ends_at=at(local_today(LA) - timedelta(days=3), 9, 30),
        reminder_minutes=15,
    )
    make_activity(me, "Too old", due_on=local_today(LA) - timedelta(days=31))
    make_activity(me, "Too far", due_on=local_today(LA) + timedelta(days=181))
    make_activity(make_member(), "Someone else's", due_on=monday)

    with queries() as counted:
        response = anonymous.get(url.removeprefix("http://localhost"))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert counted.count <= 4, counted.statements

    calendar = icalendar.Calendar.from_ical(response.data)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == cal.FEED_PRODID
    assert "Nick Points" in str(calendar["X-WR-CALNAME"])
    found = events(response.data)
    assert set(found) == {"1st Appointment with Jason", "Thank you postcard", "✓ Done: Met Shane"}

    event = found["1st Appointment with Jason"]
    assert str(event["UID"]) == f"activity-{meeting.id}@crmlite"
    # Stored in UTC, sent in the team's zone: the local 10:00 to 11:00 of that Monday.
    assert event["DTSTART"].params["TZID"] == "America/Los_Angeles"
    assert event["DTSTART"].dt == at(monday, 10) and event["DTEND"].dt == at(monday, 11)
    assert event["DTSTART"].dt.replace(tzinfo=None) == datetime.combine(monday, time(10))
    assert b"DTSTART;TZID=America/Los_Angeles:" + f"{monday:%Y%m%d}T100000".encode() in (
        response.data
    )
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["America/Los_Angeles"]
    assert str(event["LOCATION"]) == "On-Site"
    description = str(event["DESCRIPTION"])
    assert "Company: CharTec" in description and "Phone: (866) 544-2772" in description
    assert int(event["SEQUENCE"]) == meeting.version
    assert str(event["X-CRMLITE-STATUS"]) == "Open"
    assert str(event["STATUS"]) == "CONFIRMED"
    (alarm,) = event.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm["TRIGGER"].dt == timedelta(minutes=-15)
    assert b"TRIGGER:-PT15M" in response.data

    # Untimed: an all-day event on its day.
    all_day = found["Thank you postcard"]
    assert str(all_day["UID"]) == f"activity-{postcard.id}@crmlite"
    assert all_day["DTSTART"].dt == monday + timedelta(days=1)
    assert not isinstance(all_day["DTSTART"].dt, datetime)
    assert all_day["DTEND"].dt == monday + timedelta(days=2)
    assert b"DTSTART;VALUE=DATE:" in response.data
    assert not all_day.walk("VALARM")

    # Closed: still there (it happened), marked so, and no longer rings.
    closed = found["✓ Done: Met Shane"]
    assert str(closed["UID"]) == f"activity-{done.id}@crmlite"
    assert str(closed["X-CRMLITE-STATUS"]) == "Closed"
    assert "Status: Closed" in str(closed["DESCRIPTION"])
    assert not closed.walk("VALARM")


def test_the_product_example_in_the_feed(app, make_member, make_company, make_contact) -> None:
    """PRODUCT.md's activity: Mon 2013-12-09 10:00-11:00 in Los Angeles is 18:00-19:00 UTC."""
    from tests.conftest import activity_type

    nick = make_member(name="Nick Points")
    chartec = make_company(name="CharTec")
    jason = make_contact(first_name="Jason", last_name="Rivas", company_id=chartec.id)
    from crmlite.models import Activity

    activity = Activity(
        subject="1st Appointment with Jason",
        type_id=activity_type("SA").id,
        assigned_to_id=nick.id,
        company_id=chartec.id,
        contact_id=jason.id,
        phone="(866) 544-2772",
        due_on=date(2013, 12, 9),
        starts_at=at(date(2013, 12, 9), 10),
        ends_at=at(date(2013, 12, 9), 11),
        reminder_minutes=15,
        place="On-Site",
    )
    db.session.add(activity)
    db.session.commit()

    body = cal.feed(nick, today=date(2013, 12, 1), calendar_name="Nick Points", tz=LA)

    assert b"DTSTART;TZID=America/Los_Angeles:20131209T100000" in body
    assert b"DTEND;TZID=America/Los_Angeles:20131209T110000" in body
    event = events(body)["1st Appointment with Jason"]
    assert event["DTSTART"].dt == datetime(2013, 12, 9, 18, 0, tzinfo=UTC)
    description = str(event["DESCRIPTION"])
    assert f"Type: {activity_type('SA').label}" in description
    assert "Contact: Jason Rivas" in description
    assert str(event["LAST-MODIFIED"].dt.tzinfo) == "UTC"
    # The lines are folded and escaped by the library (RFC 5545), never by hand.
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))


def test_reset_and_revoke(client, signed_in, anonymous) -> None:
    signed_in(Role.REP)
    first = subscribe(client).removeprefix("http://localhost")
    assert anonymous.get(first).status_code == 200
    # Creating again keeps the same address.
    assert subscribe(client).removeprefix("http://localhost") == first

    second = subscribe(client, "reset").removeprefix("http://localhost")
    assert second != first
    assert anonymous.get(first).status_code == 404
    assert anonymous.get(second).status_code == 200

    token = page_token(client, "/calendar/subscription")
    response = client.post(
        "/calendar/subscription",
        data={"action": "revoke", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    html = response.get_data(as_text=True)
    assert "switched off" in html and "Create my calendar feed" in html
    assert anonymous.get(second).status_code == 404


def test_feed_refusals(client, signed_in, anonymous, make_member) -> None:
    assert anonymous.get("/calendar/feed/not-a-real-token.ics").status_code == 404
    assert anonymous.get(f"/calendar/feed/{'x' * 200}.ics").status_code == 404
    # The settings page is not public, and its buttons need the CSRF token.
    assert anonymous.get("/calendar/subscription").status_code == 302
    me = signed_in(Role.REP)
    assert client.post("/calendar/subscription", data={"action": "create"}).status_code == 400
    token = page_token(client, "/calendar/subscription")
    response = client.post(
        "/calendar/subscription",
        data={"action": "delete-everything", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and "Choose create, reset or revoke." in response.text
    db.session.expire_all()
    assert db.session.get(Member, me.id).calendar_token is None

    # Without htmx: the plain form posts, then comes back to the page.
    response = client.post("/calendar/subscription", data={"action": "create", "csrf_token": token})
    assert response.status_code == 302
    assert "Your calendar feed is ready" in client.get("/calendar/subscription").text

    # A deactivated member's feed stops.
    url = FEED_URL_RE.search(client.get("/calendar/subscription").text).group(1)
    member = db.session.get(Member, me.id)
    member.active = False
    db.session.commit()
    assert anonymous.get(url.removeprefix("http://localhost")).status_code == 404


def test_unchanged_feed_answers_304_and_changes_show(
    client, signed_in, anonymous, make_activity
) -> None:
    me = signed_in(Role.REP)
    url = subscribe(client).removeprefix("http://localhost")
    day = local_today(LA) + timedelta(days=2)
    meeting = make_activity(me, "Demo", due_on=day, starts_at=at(day, 10), ends_at=at(day, 11))

    first = anonymous.get(url)
    etag = first.headers["ETag"]
    again = anonymous.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag and not again.data

    meeting = db.session.get(type(meeting), meeting.id)
    cal.move_activity(meeting, due_on=day, start=time(15), tz=LA, expected_version=1)
    db.session.commit()
    changed = anonymous.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    event = events(changed.data)["Demo"]
    assert event["DTSTART"].dt == at(day, 15) and int(event["SEQUENCE"]) == 2
