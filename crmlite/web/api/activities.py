"""/api/v1/activities: the activities a member may see, logged, scheduled, changed, closed
(earning their points) and reopened with the activity form's and services' rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import g, url_for
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import Activity, ActivityStatus, Opportunity
from crmlite.services import activities as service
from crmlite.services import permissions
from crmlite.web import me
from crmlite.web.activities import (
    NOT_YOURS_TO_COMPLETE,
    NOT_YOURS_TO_REASSIGN,
    NOT_YOURS_TO_REOPEN,
)
from crmlite.web.activities_forms import CONTEXT_FIELDS, ActivityForm
from crmlite.web.api.base import (
    bp,
    changed_meanwhile,
    choice_arg,
    day,
    etag,
    fail,
    form_data,
    form_errors,
    id_arg,
    if_match,
    invalid,
    json_body,
    json_response,
    moment,
    moment_arg,
    page,
    page_args,
)

DETAIL_FIELDS = (
    "subject",
    "type_id",
    "due_on",
    "start",
    "end",
    "assigned_to_id",
    "place",
    "reminder_minutes",
    "note",
)
CREATE_FIELDS = (*DETAIL_FIELDS, "status", *CONTEXT_FIELDS)
READ_ONLY = (
    "id",
    "status",
    *CONTEXT_FIELDS,
    "assigned_by_id",
    "closed_at",
    "closed_by_id",
    "points_earned",
    "created_at",
    "updated_at",
    "version",
)
STATUSES = [s.value for s in ActivityStatus]


def as_json(activity: Activity) -> dict[str, Any]:
    tz = g.tz
    return {
        "id": activity.id,
        "subject": activity.subject,
        "type_id": activity.type_id,
        "status": activity.status,
        "due_on": day(activity.due_on),
        # Wall times on its day, in the team's time zone, as the form shows them.
        "start": activity.starts_at.astimezone(tz).strftime("%H:%M")
        if activity.starts_at
        else None,
        "end": activity.ends_at.astimezone(tz).strftime("%H:%M") if activity.ends_at else None,
        "starts_at": moment(activity.starts_at),
        "ends_at": moment(activity.ends_at),
        "assigned_to_id": activity.assigned_to_id,
        "assigned_by_id": activity.assigned_by_id,
        "place": activity.place,
        "reminder_minutes": activity.reminder_minutes,
        "opportunity_id": activity.opportunity_id,
        "company_id": activity.company_id,
        "contact_id": activity.contact_id,
        "campaign_id": activity.campaign_id,
        "closed_at": moment(activity.closed_at),
        "closed_by_id": activity.closed_by_id,
        "points_earned": activity.points_earned,
        "created_at": moment(activity.created_at),
        "updated_at": moment(activity.updated_at),
        "version": activity.version,
    }


def _get(activity_id: int) -> Activity:
    activity = db.session.get(Activity, activity_id, populate_existing=True)
    if activity is None:
        fail(404, "There is no activity with that id.")
    return activity


def _answer(activity: Activity, status: int = 200) -> Response:
    location = url_for("api.activity", activity_id=activity.id) if status == 201 else None
    return json_response(as_json(activity), status, tag=etag(activity.version), location=location)


@bp.get("/activities")
def activities() -> Response:
    """The activities the member may see (a rep: theirs, those they assigned, of their deals
    and accounts; managers: all), oldest first; filtered by status, assignee, opportunity,
    company and updated since a moment."""
    limit, after = page_args()
    status = choice_arg("status", STATUSES)
    assignee, opportunity_id = id_arg("assigned_to"), id_arg("opportunity_id")
    company_id, since = id_arg("company_id"), moment_arg("updated_since")
    query = select(Activity).where(permissions.visible_activities(me()))
    if status is not None:
        query = query.where(Activity.status == status)
    if assignee is not None:
        query = query.where(Activity.assigned_to_id == assignee)
    if opportunity_id is not None:
        query = query.where(Activity.opportunity_id == opportunity_id)
    if company_id is not None:
        query = query.where(Activity.company_id == company_id)
    if since is not None:
        query = query.where(Activity.updated_at >= since)
    if after is not None:
        query = query.where(Activity.id > after)
    rows = list(db.session.scalars(query.order_by(Activity.id).limit(limit + 1)))
    return page([as_json(a) for a in rows], [a.id for a in rows], limit)


@bp.get("/activities/<int:activity_id>")
def activity(activity_id: int) -> Response:
    found = _get(activity_id)
    permissions.require(me(), "activity.read", found)
    return _answer(found)


@bp.post("/activities")
def create_activity() -> Response:
    """Log or schedule an activity, as the activity form does; logged as ``Closed`` it is
    completed at once, which only its assignee or a manager may do (403)."""
    member = me()
    data = form_data(
        json_body(),
        CREATE_FIELDS,
        current={"assigned_to_id": member.id, "status": ActivityStatus.OPEN.value},
    )
    form = ActivityForm(formdata=data, meta={"csrf": False})
    if not form.validate():
        invalid(form_errors(form))
    context = service.context_for(**form.context_ids())
    opportunity = (
        db.session.get(Opportunity, context["opportunity_id"])
        if context["opportunity_id"]
        else None
    )
    created = service.schedule_activity(
        **form.details(),
        by=member,
        tz=g.tz,
        opportunity=opportunity,
        company_id=context["company_id"],
        contact_id=context["contact_id"],
        campaign_id=context["campaign_id"],
        phone=context["phone"],
    )
    if form.note.data:
        service.add_note(created, by=member, body=form.note.data)
    if form.status.data == ActivityStatus.CLOSED.value:
        if not permissions.allows(member, "activity.complete", created):
            fail(403, NOT_YOURS_TO_COMPLETE)
        service.close_activity(created, by=member)
    db.session.commit()
    return _answer(_get(created.id), 201)


def _current(activity: Activity) -> dict[str, Any]:
    values = as_json(activity)
    values["note"] = ""
    return values


@bp.patch("/activities/<int:activity_id>")
def update_activity(activity_id: int) -> Response:
    """Change its details (those sent; the others stay). Closing and reopening have their
    own endpoints; giving it to someone else is its assignee's (while open) or a manager's."""
    found = _get(activity_id)
    member = me()
    permissions.require(member, "activity.change", found)
    version = int(if_match(found.version))
    data = form_data(json_body(), DETAIL_FIELDS, current=_current(found), ignored=READ_ONLY)
    data["status"] = ActivityStatus.OPEN.value  # checked by the form; never changed here
    form = ActivityForm(formdata=data, meta={"csrf": False})
    if not form.validate():
        invalid(form_errors(form))
    details = form.details()
    if details["assigned_to_id"] != found.assigned_to_id and not permissions.allows(
        member, "activity.reassign", found
    ):
        fail(403, NOT_YOURS_TO_REASSIGN)
    try:
        service.update_activity(found, **details, expected_version=version, by=member, tz=g.tz)
        if form.note.data:
            service.add_note(found, by=member, body=form.note.data)
        db.session.commit()
    except (service.ActivityChangedMeanwhile, StaleDataError):
        changed_meanwhile()
    return _answer(_get(activity_id))


@bp.post("/activities/<int:activity_id>/close")
def close_activity(activity_id: int) -> Response:
    """Done: it earns its type's points for the assignee (a manager may close it on their
    behalf, recorded)."""
    found = _get(activity_id)
    permissions.require(me(), "activity.complete", found)
    if_match(found.version)
    if found.status == ActivityStatus.CLOSED.value:
        return _answer(found)
    try:
        service.close_activity(found, by=me(), now=datetime.now(UTC))
        db.session.commit()
    except StaleDataError:
        changed_meanwhile()
    return _answer(_get(activity_id))


@bp.post("/activities/<int:activity_id>/reopen")
def reopen_activity(activity_id: int) -> Response:
    """Open a done activity again: its points leave the month it closed in. Its assignee
    may within that month; afterwards only a manager."""
    found = _get(activity_id)
    member = me()
    if not permissions.allows(member, "activity.reopen", found):
        if found.assigned_to_id == member.id:
            fail(403, NOT_YOURS_TO_REOPEN)
        permissions.require(member, "activity.reopen", found)
    if_match(found.version)
    if found.is_open:
        return _answer(found)
    try:
        service.reopen_activity(found, by=member, now=datetime.now(UTC))
        db.session.commit()
    except StaleDataError:
        changed_meanwhile()
    return _answer(_get(activity_id))
