"""The next-step question (issue #16): it offers the target stage's kind of activity (set per
stage in Setup), the next business day and 10:00-10:30, all editable, in a dialog over the
board; logging an activity as done on a stalled card asks for the next step as Done does."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import Activity, AuditEntry, AuditKind, Opportunity, Role, SalesStage
from crmlite.services import funnel
from crmlite.services.defaults import STAGE_NEXT_STEP_TYPES, load_defaults
from crmlite.services.team import local_today
from tests.conftest import activity_type, page_token, stage

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture()
def today() -> date:
    return local_today(LA)


@pytest.fixture()
def htmx(client: FlaskClient):
    """Post like htmx does (the CSRF token in a header); the answer's HTML."""

    def post(url: str, data: dict, status: int = 200, page: str = "/board/") -> str:
        token = page_token(client, page)
        response = client.post(url, data=data, headers={"HX-Request": "true", "X-CSRFToken": token})
        assert response.status_code == status, response.get_data(as_text=True)[:500]
        return response.get_data(as_text=True)

    return post


def move(htmx, opportunity: Opportunity, stage_name: str, **extra) -> str:
    data = {"stage_id": stage(stage_name).id, "version": opportunity.version, **extra}
    return htmx(f"/board/opportunities/{opportunity.id}/move", data)


def selected(html: str, name: str) -> list[str]:
    """The values of a select's selected options."""
    block = re.search(rf'<select[^>]*name="{name}".*?</select>', html, re.S)
    assert block, f"no select {name}"
    return re.findall(r'<option selected value="([^"]*)"', block.group(0))


def value(html: str, name: str) -> str | None:
    """An input's value (None: it has none)."""
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert tag, f"no input {name}"
    found = re.search(r'value="([^"]*)"', tag.group(0))
    return found.group(1) if found else None


def next_weekday_after(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


# ------------------------------------------------------------------ the question's defaults


def test_moving_to_1st_appointment_offers_sa_the_next_business_day_10_to_10_30(
    client, signed_in, make_opportunity, htmx, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(name="Tows R Us", account_manager_id=me.id)
    html = move(htmx, deal, "1st Appointment")
    assert '<dialog class="next-step-dialog" open data-modal' in html
    assert selected(html, "step_type_id") == [str(activity_type("SA").id)]
    assert selected(html, "step_type_id") != [str(activity_type("PF").id)]
    assert value(html, "step_date") == next_weekday_after(today).isoformat()
    assert (value(html, "step_start"), value(html, "step_end")) == ("10:00", "10:30")
    assert value(html, "step_subject") == "Next step: Tows R Us"
    # Asked only: nothing moved, nothing scheduled yet.
    db.session.expire_all()
    assert db.session.get(Opportunity, deal.id).stage_id == stage("Prospect").id
    assert db.session.scalar(select(func.count(Activity.id))) == 0

    # Each stage offers its own kind: Discovery a discovery meeting.
    html = move(htmx, deal, "Discovery")
    assert selected(html, "step_type_id") == [str(activity_type("DM").id)]


def test_the_offered_answers_schedule_as_they_are(
    client, signed_in, make_opportunity, htmx, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    html = move(htmx, deal, "1st Appointment")
    answers = {
        name: value(html, name) for name in ("step_subject", "step_date", "step_start", "step_end")
    }
    move(
        htmx,
        deal,
        "1st Appointment",
        prompt="next_step",
        step_type_id=selected(html, "step_type_id")[0],
        **answers,
    )
    activity = db.session.scalars(select(Activity)).one()
    day = next_weekday_after(today)
    assert activity.type_id == activity_type("SA").id and activity.due_on == day
    assert activity.starts_at.astimezone(LA).strftime("%Y-%m-%d %H:%M") == f"{day} 10:00"
    assert activity.ends_at.astimezone(LA).strftime("%H:%M") == "10:30"
    db.session.expire_all()
    assert db.session.get(Opportunity, deal.id).stage_id == stage("1st Appointment").id


def test_what_the_person_entered_or_cleared_stays_when_asked_again(
    client, signed_in, make_opportunity, htmx, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    html = move(
        htmx,
        deal,
        "1st Appointment",
        prompt="next_step",
        step_type_id=activity_type("PD").id,
        step_subject="Call Jason",
        step_date="",
        step_start="14:00",
        step_end="15:00",
    )
    assert 'id="step_date-error">Enter the date.' in html
    assert value(html, "step_date") in (None, "")  # not refilled behind the person's back
    assert selected(html, "step_type_id") == [str(activity_type("PD").id)]
    assert (value(html, "step_start"), value(html, "step_end")) == ("14:00", "15:00")
    assert db.session.scalar(select(func.count(Activity.id))) == 0


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 12, 2), date(2026, 12, 3)),  # Wednesday: Thursday
        (date(2026, 12, 4), date(2026, 12, 7)),  # Friday: Monday
        (date(2026, 12, 5), date(2026, 12, 7)),  # Saturday: Monday
        (date(2026, 12, 6), date(2026, 12, 7)),  # Sunday: Monday
    ],
)
def test_the_offered_day_is_the_next_business_day(app, today: date, expected: date) -> None:
    offered = funnel.next_step_defaults(stage("Presentation"), today)
    assert offered.due_on == expected
    assert (offered.start, offered.end) == (time(10, 0), time(10, 30))
    assert offered.type_id == activity_type("PA").id


def test_a_stage_without_a_type_or_with_an_inactive_one_offers_none(app) -> None:
    discovery = stage("Discovery")
    discovery.next_step_type_id = None
    assert funnel.next_step_defaults(discovery, date(2026, 12, 2)).type_id is None
    discovery.next_step_type_id = activity_type("DM").id
    activity_type("DM").active = False
    db.session.flush()
    assert funnel.next_step_defaults(discovery, date(2026, 12, 2)).type_id is None


def test_defaults_give_the_standard_stages_their_type_and_keep_setups_choice(app) -> None:
    for name, code in STAGE_NEXT_STEP_TYPES.items():
        assert stage(name).next_step_type_id == activity_type(code).id, name
    assert stage("1st Appointment").next_step_type_id == activity_type("SA").id
    assert stage("Won").next_step_type_id is None and stage("Lost").next_step_type_id is None
    stage("Discovery").next_step_type_id = None  # cleared in Setup
    db.session.commit()
    load_defaults()
    db.session.commit()
    assert stage("Discovery").next_step_type_id is None


# ------------------------------------------------------------------ Setup: the stage's type


def setup_post(htmx, stage_name: str, chosen: object, status: int = 200) -> str:
    the_stage = stage(stage_name)
    return htmx(
        f"/setup/stages/{the_stage.id}/next-step-type",
        {f"stage-{the_stage.id}-next_step_type_id": chosen},
        status=status,
        page="/setup/",
    )


def test_a_manager_sets_a_stages_next_step_type_in_setup(
    client, signed_in, make_opportunity, htmx
) -> None:
    me = signed_in(Role.MANAGER)
    page = client.get("/setup/").get_data(as_text=True)
    discovery = stage("Discovery")
    assert f'name="stage-{discovery.id}-next_step_type_id"' in page
    assert selected(page, f"stage-{discovery.id}-next_step_type_id") == [
        str(activity_type("DM").id)
    ]
    assert f'name="stage-{stage("Won").id}-next_step_type_id"' not in page  # asks none

    html = setup_post(htmx, "Discovery", activity_type("SE").id)
    assert "Discovery: next-step type saved." in html
    db.session.expire_all()
    assert stage("Discovery").next_step_type_id == activity_type("SE").id

    deal = make_opportunity(account_manager_id=me.id)
    html = move(htmx, deal, "Discovery")
    assert selected(html, "step_type_id") == [str(activity_type("SE").id)]

    setup_post(htmx, "Discovery", "0")  # none
    db.session.expire_all()
    assert stage("Discovery").next_step_type_id is None
    setup_post(htmx, "Discovery", "0")  # the same again: nothing changed, nothing recorded

    # Each change is in the audit log, as the points table's are.
    entries = db.session.execute(
        select(AuditEntry.summary, AuditEntry.before, AuditEntry.after)
        .where(AuditEntry.kind == AuditKind.NEXT_STEP_TYPE_CHANGED.value)
        .order_by(AuditEntry.id)
    ).all()
    dm, se = activity_type("DM").label, activity_type("SE").label
    assert entries == [
        (f"{me.name} changed Discovery's next-step type: {dm} → {se}", dm, se),
        (f"{me.name} changed Discovery's next-step type: {se} → none", se, None),
    ]


@pytest.mark.parametrize("chosen", ["abc", "999999", "-3", "inactive"])
def test_a_bad_type_is_refused_next_to_the_field_and_nothing_changes(
    client, signed_in, htmx, chosen
) -> None:
    signed_in(Role.MANAGER)
    if chosen == "inactive":
        activity_type("TP").active = False
        db.session.commit()
        chosen = str(activity_type("TP").id)
    discovery_id = stage("Discovery").id
    html = setup_post(htmx, "Discovery", chosen)
    field = f"stage-{discovery_id}-next_step_type_id"
    assert f'id="{field}-error">Next-step type: choose one from the list.' in html
    assert f'aria-describedby="{field}-error"' in html
    db.session.expire_all()
    assert stage("Discovery").next_step_type_id == activity_type("DM").id


def test_won_and_lost_take_no_next_step_type(client, signed_in, htmx) -> None:
    signed_in(Role.MANAGER)
    html = setup_post(htmx, "Won", activity_type("SA").id)
    assert "Won asks for no next step; nothing changed." in html
    db.session.expire_all()
    assert stage("Won").next_step_type_id is None


def test_a_rep_sees_the_types_but_cannot_change_them(client, signed_in, htmx) -> None:
    signed_in(Role.REP)
    page = client.get("/setup/").get_data(as_text=True)
    assert "next_step_type_id" not in page
    assert activity_type("SA").label in page
    setup_post(htmx, "Discovery", activity_type("SE").id, status=403)
    db.session.expire_all()
    assert stage("Discovery").next_step_type_id == activity_type("DM").id


def test_unknown_stage_is_404(client, signed_in, htmx) -> None:
    signed_in(Role.MANAGER)
    htmx("/setup/stages/999999/next-step-type", {}, status=404, page="/setup/")
    assert db.session.scalar(select(func.count(SalesStage.id))) == 8


# ------------------------------------------------------------------ logging is a step too


def log(htmx, today: date, deal: Opportunity, status: str, **extra) -> str:
    """Log an activity on the deal from "+ Activity", as its account manager."""
    data = {
        "type_id": activity_type("SE").id,
        "subject": "Called Jason",
        "due_on": today.isoformat(),
        "start": "",
        "end": "",
        "assigned_to_id": deal.account_manager_id,
        "place": "",
        "reminder_minutes": "",
        "status": status,
        "note": "",
        "opportunity_id": deal.id,
        "company_id": "",
        "contact_id": "",
        "campaign_id": "",
        "version": "",
        **extra,
    }
    return htmx("/activities/", data, page="/activities/")


def test_logging_done_on_a_stalled_card_asks_for_the_next_step(
    client, signed_in, make_opportunity, htmx, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(name="Tows R Us", account_manager_id=me.id)
    html = log(htmx, today, deal, "Closed")
    assert "<strong>Tows R Us</strong> has no next step now." in html
    assert f"/activities/new?opportunity_id={deal.id}" in html
    assert "Skip (leave it stalled)" in html
    logged = db.session.scalars(select(Activity)).one()
    assert logged.status == "Closed" and logged.closed_by_id == me.id


def test_logging_open_or_with_a_next_step_left_asks_nothing(
    client, signed_in, make_opportunity, make_activity, htmx, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(name="Tows R Us", account_manager_id=me.id)
    html = log(htmx, today, deal, "Open", due_on=(today + timedelta(days=2)).isoformat())
    assert "has no next step now" not in html
    html = log(htmx, today, deal, "Closed")  # the open one is still ahead
    assert "has no next step now" not in html


def test_editing_an_activity_to_done_asks_as_done_does(
    client, signed_in, make_opportunity, make_activity, htmx, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(name="Tows R Us", account_manager_id=me.id)
    last = make_activity(me, "Discovery", code="DM", due_on=today, opportunity_id=deal.id)
    html = htmx(
        f"/activities/{last.id}",
        {
            "type_id": activity_type("DM").id,
            "subject": "Discovery",
            "due_on": today.isoformat(),
            "start": "",
            "end": "",
            "assigned_to_id": me.id,
            "place": "",
            "reminder_minutes": "",
            "status": "Closed",
            "note": "",
            "opportunity_id": deal.id,
            "company_id": "",
            "contact_id": "",
            "campaign_id": "",
            "version": last.version,
        },
        page="/activities/",
    )
    assert "<strong>Tows R Us</strong> has no next step now." in html
    db.session.expire_all()
    assert db.session.get(Activity, last.id).status == "Closed"
