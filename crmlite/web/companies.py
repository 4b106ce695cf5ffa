"""Companies and contacts: lists with search, detail pages with their opportunities and
activities, and simple edit pages. Serves /companies/… and /contacts/…."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import Company, Contact, Member
from crmlite.services import bounces, exports
from crmlite.services import companies as service
from crmlite.services.companies import CompanyRefused
from crmlite.services.pagination import page_number
from crmlite.services.parsing import clean_line, parse_id
from crmlite.web import exporting, get_or_404, is_htmx, may, require
from crmlite.web.companies_forms import CompanyForm, ContactForm

bp = Blueprint("companies", __name__)


def _results_only() -> bool:
    """An htmx search wants the results alone; a history restore wants the whole page."""
    return is_htmx() and request.headers.get("HX-History-Restore-Request") != "true"


def _search() -> str:
    return clean_line(request.args.get("q"))


# ---------------------------------------------------------------- companies


@bp.get("/companies")
def index() -> str:
    """The list; an htmx search asks for the results alone."""
    q = _search()
    result = service.company_list(q, page_number(request.args.get("page")))
    template = "companies/_results.html" if _results_only() else "companies/index.html"
    return render_template(template, page=result, q=q)


@bp.get("/companies/export.<fmt>")
def export(fmt: str) -> Response:
    """The companies list with its search, all of it, as CSV or XLSX."""
    return exporting.send(exports.company_rows(_search()), fmt)


@bp.get("/companies/<int:company_id>")
def detail(company_id: int) -> str:
    company = service.load_company(company_id)
    if company is None:
        abort(404)
    return render_template(
        "companies/detail.html",
        company=company,
        contacts=sorted(
            company.contacts, key=lambda c: (c.first_name.lower(), c.last_name.lower())
        ),
        opportunities=service.company_opportunities(company.id),
        activities=service.recent_company_activities(company.id, current_user),
        website_href=service.website_href(company.website),
    )


ONLY_MANAGERS_REASSIGN = "Only a manager can choose or change a company's account manager."
ONLY_YOUR_COMPANIES = (
    "You can move a contact only to a company you may edit: one you manage, or nobody's."
)


@bp.route("/companies/new", methods=["GET", "POST"])
def company_new() -> str | Response:
    form = CompanyForm()
    if not may("company.reassign"):
        # A rep's new company is their own account; a manager chooses whose it is.
        form.account_manager_id.set_choices([current_user], none=False)
        if not form.is_submitted():
            form.account_manager_id.data = current_user.id
    return _save_company(form, None)


@bp.route("/companies/<int:company_id>/edit", methods=["GET", "POST"])
def company_edit(company_id: int) -> str | Response:
    company = get_or_404(Company, company_id)
    require("company.change", company)
    form = CompanyForm(obj=company, keep_manager_id=company.account_manager_id)
    if not may("company.reassign"):
        manager = db.session.get(Member, company.account_manager_id or 0)
        form.account_manager_id.set_choices([manager] if manager else [], none=manager is None)
    return _save_company(form, company)


def _save_company(form: CompanyForm, company: Company | None) -> str | Response:
    """Save; only a manager names an account manager other than the one it has (a new
    company's: whoever adds it)."""
    if form.validate_on_submit():
        keeps = company.account_manager_id if company else current_user.id
        if form.values().account_manager_id != keeps and not may("company.reassign"):
            form.account_manager_id.errors = [ONLY_MANAGERS_REASSIGN]
            return render_template("companies/form.html", form=form, company=company)
        try:
            saved = service.save_company(company, form.values())
            db.session.commit()
            return redirect(url_for(".detail", company_id=saved.id))
        except CompanyRefused as refused:
            db.session.rollback()
            getattr(form, refused.field).errors = [str(refused)]
    return render_template("companies/form.html", form=form, company=company)


# ---------------------------------------------------------------- contacts


@bp.get("/contacts")
def contact_index() -> str:
    q = _search()
    result = service.contact_list(q, page_number(request.args.get("page")))
    template = "contacts/_results.html" if _results_only() else "contacts/index.html"
    return render_template(template, page=result, q=q)


@bp.get("/contacts/export.<fmt>")
def contact_export(fmt: str) -> Response:
    """The contacts list with its search, all of it, as CSV or XLSX."""
    return exporting.send(exports.contact_rows(_search()), fmt)


@bp.get("/contacts/<int:contact_id>")
def contact_detail(contact_id: int) -> str:
    contact = service.load_contact(contact_id)
    if contact is None:
        abort(404)
    return render_template(
        "contacts/detail.html",
        contact=contact,
        opportunities=service.contact_opportunities(contact.id),
        activities=service.recent_contact_activities(contact.id, current_user),
    )


@bp.post("/contacts/<int:contact_id>/mail-again")
def contact_mail_again(contact_id: int) -> Response:
    """Clear the contact's bounce: their address may be mailed again."""
    contact = get_or_404(Contact, contact_id)
    require("contact.mail_again", contact)
    if bounces.mail_again(contact):
        db.session.commit()
        flash(f"{contact.email} will be mailed again.", "success")
    return redirect(url_for(".contact_detail", contact_id=contact.id))


@bp.route("/contacts/new", methods=["GET", "POST"])
def contact_new() -> str | Response:
    form = ContactForm()
    if not form.is_submitted():  # "Add a contact" from a company's page
        form.company_id.data = parse_id(request.args.get("company_id")) or 0
    return _save_contact(form, None)


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
def contact_edit(contact_id: int) -> str | Response:
    contact = get_or_404(Contact, contact_id)
    require("contact.change", contact)
    return _save_contact(ContactForm(obj=contact), contact)


def _save_contact(form: ContactForm, contact: Contact | None) -> str | Response:
    """Save; a contact moves (or is added) only to a company the member may edit."""
    if form.validate_on_submit():
        company_id = form.values().company_id
        moved = company_id != (contact.company_id if contact else None)
        company = db.session.get(Company, company_id) if company_id else None
        if contact is not None and moved and company and not may("company.change", company):
            form.company_id.errors = [ONLY_YOUR_COMPANIES]
            return render_template("contacts/form.html", form=form, contact=contact)
        try:
            saved = service.save_contact(contact, form.values())
            db.session.commit()
            return redirect(url_for(".contact_detail", contact_id=saved.id))
        except CompanyRefused as refused:
            db.session.rollback()
            getattr(form, refused.field).errors = [str(refused)]
    return render_template("contacts/form.html", form=form, contact=contact)
