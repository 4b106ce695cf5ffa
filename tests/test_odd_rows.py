"""One odd row never takes a page down for the whole team (issue #13). The CHECK constraints
keep such values out (tests/test_migrations.py); a database written before them may still
hold one, as SQLite stores numbers loosely. Pages then show a marker for that figure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from crmlite.extensions import db
from crmlite.models import Opportunity, Role
from crmlite.services.money import INVALID_MARKER


@pytest.fixture()
def sqlite_only(app) -> None:
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's numeric columns cannot hold Infinity")


def test_an_infinite_amount_shows_a_marker_not_an_error(
    sqlite_only: None,
    client: FlaskClient,
    signed_in: Callable[..., object],
    make_opportunity: Callable[..., Opportunity],
) -> None:
    me = signed_in(Role.MANAGER)
    odd = make_opportunity(name="Odd deal", stage_name="Discovery", account_manager_id=me.id)
    won = make_opportunity(
        name="Odd win",
        stage_name="Won",
        account_manager_id=me.id,
        won_amount="10.00",
        closed_at=datetime.now(UTC),
    )
    make_opportunity(name="Fine deal", stage_name="Discovery", revenue="1200.50")
    # As an older crmlite let them in, around the CHECK constraints.
    db.session.execute(text("PRAGMA ignore_check_constraints = ON"))
    db.session.execute(text(f"UPDATE opportunities SET revenue = 9e999 WHERE id = {odd.id}"))
    db.session.execute(text(f"UPDATE opportunities SET won_amount = 9e999 WHERE id = {won.id}"))
    db.session.commit()
    db.session.execute(text("PRAGMA ignore_check_constraints = OFF"))

    for url in ("/", "/board/", "/dashboard/", f"/opportunities/{odd.id}", "/points/"):
        response = client.get(url)
        assert response.status_code == 200, url
    board = client.get("/board/").get_data(as_text=True)
    assert INVALID_MARKER in board
    assert "Fine deal" in board and "1,200.50" in board
    assert INVALID_MARKER in client.get(f"/opportunities/{odd.id}").get_data(as_text=True)
