"""Tracks: their setup (steps, what happens on completion), their enrollments, enrolling
contacts by hand, and "Run now"."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from crmlite.extensions import db
from crmlite.models import (
    Contact,
    Opportunity,
    Role,
    StepAction,
    StepAssignee,
    Track,
    TrackEnrollment,
    TrackKind,
    TrackStep,
)
from crmlite.services import pick_lists, reference
from crmlite.services import tracks as service
from crmlite.services.team import local_today
from crmlite.web import get_or_404, require_role, safe_next, strip

bp = Blueprint("tracks", __name__, url_prefix="/tracks")

MANAGERS = (Role.ADMIN, Role.MANAGER)
NONE = SelectChoice(0, "—")
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


def _tracks(exclude: int | None = None) -> list[SelectChoice]:
    query = select(Track).order_by(Track.name)
    return [SelectChoice(t.id, t.name) for t in db.session.scalars(query) if t.id != exclude]


class TrackForm(FlaskForm):
    name = StringField(
        "Name", filters=[strip], validators=[DataRequired("Name the track."), Length(max=120)]
    )
    kind_id = SelectField("Kind", coerce=int)
    industry = StringField(
        "Industry",
        filters=[strip],
        validators=[Length(max=100)],
        description="For an Industry Specific track.",
    )
    description = TextAreaField("Description", validators=[Length(max=5000)])
    on_complete_track_id = SelectField("On completion, join", coerce=int)
    active = BooleanField("Active", default=True)

    def __init__(self, *args: Any, track_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.track_id = track_id
        self.kind_id.choices = [SelectChoice(k.id, k.name) for k in reference.track_kinds()]
        self.on_complete_track_id.choices = [NONE, *_tracks(exclude=track_id)]

    def validate_name(self, field: StringField) -> None:
        if service.name_taken(field.data or "", except_id=self.track_id):
            raise ValidationError("Another track has this name.")


class StepForm(FlaskForm):
    day_offset = IntegerField(
        "Days after enrollment",
        validators=[
            InputRequired("Enter the number of days."),
            NumberRange(0, 3650, "Enter 0 or more days (at most ten years)."),
        ],
    )
    action = SelectField("Action", choices=ACTIONS)
    activity_type_id = SelectField("Activity type", coerce=int)
    subject = StringField(
        "Subject",
        filters=[strip],
        validators=[Length(max=200)],
        description="{name} becomes the contact's first name.",
    )
    body = TextAreaField("Notes or e-mail text", validators=[Length(max=20_000)])
    assignee_rule = SelectField("Assigned to", choices=ASSIGNEES)
    assignee_id = SelectField("Named member", coerce=int)
    target_track_id = SelectField("Track to join", coerce=int)

    def __init__(self, *args: Any, track_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.track_id = track_id
        self.activity_type_id.choices = [NONE] + [
            SelectChoice(t.id, t.label) for t in reference.active_activity_types()
        ]
        self.assignee_id.choices = [NONE] + [
            SelectChoice(m.id, m.name) for m in pick_lists.active_members()
        ]
        self.target_track_id.choices = [NONE, *_tracks()]

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        action = self.action.data
        if action == StepAction.ACTIVITY.value:
            if not self.activity_type_id.data:
                self.activity_type_id.errors.append("Choose the kind of activity.")
            if not self.subject.data:
                self.subject.errors.append("Enter a subject.")
            if self.assignee_rule.data == StepAssignee.MEMBER.value and not self.assignee_id.data:
                self.assignee_id.errors.append("Choose the member.")
        elif action == StepAction.EMAIL.value:
            if not self.subject.data:
                self.subject.errors.append("Enter the e-mail's subject.")
            if not (self.body.data or "").strip():
                self.body.errors.append("Write the e-mail.")
        elif action == StepAction.ADD_TO_TRACK.value:
            if not self.target_track_id.data:
                self.target_track_id.errors.append("Choose the track to join.")
            elif self.target_track_id.data == self.track_id:
                self.target_track_id.errors.append(
                    "A step cannot add the contact to its own track: it would loop."
                )
        return ok and not any(f.errors for f in self)


# ---------------------------------------------------------------- tracks


@bp.get("/")
def index() -> str:
    rows = db.session.execute(
        select(
            Track,
            TrackKind.name,
            select(func.count(TrackStep.id))
            .where(TrackStep.track_id == Track.id)
            .scalar_subquery(),
            select(func.count(TrackEnrollment.id))
            .where(
                TrackEnrollment.track_id == Track.id, TrackEnrollment.status.in_(service.RUNNING)
            )
            .scalar_subquery(),
        )
        .join(TrackKind, TrackKind.id == Track.kind_id)
        .order_by(TrackKind.position, Track.name)
    ).all()
    return render_template("tracks/index.html", rows=rows)


@bp.route("/new", methods=["GET", "POST"])
@require_role(*MANAGERS)
def new() -> str | Response:
    return _save_track(TrackForm(), None)


@bp.route("/<int:track_id>/edit", methods=["GET", "POST"])
@require_role(*MANAGERS)
def edit(track_id: int) -> str | Response:
    track = get_or_404(Track, track_id)
    form = TrackForm(obj=track, track_id=track.id)
    if request.method == "GET":
        form.on_complete_track_id.data = track.on_complete_track_id or 0
    return _save_track(form, track)


def _save_track(form: TrackForm, track: Track | None) -> str | Response:
    if form.validate_on_submit():
        if track is None:
            track = Track(name=form.name.data, kind_id=form.kind_id.data)
            db.session.add(track)
        track.name = form.name.data or ""
        track.kind_id = form.kind_id.data
        track.industry = form.industry.data or ""
        track.description = form.description.data or ""
        track.active = form.active.data
        track.on_complete_track_id = form.on_complete_track_id.data or None
        db.session.commit()
        flash(f"{track.name} saved.", "success")
        return redirect(url_for("tracks.detail", track_id=track.id))
    return render_template("tracks/form.html", form=form, track=track)


@bp.get("/<int:track_id>")
def detail(track_id: int) -> str:
    return _detail(get_or_404(Track, track_id))


def _detail(
    track: Track, step_form: StepForm | None = None, edit_step_id: int | None = None
) -> str:
    steps = db.session.scalars(
        select(TrackStep)
        .where(TrackStep.track_id == track.id)
        .options(
            joinedload(TrackStep.activity_type),
            joinedload(TrackStep.assignee),
            joinedload(TrackStep.target_track),
        )
        .order_by(TrackStep.day_offset, TrackStep.position)
    ).all()
    enrollments = db.session.scalars(
        select(TrackEnrollment)
        .where(TrackEnrollment.track_id == track.id)
        .options(joinedload(TrackEnrollment.contact).joinedload(Contact.company))
        .order_by(TrackEnrollment.status, TrackEnrollment.starts_on.desc())
        .limit(500)
    ).all()
    kind = db.session.get(TrackKind, track.kind_id)
    then = db.session.get(Track, track.on_complete_track_id) if track.on_complete_track_id else None
    return render_template(
        "tracks/detail.html",
        track=track,
        kind=kind,
        then=then,
        steps=steps,
        progress=service.progress_of(list(enrollments)),
        step_form=step_form or StepForm(formdata=None, track_id=track.id),
        edit_step_id=edit_step_id,
    )


def _fill_step(step: TrackStep, form: StepForm) -> None:
    step.day_offset = form.day_offset.data or 0
    step.action = form.action.data
    step.subject = form.subject.data or ""
    step.body = form.body.data or ""
    is_activity = form.action.data == StepAction.ACTIVITY.value
    step.activity_type_id = form.activity_type_id.data or None if is_activity else None
    step.assignee_rule = form.assignee_rule.data
    step.assignee_id = form.assignee_id.data or None
    step.target_track_id = (
        form.target_track_id.data or None
        if form.action.data == StepAction.ADD_TO_TRACK.value
        else None
    )


@bp.post("/<int:track_id>/steps")
@require_role(*MANAGERS)
def add_step(track_id: int) -> str | Response:
    track = get_or_404(Track, track_id)
    form = StepForm(track_id=track.id)
    if not form.validate():
        return _detail(track, step_form=form)
    position = (
        db.session.scalar(
            select(func.max(TrackStep.position)).where(TrackStep.track_id == track.id)
        )
        or 0
    ) + 1
    step = TrackStep(track_id=track.id, position=position)
    _fill_step(step, form)
    db.session.add(step)
    db.session.commit()
    flash("Step added.", "success")
    return redirect(url_for("tracks.detail", track_id=track.id, _anchor="steps"))


@bp.route("/<int:track_id>/steps/<int:step_id>", methods=["GET", "POST"])
@require_role(*MANAGERS)
def edit_step(track_id: int, step_id: int) -> str | Response:
    track = get_or_404(Track, track_id)
    step = get_or_404(TrackStep, step_id)
    if step.track_id != track.id:
        abort(404)
    if request.method == "GET":
        form = StepForm(formdata=None, obj=step, track_id=track.id)
        form.activity_type_id.data = step.activity_type_id or 0
        form.assignee_id.data = step.assignee_id or 0
        form.target_track_id.data = step.target_track_id or 0
        return _detail(track, step_form=form, edit_step_id=step.id)
    form = StepForm(track_id=track.id)
    if not form.validate():
        return _detail(track, step_form=form, edit_step_id=step.id)
    _fill_step(step, form)
    db.session.commit()
    flash("Step saved.", "success")
    return redirect(url_for("tracks.detail", track_id=track.id, _anchor="steps"))


@bp.post("/<int:track_id>/steps/<int:step_id>/remove")
@require_role(*MANAGERS)
def remove_step(track_id: int, step_id: int) -> Response:
    step = get_or_404(TrackStep, step_id)
    if step.track_id != track_id:
        abort(404)
    db.session.delete(step)
    db.session.commit()
    flash("Step removed. Steps that already ran stay recorded on their enrollments.", "success")
    return redirect(url_for("tracks.detail", track_id=track_id, _anchor="steps"))


@bp.post("/run")
@require_role(*MANAGERS)
def run_now() -> Response:
    """ "Run now": what `flask crm tracks run` does, from the page."""
    db.session.commit()
    summary = service.run_due_steps(local_today(g.tz), g.tz, send_email=service.default_sender())
    flash(f"Tracks ran: {summary.line()}.", "error" if summary.failed else "success")
    return redirect(safe_next(request.form.get("next"), url_for("tracks.index")))


# ---------------------------------------------------------------- enrollments


class EnrollForm(FlaskForm):
    track_id = SelectField("Track", coerce=int)
    starts_on = DateField("Starting", validators=[DataRequired("Enter a valid date.")])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.track_id.choices = [NONE] + [
            SelectChoice(t.id, t.name)
            for t in db.session.scalars(select(Track).where(Track.active).order_by(Track.name))
        ]


def _contacts_to_enroll() -> tuple[list[int], int | None, str]:
    """Who the enrollment form is for: contacts by id, a company's contacts, or an
    opportunity's contact; and where to go back to."""
    form = request.form
    ids = [int(v) for v in form.getlist("contact_id") if v.isdigit()]
    opportunity_id = None
    back = safe_next(form.get("next"), url_for("tracks.index"))
    if form.get("company_id", "").isdigit():
        ids += db.session.scalars(
            select(Contact.id).where(Contact.company_id == int(form["company_id"]))
        ).all()
    if form.get("opportunity_id", "").isdigit():
        opportunity = get_or_404(Opportunity, int(form["opportunity_id"]))
        opportunity_id = opportunity.id
        if opportunity.contact_id:
            ids.append(opportunity.contact_id)
    return sorted(set(ids)), opportunity_id, back


@bp.post("/enroll")
def enroll() -> Response:
    """Put one contact, a company's contacts or an opportunity's contact on a track."""
    form = EnrollForm()
    contact_ids, opportunity_id, back = _contacts_to_enroll()
    if not form.validate() or not form.track_id.data:
        flash("Choose a track and a valid start date.", "error")
        return redirect(back)
    if not contact_ids:
        flash("There is no contact to enroll.", "error")
        return redirect(back)
    enrollments, skipped = service.enroll_many(
        contact_ids,
        form.track_id.data,
        starts_on=form.starts_on.data,
        by=current_user,
        opportunity_id=opportunity_id,
    )
    db.session.commit()
    added = len(enrollments)
    track = db.session.get(Track, form.track_id.data)
    message = f"{added} contact{'s' if added != 1 else ''} put on {track.name if track else ''}."
    if skipped:
        message += f" {len(skipped)} skipped: {skipped[0]}"
    flash(message, "success" if added else "error")
    return redirect(back)


def _enrollment_action(enrollment_id: int, action: str) -> Response:
    enrollment = get_or_404(TrackEnrollment, enrollment_id)
    today = local_today(g.tz)
    try:
        {
            "pause": lambda: service.pause(enrollment, today),
            "resume": lambda: service.resume(enrollment, today),
            "remove": lambda: service.remove(enrollment),
        }[action]()
        db.session.commit()
        flash(f"Enrollment {'removed' if action == 'remove' else action + 'd'}.", "success")
    except service.TrackRefused as refused:
        db.session.rollback()
        flash(str(refused), "error")
    back = request.form.get("next") or url_for("tracks.detail", track_id=enrollment.track_id)
    return redirect(safe_next(back, url_for("tracks.index")))


@bp.post("/enrollments/<int:enrollment_id>/pause")
def pause(enrollment_id: int) -> Response:
    return _enrollment_action(enrollment_id, "pause")


@bp.post("/enrollments/<int:enrollment_id>/resume")
def resume(enrollment_id: int) -> Response:
    return _enrollment_action(enrollment_id, "resume")


@bp.post("/enrollments/<int:enrollment_id>/remove")
def remove(enrollment_id: int) -> Response:
    return _enrollment_action(enrollment_id, "remove")


def contact_tracks(contact_id: int) -> list[service.Progress]:
    """For a contact's page: their tracks with progress, newest first."""
    enrollments = db.session.scalars(
        select(TrackEnrollment)
        .where(TrackEnrollment.contact_id == contact_id)
        .options(joinedload(TrackEnrollment.track))
        .order_by(TrackEnrollment.created_at.desc())
    ).all()
    return service.progress_of(list(enrollments))


@bp.app_context_processor
def enroll_helpers() -> dict[str, Any]:
    return {"contact_tracks": contact_tracks, "enroll_form": enroll_form}


def enroll_form() -> EnrollForm:
    """An empty enrollment form starting today, for any page that offers one."""
    form = EnrollForm(formdata=None)
    form.starts_on.data = local_today(g.tz)
    return form
