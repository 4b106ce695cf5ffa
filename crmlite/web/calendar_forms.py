"""The calendar's forms: a block dropped on another day or time, and the private feed's
subscription (create, reset, revoke) and what it shows."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectChoice, SelectField, StringField, TimeField
from wtforms.validators import InputRequired, Optional

from crmlite.web.fields import WholeNumberField


class MoveForm(FlaskForm):
    due_on = DateField(validators=[InputRequired("Say which day.")])
    # Empty: dropped on the day's "all day" row.
    start = TimeField(format="%H:%M", validators=[Optional()])
    version = WholeNumberField(validators=[InputRequired()])
    # The week on screen, to answer with that member's week as it now is.
    week = DateField(validators=[Optional()])
    weekend = StringField()
    side_by_side = StringField()


class SubscriptionForm(FlaskForm):
    action = SelectField(
        choices=[SelectChoice(action, action) for action in ("create", "reset", "revoke")],
        validators=[InputRequired()],
    )


class FeedSettingsForm(FlaskForm):
    """What my feed shows besides my open activities. An unticked box is not sent: off."""

    include_done = BooleanField("Show done activities (marked “✓ Done”)")
    include_captured = BooleanField("Show captured e-mails")
