"""The audit log (issue #14): each event becomes exactly one entry, in the transaction of the
change it records; each action that publishes one (points table, quotas, moved won or lost
deals, deletions) records it; the admin page (admins only, newest first, filters in the URL,
a constant number of SQL statements); pruning past the keeping time."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select

from crmlite.extensions import db
from crmlite.models import (
    AuditEntry,
    AuditKind,
    CampaignType,
    ForecastLine,
    MarketingList,
    Member,
    Opportunity,
    OpportunityContact,
    OpportunityTeamMember,
    Role,
    Track,
    TrackStep,
)
from crmlite.services import (
    activities,
    audit,
    campaign_emails,
    campaigns,
    events,
    funnel,
    marketing_lists,
    points,
    quotas,
    reactions,
)
from tests.conftest import activity_type, page_token, stage

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 11, 28, 19, 30, tzinfo=UTC)
HTMX = {"HX-Request": "true"}


def logged() -> list[AuditEntry]:
    """What the log holds, oldest first, sign-ins left out (every test signs someone in)."""
    db.session.rollback()
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.kind != AuditKind.SIGN_IN.value)
            .order_by(AuditEntry.id)
        )
    )


def only_entry() -> AuditEntry:
    entries = logged()
    assert len(entries) == 1, [(e.kind, e.summary) for e in entries]
    return entries[0]


def text(response: Any) -> str:
    return response.get_data(as_text=True)


@pytest.fixture()
def nick(make_member: Callable[..., Member]) -> Member:
    return make_member(name="Nick Points", role=Role.ADMIN, email="nick@example.com")


@pytest.fixture()
def cory(make_member: Callable[..., Member]) -> Member:
    return make_member(name="Cory Ferguson", role=Role.MANAGER, email="cory@example.com")


# ---------------------------------------------------------------- the events


def test_every_audit_event_has_one_handler_subscribed_once(app: Flask) -> None:
    reactions.register()  # as a second app in the same process does
    audited = {
        events.SignedIn,
        events.SignInFailed,
        events.SignedOutEverywhere,
        events.PasswordChanged,
        events.PasswordResetIssued,
        events.RoleChanged,
        events.PointValueChanged,
        events.QuotaChanged,
        events.ActivityReopened,
        events.ClosedDealMoved,
        events.Deleted,
        events.WebhookChanged,
        events.NextStepTypeChanged,
        events.ChecklistOverridden,
    }
    assert set(audit.HANDLERS) == audited
    for event_type, handler in audit.HANDLERS.items():
        assert events._handlers[event_type].count(handler) == 1


def test_sign_ins_and_failed_sign_ins(app: Flask, nick: Member) -> None:
    events.publish(events.SignedIn(nick, address="203.0.113.7", at=NOW))
    events.publish(
        events.SignInFailed(
            "NICK@example.com", address="198.51.100.9", reason="wrong password", at=NOW
        )
    )
    events.publish(
        events.SignInFailed("nobody@example.com", address="198.51.100.9", reason="", at=NOW)
    )
    db.session.commit()  # the sign-in view commits a refused attempt's entry
    entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [
        (e.kind, e.member_id, e.member_name, e.summary, e.object_kind, e.object_id, e.address)
        for e in entries
    ] == [
        (
            "sign_in",
            nick.id,
            "Nick Points",
            "Nick Points signed in",
            "member",
            nick.id,
            "203.0.113.7",
        ),
        (
            "sign_in_failed",
            None,
            "",
            "Failed sign-in as NICK@example.com: wrong password",
            "member",
            nick.id,
            "198.51.100.9",
        ),
        (
            "sign_in_failed",
            None,
            "",
            "Failed sign-in as nobody@example.com",
            None,
            None,
            "198.51.100.9",
        ),
    ]
    assert all(e.at == NOW for e in entries)


def test_sessions_passwords_and_roles(app: Flask, nick: Member, cory: Member) -> None:
    for event in (
        events.SignedOutEverywhere(cory, by=cory, at=NOW),
        events.SignedOutEverywhere(cory, by=nick, at=NOW),
        events.PasswordChanged(cory, by=cory, at=NOW),
        events.PasswordChanged(cory, by=nick, at=NOW),
        events.PasswordChanged(cory, by=None, at=NOW),
        events.PasswordResetIssued(cory, by=nick, at=NOW),
        events.RoleChanged(cory, before="rep", after="manager", by=nick, at=NOW),
        events.RoleChanged(cory, before="manager", after="inactive", by=nick, at=NOW),
    ):
        events.publish(event)
    db.session.commit()
    assert [(e.kind, e.member_id, e.summary, e.before, e.after) for e in logged()] == [
        ("signed_out_everywhere", cory.id, "Cory Ferguson signed out everywhere", None, None),
        (
            "signed_out_everywhere",
            nick.id,
            "Nick Points signed Cory Ferguson out everywhere",
            None,
            None,
        ),
        ("password_changed", cory.id, "Cory Ferguson changed their password", None, None),
        ("password_changed", nick.id, "Nick Points changed Cory Ferguson's password", None, None),
        (
            "password_changed",
            None,
            "Cory Ferguson's password was set with a reset link",
            None,
            None,
        ),
        (
            "password_reset_issued",
            nick.id,
            "Nick Points issued a password reset link for Cory Ferguson",
            None,
            None,
        ),
        (
            "role_changed",
            nick.id,
            "Nick Points changed Cory Ferguson's role: Sales rep → Sales manager",
            "Sales rep",
            "Sales manager",
        ),
        (
            "role_changed",
            nick.id,
            "Nick Points changed Cory Ferguson's role: Sales manager → inactive",
            "Sales manager",
            "inactive",
        ),
    ]
    assert {(e.object_kind, e.object_id) for e in logged()} == {("member", cory.id)}


def test_a_reopened_activity_names_the_day_it_closed_and_its_points(
    app: Flask, cory: Member, make_activity
) -> None:
    call = make_activity(cory, subject="Call Jason", closed=True)
    call.points_earned = 10
    # Closed at 02:00 UTC on the 29th: the 28th in the team's zone (Los Angeles).
    call.closed_at = datetime(2026, 11, 29, 2, tzinfo=UTC)
    db.session.commit()
    activities.reopen_activity(call, by=cory, now=NOW)
    db.session.commit()
    assert call.points_earned is None  # its points left the month, the log still names them
    entry = only_entry()
    assert entry.summary == "Cory Ferguson reopened “Call Jason” (closed 2026-11-28, 10 points)"
    assert (entry.kind, entry.before, entry.after) == (
        "activity_reopened",
        "Closed 2026-11-28, 10 points",
        "Open",
    )
    assert (entry.object_kind, entry.object_id) == ("activity", call.id)
    # An event that knows no points (nothing earned): the day alone.
    closed_at = datetime(2026, 11, 29, 2, tzinfo=UTC)
    events.publish(events.ActivityReopened(call, closed_at=closed_at, by=cory, at=NOW))
    db.session.commit()
    assert logged()[-1].summary == "Cory Ferguson reopened “Call Jason” (closed 2026-11-28)"


def test_an_entry_goes_with_the_change_it_records(app: Flask, nick: Member) -> None:
    """Added to the change's transaction: rolled back with it, written with its commit."""
    events.publish(events.Deleted("contact group", "Everyone", by=nick, at=NOW))
    db.session.rollback()
    assert logged() == []
    events.publish(events.Deleted("contact group", "Everyone", by=nick, at=NOW))
    db.session.commit()
    assert only_entry().summary == "Nick Points deleted the contact group “Everyone”"


def test_text_too_long_for_a_column_is_cut_not_refused(app: Flask, nick: Member) -> None:
    events.publish(events.Deleted("campaign e-mail", "x" * 2000 + "\x00", by=nick, at=NOW))
    events.publish(events.SignInFailed("a" * 300, address="f" * 200, reason="", at=NOW))
    db.session.commit()
    long, failed = logged()
    assert len(long.summary) == 500 and long.summary.endswith("…")
    assert long.before == "x" * 2000  # no NUL kept
    assert len(failed.address or "") == 64


def test_a_member_who_leaves_is_still_named(app: Flask, nick: Member, cory: Member) -> None:
    events.publish(events.Deleted("track step", "Lost Sale, day 3: Call", by=cory, at=NOW))
    db.session.commit()
    db.session.delete(cory)
    db.session.commit()
    entry = only_entry()
    assert (entry.member_id, entry.member_name) == (None, "Cory Ferguson")


# ---------------------------------------------------------------- the points table


def type_row(prefix: str, t: Any, **changes: str) -> dict[str, str]:
    data = {
        "code": t.code,
        "name": t.name,
        "group": t.group,
        "points": str(t.points),
        "monthly_count": str(t.monthly_count),
        "active": "y" if t.active else "",
        **changes,
    }
    return {f"{prefix}-{k}": v for k, v in data.items() if v != ""}


def test_changing_points_monthly_count_or_active_flag_is_recorded(
    client: FlaskClient, signed_in
) -> None:
    signed_in(Role.MANAGER, name="Cory Ferguson")
    token = page_token(client, "/setup/activity-types")
    headers = {**HTMX, "X-CSRFToken": token}
    se = activity_type("SE")
    before = points.point_value(se.points, se.monthly_count, True)
    url = f"/setup/activity-types/{se.id}"

    client.post(url, data=type_row(f"type-{se.id}", se, name="Renamed"), headers=headers)
    assert logged() == []  # a new name is not a point value

    client.post(url, data=type_row(f"type-{se.id}", se, points="15"), headers=headers)
    entry = only_entry()
    after = points.point_value(15, se.monthly_count, True)
    assert (entry.kind, entry.member_name, entry.before, entry.after) == (
        "point_value_changed",
        "Cory Ferguson",
        before,
        after,
    )
    assert entry.summary == f"Cory Ferguson changed SE - Renamed: {before} → {after}"

    client.post(f"{url}/active", data={"active": "0"}, headers=headers)
    assert logged()[-1].after == points.point_value(15, se.monthly_count, False)
    client.post(
        url, data=type_row(f"type-{se.id}", activity_type("SE"), monthly_count="7"), headers=headers
    )
    assert logged()[-1].after == points.point_value(15, 7, False)
    assert len(logged()) == 3
    assert points.point_value(1, 0, True) == "1 point, 0 a month, active"


def test_a_new_type_and_a_deleted_one_are_recorded(client: FlaskClient, signed_in) -> None:
    signed_in(Role.ADMIN, name="Nick Points")
    token = page_token(client, "/setup/activity-types")
    headers = {**HTMX, "X-CSRFToken": token}
    client.post(
        "/setup/activity-types",
        data={
            "new-code": "XX",
            "new-name": "Spare",
            "new-group": "proactive",
            "new-points": "4",
            "new-monthly_count": "2",
            "new-active": "y",
        },
        headers=headers,
    )
    added = only_entry()
    assert (added.kind, added.summary, added.before) == (
        "point_value_changed",
        "Nick Points added XX - Spare: 4 points, 2 a month, active",
        None,
    )
    spare = activity_type("XX")
    client.post(f"/setup/activity-types/{spare.id}/delete", headers=headers)
    deleted = logged()[-1]
    assert (deleted.kind, deleted.summary, deleted.object_kind) == (
        "deleted",
        "Nick Points deleted the activity type “XX - Spare”",
        "activity type",
    )
    # One in use is refused: nothing deleted, nothing recorded.
    used = activity_type("SE")
    assert used.id in points.types_in_use()  # the example tracks' steps use it
    client.post(f"/setup/activity-types/{used.id}/delete", headers=headers)
    assert len(logged()) == 2


# ---------------------------------------------------------------- quotas


def test_the_team_points_quota(client: FlaskClient, signed_in) -> None:
    signed_in(Role.ADMIN, name="Nick Points")
    token = page_token(client, "/setup/team")
    data = {"name": "ARRC", "time_zone": "America/Los_Angeles", "csrf_token": token}
    client.post("/setup/team", data={**data, "points_quota": "500"})
    assert logged() == []  # the quota did not change
    client.post("/setup/team", data={**data, "points_quota": "1,600"})
    entry = only_entry()
    assert (entry.kind, entry.summary, entry.before, entry.after) == (
        "quota_changed",
        "Nick Points changed the team points quota: 500 → 1,600",
        "500",
        "1,600",
    )


def test_a_members_points_quota(client: FlaskClient, signed_in, cory: Member) -> None:
    signed_in(Role.ADMIN, name="Nick Points")
    url = f"/setup/members/{cory.id}"
    data = {
        "name": cory.name,
        "email": cory.email,
        "title": "",
        "role": cory.role,
        "location_id": "0",
        "business_unit_id": "0",
        "active": "y",
        "csrf_token": page_token(client, url),
    }
    assert client.post(url, data={**data, "points_quota": "400"}).status_code == 302
    assert client.post(url, data={**data, "points_quota": ""}).status_code == 302
    assert [(e.summary, e.before, e.after) for e in logged()] == [
        (
            "Nick Points changed the points quota of Cory Ferguson: the team's (500) → 400",
            "the team's (500)",
            "400",
        ),
        (
            "Nick Points changed the points quota of Cory Ferguson: 400 → the team's (500)",
            "400",
            "the team's (500)",
        ),
    ]


def test_revenue_quotas_month_by_month_and_the_same_every_month(
    client: FlaskClient, signed_in, cory: Member
) -> None:
    signed_in(Role.MANAGER, name="Manny Martinez")
    quotas.same_every_month(cory, 2026, Decimal("4000"))  # no one: not recorded
    db.session.commit()
    url = f"/quotas/2026/members/{cory.id}"
    token = page_token(client, url)
    data = {"month-csrf_token": token}
    for month in range(1, 13):
        data[f"month-revenue_{month}"] = "4000.00"
        data[f"month-margin_{month}"] = ""
    client.post(url, data=data)
    assert logged() == []  # nothing changed
    client.post(url, data={**data, "month-revenue_11": "5,000", "month-margin_11": "1500"})
    entry = only_entry()
    assert entry.summary == (
        "Manny Martinez changed the revenue quota of Cory Ferguson, 2026-11: "
        "4,000.00 → 5,000.00 (margin 1,500.00)"
    )
    assert (entry.kind, entry.before, entry.after) == (
        "quota_changed",
        "4,000.00",
        "5,000.00 (margin 1,500.00)",
    )
    client.post(f"{url}/same", data={"same-csrf_token": token, "same-revenue": "4000"})
    same = logged()[-1]
    assert same.summary == (
        "Manny Martinez changed the revenue quota of Cory Ferguson, 2026-11: "
        "5,000.00 (margin 1,500.00) → 4,000.00"
    )
    client.post(f"{url}/same", data={"same-csrf_token": token, "same-revenue": "0"})
    cleared = logged()[-1]
    assert cleared.after == "; ".join(
        f"{m} none"
        for m in (
            "Jan",
            "Feb",
            "Mar",
            "Apr",
            "May",
            "Jun",
            "Jul",
            "Aug",
            "Sep",
            "Oct",
            "Nov",
            "Dec",
        )
    )
    assert len(logged()) == 3


# ---------------------------------------------------------------- won and lost deals


def test_a_won_or_lost_deal_moved_elsewhere_is_recorded(
    app: Flask, nick: Member, make_opportunity
) -> None:
    deal: Opportunity = make_opportunity("Tows R Us - Managed Services", "Discovery")

    def move(to: str, **kwargs: Any) -> None:
        funnel.move_to_stage(
            deal, stage(to), by=nick, expected_version=deal.version, tz=LA, now=NOW, **kwargs
        )
        db.session.commit()

    move("Presentation")
    move("Won")
    assert logged() == []  # open stages and winning are the funnel's own history
    move("Lost", lost_reason="Went with a rival")
    move("Discovery")
    assert [(e.summary, e.before, e.after, e.object_id, e.at) for e in logged()] == [
        (
            "Nick Points moved “Tows R Us - Managed Services” from Won to Lost",
            "Won",
            "Lost",
            deal.id,
            NOW,
        ),
        (
            "Nick Points moved “Tows R Us - Managed Services” from Lost to Discovery",
            "Lost",
            "Discovery",
            deal.id,
            NOW,
        ),
    ]
    assert {e.kind for e in logged()} == {"closed_deal_moved"}


# ---------------------------------------------------------------- deletions


def test_campaign_types_and_sub_types(client: FlaskClient, signed_in) -> None:
    signed_in(Role.MANAGER, name="Cory Ferguson")
    show = campaigns.add_type("Trade Show")
    campaigns.add_sub_type(show, "Spring")
    autumn = campaigns.add_sub_type(show, "Autumn")
    db.session.commit()
    token = page_token(client, "/campaigns/types")
    client.post(f"/campaigns/sub-types/{autumn.id}/delete", data={"csrf_token": token})
    assert only_entry().summary == (
        "Cory Ferguson deleted the campaign sub-type “Trade Show - Autumn”"
    )
    client.post(f"/campaigns/types/{show.id}/delete", data={"csrf_token": token})
    entry = logged()[-1]
    assert entry.summary == (
        "Cory Ferguson deleted the campaign type “Trade Show (and its sub-types Spring)”"
    )
    assert (entry.kind, entry.object_kind) == ("deleted", "campaign type")
    assert len(logged()) == 2


def test_contact_groups_and_their_members(client: FlaskClient, signed_in, make_contact) -> None:
    cory = signed_in(Role.MANAGER, name="Cory Ferguson")
    al = make_contact("Al", "Smith", email="al@example.com")
    group = marketing_lists.create_list("Everyone", by=cory)
    marketing_lists.add_contacts(group, [al.id])
    db.session.commit()
    group_id = group.id
    url = f"/marketing/groups/{group_id}"
    token = page_token(client, url)
    client.post(f"{url}/contacts/{al.id}/remove", data={"csrf_token": token})
    client.post(f"{url}/contacts/{al.id}/remove", data={"csrf_token": token})  # not in it now
    assert only_entry().summary == (
        "Cory Ferguson deleted the contact group membership “Al Smith in Everyone”"
    )
    client.post(f"{url}/delete", data={"csrf_token": token})
    assert logged()[-1].summary == "Cory Ferguson deleted the contact group “Everyone”"
    assert db.session.get(MarketingList, group_id) is None
    assert len(logged()) == 2


def test_a_campaign_email(client: FlaskClient, signed_in) -> None:
    cory = signed_in(Role.MANAGER, name="Cory Ferguson")
    email_type = db.session.scalars(select(CampaignType).where(CampaignType.name == "Email")).one()
    campaign = campaigns.save_campaign(
        None, type_id=email_type.id, owner_id=cory.id, name="Spring mail"
    )
    email = campaign_emails.save_email(
        None,
        campaign_id=campaign.id,
        subject="Spring offer",
        body_text="Hello {{ name }}",
        body_html="",
        by=cory,
    )
    db.session.commit()
    token = page_token(client, f"/marketing/emails/{email.id}")
    client.post(f"/marketing/emails/{email.id}/delete", data={"csrf_token": token})
    assert only_entry().summary == "Cory Ferguson deleted the campaign e-mail “Spring offer”"


def test_a_track_step(client: FlaskClient, signed_in) -> None:
    signed_in(Role.MANAGER, name="Cory Ferguson")
    step = db.session.scalars(select(TrackStep).order_by(TrackStep.id)).first()
    assert step is not None
    track = db.session.get(Track, step.track_id)
    assert track is not None
    step_id, name = step.id, f"{track.name}, day {step.day_offset}: {step.subject or step.action}"
    url = f"/tracks/{track.id}"
    token = page_token(client, url)
    client.post(f"{url}/steps/{step_id}/remove", data={"csrf_token": token})
    assert only_entry().summary == f"Cory Ferguson deleted the track step “{name}”"
    assert db.session.get(TrackStep, step_id) is None


def test_forecast_lines_team_members_and_extra_contacts(
    client: FlaskClient, signed_in, make_opportunity, make_contact, make_member
) -> None:
    signed_in(Role.ADMIN, name="Nick Points")
    manny = make_member(name="Manny Martinez")
    jane = make_contact("Jane", "Doe")
    deal: Opportunity = make_opportunity("Tows R Us - Managed Services")
    line = ForecastLine(opportunity_id=deal.id, description="Cabling", revenue=Decimal("800"))
    db.session.add_all(
        [
            line,
            OpportunityTeamMember(opportunity_id=deal.id, member_id=manny.id, role="Engineer"),
            OpportunityContact(opportunity_id=deal.id, contact_id=jane.id, role="Decision maker"),
        ]
    )
    db.session.commit()
    url = f"/opportunities/{deal.id}"
    token = page_token(client, url)
    version = db.session.get(Opportunity, deal.id).version
    response = client.post(
        f"{url}/lines/{line.id}/remove", data={"version": str(version), "csrf_token": token}
    )
    assert response.status_code == 302
    client.post(f"{url}/team/{manny.id}/remove", data={"csrf_token": token})
    client.post(f"{url}/contacts/{jane.id}/remove", data={"csrf_token": token})
    assert [(e.object_kind, e.summary) for e in logged()] == [
        (
            "forecast line",
            "Nick Points deleted the forecast line “Cabling on Tows R Us - Managed Services”",
        ),
        (
            "opportunity team member",
            "Nick Points deleted the opportunity team member "
            "“Manny Martinez on Tows R Us - Managed Services”",
        ),
        (
            "opportunity contact",
            "Nick Points deleted the opportunity contact "
            "“Jane Doe on Tows R Us - Managed Services”",
        ),
    ]


# ---------------------------------------------------------------- the page


def entry(at: datetime, kind: AuditKind, summary: str, by: Member | None = None) -> AuditEntry:
    row = AuditEntry(
        at=at,
        kind=kind.value,
        summary=summary,
        member_id=by.id if by else None,
        member_name=by.name if by else "",
    )
    db.session.add(row)
    return row


def rows_of(html: str) -> list[str]:
    return re.findall(r'<tr id="audit-entry-(\d+)"', html)


def test_only_admins_read_the_log(client: FlaskClient, signed_in, make_member) -> None:
    signed_in(Role.MANAGER)
    assert client.get("/audit/").status_code == 403
    assert "Audit log" not in text(client.get("/setup/"))
    client.post("/sign-out", data={"csrf_token": page_token(client, "/setup/")})
    signed_in(Role.REP)
    assert client.get("/audit/").status_code == 403
    client.post("/sign-out", data={"csrf_token": page_token(client, "/setup/")})
    assert client.get("/audit/").status_code == 302  # to the sign-in page
    signed_in(Role.ADMIN)
    assert client.get("/audit/").status_code == 200
    assert 'href="/audit/"' in text(client.get("/setup/"))


def test_newest_first_in_the_teams_time_with_who_and_what(
    client: FlaskClient, signed_in, cory: Member
) -> None:
    signed_in(Role.ADMIN)
    older = entry(datetime(2026, 11, 2, 18, tzinfo=UTC), AuditKind.DELETED, "Older", cory)
    newer = entry(datetime(2026, 11, 28, 2, 30, tzinfo=UTC), AuditKind.SIGN_IN_FAILED, "Newer")
    newer.address = "203.0.113.7"
    db.session.commit()
    html = text(client.get("/audit/"))
    ids = rows_of(html)
    assert ids.index(str(newer.id)) < ids.index(str(older.id))
    # 02:30 UTC on the 28th is 18:30 on the 27th in Los Angeles.
    assert "Fri 2026-11-27 6:30 pm" in html
    assert "Failed sign-in" in html and "203.0.113.7" in html and "Cory Ferguson" in html


def test_filters_kind_member_days_and_words(
    client: FlaskClient, signed_in, cory: Member, nick: Member
) -> None:
    signed_in(Role.ADMIN)
    db.session.execute(delete(AuditEntry))  # the sign-in's own entry: only these three here
    late_27th = datetime(2026, 11, 28, 7, 30, tzinfo=UTC)  # 23:30 on the 27th in Los Angeles
    a = entry(late_27th, AuditKind.DELETED, "Cory deleted the contact group “100% Leads”", cory)
    b = entry(late_27th + timedelta(hours=1), AuditKind.QUOTA_CHANGED, "Quota of Cory", nick)
    c = entry(late_27th + timedelta(days=3), AuditKind.DELETED, "Nick deleted a step", nick)
    db.session.commit()

    def shown(query: str) -> set[str]:
        response = client.get(f"/audit/?{query}")
        assert response.status_code == 200, text(response)
        return set(rows_of(text(response)))

    ids = {x: str(x.id) for x in (a, b, c)}
    assert shown("") == {ids[a], ids[b], ids[c]}
    assert shown("kind=deleted") == {ids[a], ids[c]}
    assert shown(f"member_id={nick.id}") == {ids[b], ids[c]}
    assert shown(f"kind=deleted&member_id={nick.id}") == {ids[c]}
    assert shown("to=2026-11-27") == {ids[a]}
    assert shown("from=2026-11-28&to=2026-11-28") == {ids[b]}
    assert shown("from=2026-11-29") == {ids[c]}
    assert shown("q=DELETED") == {ids[a], ids[c]}
    assert shown("q=100%25") == {ids[a]}  # % is a character here, not a wildcard
    assert shown("q=%25") == {ids[a]}
    assert shown("kind=&member_id=&from=&to=&q=") == {ids[a], ids[b], ids[c]}
    page = text(client.get(f"/audit/?kind=deleted&member_id={nick.id}"))
    assert 'value="deleted" selected' in page and f'value="{nick.id}" selected' in page
    htmx = text(client.get("/audit/?kind=deleted", headers=HTMX))
    assert htmx.lstrip().startswith('<div id="audit-results">')
    # htmx swaps no 4xx: a filter it cannot read comes back in place of the entries.
    refused = client.get("/audit/?from=2026-11-28&to=2026-11-01", headers=HTMX)
    assert refused.status_code == 200
    assert 'id="audit-error"' in text(refused) and "audit-entries" not in text(refused)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("kind=everything", "“everything” is not a kind of entry"),
        ("member_id=%C2%B2", "“²” is not a member"),
        ("member_id=2147483648", "“2147483648” is not a member"),
        ("from=2026-02-30", "The first day must be a day written as YYYY-MM-DD"),
        ("to=28/11/2026", "The last day must be a day written as YYYY-MM-DD"),
        ("from=1800-01-01", "The first day must be between 1900 and 2199."),
        ("from=2026-11-28&to=2026-11-01", "The last day is before the first day"),
    ],
)
def test_a_filter_that_cannot_be_read_says_why(
    client: FlaskClient, signed_in, query: str, message: str
) -> None:
    signed_in(Role.ADMIN)
    response = client.get(f"/audit/?{query}")
    assert response.status_code == 400
    html = text(response).replace("&#34;", '"')
    assert message in html
    assert 'id="audit-filters"' in html  # the form is there to fix it
    name, typed = query.split("&")[0].split("=")
    if name in ("from", "to"):  # a day typed stays in its field to be corrected
        assert f'name="{name}" value="{typed}"' in html


def test_pages_keep_the_filters_and_the_statements_stay_constant(
    client: FlaskClient, signed_in, cory: Member, queries
) -> None:
    signed_in(Role.ADMIN)
    start = datetime(2026, 11, 1, 18, tzinfo=UTC)
    for n in range(3):
        entry(start + timedelta(minutes=n), AuditKind.DELETED, f"Deleted {n}", cory)
    db.session.commit()
    with queries() as few:
        assert client.get("/audit/?kind=deleted").status_code == 200
    for n in range(3, 60):
        entry(start + timedelta(minutes=n), AuditKind.DELETED, f"Deleted {n}", cory)
    db.session.commit()
    with queries() as many:
        first = text(client.get("/audit/?kind=deleted"))
    assert many.count == few.count
    assert len(rows_of(first)) == 50
    assert "1–50 of 60 entries" in first
    assert 'href="/audit/?page=2&amp;kind=deleted"' in first
    second = text(client.get("/audit/?page=2&kind=deleted"))
    assert len(rows_of(second)) == 10 and "Deleted 0" in second
    assert "Deleted 59" in first  # newest first


# ---------------------------------------------------------------- keeping


def test_prune_deletes_what_is_older_than_the_keeping_time(
    app: Flask, cory: Member, monkeypatch
) -> None:
    now = datetime.now(UTC)
    for days in (1, 729, 731, 2000):
        entry(now - timedelta(days=days), AuditKind.SIGN_IN, f"{days} days ago", cory)
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["crm", "audit", "prune"])
    assert result.exit_code == 0, result.output
    assert "Deleted 2 audit entries older than 730 days" in result.output
    left = db.session.scalars(select(AuditEntry.summary).order_by(AuditEntry.at)).all()
    assert left == ["729 days ago", "1 days ago"]

    monkeypatch.setitem(app.config, "AUDIT_RETENTION_DAYS", 30)
    result = runner.invoke(args=["crm", "audit", "prune"])
    assert "Deleted 1 audit entry older than 30 days" in result.output
    result = runner.invoke(args=["crm", "audit", "prune", "--days", "0"])
    assert result.exit_code != 0
    assert db.session.scalar(select(func.count(AuditEntry.id))) == 1


def test_the_keeping_time_defaults_to_two_years(app: Flask) -> None:
    assert app.config["AUDIT_RETENTION_DAYS"] == 730 == audit.DEFAULT_RETENTION_DAYS
    assert audit.retention_cutoff(NOW, 730) == datetime(2024, 11, 28, 19, 30, tzinfo=UTC)
