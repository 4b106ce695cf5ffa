"""The forms of e-mail campaigns: contact groups, adding contacts by filter or from a CSV
file, and writing a campaign e-mail."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, SelectChoice, SelectField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Length, Optional

from crmlite.services import campaign_emails as emails
from crmlite.services import marketing_lists as lists
from crmlite.web.fields import IdSelectField, LineField

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


class SendForm(FlaskForm):
    """Send to a group (or queue what waits), now or from a later moment."""

    list_id = IdSelectField("Contact group")
    later = BooleanField("Send later")
    send_on = DateField("Day to send", validators=[Optional()])
    send_at = TimeField("Time", validators=[Optional()])

    def __init__(self, *args: Any, waiting: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.list_id.choices = [
            SelectChoice(
                s.group.id, f"{s.group.name} ({s.reachable:,} reachable of {s.contacts:,})"
            )
            for s in lists.summaries()
        ]
        if waiting:
            self.list_id.choices.insert(
                0, SelectChoice(0, f"(the {waiting:,} recorded but not queued yet)")
            )

    def starts_at(self, tz: ZoneInfo, now: datetime) -> datetime | None:
        """When sending may start: None for now; a later local moment, else an error on
        the field at fault (and None)."""
        if not self.later.data:
            return None
        if self.send_on.data is None:
            self.send_on.errors = ["Choose the day to send on."]
            return None
        moment = datetime.combine(self.send_on.data, self.send_at.data or time(9, 0), tz)
        if moment <= now:
            self.send_at.errors = ["Choose a moment in the future, or send now."]
            return None
        return moment
