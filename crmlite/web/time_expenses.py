"""The opportunity's Time & expenses section: hours logged and money spent on the deal,
listed with their totals; add and delete for who is on the deal, and managers. The
forecast table's footer (opportunities/_lines.html) subtracts them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import Opportunity
from crmlite.services import time_expenses
from crmlite.services.opportunity_details import InvalidFields, load_opportunity
from crmlite.web import get_or_404, is_htmx, may, me, require
from crmlite.web.time_expenses_forms import ExpenseForm, TimeForm, expense_form, time_form

bp = Blueprint("time_expenses", __name__, url_prefix="/opportunities")


def _load(opportunity_id: int) -> Opportunity:
    return get_or_404(Opportunity, opportunity_id)


def section_context(
    opportunity: Opportunity,
    *,
    time: TimeForm | None = None,
    expense: ExpenseForm | None = None,
    costs: time_expenses.Costs | None = None,
) -> dict[str, Any]:
    """What the section shows: the entries, their totals (``costs`` when already read) and
    (for who may log) the forms."""
    can_log = may("opportunity.costs", opportunity)
    return {
        "opportunity": opportunity,
        "costs": costs or time_expenses.costs_of(opportunity.id),
        "can_log": can_log,
        "time_form": time or (time_form(me(), formdata=False) if can_log else None),
        "expense_form": expense or (expense_form(formdata=False) if can_log else None),
    }


def _respond(opportunity_id: int, **forms: Any) -> str | Response:
    """The section (htmx), or back to the page; a refused form shows its errors."""
    if not forms and not is_htmx():
        return redirect(
            url_for(
                "opportunities.detail",
                opportunity_id=opportunity_id,
                _anchor="opportunity-costs",
            )
        )
    opportunity = load_opportunity(opportunity_id)  # with its lines, for the footer
    if opportunity is None:
        abort(404)
    costs = time_expenses.costs_of(opportunity_id)
    section = render_template(
        "opportunities/_costs.html", **section_context(opportunity, costs=costs, **forms)
    )
    if not is_htmx():
        return section
    # The forecast footer follows the totals.
    return section + render_template(
        "opportunities/_lines_footer_oob.html",
        opportunity=opportunity,
        footer=time_expenses.footer(opportunity, costs),
    )


def _add(opportunity_id: int, form: FlaskForm, name: str, add: Any) -> str | Response:
    if form.validate_on_submit():
        try:
            add(form.values())
            db.session.commit()
        except InvalidFields as refused:
            db.session.rollback()
            for field, message in refused.errors.items():
                form[field].errors = [*form[field].errors, message]
        else:
            return _respond(opportunity_id)
    return _respond(opportunity_id, **{name: form})


@bp.get("/<int:opportunity_id>/costs")
def section(opportunity_id: int) -> str:
    opportunity = _load(opportunity_id)
    return render_template("opportunities/_costs.html", **section_context(opportunity))


@bp.post("/<int:opportunity_id>/costs/time")
def add_time(opportunity_id: int) -> str | Response:
    opportunity = _load(opportunity_id)
    require("opportunity.costs", opportunity)
    member = me()
    return _add(
        opportunity_id,
        time_form(member),
        "time",
        lambda values: time_expenses.add_time(opportunity, values, by=member),
    )


@bp.post("/<int:opportunity_id>/costs/expenses")
def add_expense(opportunity_id: int) -> str | Response:
    opportunity = _load(opportunity_id)
    require("opportunity.costs", opportunity)
    member = me()
    return _add(
        opportunity_id,
        expense_form(),
        "expense",
        lambda values: time_expenses.add_expense(opportunity, values, by=member),
    )


@bp.post("/<int:opportunity_id>/costs/time/<int:entry_id>/delete")
def remove_time(opportunity_id: int, entry_id: int) -> str | Response:
    opportunity = _load(opportunity_id)
    require("opportunity.costs", opportunity)
    entry = time_expenses.find_time(opportunity, entry_id)
    if entry is None:
        abort(404)
    time_expenses.remove_entry(opportunity, entry, by=me())
    db.session.commit()
    return _respond(opportunity_id)


@bp.post("/<int:opportunity_id>/costs/expenses/<int:entry_id>/delete")
def remove_expense(opportunity_id: int, entry_id: int) -> str | Response:
    opportunity = _load(opportunity_id)
    require("opportunity.costs", opportunity)
    entry = time_expenses.find_expense(opportunity, entry_id)
    if entry is None:
        abort(404)
    time_expenses.remove_entry(opportunity, entry, by=me())
    db.session.commit()
    return _respond(opportunity_id)
