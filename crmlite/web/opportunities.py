"""Opportunity pages: every field editable in place, forecast lines, team, notes, history."""

from __future__ import annotations

from flask import Blueprint, render_template

from crmlite.models import Opportunity
from crmlite.web import get_or_404

bp = Blueprint("opportunities", __name__, url_prefix="/opportunities")


@bp.get("/<int:opportunity_id>")
def detail(opportunity_id: int) -> str:
    opportunity = get_or_404(Opportunity, opportunity_id)
    return render_template(
        "placeholder.html",
        title=opportunity.name,
        coming="the opportunity page with every field editable in place.",
    )
