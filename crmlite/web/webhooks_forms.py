"""The webhook form: where events go, which ones, and whether private targets are allowed."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectMultipleField, StringField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from crmlite.services.webhooks import EVENT_TYPES
from crmlite.web import strip
from crmlite.web.fields import LineField


class CheckboxesField(SelectMultipleField):
    """One checkbox per choice (the events)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class WebhookForm(FlaskForm):
    # The URL's one parser is services/webhook_targets.py (called by the service on save):
    # its refusal is shown next to this field.
    url = StringField(
        "URL",
        filters=[strip],
        description="Where crmlite POSTs the events, e.g. https://hooks.example.com/crm.",
        render_kw={"inputmode": "url", "autocomplete": "off"},
    )
    description = LineField("Description", validators=[Optional(), Length(max=200)])
    events = CheckboxesField(
        "Events",
        choices=[SelectChoice(name, label) for name, label in EVENT_TYPES.items()],
        description="The events this URL hears about.",
    )
    active = BooleanField("Active (deliveries wait while it is paused)", default=True)
    allow_private = BooleanField(
        "Allow private targets",
        description="Only for a receiver inside your network (a private, loopback or "
        "link-local address). Recorded in the audit log.",
    )
