"""Campaigns: the analysis of every campaign's return, each campaign's page, creating and
editing them (sub-types filtered by type in place), and the type and sub-type setup."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import Campaign, CampaignSubType, CampaignType
from crmlite.services import campaigns as service
from crmlite.services import exports, reference, tracking
from crmlite.services.campaigns import AnalysisFilters, CampaignRefused
from crmlite.services.parsing import InvalidNumber, optional_whole, parse_id
from crmlite.services.periods import FIRST_YEAR, LAST_YEAR
from crmlite.services.team import local_today
from crmlite.web import exporting, get_or_404, is_htmx
from crmlite.web.campaigns_forms import CampaignForm, WebFormSwitch
from crmlite.web.email_campaigns import campaign_panel

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")


def analysis_filters(args: Any) -> AnalysisFilters:
    """The analysis' filters from the query string; what cannot be read is no filter."""
    try:
        year = optional_whole(args.get("year"), minimum=FIRST_YEAR, maximum=LAST_YEAR)
    except InvalidNumber:
        year = None
    sort = args.get("sort", "roi")
    return AnalysisFilters(
        year=year,
        type_id=parse_id(args.get("type_id")),
        sub_type_id=parse_id(args.get("sub_type_id")),
        sort=sort if sort in service.SORTS else "roi",
    )


@bp.get("/")
def index() -> Any:
    filters = analysis_filters(request.args)
    result = service.analysis(filters)
    context = {"analysis": result, "filters": filters, "sorts": service.SORTS}
    if is_htmx() and request.headers.get("HX-Target") == "campaign-analysis":
        return render_template("campaigns/_analysis.html", **context), {
            "HX-Push-Url": url_for("campaigns.index", **filters.query_args())
        }
    return render_template(
        "campaigns/index.html",
        types=reference.campaign_types(),
        years=service.campaign_years(),
        **context,
    )


@bp.get("/export.<fmt>")
def export(fmt: str) -> Response:
    """The campaign analysis with its filters and order, as CSV or XLSX."""
    return exporting.send(exports.campaign_rows(analysis_filters(request.args)), fmt)


@bp.get("/sub-types")
def sub_types() -> str:
    """The sub-type choice for the chosen type, and the name it proposes (in place)."""
    form = CampaignForm(formdata=request.args, meta={"csrf": False})
    form.forget_other_sub_type()
    return render_template("campaigns/_sub_type.html", form=form, proposal=form.proposal())


@bp.route("/new", methods=["GET", "POST"])
def new() -> str | Response:
    form = CampaignForm()
    if request.method == "GET":
        form.owner_id.data = current_user.id
    return _save(form, None)


@bp.route("/<int:campaign_id>/edit", methods=["GET", "POST"])
def edit(campaign_id: int) -> str | Response:
    campaign = get_or_404(Campaign, campaign_id)
    form = CampaignForm(
        obj=campaign,
        keep_owner_id=campaign.owner_id,
        keep_track_ids=(campaign.contact_track_id, campaign.opportunity_track_id),
    )
    return _save(form, campaign)


def _save(form: CampaignForm, campaign: Campaign | None) -> str | Response:
    if form.validate_on_submit():
        try:
            saved = service.save_campaign(campaign, **form.values())
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
    campaign = service.load_campaign(campaign_id)
    if campaign is None:
        abort(404)
    return render_template(
        "campaigns/detail.html",
        campaign=campaign,
        figures=service.figures([campaign.id]).get(campaign.id, service.Figures()),
        opportunities=service.opportunities_of(campaign.id),
        activities=service.activities_of(campaign.id, current_user),
        tracks=service.tracks_of(campaign),
        **campaign_panel(campaign),
    )


@bp.post("/<int:campaign_id>/web-form")
def switch_form(campaign_id: int) -> Response:
    """Switch the campaign's public web form on or off by hand."""
    campaign = get_or_404(Campaign, campaign_id)
    back = redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    form = WebFormSwitch()
    if not form.validate():
        flash("Choose open or closed for the web form.", "error")
        return back
    tracking.switch_form(campaign, is_open=form.state.data == "open")
    db.session.commit()
    if not campaign.form_open:
        flash("The web form is closed.", "success")
    elif tracking.form_closed_reason(campaign, local_today(g.tz)) is None:
        flash("The web form is open.", "success")
    else:
        flash("The web form is switched on, but stays closed: see why below.", "success")
    return back


# ---------------------------------------------------------------- types and sub-types


@bp.get("/types")
def types() -> str:
    return render_template(
        "campaigns/types.html",
        types=reference.campaign_types(),
        used_subs=service.sub_types_in_use(),
    )


def _back(message: str = "", error: str = "") -> Response:
    """After a change: back to the setup page (so a reload repeats nothing) with the news."""
    flash(error or message, "error" if error else "success")
    return redirect(url_for("campaigns.types"))


@bp.post("/types")
def add_type() -> Response:
    try:
        added = service.add_type(request.form.get("name", ""))
    except CampaignRefused as refused:
        db.session.rollback()
        return _back(error=str(refused))
    db.session.commit()
    return _back(message=f"Type {added.name} added.")


@bp.post("/types/<int:type_id>/sub-types")
def add_sub_type(type_id: int) -> Response:
    campaign_type = get_or_404(CampaignType, type_id)
    try:
        added = service.add_sub_type(campaign_type, request.form.get("name", ""))
    except CampaignRefused as refused:
        db.session.rollback()
        return _back(error=str(refused))
    db.session.commit()
    return _back(message=f"Sub-type {added.name} added to {campaign_type.name}.")


def _toggle(item: CampaignType | CampaignSubType) -> Response:
    service.toggle_active(item)
    db.session.commit()
    return _back(message=f"{item.name} is {'active' if item.active else 'inactive'}.")


def _delete(item: CampaignType | CampaignSubType) -> Response:
    name = item.name
    try:
        if isinstance(item, CampaignType):
            service.delete_type(item, by=current_user)
        else:
            service.delete_sub_type(item, by=current_user)
    except CampaignRefused as refused:
        db.session.rollback()
        return _back(error=str(refused))
    db.session.commit()
    return _back(message=f"{name} deleted.")


@bp.post("/types/<int:type_id>/active")
def toggle_type(type_id: int) -> Response:
    return _toggle(get_or_404(CampaignType, type_id))


@bp.post("/sub-types/<int:sub_type_id>/active")
def toggle_sub_type(sub_type_id: int) -> Response:
    return _toggle(get_or_404(CampaignSubType, sub_type_id))


@bp.post("/types/<int:type_id>/delete")
def delete_type(type_id: int) -> Response:
    return _delete(get_or_404(CampaignType, type_id))


@bp.post("/sub-types/<int:sub_type_id>/delete")
def delete_sub_type(sub_type_id: int) -> Response:
    return _delete(get_or_404(CampaignSubType, sub_type_id))
