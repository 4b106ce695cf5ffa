"""/api/v1/companies and /api/v1/contacts: the shared address book, read and changed with
the company and contact pages' forms and services.

Companies and contacts carry no version number: their ETag is the moment they were last
saved (``updated_at``, to the microsecond), which every save moves on."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import func, or_, select
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import Company, Contact
from crmlite.services import companies as service
from crmlite.services import permissions
from crmlite.services.companies import CompanyRefused
from crmlite.web import me
from crmlite.web.api.base import (
    bp,
    etag,
    fail,
    form_data,
    form_errors,
    id_arg,
    if_match,
    invalid,
    json_body,
    json_response,
    moment,
    moment_arg,
    page,
    page_args,
    text_arg,
)
from crmlite.web.companies import ONLY_MANAGERS_REASSIGN, ONLY_YOUR_COMPANIES
from crmlite.web.companies_forms import CompanyForm, ContactForm

COMPANY_FIELDS = (
    "name",
    "phone",
    "email",
    "website",
    "industry",
    "street",
    "city",
    "region",
    "postal_code",
    "country",
    "account_manager_id",
    "notes",
)
CONTACT_FIELDS = ("first_name", "last_name", "title", "company_id", "email", "phone", "mobile")
READ_ONLY = ("id", "created_at", "updated_at", "unsubscribed", "bounced")


def saved_tag(record: Company | Contact) -> str:
    return etag(int(record.updated_at.timestamp() * 1_000_000))


def company_json(company: Company) -> dict[str, Any]:
    values = {name: getattr(company, name) for name in COMPANY_FIELDS}
    return {
        "id": company.id,
        **values,
        "created_at": moment(company.created_at),
        "updated_at": moment(company.updated_at),
    }


def contact_json(contact: Contact) -> dict[str, Any]:
    values = {name: getattr(contact, name) for name in CONTACT_FIELDS}
    return {
        "id": contact.id,
        **values,
        "unsubscribed": contact.unsubscribed_at is not None,
        "bounced": contact.bounced_at is not None,
        "created_at": moment(contact.created_at),
        "updated_at": moment(contact.updated_at),
    }


def _get(model: type[Company] | type[Contact], ident: int, *, for_change: bool = False) -> Any:
    query = select(model).where(model.id == ident)
    if for_change:  # PostgreSQL: nobody saves it between the If-Match check and this save
        query = query.with_for_update()
    record = db.session.scalars(query).one_or_none()
    if record is None:
        fail(404, f"There is no {model.__name__.lower()} with that id.")
    return record


def _answer(record: Company | Contact, status: int = 200) -> Response:
    if isinstance(record, Company):
        body, location = company_json(record), url_for("api.company", company_id=record.id)
    else:
        body, location = contact_json(record), url_for("api.contact", contact_id=record.id)
    return json_response(
        body, status, tag=saved_tag(record), location=location if status == 201 else None
    )


# ---------------------------------------------------------------- companies


@bp.get("/companies")
def companies() -> Response:
    """Companies, oldest first; filtered by owner (account manager), a search in the name,
    and updated since a moment."""
    limit, after = page_args()
    owner_id, since, q = id_arg("owner"), moment_arg("updated_since"), text_arg("q")
    permissions.require(me(), "company.read")
    query = select(Company)
    if owner_id is not None:
        query = query.where(Company.account_manager_id == owner_id)
    if since is not None:
        query = query.where(Company.updated_at >= since)
    if q:
        query = query.where(func.lower(Company.name).contains(q.lower(), autoescape=True))
    if after is not None:
        query = query.where(Company.id > after)
    rows = list(db.session.scalars(query.order_by(Company.id).limit(limit + 1)))
    return page([company_json(c) for c in rows], [c.id for c in rows], limit)


@bp.get("/companies/<int:company_id>")
def company(company_id: int) -> Response:
    found = _get(Company, company_id)
    permissions.require(me(), "company.read", found)
    return _answer(found)


@bp.post("/companies")
def create_company() -> Response:
    """A new company; a rep's is their own account, a manager names its account manager."""
    member = me()
    data = form_data(json_body(), COMPANY_FIELDS, current={"account_manager_id": member.id})
    form = CompanyForm(formdata=data, meta={"csrf": False})
    return _save_company(form, None)


@bp.patch("/companies/<int:company_id>")
def update_company(company_id: int) -> Response:
    found = _get(Company, company_id, for_change=True)
    permissions.require(me(), "company.change", found)
    if_match(saved_tag(found).strip('"'))
    current = company_json(found)
    data = form_data(json_body(), COMPANY_FIELDS, current=current, ignored=READ_ONLY)
    form = CompanyForm(
        formdata=data, meta={"csrf": False}, keep_manager_id=found.account_manager_id
    )
    return _save_company(form, found)


def _save_company(form: CompanyForm, found: Company | None) -> Response:
    member = me()
    if not form.validate():
        invalid(form_errors(form))
    keeps = found.account_manager_id if found else member.id
    if form.values().account_manager_id != keeps and not permissions.allows(
        member, "company.reassign"
    ):
        fail(403, ONLY_MANAGERS_REASSIGN)
    try:
        saved = service.save_company(found, form.values())
        db.session.commit()
    except CompanyRefused as refused:
        invalid({refused.field: [str(refused)]})
    return _answer(saved, 200 if found else 201)


# ---------------------------------------------------------------- contacts


@bp.get("/contacts")
def contacts() -> Response:
    """Contacts, oldest first; filtered by company, a search in the name or e-mail, and
    updated since a moment."""
    limit, after = page_args()
    company_id, since, q = id_arg("company_id"), moment_arg("updated_since"), text_arg("q")
    permissions.require(me(), "contact.read")
    query = select(Contact)
    if company_id is not None:
        query = query.where(Contact.company_id == company_id)
    if since is not None:
        query = query.where(Contact.updated_at >= since)
    if q:
        name = func.lower(Contact.first_name + " " + Contact.last_name)
        query = query.where(
            or_(
                name.contains(q.lower(), autoescape=True),
                Contact.email.contains(q.lower(), autoescape=True),
            )
        )
    if after is not None:
        query = query.where(Contact.id > after)
    rows = list(db.session.scalars(query.order_by(Contact.id).limit(limit + 1)))
    return page([contact_json(c) for c in rows], [c.id for c in rows], limit)


@bp.get("/contacts/<int:contact_id>")
def contact(contact_id: int) -> Response:
    found = _get(Contact, contact_id)
    permissions.require(me(), "contact.read", found)
    return _answer(found)


@bp.post("/contacts")
def create_contact() -> Response:
    data = form_data(json_body(), CONTACT_FIELDS)
    return _save_contact(ContactForm(formdata=data, meta={"csrf": False}), None)


@bp.patch("/contacts/<int:contact_id>")
def update_contact(contact_id: int) -> Response:
    found = _get(Contact, contact_id, for_change=True)
    permissions.require(me(), "contact.change", found)
    if_match(saved_tag(found).strip('"'))
    data = form_data(json_body(), CONTACT_FIELDS, current=contact_json(found), ignored=READ_ONLY)
    return _save_contact(ContactForm(formdata=data, meta={"csrf": False}), found)


def _save_contact(form: ContactForm, found: Contact | None) -> Response:
    """Save; a contact moves only to a company the member may edit (as on its page)."""
    if not form.validate():
        invalid(form_errors(form))
    company_id = form.values().company_id
    moved = company_id != (found.company_id if found else None)
    target = db.session.get(Company, company_id) if company_id else None
    if (
        found is not None
        and moved
        and target
        and not permissions.allows(me(), "company.change", target)
    ):
        fail(403, ONLY_YOUR_COMPANIES)
    try:
        saved = service.save_contact(found, form.values())
        db.session.commit()
    except CompanyRefused as refused:
        invalid({refused.field: [str(refused)]})
    return _answer(saved, 200 if found else 201)
