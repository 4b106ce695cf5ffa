"""Board figures and closing tidily (issue #16): labelled column headers in the team's
currency, Won summing the amounts won; Won and Lost asking what becomes of the open
activities; reopening a won or lost deal asking first and keeping the former amount."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityNote,
    ActivityStatus,
    Opportunity,
    Role,
    StageChange,
)
from crmlite.services import activities, points
from crmlite.services.periods import Month
from crmlite.services.team import get_team, local_today
from tests.conftest import page_token, stage, status

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture()
def today():
    return local_today(LA)


@pytest.fixture()
def htmx(client: FlaskClient):
    """Post like htmx does: the CSRF token in a header."""

    def post(url: str, data: dict) -> str:
        token = page_token(client, "/board/")
        response = client.post(url, data=data, headers={"HX-Request": "true", "X-CSRFToken": token})
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    return post


def move(htmx, opportunity: Opportunity, stage_name: str, **extra) -> str:
    data = {"stage_id": stage(stage_name).id, "version": opportunity.version, **extra}
    return htmx(f"/board/opportunities/{opportunity.id}/move", data)


def header(html: str, stage_name: str) -> str:
    """A column header's figures as read: "2 deals · $7,200 · $4,320 weighted"."""
    stage_id = stage(stage_name).id
    block = re.search(rf'id="stage-{stage_id}-header".*?</header>', html, re.S).group(0)
    figures = re.search(r'class="column-totals">(.*?)</p>', block, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", "", figures).split())


def reload(opportunity: Opportunity) -> Opportunity:
    db.session.expire_all()
    return db.session.get(Opportunity, opportunity.id)


# -- figures ---------------------------------------------------------------------------------


def test_headers_are_labelled_in_the_team_currency(client, signed_in, make_opportunity) -> None:
    signed_in(Role.MANAGER)
    get_team().currency = "EUR"
    db.session.commit()
    now = datetime.now(UTC)
    make_opportunity(name="A", stage_name="Discovery", revenue="239845.00", probability=60)
    make_opportunity(name="B", stage_name="Discovery", revenue="0.50", probability=60)
    make_opportunity(
        name="Won one",
        stage_name="Won",
        revenue="47880.00",
        won_amount=Decimal("47756.55"),
        closed_at=now,
    )
    make_opportunity(
        name="Lost one",
        stage_name="Lost",
        revenue="9000.00",
        lost_amount=Decimal("9000.00"),
        closed_at=now,
    )
    html = client.get("/board/").get_data(as_text=True)
    # Whole units, half up: 239,845.50 → €239,846; 60 % of it → €143,907.30 → €143,907.
    assert header(html, "Discovery") == "2 deals · €239,846 · €143,907 weighted"
    assert header(html, "Prospect") == "0 deals · €0 · €0 weighted"
    assert header(html, "Won") == "1 deal · €47,757 won"
    assert header(html, "Lost") == "1 deal · €9,000 lost"


def test_the_won_header_grows_by_the_amount_won_not_the_revenue(
    client, signed_in, make_opportunity, htmx, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(stage_name="Commitment", account_manager_id=me.id, revenue="47880")
    html = move(htmx, deal, "Won", prompt="won", won_amount="47,756.55", won_on=today.isoformat())
    assert header(html, "Won") == "1 deal · $47,757 won"
    assert header(html, "Commitment") == "0 deals · $0 · $0 weighted"
    assert "weighted" not in header(html, "Won")


def test_stalled_only_lists_open_deals_only(client, signed_in, make_opportunity) -> None:
    signed_in(Role.MANAGER)
    now = datetime.now(UTC)
    make_opportunity(name="Stalled open", stage_name="Discovery")
    make_opportunity(name="Won, no step", stage_name="Won", closed_at=now, won_amount=1)
    make_opportunity(name="Lost, no step", stage_name="Lost", closed_at=now, lost_amount=1)
    html = client.get("/board/?stalled_only=1").get_data(as_text=True)
    assert "Stalled open" in html
    assert "Won, no step" not in html and "Lost, no step" not in html
    assert header(html, "Won") == "0 deals · $0 won"
    assert header(html, "Lost") == "0 deals · $0 lost"


# -- closing tidily --------------------------------------------------------------------------


def test_won_cancels_the_open_next_steps_by_default(
    client, signed_in, make_opportunity, make_activity, htmx, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(stage_name="Commitment", account_manager_id=me.id, revenue="2895")
    step = make_activity(
        me,
        "Check agreement set-up with Carlos",
        code="SA",
        due_on=today + timedelta(days=2),
        opportunity_id=deal.id,
    )
    done = make_activity(me, "Signed", code="SA", due_on=today, opportunity_id=deal.id)
    activities.close_activity(done, by=me)
    db.session.commit()

    html = move(htmx, deal, "Won")
    assert "It has 1 open activity:" in html
    assert re.search(r'<input checked[^>]*value="cancel"', html) and "Keep them open" in html
    assert db.session.get(Activity, step.id).status == ActivityStatus.OPEN.value  # asked only

    move(htmx, deal, "Won", prompt="won", won_amount="2895", won_on=today.isoformat())
    db.session.expire_all()
    step = db.session.get(Activity, step.id)
    assert step.status == ActivityStatus.CANCELLED.value
    assert step.points_earned is None and step.closed_at is None
    note = db.session.scalars(select(ActivityNote).where(ActivityNote.activity_id == step.id)).one()
    assert note.body == "Cancelled: the deal was won." and note.author_id == me.id
    # The one done keeps its points; the cancelled one earns none.
    assert db.session.get(Activity, done.id).status == ActivityStatus.CLOSED.value
    month = points.member_month(
        me, Month(today.year, today.month), tz=LA, team=get_team(), today=today
    )
    assert month.points == done.points_earned
    # Still in the history: the activity shows as cancelled, not done, and not as a next step.
    page = client.get(f"/opportunities/{deal.id}").get_data(as_text=True)
    assert "Check agreement set-up with Carlos" in page and "badge-cancelled" in page
    assert reload(deal).first_open_activity_on is None


def test_lost_may_keep_the_open_activities(
    client, signed_in, make_opportunity, make_activity, htmx, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(stage_name="Presentation", account_manager_id=me.id)
    step = make_activity(me, "Follow up", due_on=today + timedelta(days=1), opportunity_id=deal.id)
    move(
        htmx,
        deal,
        "Lost",
        prompt="lost",
        lost_reason="Went with the incumbent",
        open_activities="keep",
    )
    assert reload(deal).status_id == status("Lost").id
    assert db.session.get(Activity, step.id).status == ActivityStatus.OPEN.value


def test_a_bad_answer_to_the_closing_question_changes_nothing(
    client, signed_in, make_opportunity, make_activity, htmx, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(stage_name="Presentation", account_manager_id=me.id)
    step = make_activity(me, "Follow up", due_on=today + timedelta(days=1), opportunity_id=deal.id)
    html = move(htmx, deal, "Lost", prompt="lost", lost_reason="No", open_activities="burn")
    assert "Not a valid choice" in html and "Mark lost" in html
    assert reload(deal).stage_id == stage("Presentation").id
    assert db.session.get(Activity, step.id).status == ActivityStatus.OPEN.value


def test_reopening_a_won_deal_asks_first_and_keeps_the_former_amount(
    client, signed_in, make_opportunity, htmx
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(
        stage_name="Won",
        account_manager_id=me.id,
        revenue="47880",
        won_amount=Decimal("47756.55"),
        closed_at=datetime.now(UTC),
    )
    html = move(htmx, deal, "Commitment")
    assert "Reopen this deal and move it to Commitment?" in html
    assert "$47,756.55 won" in html and ">Reopen</button>" in html
    deal = reload(deal)
    assert deal.stage_id == stage("Won").id and deal.won_amount == Decimal("47756.55")
    assert db.session.scalars(select(StageChange)).all() == []

    move(htmx, deal, "Commitment", prompt="reopen")
    deal = reload(deal)
    assert deal.stage_id == stage("Commitment").id and deal.status_id == status("Open").id
    assert deal.won_amount is None and deal.closed_at is None
    change = db.session.scalars(select(StageChange)).one()
    assert (change.from_stage_id, change.to_stage_id) == (stage("Won").id, stage("Commitment").id)
    assert change.former_amount == Decimal("47756.55")
    page = client.get(f"/opportunities/{deal.id}").get_data(as_text=True)
    assert "Reopened" in page and "(was won: $47,756.55)" in page
