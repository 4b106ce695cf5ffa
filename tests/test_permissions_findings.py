"""Issue #14's findings about who may see and do what, each re-tried as described (each of
these failed before services/permissions.py), and the rules that fix them: a rep reading a
colleague's activity or list, adding points to a colleague's month, reopening a past month,
editing anyone's company or contact and their account manager, pausing or removing anyone's
enrolment."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityStatus,
    Company,
    Contact,
    Member,
    Opportunity,
    OpportunityTeamMember,
    Role,
    Track,
    TrackEnrollment,
)
from crmlite.services import events, points
from crmlite.services.periods import Month
from crmlite.services.team import get_team
from tests.conftest import activity_type, page_token, sign_in
from tests.test_opportunity_page import fields_data

LA = ZoneInfo("America/Los_Angeles")


def htmx(client: FlaskClient) -> dict[str, str]:
    return {"HX-Request": "true", "X-CSRFToken": page_token(client, "/")}


def form_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "type_id": activity_type("SA").id,
        "subject": "1st Appointment with Jason",
        "due_on": date.today().isoformat(),
        "start": "",
        "end": "",
        "assigned_to_id": "",
        "place": "",
        "reminder_minutes": "",
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


def edit_data(activity: Activity, **overrides: object) -> dict[str, object]:
    """The edit form as it opens, plus ``overrides``."""
    values: dict[str, object] = {
        "type_id": activity.type_id,
        "subject": activity.subject,
        "due_on": activity.due_on.isoformat(),
        "assigned_to_id": activity.assigned_to_id,
        "status": activity.status,
        "version": activity.version,
    }
    values.update(overrides)
    return form_data(**values)


def month_points(member: Member) -> int:
    db.session.expire_all()
    month = Month.of(datetime.now(LA).date())
    return points.member_month(
        member, month, tz=LA, team=get_team(), today=datetime.now(LA).date()
    ).points


def reload(model: type, ident: int) -> object:
    db.session.expire_all()
    return db.session.get(model, ident)


@pytest.fixture()
def make_done(make_activity):
    """An activity its assignee closed at ``closed_at``."""

    def make(member: Member, subject: str, closed_at: datetime, **fields: object) -> Activity:
        activity = make_activity(member, subject, closed=True, **fields)
        activity.closed_at = closed_at
        db.session.commit()
        return activity

    return make


@pytest.fixture()
def reopened() -> Iterator[list[tuple[int, int, datetime]]]:
    """The ActivityReopened events published meanwhile (what the audit log will record):
    activity id, by whom, when it had closed."""
    seen: list[tuple[int, int, datetime]] = []

    def record(event: events.ActivityReopened) -> None:
        seen.append((event.activity.id, event.by.id, event.closed_at))

    events.subscribe(events.ActivityReopened, record)
    yield seen
    events.unsubscribe(events.ActivityReopened, record)


# ---------------------------------------------------------------- reading activities


def test_a_rep_cannot_read_a_colleagues_activity(
    client: FlaskClient, signed_in, make_member, make_activity, make_opportunity
) -> None:
    manny = signed_in(Role.REP)
    dana = make_member(name="Dana Colleague")
    private = make_activity(dana, "Dentist, private", place="Office")
    assert client.get(f"/activities/{private.id}").status_code == 403
    assert client.get(f"/activities/{private.id}/edit").status_code == 403
    # Unknown stays unknown.
    assert client.get("/activities/424242").status_code == 404
    # Whom it concerns reads it: assigned to or by them, or on a deal they are on.
    mine = make_activity(manny, "My call")
    given = make_activity(dana, "Call I gave Dana", assigned_by_id=manny.id)
    deal = make_opportunity(name="Our deal", account_manager_id=dana.id)
    db.session.add(OpportunityTeamMember(opportunity_id=deal.id, member_id=manny.id))
    db.session.commit()
    on_deal = make_activity(dana, "Deal call", opportunity_id=deal.id)
    for activity in (mine, given, on_deal):
        assert client.get(f"/activities/{activity.id}").status_code == 200, activity.subject


def test_a_manager_reads_any_activity(client, signed_in, make_member, make_activity) -> None:
    signed_in(Role.MANAGER)
    private = make_activity(make_member(), "Dentist, private")
    assert client.get(f"/activities/{private.id}").status_code == 200


def test_reassign_does_not_show_a_colleagues_open_list(
    client: FlaskClient, signed_in, make_member, make_activity
) -> None:
    signed_in(Role.REP)
    dana = make_member(name="Dana Colleague")
    for n in range(3):
        make_activity(dana, f"Dana's secret {n}")
    response = client.post(
        "/activities/reassign",
        data={"member_id": str(dana.id), "when": "open"},
        headers=htmx(client),
    )
    assert response.status_code == 403
    assert "Dana&#39;s secret" not in response.get_data(as_text=True)
    team = client.post(
        "/activities/reassign", data={"member_id": "team"}, headers=htmx(client)
    ).get_data(as_text=True)
    assert "Dana&#39;s secret" not in team  # "team" is a manager's filter: a rep gets theirs


def test_record_pages_list_only_the_activities_the_rep_may_see(
    client: FlaskClient, signed_in, make_member, make_activity, make_company, make_opportunity
) -> None:
    manny = signed_in(Role.REP)
    dana = make_member(name="Dana Colleague")
    company = make_company(name="Tows R Us", account_manager_id=dana.id)
    deal = make_opportunity(name="Dana's deal", account_manager_id=dana.id, company_id=company.id)
    make_activity(dana, "Dana's call", company_id=company.id, opportunity_id=deal.id)
    make_activity(manny, "Manny's call", company_id=company.id, opportunity_id=deal.id)
    for url in (f"/companies/{company.id}", f"/opportunities/{deal.id}"):
        html = client.get(url).get_data(as_text=True)
        assert "Manny&#39;s call" in html and "Dana&#39;s call" not in html, url
    # The company's account manager sees every activity on it.
    client.post("/sign-out", headers={"X-CSRFToken": page_token(client, "/")})
    assert sign_in(client, dana.email).status_code == 302
    html = client.get(f"/companies/{company.id}").get_data(as_text=True)
    assert "Manny&#39;s call" in html and "Dana&#39;s call" in html


# ---------------------------------------------------------------- points for someone else


def test_a_rep_cannot_log_a_done_activity_for_a_colleague(
    client: FlaskClient, signed_in, make_member
) -> None:
    signed_in(Role.REP)
    dana = make_member(name="Dana Colleague")
    before = month_points(dana)
    response = client.post(
        "/activities/",
        data=form_data(assigned_to_id=dana.id, status="Closed"),
        headers=htmx(client),
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="status-error"' in html and "Only its assignee or a manager" in html
    assert db.session.scalar(select(func.count(Activity.id))) == 0
    assert month_points(dana) == before
    # Scheduling it for them, open, is fine: they earn the points when they do it.
    response = client.post(
        "/activities/", data=form_data(assigned_to_id=dana.id), headers=htmx(client)
    )
    assert response.status_code == 200
    assert db.session.scalar(select(Activity.status)) == ActivityStatus.OPEN.value


def test_logging_your_own_done_activity_still_counts(client: FlaskClient, signed_in) -> None:
    manny = signed_in(Role.REP)
    client.post(
        "/activities/",
        data=form_data(assigned_to_id=manny.id, status="Closed"),
        headers=htmx(client),
    )
    assert month_points(manny) == activity_type("SA").points


def test_who_assigned_an_activity_can_neither_close_nor_reopen_it(
    client: FlaskClient, signed_in, make_member, make_activity
) -> None:
    manny = signed_in(Role.REP)
    dana = make_member(name="Dana Colleague")
    given = make_activity(dana, "Call I gave Dana", assigned_by_id=manny.id)
    # Done, directly or through the form: refused.
    assert client.post(f"/activities/{given.id}/done", headers=htmx(client)).status_code == 403
    response = client.post(
        f"/activities/{given.id}", data=edit_data(given, status="Closed"), headers=htmx(client)
    )
    assert 'id="status-error"' in response.get_data(as_text=True)
    assert reload(Activity, given.id).is_open
    # While it is open, they may still fix what they scheduled.
    response = client.post(
        f"/activities/{given.id}",
        data=edit_data(given, subject="Call Dana at 3"),
        headers=htmx(client),
    )
    assert response.status_code == 200 and reload(Activity, given.id).subject == "Call Dana at 3"
    # Once Dana has done it, it is not theirs to reopen, nor to re-close, nor to edit.
    done = make_activity(dana, "Done by Dana", closed=True, assigned_by_id=manny.id)
    before = month_points(dana)
    response = client.post(
        f"/activities/{done.id}", data=edit_data(done, status="Open"), headers=htmx(client)
    )
    assert response.status_code == 403
    assert not reload(Activity, done.id).is_open and month_points(dana) == before


def test_a_manager_completes_on_the_assignees_behalf_and_it_shows(
    client: FlaskClient, signed_in, make_member, make_activity
) -> None:
    cory = signed_in(Role.MANAGER, name="Cory Manager")
    dana = make_member(name="Dana Colleague")
    call = make_activity(dana, "Call Jason", code="SA")
    response = client.post(f"/activities/{call.id}/done", headers=htmx(client))
    assert response.status_code == 200
    assert "done by Cory Manager" in response.get_data(as_text=True)
    closed = reload(Activity, call.id)
    assert isinstance(closed, Activity)
    assert (closed.closed_by_id, closed.assigned_to_id) == (cory.id, dana.id)
    assert month_points(dana) == activity_type("SA").points


def test_only_the_assignee_or_a_manager_gives_an_activity_away(
    client: FlaskClient, signed_in, make_member, make_activity
) -> None:
    manny = signed_in(Role.REP)
    dana, lee = make_member(name="Dana"), make_member(name="Lee")
    given = make_activity(dana, "Call I gave Dana", assigned_by_id=manny.id)
    response = client.post(
        f"/activities/{given.id}",
        data=edit_data(given, assigned_to_id=lee.id),
        headers=htmx(client),
    )
    assert 'id="assigned_to_id-error"' in response.get_data(as_text=True)
    assert reload(Activity, given.id).assigned_to_id == dana.id  # type: ignore[union-attr]
    # A done activity of theirs cannot be given away: its points would move with it.
    done = make_activity(manny, "Done", closed=True)
    response = client.post(
        f"/activities/{done.id}", data=edit_data(done, assigned_to_id=lee.id), headers=htmx(client)
    )
    assert 'id="assigned_to_id-error"' in response.get_data(as_text=True)
    assert reload(Activity, done.id).assigned_to_id == manny.id  # type: ignore[union-attr]


# ---------------------------------------------------------------- reopening a past month


def last_month() -> datetime:
    first = datetime.now(LA).date().replace(day=1)
    return (
        datetime.combine(first - timedelta(days=3), datetime.min.time(), LA)
        .replace(hour=12)
        .astimezone(UTC)
    )


def test_reopening_an_activity_of_an_ended_month_needs_a_manager(
    client: FlaskClient, signed_in, make_done, reopened
) -> None:
    manny = signed_in(Role.REP)
    done = make_done(manny, "Closed last month", last_month(), code="SA")
    response = client.post(
        f"/activities/{done.id}", data=edit_data(done, status="Open"), headers=htmx(client)
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="status-error"' in html
    assert "only a manager can reopen it" in html
    assert not reload(Activity, done.id).is_open and reopened == []
    # Within the month it closed in, the assignee may; it is recorded all the same.
    recent = make_done(manny, "Closed just now", datetime.now(UTC))
    client.post(
        f"/activities/{recent.id}", data=edit_data(recent, status="Open"), headers=htmx(client)
    )
    assert reload(Activity, recent.id).is_open
    assert [(ident, by) for ident, by, _closed_at in reopened] == [(recent.id, manny.id)]


def test_a_manager_reopens_a_past_month_and_it_is_recorded(
    client: FlaskClient, signed_in, make_member, make_done, reopened
) -> None:
    cory = signed_in(Role.MANAGER)
    dana = make_member(name="Dana Colleague")
    closed_at = last_month()
    done = make_done(dana, "Closed last month", closed_at)
    response = client.post(
        f"/activities/{done.id}", data=edit_data(done, status="Open"), headers=htmx(client)
    )
    assert response.status_code == 200 and reload(Activity, done.id).is_open
    assert reopened == [(done.id, cory.id, closed_at)]


# ---------------------------------------------------------------- companies and contacts


def test_a_rep_cannot_edit_a_colleagues_company_or_its_contacts(
    client: FlaskClient, signed_in, make_member, make_company, make_contact
) -> None:
    signed_in(Role.REP)
    dana = make_member(name="Dana Colleague")
    theirs = make_company(name="Dana's account", account_manager_id=dana.id)
    shane = make_contact("Shane", company_id=theirs.id)
    token = page_token(client, f"/companies/{theirs.id}")
    assert client.get(f"/companies/{theirs.id}/edit").status_code == 403
    response = client.post(
        f"/companies/{theirs.id}/edit",
        data={"csrf_token": token, "name": "Mine now", "account_manager_id": "0"},
    )
    assert response.status_code == 403
    assert client.get(f"/contacts/{shane.id}/edit").status_code == 403
    response = client.post(
        f"/contacts/{shane.id}/edit", data={"csrf_token": token, "first_name": "Changed"}
    )
    assert response.status_code == 403
    company, contact = reload(Company, theirs.id), reload(Contact, shane.id)
    assert isinstance(company, Company) and isinstance(contact, Contact)
    assert (company.name, company.account_manager_id, contact.first_name) == (
        "Dana's account",
        dana.id,
        "Shane",
    )
    # Their pages are read by everyone, without the Edit buttons.
    page = client.get(f"/companies/{theirs.id}").get_data(as_text=True)
    assert f"/companies/{theirs.id}/edit" not in page


def test_a_rep_edits_their_company_but_not_its_account_manager(
    client: FlaskClient, signed_in, make_member, make_company, make_contact
) -> None:
    manny = signed_in(Role.REP)
    dana = make_member(name="Dana Colleague")
    mine = make_company(name="Manny's account", account_manager_id=manny.id)
    url = f"/companies/{mine.id}/edit"
    token = page_token(client, url)
    refused = client.post(
        url, data={"csrf_token": token, "name": "Renamed", "account_manager_id": str(dana.id)}
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 200
    assert "Only a manager can choose or change a company&#39;s account manager." in html
    assert reload(Company, mine.id).name == "Manny's account"  # type: ignore[union-attr]
    saved = client.post(
        url, data={"csrf_token": token, "name": "Renamed", "account_manager_id": str(manny.id)}
    )
    assert saved.status_code == 302
    assert reload(Company, mine.id).name == "Renamed"  # type: ignore[union-attr]
    # A contact of theirs cannot be moved into a colleague's account.
    shane = make_contact("Shane", company_id=mine.id)
    theirs = make_company(name="Dana's account", account_manager_id=dana.id)
    response = client.post(
        f"/contacts/{shane.id}/edit",
        data={"csrf_token": token, "first_name": "Shane", "company_id": str(theirs.id)},
    )
    assert 'id="company_id-error"' in response.get_data(as_text=True)
    assert reload(Contact, shane.id).company_id == mine.id  # type: ignore[union-attr]


def test_a_reps_new_company_is_theirs(client: FlaskClient, signed_in, make_member) -> None:
    manny = signed_in(Role.REP)
    dana = make_member(name="Dana Colleague")
    form = client.get("/companies/new").get_data(as_text=True)
    assert re.search(rf'<option selected value="{manny.id}">', form)
    assert f'value="{dana.id}"' not in form
    token = page_token(client, "/companies/new")
    refused = client.post(
        "/companies/new",
        data={"csrf_token": token, "name": "For Dana", "account_manager_id": str(dana.id)},
    )
    assert refused.status_code == 200 and 'id="account_manager_id-error"' in refused.get_data(
        as_text=True
    )
    client.post(
        "/companies/new",
        data={"csrf_token": token, "name": "Mine", "account_manager_id": str(manny.id)},
    )
    assert db.session.scalar(select(Company.account_manager_id)) == manny.id


def test_a_manager_changes_any_account_manager(
    client: FlaskClient, signed_in, make_member, make_company
) -> None:
    signed_in(Role.MANAGER)
    manny, dana = make_member(name="Manny"), make_member(name="Dana")
    company = make_company(name="Tows R Us", account_manager_id=manny.id)
    url = f"/companies/{company.id}/edit"
    response = client.post(
        url,
        data={
            "csrf_token": page_token(client, url),
            "name": "Tows R Us",
            "account_manager_id": str(dana.id),
        },
    )
    assert response.status_code == 302
    assert reload(Company, company.id).account_manager_id == dana.id  # type: ignore[union-attr]


# ---------------------------------------------------------------- opportunities


def test_only_a_manager_gives_an_opportunity_to_another_account_manager(
    client: FlaskClient, signed_in, make_member, make_opportunity
) -> None:
    manny = signed_in(Role.REP)
    dana = make_member(name="Dana Colleague")
    deal = make_opportunity(name="Manny's deal", account_manager_id=manny.id)
    response = client.post(
        f"/opportunities/{deal.id}/fields",
        data=fields_data(deal, account_manager_id=str(dana.id)),
        headers=htmx(client),
    )
    assert "Only a manager can give the opportunity" in response.get_data(as_text=True)
    assert reload(Opportunity, deal.id).account_manager_id == manny.id  # type: ignore[union-attr]
    # A new one from the board is the rep's own.
    token = page_token(client, "/board/")
    response = client.post(
        "/board/opportunities/new",
        data={"new-name": "For Dana", "new-account_manager_id": str(dana.id), "new-rating": "Hot"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert 'id="new-account_manager_id-error"' in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Opportunity.id))) == 1


def test_a_managers_choice_of_account_manager_is_still_checked(
    client: FlaskClient, signed_in, make_member, make_opportunity
) -> None:
    signed_in(Role.MANAGER)
    deal = make_opportunity(name="A deal", account_manager_id=make_member().id)
    response = client.post(
        f"/opportunities/{deal.id}/fields",
        data=fields_data(deal, account_manager_id="99999"),
        headers=htmx(client),
    )
    assert "The account manager must be a member of the team" in response.get_data(as_text=True)


# ---------------------------------------------------------------- enrolments


def enrolment(contact: Contact, by: Member | None) -> TrackEnrollment:
    track = db.session.scalars(select(Track).where(Track.name == "General Interest")).one()
    enrollment = TrackEnrollment(
        track_id=track.id,
        contact_id=contact.id,
        starts_on=date.today(),
        enrolled_by_id=by.id if by else None,
    )
    db.session.add(enrollment)
    db.session.commit()
    return enrollment


def test_a_rep_cannot_pause_or_remove_a_colleagues_enrolment(
    client: FlaskClient, signed_in, make_member, make_company, make_contact
) -> None:
    manny = signed_in(Role.REP)
    dana = make_member(name="Dana Colleague")
    account = make_company(name="Dana's account", account_manager_id=dana.id)
    theirs = enrolment(make_contact("Shane", company_id=account.id), by=dana)
    token = page_token(client, "/tracks/")
    for action in ("pause", "remove"):
        response = client.post(
            f"/tracks/enrollments/{theirs.id}/{action}", data={"csrf_token": token}
        )
        assert response.status_code == 403, action
        assert reload(TrackEnrollment, theirs.id).status == "active"  # type: ignore[union-attr]
    # Nor put a colleague's contact on a track.
    other = make_contact("Amy", company_id=account.id)
    response = client.post(
        "/tracks/enroll",
        data={
            "contact_id": other.id,
            "track_id": theirs.track_id,
            "starts_on": date.today().isoformat(),
            "csrf_token": token,
        },
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count(TrackEnrollment.id))) == 1
    # Their own (they enrolled the contact) they pause and remove.
    mine = enrolment(make_contact("Raj"), by=manny)
    for action, status in (("pause", "paused"), ("remove", "removed")):
        client.post(f"/tracks/enrollments/{mine.id}/{action}", data={"csrf_token": token})
        assert reload(TrackEnrollment, mine.id).status == status  # type: ignore[union-attr]


def test_a_manager_touches_anyones_enrolment(
    client: FlaskClient, signed_in, make_member, make_contact
) -> None:
    signed_in(Role.MANAGER)
    theirs = enrolment(make_contact("Shane"), by=make_member())
    token = page_token(client, "/tracks/")
    client.post(f"/tracks/enrollments/{theirs.id}/pause", data={"csrf_token": token})
    assert reload(TrackEnrollment, theirs.id).status == "paused"  # type: ignore[union-attr]


# ---------------------------------------------------------------- unknown before refused


def test_unknown_ids_are_404_where_the_role_may_use_the_route(
    client: FlaskClient, signed_in
) -> None:
    """A route the role may use looks the record up first (404), then asks the relation
    (403); a route the role may never use is refused before anything is looked up."""
    signed_in(Role.REP)
    for url in ("/activities/424242", "/companies/424242/edit", "/points/members/424242"):
        assert client.get(url).status_code == 404, url
    for url in ("/quotas/2026/members/424242", "/setup/members/424242", "/marketing/emails/424242"):
        assert client.get(url).status_code == 403, url
