"""Companies and their contacts: lists with search, what a company or contact page shows,
and saving them. Plain functions that never commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import Activity, Company, Contact, Member, Opportunity
from crmlite.services import events
from crmlite.services.members import assignment_refusal
from crmlite.services.pagination import PER_PAGE, Page, paginate
from crmlite.services.permissions import visible_activities
from crmlite.services.statuses import is_open

RECENT_ACTIVITIES = 20


class CompanyRefused(ValueError):
    """Input the rules refuse; ``field`` names the form field the message belongs to."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CompanyRow:
    company: Company
    open_opportunities: int


def _company_matches(q: str) -> ColumnElement[bool] | None:
    q = q.strip()
    if not q:
        return None
    return func.lower(Company.name).contains(q.lower(), autoescape=True)


def companies_listed(query: Any, q: str = "") -> Any:
    """The query narrowed to the companies the list shows for the search ``q`` (name
    contains it, any case), by name: the list and its export share it."""
    matches = _company_matches(q)
    if matches is not None:
        query = query.where(matches)
    return query.order_by(func.lower(Company.name), Company.id)


def company_list(q: str = "", page: int = 1, per_page: int = PER_PAGE) -> Page[CompanyRow]:
    """Companies by name, those whose name contains ``q`` (any case), with the number of
    their open opportunities counted in SQL: three queries whatever the page holds."""
    query = companies_listed(select(Company).options(joinedload(Company.account_manager)), q)
    companies: Page[Company] = paginate(query, page, per_page)
    open_counts = {
        company_id: count
        for company_id, count in db.session.execute(
            select(Opportunity.company_id, func.count(Opportunity.id))
            .where(is_open(), Opportunity.company_id.in_([c.id for c in companies.rows]))
            .group_by(Opportunity.company_id)
        )
    }
    return companies.map(lambda company: CompanyRow(company, open_counts.get(company.id, 0)))


def contacts_listed(query: Any, q: str = "") -> Any:
    """The query (on contacts, the company outer-joined) narrowed to the contacts the list
    shows for the search ``q`` (name, e-mail or company contains it, any case), by name."""
    q = q.strip().lower()
    if q:
        full_name = func.lower(Contact.first_name + " " + Contact.last_name)
        query = query.where(
            or_(
                full_name.contains(q, autoescape=True),
                func.lower(Contact.email).contains(q, autoescape=True),
                func.lower(Company.name).contains(q, autoescape=True),
            )
        )
    return query.order_by(func.lower(Contact.first_name), func.lower(Contact.last_name), Contact.id)


def contact_list(q: str = "", page: int = 1, per_page: int = PER_PAGE) -> Page[Contact]:
    """Contacts by name, those whose name, e-mail or company contains ``q`` (any case)."""
    query = select(Contact).outerjoin(Company, Contact.company).options(joinedload(Contact.company))
    return paginate(contacts_listed(query, q), page, per_page)


def load_company(company_id: int) -> Company | None:
    """A company with its account manager and contacts."""
    return db.session.scalars(
        select(Company)
        .where(Company.id == company_id)
        .options(
            joinedload(Company.account_manager),
            joinedload(Company.location),
            joinedload(Company.business_unit),
            selectinload(Company.contacts),
        )
    ).first()


def load_contact(contact_id: int) -> Contact | None:
    return db.session.scalars(
        select(Contact).where(Contact.id == contact_id).options(joinedload(Contact.company))
    ).first()


def _opportunities(condition: ColumnElement[bool]) -> list[Opportunity]:
    """Open ones first (by expected close), then closed ones, latest first."""
    return list(
        db.session.scalars(
            select(Opportunity)
            .where(condition)
            .options(
                joinedload(Opportunity.stage),
                joinedload(Opportunity.status),
                joinedload(Opportunity.account_manager),
                joinedload(Opportunity.contact),
            )
            .order_by(
                Opportunity.closed_at.is_not(None),
                Opportunity.closed_at.desc(),
                Opportunity.expected_close_on.is_(None),
                Opportunity.expected_close_on,
                Opportunity.id,
            )
        )
    )


def company_opportunities(company_id: int) -> list[Opportunity]:
    return _opportunities(Opportunity.company_id == company_id)


def contact_opportunities(contact_id: int) -> list[Opportunity]:
    """Opportunities where the person is the main contact."""
    return _opportunities(Opportunity.contact_id == contact_id)


def _activities(condition: ColumnElement[bool], viewer: Member, limit: int) -> list[Activity]:
    """The latest of these activities that the viewer may see (``activity.read``)."""
    return list(
        db.session.scalars(
            select(Activity)
            .where(condition, visible_activities(viewer))
            .options(
                joinedload(Activity.type),
                joinedload(Activity.assigned_to),
                joinedload(Activity.contact),
                joinedload(Activity.opportunity),
            )
            .order_by(Activity.due_on.desc(), Activity.starts_at.desc(), Activity.id.desc())
            .limit(limit)
        )
    )


def recent_company_activities(
    company_id: int, viewer: Member, limit: int = RECENT_ACTIVITIES
) -> list[Activity]:
    """The company's latest activities the viewer may see, newest due date first."""
    return _activities(Activity.company_id == company_id, viewer, limit)


def recent_contact_activities(
    contact_id: int, viewer: Member, limit: int = RECENT_ACTIVITIES
) -> list[Activity]:
    return _activities(Activity.contact_id == contact_id, viewer, limit)


def contact_ids_of(company_id: int) -> list[int]:
    """The ids of a company's contacts."""
    return list(db.session.scalars(select(Contact.id).where(Contact.company_id == company_id)))


def all_companies() -> list[Company]:
    return list(db.session.scalars(select(Company).order_by(func.lower(Company.name))))


@dataclass(frozen=True)
class CompanyValues:
    name: str
    phone: str = ""
    email: str = ""
    website: str = ""
    industry: str = ""
    street: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""
    account_manager_id: int | None = None
    notes: str = ""


@dataclass(frozen=True)
class ContactValues:
    first_name: str
    last_name: str = ""
    title: str = ""
    email: str = ""
    phone: str = ""
    mobile: str = ""
    company_id: int | None = None


def save_company(company: Company | None, values: CompanyValues) -> Company:
    """Create (``company`` None) or update a company. The name is required; the account
    manager, when given, is an active member (or the one the company has already)."""
    if not values.name.strip():
        raise CompanyRefused("Enter the company's name.", "name")
    refusal = assignment_refusal(
        values.account_manager_id,
        current_id=company.account_manager_id if company else None,
        what="The account manager",
    )
    if refusal:
        raise CompanyRefused(refusal, "account_manager_id")
    if company is None:
        company = Company(name="")
        db.session.add(company)
    company.name = values.name.strip()
    company.phone = values.phone.strip()
    company.email = values.email.strip().lower()
    company.website = values.website.strip()
    company.industry = values.industry.strip()
    company.street = values.street.strip()
    company.city = values.city.strip()
    company.region = values.region.strip()
    company.postal_code = values.postal_code.strip()
    company.country = values.country.strip()
    company.account_manager_id = values.account_manager_id
    company.notes = values.notes.strip()
    db.session.flush()
    return company


def save_contact(contact: Contact | None, values: ContactValues) -> Contact:
    """Create (``contact`` None) or update a contact. The first name is required; the
    e-mail is kept lower-cased, because e-mail capture and campaign tracking match by it.
    A changed e-mail address is no longer marked as bouncing. A new contact is published
    (``ContactCreated``)."""
    if not values.first_name.strip():
        raise CompanyRefused("Enter the first name.", "first_name")
    if values.company_id and db.session.get(Company, values.company_id) is None:
        raise CompanyRefused(
            "The company must be one of the list: that one does not exist (any more).",
            "company_id",
        )
    created = contact is None
    if contact is None:
        contact = Contact(first_name="")
        db.session.add(contact)
    contact.first_name = values.first_name.strip()
    contact.last_name = values.last_name.strip()
    contact.title = values.title.strip()
    email = values.email.strip().lower()
    if email != contact.email:
        # A new address has not bounced: mail may go to it again.
        contact.bounced_at = None
        contact.bounce_reason = ""
    contact.email = email
    contact.phone = values.phone.strip()
    contact.mobile = values.mobile.strip()
    contact.company_id = values.company_id
    db.session.flush()
    if created:
        events.publish(events.ContactCreated(contact, at=utcnow()))
    return contact


def website_href(website: str) -> str | None:
    """A link for a company's website: only http(s), and a bare domain gets https://."""
    site = website.strip()
    if not site:
        return None
    if site.lower().startswith(("http://", "https://")):
        return site
    if ":" in site or " " in site or "." not in site:
        return None
    return f"https://{site}"
