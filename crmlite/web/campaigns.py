"""Campaigns: the analysis of every campaign's return, each campaign's page, creating and
editing them (sub-types filtered by type in place), and the type and sub-type setup."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response
from wtforms import (
    DateField,
    DecimalField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, NumberRange, Optional

from crmlite.extensions import db
from crmlite.models import (
    Activity,
    Campaign,
    CampaignSubType,
    CampaignType,
    Opportunity,
    Role,
)
from crmlite.services import campaigns as service
from crmlite.services import pick_lists, reference
from crmlite.services.campaigns import AnalysisFilters, CampaignRefused
from crmlite.web import get_or_404, is_htmx, require_role, strip
from crmlite.web.email_campaigns import campaign_panel

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")

MANAGERS = (Role.ADMIN, Role.MANAGER)
NONE = SelectChoice(0, "—")


def _id(value: Any) -> int | None:
    return int(value) if str(value or "").isdigit() and int(value) > 0 else None


def _not_negative(label: str) -> DecimalField:
    return DecimalField(
        label,
        places=2,
        default=0,
        validators=[Optional(), NumberRange(min=0, message="Amounts cannot be negative.")],
    )


class CampaignForm(FlaskForm):
    type_id = SelectField("Type", coerce=int)
    sub_type_id = SelectField("Sub-type", coerce=int, validate_choice=False)
    name = StringField(
        "Name",
        filters=[strip],
        validators=[Length(max=200)],
        description="Leave empty to use the proposed name.",
    )
    status = SelectField("Status", choices=[SelectChoice(s, s) for s in service.statuses()])
    starts_on = DateField("Starts", validators=[Optional()])
    ends_on = DateField("Ends", validators=[Optional()])
    owner_id = SelectField("Owner", coerce=int)
    location_id = SelectField("Location", coerce=int)
    budgeted_cost = _not_negative("Budgeted cost")
    actual_cost = _not_negative("Actual cost")
    expected_revenue = _not_negative("Expected revenue")
    notes = TextAreaField("Notes", validators=[Length(max=10_000)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        types = db.session.scalars(
            select(CampaignType).where(CampaignType.active).order_by(CampaignType.position)
        ).all()
        self.type_id.choices = [NONE] + [SelectChoice(t.id, t.name) for t in types]
        self.owner_id.choices = [NONE] + [
            SelectChoice(m.id, m.name) for m in pick_lists.active_members()
        ]
        self.location_id.choices = [NONE] + [
            SelectChoice(loc.id, loc.name) for loc in reference.locations()
        ]
        self.sub_type_id.choices = [NONE] + [
            SelectChoice(s.id, s.name) for s in service.sub_types_of(self.type_id.data)
        ]

    def proposal(self) -> str:
        return service.proposed_name(self.type_id.data, self.sub_type_id.data, self.starts_on.data)


def _values(form: CampaignForm) -> dict[str, Any]:
    return {
        "type_id": form.type_id.data,
        "sub_type_id": form.sub_type_id.data or None,
        "name": form.name.data or "",
        "status": form.status.data,
        "starts_on": form.starts_on.data,
        "ends_on": form.ends_on.data,
        "owner_id": form.owner_id.data or None,
        "location_id": form.location_id.data or None,
        "budgeted_cost": form.budgeted_cost.data or 0,
        "actual_cost": form.actual_cost.data or 0,
        "expected_revenue": form.expected_revenue.data or 0,
        "notes": form.notes.data or "",
    }


def analysis_filters(args: Any) -> AnalysisFilters:
    year = args.get("year", "")
    sort = args.get("sort", "roi")
    return AnalysisFilters(
        year=int(year) if year.isdigit() and 1900 < int(year) < 3000 else None,
        type_id=_id(args.get("type_id")),
        sub_type_id=_id(args.get("sub_type_id")),
        sort=sort if sort in service.SORTS else "roi",
    )


@bp.get("/")
def index() -> Any:
    filters = analysis_filters(request.args)
    result = service.analysis(filters)
    context = {"analysis": result, "filters": filters, "sorts": service.SORTS}
    if is_htmx() and request.headers.get("HX-Target") == "campaign-analysis":
        args = {k: v for k, v in vars(filters).items() if v}
        return render_template("campaigns/_analysis.html", **context), {
            "HX-Push-Url": url_for("campaigns.index", **args)
        }
    types = (
        db.session.scalars(
            select(CampaignType)
            .options(joinedload(CampaignType.sub_types))
            .order_by(CampaignType.position)
        )
        .unique()
        .all()
    )
    years = sorted(
        {y for (y,) in db.session.execute(select(service.campaign_year()).distinct()) if y},
        reverse=True,
    )
    return render_template(
        "campaigns/index.html", types=types, years=[int(y) for y in years], **context
    )


@bp.get("/sub-types")
def sub_types() -> str:
    """The sub-type choice for the chosen type, and the name it proposes (in place)."""
    form = CampaignForm(formdata=request.args, meta={"csrf": False})
    if form.sub_type_id.data not in {c.value for c in form.sub_type_id.choices}:
        form.sub_type_id.data = 0
    return render_template("campaigns/_sub_type.html", form=form, proposal=form.proposal())


@bp.route("/new", methods=["GET", "POST"])
@require_role(*MANAGERS)
def new() -> str | Response:
    form = CampaignForm()
    if request.method == "GET":
        form.owner_id.data = current_user.id
    return _save(form, None)


@bp.route("/<int:campaign_id>/edit", methods=["GET", "POST"])
@require_role(*MANAGERS)
def edit(campaign_id: int) -> str | Response:
    campaign = get_or_404(Campaign, campaign_id)
    form = CampaignForm(obj=campaign)
    if request.method == "GET":
        for key in ("sub_type_id", "owner_id", "location_id"):
            getattr(form, key).data = getattr(campaign, key) or 0
    return _save(form, campaign)


def _save(form: CampaignForm, campaign: Campaign | None) -> str | Response:
    if form.validate_on_submit():
        try:
            saved = service.save_campaign(campaign, **_values(form))
            db.session.commit()
            flash(f"{saved.name} saved.", "success")
            return redirect(url_for("campaigns.detail", campaign_id=saved.id))
        except CampaignRefused as refused:
            db.session.rollback()
            getattr(form, refused.field).errors = [str(refused)]
    return render_template(
        "campaigns/form.html", form=form, campaign=campaign, proposal=form.proposal()
    )


@bp.get("/<int:campaign_id>")
def detail(campaign_id: int) -> str:
    campaign = db.session.scalars(
        select(Campaign)
        .where(Campaign.id == campaign_id)
        .options(
            joinedload(Campaign.type),
            joinedload(Campaign.sub_type),
            joinedload(Campaign.owner),
            joinedload(Campaign.location),
        )
    ).first()
    if campaign is None:
        abort(404)
    opportunities = db.session.scalars(
        select(Opportunity)
        .where(Opportunity.campaign_id == campaign.id)
        .options(
            joinedload(Opportunity.stage),
            joinedload(Opportunity.status),
            joinedload(Opportunity.company),
        )
        .order_by(Opportunity.created_at.desc())
    ).all()
    activities = db.session.scalars(
        select(Activity)
        .where(Activity.campaign_id == campaign.id)
        .options(joinedload(Activity.type), joinedload(Activity.assigned_to))
        .order_by(Activity.due_on.desc())
        .limit(100)
    ).all()
    figures = service.figures([campaign.id]).get(campaign.id, service.Figures())
    return render_template(
        "campaigns/detail.html",
        campaign=campaign,
        figures=figures,
        opportunities=opportunities,
        activities=activities,
        **campaign_panel(campaign),
    )


# ---------------------------------------------------------------- types and sub-types


@bp.get("/types")
@require_role(*MANAGERS)
def types() -> str:
    all_types = (
        db.session.scalars(
            select(CampaignType)
            .options(joinedload(CampaignType.sub_types))
            .order_by(CampaignType.position)
        )
        .unique()
        .all()
    )
    used_subs = set(db.session.scalars(select(Campaign.sub_type_id).distinct()))
    return render_template("campaigns/types.html", types=all_types, used_subs=used_subs)


def _back(message: str = "", error: str = "") -> Response:
    """After a change: back to the setup page (so a reload repeats nothing) with the news."""
    flash(error or message, "error" if error else "success")
    return redirect(url_for("campaigns.types"))


def _name_from_form() -> str:
    return (request.form.get("name") or "").strip()[:80]


@bp.post("/types")
@require_role(*MANAGERS)
def add_type() -> Response:
    name = _name_from_form()
    if not name:
        return _back(error="Enter the new type's name.")
    if db.session.scalar(
        select(CampaignType.id).where(func.lower(CampaignType.name) == name.lower())
    ):
        return _back(error=f"There is a type called {name} already.")
    position = (db.session.scalar(select(func.max(CampaignType.position))) or 0) + 1
    db.session.add(CampaignType(name=name, position=position))
    db.session.commit()
    return _back(message=f"Type {name} added.")


@bp.post("/types/<int:type_id>/sub-types")
@require_role(*MANAGERS)
def add_sub_type(type_id: int) -> Response:
    campaign_type = get_or_404(CampaignType, type_id)
    name = _name_from_form()
    if not name:
        return _back(error="Enter the new sub-type's name.")
    if db.session.scalar(
        select(CampaignSubType.id).where(
            CampaignSubType.type_id == type_id, func.lower(CampaignSubType.name) == name.lower()
        )
    ):
        return _back(error=f"{campaign_type.name} has a sub-type {name} already.")
    position = (
        db.session.scalar(
            select(func.max(CampaignSubType.position)).where(CampaignSubType.type_id == type_id)
        )
        or 0
    ) + 1
    db.session.add(CampaignSubType(type_id=type_id, name=name, position=position))
    db.session.commit()
    return _back(message=f"Sub-type {name} added to {campaign_type.name}.")


def _toggle(item: CampaignType | CampaignSubType) -> Response:
    item.active = not item.active
    db.session.commit()
    return _back(message=f"{item.name} is {'active' if item.active else 'inactive'}.")


def _delete_unless_used(item: CampaignType | CampaignSubType, used_by: Any) -> Response:
    """Delete a type or sub-type no campaign uses; one in use may only be deactivated."""
    in_use = db.session.scalar(select(func.count(Campaign.id)).where(used_by == item.id))
    if in_use:
        return _back(
            error=f"{item.name} is used by {in_use} campaign(s), so it "
            "cannot be deleted. Make it inactive instead."
        )
    if isinstance(item, CampaignType):
        for sub_type in service.sub_types_of(item.id, active_only=False):
            db.session.delete(sub_type)
    db.session.delete(item)
    db.session.commit()
    return _back(message=f"{item.name} deleted.")


@bp.post("/types/<int:type_id>/active")
@require_role(*MANAGERS)
def toggle_type(type_id: int) -> Response:
    return _toggle(get_or_404(CampaignType, type_id))


@bp.post("/sub-types/<int:sub_type_id>/active")
@require_role(*MANAGERS)
def toggle_sub_type(sub_type_id: int) -> Response:
    return _toggle(get_or_404(CampaignSubType, sub_type_id))


@bp.post("/types/<int:type_id>/delete")
@require_role(*MANAGERS)
def delete_type(type_id: int) -> Response:
    return _delete_unless_used(get_or_404(CampaignType, type_id), Campaign.type_id)


@bp.post("/sub-types/<int:sub_type_id>/delete")
@require_role(*MANAGERS)
def delete_sub_type(sub_type_id: int) -> Response:
    return _delete_unless_used(get_or_404(CampaignSubType, sub_type_id), Campaign.sub_type_id)
