"""A member's points quota set for one month (issue #18): it wins over the history rule,
the year grid says where each month's comes from, a frozen closed month is refused, and
every screen reads the same quota."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import AuditEntry, Member, PointsMonthQuota, Role
from crmlite.services import events, points
from crmlite.services.periods import Month
from crmlite.services.points import QuotaSource
from crmlite.services.team import get_team
from tests.conftest import page_token

TODAY = date.today()
THIS_MONTH = Month.of(TODAY)
LAST_MONTH = THIS_MONTH.plus(-1)
YEAR = TODAY.year


def grid(member: Member, year: int = YEAR) -> dict[int, tuple[int, QuotaSource, bool]]:
    return {
        q.month.month: (q.quota, q.source, q.frozen)
        for q in points.year_quotas(member, year, team=get_team(), today=TODAY)
    }


def explicit_rows(member: Member) -> dict[date, int]:
    db.session.rollback()  # see what the request committed
    rows = db.session.scalars(
        select(PointsMonthQuota).where(PointsMonthQuota.member_id == member.id)
    )
    return {row.month: row.quota for row in rows}


def set_quota(member: Member, month: Month, quota: int | None, by: Member) -> None:
    points.set_month_quota(member, month, quota, team=get_team(), today=TODAY, by=by)
    db.session.commit()


# ---------------------------------------------------------------- the rule


def test_a_month_set_explicitly_wins_over_the_rule(make_member) -> None:
    manager = make_member(role=Role.MANAGER)
    cory = make_member(name="Cory Ferguson", points_quota=400)
    nick = make_member(name="Nick")
    team = get_team()
    # The team's quota went from 500 to 600 this month: earlier months keep 500.
    points.record_quota_change(member=None, team=team, new_quota=600, today=TODAY, by=manager)
    team.points_quota = 600
    db.session.commit()

    set_quota(nick, LAST_MONTH, 350, manager)
    set_quota(cory, THIS_MONTH.plus(1), 0, manager)  # a month off

    assert points.quotas_for([nick, cory], LAST_MONTH, team) == {nick.id: 350, cory.id: 400}
    assert points.quotas_for([nick, cory], THIS_MONTH, team) == {nick.id: 600, cory.id: 400}
    assert points.quotas_for([nick, cory], THIS_MONTH.plus(1), team) == {nick.id: 600, cory.id: 0}
    # Two months ago: the team's quota as it was then.
    assert points.quotas_for([nick], LAST_MONTH.plus(-1), team) == {nick.id: 500}

    if LAST_MONTH.year == YEAR:
        assert grid(nick)[LAST_MONTH.month] == (350, QuotaSource.MONTH, False)
    assert grid(nick)[THIS_MONTH.month] == (600, QuotaSource.TEAM, False)
    assert grid(cory)[THIS_MONTH.month] == (400, QuotaSource.OWN, False)

    # Cleared, the rule applies again: the team's quota as it was then.
    set_quota(nick, LAST_MONTH, None, manager)
    assert points.quotas_for([nick], LAST_MONTH, team) == {nick.id: 500}
    assert explicit_rows(nick) == {}


def test_quotas_for_stays_one_query(make_member, queries) -> None:
    manager = make_member(role=Role.MANAGER)
    members = [make_member() for _ in range(4)]
    for member in members[:2]:
        set_quota(member, THIS_MONTH, 300, manager)
    team = get_team()
    assert all(m.points_quota is None for m in members)  # loaded before counting
    with queries() as counted:
        found = points.quotas_for(members, THIS_MONTH, team)
    assert counted.count == 1
    assert [found[m.id] for m in members] == [300, 300, 500, 500]


def test_a_change_is_audited_and_published(make_member, published) -> None:
    manager = make_member(role=Role.MANAGER, name="Manny")
    cory = make_member(name="Cory Ferguson")
    changed = published(events.QuotaChanged)
    set_quota(cory, THIS_MONTH, 450, manager)
    set_quota(cory, THIS_MONTH, 450, manager)  # no change: nothing published
    set_quota(cory, THIS_MONTH, None, manager)
    assert [(c["what"], c["before"], c["after"]) for c in changed] == [
        (
            f"Points quota of Cory Ferguson, {THIS_MONTH.key}",
            "500 (team default)",
            "450 (set for this month)",
        ),
        (
            f"Points quota of Cory Ferguson, {THIS_MONTH.key}",
            "450 (set for this month)",
            "500 (team default)",
        ),
    ]
    summaries = db.session.scalars(select(AuditEntry.summary).order_by(AuditEntry.id)).all()
    assert any("points quota of Cory Ferguson" in s and "450" in s for s in summaries)


def test_a_frozen_closed_month_is_refused(make_member) -> None:
    manager = make_member(role=Role.MANAGER)
    cory = make_member()
    # A closed month not frozen yet may still be set...
    set_quota(cory, LAST_MONTH, 420, manager)
    # ...but once its sheet is frozen (read or printed), it prints as it was.
    points.sheet_types(LAST_MONTH, TODAY)
    db.session.commit()
    with pytest.raises(points.MonthQuotaRefused, match="frozen"):
        points.set_month_quota(cory, LAST_MONTH, 300, team=get_team(), today=TODAY, by=manager)
    with pytest.raises(points.MonthQuotaRefused):
        points.set_month_quota(cory, LAST_MONTH, None, team=get_team(), today=TODAY, by=manager)
    db.session.rollback()
    assert points.quotas_for([cory], LAST_MONTH, get_team()) == {cory.id: 420}
    if LAST_MONTH.year == YEAR:
        assert grid(cory)[LAST_MONTH.month] == (420, QuotaSource.MONTH, True)
    # This month is never frozen.
    set_quota(cory, THIS_MONTH, 300, manager)


def test_the_leaderboard_and_sheet_read_the_month_set(
    client: FlaskClient, signed_in, make_member
) -> None:
    manager = signed_in(Role.MANAGER)
    cory = make_member(name="Cory Ferguson")
    set_quota(cory, THIS_MONTH, 250, manager)
    board = client.get(f"/points/?month={THIS_MONTH.key}").get_data(as_text=True)
    assert re.search(r"Cory Ferguson.*?>250<", board, re.S)
    csv_text = client.get(f"/points/team.csv?month={THIS_MONTH.key}").get_data(as_text=True)
    assert any(
        row.split(",")[2:4] == ["Cory Ferguson", "0"] and row.split(",")[4] == "250"
        for row in csv_text.splitlines()
    )


# ---------------------------------------------------------------- the pages


def url(member: Member, year: int = YEAR) -> str:
    return f"/quotas/{year}/members/{member.id}/points"


def post(
    client: FlaskClient, member: Member, month: int, data: dict[str, str], *, htmx: bool = True
):
    token = page_token(client, url(member))
    headers = {"X-CSRFToken": token, "HX-Request": "true"} if htmx else {}
    if not htmx:
        data = {**data, f"points-{month}-csrf_token": token}
    return client.post(f"{url(member)}/{month}", data=data, headers=headers)


def test_the_grid_shows_each_month_and_where_it_comes_from(
    client: FlaskClient, signed_in, make_member
) -> None:
    manager = signed_in(Role.MANAGER)
    cory = make_member(name="Cory Ferguson")
    set_quota(cory, THIS_MONTH, 275, manager)
    html = client.get(url(cory)).get_data(as_text=True)
    assert html.count('class="points-month') == 12
    row = html[html.index(f'id="points-month-{THIS_MONTH.key}"') :].split("</tr>")[0]
    assert ">275<" in row and "set for this month" in row and 'name="clear"' in row
    other = THIS_MONTH.plus(1 if THIS_MONTH.month < 12 else -1)
    row = html[html.index(f'id="points-month-{other.key}"') :].split("</tr>")[0]
    assert ">500<" in row and "team default" in row and 'name="clear"' not in row
    assert client.get(url(cory, 1999)).status_code == 404
    assert client.get(f"/quotas/{YEAR}/members/999999/points").status_code == 404


def test_set_and_clear_a_month(client: FlaskClient, signed_in, make_member) -> None:
    signed_in(Role.MANAGER)
    cory = make_member(name="Cory Ferguson", points_quota=450)
    month = THIS_MONTH.month
    field = f"points-{month}-quota"
    response = post(client, cory, month, {field: "380", "set": "1"})
    assert response.status_code == 200
    row = response.get_data(as_text=True)
    assert row.lstrip().startswith(f'<tr id="points-month-{THIS_MONTH.key}"')
    assert ">380<" in row and "set for this month" in row
    assert explicit_rows(cory) == {THIS_MONTH.first_day: 380}

    response = post(client, cory, month, {field: "", "clear": "1"})
    assert "member&#39;s own" in response.get_data(as_text=True) and ">450<" in response.get_data(
        as_text=True
    )
    assert explicit_rows(cory) == {}

    # Without htmx: back to the page.
    response = post(client, cory, month, {field: "1,200", "set": "1"}, htmx=False)
    assert response.status_code == 302 and response.headers["Location"].endswith(url(cory))
    assert explicit_rows(cory) == {THIS_MONTH.first_day: 1200}


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("lots", "whole number"),
        ("-5", "cannot be negative"),
        ("100001", "100,000"),
        ("", "Enter the quota"),
    ],
)
def test_bad_input_keeps_what_was_typed(
    client: FlaskClient, signed_in, make_member, typed, message
) -> None:
    signed_in(Role.MANAGER)
    cory = make_member()
    month = THIS_MONTH.month
    response = post(client, cory, month, {f"points-{month}-quota": typed, "set": "1"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    error = re.search(r'class="field-error"[^>]*>([^<]*)<', html)
    assert error and message in error.group(1), html
    assert f'value="{typed}"' in html or (typed == "" and 'aria-invalid="true"' in html)
    assert explicit_rows(cory) == {}
    # Without htmx: the whole page, the error by the month's field.
    response = post(client, cory, month, {f"points-{month}-quota": typed, "set": "1"}, htmx=False)
    assert response.status_code == 200 and message in response.get_data(as_text=True)
    assert "points quotas for" in response.get_data(as_text=True) and explicit_rows(cory) == {}


def test_a_frozen_month_is_refused_by_the_field(
    client: FlaskClient, signed_in, make_member
) -> None:
    signed_in(Role.MANAGER)
    cory = make_member()
    points.sheet_types(LAST_MONTH, TODAY)
    db.session.commit()
    year = LAST_MONTH.year
    token = page_token(client, url(cory, year))
    response = client.post(
        f"{url(cory, year)}/{LAST_MONTH.month}",
        data={f"points-{LAST_MONTH.month}-quota": "300", "set": "1"},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"{LAST_MONTH.label} is closed and its points sheet is frozen" in html
    assert 'value="300"' in html
    assert explicit_rows(cory) == {}
    page = client.get(url(cory, year)).get_data(as_text=True)
    row = page[page.index(f'id="points-month-{LAST_MONTH.key}"') :].split("</tr>")[0]
    assert "(frozen)" in row and "disabled" in row


def test_reps_may_not(client: FlaskClient, signed_in, make_member) -> None:
    rep = signed_in(Role.REP)
    assert client.get(url(rep)).status_code == 403
    token = page_token(client, "/points/")
    response = client.post(
        f"{url(rep)}/{THIS_MONTH.month}",
        data={f"points-{THIS_MONTH.month}-quota": "1", "set": "1"},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 403
    assert explicit_rows(rep) == {}


def test_unknown_month_is_404(client: FlaskClient, signed_in, make_member) -> None:
    signed_in(Role.MANAGER)
    cory = make_member()
    token = page_token(client, url(cory))
    response = client.post(f"{url(cory)}/13", data={}, headers={"X-CSRFToken": token})
    assert response.status_code == 404


def test_the_grid_page_queries_do_not_grow(
    client: FlaskClient, signed_in, make_member, queries: Callable
) -> None:
    manager = signed_in(Role.MANAGER)
    cory = make_member()
    client.get(url(cory))
    with queries() as counted:
        assert client.get(url(cory)).status_code == 200
    before = counted.count
    team = get_team()
    for n in range(1, 13):
        if Month(YEAR, n) >= THIS_MONTH:
            set_quota(cory, Month(YEAR, n), 100 + n, manager)
    points.record_quota_change(member=cory, team=team, new_quota=700, today=TODAY, by=manager)
    cory.points_quota = 700
    db.session.commit()
    with queries() as counted:
        assert client.get(url(cory)).status_code == 200
    assert counted.count == before <= 12
