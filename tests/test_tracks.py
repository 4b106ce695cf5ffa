"""Tracks: enrollment rules, the runner over a simulated year, exactly-once execution
(twice in a row and concurrently, one transaction per enrollment), a failing step retried,
stop rules. E-mail steps queue outbox rows (the worker sends them: not tested here)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crmlite.database import write_intent
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    EnrollmentStatus,
    OutboxMessage,
    Role,
    Track,
    TrackEnrollment,
    TrackStep,
    TrackStepRun,
)
from crmlite.services import funnel, outbox, track_runner, tracks
from tests.conftest import stage

LA = ZoneInfo("America/Los_Angeles")
DAY0 = date(2026, 1, 5)  # a Monday
BASE = "https://crm.example.com"


def track(name: str) -> Track:
    return db.session.scalars(select(Track).where(Track.name == name)).one()


def queued() -> list[OutboxMessage]:
    """The track e-mails queued so far, in the order the outbox sends them."""
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "track").order_by(OutboxMessage.id)
        )
    )


def subjects() -> list[str]:
    return [row.subject for row in queued()]


@pytest.fixture()
def shane(make_member, make_company, make_contact):
    cory = make_member(name="Cory Ferguson", role=Role.MANAGER)
    company = make_company(name="Bakersfield Family Dental", account_manager_id=cory.id)
    contact = make_contact(
        first_name="Shane", last_name="Swanson", company_id=company.id, email="shane@example.com"
    )
    db.session.commit()
    return contact, cory


def run_days(first: date, days: int) -> track_runner.RunSummary:
    total = track_runner.RunSummary()
    for offset in range(days):
        total.add(track_runner.run_due_steps(first + timedelta(days=offset), LA, base=BASE))
    return total


def test_industry_track_runs_in_order_then_moves_to_general_interest(shane) -> None:
    contact, cory = shane
    tracks.enroll(contact.id, track("Healthcare Practices").id, starts_on=DAY0)
    db.session.commit()
    summary = run_days(DAY0, 61)
    assert (summary.activities, summary.emails, summary.completed, summary.failed) == (2, 2, 1, 0)
    assert subjects() == [
        "IT for healthcare practices, Shane",
        "A checklist for your next HIPAA review",
    ]
    activities = db.session.scalars(select(Activity).order_by(Activity.due_on)).all()
    assert [(a.due_on, a.assigned_to_id, a.contact_id) for a in activities] == [
        (DAY0 + timedelta(days=14), cory.id, contact.id),
        (DAY0 + timedelta(days=60), cory.id, contact.id),
    ]
    enrollments = db.session.scalars(select(TrackEnrollment).order_by(TrackEnrollment.id)).all()
    assert enrollments[0].status == EnrollmentStatus.COMPLETED.value
    assert enrollments[1].track_id == track("General Interest").id
    assert enrollments[1].starts_on == DAY0 + timedelta(days=60)
    # General Interest's first touch is due the day it was joined (a Friday), but that run
    # had read its due steps already: the next run does it, and day 61 is a Saturday, so
    # it goes on Monday.
    assert run_days(DAY0 + timedelta(days=61), 2).steps == 0
    run_days(DAY0 + timedelta(days=63), 1)
    assert subjects()[-1] == "Thanks for your time, Shane"
    assert [row.to_address for row in queued()] == ["shane@example.com"] * 3


def test_a_year_of_general_interest_is_monthly_and_ends(shane) -> None:
    contact, _ = shane
    tracks.enroll(contact.id, track("General Interest").id, starts_on=DAY0)
    db.session.commit()
    summary = run_days(DAY0, 340)
    assert summary.emails + summary.activities == 12
    assert len(queued()) == summary.emails == 9 and summary.activities == 3
    assert summary.completed == 1
    assert db.session.scalar(select(func.count(TrackStepRun.id))) == 12


def test_missed_steps_are_caught_up_in_order(shane) -> None:
    contact, _ = shane
    tracks.enroll(contact.id, track("After the Trade Show").id, starts_on=DAY0)
    db.session.commit()
    summary = track_runner.run_due_steps(DAY0 + timedelta(days=17), LA, base=BASE)
    assert (summary.emails, summary.activities, summary.completed) == (3, 2, 1)
    assert subjects() == [
        "Great to meet you at the show, Shane",
        "The slides from our talk",
        "Can we help, Shane?",
    ]
    # Caught-up activities are due on the run day, not in the past.
    assert {a.due_on for a in db.session.scalars(select(Activity))} == {DAY0 + timedelta(days=17)}
    # Queued in step order, each naming its step run.
    offset_of = {
        run.id: db.session.get(TrackStep, run.step_id).day_offset
        for run in db.session.scalars(select(TrackStepRun))
    }
    assert [offset_of[row.step_run_id] for row in queued()] == [1, 5, 14]


def test_running_twice_never_repeats_a_step(shane) -> None:
    contact, _ = shane
    tracks.enroll(contact.id, track("After the Trade Show").id, starts_on=DAY0)
    db.session.commit()
    track_runner.run_due_steps(DAY0 + timedelta(days=3), LA, base=BASE)
    again = track_runner.run_due_steps(DAY0 + timedelta(days=3), LA, base=BASE)
    assert again.steps == 0
    assert len(queued()) == 1
    assert db.session.scalar(select(func.count(Activity.id))) == 1


def test_two_runners_at_once_queue_each_email_once_in_order(app, make_member, make_contact) -> None:
    owner = make_member(role=Role.ADMIN)
    for i in range(15):
        contact = make_contact(first_name=f"Lead{i}", email=f"lead{i}@example.com")
        tracks.enroll(contact.id, track("After the Trade Show").id, starts_on=DAY0, by=owner)
    db.session.commit()
    summaries: list[track_runner.RunSummary] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def runner() -> None:
        try:
            with app.app_context():
                token = write_intent.set(True)
                start.wait(10)
                summaries.append(
                    track_runner.run_due_steps(DAY0 + timedelta(days=17), LA, base=BASE)
                )
                write_intent.reset(token)
                db.session.remove()
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert [s.failed for s in summaries] == [0, 0], [s.messages for s in summaries]
    db.session.rollback()
    # A runner that read its due steps after the other had finished some enrollments also
    # sends General Interest's welcome (they joined it): at most once each, after the rest.
    rows = queued()
    assert len({row.key for row in rows}) == len(rows)
    for i in range(15):  # each contact's e-mails in step order (the outbox sends by id)
        theirs = [row.subject for row in rows if row.to_address == f"lead{i}@example.com"]
        assert theirs[:3] == [
            f"Great to meet you at the show, Lead{i}",
            "The slides from our talk",
            f"Can we help, Lead{i}?",
        ]
        assert theirs[3:] in ([], [f"Thanks for your time, Lead{i}"])
    assert db.session.scalar(select(func.count(Activity.id))) == 15 * 2
    show_runs = select(func.count(TrackStepRun.id)).join(TrackEnrollment)
    show_runs = show_runs.where(TrackEnrollment.track_id == track("After the Trade Show").id)
    assert db.session.scalar(show_runs) == 15 * 5
    # Completed once each, counted once in all: each went on to General Interest once.
    assert sum(s.completed for s in summaries) == 15
    assert sum(s.emails for s in summaries) == len(rows)
    general = db.session.scalars(
        select(TrackEnrollment).where(TrackEnrollment.track_id == track("General Interest").id)
    ).all()
    assert len(general) == 15


def test_an_enrollment_another_runner_has_is_counted_taken_and_left_alone(
    shane, make_contact, monkeypatch
) -> None:
    """What the losing runner sees: its due steps were read, then another runner claimed
    the first of them: the whole enrollment is left to that runner."""
    contact, cory = shane
    other = make_contact(first_name="Ida", email="ida@example.com")
    show = track("After the Trade Show").id
    first = tracks.enroll(contact.id, show, starts_on=DAY0, by=cory)
    tracks.enroll(other.id, show, starts_on=DAY0, by=cory)
    db.session.commit()
    day = DAY0 + timedelta(days=17)
    read_before = track_runner.due_steps(day)
    db.session.add(TrackStepRun(enrollment_id=first.id, step_id=step_id(show, 1)))
    db.session.commit()
    monkeypatch.setattr(track_runner, "due_steps", lambda _today: read_before)
    summary = track_runner.run_due_steps(day, LA, base=BASE)
    assert (summary.taken, summary.emails, summary.completed, summary.failed) == (5, 3, 1, 0)
    assert {row.to_address for row in queued()} == {"ida@example.com"}
    assert (
        db.session.scalar(
            select(func.count(TrackStepRun.id)).where(TrackStepRun.enrollment_id == first.id)
        )
        == 1
    )


def test_a_failing_step_marks_nothing_and_runs_on_the_next_run(
    shane, make_contact, monkeypatch
) -> None:
    contact, cory = shane
    other = make_contact(first_name="Ida", email="ida@example.com")
    show = track("After the Trade Show").id
    first = tracks.enroll(contact.id, show, starts_on=DAY0, by=cory)
    second = tracks.enroll(other.id, show, starts_on=DAY0, by=cory)
    db.session.commit()
    real = track_runner.schedule_activity
    calls: list[int] = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("calendar unavailable")
        return real(**kwargs)

    monkeypatch.setattr(track_runner, "schedule_activity", flaky)
    summary = track_runner.run_due_steps(DAY0 + timedelta(days=17), LA, base=BASE)
    # The first enrollment's day-2 activity raised: its day-1 e-mail, queued before it in
    # the same transaction, went back too; the other enrollment ran in full.
    assert summary.failed == 1 and summary.completed == 1
    assert summary.messages == [
        f"enrollment {first.id}, step {step_id(show, 2)}: calendar unavailable"
    ]
    db.session.expire_all()
    assert (
        db.session.scalar(
            select(func.count(TrackStepRun.id)).where(TrackStepRun.enrollment_id == first.id)
        )
        == 0
    )
    assert [row.to_address for row in queued()] == ["ida@example.com"] * 3
    assert db.session.get(TrackEnrollment, first.id).status == "active"
    assert db.session.get(TrackEnrollment, second.id).status == "completed"

    # The next run does it all (and Ida's General Interest welcome: she joined it).
    again = track_runner.run_due_steps(DAY0 + timedelta(days=17), LA, base=BASE)
    assert (again.failed, again.emails, again.activities, again.completed) == (0, 4, 2, 1)
    assert [row.to_address for row in queued()][3:] == ["shane@example.com"] * 3 + [
        "ida@example.com"
    ]
    assert db.session.get(TrackEnrollment, first.id).status == "completed"
    outcomes = db.session.scalars(
        select(TrackStepRun.outcome).where(TrackStepRun.enrollment_id == first.id)
    ).all()
    assert sorted(outcomes) == sorted(["e-mail queued"] * 3 + ["activity scheduled"] * 2)


def step_id(track_id: int, day: int) -> int:
    return db.session.scalars(
        select(TrackStep.id).where(TrackStep.track_id == track_id, TrackStep.day_offset == day)
    ).one()


def test_pause_and_resume_shift_what_is_still_to_come(shane) -> None:
    contact, _ = shane
    enrollment = tracks.enroll(contact.id, track("Healthcare Practices").id, starts_on=DAY0)
    db.session.commit()
    run_days(DAY0, 15)  # day 0 e-mail and the day 14 activity ran
    first_activity_day = db.session.scalar(select(Activity.due_on))
    tracks.pause(enrollment, DAY0 + timedelta(days=15))
    db.session.commit()
    run_days(DAY0 + timedelta(days=15), 20)  # paused: nothing runs
    assert len(queued()) == 1
    tracks.resume(enrollment, DAY0 + timedelta(days=35))
    db.session.commit()
    assert enrollment.paused_days == 20
    run_days(DAY0 + timedelta(days=35), 15)
    assert len(queued()) == 1  # the day-30 e-mail now falls on day 50
    run_days(DAY0 + timedelta(days=50), 1)
    assert len(queued()) == 2
    assert db.session.scalar(select(Activity.due_on).order_by(Activity.id)) == first_activity_day


def test_unsubscribed_contacts_get_no_email_but_activities_still_go(shane) -> None:
    contact, _ = shane
    contact.unsubscribed_at = datetime(2025, 12, 1, tzinfo=UTC)
    tracks.enroll(contact.id, track("Healthcare Practices").id, starts_on=DAY0)
    db.session.commit()
    summary = run_days(DAY0, 61)
    assert queued() == [] and summary.emails_skipped == 2 and summary.activities == 2
    subjects = db.session.scalars(select(Activity.subject)).all()
    assert all("(contact unsubscribed from e-mail)" in s for s in subjects)


def test_a_bouncing_contact_gets_no_track_email(shane) -> None:
    contact, _ = shane
    contact.bounced_at = datetime(2025, 12, 1, tzinfo=UTC)
    tracks.enroll(contact.id, track("Healthcare Practices").id, starts_on=DAY0)
    db.session.commit()
    summary = run_days(DAY0, 61)
    assert queued() == [] and summary.emails_skipped == 2 and summary.activities == 2
    outcomes = db.session.scalars(select(TrackStepRun.outcome)).all()
    assert outcomes.count("skipped: the address bounces") == 2


def test_the_same_contact_is_not_enrolled_twice(shane) -> None:
    contact, _ = shane
    tracks.enroll(contact.id, track("General Interest").id, starts_on=DAY0)
    with pytest.raises(tracks.TrackRefused, match="on General Interest already"):
        tracks.enroll(contact.id, track("General Interest").id, starts_on=DAY0)


def test_lost_starts_lost_sale_and_a_win_ends_it(shane, make_opportunity) -> None:
    contact, cory = shane
    first = make_opportunity(
        name="First", stage_name="Presentation", contact_id=contact.id, account_manager_id=cory.id
    )
    funnel.move_to_stage(
        first,
        stage("Lost"),
        by=cory,
        expected_version=1,
        tz=LA,
        lost_reason="Went with the incumbent",
    )
    db.session.commit()
    lost_sale = db.session.scalars(
        select(TrackEnrollment).where(TrackEnrollment.track_id == track("Lost Sale").id)
    ).one()
    assert lost_sale.status == "active" and lost_sale.opportunity_id == first.id
    second = make_opportunity(
        name="Second", stage_name="Commitment", contact_id=contact.id, account_manager_id=cory.id
    )
    funnel.move_to_stage(second, stage("Won"), by=cory, expected_version=1, tz=LA)
    db.session.commit()
    db.session.refresh(lost_sale)
    assert lost_sale.status == "completed" and lost_sale.ended_at is not None


def test_new_prospects_join_general_interest(shane, make_member) -> None:
    from crmlite.services.opportunities import create_opportunity

    contact, cory = shane
    create_opportunity(
        name="Web lead",
        by=cory,
        company_name="Bakersfield Family Dental",
        contact_name="Shane Swanson",
        tz=LA,
    )
    db.session.commit()
    enrollment = db.session.scalars(select(TrackEnrollment)).one()
    assert (enrollment.track_id, enrollment.contact_id) == (
        track("General Interest").id,
        contact.id,
    )


def test_cli_runs_and_prints_a_summary(app, shane, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "PUBLIC_URL", "https://crm.example.com")
    contact, _ = shane
    tracks.enroll(contact.id, track("Value-Add Review").id, starts_on=DAY0)
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["crm", "tracks", "run", "--date", "2026-01-05"])
    assert result.exit_code == 0, result.output
    assert "1 steps run: 1 activities scheduled" in result.output
    again = app.test_cli_runner().invoke(args=["crm", "tracks", "run", "--date", "2026-01-05"])
    assert "0 steps run" in again.output


def test_track_emails_are_queued_with_the_contacts_unsubscribe_link(
    app, shane, make_contact
) -> None:
    contact, cory = shane
    gone = make_contact(
        first_name="Gone",
        email="gone@example.com",
        unsubscribed_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    show = track("After the Trade Show").id
    enrollment = tracks.enroll(contact.id, show, starts_on=DAY0)
    tracks.enroll(gone.id, show, starts_on=DAY0, by=cory)
    db.session.commit()
    day = DAY0 + timedelta(days=17)
    summary = track_runner.run_due_steps(day, LA, base=BASE)
    # Both finished the event track and joined General Interest: its welcome goes next.
    again = track_runner.run_due_steps(day, LA, base=BASE)
    third = track_runner.run_due_steps(day, LA, base=BASE)
    assert (summary.emails, summary.emails_skipped, summary.failed) == (3, 3, 0), summary.messages
    assert (again.emails, again.emails_skipped, third.steps) == (1, 1, 0)
    rows = queued()
    assert [row.to_address for row in rows] == ["shane@example.com"] * 4
    assert [row.subject for row in rows] == [
        "Great to meet you at the show, Shane",
        "The slides from our talk",
        "Can we help, Shane?",
        "Thanks for your time, Shane",
    ]
    first = rows[0]
    assert first.key == f"track:{enrollment.id}:{step_id(show, 1)}"
    assert (first.contact_id, first.to_name, first.status) == (
        contact.id,
        "Shane Swanson",
        "queued",
    )
    headers = outbox.headers_of(first)
    assert headers["List-Unsubscribe"].startswith(f"<{BASE}/t/")
    assert headers["List-Unsubscribe"][1:-1] in first.body_text
    assert first.body_text.startswith("Hi Shane,\n\nThanks for stopping by our booth.")
