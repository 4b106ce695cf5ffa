"""The Commitment checklist: ticking a deal's set-up items (its section on the opportunity
page), and each opportunity type's list in Setup (managers)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import ChecklistTemplateItem, Opportunity, OpportunityType
from crmlite.services import checklists, pick_lists
from crmlite.web import get_or_404, is_htmx, may, require
from crmlite.web.checklists_forms import ChecklistItemForm
from crmlite.web.sessions import ask_for_fresh_password

bp = Blueprint("checklists", __name__)


@bp.before_request
def confirm_password_before_setup_changes() -> Response | None:
    # As in Setup: changing the lists needs the password typed recently.
    if request.endpoint in ("checklists.add_item", "checklists.remove_item"):
        return ask_for_fresh_password()
    return None


# ---------------------------------------------------------------- on the opportunity


def _section(opportunity: Opportunity) -> str:
    return render_template(
        "opportunities/_checklist.html",
        opportunity=opportunity,
        checklist=checklists.items_of(opportunity.id),
        can_change=may("opportunity.change", opportunity),
    )


@bp.get("/opportunities/<int:opportunity_id>/checklist")
def section(opportunity_id: int) -> str:
    return _section(get_or_404(Opportunity, opportunity_id))


@bp.post("/opportunities/<int:opportunity_id>/checklist/<int:item_id>")
def tick(opportunity_id: int, item_id: int) -> str | Response:
    """Tick (``done=1``) or untick (``done=0``) a set-up item."""
    opportunity = get_or_404(Opportunity, opportunity_id)
    require("opportunity.change", opportunity)
    item = checklists.find_item(opportunity.id, item_id)
    if item is None:
        abort(404)
    old_version = opportunity.version
    checklists.tick(opportunity, item, request.form.get("done") == "1", by=current_user)
    db.session.commit()
    if is_htmx():
        # The page's other forms move on to the deal's new version (as its own sections do).
        oob = render_template(
            "opportunities/_version_oob.html", opportunity=opportunity, old_version=old_version
        )
        return _section(opportunity) + oob
    return redirect(
        url_for(
            "opportunities.detail", opportunity_id=opportunity.id, _anchor="opportunity-checklist"
        )
    )


# ---------------------------------------------------------------- Setup


def _setup_page(failed_type_id: int | None = None, failed: ChecklistItemForm | None = None) -> str:
    types = pick_lists.opportunity_types()  # the types offered today: those given a list
    forms = {
        kind.id: failed
        if kind.id == failed_type_id and failed
        else ChecklistItemForm(formdata=None, prefix=_prefix(kind.id))
        for kind in types
    }
    return render_template(
        "checklists/setup.html", types=types, lists=checklists.templates(), forms=forms
    )


def _prefix(type_id: int) -> str:
    """Each type's form has its own field ids on the one page."""
    return f"type{type_id}"


@bp.get("/setup/checklists")
def setup() -> str:
    """Each opportunity type's Commitment checklist."""
    return _setup_page()


@bp.post("/setup/checklists/<int:opportunity_type_id>/items")
def add_item(opportunity_type_id: int) -> str | Response:
    kind = get_or_404(OpportunityType, opportunity_type_id)
    form = ChecklistItemForm(prefix=_prefix(kind.id))
    if form.validate():
        try:
            checklists.add_template_item(kind, form.label.data or "")
        except checklists.ChecklistRefused as refused:
            db.session.rollback()
            form.label.errors = [str(refused)]
        else:
            db.session.commit()
            return redirect(url_for("checklists.setup", _anchor=f"checklist-type-{kind.id}"))
    return _setup_page(kind.id, form)


@bp.post("/setup/checklists/items/<int:template_item_id>/delete")
def remove_item(template_item_id: int) -> Response:
    item = get_or_404(ChecklistTemplateItem, template_item_id)
    type_id = item.type_id
    checklists.remove_template_item(item)
    db.session.commit()
    return redirect(url_for("checklists.setup", _anchor=f"checklist-type-{type_id}"))
