"""The honest, live board (issue #16): who may move which card, what a mouse drop answers,
and the "what changed since" poll."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from crmlite.extensions import db
from crmlite.models import Opportunity, Role
from tests.conftest import page_token, stage


def card_html(html: str, opportunity_id: int) -> str:
    match = re.search(
        rf'<li class="board-card[^"]*" id="card-{opportunity_id}".*?</li>', html, re.S
    )
    assert match, f"no card {opportunity_id}"
    return match.group(0)


def post(client: FlaskClient, url: str, data: dict) -> tuple[int, str]:
    token = page_token(client, "/board/")
    response = client.post(url, data=data, headers={"HX-Request": "true", "X-CSRFToken": token})
    return response.status_code, response.get_data(as_text=True)


def poll_version(html: str) -> str:
    match = re.search(r'id="board-live" hidden data-version="([\d-]+)"', html)
    assert match, "no live board element"
    return match.group(1)


def test_a_rep_may_drag_and_move_only_their_own_cards(
    client, signed_in, make_opportunity, make_member
) -> None:
    me = signed_in(Role.REP)
    mine = make_opportunity(name="Mine", account_manager_id=me.id)
    helping = make_opportunity(name="Helping", sales_associate_id=me.id)
    theirs = make_opportunity(name="Theirs", account_manager_id=make_member().id)
    db.session.commit()
    html = client.get("/board/").get_data(as_text=True)
    for deal in (mine, helping):
        card = card_html(html, deal.id)
        # The "⋯" menu offers "Move to…" (board.js; tests/browser).
        assert "data-movable" in card
        assert "View only" not in card
    card = card_html(html, theirs.id)
    assert "data-movable" not in card and "Move to…" not in card
    assert "View only: not your deal" in card
    assert f'href="/opportunities/{theirs.id}"' in card  # it still opens


def test_a_manager_may_move_every_card(client, signed_in, make_opportunity, make_member) -> None:
    signed_in(Role.MANAGER)
    theirs = make_opportunity(name="Theirs", account_manager_id=make_member().id)
    db.session.commit()
    card = card_html(client.get("/board/").get_data(as_text=True), theirs.id)
    assert "data-movable" in card


def test_the_movable_cards_cost_one_query_whatever_their_number(
    client, signed_in, make_opportunity, make_member, queries
) -> None:
    me = signed_in(Role.REP)
    other = make_member()
    make_opportunity(name="Mine 0", account_manager_id=me.id)
    db.session.commit()
    with queries() as few:
        client.get("/board/")
    for i in range(10):  # (one column shows 25 cards)
        make_opportunity(name=f"Mine {i + 1}", account_manager_id=me.id)
        make_opportunity(name=f"Theirs {i}", account_manager_id=other.id)
    db.session.commit()
    with queries() as many:
        html = client.get("/board/").get_data(as_text=True)
    assert html.count("data-movable") == 11 and html.count("View only") == 10
    assert many.count == few.count, many.statements


def test_a_mouse_drop_answers_the_card_in_place_without_the_move_list(
    client, signed_in, make_opportunity, make_activity
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(name="Dropped", account_manager_id=me.id)
    make_activity(me, "Call", opportunity_id=deal.id)
    db.session.commit()
    url = f"/board/opportunities/{deal.id}/move"
    status, html = post(
        client, url, {"stage_id": stage("Presentation").id, "version": deal.version, "via": "drag"}
    )
    assert status == 200
    assert html.lstrip().startswith('<li class="board-card')  # the main swap: the card itself
    assert "afterbegin:" not in html and "<select" not in html and "autofocus" not in html
    assert f'data-stage-id="{stage("Presentation").id}"' in html
    db.session.expire_all()
    assert db.session.get(Opportunity, deal.id).stage_id == stage("Presentation").id


def test_a_refused_drop_is_marked_so_the_page_puts_it_back(
    client, signed_in, make_opportunity
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(name="Dropped", account_manager_id=me.id)
    db.session.commit()
    status, html = post(
        client,
        f"/board/opportunities/{deal.id}/move",
        {"stage_id": 99999, "version": deal.version, "via": "drag"},
    )
    assert status == 200 and "data-refused" in html and "That stage does not exist" in html


def test_the_keyboard_move_form_can_be_cancelled(client, signed_in, make_opportunity) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(name="Tows", account_manager_id=me.id)
    db.session.commit()
    form = client.get(f"/board/opportunities/{deal.id}/move").get_data(as_text=True)
    cancel = rf'hx-get="/board/opportunities/{deal.id}/card\?cancelled=1"[^>]*>Cancel</button>'
    assert re.search(cancel, form)


def test_the_poll_answers_204_until_something_changes(
    client, signed_in, make_opportunity, make_member, queries
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(name="Mine", account_manager_id=me.id)
    db.session.commit()
    version = poll_version(client.get("/board/").get_data(as_text=True))
    with queries() as few:
        response = client.get(f"/board/changes?since={version}")
    assert response.status_code == 204 and response.get_data() == b""

    # A colleague adds opportunities: the version changes; the question costs the same.
    for i in range(30):
        make_opportunity(name=f"Theirs {i}", account_manager_id=make_member().id)
    db.session.commit()
    with queries() as many:
        response = client.get(f"/board/changes?since={version}")
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "board-changed"
    assert many.count == few.count, many.statements
    version = poll_version(client.get("/board/").get_data(as_text=True))
    assert client.get(f"/board/changes?since={version}").status_code == 204

    # A move (by anyone) changes it too.
    deal = db.session.get(Opportunity, deal.id)
    status, _ = post(
        client,
        f"/board/opportunities/{deal.id}/move",
        {
            "stage_id": stage("Lost").id,
            "version": deal.version,
            "prompt": "lost",
            "lost_reason": "x",
        },
    )
    assert status == 200
    assert client.get(f"/board/changes?since={version}").status_code == 200
    # Nonsense is simply "changed", never an error.
    assert client.get("/board/changes?since=x").status_code == 200
    assert client.get("/board/changes").status_code == 200


def test_an_own_move_on_a_current_board_moves_its_version_on(
    client, signed_in, make_opportunity, make_activity, make_member
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(name="Mine", account_manager_id=me.id)
    make_activity(me, "Call", opportunity_id=deal.id)
    db.session.commit()
    version = poll_version(client.get("/board/").get_data(as_text=True))
    status, html = post(
        client,
        f"/board/opportunities/{deal.id}/move",
        {
            "stage_id": stage("Discovery").id,
            "version": deal.version,
            "via": "drag",
            "board_version": version,
        },
    )
    assert status == 200
    new_version = poll_version(html)  # sent out of band: the board is current
    assert new_version != version and 'id="board-live" hidden' in html
    assert client.get(f"/board/changes?since={new_version}").status_code == 204

    # Someone else changed something meanwhile: the board must catch up, so no new version.
    make_opportunity(name="Theirs", account_manager_id=make_member().id)
    db.session.commit()
    deal = db.session.get(Opportunity, deal.id)
    db.session.refresh(deal)
    status, html = post(
        client,
        f"/board/opportunities/{deal.id}/move",
        {
            "stage_id": stage("Presentation").id,
            "version": deal.version,
            "via": "drag",
            "board_version": new_version,
        },
    )
    assert status == 200 and 'id="board-live"' not in html


def test_the_poll_interval_is_the_setting(app, client, signed_in) -> None:
    signed_in(Role.REP)
    assert 'hx-trigger="every 10s"' in client.get("/board/").get_data(as_text=True)
    poll = app.config["BOARD_POLL_SECONDS"]
    app.config["BOARD_POLL_SECONDS"] = 0.5
    try:
        assert 'hx-trigger="every 0.5s"' in client.get("/board/").get_data(as_text=True)
    finally:
        app.config["BOARD_POLL_SECONDS"] = poll  # the setting (config.py), for the next tests
