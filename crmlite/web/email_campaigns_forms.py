"""The forms of e-mail campaigns: contact groups, adding contacts by filter or from a CSV
file, and writing a campaign e-mail."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from crmlite.services import campaign_emails as emails
from crmlite.services import marketing_lists as lists
from crmlite.web.fields import LineField

PLACEHOLDER_HINT = (
    "Placeholders: {{ first_name }}, {{ last_name }}, {{ name }}, {{ company }}, {{ email }}; "
    'e.g. Hello {{ first_name|default("there", true) }},'
)


class GroupForm(FlaskForm):
    name = LineField("Name", validators=[DataRequired("Enter the group's name."), Length(max=120)])
    description = TextAreaField("Description", validators=[Length(max=2000)], render_kw={"rows": 2})


class FilterForm(FlaskForm):
    industry = SelectField("Company industry", validate_choice=False)
    city = SelectField("City", validate_choice=False)
    reachable_only = BooleanField(
        "Only contacts with an e-mail address who have not unsubscribed", default=True
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        industries, cities = lists.filter_choices()
        self.industry.choices = [("", "Any industry")] + [(i, i) for i in industries]
        self.city.choices = [("", "Any city")] + [(c, c) for c in cities]

    def contact_filter(self) -> lists.ContactFilter:
        return lists.ContactFilter(
            industry=self.industry.data or "",
            city=self.city.data or "",
            reachable_only=bool(self.reachable_only.data),
        )


class CsvForm(FlaskForm):
    csv_file = FileField(
        "CSV file of e-mail addresses",
        description="Any column may hold the addresses; addresses of no contact are listed, "
        "not created. 1 MB at most.",
        render_kw={"accept": ".csv,text/csv,text/plain"},
    )


class EmailForm(FlaskForm):
    subject = LineField(
        "Subject",
        validators=[DataRequired("Enter a subject."), Length(max=emails.MAX_SUBJECT)],
    )
    body_text = TextAreaField(
        "Text",
        validators=[DataRequired("Write the text of the e-mail."), Length(max=emails.MAX_BODY)],
        description=PLACEHOLDER_HINT,
        render_kw={"rows": 12},
    )
    body_html = TextAreaField(
        "HTML (optional)",
        validators=[Length(max=emails.MAX_BODY)],
        description="Simple HTML with the same placeholders. Left empty, it is made from the "
        "text. Links are tracked; an unsubscribe link is added at the end.",
        render_kw={"rows": 12, "spellcheck": "false"},
    )
