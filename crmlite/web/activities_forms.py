"""The activity form: log or schedule an activity in place, from anywhere, or edit one."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, Optional

from crmlite.models import PLACES, ActivityStatus
from crmlite.services import activities, pick_lists, reference
from crmlite.services.parsing import parse_id
from crmlite.web import strip
from crmlite.web.fields import IdSelectField, WholeNumberField

CONTEXT_FIELDS = ("opportunity_id", "company_id", "contact_id", "campaign_id")


class ActivityForm(FlaskForm):
    # The service takes these ids as given: only those listed may be chosen.
    type_id = IdSelectField("Type", validate_choice=True)
    subject = StringField(
        "Subject", filters=[strip], validators=[DataRequired("Enter a subject."), Length(max=200)]
    )
    due_on = DateField("Date", validators=[DataRequired("Enter a valid date.")])
    start = TimeField("Start", validators=[Optional()])
    end = TimeField("End", validators=[Optional()])
    assigned_to_id = IdSelectField("Assigned to", validate_choice=True)
    place = SelectField(
        "Where",
        choices=[SelectChoice("", "—")] + [SelectChoice(p, p) for p in PLACES],
        validators=[Optional()],
    )
    reminder_minutes = WholeNumberField(
        "Reminder (minutes before)",
        what="The reminder",
        maximum=activities.LONGEST_REMINDER,
    )
    # Cancelled is not chosen here: closing a deal cancels its open activities (see
    # ``keep_cancelled`` for editing one of them).
    status = SelectField(
        "Status",
        choices=[
            SelectChoice(s.value, s.value) for s in (ActivityStatus.OPEN, ActivityStatus.CLOSED)
        ],
    )
    note = TextAreaField("Add a note", filters=[strip], validators=[Length(max=10_000)])
    # Where it was logged from, carried along; anything that is not an id is ignored.
    opportunity_id = HiddenField()
    company_id = HiddenField()
    contact_id = HiddenField()
    campaign_id = HiddenField()
    # The version of the activity the form was opened at.
    version = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.type_id.set_choices(reference.active_activity_types(), label="label", none=False)
        self.assigned_to_id.set_choices(pick_lists.active_members(), none=False)

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        if self.start.errors or self.end.errors:
            return ok
        try:
            activities.check_times(self.start.data, self.end.data)
        except activities.InvalidActivity as refused:
            for name, message in refused.errors.items():
                self[name].errors.append(message)
            return False
        return ok

    def keep_cancelled(self) -> None:
        """Editing a cancelled activity: it may stay cancelled (or be opened or marked done)."""
        cancelled = ActivityStatus.CANCELLED.value
        self.status.choices = [*self.status.choices, SelectChoice(cancelled, cancelled)]

    def details(self) -> dict[str, Any]:
        """What was entered, as services.activities' schedule_activity and update_activity
        take it; after validate(), so the ids are among those listed."""
        return {
            "subject": self.subject.data or "",
            "type_id": self.type_id.data,
            "due_on": self.due_on.data,
            "start": self.start.data,
            "end": self.end.data,
            "assigned_to_id": self.assigned_to_id.data,
            "place": self.place.data or "",
            "reminder_minutes": self.reminder_minutes.data,
        }

    def context_ids(self) -> dict[str, int | None]:
        """The ids of the records it is logged from (None for what is not an id)."""
        return {name: parse_id(self[name].data) for name in CONTEXT_FIELDS}

    def opened_version(self) -> int:
        """The version the activity had when the form opened; 0 (never current) when
        missing or malformed, so the save is refused as a change made meanwhile. Versions
        count from 1, as ids do."""
        return parse_id(self.version.data) or 0
