"""Setup's forms: team settings, a member, and a row of the activity types' points
table."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from crmlite.models import ActivityGroup, Paper, Role
from crmlite.services import members, pick_lists, points, reference
from crmlite.services.members import PASSWORD_HINT
from crmlite.services.money import is_currency
from crmlite.services.team import is_valid_time_zone
from crmlite.web import strip
from crmlite.web.fields import EmailAddress, IdSelectField, LineField, MoneyField, WholeNumberField

ROLE_CHOICES = [SelectChoice(role.value, role.label) for role in Role]
MAX_POINTS_QUOTA = 100_000


def upper_code(value: str | None) -> str:
    """WTForms filter: " eur " means "EUR"."""
    return (value or "").strip().upper()


class TeamForm(FlaskForm):
    name = StringField(
        "Team name", validators=[DataRequired("Enter the team's name."), Length(max=120)]
    )
    time_zone = StringField(
        "Time zone",
        description="An IANA name such as America/Los_Angeles or Europe/Paris.",
        validators=[DataRequired("Enter a time zone.")],
    )
    points_quota = WholeNumberField(
        "Monthly points quota",
        what="The monthly points quota",
        minimum=1,
        maximum=MAX_POINTS_QUOTA,
        description="Each member's default; 500 in the method.",
        validators=[InputRequired("Enter the monthly points quota.")],
    )

    currency = StringField(
        "Currency",
        filters=[upper_code],
        description="The ISO 4217 code amounts are shown in, e.g. USD, EUR or GBP. "
        "Amounts are not converted.",
        # Left out: the team keeps its currency.
        validators=[Optional()],
    )

    paper = SelectField(
        "Paper",
        choices=[SelectChoice(paper.value, paper.label) for paper in Paper],
        description="The paper size of the PDFs crmlite makes (the points sheets). "
        "A browser's print uses the printer's paper.",
        # Left out: the team keeps its paper.
        validators=[Optional()],
    )

    def validate_currency(self, field: StringField) -> None:
        if field.data and not is_currency(field.data):
            raise ValidationError("Unknown currency. Use an ISO 4217 code like USD, EUR or GBP.")

    def validate_time_zone(self, field: StringField) -> None:
        if not is_valid_time_zone((field.data or "").strip()):
            raise ValidationError("Unknown time zone. Use a name like America/Chicago.")


class MemberForm(FlaskForm):
    name = StringField(
        "Name", validators=[DataRequired("Enter the member's name."), Length(max=120)]
    )
    email = EmailField(
        "E-mail",
        validators=[
            DataRequired("Enter an e-mail address."),
            EmailAddress("Enter a valid e-mail address."),
            Length(max=254),
        ],
    )
    title = StringField("Title", validators=[Optional(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    # The service takes these ids as given: only those listed may be chosen.
    location_id = IdSelectField("Location", validate_choice=True)
    business_unit_id = IdSelectField("Business unit", validate_choice=True)
    points_quota = WholeNumberField(
        "Points quota override",
        what="The points quota",
        minimum=1,
        maximum=MAX_POINTS_QUOTA,
        description="Leave empty to use the team's quota.",
    )
    cost_rate = MoneyField(
        "Cost rate per hour",
        what="The cost rate",
        description="What an hour of their time costs; time they log on deals costs hours × it.",
    )
    active = BooleanField("Active (may sign in)", default=True)

    def __init__(self, *args: object, member_id: int | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.member_id = member_id
        # Active ones, and the member's own even if it was deactivated since.
        member = kwargs.get("obj")
        self.location_id.set_choices(
            pick_lists.locations(keep_id=getattr(member, "location_id", None))
        )
        self.business_unit_id.set_choices(
            pick_lists.business_units(keep_id=getattr(member, "business_unit_id", None))
        )

    def validate_email(self, field: EmailField) -> None:
        if members.email_taken(field.data or "", except_id=self.member_id):
            raise ValidationError("Another member already uses this e-mail address.")


class NewMemberForm(MemberForm):
    password = PasswordField(
        "Initial password",
        description=PASSWORD_HINT,
        validators=[DataRequired("Enter an initial password.")],
        render_kw={"autocomplete": "new-password"},
    )

    def validate_password(self, field: PasswordField) -> None:
        refusal = members.password_refusal(field.data or "", email=self.email.data or "")
        if refusal is not None:
            raise ValidationError(refusal)


# -- activity types: the points table

GROUP_CHOICES = [SelectChoice(group.value, group.label) for group in ActivityGroup]


class ActivityTypeForm(FlaskForm):
    code = StringField(
        "Code",
        filters=[strip],
        validators=[
            DataRequired("Enter a code."),
            Length(max=10, message="At most 10 characters."),
            Regexp(r"^[A-Za-z0-9]+$", message="Letters and digits only, e.g. TBR."),
        ],
    )
    name = StringField(
        "Activity",
        filters=[strip],
        validators=[DataRequired("Enter the activity's name."), Length(max=120)],
    )
    group = SelectField("Group", choices=GROUP_CHOICES)
    points = WholeNumberField(
        "Points",
        maximum=1000,
        validators=[InputRequired("Enter the points, 0 or more.")],
    )
    monthly_count = WholeNumberField(
        "Monthly count",
        maximum=1000,
        validators=[InputRequired("Enter the recommended monthly count, 0 or more.")],
    )
    active = BooleanField("Active", default=True)

    def __init__(self, *args: Any, type_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.type_id = type_id

    def validate_code(self, field: StringField) -> None:
        if points.code_taken(field.data or "", except_id=self.type_id):
            raise ValidationError("Another activity type has this code.")

    def validate_name(self, field: StringField) -> None:
        if points.name_taken(field.data or "", except_id=self.type_id):
            raise ValidationError("Another activity type has this name.")


class StageNextStepForm(FlaskForm):
    """A stage's next-step type: the kind of activity a move there offers first."""

    next_step_type_id = IdSelectField("Next-step type", validate_choice=True)

    def __init__(self, *args: Any, stage_id: int, **kwargs: Any) -> None:
        super().__init__(*args, prefix=f"stage-{stage_id}", **kwargs)
        self.stage_id = stage_id
        self.next_step_type_id.set_choices(reference.active_activity_types(), label="label")


class PlaceForm(FlaskForm):
    """A location's or business unit's name; the service checks it (services/places.py)."""

    name = LineField("Name")
