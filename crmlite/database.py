"""Database engine set-up: production-grade SQLite, UTC timestamps, query counting.

SQLite runs in WAL mode with ``synchronous=NORMAL``, foreign keys on, a busy timeout and a
64 MB page cache with memory-mapped reads.
Transactions that may write begin ``IMMEDIATE`` so that two writers queue on the busy
timeout instead of one failing later with "database is locked"; read-only requests (GET,
HEAD) begin a plain deferred transaction so readers never wait for writers.

On PostgreSQL a request that wrote nothing ends with COMMIT, not ROLLBACK
(``end_unwritten_transaction``): psycopg forgets its prepared statements at every ROLLBACK,
and kept, they spare PostgreSQL planning the same statements at every request.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    cast,
    event,
    func,
    inspect,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.orm.attributes import set_committed_value
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


def end_unwritten_transaction(session: Session) -> None:
    """End the session's transaction with COMMIT when it wrote nothing (PostgreSQL only).

    Committing a transaction without a write is the same, for the database, as rolling it
    back; but psycopg clears its prepared statements at each ROLLBACK, so a read-only request
    ended by the usual rollback makes the next one plan every statement again (the board's
    two big statements: about 8 ms of 15). A transaction that wrote anything, or has changes
    not yet flushed, is left to be rolled back as before."""
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    if session.get_bind().dialect.name != "postgresql":
        return
    # Only SELECTs ran (most requests): nothing written, no need to ask the database.
    only_read = session.connection().info.get(ONLY_READ, False)
    if only_read or session.scalar(text(WROTE_ANYTHING)) is None:
        # Nothing written, nothing to read again: objects stay as loaded, as the rollback
        # left them (a streamed export reads them after the request's teardown).
        expire, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = expire


# Whether this transaction has written anything (NULL: no): how a request ends, counted with
# BEGIN and COMMIT as transaction control, not as one of the request's statements.
WROTE_ANYTHING = "SELECT txid_current_if_assigned()"


# Whether every statement of the connection's transaction so far was a SELECT (kept in the
# connection's info): a transaction that ran only SELECTs wrote nothing.
ONLY_READ = "crmlite_only_read"


@event.listens_for(Engine, "begin")
def _begin(conn: Any) -> None:
    conn.info[ONLY_READ] = True
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


@event.listens_for(Engine, "before_cursor_execute")
def _note_writes(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
    if conn.info.get(ONLY_READ) and statement.lstrip()[:6].upper() != "SELECT":
        conn.info[ONLY_READ] = False


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


def written(value: int | str) -> Any:
    """A constant of crmlite's own (a status, a stage id, a count) written into a
    statement's text, not bound: PostgreSQL's plan for a prepared statement then sees it (a
    partial index's WHERE, a LIMIT), and a statement with no bound value at all is planned
    once and its plan kept."""
    if isinstance(value, int):
        return literal_column(str(int(value)), Integer)
    return literal_column("'" + value.replace("'", "''") + "'", String)


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
        control = statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA"))
        if not control and statement != WROTE_ANYTHING:
            self.statements.append(statement)


@contextmanager
def count_queries(engine: Engine) -> Iterator[QueryCounter]:
    counter = QueryCounter()
    event.listen(engine, "before_cursor_execute", counter._record)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", counter._record)


def commit_keeping(session: Session | scoped_session[Any], *kept: object) -> None:
    """Commit, keeping the ``kept`` objects as this transaction read (or wrote) them.

    A commit expires every object of the session, so the next read of any attribute
    queries again, one statement per object. For objects the rest of the request only
    reads (the signed-in member, the team, the stages just used), that is a statement each
    for the values it already has; their loaded columns are put back after the commit.
    Anything not loaded (or generated by the database on flush) is read again as usual."""
    session.flush()  # what the commit writes is what is kept (no SQL when nothing changed)
    saved = []
    for obj in kept:
        state = inspect(obj)
        loaded = state.dict
        columns = {a.key: loaded[a.key] for a in state.mapper.column_attrs if a.key in loaded}
        saved.append((obj, columns))
    session.commit()
    for obj, columns in saved:
        for key, value in columns.items():
            set_committed_value(obj, key, value)


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
    until autovacuum gets to it, SQLite until someone runs ANALYZE). PostgreSQL also gets a
    VACUUM, which marks the new rows' pages all-visible: until then an index-only scan (the
    board's columns) still reads every row from the table."""
    session.commit()
    engine = session.get_bind()
    if engine.dialect.name == "postgresql":
        # VACUUM cannot run inside a transaction: its own connection, in autocommit.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM (ANALYZE)"))
        return
    session.execute(text("ANALYZE"))
    session.commit()


def holds_rows(session: Any, table: Any) -> bool:
    """Whether the table holds at least one row (stops at the first; no full count)."""
    return session.scalar(select(literal(1)).select_from(table).limit(1)) is not None
