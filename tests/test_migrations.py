"""The migrations build exactly the schema the models describe, on this run's engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import Numeric, bindparam, create_engine, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from crmlite import create_app
from crmlite.config import TestConfig
from crmlite.extensions import db
from crmlite.models import (
    SEARCHED,
    Activity,
    ActivityType,
    Opportunity,
    OpportunityStatus,
    Role,
    SalesStage,
    StageChange,
)
from crmlite.services import defaults, members
from crmlite.services.defaults import load_defaults


@pytest.fixture()
def empty_database_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second, empty database beside the suite's: a file on SQLite, a database on PostgreSQL."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.sqlite'}"
        return
    name = f"{url.database}_migrations"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def not_the_search(obj: object, name: str | None, kind: str, reflected: bool, _to: object) -> bool:
    """The search's tables and indexes are made by DDL, not models (models/search.py)."""
    return not (name or "").startswith(tuple(SEARCHED)) and not (name or "").endswith("_trgm")


def searched_tables() -> set[str]:
    """The FTS5 tables of the search and their shadow tables (SQLite)."""
    return {n for n in inspect(db.engine).get_table_names() if n.startswith(tuple(SEARCHED))}


def assert_the_search_is_there() -> None:
    """Migrated as create_all makes them: SQLite's FTS5 tables and triggers, PostgreSQL's
    trigram indexes."""
    if db.engine.dialect.name == "sqlite":
        names = set(db.session.scalars(text("SELECT name FROM sqlite_master")))
        for table in SEARCHED:
            assert {table, f"{table}_insert", f"{table}_update", f"{table}_delete"} <= names
    else:
        names = set(db.session.scalars(text("SELECT indexname FROM pg_indexes")))
        assert {f"ix_{table}_trgm" for table in SEARCHED} <= names
    db.session.rollback()


def test_migrations_match_the_models(empty_database_url: str) -> None:
    app = create_app(TestConfig(empty_database_url))
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": not_the_search}
            )
            differences = compare_metadata(context, db.metadata)
        assert differences == [], differences
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert tables - searched_tables() == set(db.metadata.tables)
        assert_the_search_is_there()

        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def test_0006_backfills_the_stage_history_as_the_app_keeps_it(empty_database_url: str) -> None:
    """Moves recorded before 0006 get the derived columns the app would have stored."""
    app = create_app(TestConfig(empty_database_url))
    with app.app_context():
        upgrade()
        load_defaults()
        stages = {s.name: s.id for s in db.session.scalars(select(SalesStage))}
        open_status = db.session.scalars(
            select(OpportunityStatus).where(OpportunityStatus.name == "Open")
        ).one()
        start = datetime(2026, 1, 5, 18, tzinfo=UTC)
        paths = [
            ["Prospect", "Discovery", "1st Appointment", "Lost", "Presentation", "Won"],
            ["Prospect", "Discovery", "Lost"],
            ["Prospect"],
        ]
        for number, path in enumerate(paths):
            deal = Opportunity(
                name=f"Deal {number}",
                stage_id=stages[path[-1]],
                status_id=open_status.id,
                revenue=Decimal("1000"),
                probability=10,
            )
            db.session.add(deal)
            db.session.flush()
            previous = None
            for day, name in enumerate(path):
                db.session.add(
                    StageChange(
                        opportunity_id=deal.id,
                        from_stage_id=previous,
                        to_stage_id=stages[name],
                        changed_at=start + timedelta(days=day),
                    )
                )
                previous = stages[name]
        db.session.commit()

        def derived() -> list[tuple[object, ...]]:
            rows = db.session.execute(
                select(
                    StageChange.from_stage_entered_at,
                    StageChange.advanced_later,
                    StageChange.won_later,
                ).order_by(StageChange.id)
            )
            result = [(entered, bool(advanced), bool(won)) for entered, advanced, won in rows]
            db.session.rollback()
            return result

        kept = derived()
        assert [(advanced, won) for _entered, advanced, won in kept] == [
            *[(True, True), (True, True), (True, True), (False, True), (True, True)],
            (False, False),
            *[(True, False), (False, False), (False, False)],
            (False, False),
        ]
        assert kept[1][0] == start and kept[0][0] is None

        downgrade(revision="0005")
        upgrade()
        assert derived() == kept
        db.engine.dispose()


def _load_stages_as_in_0006() -> None:
    for position, (name, probability, is_won, is_lost) in enumerate(defaults.STAGES, start=1):
        db.session.execute(
            text(
                "INSERT INTO sales_stages (name, position, default_probability, is_won, is_lost)"
                " VALUES (:name, :position, :probability, :is_won, :is_lost)"
            ),
            {
                "name": name,
                "position": position,
                "probability": probability,
                "is_won": is_won,
                "is_lost": is_lost,
            },
        )


def test_0007_repairs_amounts_the_board_cannot_show(empty_database_url: str) -> None:
    """A database holding an Infinity revenue (SQLite) or a NaN (PostgreSQL), an amount of a
    hundred billion and a fraction of a cent is repaired by 0007, which then refuses such
    values; the board works again."""
    app = create_app(TestConfig(empty_database_url))
    with app.app_context():
        upgrade(revision="0006")
        # The example tracks and the team row are today's models (e.g. tracks.runs_alongside,
        # 0014; team.currency, 0016), which a 0006 schema has not got; this test needs the
        # stages and statuses only (the team row is made on the first request).
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(defaults, "_load_example_tracks", lambda: None)
            # The products' columns come with 0023: no product on an older schema.
            patch.setattr(defaults, "OPPORTUNITY_TYPES", [])
            patch.setattr(defaults, "_load_team", lambda _name: None)
            # Stages as a 0006 schema has them (no next_step_type_id, 0017).
            patch.setattr(defaults, "_load_stages", _load_stages_as_in_0006)
            load_defaults()
        db.session.commit()
        sqlite = db.engine.dialect.name == "sqlite"
        stage_id = db.session.scalar(select(SalesStage.id).where(SalesStage.name == "Discovery"))
        status_id = db.session.scalar(
            select(OpportunityStatus.id).where(OpportunityStatus.name == "Open")
        )
        odd = "9e999" if sqlite else "'NaN'"
        for name, revenue, cost in (
            ("Odd", odd, "0"),
            ("Huge", "100000000000", "12.3456" if sqlite else "0"),
            ("Fine", "1200.50", "0"),
        ):
            deal = Opportunity(
                name=name,
                stage_id=stage_id,
                status_id=status_id,
                revenue=Decimal(0),
                probability=10,
            )
            db.session.add(deal)
            db.session.flush()
            # As an older crmlite let them in, around the ORM.
            db.session.execute(
                text(
                    f"UPDATE opportunities SET revenue = {revenue}, cost = {cost} "
                    f"WHERE id = {deal.id}"
                )
            )
        db.session.commit()

        upgrade()
        amounts = dict(db.session.execute(select(Opportunity.name, Opportunity.revenue)).all())
        costs = dict(db.session.execute(select(Opportunity.name, Opportunity.cost)).all())
        assert amounts == {
            "Odd": Decimal("0.00"),
            "Huge": Decimal("0.00"),
            "Fine": Decimal("1200.50"),
        }
        assert costs["Huge"] == (Decimal("12.35") if sqlite else Decimal("0.00"))
        db.session.rollback()

        with pytest.raises(IntegrityError):
            db.session.execute(text(f"UPDATE opportunities SET revenue = {odd}"))
        db.session.rollback()

        from crmlite.models import Role
        from crmlite.services import members
        from tests.conftest import RequestClient, sign_in

        members.create_member(
            email="mia@example.com", name="Mia", password="correct-horse-battery", role=Role.ADMIN
        )
        db.session.commit()
        app.test_client_class = RequestClient
        client = app.test_client()
        assert sign_in(client, "mia@example.com").status_code == 302
        board = client.get("/board/")
        assert board.status_code == 200
        page = board.get_data(as_text=True)
        assert "Odd" in page and "1,200.50" in page
        db.session.remove()
        db.engine.dispose()


def test_0017_gives_the_standard_stages_their_next_step_type(empty_database_url: str) -> None:
    """Stages made before 0017 get the standard next-step types (1st Appointment: SA); a
    stage the team added keeps none; downgrading drops the column."""
    app = create_app(TestConfig(empty_database_url))
    with app.app_context():
        upgrade(revision="0016")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(defaults, "_load_example_tracks", lambda: None)
            # The products' columns come with 0023: no product on an older schema.
            patch.setattr(defaults, "OPPORTUNITY_TYPES", [])
            patch.setattr(defaults, "_load_stages", _load_stages_as_in_0006)
            # The team's paper comes with 0029: no team row on an older schema.
            patch.setattr(defaults, "_load_team", lambda _name: None)
            load_defaults()
        db.session.execute(
            text(
                "INSERT INTO sales_stages (name, position, default_probability, is_won, is_lost)"
                " VALUES ('Negotiation', 99, 85, false, false)"
            )
        )
        db.session.commit()
        upgrade(revision="0017")
        found = dict(
            db.session.execute(
                text(
                    "SELECT s.name, t.code FROM sales_stages s"
                    " LEFT JOIN activity_types t ON t.id = s.next_step_type_id"
                )
            ).all()
        )
        assert found == {
            **defaults.STAGE_NEXT_STEP_TYPES,
            "Won": None,
            "Lost": None,
            "Negotiation": None,
        }
        assert found["1st Appointment"] == "SA"
        db.session.commit()
        downgrade(revision="0016")
        columns = {c["name"] for c in inspect(db.engine).get_columns("sales_stages")}
        assert "next_step_type_id" not in columns
        db.session.remove()
        db.engine.dispose()


def test_0018_fills_the_board_totals_and_keeps_them_with_triggers(empty_database_url: str) -> None:
    """Deals made before 0018 are counted in board_totals; after it, the triggers keep the
    totals with every insert, update and delete (also in the last migration's schema: a later
    migration that rebuilds the table must not lose them); downgrading removes both."""
    app = create_app(TestConfig(empty_database_url))
    with app.app_context():
        upgrade(revision="0017")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(defaults, "_load_example_tracks", lambda: None)
            # The products' columns come with 0023: no product on an older schema.
            patch.setattr(defaults, "OPPORTUNITY_TYPES", [])
            # The team's paper comes with 0029: no team row on an older schema.
            patch.setattr(defaults, "_load_team", lambda _name: None)
            load_defaults()
        stage_id, status_id = db.session.execute(
            text(
                "SELECT s.id, t.id FROM sales_stages s, opportunity_statuses t"
                " WHERE s.name = 'Prospect' AND t.name = 'Open'"
            )
        ).one()

        def add(name: str, revenue: str, probability: int) -> None:
            db.session.execute(
                text(
                    "INSERT INTO opportunities (name, description, status_id, stage_id, revenue,"
                    " cost, lost_reason, rating, probability, probability_overridden, source,"
                    " stage_entered_at, created_at, updated_at, version)"
                    " VALUES (:name, '', :status, :stage, :revenue, 0, '', 'Medium', :p, false,"
                    " '', :now, :now, :now, 1)"
                ).bindparams(bindparam("revenue", type_=Numeric(14, 2))),
                {
                    "name": name,
                    "status": status_id,
                    "stage": stage_id,
                    "revenue": Decimal(revenue),
                    "p": probability,
                    "now": datetime.now(UTC),
                },
            )

        def totals() -> tuple[int, int, int]:
            row = db.session.execute(
                text(
                    "SELECT deals, revenue_cents, weighted_cent_percents FROM board_totals"
                    " WHERE stage_id = :stage AND status_id = :status"
                ),
                {"stage": stage_id, "status": status_id},
            ).one()
            return int(row[0]), int(row[1]), int(row[2])

        add("Before", "1000.50", 10)
        add("Also before", "99.99", 25)
        db.session.commit()
        upgrade()
        assert totals() == (2, 110049, 100050 * 10 + 9999 * 25)
        add("After", "0.01", 100)
        db.session.execute(text("UPDATE opportunities SET probability = 50 WHERE name = 'Before'"))
        db.session.execute(text("DELETE FROM opportunities WHERE name = 'Also before'"))
        db.session.commit()
        assert totals() == (2, 100051, 100050 * 50 + 1 * 100)
        db.session.rollback()

        downgrade(revision="0017")
        assert "board_totals" not in inspect(db.engine).get_table_names()
        add("After the downgrade", "5.00", 10)
        db.session.commit()
        db.engine.dispose()


def test_0030_fills_the_hygiene_counts_and_keeps_them_with_triggers(
    empty_database_url: str,
) -> None:
    """An open deal made before 0030 is counted in hygiene_rollups, a won one in
    member_closed_rollups; after it the triggers keep them as the deals change; downgrading
    removes both tables."""
    app = create_app(TestConfig(empty_database_url))
    with app.app_context():
        upgrade(revision="0028")  # the revision before 0030
        load_defaults()
        stages = {s.name: s.id for s in db.session.scalars(select(SalesStage))}
        opened = db.session.scalars(
            select(OpportunityStatus).where(OpportunityStatus.name == "Open")
        ).one()
        db.session.add(
            Opportunity(
                name="Before",
                stage_id=stages["Prospect"],
                status_id=opened.id,
                revenue=Decimal(0),
                cost=Decimal(0),
                probability=10,
                expected_close_on=date(2026, 10, 31),
            )
        )
        won = db.session.scalars(
            select(OpportunityStatus).where(OpportunityStatus.name == "Won")
        ).one()
        db.session.add(
            Opportunity(
                name="Won before",
                stage_id=stages["Won"],
                status_id=won.id,
                revenue=Decimal("1000.50"),
                cost=Decimal("0.25"),
                probability=100,
                closed_at=datetime(2026, 10, 31, 23, 30, tzinfo=UTC),
            )
        )
        db.session.commit()

        def members() -> list[tuple[int, ...]]:
            rows = db.session.execute(
                text(
                    "SELECT month, deals, won_cents, margin_cents FROM member_closed_rollups"
                    " WHERE deals != 0"
                )
            )
            return [tuple(int(v) for v in row) for row in rows]

        def counts() -> list[tuple[int, ...]]:
            rows = db.session.execute(
                text(
                    "SELECT kind, period, account_manager_id, deals FROM hygiene_rollups"
                    " WHERE deals != 0 AND status_id = :open ORDER BY kind, period"
                ),
                {"open": opened.id},
            )
            return [tuple(int(v) for v in row) for row in rows]

        upgrade()
        assert counts() == [(1, 0, 0, 1), (3, 202610, 0, 1), (4, 20261031, 0, 1), (5, 0, 0, 1)]
        assert members() == [(202610, 1, 100050, 100025)]
        db.session.execute(
            text(
                "UPDATE opportunities SET last_open_activity_on = :day, revenue = 5, "
                "expected_close_on = NULL WHERE name = 'Before'"
            ),
            {"day": date(2026, 11, 2)},
        )
        db.session.execute(
            text("UPDATE opportunities SET won_amount = 7 WHERE name = 'Won before'")
        )
        db.session.commit()
        assert counts() == [(1, 202611, 0, 1), (2, 20261102, 0, 1)]
        assert members() == [(202610, 1, 700, 100025)]
        db.session.rollback()

        downgrade(revision="0028")
        tables = inspect(db.engine).get_table_names()
        assert "hygiene_rollups" not in tables and "member_closed_rollups" not in tables
        db.session.execute(text("UPDATE opportunities SET revenue = 0"))
        db.session.commit()
        db.engine.dispose()


def test_0032_fills_the_lost_reasons_and_keeps_them_with_triggers(
    empty_database_url: str,
) -> None:
    """A deal lost before 0032 (with a 2,000-character reason, which PostgreSQL keys by its
    MD5) is counted in lost_reason_rollups; after it the triggers follow a new reason and a
    lost amount; downgrading removes the table and a lost deal's change still saves."""
    app = create_app(TestConfig(empty_database_url))
    with app.app_context():
        upgrade(revision="0031")  # the revision before 0032
        load_defaults()
        lost = db.session.scalars(
            select(OpportunityStatus).where(OpportunityStatus.name == "Lost")
        ).one()
        lost_stage = db.session.scalars(select(SalesStage).where(SalesStage.is_lost)).one()
        long_reason = "Chose a cheaper offer; " * 87  # 2,001 characters
        db.session.add(
            Opportunity(
                name="Lost before",
                stage_id=lost_stage.id,
                status_id=lost.id,
                revenue=Decimal("1200.40"),
                cost=Decimal(0),
                probability=0,
                lost_reason=long_reason,
                closed_at=datetime(2026, 9, 30, 23, 30, tzinfo=UTC),
            )
        )
        db.session.commit()

        def reasons() -> list[tuple[object, ...]]:
            rows = db.session.execute(
                text(
                    "SELECT month, lost_reason, deals, amount_cents FROM lost_reason_rollups"
                    " WHERE deals != 0 AND status_id = :lost"
                ),
                {"lost": lost.id},
            )
            return [(int(m), r, int(d), int(c)) for m, r, d, c in rows]

        upgrade()
        assert reasons() == [(202609, long_reason, 1, 120040)]
        db.session.execute(
            text(
                "UPDATE opportunities SET lost_reason = 'Budget cut', lost_amount = 900 "
                "WHERE name = 'Lost before'"
            )
        )
        db.session.commit()
        assert reasons() == [(202609, "Budget cut", 1, 90000)]
        db.session.rollback()

        downgrade(revision="0031")
        assert "lost_reason_rollups" not in inspect(db.engine).get_table_names()
        db.session.execute(text("UPDATE opportunities SET lost_reason = 'Timing'"))
        db.session.commit()
        db.engine.dispose()


def test_0033_fills_the_boards_closed_rollup_and_keeps_it_with_triggers(
    empty_database_url: str,
) -> None:
    """A deal won before 0033 is counted in board_closed_rollups (its won amount; none
    lost); after it the triggers follow it to Lost; downgrading removes the table."""
    app = create_app(TestConfig(empty_database_url))
    with app.app_context():
        upgrade(revision="0032")  # the revision before 0033
        load_defaults()
        stages = {s.name: s.id for s in db.session.scalars(select(SalesStage))}
        won = db.session.scalars(
            select(OpportunityStatus).where(OpportunityStatus.name == "Won")
        ).one()
        db.session.add(
            Opportunity(
                name="Won before",
                stage_id=stages["Won"],
                status_id=won.id,
                revenue=Decimal("1000.50"),
                cost=Decimal(0),
                probability=100,
                won_amount=Decimal("950.25"),
                closed_at=datetime(2026, 10, 31, 23, 30, tzinfo=UTC),
            )
        )
        db.session.commit()

        def rows() -> list[tuple[int, ...]]:
            found = db.session.execute(
                text(
                    "SELECT stage_id, month, deals, won_cents, lost_cents FROM "
                    "board_closed_rollups WHERE deals != 0"
                )
            )
            return [tuple(int(v) for v in row) for row in found]

        upgrade()
        assert rows() == [(stages["Won"], 202610, 1, 95025, 0)]
        db.session.execute(
            text(
                "UPDATE opportunities SET stage_id = :lost, won_amount = NULL, lost_amount = 12 "
                "WHERE name = 'Won before'"
            ),
            {"lost": stages["Lost"]},
        )
        db.session.commit()
        assert rows() == [(stages["Lost"], 202610, 1, 0, 1200)]
        db.session.rollback()

        downgrade(revision="0032")
        assert "board_closed_rollups" not in inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_0034_counts_the_feeds_changes_with_triggers(empty_database_url: str) -> None:
    """After 0034 the triggers count each member's feed's changes: an activity added, changed
    (reassigned: both members), deleted, a note added; a member without a row reads as 0
    (nothing is filled); downgrading removes the table and the triggers."""
    app = create_app(TestConfig(empty_database_url))
    with app.app_context():
        upgrade(revision="0033")  # the revision before 0034
        load_defaults()
        now, today = datetime.now(UTC), date.today()
        type_id = db.session.scalar(select(ActivityType.id).limit(1))

        def add_member(n: int) -> int:
            member = members.create_member(
                email=f"m{n}@example.com", name=f"Member {n}", password="x" * 12, role=Role.REP
            )
            db.session.flush()
            return member.id

        def add_activity(subject: str, member_id: int) -> None:
            db.session.add(
                Activity(subject=subject, type_id=type_id, assigned_to_id=member_id, due_on=today)
            )
            db.session.flush()

        me, colleague = add_member(1), add_member(2)
        add_activity("Before", me)
        db.session.commit()

        def stamps() -> dict[int, int]:
            rows = db.session.execute(text("SELECT member_id, changes FROM calendar_feed_stamps"))
            return {int(member): int(changes) for member, changes in rows}

        upgrade()
        assert stamps() == {}  # not filled: no row reads as 0
        add_activity("After", me)
        db.session.execute(
            text("UPDATE activities SET subject = 'Before, changed' WHERE subject = 'Before'")
        )
        db.session.commit()
        assert stamps() == {me: 2}
        db.session.execute(
            text(
                "INSERT INTO activity_notes (activity_id, author_id, created_at, body)"
                " SELECT id, :me, :now, 'A note.' FROM activities WHERE subject = 'After'"
            ),
            {"me": me, "now": now},
        )
        db.session.execute(
            text("UPDATE activities SET assigned_to_id = :colleague WHERE subject = 'After'"),
            {"colleague": colleague},
        )
        db.session.execute(text("DELETE FROM activities WHERE subject = 'Before, changed'"))
        db.session.commit()
        assert stamps() == {me: 5, colleague: 1}
        db.session.rollback()

        downgrade(revision="0033")
        assert "calendar_feed_stamps" not in inspect(db.engine).get_table_names()
        add_activity("After the downgrade", me)
        db.session.execute(text("UPDATE activities SET subject = 'Changed'"))
        db.session.execute(text("DELETE FROM activity_notes"))
        db.session.commit()
        db.engine.dispose()


def test_0035_fills_the_member_stage_rollup_and_keeps_it_with_triggers(
    empty_database_url: str,
) -> None:
    """A move made before 0035 is counted for its deal's account manager; after it a new move
    counts, handing the deal over takes its moves along, and deleting the deal takes them
    away; downgrading removes the table and the triggers."""
    app = create_app(TestConfig(empty_database_url))
    with app.app_context():
        upgrade(revision="0034")  # the revision before 0035
        load_defaults()
        stages = {s.name: s.id for s in db.session.scalars(select(SalesStage))}
        opened = db.session.scalars(
            select(OpportunityStatus).where(OpportunityStatus.name == "Open")
        ).one()
        nick, cory = (
            members.create_member(
                email=f"{name}@example.com", name=name, password="x" * 12, role=Role.REP
            )
            for name in ("nick", "cory")
        )
        deal = Opportunity(
            name="Moved before",
            stage_id=stages["Discovery"],
            status_id=opened.id,
            revenue=Decimal(100),
            cost=Decimal(0),
            probability=30,
            account_manager=nick,
        )
        db.session.add(deal)
        db.session.flush()
        entered = datetime(2026, 9, 30, 23, 30, tzinfo=UTC)

        def move(at: datetime, to: str, came: str | None) -> None:
            db.session.execute(
                text(
                    "INSERT INTO stage_changes (opportunity_id, from_stage_id, to_stage_id, "
                    "changed_at, from_stage_entered_at, advanced_later, won_later) VALUES "
                    "(:deal, :came, :to, :at, :entered, false, false)"
                ),
                {
                    "deal": deal.id,
                    "came": stages[came] if came else None,
                    "to": stages[to],
                    "at": at,
                    "entered": entered if came else None,
                },
            )

        move(entered, "Discovery", None)
        ids = {"nick": nick.id, "cory": cory.id, "discovery": stages["Discovery"]}
        db.session.commit()

        def rows() -> list[tuple[int, ...]]:
            found = db.session.execute(
                text(
                    "SELECT account_manager_id, month, stage_id, entered, stays, stay_ms FROM "
                    "member_stage_rollups WHERE entered != 0 OR stays != 0 "
                    "ORDER BY account_manager_id, month, stage_id"
                )
            )
            return [tuple(int(v) for v in row) for row in found]

        upgrade()
        assert rows() == [(ids["nick"], 202609, ids["discovery"], 1, 0, 0)]
        move(entered + timedelta(hours=1), "Presentation", "Discovery")
        db.session.commit()
        assert rows() == [
            (ids["nick"], 202609, ids["discovery"], 1, 0, 0),
            (ids["nick"], 202610, ids["discovery"], 0, 1, 3_600_000),
            (ids["nick"], 202610, stages["Presentation"], 1, 0, 0),
        ]
        db.session.execute(
            text("UPDATE opportunities SET account_manager_id = :cory"), {"cory": ids["cory"]}
        )
        db.session.commit()
        assert [row[0] for row in rows()] == [ids["cory"]] * 3
        db.session.execute(text("DELETE FROM opportunities"))
        db.session.commit()
        assert rows() == []
        db.session.rollback()

        downgrade(revision="0034")
        assert "member_stage_rollups" not in inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_0028_fills_the_rollups_and_keeps_them_with_triggers(empty_database_url: str) -> None:
    """Deals closed and moves made before 0028 are in the roll-ups; after it the triggers
    keep them (also in the last migration's schema); downgrading removes both tables."""
    app = create_app(TestConfig(empty_database_url))
    with app.app_context():
        upgrade(revision="0027")  # the revision before 0028
        load_defaults()
        stages = {s.name: s.id for s in db.session.scalars(select(SalesStage))}
        won = db.session.scalars(
            select(OpportunityStatus).where(OpportunityStatus.name == "Won")
        ).one()
        closed_at = datetime(2026, 10, 31, 23, 30, tzinfo=UTC)
        deal = Opportunity(
            name="Before",
            stage_id=stages["Won"],
            status_id=won.id,
            revenue=Decimal("1000.50"),
            cost=Decimal("0.25"),
            probability=100,
            closed_at=closed_at,
            expected_close_on=closed_at.date(),
        )
        db.session.add(deal)
        db.session.flush()
        db.session.add(
            StageChange(
                opportunity_id=deal.id,
                from_stage_id=stages["Prospect"],
                to_stage_id=stages["Won"],
                changed_at=closed_at,
            )
        )
        db.session.commit()

        def closed() -> list[tuple[int, ...]]:
            rows = db.session.execute(
                text(
                    "SELECT month, deals, won_cents, margin_cents FROM closed_rollups"
                    " WHERE deals != 0 ORDER BY month"
                )
            )
            return [tuple(int(v) for v in row) for row in rows]

        def moves() -> list[tuple[int, ...]]:
            rows = db.session.execute(
                text(
                    "SELECT month, stage_id, entered FROM stage_rollups"
                    " WHERE entered != 0 ORDER BY month"
                )
            )
            return [tuple(int(v) for v in row) for row in rows]

        upgrade()
        pipeline = "SELECT month, deals, revenue_cents, weighted_revenue FROM pipeline_rollups"
        assert [tuple(row) for row in db.session.execute(text(pipeline))] == [
            (202610, 1, 100050, 100050 * 100)
        ]
        assert closed() == [(202610, 1, 100050, 100025)]
        assert moves() == [(202610, stages["Won"], 1)]
        db.session.execute(
            text("UPDATE opportunities SET closed_at = :at, won_amount = 7"),
            {"at": closed_at + timedelta(hours=1)},
        )
        db.session.execute(text("DELETE FROM stage_changes"))
        db.session.commit()
        assert closed() == [(202611, 1, 700, 100025)]
        assert moves() == []
        db.session.rollback()

        downgrade(revision="0027")
        tables = inspect(db.engine).get_table_names()
        assert "closed_rollups" not in tables and "stage_rollups" not in tables
        db.session.execute(text("UPDATE opportunities SET won_amount = 8"))
        db.session.commit()
        db.engine.dispose()
