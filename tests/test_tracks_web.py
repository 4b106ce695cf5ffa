"""Track pages: setup with its bad input, enrolling by hand, pause/resume/remove, Run now."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import Activity, Role, Track, TrackEnrollment, TrackStep
from crmlite.web import tracks as tracks_web
from tests.conftest import activity_type, page_token


def track(name: str) -> Track:
    return db.session.scalars(select(Track).where(Track.name == name)).one()


def step_data(**overrides) -> dict:
    data = {
        "day_offset": "3",
        "action": "activity",
        "activity_type_id": activity_type("SE").id,
        "subject": "Call about the event",
        "body": "",
        "assignee_rule": "account_manager",
        "assignee_id": "0",
        "target_track_id": "0",
    }
    data.update(overrides)
    return data


def test_tracks_list_and_detail(client, signed_in) -> None:
    signed_in(Role.REP)
    html = client.get("/tracks/").get_data(as_text=True)
    for name in (
        "General Interest",
        "Healthcare Practices",
        "Value-Add Review",
        "After the Trade Show",
        "Lost Sale",
    ):
        assert name in html
    assert ">Run now</button>" not in html  # managers only
    detail = client.get(f"/tracks/{track('Healthcare Practices').id}").get_data(as_text=True)
    assert "on completion the contact joins" in detail and "General Interest" in detail
    assert re.findall(r'<td class="num">(\d+)</td>', detail)[:4] == ["0", "14", "30", "60"]
    assert client.get("/tracks/424242").status_code == 404


def test_add_a_step_and_its_bad_input(client, signed_in) -> None:
    signed_in(Role.MANAGER)
    show = track("After the Trade Show")
    url = f"/tracks/{show.id}/steps"
    token = page_token(client, f"/tracks/{show.id}")
    before = db.session.scalar(select(func.count(TrackStep.id)))
    for overrides, message in [
        ({"day_offset": "-2"}, "The number of days cannot be negative."),
        ({"day_offset": "4000"}, "The number of days must be from 0 to 3,650."),
        ({"day_offset": ""}, "The number of days is required"),
        (
            {"action": "add_to_track", "target_track_id": show.id},
            "A step cannot add the contact to its own track: it would loop.",
        ),
        (
            {"assignee_rule": "member", "assignee_id": "999999"},
            "The named member must be a member of the team",
        ),
        ({"assignee_rule": "member", "assignee_id": "0"}, "Choose the member."),
        ({"activity_type_id": "999999"}, "Choose the kind of activity from the list."),
        ({"subject": ""}, "Enter a subject."),
        ({"action": "email", "body": " "}, "Write the e-mail."),
    ]:
        html = client.post(url, data={**step_data(**overrides), "csrf_token": token}).get_data(
            as_text=True
        )
        assert message in html, message
    both = client.post(
        url, data={**step_data(day_offset="-2", subject=""), "csrf_token": token}
    ).get_data(as_text=True)
    assert 'id="day_offset-error">The number of days cannot be negative.' in both
    assert 'id="subject-error">Enter a subject.' in both  # every problem at once
    assert db.session.scalar(select(func.count(TrackStep.id))) == before
    response = client.post(url, data={**step_data(), "csrf_token": token})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count(TrackStep.id))) == before + 1


def test_edit_a_step_keeps_its_departed_member_and_refuses_a_loop(
    client, signed_in, make_member
) -> None:
    signed_in(Role.MANAGER)
    gone = make_member(name="Gone Member")
    show = track("After the Trade Show")
    token = page_token(client, f"/tracks/{show.id}")
    data = step_data(assignee_rule="member", assignee_id=str(gone.id))
    client.post(f"/tracks/{show.id}/steps", data={**data, "csrf_token": token})
    step = db.session.scalars(select(TrackStep).where(TrackStep.assignee_id == gone.id)).one()
    gone.active = False
    db.session.commit()
    url = f"/tracks/{show.id}/steps/{step.id}"
    assert "Gone Member" in client.get(url).get_data(as_text=True)
    saved = client.post(url, data={**data, "subject": "Call again", "csrf_token": token})
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(TrackStep, step.id).subject == "Call again"
    other = make_member(name="Other Gone", active=False)
    refused = client.post(url, data={**data, "assignee_id": other.id, "csrf_token": token})
    assert "The named member must be an active member: Other Gone" in refused.get_data(as_text=True)
    edit = client.post(
        f"/tracks/{show.id}/edit",
        data={
            "name": show.name,
            "kind_id": show.kind_id,
            "on_complete_track_id": show.id,  # not offered, but sent
            "active": "y",
            "csrf_token": token,
        },
    ).get_data(as_text=True)
    assert "A track cannot lead to itself on completion: it would loop." in edit


def test_reps_cannot_change_tracks(client, signed_in) -> None:
    signed_in(Role.REP)
    show = track("After the Trade Show")
    token = page_token(client, "/tracks/")
    assert client.get("/tracks/new").status_code == 403
    assert (
        client.post(
            f"/tracks/{show.id}/steps", data={**step_data(), "csrf_token": token}
        ).status_code
        == 403
    )
    assert client.post("/tracks/run", data={"csrf_token": token}).status_code == 403


def test_create_track_with_a_duplicate_name_is_refused(client, signed_in) -> None:
    signed_in(Role.MANAGER)
    token = page_token(client, "/tracks/new")
    kind_id = track("Lost Sale").kind_id
    html = client.post(
        "/tracks/new",
        data={
            "name": "lost sale",
            "kind_id": kind_id,
            "on_complete_track_id": 0,
            "active": "y",
            "csrf_token": token,
        },
    ).get_data(as_text=True)
    assert 'id="name-error">Another track has this name.' in html
    response = client.post(
        "/tracks/new",
        data={
            "name": "Chamber mixer",
            "kind_id": kind_id,
            "on_complete_track_id": 0,
            "active": "y",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302 and track("Chamber mixer").kind_id == kind_id


def test_enroll_from_a_contact_page_then_pause_resume_remove(
    client, signed_in, make_contact, make_company
) -> None:
    signed_in(Role.REP)
    company = make_company(name="Tows R Us")
    shane = make_contact(first_name="Shane", last_name="Swanson", company_id=company.id)
    page = client.get(f"/contacts/{shane.id}").get_data(as_text=True)
    assert 'id="contact-tracks"' in page and "Put on a track" in page
    token = page_token(client, f"/contacts/{shane.id}")
    gi = track("General Interest")
    response = client.post(
        "/tracks/enroll",
        data={
            "contact_id": shane.id,
            "track_id": gi.id,
            "starts_on": "2026-01-05",
            "next": f"/contacts/{shane.id}",
            "csrf_token": token,
        },
    )
    assert response.headers["Location"] == f"/contacts/{shane.id}"
    enrollment = db.session.scalars(select(TrackEnrollment)).one()
    page = client.get(f"/contacts/{shane.id}").get_data(as_text=True)
    assert "0 / 12" in page and "Thanks for your time" in page
    again = client.post(
        "/tracks/enroll",
        data={
            "contact_id": shane.id,
            "track_id": gi.id,
            "starts_on": "2026-01-05",
            "csrf_token": token,
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "on General Interest already" in again
    for action, status in (("pause", "paused"), ("resume", "active"), ("remove", "removed")):
        client.post(f"/tracks/enrollments/{enrollment.id}/{action}", data={"csrf_token": token})
        db.session.expire_all()
        assert db.session.get(TrackEnrollment, enrollment.id).status == status
    bad = client.post(
        "/tracks/enroll",
        data={
            "contact_id": shane.id,
            "track_id": gi.id,
            "starts_on": "2026-02-30",
            "csrf_token": token,
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Choose a track and a valid start date." in bad


def test_enroll_all_contacts_of_a_company(client, signed_in, make_company, make_contact) -> None:
    signed_in(Role.REP)
    company = make_company(name="CharTec")
    for first in ("Jason", "Amy", "Raj"):
        make_contact(first_name=first, company_id=company.id)
    token = page_token(client, f"/companies/{company.id}")
    client.post(
        "/tracks/enroll",
        data={
            "company_id": company.id,
            "track_id": track("Value-Add Review").id,
            "starts_on": "2026-01-05",
            "csrf_token": token,
        },
    )
    assert db.session.scalar(select(func.count(TrackEnrollment.id))) == 3


def test_run_now_schedules_due_activities(client, signed_in, make_contact, monkeypatch) -> None:
    # Run on a Tuesday: on a weekend nothing is due.
    monkeypatch.setattr(tracks_web, "local_today", lambda _tz: date(2026, 1, 6))
    signed_in(Role.MANAGER)
    shane = make_contact(first_name="Shane")
    token = page_token(client, "/tracks/")
    client.post(
        "/tracks/enroll",
        data={
            "contact_id": shane.id,
            "track_id": track("Value-Add Review").id,
            "starts_on": "2026-01-05",
            "csrf_token": token,
        },
    )
    response = client.post("/tracks/run", data={"csrf_token": token}, follow_redirects=True)
    assert "Tracks ran:" in response.get_data(as_text=True)
    activity = db.session.scalars(select(Activity).order_by(Activity.id)).first()
    assert activity.subject == "Plan a technology business review"
    assert activity.contact_id == shane.id


def test_run_now_goes_back_only_to_a_page_of_this_site(client, signed_in) -> None:
    signed_in(Role.MANAGER)
    token = page_token(client, "/tracks/")
    for target, expected in [
        ("/tracks/", "/tracks/"),
        ("https://evil.example/", "/tracks/"),
        ("//evil.example", "/tracks/"),
        ("/\\evil.example", "/tracks/"),
    ]:
        response = client.post("/tracks/run", data={"next": target, "csrf_token": token})
        assert response.headers["Location"] == expected, target
