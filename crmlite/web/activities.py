"""Activities: log and schedule in place from anywhere, "Done" in one click with the next
step asked for at once, the activity list with filters and bulk reassign, the "Due soon"
strip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, g, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    ActivityNote,
    ActivityStatus,
    Campaign,
    Company,
    Contact,
    Member,
    Opportunity,
)
from crmlite.services import activities as service
from crmlite.services import exports, pick_lists, reference
from crmlite.services.activities import ActivityFilters
from crmlite.services.parsing import parse_id, parse_ids
from crmlite.services.team import get_team, local_today
from crmlite.web import (
    announce,
    exporting,
    get_or_404,
    is_htmx,
    may,
    me,
    offset_arg,
    require,
)
from crmlite.web.activities_forms import CONTEXT_FIELDS, ActivityForm

bp = Blueprint("activities", __name__, url_prefix="/activities")

PAGE_SIZE = 100


def _context_labels(form: ActivityForm) -> dict[str, Any]:
    """What the hidden context ids stand for, shown above the form."""
    ids = form.context_ids()
    labels: dict[str, Any] = {}
    for key, model in (
        ("opportunity", Opportunity),
        ("company", Company),
        ("contact", Contact),
        ("campaign", Campaign),
    ):
        ident = ids[f"{key}_id"]
        labels[key] = db.session.get(model, ident) if ident else None
    return labels


def _render_form(form: ActivityForm, activity: Activity | None = None, notice: str = "") -> str:
    notes = []
    if activity is not None:
        notes = list(
            db.session.scalars(
                select(ActivityNote)
                .where(ActivityNote.activity_id == activity.id)
                .options(joinedload(ActivityNote.author))
                .order_by(ActivityNote.created_at.desc(), ActivityNote.id.desc())
            )
        )
    return render_template(
        "activities/_form.html",
        form=form,
        activity=activity,
        notes=notes,
        context=_context_labels(form),
        notice=notice,
    )


def _triggered(html: str, event: str, activity: Activity, status: int = 200) -> Any:
    """The fragment, plus an event other parts of the page listen to (calendar, board,
    the "Due soon" strip; they put the focus where the work was), and what to say."""
    detail = {"id": activity.id, "opportunity_id": activity.opportunity_id}
    said = "Marked done" if event == "activity-closed" else "Activity saved"
    said_headers = announce(say=f"{said}: {activity.subject}")
    return html, status, {"HX-Trigger": json.dumps({event: detail}), **said_headers}


def _item(activity_id: int, prompt: Any = None) -> str:
    """The activity as the lists show it; 404 when there is no such activity, 403 when the
    member may not see it."""
    activity = db.session.scalars(
        select(Activity)
        .where(Activity.id == activity_id)
        .options(
            joinedload(Activity.type),
            joinedload(Activity.company),
            joinedload(Activity.opportunity),
            joinedload(Activity.assigned_to),
            joinedload(Activity.closed_by),
        )
    ).one_or_none()
    if activity is None:
        abort(404)
    require("activity.read", activity)
    return render_template(
        "activities/_item.html", a=activity, today=local_today(g.tz), prompt=prompt
    )


@bp.get("/new")
def new() -> str:
    """The form to log or schedule an activity in place, filled in from where it opened."""
    args = request.args
    context = service.context_for(**{name: parse_id(args.get(name)) for name in CONTEXT_FIELDS})
    form = ActivityForm(formdata=None)
    form.due_on.data = _date_arg(args.get("due_on")) or local_today(g.tz)
    form.start.data = _time_arg(args.get("start"))
    form.end.data = _time_arg(args.get("end"))
    member = parse_id(args.get("assigned_to_id"))
    form.assigned_to_id.data = (
        member if member in {c.value for c in form.assigned_to_id.choices} else current_user.id
    )
    form.status.data = ActivityStatus.OPEN.value
    form.opportunity_id.data = context["opportunity_id"] or ""
    form.company_id.data = context["company_id"] or ""
    form.contact_id.data = context["contact_id"] or ""
    form.campaign_id.data = context["campaign_id"] or ""
    if context["opportunity_id"]:
        opportunity = db.session.get(Opportunity, context["opportunity_id"])
        form.subject.data = f"Next step: {opportunity.name}"[:200] if opportunity else ""
    return _render_form(form)


def _date_arg(value: str | None) -> Any:
    try:
        return datetime.strptime(value or "", "%Y-%m-%d").date()
    except ValueError:
        return None


def _time_arg(value: str | None) -> Any:
    try:
        return datetime.strptime(value or "", "%H:%M").time()
    except ValueError:
        return None


@bp.post("/")
def create() -> Any:
    form = ActivityForm()
    if not form.validate():
        return _render_form(form)
    context = service.context_for(**form.context_ids())
    opportunity = (
        db.session.get(Opportunity, context["opportunity_id"])
        if context["opportunity_id"]
        else None
    )
    activity = service.schedule_activity(
        **form.details(),
        by=me(),
        tz=g.tz,
        opportunity=opportunity,
        company_id=context["company_id"],
        contact_id=context["contact_id"],
        campaign_id=context["campaign_id"],
        phone=context["phone"],
    )
    if form.note.data:
        service.add_note(activity, by=me(), body=form.note.data)
    if form.status.data == ActivityStatus.CLOSED.value:
        # Logged as done: that is completing it, which earns its points for the assignee.
        if not may("activity.complete", activity):
            db.session.rollback()
            form.status.errors = [NOT_YOURS_TO_COMPLETE]
            return _render_form(form)
        service.close_activity(activity, by=me())
    db.session.commit()
    return _triggered(
        _item(activity.id, prompt=_left_stalled(activity)), "activity-saved", activity
    )


def _left_stalled(activity: Activity) -> Opportunity | None:
    """Saved as done: its opportunity when that now has no next step, so the person is
    asked for one as "Done" asks."""
    if activity.is_open:
        return None
    return service.opportunity_left_without_next_step(activity, local_today(g.tz))


NOT_YOURS_TO_COMPLETE = (
    "Only its assignee or a manager can mark it done (it earns the assignee its points): "
    "save it as Open."
)
NOT_YOURS_TO_REOPEN = (
    "It closed in a month that has ended (its points count there): only a manager can reopen it."
)
NOT_YOURS_TO_REASSIGN = (
    "Only its assignee (while it is open) or a manager can give it to someone else."
)


def _changeable(activity_id: int) -> Activity:
    activity = get_or_404(Activity, activity_id)
    require("activity.change", activity)
    return activity


def _edit_form(activity: Activity) -> ActivityForm:
    form = ActivityForm(formdata=None, obj=activity)
    if activity.is_cancelled:
        form.keep_cancelled()
    form.start.data = activity.starts_at.astimezone(g.tz).time() if activity.starts_at else None
    form.end.data = activity.ends_at.astimezone(g.tz).time() if activity.ends_at else None
    for key in CONTEXT_FIELDS:
        form[key].data = getattr(activity, key) or ""
    form.version.data = activity.version
    return form


@bp.get("/<int:activity_id>/edit")
def edit(activity_id: int) -> str:
    activity = _changeable(activity_id)
    return _render_form(_edit_form(activity), activity)


@bp.get("/<int:activity_id>")
def show(activity_id: int) -> str:
    return _item(activity_id)


@bp.post("/<int:activity_id>")
def update(activity_id: int) -> Any:
    activity = _changeable(activity_id)
    form = ActivityForm()
    if activity.is_cancelled:
        form.keep_cancelled()
    if not form.validate():
        return _render_form(form, activity)
    refusal = _refusal(activity, form)
    if refusal:
        field, message = refusal
        form[field].errors = [message]
        return _render_form(form, activity)
    closing = activity.is_open and form.status.data == ActivityStatus.CLOSED.value
    try:
        service.update_activity(
            activity,
            **form.details(),
            expected_version=form.opened_version(),
            by=me(),
            tz=g.tz,
        )
        if form.note.data:
            service.add_note(activity, by=me(), body=form.note.data)
        if form.status.data == ActivityStatus.CLOSED.value:
            # Asked again: the form may have given it to someone else meanwhile.
            if not may("activity.complete", activity):
                db.session.rollback()
                form.status.errors = [NOT_YOURS_TO_COMPLETE]
                return _render_form(form, get_or_404(Activity, activity_id))
            service.close_activity(activity, by=me())
        elif form.status.data == ActivityStatus.OPEN.value and not activity.is_open:
            service.reopen_activity(activity, by=me())
        db.session.commit()
    except (service.ActivityChangedMeanwhile, StaleDataError):
        db.session.rollback()
        return edit_with_notice(activity_id)
    prompt = _left_stalled(activity) if closing else None
    return _triggered(_item(activity.id, prompt=prompt), "activity-saved", activity)


def _refusal(activity: Activity, form: ActivityForm) -> tuple[str, str] | None:
    """What the form asks that the member may not do with this activity: give it to
    someone else, mark it done, or reopen it (field, message); None when all is allowed."""
    if form.assigned_to_id.data != activity.assigned_to_id and not may(
        "activity.reassign", activity
    ):
        return "assigned_to_id", NOT_YOURS_TO_REASSIGN
    closing = form.status.data == ActivityStatus.CLOSED.value
    if closing and activity.is_open and not may("activity.complete", activity):
        return "status", NOT_YOURS_TO_COMPLETE
    reopening = form.status.data == ActivityStatus.OPEN.value and not activity.is_open
    if reopening and not may("activity.reopen", activity):
        if activity.assigned_to_id == current_user.id:
            return "status", NOT_YOURS_TO_REOPEN
        return "status", "Only its assignee or a manager can reopen it."
    return None


def edit_with_notice(activity_id: int) -> str:
    activity = get_or_404(Activity, activity_id)
    return _render_form(
        _edit_form(activity),
        activity,
        notice="Someone changed this activity "
        "since you opened it; here it is as it is now. Nothing was overwritten.",
    )


@bp.post("/<int:activity_id>/done")
def done(activity_id: int) -> Any:
    """Close in one click; when that leaves its open opportunity without a next step,
    ask for one at once."""
    activity = get_or_404(Activity, activity_id)
    require("activity.complete", activity)
    service.close_activity(activity, by=me(), now=datetime.now(UTC))
    db.session.commit()
    opportunity = service.opportunity_left_without_next_step(activity, local_today(g.tz))
    return _triggered(_item(activity.id, prompt=opportunity), "activity-closed", activity)


@bp.get("/dismiss")
def dismiss() -> str:
    """ "Skip" on a next-step question: it goes away; the opportunity stays stalled."""
    return ""


def filters_from(args: MultiDict[str, str]) -> ActivityFilters:
    """The list's filters from the URL (or the form): my activities unless a manager asks
    for the team or another member's (``agenda.team``, ``agenda.read``: 403 otherwise, 404
    for a member who does not exist); anything malformed falls back to the default."""
    member = args.get("member_id", "")
    if member == "team" and may("agenda.team"):
        member_id = None
    else:
        member_id = parse_id(member) or current_user.id
        if member_id != current_user.id:
            require("agenda.read", get_or_404(Member, member_id))
    when = args.get("when", "open")
    return ActivityFilters(
        member_id=member_id,
        when=when if when in service.WHEN_CHOICES else "open",
        type_id=parse_id(args.get("type_id")),
        campaign_id=parse_id(args.get("campaign_id")),
    )


@bp.get("/")
def index() -> Any:
    filters = filters_from(request.args)
    offset = offset_arg()
    rows, more = service.activity_list(filters, local_today(g.tz), limit=PAGE_SIZE, offset=offset)
    context = {
        "activities": rows,
        "more": more,
        "next_offset": offset + PAGE_SIZE,
        "filters": filters,
        "today": local_today(g.tz),
    }
    if is_htmx() and request.headers.get("HX-Target") == "activity-list":
        url = url_for("activities.index", **filters.query_args())
        members = pick_lists.active_members()
        html = render_template("activities/_list.html", members=members, **context)
        return html, {"HX-Push-Url": url}
    if is_htmx() and offset:
        # "Load more": just the next rows.
        return render_template("activities/_rows.html", **context)
    return render_template(
        "activities/index.html",
        members=pick_lists.active_members(),
        types=reference.activity_types(),
        campaigns=pick_lists.campaigns(),
        when_choices=service.WHEN_CHOICES,
        **context,
    )


@bp.get("/export.<fmt>")
def export(fmt: str) -> Response:
    """The activity list with its filters (whose list, as the page checks it), all of it,
    as CSV or XLSX."""
    return exporting.send(exports.activity_rows(filters_from(request.args), local_today(g.tz)), fmt)


@bp.post("/reassign")
def reassign() -> Any:
    """Bulk reassign the ticked open activities (``activity.reassign``: managers any, a
    rep their own); the list shown again is one the member may see."""
    ids = parse_ids(request.form.getlist("activity_ids"))
    to_id = parse_id(request.form.get("to_member_id"))
    to = db.session.get(Member, to_id) if to_id else None
    filters = filters_from(request.form)
    message = ""
    if not ids:
        message = "Tick the activities to reassign first."
    elif to is None or not to.active:
        message = "Choose the member to give them to."
    else:
        chosen = db.session.scalars(select(Activity).where(Activity.id.in_(ids))).all()
        for activity in chosen:
            if activity.is_open:  # closed ones are left as they are
                require("activity.reassign", activity)
        count = service.reassign([a.id for a in chosen], to=to, by=me())
        db.session.commit()
        message = f"{count} activit{'y' if count == 1 else 'ies'} now assigned to {to.name}."
    rows, more = service.activity_list(filters, local_today(g.tz), limit=PAGE_SIZE)
    return render_template(
        "activities/_list.html",
        activities=rows,
        more=more,
        next_offset=PAGE_SIZE,
        filters=filters,
        today=local_today(g.tz),
        members=pick_lists.active_members(),
        message=message,
    )


@bp.get("/due-soon")
def due_soon() -> str:
    """The strip of reminders that have come due, polled every minute."""
    return render_template(
        "activities/_due_soon.html", due=service.due_soon(current_user.id, datetime.now(UTC), g.tz)
    )


@bp.app_context_processor
def due_soon_strip() -> dict[str, Any]:
    """Every page's "Due soon" strip asks for it while rendering (one query)."""

    def due_soon_now() -> service.DueSoon:
        # A request refused early (e.g. an oversized upload) may not have the zone yet.
        tz = g.get("tz") or ZoneInfo(get_team().time_zone)
        return service.due_soon(current_user.id, datetime.now(UTC), tz)

    return {"due_soon_now": due_soon_now}
