"""Opportunities: creating them. Any interest, however slight, becomes one in Prospect."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from crmlite.extensions import db
from crmlite.models import Company, Contact, Member, Opportunity, StageChange
from crmlite.services import events, funnel
from crmlite.services.statuses import status


def find_or_create_company(name: str) -> Company:
    """The company of that name (any case), or a new one."""
    name = name.strip()
    company = db.session.scalars(
        select(Company).where(func.lower(Company.name) == name.lower()).limit(1)
    ).first()
    if company is None:
        company = Company(name=name)
        db.session.add(company)
        db.session.flush()
    return company


def find_or_create_contact(company: Company | None, full_name: str) -> Contact:
    first, _, last = full_name.strip().partition(" ")
    query = select(Contact).where(
        func.lower(Contact.first_name) == first.lower(),
        func.lower(Contact.last_name) == last.strip().lower(),
    )
    if company is not None:
        query = query.where(Contact.company_id == company.id)
    contact = db.session.scalars(query.limit(1)).first()
    if contact is None:
        contact = Contact(
            first_name=first, last_name=last.strip(), company_id=company.id if company else None
        )
        db.session.add(contact)
        db.session.flush()
        events.publish(events.ContactCreated(contact, at=datetime.now(UTC)))
    return contact


def create_opportunity(
    *,
    name: str,
    by: Member,
    company_name: str = "",
    contact_name: str = "",
    type_id: int | None = None,
    revenue: Decimal = Decimal("0.00"),
    expected_close_on: date | None = None,
    rating: str = "Medium",
    account_manager_id: int | None = None,
    campaign_id: int | None = None,
    now: datetime | None = None,
    tz: ZoneInfo | None = None,
    company: Company | None = None,
    contact: Contact | None = None,
) -> Opportunity:
    """A new opportunity in the first stage (Prospect), with its first history row.

    The company and contact are the ones given, else matched by name, or created. Publishes
    ``NewProspect`` with them attached (its reaction puts the contact on General Interest,
    or on the track the campaign names: see services/reactions.py)."""
    now = now or datetime.now(UTC)
    stage = funnel.open_stages()[0]
    if company is None and company_name.strip():
        company = find_or_create_company(company_name)
    if contact is None and contact_name.strip():
        contact = find_or_create_contact(company, contact_name)
    manager = db.session.get(Member, account_manager_id) if account_manager_id else by
    opportunity = Opportunity(
        name=name.strip(),
        type_id=type_id,
        status_id=status().id,
        stage_id=stage.id,
        probability=stage.default_probability,
        revenue=revenue,
        expected_close_on=expected_close_on,
        rating=rating,
        account_manager_id=manager.id if manager else by.id,
        location_id=manager.location_id if manager else None,
        business_unit_id=manager.business_unit_id if manager else None,
        campaign_id=campaign_id,
        company_id=company.id if company else None,
        contact_id=contact.id if contact else None,
        stage_entered_at=now,
        created_by_id=by.id,
        updated_by_id=by.id,
    )
    db.session.add(opportunity)
    db.session.flush()
    db.session.add(
        StageChange(
            opportunity_id=opportunity.id,
            from_stage_id=None,
            to_stage_id=stage.id,
            changed_by_id=by.id,
            changed_at=now,
        )
    )
    db.session.flush()
    today = now.astimezone(tz or UTC).date()
    events.publish(events.NewProspect(opportunity, by=by, at=now, today=today))
    return opportunity
