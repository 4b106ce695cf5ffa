"""The forms of companies and contacts."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import EmailField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from crmlite.services import companies as service
from crmlite.services.pick_lists import active_members
from crmlite.web import strip
from crmlite.web.fields import EmailAddress, IdSelectField, LineField

EMAIL_MESSAGE = "Enter a valid e-mail address, like name@example.com."


def _text(label: str, max_length: int) -> LineField:
    return LineField(label, validators=[Optional(), Length(max=max_length)])


def _email() -> EmailField:
    return EmailField(
        "E-mail",
        filters=[strip],
        validators=[Optional(), EmailAddress(EMAIL_MESSAGE), Length(max=254)],
    )


class CompanyForm(FlaskForm):
    name = LineField(
        "Name", validators=[DataRequired("Enter the company's name."), Length(max=200)]
    )
    phone = _text("Phone", 40)
    email = _email()
    website = _text("Website", 200)
    industry = _text("Industry", 100)
    street = _text("Street", 200)
    city = _text("City", 100)
    region = _text("State / region", 100)
    postal_code = _text("Postal code", 20)
    country = _text("Country", 100)
    account_manager_id = IdSelectField("Account manager", default=0)
    notes = TextAreaField("Notes", filters=[strip], validators=[Length(max=10_000)])

    def __init__(self, *args: Any, keep_manager_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account_manager_id.set_choices(active_members(keep_ids=(keep_manager_id,)))

    def values(self) -> service.CompanyValues:
        return service.CompanyValues(
            name=self.name.data or "",
            phone=self.phone.data or "",
            email=self.email.data or "",
            website=self.website.data or "",
            industry=self.industry.data or "",
            street=self.street.data or "",
            city=self.city.data or "",
            region=self.region.data or "",
            postal_code=self.postal_code.data or "",
            country=self.country.data or "",
            account_manager_id=self.account_manager_id.data or None,
            notes=self.notes.data or "",
        )


class ContactForm(FlaskForm):
    first_name = LineField(
        "First name", validators=[DataRequired("Enter the first name."), Length(max=100)]
    )
    last_name = _text("Last name", 100)
    title = _text("Title", 120)
    company_id = IdSelectField("Company", default=0)
    email = _email()
    phone = _text("Phone", 40)
    mobile = _text("Mobile", 40)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.company_id.set_choices(service.all_companies())

    def values(self) -> service.ContactValues:
        return service.ContactValues(
            first_name=self.first_name.data or "",
            last_name=self.last_name.data or "",
            title=self.title.data or "",
            email=self.email.data or "",
            phone=self.phone.data or "",
            mobile=self.mobile.data or "",
            company_id=self.company_id.data or None,
        )
