"""What the forms' pick lists offer: members, opportunity types, statuses, campaigns,
companies and a company's contacts. A record already chosen stays offered after it was
retired (a member who left, a type no longer sold), so saving a form never drops it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from crmlite.extensions import db
from crmlite.models import (
    BusinessUnit,
    Campaign,
    Company,
    Contact,
    Location,
    Member,
    OpportunityStatus,
    OpportunityType,
)


def opportunity_types(keep_id: int | None = None) -> list[OpportunityType]:
    """Active types, plus the one in use even if it was retired since."""
    return list(
        db.session.scalars(
            select(OpportunityType)
            .where((OpportunityType.active) | (OpportunityType.id == (keep_id or 0)))
            .order_by(OpportunityType.name)
        )
    )


def line_statuses() -> list[OpportunityStatus]:
    return list(
        db.session.scalars(
            select(OpportunityStatus)
            .where(OpportunityStatus.active)
            .order_by(OpportunityStatus.position)
        )
    )


def active_members(keep_ids: Iterable[int | None] = ()) -> list[Member]:
    """Members who may be assigned, plus any already assigned who has left since."""
    keep = [i for i in keep_ids if i]
    return list(
        db.session.scalars(
            select(Member).where(Member.active | Member.id.in_(keep)).order_by(Member.name)
        )
    )


def campaigns() -> list[Campaign]:
    return list(db.session.scalars(select(Campaign).order_by(Campaign.name)))


def companies() -> list[Company]:
    return list(db.session.scalars(select(Company).order_by(Company.name)))


def contacts_of(company_id: int | None) -> list[Contact]:
    """The contacts of a company, by name; none when no company is chosen."""
    if not company_id:
        return []
    return list(
        db.session.scalars(
            select(Contact)
            .where(Contact.company_id == company_id)
            .order_by(Contact.first_name, Contact.last_name, Contact.id)
        )
    )


def locations(keep_id: int | None = None) -> list[Location]:
    """Active locations, plus the one already chosen even if it was deactivated since."""
    return list(
        db.session.scalars(
            select(Location)
            .where(Location.active | (Location.id == (keep_id or 0)))
            .order_by(Location.name)
        )
    )


def business_units(keep_id: int | None = None) -> list[BusinessUnit]:
    """Active business units, plus the one already chosen even if deactivated since."""
    return list(
        db.session.scalars(
            select(BusinessUnit)
            .where(BusinessUnit.active | (BusinessUnit.id == (keep_id or 0)))
            .order_by(BusinessUnit.name)
        )
    )
