"""The board's text search: the deals whose name, company's name or contact's name contains
what was typed, found through the trigram index of each (``models/search.py``) and in a
single pass over none of the deals' names."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, any_, column, func, or_, select, table, union_all

from crmlite.extensions import db
from crmlite.models import Company, Contact, Opportunity


def _found(name: str, pattern: str) -> Any:
    """The rowids of an FTS5 trigram table whose text is like the pattern (SQLite)."""
    fts = table(name, column("rowid"), column("text"))
    return select(fts.c.rowid).where(fts.c.text.like(pattern))


def deals_containing(typed: str) -> ColumnElement[bool]:
    """A condition on ``Opportunity``: its name, its company's or its contact's full name
    contains ``typed`` (case-insensitive, as typed otherwise: ``%`` and ``_`` are
    wildcards)."""
    pattern = f"%{typed.strip()}%"
    if db.session.get_bind().dialect.name == "sqlite":
        return or_(
            Opportunity.id.in_(_found("opportunity_names", pattern)),
            Opportunity.company_id.in_(_found("company_names", pattern)),
            Opportunity.contact_id.in_(_found("contact_names", pattern)),
        )
    # The same expressions as pg_trgm's indexes, which ILIKE uses; one index each, added up
    # (an OR of the three is planned as a pass over every deal). The companies and contacts
    # found are handed over as an array, so their deals are read through the index on
    # company_id / contact_id (a join reads every deal to match them).
    full_name = Contact.first_name + " " + Contact.last_name
    by_company = select(Company.id).where(Company.name.ilike(pattern)).scalar_subquery()
    by_contact = select(Contact.id).where(full_name.ilike(pattern)).scalar_subquery()
    return Opportunity.id.in_(
        union_all(
            select(Opportunity.id).where(Opportunity.name.ilike(pattern)),
            select(Opportunity.id).where(Opportunity.company_id == any_(func.array(by_company))),
            select(Opportunity.id).where(Opportunity.contact_id == any_(func.array(by_contact))),
        )
    )
