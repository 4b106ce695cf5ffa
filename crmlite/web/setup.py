"""Setup: team settings, members and the method's reference lists."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, ValidationError

from crmlite.extensions import db
from crmlite.models import Member, Role
from crmlite.services import members, reference
from crmlite.services.members import MIN_PASSWORD_LENGTH
from crmlite.services.team import get_team, is_valid_time_zone, update_team
from crmlite.web import get_or_404, require_role

bp = Blueprint("setup", __name__, url_prefix="/setup")

MANAGERS = (Role.ADMIN, Role.MANAGER)
ROLE_CHOICES = [SelectChoice(role.value, role.label) for role in Role]


class TeamForm(FlaskForm):
    name = StringField(
        "Team name", validators=[DataRequired("Enter the team's name."), Length(max=120)]
    )
    time_zone = StringField(
        "Time zone",
        description="An IANA name such as America/Los_Angeles or Europe/Paris.",
        validators=[DataRequired("Enter a time zone.")],
    )
    points_quota = IntegerField(
        "Monthly points quota",
        description="Each member's default; 500 in the method.",
        validators=[
            DataRequired("Enter the monthly points quota."),
            NumberRange(1, 100_000, "Enter a whole number from 1 to 100,000."),
        ],
    )

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
            Email("Enter a valid e-mail address."),
            Length(max=254),
        ],
    )
    title = StringField("Title", validators=[Optional(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    location_id = SelectField("Location", coerce=int)
    business_unit_id = SelectField("Business unit", coerce=int)
    points_quota = IntegerField(
        "Points quota override",
        description="Leave empty to use the team's quota.",
        validators=[Optional(), NumberRange(1, 100_000, "Enter a whole number from 1 to 100,000.")],
    )
    active = BooleanField("Active (may sign in)", default=True)

    def __init__(self, *args: object, member_id: int | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.member_id = member_id
        none = [SelectChoice(0, "—")]
        self.location_id.choices = none + [
            SelectChoice(x.id, x.name) for x in reference.locations()
        ]
        self.business_unit_id.choices = none + [
            SelectChoice(x.id, x.name) for x in reference.business_units()
        ]

    def validate_email(self, field: EmailField) -> None:
        if members.email_taken(field.data or "", except_id=self.member_id):
            raise ValidationError("Another member already uses this e-mail address.")


class NewMemberForm(MemberForm):
    password = PasswordField(
        "Initial password",
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
        validators=[
            DataRequired("Enter an initial password."),
            Length(
                min=MIN_PASSWORD_LENGTH, message=f"Use at least {MIN_PASSWORD_LENGTH} characters."
            ),
        ],
    )


@bp.get("/")
def index() -> str:
    types = reference.activity_types()
    return render_template(
        "setup/index.html",
        team=get_team(),
        stages=reference.stages(),
        activity_types=types,
        monthly_points_total=reference.monthly_points_total(types),
        campaign_types=reference.campaign_types(),
        track_kinds=reference.track_kinds(),
    )


@bp.route("/team", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def team() -> str | Response:
    settings = get_team()
    form = TeamForm(obj=settings)
    if form.validate_on_submit():
        update_team(
            settings,
            name=(form.name.data or "").strip(),
            time_zone=(form.time_zone.data or "").strip(),
            points_quota=form.points_quota.data or 0,
        )
        db.session.commit()
        flash("Team settings saved.", "success")
        return redirect(url_for("setup.index"))
    return render_template("setup/team.html", form=form)


@bp.get("/members")
@require_role(*MANAGERS)
def member_list() -> str:
    return render_template("setup/members.html", members=reference.members(), team=get_team())


@bp.route("/members/new", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def member_new() -> str | Response:
    form = NewMemberForm()
    if form.validate_on_submit():
        member = members.create_member(
            email=form.email.data or "",
            name=form.name.data or "",
            password=form.password.data or "",
            role=Role(form.role.data),
            title=form.title.data or "",
            location_id=form.location_id.data or None,
            business_unit_id=form.business_unit_id.data or None,
        )
        member.points_quota = form.points_quota.data
        member.active = form.active.data
        db.session.commit()
        flash(f"{member.name} can now sign in.", "success")
        return redirect(url_for("setup.member_list"))
    return render_template("setup/member.html", form=form, member=None)


@bp.route("/members/<int:member_id>", methods=["GET", "POST"])
@require_role(Role.ADMIN)
def member_edit(member_id: int) -> str | Response:
    member = get_or_404(Member, member_id)
    form = MemberForm(obj=member, member_id=member.id)
    if form.validate_on_submit():
        if member.id == current_user.id and (form.role.data != Role.ADMIN or not form.active.data):
            form.role.errors = [*form.role.errors, "You cannot remove your own admin rights."]
            return render_template("setup/member.html", form=form, member=member)
        members.update_member(
            member,
            email=form.email.data or "",
            name=form.name.data or "",
            title=form.title.data or "",
            role=Role(form.role.data),
            location_id=form.location_id.data or None,
            business_unit_id=form.business_unit_id.data or None,
            points_quota=form.points_quota.data,
            active=form.active.data,
        )
        db.session.commit()
        flash(f"{member.name} saved.", "success")
        return redirect(url_for("setup.member_list"))
    return render_template("setup/member.html", form=form, member=member)
