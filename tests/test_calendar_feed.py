"""The private calendar feed: created, reset and revoked by its member; fetched without
signing in, as Outlook, Google Calendar or Apple Calendar do; valid iCalendar (RFC 5545), in
the team's time zone; done activities and captured e-mails as the member chooses."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import joinedload

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityNote,
    ActivityType,
    CalendarFeedStamp,
    Member,
    Role,
    StoredCalendarEvent,
)
from crmlite.services import calendar as cal
from crmlite.services import calendar_feed, capture
from crmlite.services.activities import add_note, close_activity, reopen_activity
from crmlite.services.team import get_team, local_today
from crmlite.web.calendar import feeds
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
    # The team, the member, the version, the stored events, the activities to build, and
    # the events stored: whatever their number (see test_feed_request_statements).
    assert counted.count <= 6, counted.statements

    calendar = icalendar.Calendar.from_ical(response.data)
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["PRODID"]) == calendar_feed.FEED_PRODID
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

    body = calendar_feed.feed(nick, today=date(2013, 12, 1), calendar_name="Nick Points", tz=LA)

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


# -- issue #15: always valid, in the team's zone; what the feed shows ------------------------------


def captured_email(member: Member, subject: str, sent: datetime) -> Activity:
    """An e-mail captured as crmlite captures them: a closed E-mail activity with a note."""
    raw = (
        f"From: Pat Doe <pat@unknown.example>\r\nTo: {member.email}\r\nSubject: {subject}\r\n"
        f"Date: {format_datetime(sent)}\r\nMessage-ID: <{subject.replace(' ', '.')}@x>\r\n\r\n"
        "The e-mail's text.\r\n"
    ).encode()
    result = capture.capture_email(raw, captured_by=member, tz=LA, now=sent + timedelta(hours=1))
    db.session.commit()
    return result.activity


def checkbox(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert match, html
    return match.group(0)


def test_an_empty_feed_is_valid_with_the_team_zone(app, make_member) -> None:
    """RFC 5545 wants at least one component: the zone's VTIMEZONE is always there."""
    nobody = make_member(name="New Hire")
    body = calendar_feed.feed(nobody, today=date(2026, 6, 15), calendar_name="New Hire", tz=LA)

    calendar = icalendar.Calendar.from_ical(body)
    assert not calendar.walk("VEVENT")
    (zone,) = calendar.walk("VTIMEZONE")
    assert str(zone["TZID"]) == "America/Los_Angeles"
    # Its rules cover the window (30 days back, 180 ahead): summer and winter time both.
    assert {str(rule["TZNAME"]) for rule in zone.subcomponents} == {"PST", "PDT"}
    assert str(calendar["X-WR-TIMEZONE"]) == "America/Los_Angeles"
    assert str(calendar["X-WR-CALNAME"]) == "New Hire"
    assert body.startswith(b"BEGIN:VCALENDAR\r\n") and b"BEGIN:VTIMEZONE\r\n" in body


def test_times_are_in_the_team_zone_set_in_setup(
    client, signed_in, anonymous, make_activity
) -> None:
    """The team in Berlin: events carry DTSTART;TZID=Europe/Berlin and Berlin wall times,
    and the VTIMEZONE that TZID names is in the feed."""
    team = get_team()
    team.time_zone = "Europe/Berlin"
    db.session.commit()
    berlin = ZoneInfo("Europe/Berlin")
    me = signed_in(Role.REP)
    url = subscribe(client).removeprefix("http://localhost")
    day = local_today(berlin) + timedelta(days=3)
    make_activity(
        me,
        "Kick-off",
        due_on=day,
        starts_at=datetime.combine(day, time(9, 30), berlin).astimezone(UTC),
        ends_at=datetime.combine(day, time(10, 15), berlin).astimezone(UTC),
    )

    body = anonymous.get(url).data
    calendar = icalendar.Calendar.from_ical(body)
    assert [str(zone["TZID"]) for zone in calendar.walk("VTIMEZONE")] == ["Europe/Berlin"]
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/Berlin"
    event = events(body)["Kick-off"]
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert event["DTSTART"].dt.replace(tzinfo=None) == datetime.combine(day, time(9, 30))
    assert event["DTEND"].dt.replace(tzinfo=None) == datetime.combine(day, time(10, 15))
    assert f"DTSTART;TZID=Europe/Berlin:{day:%Y%m%d}T093000".encode() in body


def test_captured_emails_only_when_asked_for(app, make_member, make_activity) -> None:
    me = make_member()
    today = local_today(LA)
    make_activity(me, "Call Jason", due_on=today)
    captured_email(me, "Re: the quote", datetime.now(UTC) - timedelta(days=2))

    by_default = events(calendar_feed.feed(me, today=today, calendar_name="Me", tz=LA))
    assert set(by_default) == {"Call Jason"}

    calendar_feed.update_feed_settings(me, include_captured=True, include_done=True)
    db.session.commit()
    found = events(calendar_feed.feed(me, today=today, calendar_name="Me", tz=LA))
    assert set(found) == {"Call Jason", "✓ Done: Re: the quote"}
    # Its text (the capture's note) is in the description.
    assert "The e-mail's text." in str(found["✓ Done: Re: the quote"]["DESCRIPTION"])


def test_done_activities_marked_without_alarm_or_left_out(app, make_member, make_activity) -> None:
    me = make_member()
    today = local_today(LA)
    yesterday = today - timedelta(days=1)
    make_activity(
        me,
        "Demo at CharTec",
        due_on=yesterday,
        closed=True,
        starts_at=at(yesterday, 14),
        ends_at=at(yesterday, 15),
        reminder_minutes=30,
    )
    make_activity(
        me, "Follow-up call", due_on=today, starts_at=at(today, 16), ends_at=at(today, 16, 30)
    )

    found = events(calendar_feed.feed(me, today=today, calendar_name="Me", tz=LA))
    done = found["✓ Done: Demo at CharTec"]
    # A VEVENT's STATUS may only be TENTATIVE, CONFIRMED or CANCELLED (RFC 5545 3.8.1.11):
    # the subject and crmlite's own status say it is done.
    assert str(done["STATUS"]) == "CONFIRMED"
    assert str(done["X-CRMLITE-STATUS"]) == "Closed"
    assert not done.walk("VALARM")
    assert str(found["Follow-up call"]["X-CRMLITE-STATUS"]) == "Open"

    calendar_feed.update_feed_settings(me, include_captured=False, include_done=False)
    db.session.commit()
    feed = calendar_feed.feed(me, today=today, calendar_name="Me", tz=LA)
    assert set(events(feed)) == {"Follow-up call"}


def test_alarms_only_on_timed_open_activities(app, make_member, make_activity) -> None:
    """An all-day event's alarm would ring the evening before (its day starts at midnight)."""
    me = make_member()
    day = local_today(LA) + timedelta(days=1)
    make_activity(me, "Send the proposal", due_on=day, reminder_minutes=60)
    make_activity(
        me,
        "Call Shane",
        due_on=day,
        starts_at=at(day, 9),
        ends_at=at(day, 9, 15),
        reminder_minutes=10,
    )
    found = events(calendar_feed.feed(me, today=local_today(LA), calendar_name="Me", tz=LA))
    assert not found["Send the proposal"].walk("VALARM")
    (alarm,) = found["Call Shane"].walk("VALARM")
    assert alarm["TRIGGER"].dt == timedelta(minutes=-10)


def test_notes_in_the_description_cut_when_long(app, make_member, make_activity) -> None:
    me = make_member(name="Nick Points")
    day = local_today(LA)
    short = make_activity(me, "Call Jason", due_on=day)
    add_note(short, by=me, body="Asked for the price list.", now=at(day, 8))
    add_note(short, by=me, body="Wants a demo on Tuesday.", now=at(day, 9, 5))
    long = make_activity(me, "Long story", due_on=day)
    add_note(long, by=me, body="word " * 3_000)
    db.session.commit()

    found = events(calendar_feed.feed(me, today=day, calendar_name="Me", tz=LA))
    description = str(found["Call Jason"]["DESCRIPTION"])
    assert description.startswith("Type: ") and "Status: Open" in description
    # Newest first, each stamped in the team's time with its author.
    newest = description.index(
        f"Note, {day:%Y-%m-%d} 09:05, Nick Points:\nWants a demo on Tuesday."
    )
    assert newest < description.index("Asked for the price list.")
    cut = str(found["Long story"]["DESCRIPTION"])
    assert cut.endswith("…") and len(cut) == calendar_feed.DESCRIPTION_LIMIT
    assert len(str(found["Call Jason"]["DESCRIPTION"])) < 300


def test_feed_statements_do_not_grow_with_activities_or_notes(
    app, make_member, make_activity, queries
) -> None:
    me = make_member()
    day = local_today(LA)
    first = make_activity(me, "Only one", due_on=day)
    add_note(first, by=me, body="A note.")
    db.session.commit()
    with queries() as few:
        calendar_feed.feed(me, today=day, calendar_name="Me", tz=LA)
    for n in range(6):
        activity = make_activity(me, f"Call {n}", due_on=day + timedelta(days=n))
        for k in range(3):
            add_note(activity, by=me, body=f"Note {k} of {n}.")
    db.session.commit()
    db.session.expire_all()
    with queries() as many:
        body = calendar_feed.feed(me, today=day, calendar_name="Me", tz=LA)
    assert many.count == few.count, many.statements
    assert len(events(body)) == 7
    assert "Note 2 of 5." in str(events(body)["Call 5"]["DESCRIPTION"])


def test_a_note_added_changes_the_etag(client, signed_in, anonymous, make_activity) -> None:
    me = signed_in(Role.REP)
    url = subscribe(client).removeprefix("http://localhost")
    meeting = make_activity(me, "Demo", due_on=local_today(LA))
    etag = anonymous.get(url).headers["ETag"]
    add_note(meeting, by=me, body="Bring the contract.")
    db.session.commit()
    changed = anonymous.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert "Bring the contract." in str(events(changed.data)["Demo"]["DESCRIPTION"])


def test_the_settings_form_changes_only_my_own_feed(
    client, signed_in, anonymous, make_member, make_activity
) -> None:
    me = signed_in(Role.MANAGER)
    other = make_member()
    url = subscribe(client).removeprefix("http://localhost")
    today = local_today(LA)
    make_activity(me, "Done call", due_on=today, closed=True)
    captured_email(me, "Quote request", datetime.now(UTC) - timedelta(days=1))
    before = anonymous.get(url)
    assert set(events(before.data)) == {"✓ Done: Done call"}

    page = client.get("/calendar/subscription").text
    assert "checked" in checkbox(page, "include_done")
    assert "checked" not in checkbox(page, "include_captured")

    # Without the CSRF token: refused, nothing changed.
    refused = client.post(
        "/calendar/subscription/settings",
        data={"include_captured": "y"},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 400
    db.session.expire_all()
    assert db.session.get(Member, me.id).feed_include_captured is False

    token = page_token(client, "/calendar/subscription")
    response = client.post(
        "/calendar/subscription/settings",
        # Naming another member changes nothing of theirs: the form is about my own feed.
        data={"include_captured": "y", "csrf_token": token, "member_id": str(other.id)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.text
    assert html.lstrip().startswith('<section class="panel cal-subscription"')
    assert "Saved" in html
    assert "checked" in checkbox(html, "include_captured")
    assert "checked" not in checkbox(html, "include_done")
    db.session.expire_all()
    mine, theirs = db.session.get(Member, me.id), db.session.get(Member, other.id)
    assert (mine.feed_include_captured, mine.feed_include_done) == (True, False)
    assert (theirs.feed_include_captured, theirs.feed_include_done) == (False, True)

    after = anonymous.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    # Captured e-mails are closed when captured: asked for, they show with done ones left out.
    assert set(events(after.data)) == {"✓ Done: Quote request"}

    # Without htmx: back to the page, which says it saved.
    response = client.post(
        "/calendar/subscription/settings", data={"include_done": "y", "csrf_token": token}
    )
    assert response.status_code == 302
    assert "Saved" in client.get("/calendar/subscription").text
    db.session.expire_all()
    mine = db.session.get(Member, me.id)
    assert (mine.feed_include_captured, mine.feed_include_done) == (False, True)


def test_the_settings_form_is_not_public(anonymous) -> None:
    assert anonymous.post("/calendar/subscription/settings").status_code == 400  # no CSRF token
    # With a valid token (the sign-in page gives one): still sent to sign in first.
    token = page_token(anonymous, "/sign-in")
    response = anonymous.post(
        "/calendar/subscription/settings", data={"include_done": "y", "csrf_token": token}
    )
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


# -- issue #19: each event built once, stored, and the feed assembled from them --------------


def built_whole(member: Member, *, today: date, calendar_name: str, tz: ZoneInfo) -> bytes:
    """The reference: the whole calendar built by the library at once, as the feed was
    before its events were stored (the tests' members' activities are all in the window)."""
    activities = db.session.scalars(
        select(Activity)
        .where(Activity.assigned_to_id == member.id)
        .options(
            joinedload(Activity.type),
            joinedload(Activity.company),
            joinedload(Activity.contact),
            joinedload(Activity.opportunity),
            joinedload(Activity.notes).joinedload(ActivityNote.author),
        )
        .order_by(Activity.due_on, Activity.starts_at, Activity.id)
    ).unique()
    calendar = calendar_feed.new_calendar(calendar_name, tz)
    first = today - timedelta(days=calendar_feed.FEED_PAST_DAYS)
    last = today + timedelta(days=calendar_feed.FEED_FUTURE_DAYS)
    calendar.add_component(
        icalendar.Timezone.from_tzinfo(
            tz,
            tzid=tz.key,
            first_date=date(first.year, 1, 1),
            last_date=date(last.year + 1, 1, 1),
        )
    )
    for activity in activities:
        calendar.add_component(calendar_feed.build_event(activity, tz))
    return calendar.to_ical()


def stored_count() -> int:
    return db.session.scalar(select(func.count()).select_from(StoredCalendarEvent)) or 0


def test_the_stored_feed_is_the_library_s_whole_build_byte_for_byte(
    app, make_member, make_activity, make_company, make_contact, make_opportunity
) -> None:
    me = make_member(name="Nick Points")
    colleague = make_member(name="Pat Lee")
    today = local_today(LA)
    chartec = make_company(name="CharTec")
    jason = make_contact(first_name="Jason", last_name="Rivas", company_id=chartec.id)
    deal = make_opportunity(name="CharTec - Managed Services")
    meeting = make_activity(
        me,
        "1st Appointment with Jason",
        code="SA",
        due_on=today + timedelta(days=1),
        starts_at=at(today + timedelta(days=1), 10),
        ends_at=at(today + timedelta(days=1), 11),
        reminder_minutes=15,
        place="On-Site",
        company_id=chartec.id,
        contact_id=jason.id,
        opportunity_id=deal.id,
        phone="(866) 544-2772",
    )
    postcard = make_activity(me, "Thank you postcard ✉", due_on=today + timedelta(days=2))
    done = make_activity(me, "Met Shane", due_on=today - timedelta(days=3), closed=True)
    add_note(meeting, by=me, body="Asked for the price list.", now=at(today, 8))
    add_note(meeting, by=colleague, body="Wants a demo — bring the contract. " * 20)
    db.session.add(ActivityNote(activity_id=postcard.id, author_id=None, body="From the import."))
    db.session.commit()

    def check(rebuilt: int, tz: ZoneInfo = LA) -> bytes:
        """Assemble and keep as the feed does; the text is the library's whole build."""
        db.session.expire_all()
        member = db.session.get(Member, me.id)
        assembled = calendar_feed.assemble(member, today=today, calendar_name="Nick", tz=tz)
        calendar_feed.keep_events(assembled.built)
        db.session.commit()
        assert len(assembled.built) == rebuilt
        db.session.expire_all()
        member = db.session.get(Member, me.id)
        whole = built_whole(member, today=today, calendar_name="Nick", tz=tz)
        assert assembled.body == whole
        # Valid: read back by the library; folded at 75 octets (RFC 5545 3.1), CRLF-ended.
        icalendar.Calendar.from_ical(assembled.body)
        lines = assembled.body.split(b"\r\n")
        assert lines[-1] == b"" and all(len(line) <= 75 for line in lines)
        assert b"\n" not in assembled.body.replace(b"\r\n", b"")
        return assembled.body

    body = check(rebuilt=3)
    assert stored_count() == 3
    assert b"DESCRIPTION:" in body and b"\r\n " in body  # a long one, folded
    assert check(rebuilt=0) == body

    activity = db.session.get(Activity, meeting.id)
    cal.move_activity(activity, due_on=activity.due_on, start=time(15), tz=LA, expected_version=1)
    db.session.commit()
    assert check(rebuilt=1) != body

    add_note(db.session.get(Activity, done.id), by=me, body="Signed.")
    db.session.commit()
    check(rebuilt=1)

    # What the text shows of other records: each change rebuilds the events that show it.
    db.session.get(type(chartec), chartec.id).name = "CharTec Inc."
    db.session.commit()
    assert b"Company: CharTec Inc." in check(rebuilt=1)
    db.session.get(type(jason), jason.id).last_name = "Rivas-Diaz"
    db.session.commit()
    check(rebuilt=1)
    db.session.get(type(deal), deal.id).name = "CharTec - Cloud"
    db.session.commit()
    check(rebuilt=1)
    db.session.get(Member, colleague.id).name = "Pat Lee-Smith"  # a note's author
    db.session.commit()
    assert b"Pat Lee-Smith" in check(rebuilt=1).replace(b"\r\n ", b"")
    db.session.get(ActivityType, meeting.type_id).name = "Sales appointment"
    db.session.commit()
    check(rebuilt=1)

    # Done, then open again: the subject and status change, and the alarm comes back.
    activity = db.session.get(Activity, meeting.id)
    close_activity(activity, by=me)
    db.session.commit()
    assert "SUMMARY:✓ Done: 1st Appointment".encode() in check(rebuilt=1)
    reopen_activity(db.session.get(Activity, meeting.id), by=me)
    db.session.commit()
    assert b"BEGIN:VALARM" in check(rebuilt=1)

    # Deleted: gone from the feed, its stored event with it.
    db.session.delete(db.session.get(Activity, postcard.id))
    db.session.commit()
    assert b"Thank you postcard" not in check(rebuilt=0)
    assert stored_count() == 2

    # Another zone: every event is written in it.
    check(rebuilt=2, tz=ZoneInfo("Europe/Berlin"))
    check(rebuilt=0, tz=ZoneInfo("Europe/Berlin"))


def test_the_member_s_choices_filter_events_without_rebuilding_them(
    app, make_member, make_activity
) -> None:
    me = make_member()
    today = local_today(LA)
    make_activity(me, "Call Jason", due_on=today)
    make_activity(me, "Done call", due_on=today, closed=True)
    captured_email(me, "Re: the quote", datetime.now(UTC) - timedelta(days=2))

    def assemble() -> calendar_feed.AssembledFeed:
        assembled = calendar_feed.assemble(me, today=today, calendar_name="Me", tz=LA)
        calendar_feed.keep_events(assembled.built)
        db.session.commit()
        return assembled

    assert len(assemble().built) == 2
    calendar_feed.update_feed_settings(me, include_captured=True, include_done=False)
    db.session.commit()
    shown = assemble()
    assert len(shown.built) == 1  # the captured e-mail, never shown before
    assert set(events(shown.body)) == {"Call Jason", "✓ Done: Re: the quote"}
    calendar_feed.update_feed_settings(me, include_captured=True, include_done=True)
    db.session.commit()
    assert len(assemble().built) == 0


def test_feed_request_statements(
    client, signed_in, anonymous, make_activity, make_member, queries
) -> None:
    """Constant statements: built or read from the store, with 2 events or 20 (and notes);
    a 304 reads only the member, with their feed's count of changes."""
    me = signed_in(Role.REP)
    colleague = make_member()
    url = subscribe(client).removeprefix("http://localhost")
    day = local_today(LA)

    numbers = iter(range(100))

    def add(n: int) -> None:
        for _ in range(n):
            i = next(numbers)
            activity = make_activity(me, f"Call {i}", due_on=day + timedelta(days=i % 9))
            add_note(activity, by=me, body="Mine.")
            add_note(activity, by=colleague, body="Theirs.")
        db.session.commit()

    def fetch(**headers: str) -> tuple[Any, int]:
        feeds.clear()  # the process's whole-feed cache: as after a change, or another process
        with queries() as counted:
            response = anonymous.get(url, headers=headers)
        return response, counted.count

    add(2)
    cold, built = fetch()
    assert cold.status_code == 200 and stored_count() == 2
    warm, read = fetch()
    assert warm.data == cold.data and stored_count() == 2
    add(18)
    changed, built_more = fetch()
    assert len(events(changed.data)) == 20 and stored_count() == 20
    again, read_more = fetch()
    assert again.data == changed.data
    # The team, the member with their feed's count of changes, the events (, the activities
    # to build, the store).
    assert (read, built) == (read_more, built_more) == (3, 5)
    unchanged, checked = fetch(**{"If-None-Match": again.headers["ETag"]})
    # The team (every request's), the member with the count: nothing read for the version.
    assert unchanged.status_code == 304 and checked == 2


def test_an_activity_deleted_while_its_event_is_built_stores_nothing(
    client, signed_in, anonymous, make_activity, monkeypatch
) -> None:
    me = signed_in(Role.REP)
    url = subscribe(client).removeprefix("http://localhost")
    make_activity(me, "Call Jason", due_on=local_today(LA))
    assemble = calendar_feed.assemble

    def deleted_meanwhile(*args: Any, **kwargs: Any) -> calendar_feed.AssembledFeed:
        assembled = assemble(*args, **kwargs)
        assembled.built.append({"activity_id": 2_000_000, "fingerprint": "x", "ics": "x"})
        return assembled

    monkeypatch.setattr(calendar_feed, "assemble", deleted_meanwhile)
    response = anonymous.get(url)
    assert response.status_code == 200 and "Call Jason" in events(response.data)
    assert stored_count() == 0


def test_many_events_to_build_are_loaded_with_the_window(
    app, make_member, make_activity, monkeypatch, queries
) -> None:
    """More than IN_LIST_LIMIT to build (the first time): the window's activities are loaded
    instead of a list of ids; the same text, the same statements."""
    monkeypatch.setattr(calendar_feed, "IN_LIST_LIMIT", 1)
    me = make_member()
    today = local_today(LA)
    for n in range(3):
        make_activity(me, f"Call {n}", due_on=today + timedelta(days=n))
    make_activity(make_member(), "Someone else's", due_on=today)
    assert me.feed_include_done  # (the member loaded again after the commits)
    with queries() as counted:
        assembled = calendar_feed.assemble(me, today=today, calendar_name="Me", tz=LA)
    assert len(assembled.built) == 3 and counted.count == 2
    assert assembled.body == built_whole(me, today=today, calendar_name="Me", tz=LA)


# -- the ETag from the count of changes the database keeps (models/feed_stamps.py) ------------


def stamp(member_id: int) -> int:
    """The member's count of changes to their feed's activities and notes (0: no row yet)."""
    return (
        db.session.scalar(
            select(CalendarFeedStamp.changes).where(CalendarFeedStamp.member_id == member_id)
        )
        or 0
    )


def test_the_etag_changes_with_every_change_to_the_member_s_activities(
    app, anonymous, make_member, make_activity
) -> None:
    """Added, edited, moved, done, noted, reassigned (both members' feeds), deleted: each
    changes the ETag of the feeds it touches, and never that of another member's feed."""
    me, colleague, bystander = make_member(), make_member(), make_member()
    tokens = {m.id: calendar_feed.start_subscription(m) for m in (me, colleague, bystander)}
    db.session.commit()
    day = local_today(LA) + timedelta(days=1)
    theirs = make_activity(bystander, "Theirs", due_on=day)

    def etags() -> dict[int, str]:
        found = {}
        for member_id, token in tokens.items():
            response = anonymous.get(f"/calendar/feed/{token}.ics")
            assert response.status_code == 200
            found[member_id] = response.headers["ETag"]
        return found

    seen = etags()

    def changed() -> set[int]:
        """Whose ETag changed since the last look."""
        nonlocal seen
        now = etags()
        moved = {member_id for member_id, etag in now.items() if seen[member_id] != etag}
        seen = now
        return moved

    meeting = make_activity(me, "Demo", due_on=day, starts_at=at(day, 10), ends_at=at(day, 11))
    assert changed() == {me.id}
    meeting = db.session.get(Activity, meeting.id)
    meeting.subject = "Demo of the new plan"
    db.session.commit()
    assert changed() == {me.id}
    meeting = db.session.get(Activity, meeting.id)
    cal.move_activity(meeting, due_on=day, start=time(15), tz=LA, expected_version=2)
    db.session.commit()
    assert changed() == {me.id}
    meeting = db.session.get(Activity, meeting.id)
    close_activity(meeting, by=me)
    db.session.commit()
    assert changed() == {me.id}
    meeting = db.session.get(Activity, meeting.id)
    add_note(meeting, by=colleague, body="Went well.")
    db.session.commit()
    assert changed() == {me.id}
    meeting = db.session.get(Activity, meeting.id)
    meeting.assigned_to_id = colleague.id
    db.session.commit()
    assert changed() == {me.id, colleague.id}
    db.session.delete(db.session.get(Activity, meeting.id))
    db.session.commit()
    assert changed() == {colleague.id}
    # Another member's activity changed: only their feed.
    theirs = db.session.get(Activity, theirs.id)
    theirs.subject = "Theirs, changed"
    db.session.commit()
    assert changed() == {bystander.id}
    assert changed() == set()  # nothing changed: the same ETags


def test_bulk_statements_change_the_etag(app, anonymous, make_member, make_activity) -> None:
    """Statements that write many activities at once (imports, the worker, the API) without
    the ORM's per-row bookkeeping still change the ETag: the database counts each row."""
    me, bystander = make_member(), make_member()
    token = calendar_feed.start_subscription(me)
    db.session.commit()
    url = f"/calendar/feed/{token}.ics"
    day = local_today(LA)
    for n in range(3):
        make_activity(me, f"Call {n}", due_on=day + timedelta(days=n))
    make_activity(bystander, "Theirs", due_on=day)
    first = anonymous.get(url)
    etag = first.headers["ETag"]
    assert anonymous.get(url, headers={"If-None-Match": etag}).status_code == 304

    db.session.execute(
        update(Activity).where(Activity.assigned_to_id == me.id).values(subject="Call again")
    )
    db.session.commit()
    updated = anonymous.get(url, headers={"If-None-Match": etag})
    assert updated.status_code == 200 and updated.headers["ETag"] != etag
    assert set(events(updated.data)) == {"Call again"}

    etag = updated.headers["ETag"]
    db.session.execute(
        update(Activity)
        .where(Activity.assigned_to_id == bystander.id)
        .values(subject="Theirs again")
    )
    db.session.commit()
    assert anonymous.get(url, headers={"If-None-Match": etag}).status_code == 304

    db.session.execute(delete(Activity).where(Activity.assigned_to_id == me.id))
    db.session.commit()
    deleted = anonymous.get(url, headers={"If-None-Match": etag})
    assert deleted.status_code == 200 and deleted.headers["ETag"] != etag
    assert events(deleted.data) == {}


def test_the_count_of_changes_per_member(app, make_member, make_activity) -> None:
    """Each write counts once for each member whose feed it touches: an activity for its
    assignee, a reassigned one for both, a note for its activity's assignee; a write that
    changes nothing the feed reads, and other members' writes, count nothing."""
    me, colleague = make_member(), make_member()
    assert stamp(me.id) == 0  # no row yet
    activity = make_activity(me, "Call")
    assert (stamp(me.id), stamp(colleague.id)) == (1, 0)
    activity = db.session.get(Activity, activity.id)
    activity.subject = "Call back"
    db.session.commit()
    assert stamp(me.id) == 2
    # The same subject, and a column no feed reads: nothing the feed shows changed.
    db.session.execute(
        text("UPDATE activities SET subject = subject, email_to = 'x' WHERE id = :id"),
        {"id": activity.id},
    )
    db.session.commit()
    assert stamp(me.id) == 2
    activity = db.session.get(Activity, activity.id)
    note = add_note(activity, by=colleague, body="A note.")
    db.session.commit()
    assert (stamp(me.id), stamp(colleague.id)) == (3, 0)
    db.session.execute(
        text("UPDATE activity_notes SET body = 'Edited.' WHERE id = :id"), {"id": note.id}
    )
    db.session.commit()
    assert stamp(me.id) == 4
    activity = db.session.get(Activity, activity.id)
    activity.assigned_to_id = colleague.id
    db.session.commit()
    assert (stamp(me.id), stamp(colleague.id)) == (5, 1)
    db.session.execute(delete(ActivityNote).where(ActivityNote.id == note.id))
    db.session.commit()
    assert (stamp(me.id), stamp(colleague.id)) == (5, 2)
    db.session.delete(db.session.get(Activity, activity.id))
    db.session.commit()
    assert (stamp(me.id), stamp(colleague.id)) == (5, 3)
