"""Track behaviour a marketer expects (issue #15): business days and the send window, one
nurture track at a time, a reply stops the e-mails, ``--date``/``--dry-run``, web-form leads
joining their campaign's track, and the campaign and track forms that name those rules."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crmlite.config import Config, SendWindow, parse_send_window
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    Campaign,
    CampaignType,
    EnrollmentStatus,
    OutboxMessage,
    Role,
    StepAction,
    Track,
    TrackEnrollment,
    TrackStep,
    TrackStepRun,
)
from crmlite.services import capture, events, funnel, track_runner, tracking, tracks
from crmlite.services.business_days import first_business_day_from, next_send_time
from crmlite.services.campaigns import save_campaign
from crmlite.services.opportunities import create_opportunity
from tests.conftest import activity_type, page_token, stage

LA = ZoneInfo("America/Los_Angeles")
MONDAY = date(2026, 1, 5)
SATURDAY, SUNDAY = date(2026, 1, 10), date(2026, 1, 11)
NEXT_MONDAY = date(2026, 1, 12)
BASE = "https://crm.example.com"
WINDOW = SendWindow(time(8), time(18))


def track(name: str) -> Track:
    return db.session.scalars(select(Track).where(Track.name == name)).one()


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LA)


def queued() -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def status_on(contact_id: int, name: str) -> str | None:
    db.session.expire_all()
    return db.session.scalar(
        select(TrackEnrollment.status)
        .where(TrackEnrollment.contact_id == contact_id, TrackEnrollment.track_id == track(name).id)
        .order_by(TrackEnrollment.id.desc())
    )


@pytest.fixture()
def shane(make_member, make_company, make_contact):
    cory = make_member(name="Cory Ferguson", role=Role.MANAGER, email="cory@example.com")
    company = make_company(name="Bakersfield Family Dental", account_manager_id=cory.id)
    contact = make_contact(
        first_name="Shane", last_name="Swanson", company_id=company.id, email="shane@example.com"
    )
    db.session.commit()
    return contact, cory


@pytest.fixture()
def weekend_track(app) -> Track:
    """An activity on day 5 (a Saturday from a Monday) and an e-mail on day 6 (Sunday)."""
    kind_id = track("General Interest").kind_id
    weekend = Track(name="Weekend touches", kind_id=kind_id, runs_alongside=True)
    db.session.add(weekend)
    db.session.flush()
    db.session.add_all(
        [
            TrackStep(
                track_id=weekend.id,
                position=1,
                day_offset=5,
                action=StepAction.ACTIVITY.value,
                subject="Call about the offer",
                activity_type_id=activity_type("SE").id,
            ),
            TrackStep(
                track_id=weekend.id,
                position=2,
                day_offset=6,
                action=StepAction.EMAIL.value,
                subject="The offer, {name}",
                body="Hi {name}, the offer.",
            ),
        ]
    )
    db.session.commit()
    return weekend


# ---------------------------------------------------------------- business days


def test_business_days_and_the_send_window() -> None:
    assert first_business_day_from(MONDAY) == MONDAY
    assert first_business_day_from(SATURDAY) == NEXT_MONDAY
    assert first_business_day_from(SUNDAY) == NEXT_MONDAY
    friday = date(2026, 1, 9)
    cases = [
        (local(MONDAY, 10), local(MONDAY, 10)),  # open: now
        (local(MONDAY, 6, 30), local(MONDAY, 8)),  # before the window: its opening today
        (local(MONDAY, 18), local(date(2026, 1, 6), 8)),  # closed: tomorrow's opening
        (local(friday, 19, 30), local(NEXT_MONDAY, 8)),  # Friday evening: Monday
        (local(SATURDAY, 10), local(NEXT_MONDAY, 8)),  # a weekend, even within hours
        (local(SUNDAY, 7), local(NEXT_MONDAY, 8)),
    ]
    for now, expected in cases:
        when = next_send_time(now.astimezone(UTC), LA, WINDOW)
        assert when == expected and when.tzinfo == UTC, (now, when)
    # Across the spring change of clocks the opening is still 08:00 local.
    assert next_send_time(local(date(2026, 3, 6), 20), LA, WINDOW) == local(date(2026, 3, 9), 8)


def test_the_send_window_setting_is_checked_at_start(monkeypatch) -> None:
    assert parse_send_window(" 9:30 - 17:00 ") == SendWindow(time(9, 30), time(17))
    for bad in ("", "8-18", "08:00", "25:00-26:00", "08:60-18:00", "18:00-08:00", "08:00-08:00"):
        with pytest.raises(RuntimeError, match="TRACK_SEND_WINDOW must"):
            parse_send_window(bad)
    monkeypatch.setenv("SECRET_KEY", "k" * 32)
    monkeypatch.setenv("TRACK_SEND_WINDOW", "nine to five")
    with pytest.raises(RuntimeError, match="not 'nine to five'"):
        Config()
    monkeypatch.setenv("TRACK_SEND_WINDOW", "07:00-19:00")
    assert SendWindow(time(7), time(19)) == Config().TRACK_SEND_WINDOW


def test_a_step_on_a_weekend_moves_to_monday(shane, weekend_track) -> None:
    contact, cory = shane
    enrollment = tracks.enroll(contact.id, weekend_track.id, starts_on=MONDAY, by=cory)
    db.session.commit()
    steps = db.session.scalars(select(TrackStep).where(TrackStep.track_id == weekend_track.id))
    assert [tracks.step_due_on(enrollment, s) for s in steps] == [NEXT_MONDAY] * 2
    assert tracks.progress_of([enrollment])[0].next_on == NEXT_MONDAY
    for day in (SATURDAY, SUNDAY):  # nothing is due on a weekend
        assert track_runner.due_steps(day) == []
        assert track_runner.run_due_steps(day, LA, base=BASE).steps == 0
    assert db.session.scalar(select(func.count(TrackStepRun.id))) == 0
    summary = track_runner.run_due_steps(NEXT_MONDAY, LA, base=BASE, now=local(NEXT_MONDAY, 7))
    assert (summary.activities, summary.emails, summary.completed) == (1, 1, 1)
    assert db.session.scalar(select(Activity.due_on)) == NEXT_MONDAY
    # Queued at 07:00 local: it waits for the window to open at 08:00.
    assert [row.not_before for row in queued()] == [local(NEXT_MONDAY, 8)]


def test_emails_queued_outside_the_window_wait_for_its_next_opening(
    app, shane, monkeypatch
) -> None:
    contact, _ = shane
    tracks.enroll(contact.id, track("Healthcare Practices").id, starts_on=date(2026, 1, 9))
    db.session.commit()
    friday = date(2026, 1, 9)
    monkeypatch.setitem(app.config, "TRACK_SEND_WINDOW", SendWindow(time(9), time(17)))
    track_runner.run_due_steps(friday, LA, base=BASE, now=local(friday, 17, 30))
    (row,) = queued()
    assert row.not_before == local(NEXT_MONDAY, 9)  # after Friday's closing: Monday 09:00
    # Within the window it may go at once.
    tracks.enroll(contact.id, track("Value-Add Review").id, starts_on=MONDAY)
    db.session.commit()
    noon = local(date(2026, 1, 13), 12)
    track_runner.run_due_steps(date(2026, 1, 13), LA, base=BASE, now=noon)
    assert queued()[-1].subject == "Ideas for your business, Shane"
    assert queued()[-1].not_before == noon


# ---------------------------------------------------------------- one nurture track


def test_lost_sale_ends_general_interest_but_not_value_add(shane) -> None:
    contact, cory = shane
    opportunity = create_opportunity(
        name="Dental phones", by=cory, contact=contact, company=None, tz=LA
    )
    tracks.enroll(contact.id, track("Value-Add Review").id, starts_on=MONDAY)
    db.session.commit()
    assert status_on(contact.id, "General Interest") == "active"
    opportunity.stage_id = stage("Presentation").id
    db.session.commit()
    funnel.move_to_stage(
        opportunity,
        stage("Lost"),
        by=cory,
        expected_version=opportunity.version,
        tz=LA,
        lost_reason="Went with the incumbent",
    )
    db.session.commit()
    general = db.session.scalars(
        select(TrackEnrollment).where(
            TrackEnrollment.track_id == track("General Interest").id,
            TrackEnrollment.contact_id == contact.id,
        )
    ).one()
    assert general.status == EnrollmentStatus.ENDED.value and general.ended_at is not None
    assert status_on(contact.id, "Lost Sale") == "active"
    assert status_on(contact.id, "Value-Add Review") == "active"  # runs alongside
    # An ended enrollment's steps never run.
    track_runner.run_due_steps(MONDAY + timedelta(days=31), LA, base=BASE)
    ran = select(func.count(TrackStepRun.id)).where(TrackStepRun.enrollment_id == general.id)
    assert db.session.scalar(ran) == 0
    # Joining a track that runs alongside ends nothing.
    tracks.enroll(contact.id, track("After the Trade Show").id, starts_on=MONDAY)
    db.session.commit()
    assert status_on(contact.id, "Lost Sale") == "active"


def test_the_defaults_say_which_tracks_run_alongside(app) -> None:
    alongside = set(db.session.scalars(select(Track.name).where(Track.runs_alongside)))
    assert alongside == {"Value-Add Review", "After the Trade Show"}


def test_the_track_form_offers_running_alongside(client, signed_in) -> None:
    signed_in(Role.MANAGER)
    token = page_token(client, "/tracks/new")
    assert "Contacts may be on this track and another at once" in client.get(
        "/tracks/new"
    ).get_data(as_text=True)
    data = {
        "name": "Chamber mixer",
        "kind_id": track("After the Trade Show").kind_id,
        "on_complete_track_id": 0,
        "active": "y",
        "runs_alongside": "y",
        "csrf_token": token,
    }
    assert client.post("/tracks/new", data=data).status_code == 302
    assert track("Chamber mixer").runs_alongside is True
    mixer = track("Chamber mixer").id
    del data["runs_alongside"]
    assert client.post(f"/tracks/{mixer}/edit", data=data).status_code == 302
    db.session.expire_all()
    assert track("Chamber mixer").runs_alongside is False
    assert "one nurture track at a time" in client.get(f"/tracks/{mixer}").get_data(as_text=True)


# ---------------------------------------------------------------- replies


def email_from(sender: str, to: str, message_id: str, sent_at: datetime | None = None) -> bytes:
    lines = [
        f"From: {sender}",
        f"To: {to}",
        "Subject: Re: IT for healthcare practices",
        f"Date: {format_datetime(sent_at or datetime.now(UTC))}",
        f"Message-ID: {message_id}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\nSounds good, call me.\r\n").encode()


def test_a_reply_stops_the_emails_but_not_the_activities(
    client, signed_in, shane, published
) -> None:
    contact, cory = shane
    received = published(events.EmailFromContact)
    enrollment = tracks.enroll(contact.id, track("Healthcare Practices").id, starts_on=MONDAY)
    db.session.commit()
    # An e-mail the seller sent the contact is no reply.
    capture.capture_email(
        email_from("cory@example.com", "Shane <shane@example.com>", "<out@x>"),
        captured_by=cory,
        tz=LA,
    )
    db.session.commit()
    assert received == [] and enrollment.replied_at is None
    # A message of theirs from before they joined (captured late) is no reply to the track.
    last_week = datetime.now(UTC) - timedelta(days=7)
    capture.capture_email(
        email_from("shane@example.com", "cory@example.com", "<old@x>", last_week),
        captured_by=cory,
        tz=LA,
    )
    db.session.commit()
    db.session.refresh(enrollment)
    assert len(received) == 1 and enrollment.replied_at is None
    received.clear()
    capture.capture_email(
        email_from("Shane Swanson <Shane@Example.com>", "cory@example.com", "<in@x>"),
        captured_by=cory,
        tz=LA,
    )
    db.session.commit()
    db.session.refresh(enrollment)
    assert [r["contact_id"] for r in received] == [contact.id]
    assert enrollment.replied_at is not None and received[0]["at"] == enrollment.replied_at
    summary = track_runner.run_due_steps(MONDAY + timedelta(days=60), LA, base=BASE)
    assert (summary.emails, summary.emails_skipped, summary.activities) == (0, 2, 2)
    assert queued() == []
    outcomes = db.session.scalars(
        select(TrackStepRun.outcome).where(TrackStepRun.enrollment_id == enrollment.id)
    ).all()
    assert sorted(outcomes) == sorted(["skipped: contact replied"] * 2 + ["activity scheduled"] * 2)
    signed_in(Role.MANAGER)
    html = client.get(f"/tracks/{track('Healthcare Practices').id}").get_data(as_text=True)
    shown = enrollment.replied_at.astimezone(LA)
    assert f"Replied {shown:%a %Y-%m-%d}" in html


# ---------------------------------------------------------------- --date and --dry-run


def row_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table)) or 0
        for table in db.metadata.sorted_tables
    }


def test_a_dry_run_lists_what_would_happen_and_changes_nothing(app, shane) -> None:
    contact, _ = shane
    tracks.enroll(contact.id, track("After the Trade Show").id, starts_on=MONDAY)
    db.session.commit()
    before = row_counts()
    cli = app.test_cli_runner()
    result = cli.invoke(args=["crm", "tracks", "run", "--date", "2026-01-22", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("2026-01-06  Shane Swanson  After the Trade Show  day 1: ")
    assert "queue e-mail “Great to meet you at the show, Shane” to shane@example.com" in lines[0]
    assert "schedule “Call the event lead” for Cory Ferguson on 2026-01-22" in lines[1]
    assert lines[2].startswith("2026-01-12") and "day 5" in lines[2]  # day 5 is a Saturday
    assert "complete the track, then join General Interest" in lines[5]
    assert lines[-1] == "Dry run as of 2026-01-22: 5 steps due; nothing was changed."
    db.session.rollback()
    assert row_counts() == before
    weekend = cli.invoke(args=["crm", "tracks", "run", "--date", "2026-01-24", "--dry-run"])
    assert weekend.output.splitlines() == [
        "Dry run as of 2026-01-24: 0 steps due; nothing was changed."
    ]


def test_a_bad_date_is_refused_clearly(app, shane) -> None:
    for bad in ("2026-02-30", "22/01/2026", "tomorrow"):
        result = app.test_cli_runner().invoke(args=["crm", "tracks", "run", "--date", bad])
        assert result.exit_code == 2
        assert "Invalid value for '--date'" in result.output
        assert "does not match the format '%Y-%m-%d'" in result.output


# ---------------------------------------------------------------- web-form leads


@pytest.fixture()
def campaign(app, make_member) -> Campaign:
    owner = make_member(name="Cory Ferguson", role=Role.MANAGER)
    website = db.session.scalars(select(CampaignType).where(CampaignType.name == "Website")).one()
    campaign = save_campaign(None, type_id=website.id, owner_id=owner.id)
    db.session.commit()
    return campaign


def submit(campaign: Campaign, email: str) -> TrackEnrollment:
    submission = tracking.submit_web_form(
        campaign,
        tracking.WebLead(name="Jason Rivas", email=email, company="CharTec"),
        tz=LA,
    )
    db.session.commit()
    return db.session.scalars(
        select(TrackEnrollment).where(TrackEnrollment.contact_id == submission.contact_id)
    ).one()


def test_a_web_form_lead_joins_general_interest(campaign) -> None:
    enrollment = submit(campaign, "jason@chartec.example")
    assert enrollment.track_id == track("General Interest").id
    assert enrollment.opportunity_id is not None and enrollment.status == "active"


def test_a_web_form_lead_joins_the_campaigns_own_track(campaign) -> None:
    campaign.opportunity_track_id = track("After the Trade Show").id
    db.session.commit()
    assert submit(campaign, "jason@chartec.example").track_id == track("After the Trade Show").id
    campaign.opportunity_track_id = None
    campaign.contact_track_id = track("Healthcare Practices").id
    db.session.commit()
    assert submit(campaign, "ida@chartec.example").track_id == track("Healthcare Practices").id


def test_the_campaign_form_names_its_tracks(client, signed_in) -> None:
    signed_in(Role.MANAGER)
    website = db.session.scalars(select(CampaignType).where(CampaignType.name == "Website")).one()
    retired = Track(name="Retired track", kind_id=track("General Interest").kind_id, active=False)
    db.session.add(retired)
    db.session.commit()
    page = client.get("/campaigns/new").get_data(as_text=True)
    assert "Track for its contacts" in page and "Track for its opportunities" in page
    assert "Retired track" not in page  # active tracks only
    token = page_token(client, "/campaigns/new")
    base = {
        "type_id": website.id,
        "sub_type_id": 0,
        "name": "Spring site",
        "status": "Active",
        "owner_id": 0,
        "location_id": 0,
        "contact_track_id": 0,
        "opportunity_track_id": 0,
        "csrf_token": token,
    }
    for overrides, field, message in [
        ({"contact_track_id": "424242"}, "contact_track_id", "choose an active track"),
        ({"opportunity_track_id": retired.id}, "opportunity_track_id", "choose an active track"),
        ({"opportunity_track_id": "x"}, "opportunity_track_id", "choose one from the list"),
    ]:
        html = client.post("/campaigns/new", data={**base, **overrides}).get_data(as_text=True)
        found = re.search(rf'id="{field}-error">([^<]*)<', html)
        assert found and message in found.group(1), (overrides, found and found.group(1))
    assert db.session.scalar(select(Campaign.id)) is None
    show = track("After the Trade Show").id
    response = client.post("/campaigns/new", data={**base, "opportunity_track_id": show})
    assert response.status_code == 302
    saved = db.session.scalars(select(Campaign)).one()
    assert (saved.contact_track_id, saved.opportunity_track_id) == (None, show)
    detail = client.get(f"/campaigns/{saved.id}").get_data(as_text=True)
    assert "its opportunities' contacts join" in detail and "After the Trade Show" in detail
    # A track made inactive since stays offered on the campaign that has it.
    saved.contact_track_id = retired.id
    db.session.commit()
    assert "Retired track" in client.get(f"/campaigns/{saved.id}/edit").get_data(as_text=True)
    token = page_token(client, f"/campaigns/{saved.id}/edit")
    kept = {**base, "csrf_token": token, "contact_track_id": retired.id}
    assert client.post(f"/campaigns/{saved.id}/edit", data=kept).status_code == 302
