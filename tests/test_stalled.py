"""One rule for "stalled" on every screen (PRODUCT.md): an open opportunity without an open
activity due today or later. An opportunity whose only open activity is overdue is stalled
on the board card, on its page, under "Stalled only", in the stalled list, in the home
page's counts and in the dashboard's hygiene; one with a next step ahead is stalled nowhere;
a Won or Lost one never is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from crmlite.extensions import db
from crmlite.models import Member, Opportunity, Role
from crmlite.services import next_steps
from crmlite.services.team import local_today

LA = ZoneInfo("America/Los_Angeles")


@dataclass
class Deals:
    me: Member
    today: date
    overdue_only: Opportunity  # its only open activity is two days overdue: stalled
    nothing: Opportunity  # no open activity at all: stalled
    planned: Opportunity  # a missed activity, and a next step in three days: not stalled
    due_today: Opportunity  # its next step is today: not stalled
    won: Opportunity  # no activity, but won: not stalled
    lost: Opportunity  # an overdue open activity, but lost: not stalled

    @property
    def stalled(self) -> set[int]:
        return {self.overdue_only.id, self.nothing.id}

    @property
    def not_stalled(self) -> set[int]:
        return {self.planned.id, self.due_today.id, self.won.id, self.lost.id}


@pytest.fixture()
def deals(signed_in, make_opportunity, make_activity) -> Deals:
    me = signed_in(Role.MANAGER, name="Cory Ferguson")
    today = local_today(LA)
    now = datetime.now(UTC)

    def deal(name: str, stage: str = "Discovery", **fields) -> Opportunity:
        return make_opportunity(name=name, stage_name=stage, account_manager_id=me.id, **fields)

    found = Deals(
        me=me,
        today=today,
        overdue_only=deal("Overdue only"),
        nothing=deal("Nothing planned"),
        planned=deal("Planned ahead"),
        due_today=deal("Due today"),
        won=deal("Won it", "Won", closed_at=now, won_amount=1000),
        lost=deal("Lost it", "Lost", closed_at=now, lost_reason="Price"),
    )
    for opportunity, subject, days in [
        (found.overdue_only, "Missed call", -2),
        (found.planned, "Missed mail", -3),
        (found.planned, "Demo", 3),
        (found.due_today, "Call today", 0),
        (found.lost, "Forgotten call", -1),
    ]:
        make_activity(
            me, subject, due_on=today + timedelta(days=days), opportunity_id=opportunity.id
        )
    return found


def card_ids(html: str) -> dict[int, str]:
    """The cards on a board page: id → state."""
    return {
        int(i): state
        for state, i in re.findall(r'class="board-card state-(\w+)" id="card-(\d+)"', html)
    }


def card(html: str, opportunity_id: int) -> str:
    match = re.search(rf'id="card-{opportunity_id}"(.*?)</li>', html, re.S)
    assert match, f"no card {opportunity_id}"
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def test_python_and_sql_forms_agree(deals: Deals) -> None:
    db.session.expire_all()
    everyone = db.session.scalars(select(Opportunity).options(joinedload(Opportunity.status)))
    in_python = {o.id for o in everyone if next_steps.is_stalled(o, deals.today)}
    in_sql = set(db.session.scalars(select(Opportunity.id).where(next_steps.stalled(deals.today))))
    assert in_python == in_sql == deals.stalled


def test_board_card_reads_stalled_naming_the_overdue_activity(
    client: FlaskClient, deals: Deals
) -> None:
    html = client.get("/board/").get_data(as_text=True)
    states = card_ids(html)
    assert states[deals.overdue_only.id] == "stalled"
    assert states[deals.nothing.id] == "stalled"
    assert states[deals.planned.id] == "overdue"  # a next step ahead, an earlier one missed
    assert states[deals.due_today.id] == "today"
    assert states[deals.won.id] == "won" and states[deals.lost.id] == "lost"
    missed_on = f"{deals.today - timedelta(days=2):%a %Y-%m-%d}"
    assert f"Stalled overdue since {missed_on}: Missed call" in card(html, deals.overdue_only.id)
    assert "Stalled no next step scheduled" in card(html, deals.nothing.id)
    assert "Stalled" not in card(html, deals.planned.id)


def test_stalled_only_lists_open_stalled_deals_only(client: FlaskClient, deals: Deals) -> None:
    html = client.get("/board/?stalled_only=1").get_data(as_text=True)
    assert set(card_ids(html)) == deals.stalled
    # The Won and Lost columns count nothing either.
    counts = dict(
        re.findall(
            r'<h2 id="stage-\d+-title">([^<]+)</h2>.*?"column-count"[^>]*>(\d+)<', html, re.S
        )
    )
    assert counts["Won"] == counts["Lost"] == "0" and counts["Discovery"] == "2"


def test_opportunity_page_says_stalled(client: FlaskClient, deals: Deals) -> None:
    for opportunity_id in deals.stalled:
        html = client.get(f"/opportunities/{opportunity_id}").get_data(as_text=True)
        assert "Stalled: no next step" in html and 'id="stalled-notice"' in html
    for opportunity_id in deals.not_stalled:
        html = client.get(f"/opportunities/{opportunity_id}").get_data(as_text=True)
        assert "Stalled: no next step" not in html and 'id="stalled-notice"' not in html


def test_stalled_list(client: FlaskClient, deals: Deals) -> None:
    html = client.get("/opportunities/stalled").get_data(as_text=True)
    listed = {int(i) for i in re.findall(r'id="stalled-opportunity-(\d+)"', html)}
    assert listed == deals.stalled
    assert 'id="stalled-total">2<' in html


def test_home_counts(client: FlaskClient, deals: Deals) -> None:
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'id="my-stalled">2<', html)
    assert re.search(r'id="team-stalled">2<', html)


def test_dashboard_hygiene(client: FlaskClient, deals: Deals) -> None:
    html = client.get("/dashboard/").get_data(as_text=True)
    cell = re.search(rf'id="hygiene-{deals.me.id}-stalled"><a href="[^"]*">(\d+)</a>', html)
    assert cell and cell.group(1) == "2"


def test_a_deal_with_a_future_activity_is_stalled_nowhere(
    client: FlaskClient, signed_in, make_opportunity, make_activity
) -> None:
    me = signed_in(Role.MANAGER)
    today = local_today(LA)
    deal = make_opportunity(name="On track", stage_name="Presentation", account_manager_id=me.id)
    make_activity(me, "Proposal", due_on=today + timedelta(days=5), opportunity_id=deal.id)
    board = client.get("/board/").get_data(as_text=True)
    assert card_ids(board)[deal.id] == "scheduled"
    assert card_ids(client.get("/board/?stalled_only=1").get_data(as_text=True)) == {}
    page = client.get(f"/opportunities/{deal.id}").get_data(as_text=True)
    assert "Stalled: no next step" not in page
    listed = client.get("/opportunities/stalled").get_data(as_text=True)
    assert 'id="no-stalled"' in listed
    home = client.get("/").get_data(as_text=True)
    assert 'id="my-stalled">0<' in home and 'id="team-stalled">0<' in home
    dashboard = client.get("/dashboard/").get_data(as_text=True)
    assert f'id="hygiene-{me.id}-stalled"' not in dashboard
