"""The board: columns, cards, filters, load more, moves (with their questions), new
opportunities; rights, bad input and query counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import template_rendered
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from crmlite.extensions import db
from crmlite.models import Activity, Company, Opportunity, Role, StageChange
from crmlite.services.team import get_team, local_today
from tests.conftest import activity_type, page_token, sign_in, stage, status

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


def header(html: str, stage_name: str) -> str:
    """A column header's figures as read: "2 deals · $7,200 · $4,320 weighted"."""
    stage_id = stage(stage_name).id
    block = re.search(rf'id="stage-{stage_id}-header".*?</header>', html, re.S).group(0)
    figures = re.search(r'class="column-totals">(.*?)</p>', block, re.S).group(1)
    return " ".join(re.sub(r"<[^>]+>", "", figures).split())


def column(html: str, stage_name: str) -> str:
    stage_id = stage(stage_name).id
    return re.search(rf'id="stage-{stage_id}-cards".*?</ol>', html, re.S).group(0)


def reload(opportunity: Opportunity) -> Opportunity:
    db.session.expire_all()
    return db.session.get(Opportunity, opportunity.id)


def test_columns_show_totals_and_cards(
    client, signed_in, make_opportunity, make_activity, make_company, today
) -> None:
    me = signed_in(Role.REP, name="Cory Ferguson")
    tows = make_company(name="Tows R Us")
    deal = make_opportunity(
        name="Tows R Us - Managed Services - Complete",
        stage_name="Discovery",
        revenue="6200.00",
        account_manager_id=me.id,
        company_id=tows.id,
        rating="Medium",
    )
    make_opportunity(name="Second", stage_name="Discovery", revenue="1000.00")
    make_activity(
        me,
        "Discovery meeting",
        code="DM",
        due_on=today + timedelta(days=3),
        opportunity_id=deal.id,
    )
    html = client.get("/board/").get_data(as_text=True)
    names = re.findall(r'<h2 id="stage-\d+-title">([^<]+)</h2>', html)
    assert names == [
        "Prospect",
        "1st Appointment",
        "Discovery",
        "Presentation",
        "Follow-Up",
        "Commitment",
        "Won",
        "Lost",
    ]
    assert header(html, "Discovery") == "2 deals · $7,200 · $4,320 weighted"
    assert header(html, "Prospect") == "0 deals · $0 · $0 weighted"
    cards = column(html, "Discovery")
    # Stalled first, then by next step.
    assert cards.index("Second") < cards.index("Tows R Us - Managed")
    # The name starts with its company: the card does not repeat it (issue #16).
    assert "Tows R Us</p>" not in cards and 'title="Cory Ferguson">CF</abbr>' in cards
    assert "6,200.00" in cards
    assert "Discovery meeting" in cards and "state-scheduled" in cards and "state-stalled" in cards


def test_card_states(client, signed_in, make_opportunity, make_activity, today) -> None:
    me = signed_in(Role.MANAGER)
    due_today = make_opportunity(name="Due today")
    missed_only = make_opportunity(name="Missed it")
    behind = make_opportunity(name="Behind but planned")
    make_activity(me, "Call today", due_on=today, opportunity_id=due_today.id)
    make_activity(me, "Old call", due_on=today - timedelta(days=2), opportunity_id=missed_only.id)
    make_activity(me, "Missed mail", due_on=today - timedelta(days=3), opportunity_id=behind.id)
    make_activity(me, "Demo", due_on=today + timedelta(days=4), opportunity_id=behind.id)
    html = client.get("/board/").get_data(as_text=True)
    assert re.search(rf'state-today" id="card-{due_today.id}"', html)
    # Only an overdue activity: no next step, so stalled (PRODUCT.md), naming what was missed.
    assert re.search(rf'state-stalled" id="card-{missed_only.id}"', html)
    # A next step ahead and an earlier one missed: overdue, naming the missed one.
    assert re.search(rf'state-overdue" id="card-{behind.id}"', html)


def test_won_and_lost_show_only_this_quarter(client, signed_in, make_opportunity) -> None:
    signed_in(Role.MANAGER)
    now = datetime.now(UTC)
    make_opportunity(name="Won now", stage_name="Won", closed_at=now, revenue="500")
    make_opportunity(name="Won long ago", stage_name="Won", closed_at=now - timedelta(days=200))
    html = client.get("/board/").get_data(as_text=True)
    assert "Won now" in column(html, "Won") and "Won long ago" not in html
    assert header(html, "Won").startswith("1 deal ·")


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ("rating=Hot", {"Hot deal"}),
        ("q=acme", {"Hot deal"}),
        ("q=shane", {"Cold deal"}),
        ("stalled_only=1", {"Hot deal"}),
        ("account_manager_id={manny}", {"Cold deal"}),
        ("rating=Bogus&type_id=abc", {"Hot deal", "Cold deal"}),
        ("account_manager_id=99999999999999999999&type_id=²", {"Hot deal", "Cold deal"}),
    ],
)
def test_filters(
    client,
    signed_in,
    make_opportunity,
    make_member,
    make_company,
    make_contact,
    make_activity,
    today,
    query,
    shown,
) -> None:
    signed_in(Role.MANAGER)
    manny = make_member(name="Manny")
    acme = make_company(name="ACME Towing")
    shane = make_contact(first_name="Shane", last_name="Swanson")
    make_opportunity(name="Hot deal", rating="Hot", company_id=acme.id)
    cold = make_opportunity(
        name="Cold deal", rating="Cold", contact_id=shane.id, account_manager_id=manny.id
    )
    make_activity(manny, "Next", due_on=today + timedelta(days=1), opportunity_id=cold.id)
    html = client.get("/board/?" + query.format(manny=manny.id)).get_data(as_text=True)
    assert {n for n in ("Hot deal", "Cold deal") if f">{n}</a>" in html} == shown
    assert header(html, "Prospect").split(" ")[0] == str(len(shown))


def test_filtering_with_htmx_returns_only_the_board(client, signed_in, make_opportunity) -> None:
    signed_in(Role.REP)
    make_opportunity(name="Hot deal", rating="Hot")
    response = client.get(
        "/board/?rating=Hot", headers={"HX-Request": "true", "HX-Target": "board"}
    )
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="board"')
    assert "<html" not in html and "Hot deal" in html


def test_load_more(client, signed_in, make_opportunity) -> None:
    signed_in(Role.REP)
    for i in range(30):
        make_opportunity(name=f"Deal {i:02d}")
    html = client.get("/board/").get_data(as_text=True)
    prospect = column(html, "Prospect")
    assert prospect.count('class="board-card ') == 25
    more_url = re.search(r'hx-get="([^"]+/cards\?[^"]+)"', prospect).group(1).replace("&amp;", "&")
    rest = client.get(more_url).get_data(as_text=True)
    assert rest.count('class="board-card ') == 5
    assert "Load more" not in rest
    shown = re.findall(r">(Deal \d\d)</a>", prospect + rest)
    assert sorted(shown) == [f"Deal {i:02d}" for i in range(30)]


def test_board_query_count_does_not_grow(
    client, signed_in, make_opportunity, make_activity, make_company, queries, today
) -> None:
    me = signed_in(Role.MANAGER)

    def add(n: int) -> None:
        for i in range(n):
            company = make_company(name=f"Company {i}")
            opportunity = make_opportunity(
                name=f"Deal {i}",
                stage_name=["Prospect", "Discovery", "Commitment"][i % 3],
                company_id=company.id,
                account_manager_id=me.id,
            )
            make_activity(
                me, f"Step {i}", due_on=today + timedelta(days=i % 4), opportunity_id=opportunity.id
            )

    add(3)
    with queries() as few:
        client.get("/board/")
    add(60)
    with queries() as many:
        html = client.get("/board/").get_data(as_text=True)
    assert html.count('class="board-card ') == 63
    assert many.count == few.count, many.statements


def test_the_boards_cards_and_closed_totals_are_planned_once_on_postgresql(
    app, make_opportunity, make_activity, make_member, today
) -> None:
    """psycopg prepares a statement run five times; PostgreSQL plans a prepared statement
    with bound values anew for each of its first five runs, and for good whenever the plan
    for any values looks dearer (it did, on a large table: 3 ms of planning per board). The
    board's cards and its Won and Lost totals carry no bound value, so they are planned once
    and the plan kept."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plans of prepared statements")
    from crmlite.services import board as board_service

    rep = make_member()
    deal = make_opportunity(name="Planned once", account_manager_id=rep.id, rating="Hot")
    make_activity(rep, "Call", due_on=today, opportunity_id=deal.id)
    make_opportunity(
        name="Won lately",
        stage_name="Won",
        revenue="700.00",
        won_amount=Decimal("650.00"),
        closed_at=datetime.now(UTC),
    )
    filtered = board_service.BoardFilters(account_manager_id=rep.id, rating="Hot")
    for filters, shown, won in ((board_service.BoardFilters(), 2, "650.00"), (filtered, 1, "0")):
        for _ in range(8):  # prepared at the sixth run, then run from its plan
            columns = board_service.board(filters, today, LA)
        assert sum(len(column.cards) for column in columns) == shown
        won_column = next(column for column in columns if column.stage.is_won)
        assert won_column.totals.amount == Decimal(won)

    def plans(statement: str) -> list[Any]:
        return db.session.execute(
            text(
                "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE :statement"
            ),
            {"statement": statement},
        ).all()

    # The board's pages (not its cards by id) and its Won and Lost totals.
    cards = plans("SELECT opportunities.id, opportunities.name,%row_number()%")
    closed = plans("SELECT anon_1.stage_id, sum(anon_1.deals)%board_closed_rollups%")
    assert len(cards) >= 2 and len(closed) >= 1, (cards, closed)
    assert all(custom == 0 and generic > 0 for generic, custom in cards + closed), (cards, closed)


def move(htmx, opportunity: Opportunity, stage_name: str, **extra) -> str:
    data = {"stage_id": stage(stage_name).id, "version": opportunity.version, **extra}
    return htmx(f"/board/opportunities/{opportunity.id}/move", data)


def test_forward_move_without_next_step_asks_then_skip_moves(
    client, signed_in, make_opportunity, htmx
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(revenue="1000.00", account_manager_id=me.id)
    html = move(htmx, deal, "1st Appointment")
    assert "Schedule the next step?" in html and "Skip (leave it stalled)" in html
    assert reload(deal).stage_id == stage("Prospect").id  # nothing counted yet

    html = move(htmx, deal, "1st Appointment", prompt="next_step", skip_next_step="y")
    deal = reload(deal)
    assert deal.stage_id == stage("1st Appointment").id and deal.probability == 30
    # Only the changed fragments: the card (out of band, into its new column) and 2 headers.
    assert f'hx-swap-oob="afterbegin:#stage-{stage("1st Appointment").id}-cards"' in html
    assert html.count('hx-swap-oob="true"') == 2
    assert header(html, "Prospect") == "0 deals · $0 · $0 weighted"
    assert header(html, "1st Appointment") == "1 deal · $1,000 · $300 weighted"
    changes = db.session.scalars(select(StageChange).where(StageChange.opportunity_id == deal.id))
    assert [(c.from_stage_id, c.to_stage_id, c.changed_by_id) for c in changes] == [
        (stage("Prospect").id, stage("1st Appointment").id, me.id)
    ]


def test_forward_move_schedules_the_next_step_from_the_prompt(
    client, signed_in, make_opportunity, htmx, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    day = today + timedelta(days=7)
    bad = move(
        htmx,
        deal,
        "1st Appointment",
        prompt="next_step",
        step_type_id="",
        step_subject="Visit",
        step_date=day.isoformat(),
        step_start="11:00",
        step_end="10:00",
    )
    assert 'id="step_type_id-error">Choose the kind of activity.' in bad
    assert 'value="Visit"' in bad
    bad = move(
        htmx,
        deal,
        "1st Appointment",
        prompt="next_step",
        step_type_id=activity_type("SA").id,
        step_subject="Visit",
        step_date=day.isoformat(),
        step_start="11:00",
        step_end="10:00",
    )
    assert 'id="step_end-error">The end must come after the start.' in bad
    bad = move(
        htmx,
        deal,
        "1st Appointment",
        prompt="next_step",
        step_type_id=activity_type("SA").id,
        step_subject="Visit",
        step_date=(today - timedelta(days=1)).isoformat(),
        step_start="10:00",
        step_end="11:00",
    )
    assert "A next step is in the future" in bad
    assert db.session.scalar(select(func.count(Activity.id))) == 0

    html = move(
        htmx,
        deal,
        "1st Appointment",
        prompt="next_step",
        step_type_id=activity_type("SA").id,
        step_subject="1st Appointment with Jason",
        step_date=day.isoformat(),
        step_start="10:00",
        step_end="11:00",
    )
    activity = db.session.scalars(select(Activity)).one()
    assert activity.subject == "1st Appointment with Jason"
    assert activity.opportunity_id == deal.id and activity.assigned_to_id == me.id
    assert activity.starts_at.astimezone(LA).strftime("%Y-%m-%d %H:%M") == f"{day} 10:00"
    assert activity.ends_at.astimezone(LA).hour == 11
    assert reload(deal).stage_id == stage("1st Appointment").id
    assert "1st Appointment with Jason" in html and "state-scheduled" in html


def test_forward_move_with_a_next_step_moves_at_once(
    client, signed_in, make_opportunity, make_activity, htmx, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    make_activity(me, "Booked", due_on=today + timedelta(days=1), opportunity_id=deal.id)
    move(htmx, deal, "Discovery")
    assert reload(deal).stage_id == stage("Discovery").id


def test_a_plain_move_reads_nothing_twice(
    client, signed_in, make_opportunity, make_activity, queries, today
) -> None:
    """A drop forward with a next step scheduled, as the board sends it (current but for
    this move): the sign-in (the team read with it), the deal, the stages (once), its next
    step; the UPDATE, the history (INSERT, then its derived columns), the webhooks to tell;
    then the card, the two headers and the board's version. Nothing read again after the
    commit (the member, the team, the stages), nor all of the rep's movable cards for this
    one."""
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id, revenue="1000.00")
    make_activity(me, "Booked", due_on=today + timedelta(days=1), opportunity_id=deal.id)
    token = page_token(client, "/board/")
    version = re.search(r'data-version="([0-9-]+)"', client.get("/board/").get_data(as_text=True))
    data = {
        "stage_id": stage("Discovery").id,
        "version": deal.version,
        "via": "drag",
        "board_version": version.group(1),
    }
    with queries() as counted:
        response = client.post(
            f"/board/opportunities/{deal.id}/move",
            data=data,
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert reload(deal).stage_id == stage("Discovery").id
    assert f'id="card-{deal.id}"' in html and "data-movable" in html
    assert 'id="board-live"' in html  # the board caught up with this move
    assert header(html, "Prospect") == "0 deals · $0 · $0 weighted"
    assert header(html, "Discovery") == "1 deal · $1,000 · $600 weighted"
    # On PostgreSQL the end of the request asks whether the reads after the commit wrote
    # anything (database.end_unwritten_transaction): not part of the move.
    statements = [
        " ".join(s.split()) for s in counted.statements if "txid_current_if_assigned" not in s
    ]
    assert sum(s.startswith("SELECT sales_stages.") for s in statements) == 1, statements
    assert sum(s.startswith("SELECT members.") for s in statements) == 1, statements
    the_sign_in = next(s for s in statements if s.startswith("SELECT members."))
    assert "team.time_zone" in the_sign_in  # the team's settings read with the sign-in
    assert sum(s.startswith("SELECT team.") for s in statements) == 0, statements
    assert len(statements) == 11, statements


def test_lost_asks_for_a_reason_which_is_required(
    client, signed_in, make_opportunity, htmx
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(stage_name="Presentation", account_manager_id=me.id, revenue="900")
    html = move(htmx, deal, "Lost")
    assert "The reason is required." in html and "Mark lost" in html and "Cancel" in html
    html = move(htmx, deal, "Lost", prompt="lost", lost_reason="   ")
    assert "Enter the reason the prospect gave for saying no." in html
    assert reload(deal).stage_id == stage("Presentation").id
    html = move(htmx, deal, "Lost", prompt="lost", lost_reason="Went with the incumbent")
    deal = reload(deal)
    assert deal.stage_id == stage("Lost").id and deal.status_id == status("Lost").id
    assert deal.lost_reason == "Went with the incumbent"
    assert header(html, "Lost") == "1 deal · $900 lost"


def test_won_asks_for_amount_and_date_with_defaults(
    client, signed_in, make_opportunity, htmx, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(stage_name="Commitment", account_manager_id=me.id, revenue="2895")
    html = move(htmx, deal, "Won")
    assert 'value="2895.00"' in html and f'value="{today.isoformat()}"' in html
    html = move(htmx, deal, "Won", prompt="won", won_amount="abc", won_on=today.isoformat())
    assert 'id="won_amount-error"' in html and reload(deal).closed_at is None
    for typed in ("12e3", "Infinity", "0.001"):
        html = move(htmx, deal, "Won", prompt="won", won_amount=typed, won_on=today.isoformat())
        assert 'id="won_amount-error">The won amount ' in html and reload(deal).closed_at is None
    move(htmx, deal, "Won", prompt="won", won_amount="2,895.50", won_on=today.isoformat())
    deal = reload(deal)
    assert deal.status_id == status("Won").id and deal.won_amount == Decimal("2895.50")


def test_a_stale_move_is_refused_and_shows_where_it_is(
    client, signed_in, make_opportunity, make_activity, htmx, today
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(account_manager_id=me.id)
    make_activity(me, "Booked", due_on=today + timedelta(days=1), opportunity_id=deal.id)
    stale_version = deal.version
    move(htmx, deal, "Discovery")  # someone else, first
    html = htmx(
        f"/board/opportunities/{deal.id}/move",
        {"stage_id": stage("Presentation").id, "version": stale_version},
    )
    # It names who moved it where, and when (the stage history says).
    assert re.search(
        rf"{re.escape(me.name)} moved it to Discovery "
        r"on \w{3} \d{4}-\d\d-\d\d \d+:\d\d [ap]m\. "
        "This is where it is now; nothing was overwritten.",
        html,
    ), html
    assert f"afterbegin:#stage-{stage('Discovery').id}-cards" in html
    assert reload(deal).stage_id == stage("Discovery").id


def test_bad_moves(client, signed_in, make_opportunity, make_member, htmx) -> None:
    me = signed_in(Role.REP)
    mine = make_opportunity(account_manager_id=me.id)
    html = htmx(f"/board/opportunities/{mine.id}/move", {"stage_id": 9999, "version": 1})
    assert "That stage does not exist" in html
    html = htmx(f"/board/opportunities/{mine.id}/move", {"stage_id": "x", "version": "y"})
    assert "That stage does not exist" in html
    html = htmx(
        f"/board/opportunities/{mine.id}/move", {"stage_id": "99999999999999999999", "version": 1}
    )
    assert "That stage does not exist" in html
    assert reload(mine).stage_id == stage("Prospect").id

    token = page_token(client, "/board/")
    assert (
        client.post(
            "/board/opportunities/99999/move",
            data={"stage_id": 1, "version": 1},
            headers={"X-CSRFToken": token},
        ).status_code
        == 404
    )

    theirs = make_opportunity(account_manager_id=make_member().id)
    response = client.post(
        f"/board/opportunities/{theirs.id}/move",
        data={"stage_id": stage("Lost").id, "version": 1, "prompt": "lost", "lost_reason": "x"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 403
    assert reload(theirs).stage_id == stage("Prospect").id

    response = client.post(
        f"/board/opportunities/{mine.id}/move",
        data={"stage_id": stage("Discovery").id, "version": 1},
    )
    assert response.status_code == 400
    assert reload(mine).stage_id == stage("Prospect").id


def test_each_card_has_a_keyboard_move_control(
    client, signed_in, make_opportunity, make_member
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(name="Tows R Us", account_manager_id=me.id)
    html = client.get("/board/").get_data(as_text=True)
    # The card's "⋯" menu (board.js fills it: "Move to… (Tows R Us)") asks for
    # the stage list at the card's move URL.
    assert re.search(rf'id="card-{deal.id}"[^>]*data-movable', html)
    assert 'data-move-url="/board/opportunities/__ID__/move"' in html
    assert '<summary aria-label="Actions">⋯</summary>' in html
    form = client.get(f"/board/opportunities/{deal.id}/move").get_data(as_text=True)
    assert f'<label class="visually-hidden" for="move-{deal.id}">Move Tows R Us to</label>' in form
    assert re.search(rf'<select id="move-{deal.id}" name="stage_id" autofocus>', form)
    assert f'value="{stage("Prospect").id}" selected' in form
    assert client.get("/board/opportunities/424242/move").status_code == 404


def test_new_opportunity_in_place(client, signed_in, htmx) -> None:
    me = signed_in(Role.REP)
    form = client.get("/board/opportunities/new", headers={"HX-Request": "true"})
    assert 'id="new-opportunity-form"' in form.get_data(as_text=True)

    html = htmx(
        "/board/opportunities/new",
        {
            "new-name": "",
            "new-revenue": "-5",
            "new-rating": "Hot",
            "new-account_manager_id": me.id,
            "new-type_id": 424242,
            "new-campaign_id": "x",
            "new-company_name": "Keep me",
        },
    )
    assert 'id="new-name-error">Name the opportunity.' in html
    assert 'id="new-type_id-error">Type: choose one from the list.' in html
    assert 'id="new-campaign_id-error">Campaign: choose one from the list.' in html
    assert 'id="new-revenue-error">The revenue cannot be negative.' in html
    assert 'value="Keep me"' in html
    assert db.session.scalar(select(func.count(Opportunity.id))) == 0

    html = htmx(
        "/board/opportunities/new",
        {
            "new-name": "Tows R Us - Managed Services - Complete",
            "new-company_name": "Tows R Us",
            "new-contact_name": "Shane Swanson",
            "new-revenue": "6,200.00",
            "new-rating": "Medium",
            "new-account_manager_id": me.id,
            "new-type_id": 0,
            "new-campaign_id": 0,
        },
    )
    deal = db.session.scalars(select(Opportunity)).one()
    assert deal.stage_id == stage("Prospect").id and deal.revenue == Decimal("6200.00")
    assert deal.created_by_id == me.id and deal.account_manager_id == me.id
    assert db.session.get(Company, deal.company_id).name == "Tows R Us"
    assert db.session.scalar(select(func.count(StageChange.id))) == 1
    assert f"afterbegin:#stage-{stage('Prospect').id}-cards" in html
    assert header(html, "Prospect") == "1 deal · $6,200 · $620 weighted"


def test_a_board_shown_again_unchanged_is_not_rendered_again(
    app, client, signed_in, make_opportunity, make_member, make_company
) -> None:
    """The columns' HTML is kept per everything it shows: the same board again costs no
    rendering; a change to a card, or a member who may move other cards, gets its own."""
    manager = signed_in(Role.MANAGER)
    rep = make_member(role=Role.REP, email="rep@example.com")
    water = make_company(name="Kern River Water")
    theirs = make_opportunity(
        name="Network upgrade", company_id=water.id, account_manager_id=manager.id
    )
    db.session.commit()
    rendered: list[str] = []

    def note(_sender, template, **_extra) -> None:
        rendered.append(template.name)

    template_rendered.connect(note, app)
    try:
        first = client.get("/board/").get_data(as_text=True)
        again = client.get("/board/").get_data(as_text=True)
        assert rendered.count("board/_board.html") == 1
        assert column(again, "Prospect") == column(first, "Prospect")
        assert re.search(rf'id="card-{theirs.id}"[^>]*data-movable', first)

        # The rep sees the same cards, but may not move the manager's deal.
        as_rep = app.test_client()
        assert sign_in(as_rep, rep.email).status_code == 302
        html = as_rep.get("/board/").get_data(as_text=True)
        assert rendered.count("board/_board.html") == 2
        card = re.search(rf'<li class="board-card[^>]*id="card-{theirs.id}"[^>]*>', html).group(0)
        assert "data-movable" not in card

        # A renamed company shows at once (its deals' version is not what changed).
        db.session.get(Company, water.id).name = "Kern River Utilities"
        db.session.commit()
        html = client.get("/board/").get_data(as_text=True)
        assert "Kern River Utilities" in column(html, "Prospect")
        assert rendered.count("board/_board.html") == 3

        # So does the team's currency in the column totals.
        get_team().currency = "EUR"
        db.session.commit()
        html = client.get("/board/").get_data(as_text=True)
        assert header(html, "Prospect").startswith("1 deal · €1,000")
    finally:
        template_rendered.disconnect(note, app)
