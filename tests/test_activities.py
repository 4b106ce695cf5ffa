"""Activities in the browser's absence: log in place, edit, Done with the next-step
question, the list with filters and bulk reassign, Due soon; rights and bad input."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import Activity, ActivityNote, Role
from crmlite.services import activities as activities_service
from crmlite.services.team import local_today
from tests.conftest import activity_type, page_token

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture()
def today():
    return local_today(LA)


@pytest.fixture()
def post(client: FlaskClient):
    def send(url: str, data: dict | None = None, status: int = 200):
        token = page_token(client, "/activities/")
        response = client.post(
            url, data=data or {}, headers={"HX-Request": "true", "X-CSRFToken": token}
        )
        assert response.status_code == status, response.get_data(as_text=True)[:500]
        return response

    return send


def form_data(today, **overrides) -> dict:
    data = {
        "type_id": activity_type("SA").id,
        "subject": "1st Appointment with Jason",
        "due_on": (today + timedelta(days=3)).isoformat(),
        "start": "10:00",
        "end": "11:00",
        "assigned_to_id": "",
        "place": "On-Site",
        "reminder_minutes": "15",
        "status": "Open",
        "note": "",
        "opportunity_id": "",
        "company_id": "",
        "contact_id": "",
        "campaign_id": "",
        "version": "",
    }
    data.update(overrides)
    return data


def test_new_form_is_filled_in_from_the_opportunity(
    client, signed_in, make_opportunity, make_company, make_contact
) -> None:
    me = signed_in(Role.REP)
    company = make_company(name="CharTec", phone="(866) 544-2772")
    jason = make_contact(first_name="Jason", last_name="Rivas", company_id=company.id)
    deal = make_opportunity(
        name="Managed Services - Phone System",
        company_id=company.id,
        contact_id=jason.id,
        account_manager_id=me.id,
    )
    html = client.get(
        f"/activities/new?opportunity_id={deal.id}&due_on=2013-12-09&start=10:00&end=11:00"
    ).get_data(as_text=True)
    assert "For <strong>Managed Services - Phone System</strong>" in html
    assert "CharTec" in html and "Jason Rivas" in html
    assert 'value="2013-12-09"' in html and 'value="10:00"' in html and 'value="11:00"' in html
    assert f'name="opportunity_id" type="hidden" value="{deal.id}"' in html
    assert f'name="company_id" type="hidden" value="{company.id}"' in html
    assert re.search(rf'<option selected value="{me.id}">', html)


def test_log_an_activity_in_place(
    client, signed_in, make_opportunity, make_company, make_contact, post, today
) -> None:
    me = signed_in(Role.REP)
    company = make_company(name="CharTec", phone="(866) 544-2772")
    jason = make_contact(first_name="Jason", last_name="Rivas", company_id=company.id)
    deal = make_opportunity(company_id=company.id, contact_id=jason.id, account_manager_id=me.id)
    response = post(
        "/activities/",
        form_data(
            today,
            assigned_to_id=me.id,
            opportunity_id=deal.id,
            note="Meeting scheduled with Jason. He was referred by Jim.",
        ),
    )
    trigger = json.loads(response.headers["HX-Trigger"])
    activity = db.session.scalars(select(Activity)).one()
    assert trigger == {"activity-saved": {"id": activity.id, "opportunity_id": deal.id}}
    assert (activity.company_id, activity.contact_id, activity.phone) == (
        company.id,
        jason.id,
        "(866) 544-2772",
    )
    assert activity.starts_at.astimezone(LA).time() == time(10)
    assert (activity.reminder_minutes, activity.place, activity.assigned_by_id) == (
        15,
        "On-Site",
        me.id,
    )
    note = db.session.scalars(select(ActivityNote)).one()
    assert note.author_id == me.id and note.body.startswith("Meeting scheduled with Jason.")
    html = response.get_data(as_text=True)
    assert f'id="activity-{activity.id}"' in html and ">Done</button>" in html


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"subject": "  "}, "subject", "Enter a subject."),
        ({"start": "11:00", "end": "10:00"}, "end", "The end must come after the start."),
        ({"start": "10:00", "end": ""}, "end", "Give both a start and an end time, or neither."),
        ({"due_on": "2024-13-45"}, "due_on", "Enter a valid date."),
        ({"assigned_to_id": "999999"}, "assigned_to_id", "Assigned to: choose one from the list."),
        ({"reminder_minutes": "-5"}, "reminder_minutes", "The reminder cannot be negative."),
        (
            {"reminder_minutes": "10081"},
            "reminder_minutes",
            "The reminder must be from 0 to 10,080.",
        ),
        ({"reminder_minutes": "1e3"}, "reminder_minutes", "The reminder must be a whole number"),
        ({"type_id": "424242"}, "type_id", "Type: choose one from the list."),
        ({"type_id": "x"}, "type_id", "Type: choose one from the list."),
    ],
)
def test_bad_input_keeps_what_was_typed(
    client, signed_in, post, today, overrides, field, message
) -> None:
    me = signed_in(Role.REP)
    data = form_data(today, **{"assigned_to_id": me.id, **overrides})
    html = post("/activities/", data).get_data(as_text=True)
    assert f'id="{field}-error">{message}' in html
    assert 'value="1st Appointment with Jason"' in html or overrides.get("subject")
    assert db.session.scalar(select(func.count(Activity.id))) == 0


def test_done_asks_for_the_next_step_when_none_is_left(
    client, signed_in, make_opportunity, make_activity, post, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(name="Tows R Us", account_manager_id=me.id)
    last = make_activity(me, "Discovery", code="DM", due_on=today, opportunity_id=deal.id)
    response = post(f"/activities/{last.id}/done")
    html = response.get_data(as_text=True)
    assert json.loads(response.headers["HX-Trigger"]) == {
        "activity-closed": {"id": last.id, "opportunity_id": deal.id}
    }
    assert "<strong>Tows R Us</strong> has no next step now." in html
    assert f"/activities/new?opportunity_id={deal.id}" in html
    db.session.expire_all()
    last = db.session.get(Activity, last.id)
    assert (last.status, last.closed_by_id, last.points_earned) == ("Closed", me.id, 12)


def test_done_with_a_next_step_left_asks_nothing(
    client, signed_in, make_opportunity, make_activity, post, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    now = make_activity(me, "Call", due_on=today, opportunity_id=deal.id)
    make_activity(me, "Visit", due_on=today + timedelta(days=2), opportunity_id=deal.id)
    html = post(f"/activities/{now.id}/done").get_data(as_text=True)
    assert "has no next step" not in html and "is-done" in html


def test_edit_with_version_check(client, signed_in, make_activity, post, today) -> None:
    me = signed_in(Role.REP)
    call = make_activity(me, "Call", due_on=today)
    html = client.get(f"/activities/{call.id}/edit").get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in html
    post(
        f"/activities/{call.id}",
        form_data(
            today, assigned_to_id=me.id, subject="Call back", version="1", note="Left a voicemail."
        ),
    )
    db.session.expire_all()
    assert db.session.get(Activity, call.id).subject == "Call back"
    stale = post(
        f"/activities/{call.id}",
        form_data(today, assigned_to_id=me.id, subject="Mine", version="1"),
    )
    assert "Someone changed this activity since you opened it" in stale.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Activity, call.id).subject == "Call back"


def test_rights_unknown_ids_and_csrf(
    client, signed_in, make_activity, make_member, post, today
) -> None:
    signed_in(Role.REP)
    theirs = make_activity(make_member(), "Their call")
    assert client.get(f"/activities/{theirs.id}/edit").status_code == 403
    post(f"/activities/{theirs.id}/done", status=403)
    db.session.expire_all()
    assert db.session.get(Activity, theirs.id).status == "Open"
    assert client.get("/activities/99999/edit").status_code == 404
    post("/activities/99999/done", status=404)
    assert client.post(f"/activities/{theirs.id}/done").status_code == 400
    assert client.get("/activities/?member_id=" + str(theirs.assigned_to_id)).status_code == 403


def test_list_filters(client, signed_in, make_activity, make_member, today) -> None:
    me = signed_in(Role.MANAGER)
    manny = make_member(name="Manny")
    make_activity(me, "Late call", due_on=today - timedelta(days=1))
    make_activity(me, "Call today", due_on=today)
    make_activity(me, "Done call", due_on=today, closed=True)
    make_activity(manny, "Manny's call", due_on=today)

    def shown(query: str) -> set[str]:
        html = client.get("/activities/?" + query).get_data(as_text=True)
        return set(re.findall(r'class="activity-subject">([^<]+)<', html))

    assert shown("") == {"Late call", "Call today"}
    assert shown("when=overdue") == {"Late call"}
    assert shown("when=today") == {"Call today"}
    assert shown("when=done") == {"Done call"}
    assert shown("member_id=team&when=today") == {"Call today", "Manny&#39;s call"}
    assert shown(f"member_id={manny.id}") == {"Manny&#39;s call"}
    assert shown("when=bogus&type_id=x") == {"Late call", "Call today"}
    # What is not an id or an offset is ignored, never an error.
    assert shown("member_id=99999999999999999999&campaign_id=²&offset=1e3") == {
        "Late call",
        "Call today",
    }
    assert client.get("/activities/new?opportunity_id=99999999999999999999").status_code == 200


def test_bulk_reassign(client, signed_in, make_activity, make_member, post, today) -> None:
    me = signed_in(Role.MANAGER)
    manny = make_member(name="Manny Martinez")
    first, second = make_activity(me, "One"), make_activity(me, "Two")
    html = post(
        "/activities/reassign",
        {"activity_ids": [first.id, second.id], "to_member_id": manny.id, "member_id": me.id},
    ).get_data(as_text=True)
    assert "2 activities now assigned to Manny Martinez." in html
    db.session.expire_all()
    assert {a.assigned_to_id for a in db.session.scalars(select(Activity))} == {manny.id}
    html = post("/activities/reassign", {"to_member_id": manny.id}).get_data(as_text=True)
    assert "Tick the activities to reassign first." in html


def test_rep_cannot_reassign_someone_elses(
    client, signed_in, make_activity, make_member, post
) -> None:
    me = signed_in(Role.REP)
    theirs = make_activity(make_member(), "Theirs")
    post("/activities/reassign", {"activity_ids": [theirs.id], "to_member_id": me.id}, status=403)
    db.session.expire_all()
    assert db.session.get(Activity, theirs.id).assigned_to_id != me.id


def test_list_query_count_does_not_grow(
    client, signed_in, make_activity, make_company, make_opportunity, queries, today
) -> None:
    me = signed_in(Role.REP)

    def add(n: int) -> None:
        for i in range(n):
            company = make_company(name=f"Co {i}")
            deal = make_opportunity(name=f"Deal {i}", company_id=company.id)
            make_activity(
                me, f"Call {i}", due_on=today, company_id=company.id, opportunity_id=deal.id
            )

    add(2)
    with queries() as few:
        client.get("/activities/")
    add(25)
    with queries() as many:
        html = client.get("/activities/").get_data(as_text=True)
    assert html.count('class="activity-item') == 27
    assert many.count == few.count


def test_due_soon_strip(client, signed_in, make_activity, today) -> None:
    me = signed_in(Role.REP)
    now = datetime.now(UTC)
    make_activity(
        me,
        "Call Jason soon",
        due_on=now.astimezone(LA).date(),
        starts_at=now + timedelta(minutes=10),
        ends_at=now + timedelta(minutes=40),
        reminder_minutes=15,
    )
    make_activity(
        me,
        "Later meeting",
        due_on=now.astimezone(LA).date(),
        starts_at=now + timedelta(hours=3),
        ends_at=now + timedelta(hours=4),
        reminder_minutes=15,
    )
    strip = client.get("/activities/due-soon").get_data(as_text=True)
    assert "Call Jason soon" in strip and "Later meeting" not in strip
    # Every minute, and at once when the page saves, closes or moves an activity.
    assert (
        'hx-trigger="every 60s, activity-saved from:body, activity-closed from:body, '
        'activity-moved from:body"'
    ) in strip
    assert "Call Jason soon" in client.get("/").get_data(as_text=True)


def test_due_soon_reads_its_partial_index_in_a_generic_plan(app) -> None:
    """psycopg prepares a statement run five times, and PostgreSQL may then plan it once for
    any values: the strip's statement must still match ix_activities_reminders (WHERE
    status = 'Open' …), which it cannot when the status is a bound value."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's generic plans")
    from psycopg.sql import Literal

    compiled = activities_service._due_soon_statement().compile(dialect=db.engine.dialect)
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", compiled.string)))
    positional = re.sub(
        r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", compiled.string
    )
    connection = db.session.connection()
    connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    connection.exec_driver_sql(f"PREPARE due_soon AS {positional}")
    now = datetime.now(UTC)
    values = compiled.construct_params(
        {
            "member_id": 1,
            "now": now,
            "today": now.date(),
            "first_day": now.date(),
            "last_day": now.date(),
            **{f"soon_{band}": now for band in activities_service._BANDS},
        }
    )
    raw = connection.connection.dbapi_connection
    arguments = ", ".join(Literal(values[n]).as_string(raw) for n in names)
    plan = "\n".join(
        row[0] for row in connection.exec_driver_sql(f"EXPLAIN EXECUTE due_soon({arguments})")
    )
    connection.exec_driver_sql("DEALLOCATE due_soon")
    assert "ix_activities_reminders" in plan, plan


def test_due_soon_shows_the_soonest_five_and_counts_the_rest(
    client, signed_in, make_activity, make_company
) -> None:
    """A busy rep's strip stays one line: the five soonest (untimed ones after the day's
    timed ones), then "and N more due" linking to their open activities."""
    me = signed_in(Role.REP)

    acme = make_company(name="ACME Towing")

    def busy_day(now: datetime, label: str) -> None:
        today = now.astimezone(LA).date()
        make_activity(me, f"{label} untimed", due_on=today, reminder_minutes=0)
        for minutes in (25, 5, 15, 10, 20, 30):
            starts_at = now + timedelta(minutes=minutes)
            make_activity(
                me,
                f"{label} in {minutes}",
                due_on=starts_at.astimezone(LA).date(),
                starts_at=starts_at,
                ends_at=starts_at + timedelta(minutes=30),
                reminder_minutes=60,
                company_id=acme.id if minutes == 5 else None,
            )

    noon = datetime(2025, 6, 2, 19, 0, tzinfo=UTC)  # noon in Los Angeles, long ago
    busy_day(noon, "Noon")
    due = activities_service.due_soon(me.id, noon, LA)
    assert (due.count, due.more) == (7, 2)
    assert [a.subject for a in due.shown] == [f"Noon in {m}" for m in (5, 10, 15, 20, 25)]
    everything = activities_service.due_soon(me.id, noon, LA, shown=99)
    assert [a.subject for a in everything.shown][-2:] == ["Noon in 30", "Noon untimed"]

    busy_day(datetime.now(UTC), "Now")  # the page asks with the clock's own time
    strip = client.get("/activities/due-soon").get_data(as_text=True)
    assert strip.count('class="due-soon-item"') == 5 and "Now in 5 (ACME Towing)" in strip
    assert "Noon" not in strip and "and 2 more due" in strip
    assert f"/activities/?member_id={me.id}&amp;when=open" in strip
    assert client.get("/").get_data(as_text=True).count('class="due-soon-item"') == 5


def test_a_reminder_is_due_from_its_own_length_before_the_start(make_member, make_activity) -> None:
    """Short reminders are looked for among what starts soon, long ones among the week's;
    each is due exactly when its start minus its reminder has come, until it ends."""
    me = make_member()
    now = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    cases = {  # subject: (minutes from now to the start, reminder minutes, due?)
        "0 min, started 5 min ago": (-5, 0, True),
        "0 min, starts in 5": (5, 0, False),
        "15 min, starts in 15": (15, 15, True),
        "15 min, starts in 16": (16, 15, False),
        "30 min, starts in 20": (20, 30, True),
        "30 min, starts in 40": (40, 30, False),
        "an hour, starts in 60": (60, 60, True),
        "a day, starts in 23 h": (23 * 60, 1_440, True),
        "a day, starts in 25 h": (25 * 60, 1_440, False),
        "two days, starts in 47 h": (47 * 60, 2_880, True),
        "a week, starts in 6 days": (6 * 1_440, 10_080, True),
        "a week, starts in 8 days": (8 * 1_440, 10_080, False),
        "15 min, ended 1 min ago": (-31, 15, False),
    }
    for subject, (start, reminder, _due) in cases.items():
        starts_at = now + timedelta(minutes=start)
        make_activity(
            me,
            subject,
            due_on=starts_at.astimezone(LA).date(),
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=30),
            reminder_minutes=reminder,
        )
    due = {a.subject for a in activities_service.due_soon(me.id, now, LA, shown=99).shown}
    assert due == {subject for subject, (_s, _r, is_due) in cases.items() if is_due}


def test_log_buttons_on_opportunity_company_and_contact_pages(
    client, signed_in, make_opportunity, make_company, make_contact, make_activity
) -> None:
    me = signed_in(Role.REP)
    company = make_company(name="CharTec")
    jason = make_contact(first_name="Jason", last_name="Rivas", company_id=company.id)
    deal = make_opportunity(company_id=company.id, account_manager_id=me.id)
    call = make_activity(me, "Call Jason", opportunity_id=deal.id)
    page = client.get(f"/opportunities/{deal.id}").get_data(as_text=True)
    assert f'hx-get="/activities/new?opportunity_id={deal.id}"' in page
    assert f'hx-post="/activities/{call.id}/done"' in page
    assert 'hx-trigger="activity-saved from:body, activity-closed from:body"' in page
    section = client.get(f"/opportunities/{deal.id}/activities").get_data(as_text=True)
    assert section.lstrip().startswith('<section class="panel" id="opportunity-activities"')
    assert "Call Jason" in section
    assert f'/activities/new?company_id={company.id}"' in client.get(
        f"/companies/{company.id}"
    ).get_data(as_text=True)
    assert f'/activities/new?contact_id={jason.id}"' in client.get(
        f"/contacts/{jason.id}"
    ).get_data(as_text=True)


def test_the_stalled_list_schedules_in_one_click(client, signed_in, make_opportunity) -> None:
    me = signed_in(Role.MANAGER)
    deal = make_opportunity(name="Tows R Us", account_manager_id=me.id)
    html = client.get("/opportunities/stalled").get_data(as_text=True)
    assert f'hx-get="/activities/new?opportunity_id={deal.id}"' in html
    assert 'aria-label="Schedule next step for Tows R Us">Schedule next step</button>' in html
    form = client.get(f"/activities/new?opportunity_id={deal.id}").get_data(as_text=True)
    assert "For <strong>Tows R Us</strong>" in form
