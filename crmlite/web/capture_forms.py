"""E-mail capture's forms: the message (an .eml file or pasted source) and the contact an
unmatched e-mail is given."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import Field, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from crmlite.models import Contact
from crmlite.services.email_reading import read_message
from crmlite.web.fields import IdSelectField


class CaptureForm(FlaskForm):
    message_file = FileField(
        "E-mail file (.eml)",
        description="Save the e-mail from your mail program as .eml (“Download original”).",
        render_kw={"accept": ".eml,message/rfc822"},
    )
    raw_message = TextAreaField(
        "…or paste the raw message",
        description="Its full source, headers included (“Show original”, “View source”).",
        render_kw={"rows": 14, "spellcheck": "false"},
    )

    def has_file(self) -> bool:
        return bool(self.message_file.data and self.message_file.data.filename)

    def validate_message_file(self, _field: FileField) -> None:
        has_text = bool((self.raw_message.data or "").strip())
        if not self.has_file() and not has_text:
            raise ValidationError("Upload an .eml file or paste the raw message.")
        if self.has_file() and has_text:
            raise ValidationError("Upload a file or paste a message, not both.")

    def message(self) -> tuple[bytes, int, Field]:
        """The raw message (its beginning when it is too large), its size, and the field it
        came from (where its error goes)."""
        if self.has_file():
            data, size = read_message(self.message_file.data.stream)
            return data, size, self.message_file
        data = (self.raw_message.data or "").encode("utf-8")
        return data, len(data), self.raw_message


class AssignForm(FlaskForm):
    contact_id = IdSelectField(
        "Contact", validate_choice=True, invalid_choice_message="Choose a contact from the list."
    )

    def __init__(self, *args: Any, contacts: list[Contact], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.contact_id.choices = [
            SelectChoice(c.id, f"{c.name} ({c.company.name})" if c.company else c.name)
            for c in contacts
        ]
