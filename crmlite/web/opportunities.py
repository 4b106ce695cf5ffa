"""Opportunity pages: every field editable in place, forecast lines, team, extra contacts,
notes, stage history and activities; and the list of stalled opportunities.

Each section of the page is a partial (``templates/opportunities/_<section>.html``) with
one root element and a stable id. With htmx, an endpoint that changes a section returns
that partial (an invalid form comes back with its errors, status 200); without JS the same
POST redirects back to the page, or renders the whole page with the form and its errors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import Opportunity
from crmlite.services import (
    checklists,
    documents,
    exports,
    forecast_lines,
    pick_lists,
    stalled_opportunities,
    time_expenses,
)
from crmlite.services import opportunity_details as details
from crmlite.services import opportunity_notes as notes
from crmlite.services import opportunity_people as people
from crmlite.services.funnel import ChangedMeanwhile
from crmlite.services.next_steps import is_stalled
from crmlite.services.opportunity_details import InvalidFields
from crmlite.services.parsing import InvalidNumber, parse_id, parse_whole
from crmlite.services.team import local_today
from crmlite.web import exporting, is_htmx, may, me, require
from crmlite.web.documents_forms import DocumentForm
from crmlite.web.opportunities_forms import (
    contact_form,
    fields_form,
    line_form,
    line_form_for_product,
    note_form,
    team_form,
)
from crmlite.web.time_expenses import section_context

bp = Blueprint("opportunities", __name__, url_prefix="/opportunities")

CHANGED_MEANWHILE = (
    "Someone changed this opportunity since you opened it; here are the current values."
)
ONLY_MANAGERS_REASSIGN = "Only a manager can give the opportunity to another account manager."


# ---------------------------------------------------------------- helpers


def _load(opportunity_id: int) -> Opportunity:
    opportunity = details.load_opportunity(opportunity_id)
    if opportunity is None:
        abort(404)
    return opportunity


def _load_for_change(opportunity_id: int) -> Opportunity:
    """The opportunity, if the signed-in member may change it (else 403, nothing changes)."""
    opportunity = _load(opportunity_id)
    require("opportunity.change", opportunity)
    return opportunity


def _reload(opportunity_id: int) -> Opportunity:
    """After a commit or a rollback: what the database now holds."""
    db.session.rollback()
    return _load(opportunity_id)


def _posted_version() -> int | None:
    """The opportunity's version the form was loaded with (a plain field, not prefixed, so
    one out-of-band update refreshes it in every form of the page); None when missing or
    malformed, which no version matches."""
    try:
        return parse_whole(request.form.get("version", ""), label="The version")
    except InvalidNumber:
        return None


def _apply_errors(form: FlaskForm, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        field = form[name]
        field.errors = [*field.errors, message]


def _base_context(opportunity: Opportunity) -> dict[str, Any]:
    return {
        "opportunity": opportunity,
        "can_change": may("opportunity.change", opportunity),
        "computed": details.totals_are_computed(opportunity),
    }


def _section_extras(
    section: str, opportunity: Opportunity, context: dict[str, Any], given: set[str]
) -> dict[str, Any]:
    """What one section shows besides the opportunity; forms in ``given`` are supplied."""
    can_change = context["can_change"]
    if section == "activities":
        today = local_today(g.tz)
        open_activities, done_activities = details.activities_of(opportunity.id, me())
        next_step = details.next_step_among(open_activities, today)
        return {
            "today": today,
            "open_activities": open_activities,
            "done_activities": done_activities,
            "next_step": next_step,
            "stalled": is_stalled(opportunity, today),
        }
    if section == "documents":
        extras: dict[str, Any] = {"documents": documents.documents_of(opportunity.id)}
        if can_change and "document_form" not in given:
            extras["document_form"] = DocumentForm(formdata=None)
        return extras
    if section == "checklist":
        return {"checklist": checklists.items_of(opportunity.id)}
    if section == "header" and "stalled" not in context:
        return {"stalled": is_stalled(opportunity, local_today(g.tz))}
    if section == "lines":
        costs = time_expenses.costs_of(opportunity.id)  # the costs section reuses them
        extras = {
            "groups": forecast_lines.grouped(opportunity.forecast_lines),
            "footer": time_expenses.footer(opportunity, costs),
            "costs": costs,
        }
        if can_change and "add_form" not in given:
            extras["add_form"] = line_form("add", formdata=False)
        return extras
    if section == "costs":
        return section_context(opportunity, costs=context.get("costs"))
    if not can_change:
        return {}
    if section == "team" and "team_form" not in given:
        return {"team_form": team_form(opportunity, formdata=False)}
    if section == "contacts" and "contact_form" not in given:
        return {"contact_form": contact_form(opportunity, formdata=False)}
    if section == "notes" and "note_form" not in given:
        return {"note_form": note_form(formdata=False)}
    return {}


# Activities before the header: the header's "stalled" badge reuses what they found.
SECTIONS = (
    "activities",
    "header",
    "fields",
    "lines",
    "costs",
    "team",
    "contacts",
    "notes",
    "history",
    "documents",
    "checklist",
)


def _render_section(section: str, opportunity: Opportunity, **overrides: Any) -> str:
    context = _base_context(opportunity)
    context.update(_section_extras(section, opportunity, context, set(overrides)))
    context.update(overrides)
    template = section
    if section == "fields" and overrides.get("fields_form") is not None:
        template = "fields_form"
    return render_template(f"opportunities/_{template}.html", **context)


def _render_page(opportunity: Opportunity, **overrides: Any) -> str:
    context = _base_context(opportunity)
    for section in SECTIONS:
        context.update(_section_extras(section, opportunity, context, set(overrides)))
    context.update(overrides)
    return render_template("opportunities/detail.html", **context)


def _respond(section: str, opportunity: Opportunity, **overrides: Any) -> str:
    """The section alone for htmx, else the whole page with it (a form with its errors)."""
    if is_htmx():
        return _render_section(section, opportunity, **overrides)
    return _render_page(opportunity, **overrides)


def _back_to(opportunity_id: int, section: str) -> Response:
    return redirect(
        url_for(".detail", opportunity_id=opportunity_id, _anchor=f"opportunity-{section}")
    )


def _version_oob(opportunity: Opportunity, old_version: int | None) -> str:
    """Out-of-band: the forms of this page that were loaded at the version this change
    replaced now carry the new one, so the person's own changes never look like someone
    else's. Forms loaded earlier stay stale and are refused."""
    if old_version is None:
        return ""
    return render_template(
        "opportunities/_version_oob.html", opportunity=opportunity, old_version=old_version
    )


# ---------------------------------------------------------------- the page


@bp.get("/<int:opportunity_id>")
def detail(opportunity_id: int) -> str:
    """The page. Without JS, ``?edit=fields``, ``?edit=line-<id>`` and ``?remove=<id>``
    open a section's form in place, as the Edit buttons do with htmx."""
    opportunity = _load(opportunity_id)
    overrides: dict[str, Any] = {}
    if may("opportunity.change", opportunity):
        edit = request.args.get("edit", "")
        edit_line = parse_id(edit.removeprefix("line-")) if edit.startswith("line-") else None
        remove_line = parse_id(request.args.get("remove"))
        if edit == "fields":
            overrides["fields_form"] = fields_form(opportunity)
        elif edit_line is not None:
            line = forecast_lines.find_line(opportunity, edit_line)
            if line is not None:
                overrides["edit_line_id"] = line.id
                overrides["edit_form"] = line_form("edit", obj=line)
        if (
            remove_line is not None
            and forecast_lines.find_line(opportunity, remove_line) is not None
        ):
            overrides["remove_line_id"] = remove_line
    return _render_page(opportunity, **overrides)


# ---------------------------------------------------------------- fields


@bp.get("/<int:opportunity_id>/activities")
def activities_section(opportunity_id: int) -> str:
    """The activities section alone, refreshed when one is logged or closed."""
    return _render_section("activities", _load(opportunity_id))


@bp.get("/<int:opportunity_id>/fields")
def fields(opportunity_id: int) -> str:
    return _render_section("fields", _load(opportunity_id))


@bp.get("/<int:opportunity_id>/fields/edit")
def edit_fields(opportunity_id: int) -> str:
    opportunity = _load_for_change(opportunity_id)
    return _render_section("fields", opportunity, fields_form=fields_form(opportunity))


@bp.get("/contact-options")
def contact_options() -> str:
    """The contact choices of a company, for the fields form's contact select."""
    contacts = pick_lists.contacts_of(parse_id(request.args.get("company_id")))
    return render_template("opportunities/_contact_options.html", contacts=contacts)


def _fields_stale(opportunity_id: int) -> str:
    opportunity = _reload(opportunity_id)
    return _respond(
        "fields",
        opportunity,
        fields_form=fields_form(opportunity, formdata=False),
        fields_message=CHANGED_MEANWHILE,
    )


@bp.post("/<int:opportunity_id>/fields")
def save_fields(opportunity_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    version = _posted_version()
    form = fields_form(opportunity)
    valid = form.validate_on_submit()
    if version != opportunity.version:
        return _fields_stale(opportunity_id)
    if not valid:
        return _respond("fields", opportunity, fields_form=form)
    values = form.values()
    if values.account_manager_id != opportunity.account_manager_id and not may(
        "opportunity.reassign", opportunity
    ):
        _apply_errors(form, {"account_manager_id": ONLY_MANAGERS_REASSIGN})
        return _respond("fields", opportunity, fields_form=form)
    try:
        details.update_fields(opportunity, values, by=me(), expected_version=version)
        db.session.commit()
    except InvalidFields as refused:
        db.session.rollback()
        _apply_errors(form, refused.errors)
        return _respond("fields", _load(opportunity_id), fields_form=form)
    except (ChangedMeanwhile, StaleDataError):
        return _fields_stale(opportunity_id)
    if not is_htmx():
        return _back_to(opportunity_id, "fields")
    opportunity = _reload(opportunity_id)
    return (
        _render_section("fields", opportunity)
        + _render_section("header", opportunity, oob=True)
        + _version_oob(opportunity, version)
    )


# ---------------------------------------------------------------- forecast lines


@bp.get("/<int:opportunity_id>/lines")
def lines(opportunity_id: int) -> str:
    return _render_section("lines", _load(opportunity_id))


@bp.get("/line-defaults")
def line_defaults() -> str:
    """The add-a-line inputs as typed, restarted from the chosen product's defaults (the
    product select asks for them when it changes)."""
    form = line_form_for_product(parse_id(request.args.get("add-product_id")), request.args)
    return render_template("opportunities/_line_add_fields.html", f=form)


@bp.get("/<int:opportunity_id>/lines/<int:line_id>/edit")
def edit_line(opportunity_id: int, line_id: int) -> str:
    opportunity = _load_for_change(opportunity_id)
    line = forecast_lines.find_line(opportunity, line_id)
    if line is None:
        abort(404)
    return _render_section(
        "lines", opportunity, edit_line_id=line.id, edit_form=line_form("edit", obj=line)
    )


def _lines_changed(opportunity_id: int, old_version: int | None) -> str | Response:
    """After a line changed: the lines, and out of band the page's figures and versions."""
    if not is_htmx():
        return _back_to(opportunity_id, "lines")
    opportunity = _reload(opportunity_id)
    figures = render_template(
        "opportunities/_figures.html",
        opportunity=opportunity,
        oob=True,
        computed=details.totals_are_computed(opportunity),
    )
    return _render_section("lines", opportunity) + figures + _version_oob(opportunity, old_version)


def _lines_stale(opportunity_id: int, **overrides: Any) -> str:
    return _respond("lines", _reload(opportunity_id), lines_message=CHANGED_MEANWHILE, **overrides)


@bp.post("/<int:opportunity_id>/lines")
def add_line(opportunity_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    version = _posted_version()
    form = line_form("add")
    valid = form.validate_on_submit()
    if version != opportunity.version:
        # The person's new line is kept in the form; the lines above are the current ones.
        return _lines_stale(opportunity_id, add_form=form)
    if not valid:
        return _respond("lines", opportunity, add_form=form)
    try:
        forecast_lines.add_line(opportunity, form.values(), by=me(), expected_version=version)
        db.session.commit()
    except InvalidFields as refused:
        _apply_errors(form, refused.errors)
        return _respond("lines", _reload(opportunity_id), add_form=form)
    except (ChangedMeanwhile, StaleDataError):
        return _lines_stale(opportunity_id, add_form=form)
    return _lines_changed(opportunity_id, version)


@bp.post("/<int:opportunity_id>/lines/<int:line_id>")
def save_line(opportunity_id: int, line_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    line = forecast_lines.find_line(opportunity, line_id)
    if line is None:
        abort(404)
    version = _posted_version()
    form = line_form("edit")
    valid = form.validate_on_submit()
    if version != opportunity.version:
        return _lines_stale(opportunity_id)
    if not valid:
        return _respond("lines", opportunity, edit_line_id=line_id, edit_form=form)
    try:
        forecast_lines.update_line(
            opportunity, line, form.values(), by=me(), expected_version=version
        )
        db.session.commit()
    except InvalidFields as refused:
        _apply_errors(form, refused.errors)
        return _respond("lines", _reload(opportunity_id), edit_line_id=line_id, edit_form=form)
    except (ChangedMeanwhile, StaleDataError):
        return _lines_stale(opportunity_id)
    return _lines_changed(opportunity_id, version)


@bp.post("/<int:opportunity_id>/lines/<int:line_id>/remove")
def remove_line(opportunity_id: int, line_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    line = forecast_lines.find_line(opportunity, line_id)
    if line is None:
        abort(404)
    version = _posted_version()
    try:
        forecast_lines.remove_line(opportunity, line, by=me(), expected_version=version)
        db.session.commit()
    except (ChangedMeanwhile, StaleDataError):
        return _lines_stale(opportunity_id)
    return _lines_changed(opportunity_id, version)


# ---------------------------------------------------------------- team and extra contacts


def _add_row(
    opportunity_id: int, section: str, form: FlaskForm, form_name: str, add: Callable[[], Any]
) -> str | Response:
    """Add a team member, extra contact or note with ``add``: the section again (or, without
    JS, back to the page); a refused form comes back with its errors."""
    if form.validate_on_submit():
        try:
            add()
            db.session.commit()
        except InvalidFields as refused:
            _apply_errors(form, refused.errors)
        else:
            if not is_htmx():
                return _back_to(opportunity_id, section)
            return _render_section(section, _reload(opportunity_id))
    return _respond(section, _reload(opportunity_id), **{form_name: form})


@bp.post("/<int:opportunity_id>/team")
def add_team_member(opportunity_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    form = team_form(opportunity)
    return _add_row(
        opportunity_id,
        "team",
        form,
        "team_form",
        lambda: people.add_team_member(
            opportunity, form.member_id.data or None, form.role.data or ""
        ),
    )


@bp.post("/<int:opportunity_id>/team/<int:member_id>/remove")
def remove_team_member(opportunity_id: int, member_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    if not people.remove_team_member(opportunity, member_id, by=me()):
        abort(404)
    db.session.commit()
    if not is_htmx():
        return _back_to(opportunity_id, "team")
    return _render_section("team", _reload(opportunity_id))


@bp.post("/<int:opportunity_id>/contacts")
def add_extra_contact(opportunity_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    form = contact_form(opportunity)
    return _add_row(
        opportunity_id,
        "contacts",
        form,
        "contact_form",
        lambda: people.add_extra_contact(
            opportunity, form.contact_id.data or None, form.role.data or ""
        ),
    )


@bp.post("/<int:opportunity_id>/contacts/<int:contact_id>/remove")
def remove_extra_contact(opportunity_id: int, contact_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    if not people.remove_extra_contact(opportunity, contact_id, by=me()):
        abort(404)
    db.session.commit()
    if not is_htmx():
        return _back_to(opportunity_id, "contacts")
    return _render_section("contacts", _reload(opportunity_id))


# ---------------------------------------------------------------- notes


@bp.post("/<int:opportunity_id>/notes")
def add_note(opportunity_id: int) -> str | Response:
    opportunity = _load_for_change(opportunity_id)
    form = note_form()
    return _add_row(
        opportunity_id,
        "notes",
        form,
        "note_form",
        lambda: notes.add_note(opportunity, form.body.data or "", by=me()),
    )


# ---------------------------------------------------------------- stalled


@bp.get("/stalled")
@bp.get("/stalled.<fmt>")
def stalled(fmt: str | None = None) -> Any:
    """Open opportunities without a next step, by account manager. Managers and admins see
    the whole team's; a rep sees their own. At ``stalled.csv`` / ``.xlsx``: the export."""
    today = local_today(g.tz)
    member = me()
    whole_team = may("dashboard.team")
    groups = stalled_opportunities.stalled_by_account_manager(
        today, g.tz, account_manager_id=None if whole_team else member.id
    )
    if fmt is not None:
        return exporting.send(exports.stalled_rows(groups), fmt)
    return render_template(
        "opportunities/stalled.html",
        groups=groups,
        today=today,
        total=sum(len(group.opportunities) for group in groups),
        whole_team=whole_team,
    )
