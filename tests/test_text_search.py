"""The board's text search through trigram indexes (issue #16, models/search.py): a piece of a
deal's name, its company's name or its contact's full name finds it, in any case, after
renames and deletes too; short and odd input still works; SQLite's search tables hold
exactly the texts of their rows whatever was changed."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, text, update

from crmlite.extensions import db
from crmlite.models import SEARCHED, Company, Contact, Opportunity, Role
from crmlite.services import board, reference
from crmlite.services.board import BoardFilters
from crmlite.services.team import local_today
from crmlite.services.text_search import deals_containing


def found(client, typed: str) -> set[str]:
    """The names of the cards the board shows for this search."""
    html = client.get("/board/", query_string={"q": typed}).get_data(as_text=True)
    return {unescape(name) for name in re.findall(r'class="card-title"[^>]*>([^<]+)<', html)}


def search_tables_hold_their_rows() -> None:
    """Each FTS5 table holds one row per row of its source, with that row's text (SQLite)."""
    if db.engine.dialect.name != "sqlite":
        return
    for name, (table, expression, _columns) in SEARCHED.items():
        held = set(db.session.execute(text(f"SELECT rowid, text FROM {name}")))
        source = expression.format(row=table)
        assert held == set(db.session.execute(text(f"SELECT id, {source} FROM {table}"))), name


def test_a_piece_of_the_name_company_or_contact_finds_the_deal(
    client, signed_in, make_opportunity, make_company, make_contact
) -> None:
    signed_in(Role.MANAGER)
    kern = make_company(name="Kern Dental Group")
    shane = make_contact(first_name="Shane", last_name="Swanson")
    make_opportunity(name="Phones for the front desk", company_id=kern.id)
    make_opportunity(name="Backup & Recovery", contact_id=shane.id)
    make_opportunity(name="Zürich Office - Cloud Migration")
    make_opportunity(name="Unrelated")
    assert found(client, "DENTAL") == {"Phones for the front desk"}  # company, any case
    assert found(client, "ne Swan") == {"Backup & Recovery"}  # across first and last name
    assert found(client, "cloud mig") == {"Zürich Office - Cloud Migration"}
    assert found(client, "Zürich") == {"Zürich Office - Cloud Migration"}
    assert found(client, "  front  ".strip()) == {"Phones for the front desk"}
    assert found(client, "ck") == {"Backup & Recovery"}  # shorter than a trigram
    assert found(client, "k") == {"Phones for the front desk", "Backup & Recovery"}
    assert found(client, "no such thing") == set()
    assert found(client, "Back%Rec") == {"Backup & Recovery"}  # a wildcard, as before
    search_tables_hold_their_rows()


def test_renames_and_deletes_are_searched_at_once(
    client, signed_in, make_opportunity, make_company, make_contact
) -> None:
    signed_in(Role.MANAGER)
    acme = make_company(name="ACME Towing")
    shane = make_contact(first_name="Shane", last_name="Swanson")
    deal = make_opportunity(name="Old name", company_id=acme.id, contact_id=shane.id)
    gone = make_opportunity(name="Old news")
    assert found(client, "old n") == {"Old name", "Old news"}

    deal.name = "New name"
    acme.name = "Harbor Title"
    shane.last_name = "Peters"
    db.session.commit()
    assert found(client, "old n") == {"Old news"}
    assert found(client, "new na") == {"New name"}
    assert found(client, "towing") == set() and found(client, "harbor") == {"New name"}
    assert found(client, "swanson") == set() and found(client, "shane pet") == {"New name"}

    db.session.execute(delete(Opportunity).where(Opportunity.id == gone.id))
    db.session.execute(update(Contact).values(first_name="Sam"))  # a bulk statement too
    db.session.execute(update(Company).values(name="Bulk Renamed Co"))
    db.session.commit()
    assert found(client, "old n") == set()
    assert found(client, "sam pet") == {"New name"} and found(client, "bulk ren") == {"New name"}
    search_tables_hold_their_rows()


def test_the_search_counts_and_ranks_only_what_it_finds(
    app, make_opportunity, make_company
) -> None:
    """The column totals and the cards of a search agree with the deals that contain it."""
    dental = make_company(name="Westside Dental")
    for n in range(5):
        make_opportunity(name=f"Dental chairs {n}", revenue="100.00")
        make_opportunity(name=f"Phones {n}", company_id=dental.id, revenue="10.00")
        make_opportunity(name=f"Other {n}", revenue="1.00")
    now = datetime.now(UTC)
    make_opportunity(
        name="Dental won", stage_name="Won", closed_at=now, revenue="100.00", won_amount="70.00"
    )
    make_opportunity(
        name="Dental lost", stage_name="Lost", closed_at=now, revenue="100.00", lost_amount="40"
    )
    filters = BoardFilters(q="dental")
    stages = [s for s in reference.stages() if not s.is_closed]
    tz = ZoneInfo("America/Los_Angeles")
    totals = board.column_totals(stages, filters, local_today(tz), tz)
    prospect = next(s for s in stages if s.name == "Prospect")
    assert (totals[prospect.id].count, totals[prospect.id].amount) == (10, 550)
    names = set(
        db.session.scalars(
            select(Opportunity.name).where(deals_containing("dental"))  # the board's rule
        )
    )
    assert names == {f"Dental chairs {n}" for n in range(5)} | {f"Phones {n}" for n in range(5)} | {
        "Dental won",
        "Dental lost",
    }
    shown = {column.stage.id: column for column in board.board(filters, local_today(tz), tz)}
    everything = board.column_totals(reference.stages(), filters, local_today(tz), tz)
    assert {i: c.totals for i, c in shown.items()} == everything  # one pass, the same figures
    assert len(shown[prospect.id].cards) == 10
    won, lost = (next(s for s in reference.stages() if s.name == n).id for n in ("Won", "Lost"))
    assert (shown[won].totals.amount, shown[lost].totals.amount) == (70, 40)
    assert shown[won].totals.weighted_revenue is None
