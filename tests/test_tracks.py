"""Tracks: enrollment rules, the runner over a simulated year, exactly-once execution
(twice in a row and concurrently), stop rules."""

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
    Role,
    Track,
    TrackEnrollment,
    TrackStepRun,
)
from crmlite.services import funnel, tracks
from tests.conftest import stage

LA = ZoneInfo("America/Los_Angeles")
DAY0 = date(2026, 1, 5)


def track(name: str) -> Track:
    return db.session.scalars(select(Track).where(Track.name == name)).one()


@pytest.fixture()
def outbox():
    sent: list[tuple[str, str, str]] = []

    def send(address: str, subject: str, body: str, _contact) -> None:
        sent.append((address, subject, body))

    return sent, send


@pytest.fixture()
def shane(make_member, make_company, make_contact):
    cory = make_member(name="Cory Ferguson", role=Role.MANAGER)
    company = make_company(name="Bakersfield Family Dental", account_manager_id=cory.id)
    contact = make_contact(
        first_name="Shane", last_name="Swanson", company_id=company.id, email="shane@example.com"
    )
    db.session.commit()
    return contact, cory


def run_days(first: date, days: int, send) -> tracks.RunSummary:
    total = tracks.RunSummary()
    for offset in range(days):
        summary = tracks.run_due_steps(first + timedelta(days=offset), LA, send_email=send)
        for name in (
            "activities",
            "emails",
            "emails_skipped",
            "enrolled",
            "taken",
            "failed",
            "completed",
        ):
            setattr(total, name, getattr(total, name) + getattr(summary, name))
    return total


def test_industry_track_runs_in_order_then_moves_to_general_interest(shane, outbox) -> None:
    contact, cory = shane
    sent, send = outbox
    tracks.enroll(contact.id, track("Healthcare Practices").id, starts_on=DAY0)
    db.session.commit()
    summary = run_days(DAY0, 61, send)
    assert (summary.activities, summary.emails, summary.completed, summary.failed) == (2, 2, 1, 0)
    assert [s[1] for s in sent][:2] == [
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
    # General Interest's first touch (day 0) went out the same day it was joined? No: the
    # next run does it.
    run_days(DAY0 + timedelta(days=61), 1, send)
    assert sent[-1][1] == "Thanks for your time, Shane"


def test_a_year_of_general_interest_is_monthly_and_ends(shane, outbox) -> None:
    contact, _ = shane
    sent, send = outbox
    assert sent == []
    tracks.enroll(contact.id, track("General Interest").id, starts_on=DAY0)
    db.session.commit()
    summary = run_days(DAY0, 340, send)
    assert summary.emails + summary.activities == 12
    assert len(sent) == summary.emails == 9 and summary.activities == 3
    assert summary.completed == 1
    assert db.session.scalar(select(func.count(TrackStepRun.id))) == 12


def test_missed_steps_are_caught_up_in_order(shane, outbox) -> None:
    contact, _ = shane
    sent, send = outbox
    tracks.enroll(contact.id, track("After the Trade Show").id, starts_on=DAY0)
    db.session.commit()
    summary = tracks.run_due_steps(DAY0 + timedelta(days=20), LA, send_email=send)
    assert (summary.emails, summary.activities, summary.completed) == (3, 2, 1)
    assert [s[1] for s in sent] == [
        "Great to meet you at the show, Shane",
        "The slides from our talk",
        "Can we help, Shane?",
    ]
    # Caught-up activities are due on the run day, not in the past.
    assert {a.due_on for a in db.session.scalars(select(Activity))} == {DAY0 + timedelta(days=20)}


def test_running_twice_never_repeats_a_step(shane, outbox) -> None:
    contact, _ = shane
    sent, send = outbox
    tracks.enroll(contact.id, track("After the Trade Show").id, starts_on=DAY0)
    db.session.commit()
    tracks.run_due_steps(DAY0 + timedelta(days=3), LA, send_email=send)
    again = tracks.run_due_steps(DAY0 + timedelta(days=3), LA, send_email=send)
    assert again.steps == 0
    assert len(sent) == 1
    assert db.session.scalar(select(func.count(Activity.id))) == 1


def test_two_runners_at_once_execute_each_step_once(app, make_member, make_contact) -> None:
    owner = make_member(role=Role.ADMIN)
    for i in range(15):
        contact = make_contact(first_name=f"Lead{i}", email=f"lead{i}@example.com")
        tracks.enroll(contact.id, track("After the Trade Show").id, starts_on=DAY0, by=owner)
    db.session.commit()
    sent: list[str] = []
    lock = threading.Lock()

    def send(address: str, *_args) -> None:
        with lock:
            sent.append(address)

    errors: list[BaseException] = []

    def runner() -> None:
        try:
            with app.app_context():
                token = write_intent.set(True)
                tracks.run_due_steps(DAY0 + timedelta(days=20), LA, send_email=send)
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
    db.session.rollback()
    assert len(sent) == 15 * 3 and len(set(sent)) == 15
    assert sorted(sent) == sorted(f"lead{i}@example.com" for i in range(15) for _ in range(3))
    assert db.session.scalar(select(func.count(Activity.id))) == 15 * 2
    assert db.session.scalar(select(func.count(TrackStepRun.id))) == 15 * 5


def test_pause_and_resume_shift_what_is_still_to_come(shane, outbox) -> None:
    contact, _ = shane
    sent, send = outbox
    enrollment = tracks.enroll(contact.id, track("Healthcare Practices").id, starts_on=DAY0)
    db.session.commit()
    run_days(DAY0, 15, send)  # day 0 e-mail and the day 14 activity ran
    first_activity_day = db.session.scalar(select(Activity.due_on))
    tracks.pause(enrollment, DAY0 + timedelta(days=15))
    db.session.commit()
    run_days(DAY0 + timedelta(days=15), 20, send)  # paused: nothing runs
    assert len(sent) == 1
    tracks.resume(enrollment, DAY0 + timedelta(days=35))
    db.session.commit()
    assert enrollment.paused_days == 20
    run_days(DAY0 + timedelta(days=35), 15, send)
    assert len(sent) == 1  # the day-30 e-mail now falls on day 50
    run_days(DAY0 + timedelta(days=50), 1, send)
    assert len(sent) == 2
    assert db.session.scalar(select(Activity.due_on).order_by(Activity.id)) == first_activity_day


def test_unsubscribed_contacts_get_no_email_but_activities_still_go(shane, outbox) -> None:
    contact, _ = shane
    sent, send = outbox
    contact.unsubscribed_at = datetime(2025, 12, 1, tzinfo=UTC)
    tracks.enroll(contact.id, track("Healthcare Practices").id, starts_on=DAY0)
    db.session.commit()
    summary = run_days(DAY0, 61, send)
    assert sent == [] and summary.emails_skipped == 2 and summary.activities == 2
    subjects = db.session.scalars(select(Activity.subject)).all()
    assert all("(contact unsubscribed from e-mail)" in s for s in subjects)


def test_a_bouncing_contact_gets_no_track_email(shane, outbox) -> None:
    contact, _ = shane
    sent, send = outbox
    contact.bounced_at = datetime(2025, 12, 1, tzinfo=UTC)
    tracks.enroll(contact.id, track("Healthcare Practices").id, starts_on=DAY0)
    db.session.commit()
    summary = run_days(DAY0, 61, send)
    assert sent == [] and summary.emails_skipped == 2 and summary.activities == 2
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
    result = app.test_cli_runner().invoke(args=["crm", "tracks", "run"])
    assert result.exit_code == 0, result.output
    assert "activities scheduled" in result.output
    again = app.test_cli_runner().invoke(args=["crm", "tracks", "run"])
    assert "0 steps run" in again.output


def test_track_emails_reach_a_real_smtp_server(app, shane, make_contact, monkeypatch) -> None:
    from aiosmtpd.controller import Controller

    from tests.test_email_campaigns import Collecting, free_port

    contact, cory = shane
    gone = make_contact(
        first_name="Gone",
        email="gone@example.com",
        unsubscribed_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    handler, port = Collecting(), free_port()
    for key, value in {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_USERNAME": "",
        "MAIL_PASSWORD": "",
        "MAIL_RATE_PER_SECOND": 1000,
        "PUBLIC_URL": "https://crm.example.com",
    }.items():
        monkeypatch.setitem(app.config, key, value)
    show = track("After the Trade Show").id
    tracks.enroll(contact.id, show, starts_on=DAY0)
    tracks.enroll(gone.id, show, starts_on=DAY0, by=cory)
    db.session.commit()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        summary = tracks.run_due_steps(
            DAY0 + timedelta(days=20), LA, send_email=tracks.default_sender()
        )
        # Both finished the event track and joined General Interest: its welcome goes next.
        again = tracks.run_due_steps(
            DAY0 + timedelta(days=20), LA, send_email=tracks.default_sender()
        )
        third = tracks.run_due_steps(
            DAY0 + timedelta(days=20), LA, send_email=tracks.default_sender()
        )
    finally:
        controller.stop()
    assert (summary.emails, summary.emails_skipped, summary.failed) == (3, 3, 0), summary.messages
    assert (again.emails, again.emails_skipped, third.steps) == (1, 1, 0)
    assert [e.rcpt_tos for e in handler.envelopes] == [["shane@example.com"]] * 4
    subjects = [e.content.decode().split("Subject: ")[1].splitlines()[0] for e in handler.envelopes]
    assert subjects == [
        "Great to meet you at the show, Shane",
        "The slides from our talk",
        "Can we help, Shane?",
        "Thanks for your time, Shane",
    ]
