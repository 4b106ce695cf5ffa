"""The web form of a campaign, as a website visitor fills it in: plain WTForms, without our
CSRF token (see ``public_pages``), with limits and messages written for the public."""

from __future__ import annotations

from typing import Any

from wtforms import EmailField, Form, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp, ValidationError

from crmlite.services import tracking
from crmlite.web import strip
from crmlite.web.fields import EmailAddress, LineField

FORM_MAX_LINKS = 2


def _no_links(field_name: str) -> Any:
    def check(_form: Form, field: StringField) -> None:
        if field.data and tracking.URL_RE.search(field.data):
            raise ValidationError(f"Remove the web address from your {field_name}.")

    return check


def _few_links(_form: Form, field: TextAreaField) -> None:
    if len(tracking.text_urls(field.data or "")) > FORM_MAX_LINKS:
        raise ValidationError(
            f"Your message has too many web addresses (at most {FORM_MAX_LINKS}). "
            "Remove some and send it again."
        )


class WebForm(Form):
    """What a website visitor sends. Plain WTForms: no CSRF token (see the module)."""

    name = LineField(
        "Your name",
        validators=[
            DataRequired("Enter your name."),
            Length(max=120, message="Keep your name under 120 characters."),
            _no_links("name"),
        ],
        render_kw={"autocomplete": "name"},
    )
    company = LineField(
        "Company",
        validators=[
            Length(max=200, message="Keep the company name under 200 characters."),
            _no_links("company name"),
        ],
        render_kw={"autocomplete": "organization"},
    )
    email = EmailField(
        "E-mail",
        filters=[strip],
        validators=[
            DataRequired("Enter your e-mail address."),
            Length(max=254, message="That e-mail address is too long."),
            EmailAddress("Enter a valid e-mail address, like name@example.com."),
        ],
        render_kw={"autocomplete": "email"},
    )
    phone = TelField(
        "Phone",
        filters=[strip],
        validators=[
            Length(max=40, message="Keep the phone number under 40 characters."),
            Regexp(
                r"^[0-9+().\-\s/x]*$",
                message="Enter a phone number: digits, spaces and + ( ) - only.",
            ),
        ],
        render_kw={"autocomplete": "tel"},
    )
    message = TextAreaField(
        "Message",
        filters=[strip],
        validators=[
            Length(max=4000, message="Keep your message under 4,000 characters."),
            _few_links,
        ],
        render_kw={"rows": 5},
    )
    # The honeypot: hidden from people, filled in by bots.
    website = StringField(
        "Leave this field empty", render_kw={"autocomplete": "off", "tabindex": "-1"}
    )
