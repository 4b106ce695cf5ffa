"""The database layer: SQLite set up for production, UTC timestamps, exact money,
constraints that guard the domain, optimistic locking."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm.exc import StaleDataError

from crmlite.database import (
    WROTE_ANYTHING,
    commit_keeping,
    end_unwritten_transaction,
    write_intent,
)
from crmlite.extensions import db
from crmlite.models import (
    Campaign,
    CampaignSubType,
    CampaignType,
    Contact,
    Opportunity,
    Track,
    TrackEnrollment,
    TrackKind,
)
from tests.conftest import sign_in


@pytest.fixture()
def sqlite_only(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite settings")


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(sqlite_only) -> None:
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000


def test_concurrent_sqlite_writers_queue_instead_of_failing(sqlite_only, make_company) -> None:
    """Write transactions begin IMMEDIATE: the second writer waits for the first."""
    company = make_company(name="Queue Co")
    company_id = company.id
    db.session.commit()
    token = write_intent.set(True)
    errors: list[Exception] = []
    first_has_lock = threading.Event()

    engine = db.engine

    def slow_writer() -> None:
        try:
            with engine.begin() as conn:
                conn.execute(
                    text("UPDATE companies SET notes = notes || 'a' WHERE id = :id"),
                    {"id": company_id},
                )
                first_has_lock.set()
                time.sleep(0.5)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    first_has_lock.wait(5)
    # Read first, then write, in one transaction: the pattern that fails with a deferred
    # BEGIN ("database is locked") because the read snapshot cannot be upgraded.
    with db.engine.begin() as conn:
        conn.execute(text("SELECT notes FROM companies WHERE id = :id"), {"id": company_id})
        conn.execute(
            text("UPDATE companies SET notes = notes || 'b' WHERE id = :id"), {"id": company_id}
        )
    write_intent.reset(token)
    thread.join()
    assert errors == []
    db.session.expire_all()
    assert sorted(db.session.get(type(company), company_id).notes) == ["a", "b"]


def test_read_only_requests_do_not_wait_for_a_writer(sqlite_only, client, make_member) -> None:
    make_member(email="reader@example.com")
    sign_in(client, "reader@example.com")
    token = write_intent.set(True)
    writer = db.engine.connect()
    try:
        writer.begin()  # BEGIN IMMEDIATE: this connection holds the write lock
        writer.exec_driver_sql("UPDATE team SET name = 'being renamed'")
        started = time.monotonic()
        response = client.get("/")
        elapsed = time.monotonic() - started
    finally:
        writer.rollback()
        writer.close()
        write_intent.reset(token)
    assert response.status_code == 200
    assert "Good day" in response.get_data(as_text=True)
    assert elapsed < 5, "a GET waited for the writer's lock (busy timeout is 10 s)"


def test_timestamps_are_stored_utc_and_come_back_aware(app, make_company) -> None:
    paris = datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Paris"))
    contact = Contact(first_name="Ann", unsubscribed_at=paris)
    db.session.add(contact)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Contact, contact.id).unsubscribed_at
    assert stored == paris
    assert stored.tzinfo == UTC
    assert stored.hour == 1


def test_naive_datetimes_are_refused(app) -> None:
    db.session.add(Contact(first_name="Naive", unsubscribed_at=datetime(2026, 1, 1)))
    with pytest.raises(StatementError, match="naive datetime"):
        db.session.flush()
    db.session.rollback()


def test_money_is_exact_decimal(make_opportunity) -> None:
    opportunity = make_opportunity(revenue="0.10")
    opportunity.revenue += Decimal("0.20")
    opportunity.cost = Decimal("0.15")
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Opportunity, opportunity.id)
    assert stored.revenue == Decimal("0.30")
    assert isinstance(stored.revenue, Decimal)
    assert stored.margin == Decimal("0.15")
    assert stored.margin_percent == Decimal("50.0")


def test_a_campaign_cannot_take_a_sub_type_of_another_type(app) -> None:
    referral = db.session.scalars(select(CampaignType).where(CampaignType.name == "Referral")).one()
    postcard = db.session.scalars(
        select(CampaignSubType).where(CampaignSubType.name == "Postcard")
    ).one()
    db.session.add(Campaign(name="Mixed up", type_id=referral.id, sub_type_id=postcard.id))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_stale_update_is_refused_not_overwritten(app, make_opportunity) -> None:
    opportunity = make_opportunity()
    # Keep the loaded state (version 1) past the commit, as a form posted later would.
    db.session().expire_on_commit = False
    assert opportunity.version == 1
    db.session.commit()
    with db.engine.begin() as other_person:
        other_person.execute(
            text("UPDATE opportunities SET version = version + 1, name = 'theirs' WHERE id = :id"),
            {"id": opportunity.id},
        )
    opportunity.name = "mine"
    with pytest.raises(StaleDataError):
        db.session.commit()
    db.session.rollback()
    assert db.session.get(Opportunity, opportunity.id).name == "theirs"


def test_commit_keeping_keeps_what_was_read_and_written(
    app, make_company, make_opportunity, queries
) -> None:
    kept = make_company(name="Kept")
    other = make_company(name="Other")
    changed = make_opportunity(name="Before")
    db.session.expire_all()
    assert (kept.name, other.name, changed.version) == ("Kept", "Other", 1)
    changed.name = "After"  # written by the commit itself (flushed first)
    commit_keeping(db.session, kept, changed)
    with queries() as counted:
        assert kept.name == "Kept" and changed.name == "After" and changed.version == 2
    assert counted.count == 0
    with queries() as counted:
        assert other.name == "Other"  # not kept: expired by the commit, read again
    assert counted.count == 1
    db.session.expire_all()
    assert db.session.get(Opportunity, changed.id).name == "After"


def test_a_contact_is_never_on_the_same_track_twice_at_once(app) -> None:
    kind = db.session.scalars(select(TrackKind).where(TrackKind.code == "lost_sale")).one()
    track = Track(name="Lost Sale, test copy", kind_id=kind.id)
    contact = Contact(first_name="Jason", last_name="Rivas")
    db.session.add_all([track, contact])
    db.session.flush()
    today = datetime.now(UTC).date()
    db.session.add(
        TrackEnrollment(
            track_id=track.id,
            contact_id=contact.id,
            starts_on=today,
            status="completed",
            ended_at=datetime.now(UTC),
        )
    )
    db.session.add(TrackEnrollment(track_id=track.id, contact_id=contact.id, starts_on=today))
    db.session.commit()  # a finished enrollment does not block a new one
    db.session.add(
        TrackEnrollment(
            track_id=track.id, contact_id=contact.id, starts_on=today + timedelta(days=1)
        )
    )
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.fixture()
def postgresql_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's transactions and psycopg's prepared statements")


@contextmanager
def raw_statements() -> Iterator[list[str]]:
    """Every statement sent meanwhile (``count_queries`` leaves out the question asked of a
    transaction that may have written)."""
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_transaction_that_wrote_nothing_ends_with_commit(postgresql_only, make_company) -> None:
    """Read only: committed (for the database the same as a rollback), so psycopg keeps its
    prepared statements; with a write, flushed or not, left for the rollback."""
    company = make_company(name="Acme")
    db.session.scalar(select(Contact.id))
    assert db.session().in_transaction()
    with raw_statements() as asked:  # only SELECTs ran: nothing to ask the database
        end_unwritten_transaction(db.session())
    assert not db.session().in_transaction()
    assert WROTE_ANYTHING not in asked

    db.session.execute(text("SET LOCAL statement_timeout = 5000"))  # not a SELECT: ask
    with raw_statements() as asked_raw:
        end_unwritten_transaction(db.session())
    assert not db.session().in_transaction() and asked_raw == [WROTE_ANYTHING]

    company.name = "Renamed, not flushed"
    end_unwritten_transaction(db.session())
    assert db.session().in_transaction()
    db.session.flush()  # written now: an id is assigned to the transaction
    end_unwritten_transaction(db.session())
    assert db.session().in_transaction()
    db.session.rollback()
    assert db.session.get(type(company), company.id).name == "Acme"


def test_read_only_requests_keep_the_prepared_statements(
    postgresql_only, client, signed_in
) -> None:
    """psycopg prepares a statement run five times on a connection and forgets them all at a
    ROLLBACK: read-only requests end with COMMIT, so the board's statements stay prepared."""
    signed_in()
    # The pool hands its connections out in turn: enough requests for five on each, twice.
    for _ in range(10 * db.engine.pool.size()):  # type: ignore[attr-defined]
        assert client.get("/board/").status_code == 200
    # Ask every connection of the pool.
    connections = [db.engine.connect() for _ in range(db.engine.pool.size())]  # type: ignore[attr-defined]
    try:
        prepared = sum(
            c.scalar(text("SELECT count(*) FROM pg_prepared_statements")) for c in connections
        )
    finally:
        for connection in connections:
            connection.close()
    assert prepared > 0


def test_on_sqlite_the_transaction_is_left_alone(sqlite_only, make_company) -> None:
    make_company(name="Acme")
    db.session.scalar(select(Contact.id))
    end_unwritten_transaction(db.session())
    assert db.session().in_transaction()
