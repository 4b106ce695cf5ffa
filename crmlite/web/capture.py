"""E-mail capture: upload an .eml file or paste a raw message to make it an activity; the
inbox of captured e-mails that matched no contact, and assigning them one."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import Activity
from crmlite.services import capture as service
from crmlite.services.companies import contact_list, load_contact
from crmlite.services.email_reading import MAX_MESSAGE_BYTES, CaptureError
from crmlite.services.email_reading import too_large as too_large_message
from crmlite.services.parsing import parse_id
from crmlite.services.team import get_team
from crmlite.web import is_htmx, require
from crmlite.web.capture_forms import AssignForm, CaptureForm

bp = Blueprint("capture", __name__, url_prefix="/capture")

CONTACT_CHOICES = 50
# Room for the form's other fields and the multipart framing around a 10 MB message.
REQUEST_LIMIT = MAX_MESSAGE_BYTES + 1024 * 1024


@bp.url_value_preprocessor
def allow_large_messages(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Runs before the CSRF check reads the form: a pasted message easily exceeds Flask's
    # 500 KB default for a form field.
    if endpoint == "capture.new":
        request.max_content_length = REQUEST_LIMIT
        request.max_form_memory_size = REQUEST_LIMIT


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error: RequestEntityTooLarge) -> str:
    db.session.rollback()
    if "tz" not in g:  # refused before the team's settings were read
        g.tz = ZoneInfo(get_team().time_zone)
    form = CaptureForm(formdata=None)
    # The upload's size: the message and the form around it (a few hundred bytes).
    form.message_file.errors = [too_large_message(request.content_length or REQUEST_LIMIT + 1)]
    return render_template("capture/new.html", form=form)


@bp.route("/", methods=["GET", "POST"])
def new() -> str:
    """The capture form; a valid message becomes an activity and the result is shown."""
    form = CaptureForm()
    if not form.validate_on_submit():
        return render_template("capture/new.html", form=form)
    raw, size, source = form.message()
    try:
        result = service.capture_email(raw, size=size, captured_by=current_user, tz=g.tz)
    except CaptureError as error:
        db.session.rollback()
        source.errors = [*source.errors, str(error)]
        return render_template("capture/new.html", form=form)
    db.session.commit()
    if isinstance(result, service.BounceReport):
        return render_template("capture/bounces.html", report=result)
    return render_template("capture/result.html", result=result)


@bp.get("/inbox")
def inbox() -> str:
    return render_template("capture/inbox.html", inbox=service.inbox(current_user))


def _load_for_assign(activity_id: int) -> Activity:
    activity = service.captured_activity(activity_id)
    if activity is None:
        abort(404)
    require("capture.assign", activity)
    return activity


@bp.get("/inbox/<int:activity_id>/assign")
def assign_form(activity_id: int) -> str:
    """The e-mail and a choice of contacts; the search box narrows the choices (an htmx
    search gets the choices alone)."""
    activity = _load_for_assign(activity_id)
    q = request.args.get("q", "").strip()
    contacts = contact_list(q, 1, CONTACT_CHOICES)
    form = AssignForm(formdata=None, contacts=contacts.rows)
    template = "capture/_contact_choices.html" if is_htmx() else "capture/assign.html"
    return render_template(template, activity=activity, form=form, q=q, contacts=contacts)


@bp.post("/inbox/<int:activity_id>/assign")
def assign(activity_id: int) -> str | Response:
    """Give the e-mail its contact (with their company, phone and single open opportunity)."""
    activity = _load_for_assign(activity_id)
    chosen = parse_id(request.form.get("contact_id"))
    contact = load_contact(chosen) if chosen else None
    form = AssignForm(contacts=[contact] if contact else [])
    if contact is None or not form.validate_on_submit():
        contacts = contact_list("", 1, CONTACT_CHOICES)
        errors = form.contact_id.errors or ["Choose a contact from the list."]
        form = AssignForm(formdata=None, contacts=contacts.rows)
        form.contact_id.errors = errors
        return render_template(
            "capture/assign.html", activity=activity, form=form, q="", contacts=contacts
        )
    match = service.link_contact(activity, contact)
    message = f"“{activity.subject}” assigned to {match.description}."
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("capture.inbox"))
