"""Tracks: their setup (steps, what happens on completion), their enrollments, enrolling
contacts by hand, and "Run now"."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from crmlite import links
from crmlite.extensions import db
from crmlite.models import Contact, Opportunity, Track, TrackEnrollment, TrackKind, TrackStep
from crmlite.services import companies, track_runner, track_setup
from crmlite.services import tracks as service
from crmlite.services.parsing import parse_id, parse_ids
from crmlite.services.team import local_today
from crmlite.services.track_setup import SetupRefused
from crmlite.web import get_or_404, require, safe_next
from crmlite.web.filters import plural
from crmlite.web.tracks_forms import EnrollForm, StepForm, TrackForm, show_errors

bp = Blueprint("tracks", __name__, url_prefix="/tracks")

# ---------------------------------------------------------------- tracks


@bp.get("/")
def index() -> str:
    return render_template("tracks/index.html", rows=track_setup.track_rows())


@bp.route("/new", methods=["GET", "POST"])
def new() -> str | Response:
    return _save_track(TrackForm(), None)


@bp.route("/<int:track_id>/edit", methods=["GET", "POST"])
def edit(track_id: int) -> str | Response:
    track = get_or_404(Track, track_id)
    return _save_track(TrackForm(obj=track, track_id=track.id), track)


def _save_track(form: TrackForm, track: Track | None) -> str | Response:
    if form.validate_on_submit():
        try:
            saved = track_setup.save_track(track, form.values())
            db.session.commit()
            flash(f"{saved.name} saved.", "success")
            return redirect(url_for("tracks.detail", track_id=saved.id))
        except SetupRefused as refused:
            db.session.rollback()
            show_errors(form, refused.errors)
    return render_template("tracks/form.html", form=form, track=track)


@bp.get("/<int:track_id>")
def detail(track_id: int) -> str:
    return _detail(get_or_404(Track, track_id))


def _detail(
    track: Track, step_form: StepForm | None = None, edit_step_id: int | None = None
) -> str:
    then = db.session.get(Track, track.on_complete_track_id) if track.on_complete_track_id else None
    return render_template(
        "tracks/detail.html",
        track=track,
        kind=db.session.get(TrackKind, track.kind_id),
        then=then,
        steps=track_setup.steps_of(track.id),
        progress=service.progress_of(track_setup.enrollments_on(track.id)),
        step_form=step_form or StepForm(formdata=None),
        edit_step_id=edit_step_id,
    )


def _step_of(track_id: int, step_id: int) -> tuple[Track, TrackStep]:
    track = get_or_404(Track, track_id)
    step = get_or_404(TrackStep, step_id)
    if step.track_id != track.id:
        abort(404)
    return track, step


@bp.post("/<int:track_id>/steps")
def add_step(track_id: int) -> str | Response:
    track = get_or_404(Track, track_id)
    form = StepForm()
    if not form.validate():
        # Every problem at once: the rules' too, beside the fields the form could read.
        show_errors(form, track_setup.step_problems(track.id, form.values()))
        return _detail(track, step_form=form)
    try:
        track_setup.add_step(track, form.values())
    except SetupRefused as refused:
        db.session.rollback()
        show_errors(form, refused.errors)
        return _detail(track, step_form=form)
    db.session.commit()
    flash("Step added.", "success")
    return redirect(url_for("tracks.detail", track_id=track.id, _anchor="steps"))


@bp.route("/<int:track_id>/steps/<int:step_id>", methods=["GET", "POST"])
def edit_step(track_id: int, step_id: int) -> str | Response:
    track, step = _step_of(track_id, step_id)
    if request.method == "GET":
        form = StepForm(formdata=None, obj=step, keep_assignee_id=step.assignee_id)
        return _detail(track, step_form=form, edit_step_id=step.id)
    form = StepForm(keep_assignee_id=step.assignee_id)
    if not form.validate():
        show_errors(form, track_setup.step_problems(track.id, form.values(), step))
        return _detail(track, step_form=form, edit_step_id=step.id)
    try:
        track_setup.save_step(step, form.values())
    except SetupRefused as refused:
        db.session.rollback()
        show_errors(form, refused.errors)
        return _detail(track, step_form=form, edit_step_id=step.id)
    db.session.commit()
    flash("Step saved.", "success")
    return redirect(url_for("tracks.detail", track_id=track.id, _anchor="steps"))


@bp.post("/<int:track_id>/steps/<int:step_id>/remove")
def remove_step(track_id: int, step_id: int) -> Response:
    _track, step = _step_of(track_id, step_id)
    track_setup.remove_step(step, by=current_user)
    db.session.commit()
    flash("Step removed. Steps that already ran stay recorded on their enrollments.", "success")
    return redirect(url_for("tracks.detail", track_id=track_id, _anchor="steps"))


@bp.post("/run")
def run_now() -> Response:
    """ "Run now": what `flask crm tracks run` does, from the page."""
    db.session.commit()
    summary = track_runner.run_due_steps(local_today(g.tz), g.tz, base=links.base_url())
    flash(f"Tracks ran: {summary.line()}.", "error" if summary.failed else "success")
    return redirect(safe_next(request.form.get("next"), url_for("tracks.index")))


# ---------------------------------------------------------------- enrollments


def _contacts_to_enroll() -> tuple[list[int], int | None, str]:
    """Who the enrollment form is for: contacts by id, a company's contacts, or an
    opportunity's contact; and where to go back to."""
    form = request.form
    ids = parse_ids(form.getlist("contact_id"))
    opportunity_id = None
    back = safe_next(form.get("next"), url_for("tracks.index"))
    company_id = parse_id(form.get("company_id"))
    if company_id:
        ids += companies.contact_ids_of(company_id)
    chosen_opportunity = parse_id(form.get("opportunity_id"))
    if chosen_opportunity:
        opportunity = get_or_404(Opportunity, chosen_opportunity)
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
    for contact in db.session.scalars(select(Contact).where(Contact.id.in_(contact_ids))):
        require("enrollment.create", contact)
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
    message = f"{plural(added, 'contact')} put on {track.name if track else ''}."
    if skipped:
        message += f" {len(skipped)} skipped: {skipped[0]}"
    flash(message, "success" if added else "error")
    return redirect(back)


def _enrollment_action(enrollment_id: int, action: str) -> Response:
    """Pause, resume or remove: whose enrolment it is decides who may
    (``enrollment.change``), its state whether it can (``services.tracks``)."""
    enrollment = get_or_404(TrackEnrollment, enrollment_id)
    require("enrollment.change", enrollment)
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
    return service.progress_of(track_setup.enrollments_of(contact_id))


@bp.app_context_processor
def enroll_helpers() -> dict[str, Any]:
    return {"contact_tracks": contact_tracks, "enroll_form": enroll_form}


def enroll_form() -> EnrollForm:
    """An empty enrollment form starting today, for any page that offers one."""
    form = EnrollForm(formdata=None)
    form.starts_on.data = local_today(g.tz)
    return form
