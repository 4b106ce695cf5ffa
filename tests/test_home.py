"""The home page: my next activities, stalled opportunities, funnel summaries."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from crmlite.models import Role
from crmlite.services.team import local_today
from tests.conftest import stage


def test_home_shows_my_day_and_the_funnel(
    client: FlaskClient, signed_in, make_opportunity, make_activity, make_company
) -> None:
    me = signed_in(Role.REP, name="Cory Ferguson")
    today = local_today(ZoneInfo("America/Los_Angeles"))
    company = make_company(name="Tows R Us")
    with_next_step = make_opportunity(
        name="Has a next step", stage_name="Discovery", revenue="6200.00", account_manager_id=me.id
    )
    make_opportunity(
        name="Stalled one", stage_name="Discovery", revenue="1000.00", account_manager_id=me.id
    )
    make_opportunity(name="Someone else's", stage_name="Prospect", revenue="500.00")
    make_activity(
        me,
        subject="Discovery with Shane",
        code="DM",
        due_on=today + timedelta(days=2),
        opportunity_id=with_next_step.id,
        company_id=company.id,
    )
    make_activity(me, subject="Late call", due_on=today - timedelta(days=1))
    make_activity(me, subject="Done already", due_on=today - timedelta(days=3), closed=True)

    html = client.get("/").get_data(as_text=True)
    assert "Discovery with Shane" in html and "Tows R Us" in html
    assert "Late call" in html and "Done already" not in html
    assert 'id="overdue-count">1<' in html
    # Two of mine are open in Discovery, one has no future activity: stalled. Plus the other.
    assert 'id="my-stalled">1<' in html
    assert 'id="team-stalled">2<' in html
    discovery = stage("Discovery")
    assert discovery.default_probability == 60
    # Discovery row of my funnel: 2 open, 7,200.00 revenue, 4,320.00 weighted (60 %).
    my_funnel = html[html.index('id="my-funnel"') :]
    row = re.search(r"<td>Discovery</td>(.*?)</tr>", my_funnel, re.S).group(1)
    assert re.findall(r'class="num">([^<]+)<', row) == ["2", "7,200.00", "4,320.00"]


def test_home_query_count_does_not_grow_with_rows(
    client: FlaskClient, signed_in, make_opportunity, make_activity, make_company, queries
) -> None:
    me = signed_in(Role.REP)

    def add(n: int) -> None:
        for i in range(n):
            company = make_company(name=f"Company {i}")
            opportunity = make_opportunity(
                name=f"Deal {i}", account_manager_id=me.id, company_id=company.id
            )
            make_activity(
                me, subject=f"Call {i}", opportunity_id=opportunity.id, company_id=company.id
            )

    add(2)
    with queries() as few:
        client.get("/")
    add(20)
    with queries() as many:
        html = client.get("/").get_data(as_text=True)
    assert html.count("Call ") >= 10
    assert many.count == few.count, many.statements
