"""The board's forms: a card's move (with the question the move asks first: why it was
lost, what was won and what becomes of its open activities, the next step, or whether to
reopen a closed deal) and the new opportunity added in place."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import HiddenInput

from crmlite.models import Rating
from crmlite.services import pick_lists, reference
from crmlite.web import strip
from crmlite.web.fields import IdSelectField, MoneyField, WholeNumberField

RATINGS = [r.value for r in Rating]


class MoveForm(FlaskForm):
    """A card dropped on (or moved with the keyboard to) another stage, with the answer to
    the question the move asked, if any."""

    # The stage it goes to: chosen in the "Move to…" control or by the drop, then carried
    # along hidden while a question is answered.
    stage_id = IdSelectField(validators=[InputRequired()], widget=HiddenInput())
    version = WholeNumberField(validators=[InputRequired()])
    # Which inline question the person answered: "lost", "won", "next_step" or "reopen"
    # (reopening a won or lost deal was confirmed).
    prompt = HiddenField()
    lost_reason = TextAreaField(
        "Why did they say no?", filters=[strip], validators=[Optional(), Length(max=2000)]
    )
    won_amount = MoneyField("Won amount")
    won_on = DateField("Won on", validators=[Optional()])
    # Won or Lost: what becomes of the deal's open activities (its remaining next steps).
    open_activities = RadioField(
        "Its open activities",
        choices=[
            SelectChoice("cancel", "Cancel them (no points; they stay in the history)"),
            SelectChoice("keep", "Keep them open"),
        ],
        default="cancel",
        validators=[Optional()],
    )
    # Won with set-up items of its Commitment checklist still open: the person confirms it.
    checklist_confirmed = BooleanField("Mark it won anyway, with these items open")
    skip_next_step = BooleanField()
    step_type_id = IdSelectField("Next step")
    step_subject = StringField("Subject", filters=[strip], validators=[Length(max=200)])
    step_date = DateField("Date", validators=[Optional()])
    step_start = TimeField("Start", validators=[Optional()])
    step_end = TimeField("End", validators=[Optional()])

    # The next step's details as services.activities.schedule_next_step names them.
    STEP_FIELDS = {
        "type_id": "step_type_id",
        "subject": "step_subject",
        "due_on": "step_date",
        "start": "step_start",
        "end": "step_end",
    }

    def offer_step_types(self) -> None:
        """The next step's types, read only when the question is shown: a plain move does
        not need them (the service checks the type chosen)."""
        self.step_type_id.set_choices(reference.active_activity_types(), label="label", none=False)


class NewOpportunityForm(FlaskForm):
    name = StringField(
        "Opportunity",
        filters=[strip],
        validators=[DataRequired("Name the opportunity."), Length(max=200)],
        description='e.g. "Tows R Us - Managed Services - Complete"',
    )
    company_name = StringField("Company", filters=[strip], validators=[Length(max=200)])
    contact_name = StringField("Contact", filters=[strip], validators=[Length(max=200)])
    # The service takes these ids as given: only those listed may be chosen.
    type_id = IdSelectField("Type", validate_choice=True)
    revenue = MoneyField("Revenue", default=Decimal("0.00"))
    expected_close_on = DateField("Expected close", validators=[Optional()])
    rating = SelectField("Rating", choices=[SelectChoice(r, r) for r in RATINGS], default="Medium")
    account_manager_id = IdSelectField("Account manager", validate_choice=True)
    campaign_id = IdSelectField("Campaign", validate_choice=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.type_id.set_choices(pick_lists.opportunity_types())
        self.account_manager_id.set_choices(pick_lists.active_members(), none=False)
        self.campaign_id.set_choices(pick_lists.campaigns())
