"""Setup: team settings, members and the method's reference lists."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
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
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from crmlite.extensions import db
from crmlite.models import ActivityGroup, ActivityType, Member, Role
from crmlite.services import members, points, reference
from crmlite.services.members import MIN_PASSWORD_LENGTH
from crmlite.services.team import get_team, is_valid_time_zone, local_today, update_team
from crmlite.web import get_or_404, is_htmx, require_role, strip

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
        monthly_points_total=points.monthly_target(types),
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
            today=local_today(g.tz),
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
        try:
            members.update_member(
                member,
                by=current_user,
                today=local_today(g.tz),
                email=form.email.data or "",
                name=form.name.data or "",
                title=form.title.data or "",
                role=Role(form.role.data),
                location_id=form.location_id.data or None,
                business_unit_id=form.business_unit_id.data or None,
                points_quota=form.points_quota.data,
                active=form.active.data,
            )
        except members.MemberRefused as refused:
            field = getattr(form, refused.field)
            field.errors = [*field.errors, str(refused)]
            return render_template("setup/member.html", form=form, member=member)
        db.session.commit()
        flash(f"{member.name} saved.", "success")
        return redirect(url_for("setup.member_list"))
    return render_template("setup/member.html", form=form, member=member)


# -- activity types: the points table ----------------------------------------------------------

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
    points = IntegerField(
        "Points",
        validators=[
            InputRequired("Enter the points, 0 or more."),
            NumberRange(0, 1000, "Enter a whole number from 0 to 1,000."),
        ],
    )
    monthly_count = IntegerField(
        "Monthly count",
        validators=[
            InputRequired("Enter the recommended monthly count, 0 or more."),
            NumberRange(0, 1000, "Enter a whole number from 0 to 1,000."),
        ],
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


def _type_form(activity_type: ActivityType | None = None, **kwargs: Any) -> ActivityTypeForm:
    if activity_type is None:
        return ActivityTypeForm(prefix="new", **kwargs)
    return ActivityTypeForm(
        prefix=f"type-{activity_type.id}", type_id=activity_type.id, obj=activity_type, **kwargs
    )


def _activity_types(
    *,
    editing: ActivityType | None = None,
    edit_form: ActivityTypeForm | None = None,
    new_form: ActivityTypeForm | None = None,
    message: str = "",
    error: str = "",
) -> str:
    """The activity-types section (or the whole page for a plain request)."""
    types = reference.activity_types()
    if editing is not None and edit_form is None:
        edit_form = _type_form(editing, formdata=None)
    context = {
        "activity_types": types,
        "in_use": points.types_in_use(),
        "monthly_points_total": points.monthly_target(types),
        "team": get_team(),
        "own_quotas": points.members_with_own_quota(),
        "editing_id": editing.id if editing is not None else None,
        "edit_form": edit_form,
        "new_form": new_form or _type_form(formdata=None),
        "message": message,
        "error": error,
    }
    template = "setup/_activity_types.html" if is_htmx() else "setup/activity_types.html"
    return render_template(template, **context)


def _saved(message: str) -> str | Response:
    if is_htmx():
        return _activity_types(message=message)
    flash(message, "success")
    return redirect(url_for("setup.activity_types"))


def _type_values(form: ActivityTypeForm) -> dict[str, Any]:
    return {
        "code": form.code.data or "",
        "name": form.name.data or "",
        "group": ActivityGroup(form.group.data),
        "points": form.points.data or 0,
        "monthly_count": form.monthly_count.data or 0,
        "active": form.active.data,
    }


@bp.get("/activity-types")
@require_role(*MANAGERS)
def activity_types() -> str:
    """The points table, editable in place: ``?edit=<id>`` opens a row for editing."""
    editing = request.args.get("edit", type=int)
    return _activity_types(editing=get_or_404(ActivityType, editing) if editing else None)


@bp.post("/activity-types")
@require_role(*MANAGERS)
def activity_type_create() -> str | Response:
    form = _type_form()
    if not form.validate():
        return _activity_types(new_form=form)
    created = points.save_activity_type(None, **_type_values(form))
    db.session.commit()
    return _saved(f"{created.label} added.")


@bp.post("/activity-types/<int:type_id>")
@require_role(*MANAGERS)
def activity_type_update(type_id: int) -> str | Response:
    activity_type = get_or_404(ActivityType, type_id)
    form = _type_form(activity_type)
    if not form.validate():
        return _activity_types(editing=activity_type, edit_form=form)
    points.save_activity_type(activity_type, **_type_values(form))
    db.session.commit()
    return _saved(f"{activity_type.label} saved.")


@bp.post("/activity-types/<int:type_id>/active")
@require_role(*MANAGERS)
def activity_type_active(type_id: int) -> str | Response:
    """Deactivate (no longer offered for new activities; what it earned stays) or activate."""
    activity_type = get_or_404(ActivityType, type_id)
    active = request.form.get("active") == "1"
    points.set_type_active(activity_type, active)
    db.session.commit()
    return _saved(f"{activity_type.label} {'activated' if active else 'deactivated'}.")


@bp.post("/activity-types/<int:type_id>/delete")
@require_role(*MANAGERS)
def activity_type_delete(type_id: int) -> str | Response:
    activity_type = get_or_404(ActivityType, type_id)
    label = activity_type.label
    try:
        points.delete_activity_type(activity_type)
    except points.TypeInUse:
        db.session.rollback()
        error = f"{label} is in use by activities or track steps: deactivate it instead."
        if is_htmx():
            return _activity_types(error=error)
        flash(error, "error")
        return redirect(url_for("setup.activity_types"))
    db.session.commit()
    return _saved(f"{label} deleted.")
