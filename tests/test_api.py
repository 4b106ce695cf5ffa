"""The JSON API (issue #17): every endpoint by role, concurrency, bad input, pagination and
query counts (tokens, the document and the rate limits: test_api_access.py). Every response
is checked against the OpenAPI document (tests/api_helpers.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityStatus,
    Company,
    ForecastLine,
    Opportunity,
    Role,
)
from crmlite.services import quotas
from tests.api_helpers import SPEC, Api, api_as, problem_of
from tests.conftest import activity_type, stage

BASE = "/api/v1"
__all__ = ["api_as"]  # the fixture


# ---------------------------------------------------------------- opportunities


def test_list_filters_and_cursor_pages(api_as, make_opportunity) -> None:
    member, api = api_as(Role.REP)
    made = [
        make_opportunity(name=f"Deal {n}", account_manager_id=member.id if n % 2 else None)
        for n in range(7)
    ]
    seen: list[int] = []
    url: str | None = f"{BASE}/opportunities?limit=3"
    while url:
        response = api.get(url)
        assert response.status_code == 200
        body = response.get_json()
        seen += [o["id"] for o in body["data"]]
        if len(seen) == 3:  # a new deal while paging: it comes at the end, nothing repeats
            made.append(make_opportunity(name="Deal late"))
        url = body["next"]
    assert seen == [o.id for o in made]

    mine = api.get(f"{BASE}/opportunities?owner={member.id}").get_json()["data"]
    assert [o["name"] for o in mine] == ["Deal 1", "Deal 3", "Deal 5"]
    found = api.get(f"{BASE}/opportunities?q=deal%20la&status=open").get_json()["data"]
    assert [o["name"] for o in found] == ["Deal late"]
    first = api.get(f"{BASE}/opportunities?limit=1").get_json()["data"][0]
    assert first["revenue"] == "1000.00" and first["stage"]["name"] == "Prospect"
    assert first["stalled"] is True


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=101", "limit"),
        ("limit=0", "limit"),
        ("cursor=bm9wZQ", "cursor"),
        ("owner=%C2%B2", "owner"),
        ("status=maybe", "status"),
        ("updated_since=2026-01-01", "updated_since"),
    ],
)
def test_bad_list_arguments_422(api_as, query: str, field: str) -> None:
    _member, api = api_as(Role.REP)
    response = api.get(f"{BASE}/opportunities?{query}")
    assert response.status_code == 422
    assert field in problem_of(response)["errors"]


def test_updated_since(api_as, make_opportunity) -> None:
    _member, api = api_as(Role.REP)
    old = make_opportunity(name="Old")
    db.session.get(Opportunity, old.id).updated_at = datetime(2020, 1, 1, tzinfo=UTC)
    db.session.commit()
    make_opportunity(name="New")
    response = api.get(f"{BASE}/opportunities?updated_since=2025-01-01T00:00:00Z")
    assert [o["name"] for o in response.get_json()["data"]] == ["New"]


def test_get_404_and_unknown_paths(api_as) -> None:
    _member, api = api_as(Role.REP)
    response = api.get(f"{BASE}/opportunities/999999")
    assert response.status_code == 404 and problem_of(response)
    unknown = api.get(f"{BASE}/nothing-here", check=False)
    assert unknown.status_code == 404 and problem_of(unknown)


def test_create_an_opportunity(api_as, make_member) -> None:
    rep, api = api_as(Role.REP)
    response = api.post(
        f"{BASE}/opportunities",
        json={"name": "Tows R Us - Phones", "revenue": "6200.00", "company_name": "Tows R Us"},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["account_manager_id"] == rep.id and body["revenue"] == "6200.00"
    assert response.headers["ETag"] == '"1"'
    assert response.headers["Location"].endswith(f"/opportunities/{body['id']}")
    assert db.session.get(Company, body["company_id"]).name == "Tows R Us"

    colleague = make_member()
    refused = api.post(
        f"{BASE}/opportunities",
        json={"name": "For a colleague", "account_manager_id": colleague.id},
    )
    assert refused.status_code == 403
    _manager, manager_api = api_as(Role.MANAGER)
    given = manager_api.post(
        f"{BASE}/opportunities", json={"name": "For a rep", "account_manager_id": colleague.id}
    )
    assert given.status_code == 201 and given.get_json()["account_manager_id"] == colleague.id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x", "revenue": "1e3"}, "revenue"),
        ({"name": "x", "revenue": "NaN"}, "revenue"),
        ({"name": "x", "revenue": "12.345"}, "revenue"),
        ({"name": "x", "revenue": 0.1}, None),
        ({"name": "x", "expected_close_on": "2026-02-30"}, "expected_close_on"),
        ({"name": "x", "rating": "Lukewarm"}, "rating"),
        ({"name": "x", "colour": "red"}, "colour"),
        ({"name": ["x"]}, "name"),
    ],
)
def test_bad_input_422_and_nothing_created(api_as, body: dict[str, Any], field: str | None) -> None:
    _member, api = api_as(Role.MANAGER)
    response = api.post(f"{BASE}/opportunities", json=body)
    if field is None:  # 0.1 is a fine amount: "0.1"
        assert response.status_code == 201
        return
    assert response.status_code == 422
    assert field in problem_of(response)["errors"]
    assert db.session.scalar(select(func.count()).select_from(Opportunity)) == 0


def test_the_same_messages_as_the_forms(api_as) -> None:
    _member, api = api_as(Role.MANAGER)
    response = api.post(f"{BASE}/opportunities", json={"name": "x", "revenue": "1e3"})
    assert problem_of(response)["errors"]["revenue"] == [
        "The revenue must be digits with an optional decimal point and up to two decimals, "
        "e.g. 1,234.50; “1e3” is not."
    ]


def test_not_json_415_and_broken_json_400(api_as) -> None:
    _member, api = api_as(Role.MANAGER)
    response = api.call(
        "POST",
        f"{BASE}/opportunities",
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 415
    broken = api.client.post(
        f"{BASE}/opportunities",
        data="{nope",
        headers={"Authorization": f"Bearer {api.secret}", "Content-Type": "application/json"},
    )
    assert broken.status_code == 400 and problem_of(broken)


def test_update_needs_if_match_and_refuses_a_stale_one(api_as, make_opportunity) -> None:
    rep, api = api_as(Role.REP)
    deal = make_opportunity(account_manager_id=rep.id)
    url = f"{BASE}/opportunities/{deal.id}"
    tag = api.get(url).headers["ETag"]

    missing = api.patch(url, json={"name": "Renamed"})
    assert missing.status_code == 428
    changed = api.patch(url, json={"name": "Renamed", "revenue": "2500"}, if_match=tag)
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["name"] == "Renamed" and changed.get_json()["revenue"] == "2500.00"
    assert changed.headers["ETag"] != tag
    # Untouched fields stay.
    assert changed.get_json()["rating"] == "Medium"

    stale = api.patch(url, json={"name": "Lost update"}, if_match=tag)
    assert stale.status_code == 412
    assert stale.headers["ETag"] == changed.headers["ETag"]
    db.session.expire_all()
    assert db.session.get(Opportunity, deal.id).name == "Renamed"


def test_bad_update_changes_nothing(api_as, make_opportunity) -> None:
    rep, api = api_as(Role.REP)
    deal = make_opportunity(account_manager_id=rep.id)
    url = f"{BASE}/opportunities/{deal.id}"
    tag = api.get(url).headers["ETag"]
    response = api.patch(
        url, json={"name": "Renamed", "probability": 101, "cost": "-1"}, if_match=tag
    )
    assert response.status_code == 422
    assert {"probability", "cost"} <= set(problem_of(response)["errors"])
    db.session.expire_all()
    assert db.session.get(Opportunity, deal.id).name == deal.name
    assert api.get(url).headers["ETag"] == tag


def test_a_rep_cannot_change_a_colleagues_deal(api_as, make_member, make_opportunity) -> None:
    _rep, api = api_as(Role.REP)
    deal = make_opportunity(account_manager_id=make_member().id)
    url = f"{BASE}/opportunities/{deal.id}"
    tag = api.get(url).headers["ETag"]  # reading it is fine
    assert api.patch(url, json={"name": "Mine now"}, if_match=tag).status_code == 403
    assert api.post(f"{url}/move", json={"stage_id": 2}, if_match=tag).status_code == 403
    _manager, manager_api = api_as(Role.MANAGER)
    assert manager_api.patch(url, json={"name": "Fixed"}, if_match=tag).status_code == 200


def test_revenue_of_a_deal_with_forecast_lines(api_as, make_opportunity) -> None:
    """Revenue and cost are the lines' sums: sent back unchanged they are ignored (a client
    may send what it read), changed they are refused."""
    rep, api = api_as(Role.REP)
    deal = make_opportunity(account_manager_id=rep.id, revenue="10.00")
    db.session.add(ForecastLine(opportunity_id=deal.id, revenue=Decimal("10.00")))
    db.session.commit()
    url = f"{BASE}/opportunities/{deal.id}"
    read = api.get(url)
    echoed = api.patch(
        url, json={**read.get_json(), "name": "Echoed"}, if_match=read.headers["ETag"]
    )
    assert echoed.status_code == 200, echoed.get_json()
    refused = api.patch(url, json={"revenue": "99.00"}, if_match=echoed.headers["ETag"])
    assert (
        refused.status_code == 422
        and "forecast lines" in problem_of(refused)["errors"]["revenue"][0]
    )


def test_only_managers_reassign(api_as, make_member, make_opportunity) -> None:
    rep, api = api_as(Role.REP)
    deal = make_opportunity(account_manager_id=rep.id)
    url = f"{BASE}/opportunities/{deal.id}"
    tag = api.get(url).headers["ETag"]
    other = make_member()
    response = api.patch(url, json={"account_manager_id": other.id}, if_match=tag)
    assert response.status_code == 403
    assert "manager" in problem_of(response)["detail"]

    # On a new deal, their own id however written is theirs; anyone else's is refused.
    mine = api.post(
        f"{BASE}/opportunities", json={"name": "Own", "account_manager_id": f"0{rep.id}"}
    )
    assert mine.status_code == 201 and mine.get_json()["account_manager_id"] == rep.id
    theirs = api.post(f"{BASE}/opportunities", json={"name": "X", "account_manager_id": other.id})
    assert theirs.status_code == 403


# ---------------------------------------------------------------- moving between stages


def _move(api: Api, deal_id: int, **body: Any) -> Any:
    url = f"{BASE}/opportunities/{deal_id}"
    tag = api.get(url).headers["ETag"]
    return api.post(f"{url}/move", json=body, if_match=tag)


def test_lost_needs_a_reason(api_as, make_opportunity) -> None:
    rep, api = api_as(Role.REP)
    deal = make_opportunity(account_manager_id=rep.id)
    lost = stage("Lost").id
    refused = _move(api, deal.id, stage_id=lost)
    assert refused.status_code == 422
    assert problem_of(refused)["errors"]["lost_reason"] == [
        "Enter the reason the prospect gave for saying no."
    ]
    db.session.expire_all()
    assert db.session.get(Opportunity, deal.id).stage_id == stage("Prospect").id
    moved = _move(api, deal.id, stage_id=lost, lost_reason="Went with the incumbent")
    assert moved.status_code == 200
    assert moved.get_json()["status"] == "Lost" and moved.get_json()["lost_amount"] == "1000.00"


def test_won_needs_an_amount(api_as, make_opportunity) -> None:
    rep, api = api_as(Role.REP)
    deal = make_opportunity(account_manager_id=rep.id, stage_name="Commitment")
    won = stage("Won").id
    refused = _move(api, deal.id, stage_id=won)
    assert refused.status_code == 422 and "won_amount" in problem_of(refused)["errors"]
    future = (date.today() + timedelta(days=30)).isoformat()
    refused = _move(api, deal.id, stage_id=won, won_amount="900", won_on=future)
    assert refused.status_code == 422 and "won_on" in problem_of(refused)["errors"]
    moved = _move(api, deal.id, stage_id=won, won_amount="900.50")
    assert moved.status_code == 200
    assert moved.get_json()["won_amount"] == "900.50" and moved.get_json()["status"] == "Won"

    reopened = _move(api, deal.id, stage_id=stage("Commitment").id, skip_next_step=True)
    assert reopened.status_code == 409 and "reopen" in problem_of(reopened)["errors"]
    reopened = _move(api, deal.id, stage_id=stage("Commitment").id, reopen=True)
    assert reopened.status_code == 200 and reopened.get_json()["status"] == "Open"


def test_moving_forward_asks_for_the_next_step(api_as, make_opportunity) -> None:
    rep, api = api_as(Role.REP)
    deal = make_opportunity(account_manager_id=rep.id)
    discovery = stage("Discovery").id
    asked = _move(api, deal.id, stage_id=discovery)
    assert asked.status_code == 409
    assert problem_of(asked)["type"] == "urn:crmlite:problem:next-step-needed"

    bad = _move(api, deal.id, stage_id=discovery, next_step={"subject": "Call", "start": "9"})
    assert bad.status_code == 422
    assert "next_step.start" in problem_of(bad)["errors"]
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 0

    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    step = {"subject": "Discovery meeting", "due_on": tomorrow, "start": "10:00", "end": "11:00"}
    step["type_id"] = activity_type("DM").id
    moved = _move(api, deal.id, stage_id=discovery, next_step=step)
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["stage"]["name"] == "Discovery" and moved.get_json()["stalled"] is False
    scheduled = db.session.scalars(select(Activity)).one()
    assert scheduled.subject == "Discovery meeting" and scheduled.opportunity_id == deal.id

    skipped = _move(api, deal.id, stage_id=stage("Presentation").id, skip_next_step=True)
    assert skipped.status_code == 200


def test_a_stale_move_is_refused(api_as, make_opportunity) -> None:
    rep, api = api_as(Role.REP)
    deal = make_opportunity(account_manager_id=rep.id)
    url = f"{BASE}/opportunities/{deal.id}"
    tag = api.get(url).headers["ETag"]
    assert api.patch(url, json={"name": "Changed"}, if_match=tag).status_code == 200
    response = api.post(
        f"{url}/move", json={"stage_id": stage("Lost").id, "lost_reason": "No"}, if_match=tag
    )
    assert response.status_code == 412
    db.session.expire_all()
    assert db.session.get(Opportunity, deal.id).stage_id == stage("Prospect").id


# ---------------------------------------------------------------- companies and contacts


def test_companies_and_contacts(api_as, make_member, make_company) -> None:
    rep, api = api_as(Role.REP)
    created = api.post(f"{BASE}/companies", json={"name": "CharTec", "city": "Bakersfield"})
    assert created.status_code == 201
    company = created.get_json()
    assert company["account_manager_id"] == rep.id
    url = f"{BASE}/companies/{company['id']}"
    tag = created.headers["ETag"]
    changed = api.patch(url, json={"phone": "(866) 544-2772"}, if_match=tag)
    assert changed.status_code == 200 and changed.get_json()["city"] == "Bakersfield"
    assert api.patch(url, json={"phone": "1"}, if_match=tag).status_code == 412
    assert (
        api.patch(url, json={"email": "nope"}, if_match=changed.headers["ETag"]).status_code == 422
    )

    theirs = make_company("Their account", account_manager_id=make_member().id)
    their_url = f"{BASE}/companies/{theirs.id}"
    their_tag = api.get(their_url).headers["ETag"]
    assert api.patch(their_url, json={"name": "x"}, if_match=their_tag).status_code == 403

    contact = api.post(
        f"{BASE}/contacts",
        json={"first_name": "Jason", "last_name": "Rivas", "company_id": company["id"],
              "email": "Jason@CharTec.example.com"},
    )  # fmt: skip
    assert contact.status_code == 201, contact.get_json()
    assert contact.get_json()["email"] == "jason@chartec.example.com"
    moved = api.patch(
        f"{BASE}/contacts/{contact.get_json()['id']}",
        json={"company_id": theirs.id},
        if_match=contact.headers["ETag"],
    )
    assert moved.status_code == 403
    bad = api.post(f"{BASE}/contacts", json={"first_name": "", "email": "x@"})
    assert set(problem_of(bad)["errors"]) == {"first_name", "email"}
    listed = api.get(f"{BASE}/contacts?q=rivas").get_json()["data"]
    assert [c["first_name"] for c in listed] == ["Jason"]
    assert [c["name"] for c in api.get(f"{BASE}/companies?owner={rep.id}").get_json()["data"]] == [
        "CharTec"
    ]


# ---------------------------------------------------------------- activities


def test_activities_by_role(api_as, make_member, make_activity) -> None:
    rep, api = api_as(Role.REP)
    colleague = make_member()
    mine = make_activity(rep, subject="Mine")
    theirs = make_activity(colleague, subject="Theirs")
    listed = api.get(f"{BASE}/activities").get_json()["data"]
    assert [a["subject"] for a in listed] == ["Mine"]
    assert api.get(f"{BASE}/activities/{theirs.id}").status_code == 403

    _manager, manager_api = api_as(Role.MANAGER)
    everyone = manager_api.get(f"{BASE}/activities?status=Open").get_json()["data"]
    assert {a["subject"] for a in everyone} == {"Mine", "Theirs"}

    url = f"{BASE}/activities/{mine.id}"
    tag = api.get(url).headers["ETag"]
    assert api.post(f"{url}/close").status_code == 428
    closed = api.post(f"{url}/close", if_match=tag)
    assert closed.status_code == 200
    assert closed.get_json()["status"] == "Closed" and closed.get_json()["points_earned"] == 1
    assert api.post(f"{url}/reopen", if_match=tag).status_code == 412
    reopened = api.post(f"{url}/reopen", if_match=closed.headers["ETag"])
    assert reopened.status_code == 200 and reopened.get_json()["points_earned"] is None

    their_url = f"{BASE}/activities/{theirs.id}"
    their_tag = manager_api.get(their_url).headers["ETag"]
    assert api.post(f"{their_url}/close", if_match=their_tag).status_code == 403
    # A manager closes it on the assignee's behalf.
    on_behalf = manager_api.post(f"{their_url}/close", if_match=their_tag)
    assert on_behalf.status_code == 200 and on_behalf.get_json()["closed_by_id"] == _manager.id


def test_log_and_change_an_activity(api_as, make_member, make_opportunity) -> None:
    rep, api = api_as(Role.REP)
    deal = make_opportunity(account_manager_id=rep.id)
    body = {
        "subject": "1st Appointment with Jason",
        "type_id": activity_type("SA").id,
        "due_on": "2026-12-09",
        "start": "10:00",
        "end": "11:00",
        "reminder_minutes": 15,
        "place": "On-Site",
        "opportunity_id": deal.id,
        "note": "Referred by Jim.",
    }
    created = api.post(f"{BASE}/activities", json=body)
    assert created.status_code == 201, created.get_json()
    activity = created.get_json()
    assert activity["start"] == "10:00" and activity["opportunity_id"] == deal.id
    url = f"{BASE}/activities/{activity['id']}"
    bad = api.patch(url, json={"start": "11:00", "end": "10:00"}, if_match=created.headers["ETag"])
    assert bad.status_code == 422 and "end" in problem_of(bad)["errors"]
    moved = api.patch(url, json={"due_on": "2026-12-10"}, if_match=created.headers["ETag"])
    assert moved.status_code == 200 and moved.get_json()["due_on"] == "2026-12-10"
    assert moved.get_json()["start"] == "10:00"

    colleague = make_member()
    for_colleague = api.post(
        f"{BASE}/activities",
        json={**body, "assigned_to_id": colleague.id, "status": "Closed", "opportunity_id": None},
    )
    assert for_colleague.status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 1
    bad_type = api.post(f"{BASE}/activities", json={**body, "type_id": 999999})
    assert bad_type.status_code == 422 and "type_id" in problem_of(bad_type)["errors"]


# ---------------------------------------------------------------- points and the dashboard


def test_points_and_dashboard(api_as, make_member, make_activity, make_opportunity) -> None:
    rep, api = api_as(Role.REP)
    make_activity(rep, code="SA", closed=True)
    colleague = make_member()
    for owner, won in ((rep, "1200.00"), (colleague, "800.00")):
        make_opportunity(
            stage_name="Won",
            account_manager_id=owner.id,
            won_amount=Decimal(won),
            closed_at=datetime.now(UTC) - timedelta(minutes=5),
        )
    # The team's totals count members with a revenue quota (issue #18): the rep has one.
    quotas.same_every_month(rep, datetime.now(UTC).year, Decimal("1000.00"))
    db.session.commit()
    month = datetime.now(UTC).strftime("%Y-%m")
    own = api.get(f"{BASE}/members/{rep.id}/points?month={month}")
    assert own.status_code == 200
    assert own.get_json()["points"] == 10 and own.get_json()["quota"] == 500
    assert api.get(f"{BASE}/members/{colleague.id}/points").status_code == 403
    assert api.get(f"{BASE}/members/{rep.id}/points?month=2026-13").status_code == 422
    assert api.get(f"{BASE}/members/999999/points").status_code == 404
    _manager, manager_api = api_as(Role.MANAGER)
    assert manager_api.get(f"{BASE}/members/{colleague.id}/points").status_code == 200

    figures = api.get(f"{BASE}/dashboard")
    assert figures.status_code == 200
    assert [m["member_id"] for m in figures.get_json()["members"]] == [rep.id]
    assert figures.get_json()["quarter_total"]["total"] == "1200.00"
    wrong_quarter = api.get(f"{BASE}/dashboard?quarter=5")
    assert wrong_quarter.status_code == 422
    assert wrong_quarter.get_json()["errors"] == {
        "quarter": ["The quarter must be a whole number from 1 to 4, not “5”."]
    }
    wrong_basis = api.get(f"{BASE}/dashboard?basis=profit").get_json()
    assert wrong_basis["errors"] == {"basis": ["basis is one of: revenue, margin."]}
    team = manager_api.get(f"{BASE}/dashboard?basis=margin").get_json()
    assert team["basis"] == "margin"
    assert {rep.id, colleague.id} <= {m["member_id"] for m in team["members"]}


def test_stages(api_as) -> None:
    _rep, api = api_as(Role.REP)
    names = [s["name"] for s in api.get(f"{BASE}/stages").get_json()["data"]]
    assert names[0] == "Prospect" and "Won" in names and "Lost" in names


# ---------------------------------------------------------------- queries and limits


def test_a_page_of_100_costs_the_same_queries_as_a_page_of_5(
    api_as, make_member, queries, app: Flask
) -> None:
    _rep, api = api_as(Role.REP)
    others = [make_member() for _ in range(3)]
    prospect = stage("Prospect")

    def add(count: int) -> None:
        for n in range(count):
            db.session.add(
                Opportunity(
                    name=f"Deal {n}",
                    stage_id=prospect.id,
                    status_id=1,
                    revenue=Decimal("10.00"),
                    account_manager_id=others[n % 3].id,
                )
            )
        db.session.commit()

    def count(url: str) -> int:
        api.get(url)  # the token's last use is noted at most once a minute: not counted
        with queries() as counted:
            response = api.get(url)
        assert response.status_code == 200
        return counted.count

    add(5)
    few = count(f"{BASE}/opportunities?limit=100")
    add(100)
    many = count(f"{BASE}/opportunities?limit=100")
    assert len(api.get(f"{BASE}/opportunities?limit=100").get_json()["data"]) == 100
    assert few == many, (few, many)
    for url in ("/activities", "/companies", "/contacts"):
        assert count(f"{BASE}{url}?limit=100") <= few


def test_status_values_are_the_models() -> None:
    activity_schema = SPEC["components"]["schemas"]["Activity"]["properties"]["status"]
    assert activity_schema["enum"] == [s.value for s in ActivityStatus]
