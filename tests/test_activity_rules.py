"""Activity rules: Done earns the type's points as they are then, rescheduling with a
version check, stamped notes, reassigning, and the next step left behind."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import Activity, ActivityNote
from crmlite.services import activities
from tests.conftest import activity_type

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)


def test_done_stamps_who_and_when_and_fixes_the_points(make_member, make_activity) -> None:
    nick = make_member()
    appointment = make_activity(nick, "1st Appointment with Jason", code="SA")
    activities.close_activity(appointment, by=nick, now=NOW)
    db.session.commit()
    assert (appointment.status, appointment.closed_at, appointment.closed_by_id) == (
        "Closed",
        NOW,
        nick.id,
    )
    assert appointment.points_earned == 10
    # A later change of the type's value leaves what was earned alone.
    activity_type("SA").points = 12
    db.session.commit()
    activities.close_activity(appointment, by=nick, now=NOW + timedelta(hours=1))
    assert appointment.points_earned == 10 and appointment.closed_at == NOW


def test_reopen_takes_the_points_back(make_member, make_activity) -> None:
    nick = make_member()
    call = make_activity(nick, code="CC")
    activities.close_activity(call, by=nick)
    activities.reopen_activity(call, by=nick)
    assert (call.status, call.points_earned, call.closed_at) == ("Open", None, None)


def test_reschedule_places_local_times_and_checks_the_version(make_member, make_activity) -> None:
    nick = make_member()
    meeting = make_activity(nick, due_on=date(2026, 11, 2))
    activities.reschedule(
        meeting, due_on=date(2013, 12, 9), start=time(10), end=time(11), tz=LA, expected_version=1
    )
    db.session.commit()
    assert meeting.starts_at == datetime(2013, 12, 9, 18, 0, tzinfo=UTC)
    assert meeting.ends_at.astimezone(LA).time() == time(11)
    with pytest.raises(activities.ActivityChangedMeanwhile):
        activities.reschedule(
            meeting, due_on=date(2013, 12, 10), start=None, end=None, tz=LA, expected_version=1
        )
    with pytest.raises(ValueError, match="end must come after"):
        activities.reschedule(
            meeting,
            due_on=date(2013, 12, 10),
            start=time(11),
            end=time(10, 30),
            tz=LA,
            expected_version=meeting.version,
        )


def test_notes_are_appended_never_changed(make_member, make_activity) -> None:
    nick = make_member()
    meeting = make_activity(nick)
    first = activities.add_note(meeting, by=nick, body=" Meeting scheduled with Jason. ", now=NOW)
    activities.add_note(
        meeting,
        by=nick,
        body="He is interested in a phone system upgrade.",
        now=NOW + timedelta(minutes=5),
    )
    db.session.commit()
    notes = db.session.scalars(select(ActivityNote).order_by(ActivityNote.id)).all()
    assert [n.body for n in notes] == [
        "Meeting scheduled with Jason.",
        "He is interested in a phone system upgrade.",
    ]
    assert notes[0].id == first.id and notes[0].author_id == nick.id
    with pytest.raises(ValueError):
        activities.add_note(meeting, by=nick, body="   ")


def test_reassign_moves_only_open_activities(make_member, make_activity) -> None:
    nick, manny, boss = make_member(), make_member(), make_member()
    open_one = make_activity(nick)
    done_one = make_activity(nick, closed=True)
    assert activities.reassign([open_one.id, done_one.id], to=manny, by=boss) == 1
    db.session.commit()
    assert open_one.assigned_to_id == manny.id and open_one.assigned_by_id == boss.id
    assert done_one.assigned_to_id == nick.id


def test_closing_the_last_step_leaves_the_opportunity_needing_one(
    make_member, make_activity, make_opportunity
) -> None:
    nick = make_member()
    deal = make_opportunity()
    today = date(2026, 11, 2)
    first = make_activity(nick, due_on=today, opportunity_id=deal.id)
    second = make_activity(nick, due_on=today + timedelta(days=3), opportunity_id=deal.id)
    activities.close_activity(first, by=nick)
    assert activities.opportunity_left_without_next_step(first, today) is None
    activities.close_activity(second, by=nick)
    assert activities.opportunity_left_without_next_step(second, today).id == deal.id
    lone = make_activity(nick)
    assert activities.opportunity_left_without_next_step(lone, today) is None


@pytest.mark.parametrize(
    ("start", "end", "errors"),
    [
        (None, None, None),
        (time(10), time(11), None),
        (time(10), None, {"end": "Give both a start and an end time, or neither."}),
        (None, time(11), {"start": "Give both a start and an end time, or neither."}),
        (time(11), time(11), {"end": "The end must come after the start."}),
        (time(11), time(10, 30), {"end": "The end must come after the start."}),
    ],
)
def test_times_are_both_or_neither_and_end_after_start(start, end, errors) -> None:
    if errors is None:
        activities.check_times(start, end)
        return
    with pytest.raises(activities.InvalidActivity) as refused:
        activities.check_times(start, end)
    assert refused.value.errors == errors


def test_next_step_needs_every_detail_and_a_day_from_today_on(
    make_member, make_opportunity
) -> None:
    nick, boss = make_member(), make_member()
    deal = make_opportunity(account_manager_id=nick.id)
    today = date(2026, 11, 2)
    step = {
        "type_id": activity_type("SA").id,
        "subject": "1st Appointment with Jason",
        "due_on": today,
        "start": time(10),
        "end": time(11),
    }

    def refused(**changes) -> dict[str, str]:
        with pytest.raises(activities.InvalidActivity) as error:
            activities.schedule_next_step(deal, **{**step, **changes}, by=boss, tz=LA, today=today)
        return error.value.errors

    assert refused(type_id=None, subject=" ", due_on=None, start=None, end=None) == {
        "type_id": "Choose the kind of activity.",
        "subject": "Enter a subject.",
        "due_on": "Enter the date.",
        "start": "Enter the start time.",
        "end": "Enter the end time.",
    }
    assert refused(type_id=424242) == {"type_id": "Choose the kind of activity."}
    assert refused(due_on=today - timedelta(days=1)) == {
        "due_on": "A next step is in the future: pick today or later."
    }
    assert refused(end=time(9)) == {"end": "The end must come after the start."}
    assert db.session.scalar(select(func.count(Activity.id))) == 0

    scheduled = activities.schedule_next_step(deal, **step, by=boss, tz=LA, today=today)
    db.session.commit()
    assert (scheduled.opportunity_id, scheduled.assigned_to_id, scheduled.assigned_by_id) == (
        deal.id,
        nick.id,
        boss.id,
    )
    assert scheduled.starts_at == datetime(2026, 11, 2, 18, 0, tzinfo=UTC)
