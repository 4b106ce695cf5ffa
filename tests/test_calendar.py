"""The calendar: the week grid (placement, overlaps, untimed, lunch, weekend), members side by
side and who may see whom, the month, drag-to-reschedule, bad input and query counts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from crmlite.extensions import db
from crmlite.models import Activity, Role
from crmlite.services import calendar as cal
from crmlite.services.team import local_today
from crmlite.web.calendar import range_label
from tests.conftest import page_token

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture()
def next_week() -> date:
    """Next week's Monday: nothing in it is overdue."""
    return cal.week_start(local_today(LA)) + timedelta(days=7)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A team-local wall time as the aware UTC moment the database stores."""
    return datetime.combine(day, time(hour, minute), LA).astimezone(UTC)


def timed(make_activity, member, subject: str, day: date, start: tuple, end: tuple, **fields):
    return make_activity(
        member, subject, due_on=day, starts_at=at(day, *start), ends_at=at(day, *end), **fields
    )


def day_column(html: str, day: date, member_id: int | None = None) -> str:
    """The grid column of one day (of one member's pane, when given)."""
    if member_id is not None:
        html = pane(html, member_id)
    match = re.search(rf'<div class="cal-day[^"]*" data-day="{day.isoformat()}"[^>]*>', html)
    assert match, f"no column for {day}"
    ends = [html.find(mark, match.end()) for mark in ('<div class="cal-day', "</section>")]
    return html[match.end() : min(e for e in ends if e >= 0)]


def all_day_row(html: str, day: date) -> str:
    match = re.search(
        rf'<div class="cal-allday[^"]*" data-due-on="{day.isoformat()}".*?</div>', html, re.S
    )
    assert match, f"no all-day cell for {day}"
    return match.group(0)


def pane(html: str, member_id: int) -> str:
    match = re.search(
        rf'<section class="cal-pane" id="member-week-{member_id}".*?</section>', html, re.S
    )
    assert match, f"no week of member {member_id}"
    return match.group(0)


def block_classes(html: str, activity_id: int) -> set[str]:
    match = re.search(rf'id="cal-activity-{activity_id}"\s+class="([^"]+)"', html)
    assert match, f"activity {activity_id} is not shown"
    return set(match.group(1).split())


def reload(activity: Activity) -> Activity:
    db.session.expire_all()
    return db.session.get(Activity, activity.id)


# -- the week ------------------------------------------------------------------------------------


def test_week_places_blocks_by_time_and_lists_untimed_on_top(
    client, signed_in, make_activity, make_company, next_week
) -> None:
    me = signed_in(Role.REP, name="Nick Points")
    chartec = make_company(name="CharTec")
    monday, tuesday = next_week, next_week + timedelta(days=1)
    meeting = timed(
        make_activity,
        me,
        "1st Appointment with Jason",
        monday,
        (10, 0),
        (11, 0),
        code="SA",
        company_id=chartec.id,
        place="On-Site",
    )
    postcard = make_activity(me, "Thank you postcard to Jason", code="TP", due_on=tuesday)

    html = client.get(f"/calendar/?week={tuesday.isoformat()}").get_data(as_text=True)

    assert "style=" not in html  # the CSP forbids inline styles
    monday_column = day_column(html, monday)
    assert f'id="cal-activity-{meeting.id}"' in monday_column
    # 10:00 is the 7th half-hour row from 7:00; an hour spans two rows; alone, the whole width.
    assert {"cal-block", "row-start-7", "row-span-2", "lane-start-1", "lane-span-12"} <= (
        block_classes(html, meeting.id)
    )
    block = re.search(rf'id="cal-activity-{meeting.id}".*?</button>', html, re.S).group(0)
    assert "10:00 am–11:00 am" in block
    assert "1st Appointment with Jason" in block
    assert "CharTec" in block and ">SA</abbr>" in block and "On-Site" in block

    # Untimed: listed in the day's row on top, not in the grid.
    assert f'id="cal-activity-{postcard.id}"' in all_day_row(html, tuesday)
    assert f'id="cal-activity-{postcard.id}"' not in day_column(html, tuesday)
    assert not any(c.startswith("row-") for c in block_classes(html, postcard.id))

    # Monday to Friday, 24 half-hour rows from 7 am, lunch shaded and labelled.
    assert re.findall(r'data-day="([\d-]+)"', html) == [
        (monday + timedelta(days=n)).isoformat() for n in range(5)
    ]
    assert monday_column.count('class="cal-slot ') == 24
    assert ">7 am</div>" in html and ">6 pm</div>" in html
    lunch = re.findall(r'class="cal-slot (row-start-\d+)[^"]*is-lunch', monday_column)
    assert lunch == ["row-start-11", "row-start-12"]
    assert monday_column.count(">Lunch</span>") == 1
    friday = monday + timedelta(days=4)
    assert f'<h2 class="cal-range" id="cal-range">{range_label(monday, friday)}</h2>' in html


def test_week_headings() -> None:
    assert range_label(date(2026, 11, 23), date(2026, 11, 27)) == "November 23 – 27, 2026"
    assert range_label(date(2026, 11, 30), date(2026, 12, 4)) == "Nov 30 – Dec 4, 2026"
    assert range_label(date(2026, 12, 28), date(2027, 1, 1)) == "Dec 28, 2026 – Jan 1, 2027"


def test_overlapping_activities_share_the_width_and_edges_clamp(
    client, signed_in, make_activity, next_week
) -> None:
    me = signed_in(Role.REP)
    wednesday = next_week + timedelta(days=2)
    first = timed(make_activity, me, "Discovery", wednesday, (10, 0), (11, 0))
    second = timed(make_activity, me, "Call back", wednesday, (10, 30), (11, 30))
    later = timed(make_activity, me, "Presentation", wednesday, (14, 0), (15, 30))
    early = timed(make_activity, me, "Breakfast meeting", wednesday, (6, 0), (7, 30))
    late = timed(make_activity, me, "Trade show dinner", wednesday, (19, 30), (21, 0))

    html = client.get(f"/calendar/?week={wednesday.isoformat()}").get_data(as_text=True)

    assert {"row-start-7", "row-span-2", "lane-start-1", "lane-span-6"} <= block_classes(
        html, first.id
    )
    assert {"row-start-8", "row-span-2", "lane-start-7", "lane-span-6"} <= block_classes(
        html, second.id
    )
    assert {"row-start-15", "row-span-3", "lane-start-1", "lane-span-12"} <= block_classes(
        html, later.id
    )
    # Outside 7:00 to 19:00: at the edge, saying the real time.
    assert {"row-start-1", "row-span-1"} <= block_classes(html, early.id)
    early_block = re.search(rf'id="cal-activity-{early.id}".*?</button>', html, re.S).group(0)
    assert "↑ 6:00 am–7:30 am" in early_block
    assert {"row-start-24", "row-span-1"} <= block_classes(html, late.id)
    assert "7:30 pm–9:00 pm ↓" in html


def test_closed_look_done_and_open_past_ones_are_flagged(client, signed_in, make_activity) -> None:
    me = signed_in(Role.REP)
    past_monday = cal.week_start(local_today(LA)) - timedelta(days=14)
    done = timed(make_activity, me, "Met Jason", past_monday, (9, 0), (10, 0), closed=True)
    missed = timed(make_activity, me, "Call Shane", past_monday, (11, 0), (11, 30))

    html = client.get(f"/calendar/?week={past_monday.isoformat()}").get_data(as_text=True)

    assert "is-closed" in block_classes(html, done.id)
    assert "is-overdue" not in block_classes(html, done.id)
    assert "is-overdue" in block_classes(html, missed.id)
    assert 'class="cal-flag">Overdue</span>' in html
    # A done activity stays put: it opens in the panel but cannot be dragged.
    done_tag = re.search(rf'<button[^>]*id="cal-activity-{done.id}"[^>]*>', html, re.S).group(0)
    assert "data-move-url" not in done_tag and f"/activities/{done.id}/edit" in done_tag
    missed_tag = re.search(rf'<button[^>]*id="cal-activity-{missed.id}"[^>]*>', html, re.S).group(0)
    assert f'data-move-url="/calendar/activities/{missed.id}/move"' in missed_tag
    assert f'data-version="{missed.version}"' in missed_tag


def test_weekend_toggle(client, signed_in, make_activity, next_week) -> None:
    me = signed_in(Role.REP)
    saturday = next_week + timedelta(days=5)
    show = make_activity(me, "Trade show", due_on=saturday)

    html = client.get(f"/calendar/?week={next_week.isoformat()}").get_data(as_text=True)
    assert f'data-day="{saturday.isoformat()}"' not in html
    assert f'id="cal-activity-{show.id}"' not in html
    assert "1 activity on the weekend (hidden)." in html
    assert "Show weekend" in html and "weekend=1" in html

    html = client.get(f"/calendar/?week={next_week.isoformat()}&weekend=1").get_data(as_text=True)
    assert len(re.findall(r'<div class="cal-day[^"]*" data-day=', html)) == 7
    assert f'id="cal-activity-{show.id}"' in all_day_row(html, saturday)
    assert "Hide weekend" in html and "on the weekend (hidden)" not in html
    # Navigation keeps the weekend on.
    previous = (next_week - timedelta(days=7)).isoformat()
    assert f"/calendar/?weekend=1&amp;week={previous}" in html


def test_slots_and_blocks_open_the_activity_forms_in_the_panel(
    client, signed_in, make_activity, next_week
) -> None:
    me = signed_in(Role.REP)
    meeting = timed(make_activity, me, "Discovery", next_week, (10, 0), (11, 0))
    html = client.get(f"/calendar/?week={next_week.isoformat()}").get_data(as_text=True)

    new_url = (
        f"/activities/new?due_on={next_week.isoformat()}&amp;start=09:30&amp;end=10:00"
        f"&amp;assigned_to_id={me.id}"
    )
    assert f'hx-get="{new_url}"' in html
    assert f'hx-get="/activities/{meeting.id}/edit"' in html
    # Both open in the side panel (set once on the grid, inherited).
    assert 'class="cal-grid days-5" hx-target="#calendar-panel-body" hx-swap="innerHTML"' in html
    # The week refreshes itself when the form saves or closes an activity.
    assert 'hx-trigger="activity-saved from:body, activity-closed from:body"' in html
    assert '<div id="calendar-panel-body" data-panel></div>' in html

    fragment = client.get(
        f"/calendar/?week={next_week.isoformat()}",
        headers={"HX-Request": "true", "HX-Target": "calendar-week"},
    ).get_data(as_text=True)
    assert fragment.strip().startswith('<div id="calendar-week"')
    assert "<html" not in fragment and f'id="cal-activity-{meeting.id}"' in fragment


# -- whose calendar ------------------------------------------------------------------------------


def test_manager_sees_one_member_or_several_side_by_side(
    client, signed_in, make_member, make_activity, next_week
) -> None:
    signed_in(Role.MANAGER, name="Cory Ferguson")
    nick = make_member(name="Nick Points")
    manny = make_member(name="Manny Martinez")
    nicks = timed(make_activity, nick, "Nick's meeting", next_week, (9, 0), (10, 0))
    mannys = timed(make_activity, manny, "Manny's meeting", next_week, (9, 0), (10, 0))

    html = client.get(f"/calendar/?week={next_week.isoformat()}&member_id={nick.id}").get_data(
        as_text=True
    )
    assert f'id="cal-activity-{nicks.id}"' in html and f'id="cal-activity-{mannys.id}"' not in html
    assert re.search(rf'<option value="{nick.id}" selected>Nick Points</option>', html)

    url = f"/calendar/?week={next_week.isoformat()}&member_id={manny.id}&member_id={nick.id}"
    html = client.get(url).get_data(as_text=True)
    assert 'class="cal-weeks is-side-by-side"' in html
    titles = re.findall(r'class="cal-pane-title" id="member-week-\d+-title">([^<]+)<', html)
    assert titles == ["Manny Martinez", "Nick Points"]
    assert f'id="cal-activity-{mannys.id}"' in pane(html, manny.id)
    assert f'id="cal-activity-{nicks.id}"' in pane(html, nick.id)
    # A slot schedules for the member whose column it is.
    assert f"assigned_to_id={manny.id}" in pane(html, manny.id)
    assert f"assigned_to_id={nick.id}" not in pane(html, manny.id)
    assert 'data-side-by-side="1"' in pane(html, nick.id)

    # The month of several members says whose each subject is.
    html = client.get(
        f"/calendar/month?month={next_week:%Y-%m}&member_id={manny.id}&member_id={nick.id}"
    ).get_data(as_text=True)
    assert '<abbr class="cal-who" title="Nick Points">NP</abbr>' in html
    assert "Manny Martinez, Nick Points" in html


def test_a_rep_sees_only_their_own_calendar(client, signed_in, make_member) -> None:
    me = signed_in(Role.REP)
    other = make_member()
    assert client.get(f"/calendar/?member_id={other.id}").status_code == 403
    assert client.get(f"/calendar/?member_id={me.id}&member_id={other.id}").status_code == 403
    assert client.get(f"/calendar/month?member_id={other.id}").status_code == 403
    html = client.get(f"/calendar/?member_id={me.id}").get_data(as_text=True)
    assert f'id="member-week-{me.id}"' in html
    assert "Calendar of" not in html  # no member chooser for a rep


def test_bad_addresses_fall_back_with_a_message(client, signed_in) -> None:
    me = signed_in(Role.MANAGER)
    this_week = cal.week_start(local_today(LA))
    for url, message in [
        ("/calendar/?week=2024-13-45", "is not a date (YYYY-MM-DD); showing this week."),
        ("/calendar/?week=0001-01-01", "The calendar shows the years 1900 to 2199"),
        ("/calendar/?week=9999-12-31", "The calendar shows the years 1900 to 2199"),
        ("/calendar/?member_id=abc", "is not a member; it was left out."),
        ("/calendar/month?month=2026-13", "is not a month (YYYY-MM); showing this month."),
        ("/calendar/month?month=nope&member_id=-1", "is not a member"),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert message in html, url
        assert f'id="member-week-{me.id}"' in html or 'id="calendar-month"' in html
    html = client.get("/calendar/?week=2024-13-45").get_data(as_text=True)
    assert f'data-day="{this_week.isoformat()}"' in html
    assert client.get("/calendar/?member_id=999999").status_code == 404


# -- the month -----------------------------------------------------------------------------------


def test_month_counts_and_first_subjects_per_day(
    client, signed_in, make_activity, make_member
) -> None:
    me = signed_in(Role.REP)
    busy = date(2026, 11, 23)
    make_activity(me, "Untimed first", due_on=busy)
    for hour in (9, 10, 11, 14):
        timed(make_activity, me, f"Meeting at {hour}", busy, (hour, 0), (hour, 30))
    make_activity(me, "Quiet day", due_on=date(2026, 11, 4), closed=True)
    make_activity(make_member(), "Someone else's", due_on=busy)

    html = client.get("/calendar/month?month=2026-11").get_data(as_text=True)

    assert "November 2026" in html
    cell = re.search(r'<td class="cal-mday[^"]*" data-day="2026-11-23">.*?</td>', html, re.S)
    cell = cell.group(0)
    # The count shows a number; a screen reader hears "5 activities".
    assert '<span class="cal-count">5<span class="visually-hidden"> activities</span>' in cell
    subjects = [
        re.sub(r"<[^>]+>", "", item).split()
        for item in re.findall(r'<li class="group-[^"]*">(.*?)</li>', cell, re.S)
    ]
    assert subjects == [
        ["Untimed", "first"],
        ["9:00", "am", "Meeting", "at", "9"],
        ["10:00", "am", "Meeting", "at", "10"],
    ]
    assert "+2 more" in cell and "Someone else" not in html
    assert 'href="/calendar/?week=2026-11-23"' in cell
    quiet = re.search(r'data-day="2026-11-04">.*?</td>', html, re.S).group(0)
    assert '<span class="cal-count">1<span class="visually-hidden"> activity</span>' in quiet
    assert "is-closed" in quiet
    # Weeks from Monday: November 2026 starts on a Sunday, so the grid opens on Oct 26.
    days = re.findall(r'<td class="cal-mday[^"]*" data-day="([\d-]+)"', html)
    assert days[0] == "2026-10-26" and days[-1] == "2026-12-04" and len(days) == 30
    assert "style=" not in html


# -- drag to reschedule --------------------------------------------------------------------------


@pytest.fixture()
def move(client: FlaskClient):
    """Post a drop like calendar.js does (htmx, CSRF token in a header)."""

    def post(activity: Activity, **data) -> str:
        token = page_token(client, "/calendar/")
        data.setdefault("version", activity.version)
        response = client.post(
            f"/calendar/activities/{activity.id}/move",
            data=data,
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    return post


def test_a_drop_reschedules_keeping_the_length(signed_in, make_activity, move, next_week) -> None:
    me = signed_in(Role.REP)
    meeting = timed(make_activity, me, "Discovery", next_week, (10, 0), (11, 0))
    wednesday = next_week + timedelta(days=2)

    html = move(meeting, due_on=wednesday.isoformat(), start="14:30", week=next_week.isoformat())

    meeting = reload(meeting)
    assert meeting.due_on == wednesday
    assert meeting.starts_at == at(wednesday, 14, 30) and meeting.ends_at == at(wednesday, 15, 30)
    assert meeting.version == 2
    # The answer is the member's week as it now is, the block in its new place.
    assert html.strip().startswith(f'<section class="cal-pane" id="member-week-{me.id}"')
    assert f'id="cal-activity-{meeting.id}"' in day_column(html, wednesday)
    assert {"row-start-16", "row-span-2", "is-moved"} <= block_classes(html, meeting.id)
    assert 'data-version="2"' in html


def test_drops_on_the_all_day_row_and_untimed_onto_a_slot(
    signed_in, make_activity, move, next_week
) -> None:
    me = signed_in(Role.REP)
    meeting = timed(make_activity, me, "Discovery", next_week, (10, 0), (11, 0))
    postcard = make_activity(me, "Postcard", due_on=next_week)

    move(meeting, due_on=next_week.isoformat(), start="")
    meeting = reload(meeting)
    assert meeting.starts_at is None and meeting.ends_at is None

    move(postcard, due_on=next_week.isoformat(), start="08:00")
    postcard = reload(postcard)
    assert postcard.starts_at == at(next_week, 8) and postcard.ends_at == at(next_week, 8, 30)


def test_a_stale_drop_is_refused_and_shows_where_it_really_is(
    signed_in, make_activity, move, next_week
) -> None:
    me = signed_in(Role.REP)
    meeting = timed(make_activity, me, "Discovery", next_week, (10, 0), (11, 0))
    stale = meeting.version
    tuesday, thursday = next_week + timedelta(days=1), next_week + timedelta(days=3)
    move(meeting, due_on=tuesday.isoformat(), start="09:00")  # someone else, first

    html = move(meeting, version=stale, due_on=thursday.isoformat(), start="15:00")

    assert "Someone changed this activity meanwhile" in html
    assert "nothing was overwritten" in html
    meeting = reload(meeting)
    assert meeting.due_on == tuesday and meeting.starts_at == at(tuesday, 9)
    assert f'id="cal-activity-{meeting.id}"' in day_column(html, tuesday)
    assert f'id="cal-activity-{meeting.id}"' not in day_column(html, thursday)


def test_bad_drops_say_why_and_change_nothing(
    client, signed_in, make_activity, make_member, move, next_week
) -> None:
    me = signed_in(Role.REP)
    meeting = timed(make_activity, me, "Discovery", next_week, (10, 0), (11, 0))
    for data, message in [
        ({"due_on": next_week.isoformat(), "start": "23:30"}, "would end after midnight"),
        ({"due_on": "2026-02-30", "start": "10:00"}, "That is not a day (YYYY-MM-DD)"),
        ({"due_on": "", "start": "10:00"}, "That is not a day (YYYY-MM-DD)"),
        ({"due_on": next_week.isoformat(), "start": "25:00"}, "That is not a time (HH:MM)"),
        ({"due_on": next_week.isoformat(), "start": "10:00", "version": "x"}, "out of date"),
        ({"due_on": "1850-01-07", "start": "10:00"}, "between 1900 and 2199"),
    ]:
        html = move(meeting, **data)
        assert message in html, data
        assert "Nothing moved." in html
        assert f'id="cal-activity-{meeting.id}"' in html
    meeting = reload(meeting)
    assert meeting.version == 1 and meeting.starts_at == at(next_week, 10)

    done = timed(make_activity, me, "Done", next_week, (13, 0), (14, 0), closed=True)
    html = move(done, due_on=next_week.isoformat(), start="15:00")
    assert "This activity is done" in html and reload(done).starts_at == at(next_week, 13)

    token = page_token(client, "/calendar/")
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    data = {"due_on": next_week.isoformat(), "start": "09:00", "version": 1}
    assert (
        client.post("/calendar/activities/999999/move", data=data, headers=headers).status_code
        == 404
    )
    theirs = timed(make_activity, make_member(), "Theirs", next_week, (10, 0), (11, 0))
    response = client.post(f"/calendar/activities/{theirs.id}/move", data=data, headers=headers)
    assert response.status_code == 403
    assert reload(theirs).starts_at == at(next_week, 10)
    # No CSRF token: refused before anything happens.
    response = client.post(f"/calendar/activities/{meeting.id}/move", data=data)
    assert response.status_code == 400
    assert reload(meeting).starts_at == at(next_week, 10)


def test_a_manager_may_move_a_reps_activity(
    client, signed_in, make_member, make_activity, move, next_week
) -> None:
    signed_in(Role.MANAGER)
    rep = make_member()
    theirs = timed(make_activity, rep, "Theirs", next_week, (10, 0), (11, 0))
    html = move(theirs, due_on=next_week.isoformat(), start="16:00", side_by_side="1")
    assert reload(theirs).starts_at == at(next_week, 16)
    assert f'id="member-week-{rep.id}"' in html
    # Dragged in the side-by-side view: the answer keeps the member's name over the week.
    assert f'<h2 class="cal-pane-title" id="member-week-{rep.id}-title">' in html


# -- queries -------------------------------------------------------------------------------------


def test_the_week_loads_in_a_constant_number_of_queries(
    client, signed_in, make_member, make_activity, make_company, queries, next_week
) -> None:
    me = signed_in(Role.MANAGER)
    other = make_member()

    def add(n: int) -> None:
        for i in range(n):
            day = next_week + timedelta(days=i % 7)
            company = make_company(name=f"Company {i}")
            who = me if i % 2 else other
            if i % 3:
                timed(
                    make_activity,
                    who,
                    f"Meeting {i}",
                    day,
                    (8 + i % 9, 0),
                    (9 + i % 9, 0),
                    company_id=company.id,
                )
            else:
                make_activity(who, f"Task {i}", due_on=day, company_id=company.id)

    url = (
        f"/calendar/?week={next_week.isoformat()}&weekend=1&member_id={me.id}&member_id={other.id}"
    )
    add(5)
    with queries() as few:
        client.get(url)
    add(45)
    with queries() as many:
        html = client.get(url).get_data(as_text=True)
    assert html.count('class="cal-block ') == 50
    assert many.count == few.count, many.statements
    assert few.count <= 8, few.statements

    with queries() as month_few:
        client.get(f"/calendar/month?month={next_week:%Y-%m}")
    add(20)
    with queries() as month_many:
        client.get(f"/calendar/month?month={next_week:%Y-%m}")
    assert month_many.count == month_few.count, month_many.statements


def test_the_week_reads_the_assignee_day_index(app) -> None:
    """The week's one statement is a range scan of (assigned_to_id, due_on, starts_at)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the query plan checked here is SQLite's")
    query = cal.week_query([1, 2], date(2026, 11, 23), date(2026, 11, 29))
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    plan = " ".join(row[-1] for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
    index = "ix_activities_assignee_due (assigned_to_id=? AND due_on>? AND due_on<?)"
    assert f"activities USING INDEX {index}" in plan, plan


def _block(n: int, day: date, start: tuple, end: tuple) -> cal.Block:
    return cal.Block(
        id=n,
        subject=f"#{n}",
        status="Open",
        due_on=day,
        starts_at=at(day, *start),
        ends_at=at(day, *end),
        version=1,
        assigned_to_id=1,
        place="",
        type_code="SA",
        type_name="1st Appointment",
        type_group="funnel_stages",
        company_name=None,
    )


def test_placement_follows_the_wall_clock_across_a_time_change() -> None:
    """The day the clocks go forward, 10:00 is still the 10:00 row."""
    spring_forward = date(2026, 3, 8)
    block = _block(1, spring_forward, (10, 0), (11, 0))
    cal.place(block, LA)
    assert (block.row_start, block.row_span) == (7, 2)
    # A quarter past is in the half hour it starts in, and an end off the grid rounds up.
    block = _block(2, spring_forward, (12, 15), (12, 40))
    cal.place(block, LA)
    assert (block.row_start, block.row_span) == (11, 2)


def test_lanes_for_chains_and_stacks_of_overlaps() -> None:
    day = date(2026, 11, 23)
    chain = [
        _block(1, day, (9, 0), (10, 0)),
        _block(2, day, (9, 30), (10, 30)),
        _block(3, day, (10, 0), (11, 0)),  # overlaps 2 only: back in the first lane
    ]
    stack = [_block(n, day, (14, 0), (15, 0)) for n in (4, 5, 6)]
    alone = _block(7, day, (16, 0), (16, 30))
    blocks = [*chain, *stack, alone]
    for block in blocks:
        cal.place(block, LA)
    cal.assign_lanes(blocks)
    assert [(b.lane, b.lanes) for b in chain] == [(0, 2), (1, 2), (0, 2)]
    assert [(b.lane_start, b.lane_span) for b in chain] == [(1, 6), (7, 6), (1, 6)]
    assert [(b.lane_start, b.lane_span) for b in stack] == [(1, 4), (5, 4), (9, 4)]
    assert (alone.lane_start, alone.lane_span) == (1, 12)
