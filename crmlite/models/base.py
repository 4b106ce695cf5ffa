"""Shared column types and helpers for the models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.schema import MetaData

from crmlite.database import UTCDateTime, utcnow
from crmlite.extensions import Base, db

# Money is exact: Numeric in the database, Decimal in Python, never float.
Money = Numeric(14, 2, asdecimal=True)
ZERO = Decimal("0.00")
# Every stored amount is at least 0 and below this (ten billion): what a person may type
# (services/money.py) and what the CHECK constraints enforce on SQLite and PostgreSQL alike.
AMOUNT_LIMIT = 10_000_000_000


def amounts_in_range(*columns: str) -> CheckConstraint:
    """One CHECK that the table's money columns hold 0 to AMOUNT_LIMIT (exclusive) or NULL.
    SQLite keeps numbers loosely (a REAL can hold Infinity): this makes it refuse them too."""
    rules = " AND ".join(f"({c} IS NULL OR ({c} >= 0 AND {c} < {AMOUNT_LIMIT}))" for c in columns)
    return CheckConstraint(rules, name="amounts_in_range")


# Every model derives from Flask-SQLAlchemy's ``db.Model``; type checkers see the declarative
# base it is built on (``db.Model`` is created at run time, so mypy cannot name it).
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


def rel(*args: Any, **kwargs: Any) -> Any:
    """A relationship that never loads by hidden SQL: load it with selectinload/joinedload.

    ``raise_on_sql`` still allows a many-to-one already in the session's identity map.
    """
    kwargs.setdefault("lazy", "raise_on_sql")
    return relationship(*args, **kwargs)


def fk(target: str, *, ondelete: str | None = None, nullable: bool = True, **kwargs: Any) -> Any:
    return mapped_column(ForeignKey(target, ondelete=ondelete), nullable=nullable, **kwargs)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)


def updated_at_column() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


def kept_by_triggers(
    tables: tuple[str, ...],
    create: Callable[[str], list[str]],
    drop: Callable[[str], list[str]],
) -> None:
    """With ``create_all`` and ``drop_all`` (tests, bench): the triggers that keep a derived
    table (``create(dialect)``), made once all of ``tables`` exist and dropped first."""

    def created(metadata: MetaData, connection: Connection, **_kw: object) -> None:
        if all(name in metadata.tables for name in tables):
            for statement in create(connection.dialect.name):
                connection.execute(text(statement))

    def dropped(_metadata: MetaData, connection: Connection, **_kw: object) -> None:
        for statement in drop(connection.dialect.name):
            connection.execute(text(statement))

    event.listen(Model.metadata, "after_create", created)
    event.listen(Model.metadata, "before_drop", dropped)
