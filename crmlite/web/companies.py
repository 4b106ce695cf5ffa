"""Companies and contacts: lists with search, detail pages with their opportunities and
activities, and simple edit pages. Serves /companies/… and /contacts/…."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional

from crmlite.extensions import db
from crmlite.models import Company, Contact
from crmlite.services import companies as service
from crmlite.services.pick_lists import active_members
from crmlite.web import get_or_404, is_htmx, strip

bp = Blueprint("companies", __name__)

NONE_CHOICE = SelectChoice(0, "—")
EMAIL_MESSAGE = "Enter a valid e-mail address, like name@example.com."


def optional_id(value: object) -> int:
    """A record id from a select; none (empty or missing) is 0, the "—" choice."""
    return int(value or 0)  # type: ignore[call-overload]


def _text(label: str, max_length: int) -> StringField:
    return StringField(label, filters=[strip], validators=[Optional(), Length(max=max_length)])


class CompanyForm(FlaskForm):
    name = StringField(
        "Name",
        filters=[strip],
        validators=[DataRequired("Enter the company's name."), Length(max=200)],
    )
    phone = _text("Phone", 40)
    email = EmailField(
        "E-mail",
        filters=[strip],
        validators=[Optional(), Email(EMAIL_MESSAGE), Length(max=254)],
    )
    website = _text("Website", 200)
    industry = _text("Industry", 100)
    street = _text("Street", 200)
    city = _text("City", 100)
    region = _text("State / region", 100)
    postal_code = _text("Postal code", 20)
    country = _text("Country", 100)
    account_manager_id = SelectField("Account manager", coerce=optional_id, default=0)
    notes = TextAreaField("Notes", filters=[strip], validators=[Length(max=10_000)])

    def __init__(self, *args: Any, keep_manager_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members = active_members(keep_ids=(keep_manager_id,))
        self.account_manager_id.choices = [
            NONE_CHOICE,
            *(SelectChoice(m.id, m.name) for m in members),
        ]
        if self.account_manager_id.data is None:  # none stored, or none sent
            self.account_manager_id.data = 0


class ContactForm(FlaskForm):
    first_name = StringField(
        "First name",
        filters=[strip],
        validators=[DataRequired("Enter the first name."), Length(max=100)],
    )
    last_name = _text("Last name", 100)
    title = _text("Title", 120)
    company_id = SelectField("Company", coerce=optional_id, default=0)
    email = EmailField(
        "E-mail",
        filters=[strip],
        validators=[Optional(), Email(EMAIL_MESSAGE), Length(max=254)],
    )
    phone = _text("Phone", 40)
    mobile = _text("Mobile", 40)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.company_id.choices = [
            NONE_CHOICE,
            *(SelectChoice(c.id, c.name) for c in service.all_companies()),
        ]
        if self.company_id.data is None:  # none stored, or none sent
            self.company_id.data = 0


def _results_only() -> bool:
    """An htmx search wants the results alone; a history restore wants the whole page."""
    return is_htmx() and request.headers.get("HX-History-Restore-Request") != "true"


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and int(value) > 0 else 1


def _company_values(form: CompanyForm) -> service.CompanyValues:
    return service.CompanyValues(
        name=form.name.data or "",
        phone=form.phone.data or "",
        email=form.email.data or "",
        website=form.website.data or "",
        industry=form.industry.data or "",
        street=form.street.data or "",
        city=form.city.data or "",
        region=form.region.data or "",
        postal_code=form.postal_code.data or "",
        country=form.country.data or "",
        account_manager_id=form.account_manager_id.data or None,
        notes=form.notes.data or "",
    )


def _contact_values(form: ContactForm) -> service.ContactValues:
    return service.ContactValues(
        first_name=form.first_name.data or "",
        last_name=form.last_name.data or "",
        title=form.title.data or "",
        email=form.email.data or "",
        phone=form.phone.data or "",
        mobile=form.mobile.data or "",
        company_id=form.company_id.data or None,
    )


# ---------------------------------------------------------------- companies


@bp.get("/companies")
def index() -> str:
    """The list; an htmx search asks for the results alone."""
    q = request.args.get("q", "").strip()
    result = service.company_list(q, _page_number())
    template = "companies/_results.html" if _results_only() else "companies/index.html"
    return render_template(template, page=result, q=q)


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
        activities=service.recent_company_activities(company.id),
        website_href=service.website_href(company.website),
    )


@bp.route("/companies/new", methods=["GET", "POST"])
def company_new() -> str | Response:
    form = CompanyForm()
    if form.validate_on_submit():
        company = service.save_company(None, _company_values(form))
        db.session.commit()
        return redirect(url_for(".detail", company_id=company.id))
    return render_template("companies/form.html", form=form, company=None)


@bp.route("/companies/<int:company_id>/edit", methods=["GET", "POST"])
def company_edit(company_id: int) -> str | Response:
    company = get_or_404(Company, company_id)
    form = CompanyForm(obj=company, keep_manager_id=company.account_manager_id)
    if form.validate_on_submit():
        service.save_company(company, _company_values(form))
        db.session.commit()
        return redirect(url_for(".detail", company_id=company_id))
    return render_template("companies/form.html", form=form, company=company)


# ---------------------------------------------------------------- contacts


@bp.get("/contacts")
def contact_index() -> str:
    q = request.args.get("q", "").strip()
    result = service.contact_list(q, _page_number())
    template = "contacts/_results.html" if _results_only() else "contacts/index.html"
    return render_template(template, page=result, q=q)


@bp.get("/contacts/<int:contact_id>")
def contact_detail(contact_id: int) -> str:
    contact = service.load_contact(contact_id)
    if contact is None:
        abort(404)
    return render_template(
        "contacts/detail.html",
        contact=contact,
        opportunities=service.contact_opportunities(contact.id),
        activities=service.recent_contact_activities(contact.id),
    )


@bp.route("/contacts/new", methods=["GET", "POST"])
def contact_new() -> str | Response:
    form = ContactForm()
    company_id = request.args.get("company_id", "")
    if not form.is_submitted() and company_id.isdigit():
        form.company_id.data = int(company_id)
    if form.validate_on_submit():
        contact = service.save_contact(None, _contact_values(form))
        db.session.commit()
        return redirect(url_for(".contact_detail", contact_id=contact.id))
    return render_template("contacts/form.html", form=form, contact=None)


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
def contact_edit(contact_id: int) -> str | Response:
    contact = get_or_404(Contact, contact_id)
    form = ContactForm(obj=contact)
    if form.validate_on_submit():
        service.save_contact(contact, _contact_values(form))
        db.session.commit()
        return redirect(url_for(".contact_detail", contact_id=contact_id))
    return render_template("contacts/form.html", form=form, contact=contact)
