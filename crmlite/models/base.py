"""Shared column types and helpers for the models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Numeric
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crmlite.database import UTCDateTime, utcnow
from crmlite.extensions import Base, db

# Money is exact: Numeric in the database, Decimal in Python, never float.
Money = Numeric(14, 2, asdecimal=True)
ZERO = Decimal("0.00")

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
