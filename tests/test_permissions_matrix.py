"""The authorization matrix: every route of the URL map (pages, htmx partials, POST
endpoints) × every role (admin, manager, rep, signed out) × own and someone else's record
where the route takes one, asserted against the permission model
(``crmlite/services/permissions.py``):

- signed out: a ``PUBLIC`` route answers without asking to sign in; any other redirects to
  the sign-in page;
- signed in: allowed when the model allows the route's action to the member (with the
  record, for a route about one) — the answer is then a page, a fragment or a redirect
  (200, 204, 302, 303, 304), never 401/403/404 and never the sign-in page; refused (403)
  otherwise.

Each request carries a valid CSRF token and an empty form: a refusal must come from the
rules, not from a missing token, and an allowed POST shows its form again or does its
work on the role's own throw-away records. A route without a rule fails here (and in
``test_every_route_has_a_rule``), so no route can be added without deciding who may use it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, current_app, url_for
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityType,
    Campaign,
    CampaignEmail,
    CampaignSubType,
    CampaignType,
    ChecklistItem,
    ChecklistTemplateItem,
    Company,
    Contact,
    ExpenseEntry,
    ForecastLine,
    ImportJob,
    Location,
    MarketingList,
    MarketingListMember,
    Member,
    Opportunity,
    OpportunityContact,
    OpportunityTeamMember,
    OpportunityType,
    OutboxMessage,
    Role,
    SalesStage,
    TimeEntry,
    Track,
    TrackEnrollment,
    TrackStep,
    WebhookSubscription,
)
from crmlite.services import api_tokens, documents, members, permissions
from crmlite.services.document_storage import FolderStorage
from crmlite.web import points as points_pages
from tests.conftest import RequestClient, activity_type, csrf_token_from, sign_in, stage, status

ROLES = ("admin", "manager", "rep", "signed out")
ALLOWED = {200, 204, 302, 303, 304}
# Last, in this order: they change what the other requests need (signing out ends the run).
LAST = ("remove", "delete", "auth.logout")


def routes(app: Flask) -> list[tuple[Rule, str]]:
    """Every (rule, method) of the URL map but the static files."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule, method))

    def order(item: tuple[Rule, str]) -> tuple[int, int, str]:
        rule, method = item
        last = next((n for n, word in enumerate(LAST) if word in rule.endpoint), -1)
        return (last, 0 if method == "GET" else 1, rule.endpoint)

    return sorted(found, key=order)


# ---------------------------------------------------------------- the role's world


@dataclass
class Side:
    """One relation's records: the member's own, or a colleague's."""

    records: dict[str, Any] = field(default_factory=dict)  # URL argument -> record


@dataclass
class World:
    me: Member | None
    own: Side
    other: Side
    shared: dict[str, Any]  # URL argument -> value, the same on both sides
    team_records: dict[str, Any]  # URL argument -> a record of the team's (no owner)


# URL arguments naming a record someone may own: tried with the member's and a colleague's.
OWNED = {
    "activity_id",
    "opportunity_id",
    "line_id",
    "company_id",
    "contact_id",
    "member_id",
    "enrollment_id",
    "document_id",
}


def _add(record: Any) -> Any:
    db.session.add(record)
    db.session.flush()
    return record


def build_world(role: str) -> World:
    """The signed-in member's own records and a colleague's, and what every route needs
    besides (a campaign, an e-mail, a contact group, a track and its step...)."""
    n = {"admin": 1, "manager": 2, "rep": 3, "signed out": 4}[role]

    def member(name: str, member_role: Role) -> Member:
        return members.create_member(
            email=f"{name.lower()}{n}@example.com",
            name=f"{name} {n}",
            password="correct-horse-battery",
            role=member_role,
        )

    me = member("Me", Role(role)) if role != "signed out" else None
    dana = member("Dana", Role.REP)  # the colleague
    lee = member("Lee", Role.REP)  # on both deals' teams
    prospect = stage("Prospect")
    sides = {}
    for side, owner in (("own", me or dana), ("other", dana)):
        company = _add(Company(name=f"{side} company {n}", account_manager_id=owner.id))
        contact = _add(Contact(first_name=f"{side} contact", company_id=company.id))
        extra = _add(Contact(first_name=f"{side} extra", company_id=company.id))
        deal = _add(
            Opportunity(
                name=f"{side} deal {n}",
                stage_id=prospect.id,
                status_id=status("Open").id,
                revenue=Decimal("1000.00"),
                probability=prospect.default_probability,
                account_manager_id=owner.id,
                company_id=company.id,
                contact_id=contact.id,
            )
        )
        line = _add(ForecastLine(opportunity_id=deal.id, revenue=Decimal("10.00")))
        time_entry = _add(
            TimeEntry(
                opportunity_id=deal.id,
                member_id=owner.id,
                worked_on=date.today(),
                hours=Decimal("1.00"),
                cost_rate=Decimal("50.00"),
                cost=Decimal("50.00"),
            )
        )
        expense = _add(
            ExpenseEntry(
                opportunity_id=deal.id,
                spent_on=date.today(),
                amount=Decimal("20.00"),
                category="Travel",
            )
        )
        document = documents.upload(
            deal,
            f"{side} proposal.pdf",
            b"%PDF-1.7\n%%EOF\n",
            by=owner,
            storage=FolderStorage(Path(current_app.config["DOCUMENT_DIR"])),
        )
        item = _add(ChecklistItem(opportunity_id=deal.id, position=0, label="Agreement filed"))
        _add(OpportunityTeamMember(opportunity_id=deal.id, member_id=lee.id))
        _add(OpportunityContact(opportunity_id=deal.id, contact_id=extra.id))
        activity = _add(
            Activity(
                subject=f"{side} call",
                type_id=activity_type("SE").id,
                assigned_to_id=owner.id,
                assigned_by_id=owner.id,
                due_on=date.today(),
            )
        )
        captured = _add(
            Activity(
                subject=f"{side} e-mail",
                type_id=activity_type("SE").id,
                assigned_to_id=owner.id,
                due_on=date.today(),
                status="Closed",
                closed_at=datetime.now(UTC),
                email_from="someone@example.net",
            )
        )
        track = db.session.scalars(select(Track).order_by(Track.id)).first()
        assert track is not None
        enrollment = _add(
            TrackEnrollment(
                track_id=track.id,
                contact_id=contact.id,
                starts_on=date.today(),
                enrolled_by_id=owner.id,
            )
        )
        sides[side] = Side(
            {
                "activity": activity,
                "captured": captured,
                "opportunity_id": deal,
                "line_id": line,
                "time": time_entry,
                "expense": expense,
                "company_id": company,
                "contact_id": contact,
                "extra_contact": extra,
                "member_id": owner,
                "enrollment_id": enrollment,
                "document_id": document,
                "item_id": item,
            }
        )
    kind = _add(CampaignType(name=f"Matrix type {n}"))
    sub_kind = _add(CampaignSubType(type_id=kind.id, name=f"Matrix sub-type {n}"))
    campaign = _add(Campaign(name=f"Matrix campaign {n}", type_id=kind.id))
    email = _add(CampaignEmail(campaign_id=campaign.id, subject="Hello", body_text="Hi"))
    group = _add(MarketingList(name=f"Matrix group {n}"))
    message = _add(
        OutboxMessage(
            key=f"matrix:{n}",
            kind="test",
            to_address="matrix@example.com",
            message_id=f"<matrix.{n}@example.com>",
            status="failed",
            not_before=utcnow(),
        )
    )
    job = _add(
        ImportJob(
            kind="contacts",
            filename="matrix.csv",
            file_format="csv",
            content=b"First name,Email\nAnn,ann@example.com\n",
            encoding="utf-8",
            delimiter=",",
            headers='["First name", "Email"]',
            columns='{"first_name": "First name", "email": "Email"}',
        )
    )
    webhook = _add(
        WebhookSubscription(
            url="https://hooks.example.com/matrix",
            events="opportunity.won",
            secret="whsec_bWF0cml4",
        )
    )
    product = _add(OpportunityType(name=f"Matrix product {n}"))
    own_contact = sides["own"].records["contact_id"]
    _add(MarketingListMember(list_id=group.id, contact_id=own_contact.id))
    unused_place = _add(Location(name=f"Matrix location {n}"))
    unused_type = _add(
        ActivityType(code=f"MX{n}", name=f"Matrix type {n}", group="proactive", points=1)
    )
    opportunity_type = db.session.scalars(
        select(OpportunityType).order_by(OpportunityType.id)
    ).first()
    assert opportunity_type is not None
    template_item = _add(
        ChecklistTemplateItem(type_id=opportunity_type.id, label=f"Matrix set-up {n}")
    )
    track = db.session.scalars(select(Track).order_by(Track.id)).first()
    step = db.session.scalars(select(TrackStep).where(TrackStep.track_id == track.id)).first()
    first_stage = db.session.scalars(select(SalesStage).order_by(SalesStage.id)).first()
    assert track is not None and step is not None and first_stage is not None
    db.session.commit()
    shared = {
        "campaign_id": campaign.id,
        "email_id": email.id,
        "message_id": message.id,
        "webhook_id": webhook.id,
        "list_id": group.id,
        "track_id": track.id,
        "step_id": step.id,
        "type_id": kind.id,
        "sub_type_id": sub_kind.id,
        "activity_type_id": unused_type.id,
        "stage_id": first_stage.id,
        "lee": lee.id,
        "year": 2026,
        "month": 11,  # a month of a year (points quotas)
        "kind": "pipeline",
        "place_kind": "locations",
        "place_id": unused_place.id,
        "position": 0,
        "token": "not-a-real-token",
        "job_id": job.id,
        "product_id": product.id,
        "fmt": "csv",  # the exports of list pages
        "table": "members",  # the dashboard's table to export
        "opportunity_type_id": opportunity_type.id,
        "template_item_id": template_item.id,
    }
    # Personal access tokens: one the matrix calls the API with, one to revoke (a
    # colleague's when signed out).
    api_secret = None
    if me is not None:
        _row, api_secret = api_tokens.create_token(
            me, name="matrix", scope="read-write", now=utcnow()
        )
    spare, _secret = api_tokens.create_token(me or dana, name="spare", scope="read", now=utcnow())
    db.session.commit()
    shared["token_id"] = spare.id
    shared["api_secret"] = api_secret
    team_records = {"campaign_id": campaign, "track_id": track}
    return World(me, sides["own"], sides["other"], shared, team_records)


def record_for(endpoint: str, argument: str, side: Side) -> Any:
    """The record a route's argument names on this side."""
    if argument == "activity_id":
        return side.records["captured" if endpoint.startswith("capture.") else "activity"]
    if argument == "entry_id":
        return side.records["expense" if endpoint.endswith("expense") else "time"]
    return side.records[argument]


def url_values(rule: Rule, world: World, side: Side) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for argument in rule.arguments:
        if rule.endpoint == "opportunities.remove_team_member" and argument == "member_id":
            values[argument] = world.shared["lee"]
        elif rule.endpoint == "opportunities.remove_extra_contact" and argument == "contact_id":
            values[argument] = side.records["extra_contact"].id
        elif rule.endpoint.startswith("setup.activity_type") and argument == "type_id":
            values[argument] = world.shared["activity_type_id"]
        elif argument in world.shared and argument not in side.records:
            values[argument] = world.shared[argument]
        else:
            values[argument] = record_for(rule.endpoint, argument, side).id
    return values


# ---------------------------------------------------------------- the expectation


def expected(endpoint: str, role: str, member: Member | None, record: Any) -> str:
    """ "public", "sign-in", "allowed" or "refused", by the permission model."""
    rule = permissions.ROUTES[endpoint]
    if rule is permissions.PUBLIC:
        return "public"
    if member is None:
        return "sign-in"
    if rule.record is None:
        return "allowed" if permissions.role_may(member.role, rule.action) else "refused"
    return "allowed" if permissions.allows(member, rule.action, record) else "refused"


# The API's answers to a request the rights allowed but that sends no body or If-Match.
API_ALLOWED = {409, 412, 415, 422, 428}


def outcome(response: Any, endpoint: str = "") -> str:
    location = response.headers.get("Location", "")
    if endpoint.startswith("api.") and response.status_code in API_ALLOWED:
        return "allowed"
    if response.status_code == 302 and "/sign-in?next=" in location:
        return "sign-in"
    if response.status_code == 401:
        return "sign-in"
    if response.status_code == 403:
        return "refused"
    if response.status_code in ALLOWED:
        return "allowed"
    return f"status {response.status_code}"


def agrees(want: str, got: str, endpoint: str) -> bool:
    if want == "public":
        return got != "sign-in" and not got.startswith("status 5")
    if endpoint == "auth.logout" and want == "allowed":
        return got in ("allowed", "sign-in")
    return want == got


# ---------------------------------------------------------------- the matrix


# Requests that end the signed-in session they came with (the matrix signs in again).
ENDS_SESSION = {
    "auth.logout",
    "auth.sign_out_everywhere",
    "auth.change_password",
    "setup.member_sign_out_everywhere",
}


@pytest.fixture()
def matrix_client(app: Flask, monkeypatch: pytest.MonkeyPatch) -> FlaskClient:
    # Rights are checked before the PDF is drawn; WeasyPrint's second or two per PDF is
    # tested in test_points_pages, not here.
    monkeypatch.setattr(points_pages, "_pdf", lambda html: b"%PDF-1.7 not drawn")
    app.test_client_class = RequestClient
    return app.test_client()


@pytest.mark.parametrize("role", ROLES)
def test_authorization_matrix(app: Flask, matrix_client: FlaskClient, role: str) -> None:
    started = time.perf_counter()
    world = build_world(role)
    client = matrix_client
    if world.me is not None:
        assert sign_in(client, world.me.email).status_code == 302
        db.session.expire_all()
    token = csrf_token_from(client.get("/sign-in" if world.me is None else "/").get_data(True))
    missing = sorted(
        {rule.endpoint for rule, _ in routes(app)} - set(permissions.ROUTES),
    )
    assert not missing, f"routes without a rule in services/permissions.py ROUTES: {missing}"

    failures: list[str] = []
    cells = 0
    for rule, method in routes(app):
        route = permissions.ROUTES[rule.endpoint]
        owned = route.record is not None and route.record in OWNED
        sides = [("own", world.own), ("other", world.other)] if owned else [("-", world.own)]
        for relation, side in sides:
            record = None
            if owned:
                record = record_for(rule.endpoint, str(route.record), side)
            elif route.record is not None:  # a record of the team's, the same for all
                record = world.team_records[route.record]
            if record is not None:
                record = db.session.get(type(record), record.id)
            member = db.session.get(Member, world.me.id) if world.me is not None else None
            want = expected(rule.endpoint, role, member, record)
            with app.test_request_context():
                url = url_for(rule.endpoint, **url_values(rule, world, side))
            db.session.rollback()
            headers = {"X-CSRFToken": token}
            if rule.endpoint.startswith("api.") and world.shared["api_secret"]:
                # The API signs in with a token only (the session cookie is ignored there).
                headers = {"Authorization": f"Bearer {world.shared['api_secret']}"}
            response = client.open(url, method=method, headers=headers)
            got = outcome(response, rule.endpoint)
            response.close()  # a file sent (a document) is closed, not left to the collector
            if rule.endpoint in ENDS_SESSION and world.me is not None:
                db.session.rollback()
                home = client.get("/")
                if home.status_code != 200:  # it did end: sign in again
                    assert sign_in(client, world.me.email).status_code == 302
                    home = client.get("/")
                token = csrf_token_from(home.get_data(True))
            cells += 1
            if not agrees(want, got, rule.endpoint):
                failures.append(
                    f"{role:>10} {relation:>5} {method:4} {rule.endpoint} ({url}): "
                    f"the model says {want}, the app answered {got}"
                )
    elapsed = time.perf_counter() - started
    print(f"matrix as {role}: {cells} requests in {elapsed:.1f} s")
    assert not failures, f"{len(failures)} of {cells}:\n" + "\n".join(failures)


# ---------------------------------------------------------------- every route has a rule


def test_every_route_has_a_rule(app: Flask) -> None:
    """Each endpoint of the URL map has its rule; PUBLIC ones, and only they, are marked
    @public in their views; no rule names an endpoint that no longer exists."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}
    assert endpoints - set(permissions.ROUTES) == set(), "routes without a rule"
    assert set(permissions.ROUTES) - endpoints == set(), "rules for routes that do not exist"
    for endpoint in endpoints:
        marked = getattr(app.view_functions[endpoint], "is_public", False)
        assert marked == (permissions.ROUTES[endpoint] is permissions.PUBLIC), endpoint


def test_a_route_without_a_rule_is_refused_and_named(
    app: Flask, client: FlaskClient, signed_in, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A route nobody decided about (here: Setup, its rule taken away) is refused to
    everyone, even an admin, and named by the check above."""
    signed_in(Role.ADMIN)
    assert client.get("/setup/").status_code == 200
    monkeypatch.delitem(permissions.ROUTES, "setup.index")
    response = client.get("/setup/")
    assert response.status_code == 403 and b"Funnel stages" not in response.data
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}
    assert endpoints - set(permissions.ROUTES) == {"setup.index"}
