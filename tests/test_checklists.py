"""The Commitment checklist (issue #18): each type's set-up items in Setup, copied onto a
deal entering Commitment (board, API, any move), ticked on its page (who/when kept), its
progress on the board card, and Won with open items confirmed and recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import (
    AuditEntry,
    AuditKind,
    ChecklistItem,
    Opportunity,
    OpportunityType,
    Role,
)
from crmlite.services import checklists, funnel
from crmlite.services.team import get_team
from tests.api_helpers import api_as, problem_of
from tests.conftest import page_token, stage

__all__ = ["api_as"]  # the fixture

ITEMS = ("Agreement signed and filed", "Onboarding call held", "Monitoring agents deployed")


@pytest.fixture()
def htmx(client: FlaskClient):
    """Post like htmx does: the CSRF token in a header."""

    def post(url: str, data: dict) -> str:
        token = page_token(client, "/board/")
        response = client.post(url, data=data, headers={"HX-Request": "true", "X-CSRFToken": token})
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    return post


@pytest.fixture()
def managed(app) -> OpportunityType:
    """ "Managed Services - Complete" with its three set-up items."""
    kind = db.session.scalars(
        select(OpportunityType).where(OpportunityType.name == "Managed Services - Complete")
    ).one()
    for label in ITEMS:
        checklists.add_template_item(kind, label)
    db.session.commit()
    return kind


def move(htmx, opportunity: Opportunity, stage_name: str, **extra) -> str:
    db.session.refresh(opportunity)
    data = {"stage_id": stage(stage_name).id, "version": opportunity.version, **extra}
    return htmx(f"/board/opportunities/{opportunity.id}/move", data)


def to_commitment(htmx, opportunity: Opportunity) -> str:
    return move(htmx, opportunity, "Commitment", prompt="next_step", skip_next_step="y")


def items(opportunity: Opportunity) -> list[ChecklistItem]:
    db.session.expire_all()
    return checklists.items_of(opportunity.id)


def test_commitment_is_the_last_open_stage(app) -> None:
    assert checklists.is_commitment(stage("Commitment"))
    assert not checklists.is_commitment(stage("Follow-Up"))
    assert not checklists.is_commitment(stage("Won"))


def test_entering_commitment_on_the_board_copies_the_types_checklist_once(
    client, signed_in, make_opportunity, managed, htmx
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(stage_name="Follow-Up", account_manager_id=me.id, type_id=managed.id)
    assert items(deal) == []
    html = to_commitment(htmx, deal)
    assert [i.label for i in items(deal)] == list(ITEMS)
    assert all(i.done_at is None for i in items(deal))
    assert "✓ 0/3" in html  # the moved card shows its progress
    # Back and forth: it keeps its list (and its ticks), no second copy.
    checklists.tick(deal, items(deal)[0], True, by=me)
    db.session.commit()
    move(htmx, deal, "Follow-Up")
    to_commitment(htmx, deal)
    assert len(items(deal)) == 3 and items(deal)[0].done_by_id == me.id
    # Changing the type's list later leaves the deal's copy alone.
    checklists.add_template_item(managed, "Invoice sent")
    db.session.commit()
    assert len(items(deal)) == 3


def test_every_path_through_move_to_stage_gives_the_checklist(
    app, make_member, make_opportunity, managed
) -> None:
    """The API and the board both move through funnel.move_to_stage."""
    me = make_member(role=Role.MANAGER)
    deal = make_opportunity(stage_name="Presentation", type_id=managed.id)
    untyped = make_opportunity(name="No type", stage_name="Presentation")
    tz = ZoneInfo(get_team().time_zone)
    for opportunity in (deal, untyped):
        funnel.move_to_stage(
            opportunity, stage("Commitment"), by=me, expected_version=opportunity.version, tz=tz
        )
    db.session.commit()
    assert len(items(deal)) == 3
    assert items(untyped) == []


def test_api_move_to_won_with_open_items_needs_confirming(
    api_as, make_opportunity, managed
) -> None:
    me, api = api_as(Role.MANAGER)
    deal = make_opportunity(stage_name="Commitment", type_id=managed.id)
    checklists.give_checklist(deal)
    db.session.commit()
    won = stage("Won").id
    refused = _api_move(api, deal.id, stage_id=won, won_amount="1000.00")
    assert refused.status_code == 422
    assert (
        "3 set-up items are still open" in problem_of(refused)["errors"]["checklist_confirmed"][0]
    )
    db.session.expire_all()
    assert db.session.get(Opportunity, deal.id).stage_id == stage("Commitment").id
    moved = _api_move(api, deal.id, stage_id=won, won_amount="1000.00", checklist_confirmed=True)
    assert moved.status_code == 200 and moved.get_json()["status"] == "Won"
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.kind == AuditKind.CHECKLIST_OVERRIDDEN.value)
    ).one()
    assert entry.member_id == me.id


def _api_move(api, deal_id: int, **body):
    url = f"/api/v1/opportunities/{deal_id}"
    tag = api.get(url).headers["ETag"]
    return api.post(f"{url}/move", json=body, if_match=tag)


# ---------------------------------------------------------------- ticking


def test_ticking_keeps_who_and_when_and_unticking_clears_it(
    client, signed_in, make_opportunity, managed
) -> None:
    me = signed_in(Role.REP, name="Cory Ferguson")
    deal = make_opportunity(stage_name="Commitment", account_manager_id=me.id, type_id=managed.id)
    checklists.give_checklist(deal)
    db.session.commit()
    first = items(deal)[0]
    page = client.get(f"/opportunities/{deal.id}").get_data(as_text=True)
    assert 'id="opportunity-checklist"' in page and "0/3 done" in page
    token = page_token(client, f"/opportunities/{deal.id}")
    url = f"/opportunities/{deal.id}/checklist/{first.id}"
    headers = {"X-CSRFToken": token, "HX-Request": "true"}
    version = deal.version
    html = client.post(url, data={"done": "1"}, headers=headers).get_data(as_text=True)
    assert "1/3 done" in html and "Cory Ferguson" in html
    # A change of the deal: its version moves on, and the page's forms with it (out of band).
    db.session.refresh(deal)
    assert deal.version == version + 1 and deal.updated_by_id == me.id
    assert f"input.opportunity-version[value='{version}']" in html
    ticked = items(deal)[0]
    assert ticked.done_by_id == me.id and ticked.done_at is not None
    assert (datetime.now(UTC) - ticked.done_at).total_seconds() < 60
    html = client.post(url, data={"done": "0"}, headers=headers).get_data(as_text=True)
    assert "0/3 done" in html
    assert items(deal)[0].done_at is None and items(deal)[0].done_by_id is None


def test_only_people_who_may_change_the_deal_tick(
    client, signed_in, make_member, make_opportunity, managed
) -> None:
    owner = make_member(role=Role.REP)
    deal = make_opportunity(
        stage_name="Commitment", account_manager_id=owner.id, type_id=managed.id
    )
    checklists.give_checklist(deal)
    db.session.commit()
    signed_in(Role.REP)
    page = client.get(f"/opportunities/{deal.id}").get_data(as_text=True)
    assert ITEMS[0] in page and 'name="done"' not in page  # read, not ticked
    token = page_token(client, "/board/")
    item = items(deal)[0]
    response = client.post(
        f"/opportunities/{deal.id}/checklist/{item.id}",
        data={"done": "1"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 403
    assert items(deal)[0].done_at is None


def test_another_deals_item_is_not_found(client, signed_in, make_opportunity, managed) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(stage_name="Commitment", account_manager_id=me.id, type_id=managed.id)
    other = make_opportunity(name="Other", stage_name="Commitment", account_manager_id=me.id,
                             type_id=managed.id)  # fmt: skip
    checklists.give_checklist(deal)
    checklists.give_checklist(other)
    db.session.commit()
    token = page_token(client, f"/opportunities/{deal.id}")
    response = client.post(
        f"/opportunities/{deal.id}/checklist/{items(other)[0].id}",
        data={"done": "1"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 404
    assert items(other)[0].done_at is None


# ---------------------------------------------------------------- the board


def test_card_shows_progress_in_the_same_number_of_queries(
    client, signed_in, make_opportunity, managed, queries
) -> None:
    me = signed_in(Role.MANAGER)

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            deal = make_opportunity(
                name=f"Deal {i}", stage_name="Commitment", account_manager_id=me.id,
                type_id=managed.id,
            )  # fmt: skip
            checklists.give_checklist(deal)
            checklists.tick(deal, items(deal)[0], True, by=me)
        db.session.commit()

    add(2, 0)
    with queries() as few:
        client.get("/board/")
    add(20, 2)
    with queries() as many:
        html = client.get("/board/").get_data(as_text=True)
    assert many.count == few.count, many.statements
    assert html.count('class="card-checklist"') == 22
    assert html.count("✓ 1/3") == 22
    assert 'title="Set-up checklist: 1 of 3 done"' in html


def test_a_card_without_a_checklist_shows_none(client, signed_in, make_opportunity) -> None:
    me = signed_in(Role.MANAGER)
    make_opportunity(stage_name="Commitment", account_manager_id=me.id)
    assert "card-checklist" not in client.get("/board/").get_data(as_text=True)


def test_won_with_open_items_asks_and_records_who_overrode_it(
    client, signed_in, make_opportunity, managed, htmx
) -> None:
    me = signed_in(Role.REP, name="Cory Ferguson")
    deal = make_opportunity(stage_name="Commitment", account_manager_id=me.id, type_id=managed.id)
    checklists.give_checklist(deal)
    checklists.tick(deal, checklists.items_of(deal.id)[0], True, by=me)
    db.session.commit()
    html = move(htmx, deal, "Won")
    assert "2 set-up items still open" in html
    assert ITEMS[1] in html and ITEMS[2] in html and ITEMS[0] not in html
    assert 'name="checklist_confirmed"' in html
    # Answered without confirming: asked again, the message next to the box, nothing moved.
    html = move(htmx, deal, "Won", prompt="won", won_amount="1000.00")
    assert "confirm to mark it won anyway" in html and 'id="checklist_confirmed-error"' in html
    db.session.refresh(deal)
    assert deal.stage_id == stage("Commitment").id
    assert not db.session.scalars(
        select(AuditEntry).where(AuditEntry.kind == AuditKind.CHECKLIST_OVERRIDDEN.value)
    ).all()
    move(htmx, deal, "Won", prompt="won", won_amount="1000.00", checklist_confirmed="y")
    db.session.refresh(deal)
    assert deal.stage_id == stage("Won").id
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.kind == AuditKind.CHECKLIST_OVERRIDDEN.value)
    ).one()
    assert entry.member_id == me.id and entry.object_id == deal.id
    assert "Cory Ferguson" in entry.summary and "2 set-up items open" in entry.summary
    assert entry.before == f"{ITEMS[1]}\n{ITEMS[2]}"


def test_won_with_every_item_done_does_not_ask(
    client, signed_in, make_opportunity, managed, htmx
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(stage_name="Commitment", account_manager_id=me.id, type_id=managed.id)
    checklists.give_checklist(deal)
    for item in checklists.items_of(deal.id):
        checklists.tick(deal, item, True, by=me)
    db.session.commit()
    html = move(htmx, deal, "Won")
    assert "set-up item" not in html and "checklist_confirmed" not in html
    move(htmx, deal, "Won", prompt="won", won_amount="1000.00")
    db.session.refresh(deal)
    assert deal.stage_id == stage("Won").id
    assert not db.session.scalars(
        select(AuditEntry).where(AuditEntry.kind == AuditKind.CHECKLIST_OVERRIDDEN.value)
    ).all()


def test_skipping_commitment_still_asks_about_the_types_items(
    client, signed_in, make_opportunity, managed, htmx
) -> None:
    me = signed_in(Role.REP)
    deal = make_opportunity(stage_name="Presentation", account_manager_id=me.id, type_id=managed.id)
    assert "3 set-up items still open" in move(htmx, deal, "Won")
    move(htmx, deal, "Won", prompt="won", won_amount="1000.00", checklist_confirmed="y")
    db.session.refresh(deal)
    assert deal.stage_id == stage("Won").id
    assert [i.label for i in items(deal)] == list(ITEMS)  # what was overridden, kept


# ---------------------------------------------------------------- Setup


def test_a_manager_keeps_each_types_list_in_setup(client, signed_in, app) -> None:
    signed_in(Role.MANAGER)
    kind = db.session.scalars(
        select(OpportunityType).where(OpportunityType.name == "Cabling Project")
    ).one()
    page = client.get("/setup/checklists").get_data(as_text=True)
    assert "Cabling Project" in page
    assert "Commitment checklists" in client.get("/setup/").get_data(as_text=True)
    token = page_token(client, "/setup/checklists")
    prefix = f"type{kind.id}-"
    response = client.post(
        f"/setup/checklists/{kind.id}/items",
        data={"csrf_token": token, f"{prefix}label": "  Cable run tested  "},
    )
    assert response.status_code == 302
    (item,) = checklists.template_of(kind.id)
    assert item.label == "Cable run tested"
    # Empty or repeated: the message next to the field, what was typed kept, nothing added.
    html = client.post(
        f"/setup/checklists/{kind.id}/items",
        data={"csrf_token": token, f"{prefix}label": "cable run TESTED"},
    ).get_data(as_text=True)
    assert "This item is already on the list." in html and 'value="cable run TESTED"' in html
    html = client.post(
        f"/setup/checklists/{kind.id}/items", data={"csrf_token": token, f"{prefix}label": " "}
    ).get_data(as_text=True)
    assert "Enter the set-up item" in html
    assert len(checklists.template_of(kind.id)) == 1
    response = client.post(f"/setup/checklists/items/{item.id}/delete", data={"csrf_token": token})
    assert response.status_code == 302
    db.session.expire_all()
    assert checklists.template_of(kind.id) == []


def test_a_rep_cannot_change_the_lists(client, signed_in, managed) -> None:
    signed_in(Role.REP)
    assert client.get("/setup/checklists").status_code == 403
    item = checklists.template_of(managed.id)[0]
    token = page_token(client, "/board/")
    response = client.post(f"/setup/checklists/items/{item.id}/delete", data={"csrf_token": token})
    assert response.status_code == 403
    assert len(checklists.template_of(managed.id)) == 3
    assert "Commitment checklists" not in client.get("/setup/").get_data(as_text=True)
