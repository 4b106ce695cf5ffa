"""/api/v1/opportunities: list, read, create, update and move between stages, with the
board's and the opportunity page's own forms and services (the same rules, the same
messages)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import g, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import Opportunity, OpportunityStatus, SalesStage
from crmlite.services import activities, funnel, permissions
from crmlite.services import opportunity_details as details
from crmlite.services.money import ZERO
from crmlite.services.next_steps import stalled
from crmlite.services.opportunities import create_opportunity
from crmlite.services.opportunity_details import InvalidFields
from crmlite.services.statuses import is_open
from crmlite.services.team import local_today
from crmlite.web import me
from crmlite.web.api.base import (
    amount,
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
    text_arg,
)
from crmlite.web.board_forms import MoveForm, NewOpportunityForm
from crmlite.web.opportunities_forms import fields_form

ONLY_MANAGERS_REASSIGN = "Only a manager can choose or change an opportunity's account manager."
STATUSES = ("open", "won", "lost")
# What the fields form takes, by the API's names (the same as the form's).
FIELDS = (
    "name",
    "type_id",
    "rating",
    "revenue",
    "cost",
    "expected_close_on",
    "probability",
    "use_stage_default",
    "source",
    "campaign_id",
    "account_manager_id",
    "sales_associate_id",
    "company_id",
    "contact_id",
    "location_id",
    "business_unit_id",
    "description",
)
CREATE_FIELDS = (
    "name",
    "company_name",
    "contact_name",
    "type_id",
    "revenue",
    "expected_close_on",
    "rating",
    "account_manager_id",
    "campaign_id",
)
# Read from a record and sent back as is: ignored in a body, never refused.
READ_ONLY = (
    "id",
    "stage",
    "status",
    "margin",
    "won_amount",
    "lost_amount",
    "lost_reason",
    "closed_at",
    "stalled",
    "created_at",
    "updated_at",
    "version",
)
MOVE_FIELDS = ("stage_id", "lost_reason", "won_amount", "won_on", "open_activities")


def as_json(opportunity: Opportunity, is_stalled: bool) -> dict[str, Any]:
    return {
        "id": opportunity.id,
        "name": opportunity.name,
        "description": opportunity.description,
        "type_id": opportunity.type_id,
        "stage": {"id": opportunity.stage.id, "name": opportunity.stage.name},
        "status": opportunity.status.name,
        "revenue": amount(opportunity.revenue),
        "cost": amount(opportunity.cost),
        "margin": amount(opportunity.margin),
        "won_amount": amount(opportunity.won_amount),
        "lost_amount": amount(opportunity.lost_amount),
        "lost_reason": opportunity.lost_reason,
        "expected_close_on": day(opportunity.expected_close_on),
        "rating": opportunity.rating,
        "probability": opportunity.probability,
        "source": opportunity.source,
        "campaign_id": opportunity.campaign_id,
        "account_manager_id": opportunity.account_manager_id,
        "sales_associate_id": opportunity.sales_associate_id,
        "company_id": opportunity.company_id,
        "contact_id": opportunity.contact_id,
        "location_id": opportunity.location_id,
        "business_unit_id": opportunity.business_unit_id,
        "stalled": is_stalled,
        "closed_at": moment(opportunity.closed_at),
        "created_at": moment(opportunity.created_at),
        "updated_at": moment(opportunity.updated_at),
        "version": opportunity.version,
    }


def _query() -> Any:
    """Opportunities with their stage and status, and whether each is stalled (the
    next-step rule, in SQL): one statement for any number of them."""
    return select(Opportunity, stalled(local_today(g.tz)).label("stalled")).options(
        joinedload(Opportunity.stage), joinedload(Opportunity.status)
    )


def _load(opportunity_id: int) -> tuple[Opportunity, bool]:
    """The opportunity (404 when there is none) and whether it is stalled."""
    row = db.session.execute(_query().where(Opportunity.id == opportunity_id)).one_or_none()
    if row is None:
        fail(404, "There is no opportunity with that id.")
    return row[0], bool(row[1])


def _answer(opportunity_id: int, status: int = 200) -> Response:
    opportunity, is_stalled = _load(opportunity_id)
    location = url_for("api.opportunity", opportunity_id=opportunity.id) if status == 201 else None
    return json_response(
        as_json(opportunity, is_stalled),
        status,
        tag=etag(opportunity.version),
        location=location,
    )


@bp.get("/opportunities")
def opportunities() -> Response:
    """The opportunities, oldest first, filtered by stage, owner (account manager), status,
    company, a search in the name, and updated since a moment."""
    limit, after = page_args()
    query = _query()
    stage_id, owner_id, company_id = id_arg("stage"), id_arg("owner"), id_arg("company_id")
    status = choice_arg("status", STATUSES)
    since = moment_arg("updated_since")
    q = text_arg("q")
    if stage_id is not None:
        query = query.where(Opportunity.stage_id == stage_id)
    if owner_id is not None:
        query = query.where(Opportunity.account_manager_id == owner_id)
    if company_id is not None:
        query = query.where(Opportunity.company_id == company_id)
    if status == "open":
        query = query.where(is_open())
    elif status in ("won", "lost"):
        flag = OpportunityStatus.is_won if status == "won" else OpportunityStatus.is_lost
        query = query.where(Opportunity.status_id.in_(select(OpportunityStatus.id).where(flag)))
    if since is not None:
        query = query.where(Opportunity.updated_at >= since)
    if q:
        query = query.where(func.lower(Opportunity.name).contains(q.lower(), autoescape=True))
    if after is not None:
        query = query.where(Opportunity.id > after)
    permissions.require(me(), "opportunity.read")
    rows = db.session.execute(query.order_by(Opportunity.id).limit(limit + 1)).all()
    return page([as_json(o, bool(s)) for o, s in rows], [o.id for o, _ in rows], limit)


@bp.get("/opportunities/<int:opportunity_id>")
def opportunity(opportunity_id: int) -> Response:
    found, is_stalled = _load(opportunity_id)
    permissions.require(me(), "opportunity.read", found)
    return json_response(as_json(found, is_stalled), tag=etag(found.version))


@bp.post("/opportunities")
def new_opportunity() -> Response:
    """A new opportunity in Prospect, as the board's "New" form adds one: a rep's is their
    own; a manager names its account manager."""
    body = json_body()
    member = me()
    data = form_data(body, CREATE_FIELDS, current={"account_manager_id": member.id})
    form = NewOpportunityForm(formdata=data, meta={"csrf": False})
    valid = form.validate()
    # Judged on the parsed id ("07" is member 7), before any other problem is reported.
    if form.account_manager_id.data not in (None, 0, member.id) and not (
        permissions.allows(member, "opportunity.reassign")
    ):
        fail(403, ONLY_MANAGERS_REASSIGN)
    if not valid:
        invalid(form_errors(form))
    created = create_opportunity(
        name=form.name.data or "",
        by=member,
        company_name=form.company_name.data or "",
        contact_name=form.contact_name.data or "",
        type_id=form.type_id.data or None,
        revenue=form.revenue.data or ZERO,
        expected_close_on=form.expected_close_on.data,
        rating=form.rating.data or "Medium",
        account_manager_id=form.account_manager_id.data,
        campaign_id=form.campaign_id.data or None,
        tz=g.tz,
    )
    db.session.commit()
    return _answer(created.id, 201)


def _current_fields(opportunity: Opportunity) -> dict[str, Any]:
    values = {name: getattr(opportunity, name, None) for name in FIELDS}
    values["revenue"] = amount(opportunity.revenue)
    values["cost"] = amount(opportunity.cost)
    values["expected_close_on"] = day(opportunity.expected_close_on)
    values["use_stage_default"] = False
    return values


@bp.patch("/opportunities/<int:opportunity_id>")
def update_opportunity(opportunity_id: int) -> Response:
    """Change fields (those sent; the others stay), as the opportunity page's fields form
    does: ``If-Match`` with the ETag read, 412 when it changed meanwhile."""
    # With its forecast lines: when there are any, revenue and cost are their sums.
    opportunity = db.session.scalars(
        select(Opportunity)
        .where(Opportunity.id == opportunity_id)
        .options(selectinload(Opportunity.forecast_lines))
    ).one_or_none()
    if opportunity is None:
        fail(404, "There is no opportunity with that id.")
    member = me()
    permissions.require(member, "opportunity.change", opportunity)
    version = if_match(opportunity.version)
    body = json_body()
    # Revenue and cost are the sums of the forecast lines when there are any: sent back as
    # read they are ignored, changed they are refused.
    computed = details.totals_are_computed(opportunity)
    allowed = [f for f in FIELDS if not (computed and f in ("revenue", "cost"))]
    if computed:
        for name in ("revenue", "cost"):
            if name in body and body[name] == amount(getattr(opportunity, name)):
                del body[name]
            elif name in body:
                invalid({name: [f"The {name} is the sum of the forecast lines: change those."]})
    data = form_data(body, allowed, current=_current_fields(opportunity), ignored=READ_ONLY)
    form = fields_form(opportunity, data, choices=False)
    if not form.validate():
        invalid(form_errors(form))
    values = form.values()
    if values.account_manager_id != opportunity.account_manager_id and not permissions.allows(
        member, "opportunity.reassign", opportunity
    ):
        fail(403, ONLY_MANAGERS_REASSIGN)
    try:
        details.update_fields(opportunity, values, by=member, expected_version=int(version))
        db.session.commit()
    except InvalidFields as refused:
        invalid({field: [message] for field, message in refused.errors.items()})
    except (details.ChangedMeanwhile, StaleDataError):
        changed_meanwhile()
    return _answer(opportunity_id)


# ---------------------------------------------------------------- moving between stages

STEP_FIELDS = dict(MoveForm.STEP_FIELDS)  # the service's names → the form's
STEP_NAMES = {form_name: f"next_step.{name}" for name, form_name in STEP_FIELDS.items()}


@bp.post("/opportunities/<int:opportunity_id>/move")
def move_opportunity(opportunity_id: int) -> Response:
    """Move to a stage with the board's rules (services/funnel.py): Lost needs the reason,
    Won the amount (and a day, today by default); a won or lost deal is reopened only when
    ``reopen`` is true; moving forward without a next step needs ``next_step`` (or
    ``skip_next_step``), as the board asks before anything changes; Won with set-up items
    of its Commitment checklist open needs ``checklist_confirmed``."""
    opportunity, _ = _load(opportunity_id)
    member = me()
    permissions.require(member, "opportunity.change", opportunity)
    version = int(if_match(opportunity.version))
    body = dict(json_body())
    reopen = body.pop("reopen", False) is True
    skip = body.pop("skip_next_step", False) is True
    # Won with set-up items of its Commitment checklist open: refused unless confirmed.
    checklist_confirmed = body.pop("checklist_confirmed", False) is True
    step = body.pop("next_step", None)
    if step is not None and not isinstance(step, dict):
        invalid({"next_step": ["Send the next step as an object: type_id, subject, due_on…"]})
    data = form_data(body, MOVE_FIELDS)
    step_errors: dict[str, list[str]] = {}
    for name, value in (step or {}).items():
        if name not in STEP_FIELDS or isinstance(value, dict | list):
            step_errors[f"next_step.{name}"] = ["There is no such field of a next step."]
        else:
            data[STEP_FIELDS[name]] = "" if value is None else str(value)
    if step_errors:
        invalid(step_errors)
    data["version"] = str(version)
    form = MoveForm(formdata=data, meta={"csrf": False})
    if not form.validate():
        invalid(form_errors(form, STEP_NAMES))
    to_stage = db.session.get(SalesStage, form.stage_id.data) if form.stage_id.data else None
    if to_stage is None:
        invalid({"stage_id": ["Choose a stage: the id of one of the funnel's stages."]})
    from_stage = db.session.get(SalesStage, opportunity.stage_id)
    assert from_stage is not None
    today = local_today(g.tz)
    if from_stage.is_closed and not to_stage.is_closed and not reopen:
        fail(
            409,
            f'It is {from_stage.name.lower()}: send "reopen": true to open it again.',
            kind="reopen-not-confirmed",
            errors={"reopen": ["Confirm reopening a won or lost opportunity."]},
        )
    if to_stage.is_won and form.won_amount.data is None:
        invalid({"won_amount": ["Enter the amount won (e.g. its revenue)."]})
    if funnel.needs_next_step(opportunity, to_stage, from_stage, today) and not skip:
        if step is None:
            fail(
                409,
                "It has no next step scheduled: send next_step (type_id, subject, due_on, "
                'start, end) or "skip_next_step": true.',
                kind="next-step-needed",
                errors={"next_step": ["Schedule the next step, or skip it."]},
            )
        try:
            activities.schedule_next_step(
                opportunity,
                type_id=form.step_type_id.data,
                subject=form.step_subject.data or "",
                due_on=form.step_date.data,
                start=form.step_start.data,
                end=form.step_end.data,
                by=member,
                tz=g.tz,
                today=today,
            )
        except activities.InvalidActivity as refused:
            invalid({f"next_step.{name}": [message] for name, message in refused.errors.items()})
    try:
        funnel.move_to_stage(
            opportunity,
            to_stage,
            by=member,
            expected_version=version,
            tz=g.tz,
            lost_reason=form.lost_reason.data or "",
            won_amount=form.won_amount.data,
            won_on=form.won_on.data,
            cancel_open_activities=form.open_activities.data != "keep",
            checklist_confirmed=checklist_confirmed,
            now=datetime.now(UTC),
        )
        db.session.commit()
    except funnel.MoveRefused as refused:
        invalid({refused.field or "stage_id": [str(refused)]})
    except (funnel.ChangedMeanwhile, StaleDataError):
        changed_meanwhile()
    return _answer(opportunity_id)


def stages_json() -> list[dict[str, Any]]:
    rows = db.session.scalars(select(SalesStage).order_by(SalesStage.position))
    return [
        {
            "id": s.id,
            "name": s.name,
            "position": s.position,
            "default_probability": s.default_probability,
            "is_won": s.is_won,
            "is_lost": s.is_lost,
        }
        for s in rows
    ]


@bp.get("/stages")
def stages() -> Response:
    """The funnel's stages in order (their ids are what a move names)."""
    permissions.require(me(), "opportunity.read")
    return json_response({"data": stages_json(), "next": None})
