"""The forms of tracks: a track, one of its steps, and putting contacts on a track."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from crmlite.models import StepAction, StepAssignee
from crmlite.services import reference, track_setup
from crmlite.services.pick_lists import active_members
from crmlite.services.track_setup import StepValues, TrackValues
from crmlite.web.fields import IdSelectField, LineField, WholeNumberField

ACTIONS = [
    SelectChoice(StepAction.ACTIVITY.value, "Schedule an activity"),
    SelectChoice(StepAction.EMAIL.value, "Send an e-mail"),
    SelectChoice(StepAction.ADD_TO_TRACK.value, "Add the contact to another track"),
]
ASSIGNEES = [
    SelectChoice(StepAssignee.ACCOUNT_MANAGER.value, "The contact's account manager"),
    SelectChoice(StepAssignee.ENROLLING_MEMBER.value, "The member who enrolled them"),
    SelectChoice(StepAssignee.MEMBER.value, "A named member"),
]


def show_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    """The rules' messages (``track_setup``) next to their fields, but where the field
    could not even be read: its own message says more."""
    for name, message in errors.items():
        field = getattr(form, name)
        if not field.errors:
            field.errors = [message]


class TrackForm(FlaskForm):
    name = LineField("Name", validators=[DataRequired("Name the track."), Length(max=120)])
    kind_id = IdSelectField("Kind")
    industry = LineField(
        "Industry", validators=[Length(max=100)], description="For an Industry Specific track."
    )
    description = TextAreaField("Description", validators=[Length(max=5000)])
    on_complete_track_id = IdSelectField("On completion, join")
    active = BooleanField("Active", default=True)
    runs_alongside = BooleanField(
        "Contacts may be on this track and another at once",
        description="Otherwise joining it ends the contact's other such tracks "
        "(e.g. Lost Sale ends General Interest).",
    )

    def __init__(self, *args: Any, track_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind_id.set_choices(reference.track_kinds(), none=False)
        self.on_complete_track_id.set_choices(
            [t for t in track_setup.tracks_by_name() if t.id != track_id]
        )

    def values(self) -> TrackValues:
        return TrackValues(
            name=self.name.data or "",
            kind_id=self.kind_id.data or 0,
            industry=self.industry.data or "",
            description=self.description.data or "",
            active=bool(self.active.data),
            on_complete_track_id=self.on_complete_track_id.data or None,
            runs_alongside=bool(self.runs_alongside.data),
        )


class StepForm(FlaskForm):
    day_offset = WholeNumberField(
        "Days after enrollment",
        what="The number of days",
        maximum=track_setup.MAX_DAY_OFFSET,
        required=True,
    )
    action = SelectField("Action", choices=ACTIONS)
    activity_type_id = IdSelectField("Activity type")
    subject = LineField(
        "Subject",
        validators=[Length(max=200)],
        description="{name} becomes the contact's first name.",
    )
    body = TextAreaField("Notes or e-mail text", validators=[Length(max=20_000)])
    assignee_rule = SelectField("Assigned to", choices=ASSIGNEES)
    assignee_id = IdSelectField("Named member")
    target_track_id = IdSelectField("Track to join")

    def __init__(self, *args: Any, keep_assignee_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.activity_type_id.set_choices(reference.active_activity_types(), label="label")
        self.assignee_id.set_choices(active_members(keep_ids=(keep_assignee_id,)))
        self.target_track_id.set_choices(track_setup.tracks_by_name())

    def values(self) -> StepValues:
        return StepValues(
            day_offset=self.day_offset.data,
            action=self.action.data or "",
            activity_type_id=self.activity_type_id.data or None,
            subject=self.subject.data or "",
            body=self.body.data or "",
            assignee_rule=self.assignee_rule.data or "",
            assignee_id=self.assignee_id.data or None,
            target_track_id=self.target_track_id.data or None,
        )


class EnrollForm(FlaskForm):
    track_id = IdSelectField("Track")
    starts_on = DateField("Starting", validators=[DataRequired("Enter a valid date.")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.track_id.set_choices(track_setup.tracks_by_name(active_only=True))
