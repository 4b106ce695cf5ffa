"""Setup of the points table (activity types, edited in place) and of quotas, as it affects
points: rights, bad input, in-use types, and past months keeping their quota."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from crmlite.extensions import db
from crmlite.models import ActivityType, Role
from crmlite.services import activities
from crmlite.services.periods import Month
from crmlite.services.team import get_team, local_today
from tests.conftest import activity_type, page_token

URL = "/setup/activity-types"
HTMX = {"HX-Request": "true"}


def text(response) -> str:
    return response.get_data(as_text=True)


def post(client: FlaskClient, url: str, data: dict[str, str]) -> str:
    token = page_token(client, URL)
    response = client.post(url, data=data, headers={**HTMX, "X-CSRFToken": token})
    assert response.status_code == 200
    return text(response)


def row_data(t: ActivityType, prefix: str, **changes: str) -> dict[str, str]:
    data = {
        "code": t.code,
        "name": t.name,
        "group": t.group,
        "points": str(t.points),
        "monthly_count": str(t.monthly_count),
        "active": "y",
        **changes,
    }
    return {f"{prefix}-{key}": value for key, value in data.items() if value is not None}


def total(html: str) -> str:
    match = re.search(r'id="points-total">(\d+)<', html)
    assert match
    return match.group(1)


def test_managers_and_admins_edit_the_points_table(client: FlaskClient, signed_in) -> None:
    signed_in(Role.MANAGER)
    html = text(client.get(URL))
    assert total(html) == "644"
    assert 'id="points-quota">500<' in html
    assert "Technology Business Review Meeting" in html
    assert "Add an activity type" in html
    assert "Edit activity types and points" in text(client.get("/setup/"))


def test_reps_may_not(client: FlaskClient, signed_in) -> None:
    signed_in(Role.REP)
    assert client.get(URL).status_code == 403
    token = page_token(client, "/setup/")
    sa = activity_type("SA")
    response = client.post(
        f"{URL}/{sa.id}",
        data=row_data(sa, f"type-{sa.id}", points="99"),
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 403
    assert client.post(f"{URL}/{sa.id}/delete", headers={"X-CSRFToken": token}).status_code == 403
    assert "Edit activity types and points" not in text(client.get("/setup/"))
    db.session.expire_all()
    assert activity_type("SA").points == 10


def test_edit_a_row_in_place(client: FlaskClient, signed_in) -> None:
    signed_in(Role.ADMIN)
    sa = activity_type("SA")
    form = text(client.get(f"{URL}?edit={sa.id}", headers=HTMX))
    assert form.startswith('<section id="activity-types"')
    assert f'id="type-form-{sa.id}"' in form and f'name="type-{sa.id}-points"' in form
    html = post(client, f"{URL}/{sa.id}", row_data(sa, f"type-{sa.id}", points="12"))
    assert "SA - 1st Appointment saved." in html
    assert total(html) == str(644 + 2 * 7)
    db.session.expire_all()
    assert activity_type("SA").points == 12


def test_bad_input_is_shown_next_to_the_field_and_changes_nothing(
    client: FlaskClient, signed_in
) -> None:
    signed_in(Role.MANAGER)
    sa = activity_type("SA")
    prefix = f"type-{sa.id}"
    html = post(
        client,
        f"{URL}/{sa.id}",
        row_data(sa, prefix, code="tbr", name="", points="-3", monthly_count="lots"),
    )
    assert f'id="{prefix}-code-error">Another activity type has this code.' in html
    assert f'id="{prefix}-name-error">Enter the activity' in html
    assert f'id="{prefix}-points-error">The points cannot be negative.' in html
    assert f'id="{prefix}-monthly_count-error">The monthly count must be a whole number' in html
    assert 'value="tbr"' in html and 'value="-3"' in html and 'value="lots"' in html
    assert total(html) == "644"
    db.session.expire_all()
    sa = activity_type("SA")
    assert (sa.code, sa.name, sa.points, sa.monthly_count) == ("SA", "1st Appointment", 10, 7)
    # The same name as another type is refused too.
    html = post(client, f"{URL}/{sa.id}", row_data(sa, prefix, name="discovery meeting"))
    assert f'id="{prefix}-name-error">Another activity type has this name.' in html


def test_add_a_type(client: FlaskClient, signed_in) -> None:
    signed_in(Role.MANAGER)
    data = {
        "new-code": "cb",
        "new-name": "Customer Breakfast",
        "new-group": "farm_clients",
        "new-points": "8",
        "new-monthly_count": "2",
        "new-active": "y",
    }
    html = post(client, URL, data)
    assert "CB - Customer Breakfast added." in html
    assert total(html) == str(644 + 16)
    created = activity_type("CB")
    assert (created.group, created.points, created.monthly_count, created.active) == (
        "farm_clients",
        8,
        2,
        True,
    )
    # Again: the code is taken now; nothing is added.
    html = post(client, URL, {**data, "new-name": "Another"})
    assert 'id="new-code-error">Another activity type has this code.' in html
    assert 'value="Another"' in html
    assert db.session.query(ActivityType).filter_by(name="Another").count() == 0


def test_add_with_a_negative_value_or_unknown_group(client: FlaskClient, signed_in) -> None:
    signed_in(Role.MANAGER)
    before = db.session.query(ActivityType).count()
    html = post(
        client,
        URL,
        {
            "new-code": "ZZ",
            "new-name": "Z",
            "new-group": "nope",
            "new-points": "-1",
            "new-monthly_count": "",
        },
    )
    assert 'id="new-points-error">The points cannot be negative.' in html
    assert 'id="new-group-error">Not a valid choice.' in html
    assert 'id="new-monthly_count-error">Enter the recommended monthly count' in html
    assert db.session.query(ActivityType).count() == before
    html = post(
        client,
        URL,
        {
            "new-code": "ZZ",
            "new-name": "Z",
            "new-group": "farm_clients",
            "new-points": "1001",
            "new-monthly_count": "1,000",
        },
    )
    assert 'id="new-points-error">The points must be from 0 to 1,000.' in html
    assert 'id="new-monthly_count-error"' not in html  # 1,000 is a whole number
    assert db.session.query(ActivityType).count() == before


def test_a_type_in_use_is_deactivated_not_deleted(
    client: FlaskClient, signed_in, make_activity
) -> None:
    me = signed_in(Role.MANAGER)
    wow = activity_type("WOW")
    done = make_activity(me, "Wow", code="WOW")
    activities.close_activity(done, by=me, now=datetime(2025, 10, 15, 18, tzinfo=UTC))
    db.session.commit()
    page = text(client.get(URL))
    row = re.search(rf'<tr id="type-{wow.id}".*?</tr>', page, re.S)
    assert row and "Deactivate" in row.group(0) and "Delete" not in row.group(0)

    html = post(client, f"{URL}/{wow.id}/delete", {})
    assert "is in use by activities or track steps: deactivate it instead." in html
    assert db.session.get(ActivityType, wow.id) is not None

    html = post(client, f"{URL}/{wow.id}/active", {"active": "0"})
    assert "WOW - Approved Wow Experience deactivated." in html
    assert total(html) == str(644 - 20)
    db.session.expire_all()
    assert activity_type("WOW").active is False
    # What it earned still counts.
    summary = text(client.get(f"/points/members/{me.id}?month=2025-10"))
    assert re.search(r'class="points-earned">10<', summary)
    # It is no longer offered for new activities.
    assert "WOW - Approved Wow Experience" not in text(client.get("/activities/new"))


def test_an_unused_type_may_be_deleted(client: FlaskClient, signed_in) -> None:
    signed_in(Role.ADMIN)
    tc_id = activity_type("TC").id
    html = post(client, f"{URL}/{tc_id}/delete", {})
    assert "TC - Thank You Card deleted." in html
    assert total(html) == str(644 - 10)
    db.session.expire_all()
    assert db.session.get(ActivityType, tc_id) is None


def test_a_past_month_keeps_the_quota_it_had(client: FlaskClient, signed_in, make_member) -> None:
    """Month end, the summary is printed and signed; next year it must print the same."""
    cory = make_member(name="Cory Ferguson")
    signed_in(Role.ADMIN)
    this_month = Month.of(local_today(ZoneInfo(get_team().time_zone)))
    last_month = this_month.previous()
    assert last_month is not None

    token = page_token(client, "/setup/team")
    response = client.post(
        "/setup/team",
        data={
            "name": "crmlite",
            "time_zone": "America/Los_Angeles",
            "points_quota": "600",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    token = page_token(client, f"/setup/members/{cory.id}")
    response = client.post(
        f"/setup/members/{cory.id}",
        data={
            "name": "Cory Ferguson",
            "email": cory.email,
            "role": "rep",
            "location_id": "0",
            "business_unit_id": "0",
            "points_quota": "450",
            "active": "y",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302

    def quota(month: Month) -> str:
        html = text(client.get(f"/points/members/{cory.id}?month={month.key}"))
        match = re.search(r'class="points-quota">(\d+)<', html)
        assert match
        return match.group(1)

    assert quota(this_month) == "450"
    assert quota(last_month) == "500"
    leaderboard = text(client.get(f"/points/?month={last_month.key}"))
    assert re.search(rf'id="standing-{cory.id}">.*?<td class="num">500</td>', leaderboard, re.S)
