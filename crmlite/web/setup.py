"""Setup: team settings, members and the method's reference lists."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from crmlite import links
from crmlite.database import utcnow
from crmlite.extensions import db
from crmlite.models import ActivityGroup, ActivityType, Member, Paper, Role, SalesStage
from crmlite.services import (
    archive,
    funnel,
    members,
    password_resets,
    places,
    points,
    reference,
    sessions,
    time_expenses,
)
from crmlite.services.parsing import parse_id
from crmlite.services.team import get_team, local_today, update_team
from crmlite.web import exporting, get_or_404, is_htmx, may
from crmlite.web.sessions import ask_for_fresh_password
from crmlite.web.setup_forms import (
    ActivityTypeForm,
    MemberForm,
    NewMemberForm,
    PlaceForm,
    StageNextStepForm,
    TeamForm,
)

bp = Blueprint("setup", __name__, url_prefix="/setup")

# Changes in Setup (every POST, and every page but these read-only lists) need the password
# typed within FRESH_PASSWORD_MINUTES; otherwise "Confirm your password" comes first.
READ_ONLY_PAGES = {"setup.index", "setup.member_list", "setup.places"}


@bp.before_request
def confirm_password_before_changes() -> Response | None:
    if request.method in ("GET", "HEAD") and request.endpoint in READ_ONLY_PAGES:
        return None
    return ask_for_fresh_password()


@bp.get("/")
def index() -> str:
    return _index()


def _index(failed: StageNextStepForm | None = None, message: str = "") -> str:
    types = reference.activity_types()
    return render_template(
        "setup/index.html",
        team=get_team(),
        **_stages_context(failed, message),
        activity_types=types,
        monthly_points_total=points.monthly_target(types),
        campaign_types=reference.campaign_types(),
        track_kinds=reference.track_kinds(),
    )


@bp.route("/team", methods=["GET", "POST"])
def team() -> str | Response:
    settings = get_team()
    form = TeamForm(obj=settings)
    if form.validate_on_submit():
        update_team(
            settings,
            name=(form.name.data or "").strip(),
            time_zone=(form.time_zone.data or "").strip(),
            points_quota=form.points_quota.data or 0,
            currency=form.currency.data or None,
            paper=Paper(form.paper.data) if form.paper.data else None,
            today=local_today(g.tz),
            by=current_user,
        )
        db.session.commit()
        flash("Team settings saved.", "success")
        return redirect(url_for("setup.index"))
    return render_template("setup/team.html", form=form)


@bp.get("/archive.zip")
def archive_download() -> Response:
    """The whole database as a portable archive (admins): written to a temporary file in
    one read transaction, then sent."""
    with exporting.temporary_file() as (handle, path):
        archive.write_archive(handle)
    name = f"crmlite-archive-{local_today(g.tz):%Y-%m-%d}.zip"
    return exporting.send_temporary(path, "application/zip", name)


@bp.get("/members")
def member_list() -> str:
    return render_template("setup/members.html", members=reference.members(), team=get_team())


@bp.route("/members/new", methods=["GET", "POST"])
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
        time_expenses.set_cost_rate(member, form.cost_rate.data)
        db.session.commit()
        flash(f"{member.name} can now sign in.", "success")
        return redirect(url_for("setup.member_list"))
    return render_template("setup/member.html", form=form, member=None)


@bp.route("/members/<int:member_id>", methods=["GET", "POST"])
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
        time_expenses.set_cost_rate(member, form.cost_rate.data)
        db.session.commit()
        flash(f"{member.name} saved.", "success")
        return redirect(url_for("setup.member_list"))
    return render_template("setup/member.html", form=form, member=member)


@bp.post("/members/<int:member_id>/sign-out-everywhere")
def member_sign_out_everywhere(member_id: int) -> Response:
    """End every sign-in of this member (a lost phone, a shared computer)."""
    member = get_or_404(Member, member_id)
    sessions.sign_out_everywhere(member, by=current_user, now=utcnow())
    db.session.commit()
    if member.id == current_user.id:
        session.clear()
        logout_user()
        flash("You are signed out everywhere, this browser included.", "success")
        return redirect(url_for("auth.login"))
    flash(f"{member.name} is signed out everywhere.", "success")
    return redirect(url_for("setup.member_edit", member_id=member.id))


@bp.post("/members/<int:member_id>/reset-link")
def member_reset_link(member_id: int) -> str | Response:
    """A one-time link for the member to set a new password, shown here once (and e-mailed
    to them when a mail server is configured)."""
    member = get_or_404(Member, member_id)
    if not member.active:
        flash(f"{member.name} is inactive: activate them first.", "error")
        return redirect(url_for("setup.member_edit", member_id=member.id))
    token = password_resets.issue_reset_token(member, by=current_user, now=utcnow())
    link = links.absolute_url("auth.reset_password", token=token)
    mailed = password_resets.mail_is_configured()
    if mailed:
        password_resets.queue_reset_link(member, link, team_name=get_team().name, now=utcnow())
    db.session.commit()
    return render_template(
        "setup/member.html",
        form=MemberForm(obj=member, member_id=member.id, formdata=None),
        member=member,
        reset_link=link,
        reset_minutes=int(password_resets.LINK_LIFETIME.total_seconds() // 60),
        mailed=mailed,
    )


# -- activity types: the points table ----------------------------------------------------------


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
def activity_types() -> str:
    """The points table, editable in place: ``?edit=<id>`` opens a row for editing."""
    editing = parse_id(request.args.get("edit"))
    return _activity_types(editing=get_or_404(ActivityType, editing) if editing else None)


@bp.post("/activity-types")
def activity_type_create() -> str | Response:
    form = _type_form()
    if not form.validate():
        return _activity_types(new_form=form)
    created = points.save_activity_type(None, **_type_values(form), by=current_user)
    db.session.commit()
    return _saved(f"{created.label} added.")


@bp.post("/activity-types/<int:type_id>")
def activity_type_update(type_id: int) -> str | Response:
    activity_type = get_or_404(ActivityType, type_id)
    form = _type_form(activity_type)
    if not form.validate():
        return _activity_types(editing=activity_type, edit_form=form)
    points.save_activity_type(activity_type, **_type_values(form), by=current_user)
    db.session.commit()
    return _saved(f"{activity_type.label} saved.")


@bp.post("/activity-types/<int:type_id>/active")
def activity_type_active(type_id: int) -> str | Response:
    """Deactivate (no longer offered for new activities; what it earned stays) or activate."""
    activity_type = get_or_404(ActivityType, type_id)
    active = request.form.get("active") == "1"
    points.set_type_active(activity_type, active, by=current_user)
    db.session.commit()
    return _saved(f"{activity_type.label} {'activated' if active else 'deactivated'}.")


@bp.post("/activity-types/<int:type_id>/delete")
def activity_type_delete(type_id: int) -> str | Response:
    activity_type = get_or_404(ActivityType, type_id)
    label = activity_type.label
    try:
        points.delete_activity_type(activity_type, by=current_user)
    except points.TypeInUse:
        db.session.rollback()
        error = f"{label} is in use by activities or track steps: deactivate it instead."
        if is_htmx():
            return _activity_types(error=error)
        flash(error, "error")
        return redirect(url_for("setup.activity_types"))
    db.session.commit()
    return _saved(f"{label} deleted.")


# -- stages: each one's next-step type ------------------------------------------------------


def _stage_form(stage: SalesStage, **kwargs: Any) -> StageNextStepForm:
    return StageNextStepForm(stage_id=stage.id, **kwargs)


def _stages_context(failed: StageNextStepForm | None, message: str) -> dict[str, Any]:
    """The stages with, for whoever may change them, a form per open stage (``failed``: the
    one sent with a mistake, shown with its message)."""
    stage_list = reference.stages()
    forms: dict[int, StageNextStepForm] = {}
    if may("setup.points_table"):
        for stage in stage_list:
            if stage.is_closed:
                continue
            if failed is not None and failed.stage_id == stage.id:
                forms[stage.id] = failed
            else:
                forms[stage.id] = _stage_form(stage, formdata=None, obj=stage)
    type_names = {t.id: t.label for t in reference.activity_types()}
    return {
        "stages": stage_list,
        "stage_forms": forms,
        "type_names": type_names,
        "stages_message": message,
    }


def _stages(failed: StageNextStepForm | None = None, message: str = "") -> str:
    if is_htmx():
        return render_template("setup/_stages.html", **_stages_context(failed, message))
    return _index(failed, message)


@bp.post("/stages/<int:stage_id>/next-step-type")
def stage_next_step_type(stage_id: int) -> str | Response:
    """The kind of activity a move to this stage offers first in its next-step question."""
    stage = get_or_404(SalesStage, stage_id)
    form = _stage_form(stage)
    if stage.is_closed:
        return _stages(message=f"{stage.name} asks for no next step; nothing changed.")
    if not form.validate():
        return _stages(form)
    try:
        funnel.set_next_step_type(stage, form.next_step_type_id.data or None, by=current_user)
    except ValueError as refused:
        db.session.rollback()
        form.next_step_type_id.errors = [str(refused)]
        return _stages(form)
    db.session.commit()
    message = f"{stage.name}: next-step type saved."
    if is_htmx():
        return _stages(message=message)
    flash(message, "success")
    return redirect(url_for("setup.index", _anchor="stages"))


# -- locations and business units ----------------------------------------------------------

PLACE_KINDS = '<any(locations, "business-units"):place_kind>'


def _places(
    place_kind: str,
    *,
    new_form: PlaceForm | None = None,
    failed: tuple[int, PlaceForm] | None = None,
    message: str = "",
    error: str = "",
) -> str:
    """The list of locations (or business units) with a rename form per row; ``failed``:
    the row sent with a mistake, shown with its message and what was typed."""
    which = places.KINDS[place_kind]
    rows = places.places(which)
    forms = {}
    for place in rows:
        if failed is not None and failed[0] == place.id:
            forms[place.id] = failed[1]
        else:
            forms[place.id] = PlaceForm(prefix=f"place-{place.id}", formdata=None, obj=place)
    context = {
        "place_kind": place_kind,
        "which": which,
        "rows": rows,
        "forms": forms,
        "in_use": places.in_use(which),
        "new_form": new_form or PlaceForm(prefix="new", formdata=None),
        "message": message,
        "error": error,
    }
    template = "setup/_places.html" if is_htmx() else "setup/places.html"
    return render_template(template, **context)


def _place_saved(place_kind: str, message: str) -> str | Response:
    if is_htmx():
        return _places(place_kind, message=message)
    flash(message, "success")
    return redirect(url_for("setup.places", place_kind=place_kind))


def _place(place_kind: str, place_id: int) -> places.Place:
    return get_or_404(places.KINDS[place_kind].model, place_id)


@bp.get(f"/{PLACE_KINDS}", endpoint="places")
def places_list(place_kind: str) -> str:
    return _places(place_kind)


@bp.post(f"/{PLACE_KINDS}")
def place_create(place_kind: str) -> str | Response:
    form = PlaceForm(prefix="new")
    if not form.validate():
        return _places(place_kind, new_form=form)
    try:
        place = places.create_place(places.KINDS[place_kind], form.name.data)
    except places.PlaceRefused as refused:
        db.session.rollback()
        form.name.errors = [*form.name.errors, str(refused)]
        return _places(place_kind, new_form=form)
    db.session.commit()
    return _place_saved(place_kind, f"{place.name} added.")


@bp.post(f"/{PLACE_KINDS}/<int:place_id>")
def place_rename(place_kind: str, place_id: int) -> str | Response:
    place = _place(place_kind, place_id)
    form = PlaceForm(prefix=f"place-{place.id}")
    if not form.validate():
        return _places(place_kind, failed=(place.id, form))
    before = place.name
    try:
        places.rename_place(places.KINDS[place_kind], place, form.name.data)
    except places.PlaceRefused as refused:
        db.session.rollback()
        form.name.errors = [*form.name.errors, str(refused)]
        return _places(place_kind, failed=(place_id, form))
    db.session.commit()
    return _place_saved(place_kind, f"{before} renamed {place.name}.")


@bp.post(f"/{PLACE_KINDS}/<int:place_id>/active")
def place_active(place_kind: str, place_id: int) -> str | Response:
    """Deactivate (gone from the pick lists; who has it keeps it) or reactivate."""
    place = _place(place_kind, place_id)
    active = request.form.get("active") == "1"
    places.set_active(place, active)
    db.session.commit()
    return _place_saved(place_kind, f"{place.name} {'reactivated' if active else 'deactivated'}.")


@bp.post(f"/{PLACE_KINDS}/<int:place_id>/delete")
def place_delete(place_kind: str, place_id: int) -> str | Response:
    """Only one nothing uses (created by mistake); a used one is deactivated instead."""
    place = _place(place_kind, place_id)
    name = place.name
    try:
        places.delete_place(places.KINDS[place_kind], place, by=current_user)
    except places.PlaceRefused as refused:
        db.session.rollback()
        if is_htmx():
            return _places(place_kind, error=str(refused))
        flash(str(refused), "error")
        return redirect(url_for("setup.places", place_kind=place_kind))
    db.session.commit()
    return _place_saved(place_kind, f"{name} deleted.")
