"""Database engine set-up: production-grade SQLite, UTC timestamps, query counting.

SQLite runs in WAL mode with ``synchronous=NORMAL``, foreign keys on, a busy timeout and a
64 MB page cache with memory-mapped reads.
Transactions that may write begin ``IMMEDIATE`` so that two writers queue on the busy
timeout instead of one failing later with "database is locked"; read-only requests (GET,
HEAD) begin a plain deferred transaction so readers never wait for writers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String, cast, event, func, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

SQLITE_BUSY_TIMEOUT_MS = 10_000

# False while serving a read-only request; True everywhere else (CLI, tests, POSTs).
write_intent: ContextVar[bool] = ContextVar("write_intent", default=True)


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" event below emit BEGIN itself (pysqlite's own is deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # A 64 MB page cache and memory-mapped reads: the working set of a team's CRM fits.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


@event.listens_for(Engine, "begin")
def _begin_sqlite(conn: Any) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC; comes back aware (UTC) on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; crmlite stores aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class QueryCounter:
    """Counts the SQL statements an engine runs, e.g. while serving one request."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)

    def _record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            self.statements.append(statement)


@contextmanager
def count_queries(engine: Engine) -> Iterator[QueryCounter]:
    counter = QueryCounter()
    event.listen(engine, "before_cursor_execute", counter._record)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter._record)


def dialect_insert(target: Any, dialect: str) -> Any:
    """An INSERT of the dialect (SQLite or PostgreSQL), so that ``.on_conflict_do_nothing()``
    can leave out rows whose unique key is taken: two writers racing insert once."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(target)


def random_hex_sql(dialect: str) -> Any:
    """SQL for 32 random hex characters from the database's strong random source (SQLite's
    ``randomblob``, PostgreSQL's ``gen_random_uuid``), for tokens made by INSERT … SELECT."""
    if dialect == "postgresql":
        return func.replace(cast(func.gen_random_uuid(), String), "-", "")
    return func.lower(func.hex(func.randomblob(16)))


def analyze(session: Any) -> None:
    """Refresh the query planner's statistics after a bulk load (demo, bench data, an
    import): without them a freshly loaded database is planned as if empty (PostgreSQL
    until autovacuum gets to it, SQLite until someone runs ANALYZE). On PostgreSQL a VACUUM
    too, as autovacuum would do: the visibility map lets covering indexes answer without
    reading the table (VACUUM cannot run in a transaction: its own connection)."""
    session.commit()
    engine = session.get_bind().engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        return
    session.execute(text("ANALYZE"))
    session.commit()
