"""The campaign's public web form: a visitor becomes a Prospect on the campaign with a
follow-up call for the owner; bad, oversized and spammy posts, the honeypot and the rate
limit; nothing half-saved; embeddable in another site's page."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityType,
    Campaign,
    CampaignType,
    Company,
    Contact,
    FormSubmission,
    Member,
    Opportunity,
    Role,
    StageChange,
)
from crmlite.services import tracking
from crmlite.services.campaigns import save_campaign
from crmlite.services.team import get_team, local_today
from crmlite.services.tracking import WebLead
from tests.conftest import page_token, stage

GOOD = {
    "name": "Jason Rivas",
    "company": "CharTec",
    "email": "Jason@CharTec.example",
    "phone": "(866) 544-2772",
    "message": "Interested in a phone system upgrade.",
    "website": "",
}


@pytest.fixture()
def owner(make_member) -> Member:
    return make_member(name="Cory Ferguson", role=Role.MANAGER)


@pytest.fixture()
def campaign(app, owner: Member) -> Campaign:
    website = db.session.scalars(select(CampaignType).where(CampaignType.name == "Website")).one()
    campaign = save_campaign(None, type_id=website.id, owner_id=owner.id)
    db.session.commit()
    return campaign


@pytest.fixture()
def url(campaign: Campaign) -> str:
    return f"/t/f/{tracking.form_token(campaign)}"


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def counts() -> tuple[int, ...]:
    return tuple(count(m) for m in (Contact, Company, Opportunity, Activity, FormSubmission))


def test_the_form_is_a_standalone_page_that_other_sites_may_frame(client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for label in ("Your name", "Company", "E-mail", "Phone", "Message"):
        assert label in html
    assert "site-nav" not in html and "<script" not in html
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers
    assert "Set-Cookie" not in response.headers
    # Every other page still refuses to be framed.
    other = client.get("/sign-in")
    assert other.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in other.headers["Content-Security-Policy"]


def test_a_submission_makes_a_prospect_with_a_follow_up_call(
    client, url: str, campaign: Campaign, owner: Member
) -> None:
    response = client.post(url, data=GOOD)
    assert response.status_code == 303
    thanks = client.get(response.headers["Location"])
    assert "We received your message" in thanks.get_data(as_text=True)
    assert "frame-ancestors *" in thanks.headers["Content-Security-Policy"]

    submission = db.session.scalars(select(FormSubmission)).one()
    assert (submission.campaign_id, submission.email) == (campaign.id, "jason@chartec.example")
    contact = db.session.get(Contact, submission.contact_id)
    assert (contact.first_name, contact.last_name) == ("Jason", "Rivas")
    assert contact.email == "jason@chartec.example"
    assert contact.phone == "(866) 544-2772"
    company = db.session.get(Company, submission.company_id)
    assert company.name == "CharTec" and contact.company_id == company.id

    opportunity = db.session.get(Opportunity, submission.opportunity_id)
    assert opportunity.name == "CharTec - Web form"
    assert opportunity.stage_id == stage("Prospect").id
    assert opportunity.campaign_id == campaign.id
    assert opportunity.account_manager_id == owner.id
    assert (opportunity.company_id, opportunity.contact_id) == (company.id, contact.id)
    assert opportunity.source == "Web form"
    assert opportunity.description == GOOD["message"]
    history = db.session.scalars(
        select(StageChange).where(StageChange.opportunity_id == opportunity.id)
    ).all()
    assert [(h.from_stage_id, h.to_stage_id) for h in history] == [(None, stage("Prospect").id)]

    call = db.session.get(Activity, submission.activity_id)
    lf = db.session.scalars(select(ActivityType).where(ActivityType.code == "LF")).one()
    assert call.type_id == lf.id
    assert call.assigned_to_id == owner.id and call.is_open
    assert (call.opportunity_id, call.campaign_id, call.contact_id) == (
        opportunity.id,
        campaign.id,
        contact.id,
    )
    today = local_today(ZoneInfo("America/Los_Angeles"))  # the team's time zone
    assert call.due_on == tracking.follow_up_day(today)
    assert call.phone == "(866) 544-2772"


def test_a_known_contact_and_company_are_matched_not_duplicated(
    client, url: str, make_company, make_contact
) -> None:
    chartec = make_company(name="CharTec")
    jason = make_contact("Jason", "Rivas", email="jason@chartec.example", company_id=chartec.id)
    before = counts()
    data = {**GOOD, "company": "chartec", "name": "J. Rivas", "phone": ""}
    assert client.post(url, data=data).status_code == 303
    assert client.post(url, data={**data, "company": ""}).status_code == 303
    after = counts()
    # No new contact or company; two opportunities, calls and submissions.
    assert after == (before[0], before[1], before[2] + 2, before[3] + 2, before[4] + 2)
    for submission in db.session.scalars(select(FormSubmission)):
        assert submission.contact_id == jason.id
        assert submission.company_id == chartec.id
    assert db.session.get(Contact, jason.id).first_name == "Jason"  # their record is theirs


def test_without_a_company_the_opportunity_takes_the_persons_name(client, url: str) -> None:
    assert client.post(url, data={**GOOD, "company": ""}).status_code == 303
    opportunity = db.session.scalars(select(Opportunity)).one()
    assert opportunity.name == "Jason Rivas - Web form"
    assert opportunity.company_id is None


def test_the_follow_up_is_today_on_a_working_day_and_monday_on_a_weekend() -> None:
    assert tracking.follow_up_day(date(2013, 12, 9)) == date(2013, 12, 9)  # Monday
    assert tracking.follow_up_day(date(2013, 12, 13)) == date(2013, 12, 13)  # Friday
    assert tracking.follow_up_day(date(2013, 12, 14)) == date(2013, 12, 16)  # Saturday
    assert tracking.follow_up_day(date(2013, 12, 15)) == date(2013, 12, 16)  # Sunday


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ""}, "Enter your name."),
        ({"email": ""}, "Enter your e-mail address."),
        ({"email": "not-an-address"}, "Enter a valid e-mail address"),
        ({"email": "a@b"}, "Enter a valid e-mail address"),
        ({"name": "x" * 121}, "Keep your name under 120 characters."),
        ({"company": "c" * 201}, "Keep the company name under 200 characters."),
        ({"phone": "call me maybe"}, "Enter a phone number"),
        ({"message": "m" * 4001}, "Keep your message under 4,000 characters."),
        ({"name": "Buy at https://spam.example"}, "Remove the web address from your name."),
        (
            {"message": "https://a.example https://b.example https://c.example"},
            "too many web addresses",
        ),
    ],
)
def test_bad_posts_get_clear_errors_and_save_nothing(
    client, url: str, changes: dict[str, str], message: str
) -> None:
    before = counts()
    response = client.post(url, data={**GOOD, **changes})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert "Please correct the fields marked below." in html
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert counts() == before


def test_an_oversized_post_is_refused_before_it_is_read(client, url: str) -> None:
    before = counts()
    response = client.post(url, data={**GOOD, "message": "m" * 20_000})
    assert response.status_code == 413
    assert "too long" in response.get_data(as_text=True)
    assert counts() == before


def test_an_oversized_post_without_a_length_is_refused_too(client, url: str) -> None:
    body = ("name=A&email=a%40example.com&message=" + "m" * 20_000).encode()
    # As a server passes on a chunked body: no Content-Length, the stream ends by itself.
    response = client.post(
        url,
        input_stream=io.BytesIO(body),
        content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert counts()[4] == 0
    # A small body sent the same way is read whole and accepted.
    small = urlencode({**GOOD, "website": ""}).encode()
    response = client.post(
        url,
        input_stream=io.BytesIO(small),
        content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 303
    assert db.session.scalars(select(FormSubmission.message)).one() == GOOD["message"]


def test_the_honeypot_pretends_success_and_saves_nothing(client, url: str) -> None:
    before = counts()
    response = client.post(url, data={**GOOD, "website": "http://spam.example"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/thanks")
    assert counts() == before


def test_posts_are_rate_limited_per_client_address(client, url: str, app) -> None:
    assert app.config["PUBLIC_FORM_RATE_LIMIT"] == "5 per minute;50 per day"
    for n in range(5):
        response = client.post(url, data={**GOOD, "email": f"p{n}@example.com"})
        assert response.status_code == 303
    before = counts()
    blocked = client.post(url, data={**GOOD, "email": "p6@example.com"})
    assert blocked.status_code == 429
    assert "Too many messages" in blocked.get_data(as_text=True)
    assert "frame-ancestors *" in blocked.headers["Content-Security-Policy"]
    assert counts() == before
    # Another address is not blocked.
    other = client.post(
        url, data={**GOOD, "email": "p7@example.com"}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert other.status_code == 303


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_forged_form_token_is_404(client, campaign: Campaign, method: str) -> None:
    token = tracking.form_token(campaign)
    for bad in (token[:-2] + "zz", str(campaign.id), "x"):
        response = getattr(client, method)(f"/t/f/{bad}", data=GOOD)
        assert response.status_code == 404
    assert counts()[4] == 0


def test_nothing_is_half_saved_when_a_step_fails(
    client, url: str, monkeypatch, make_contact
) -> None:
    before = counts()

    def broken(**_kwargs):
        raise RuntimeError("the calendar is down")

    monkeypatch.setattr(tracking, "schedule_activity", broken)
    with pytest.raises(RuntimeError):
        client.post(url, data=GOOD)
    db.session.rollback()
    assert counts() == before


def test_a_campaign_with_nobody_to_follow_up_says_so(client, app, make_member) -> None:
    website = db.session.scalars(select(CampaignType).where(CampaignType.name == "Website")).one()
    orphan = save_campaign(None, type_id=website.id, name="No owner")
    db.session.commit()
    before = counts()
    response = client.post(f"/t/f/{tracking.form_token(orphan)}", data=GOOD)
    assert response.status_code == 503
    assert "cannot take your message" in response.get_data(as_text=True)
    assert counts() == before
    # With an admin in the team, the admin follows up.
    admin = make_member(role=Role.ADMIN)
    assert client.post(f"/t/f/{tracking.form_token(orphan)}", data=GOOD).status_code == 303
    call = db.session.scalars(select(Activity)).one()
    assert call.assigned_to_id == admin.id


def test_submissions_are_stamped_now(client, url: str) -> None:
    before = datetime.now(UTC)
    client.post(url, data=GOOD)
    submission = db.session.scalars(select(FormSubmission)).one()
    assert submission.submitted_at >= before.replace(microsecond=0)


# ------------------------------------------------------------------- when the form ends

CLOSED = "This form is closed"


def assert_closed(client, url: str) -> None:
    """GET and POST both answer 410 with the polite page, still framable; nothing is made."""
    before = counts()
    for response in (client.get(url), client.post(url, data=GOOD)):
        assert response.status_code == 410
        html = response.get_data(as_text=True)
        assert CLOSED in html and 'id="web-form"' not in html
        assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert counts() == before


def set_campaign(campaign: Campaign, **fields) -> None:
    for key, value in fields.items():
        setattr(campaign, key, value)
    db.session.commit()


def test_a_completed_campaign_from_2013_takes_no_more_submissions(
    client, url: str, campaign: Campaign
) -> None:
    """Before: its form still created a Prospect and a call for every visitor."""
    set_campaign(
        campaign, status="Completed", starts_on=date(2013, 3, 1), ends_on=date(2013, 3, 31)
    )
    assert_closed(client, url)


@pytest.mark.parametrize("status", ["Completed", "Cancelled"])
def test_a_finished_campaigns_form_is_closed(client, url: str, campaign, status: str) -> None:
    set_campaign(campaign, status=status)
    assert_closed(client, url)


@pytest.mark.parametrize("status", ["Planned", "Active"])
def test_a_planned_or_active_campaigns_form_is_open(client, url, campaign, status: str) -> None:
    set_campaign(campaign, status=status, ends_on=None)
    assert client.get(url).status_code == 200
    assert client.post(url, data=GOOD).status_code == 303


def test_the_form_closes_after_its_end_date_in_the_teams_zone(client, url, campaign) -> None:
    utc_today = datetime.now(UTC).date()
    # Of these two zones, one is on another date than UTC at any time of day.
    zone = next(
        z
        for z in ("Pacific/Kiritimati", "Pacific/Pago_Pago")
        if datetime.now(ZoneInfo(z)).date() != utc_today
    )
    team = get_team()
    team.time_zone = zone
    team_today = local_today(ZoneInfo(zone))
    set_campaign(campaign, status="Active", ends_on=team_today - timedelta(days=1))
    assert_closed(client, url)
    set_campaign(campaign, ends_on=team_today)  # its last day: still open
    assert client.get(url).status_code == 200
    # A day on which the server's (UTC) date and the team's disagree.
    ends_on = min(utc_today, team_today)
    set_campaign(campaign, ends_on=ends_on)
    closed_for_the_team = ends_on < team_today
    assert closed_for_the_team != (ends_on < utc_today)
    assert client.get(url).status_code == (410 if closed_for_the_team else 200)


def switch(client, campaign: Campaign, state: str, **extra):
    token = page_token(client, f"/campaigns/{campaign.id}")
    return client.post(
        f"/campaigns/{campaign.id}/web-form", data={"state": state, "csrf_token": token, **extra}
    )


def form_open(campaign: Campaign) -> bool:
    db.session.refresh(campaign)
    return campaign.form_open


def test_a_manager_closes_and_reopens_the_form_by_hand(
    client, signed_in, url: str, campaign: Campaign
) -> None:
    signed_in(Role.MANAGER)
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "The form takes submissions." in page and "Close the form" in page
    response = switch(client, campaign, "closed")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/campaigns/{campaign.id}")
    assert not form_open(campaign)
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "The web form is closed." in page  # the flash
    assert "Closed by hand" in page and "Reopen the form" in page
    assert_closed(client, url)

    switch(client, campaign, "open")
    assert form_open(campaign)
    assert client.get(url).status_code == 200
    assert client.post(url, data=GOOD).status_code == 303


def test_reopening_by_hand_does_not_open_a_finished_campaigns_form(
    client, signed_in, url: str, campaign: Campaign
) -> None:
    signed_in(Role.MANAGER)
    set_campaign(campaign, status="Cancelled", form_open=False)
    switch(client, campaign, "open")
    assert form_open(campaign)
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Closed: the campaign is Cancelled" in page
    assert_closed(client, url)


def test_only_managers_switch_the_form(client, signed_in, campaign: Campaign) -> None:
    signed_in(Role.REP)
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Close the form" not in page
    assert switch(client, campaign, "closed").status_code == 403
    assert form_open(campaign)


def test_the_switch_needs_the_csrf_token_and_a_known_state(
    client, signed_in, campaign: Campaign
) -> None:
    signed_in(Role.MANAGER)
    response = client.post(f"/campaigns/{campaign.id}/web-form", data={"state": "closed"})
    assert response.status_code == 400
    assert form_open(campaign)
    for bad in ("", "shut", "0"):
        response = switch(client, campaign, bad)
        assert response.status_code == 302
        assert form_open(campaign)
    assert "Choose open or closed" in client.get(f"/campaigns/{campaign.id}").get_data(True)
    assert switch(client, campaign, "closed", campaign_id="999").status_code == 302
    assert client.post("/campaigns/999/web-form", data={}).status_code in (400, 404)


def test_the_service_refuses_a_closed_form(app, campaign: Campaign) -> None:
    set_campaign(campaign, form_open=False)
    lead = WebLead(name="Jason Rivas", email="jason@chartec.example")
    with pytest.raises(tracking.FormClosed):
        tracking.submit_web_form(campaign, lead, tz=ZoneInfo("UTC"))
    db.session.rollback()
    assert counts()[4] == 0


def test_why_a_form_is_closed(campaign: Campaign) -> None:
    """Finished (Completed, Cancelled) first, then past its end date, then closed by hand."""
    closed = tracking.FormClosedBecause
    today = date(2026, 5, 1)
    assert form_open(campaign)  # new campaigns' forms are open
    assert tracking.form_closed_reason(campaign, today) is None
    set_campaign(campaign, ends_on=date(2026, 5, 1))
    assert tracking.form_closed_reason(campaign, today) is None
    set_campaign(campaign, form_open=False)
    assert tracking.form_closed_reason(campaign, today) is closed.BY_HAND
    set_campaign(campaign, ends_on=date(2026, 4, 30))
    assert tracking.form_closed_reason(campaign, today) is closed.ENDED
    set_campaign(campaign, status="Completed")
    assert tracking.form_closed_reason(campaign, today) is closed.FINISHED


def test_the_campaign_page_says_when_the_form_ended(client, signed_in, campaign) -> None:
    signed_in(Role.REP)
    set_campaign(campaign, ends_on=date(2013, 3, 31))
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "Closed: the campaign ended on Sun 2013-03-31." in page
