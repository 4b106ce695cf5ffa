"""The home page: the member's day at a glance."""

from __future__ import annotations

from flask import Blueprint, g, render_template
from flask_login import current_user

from crmlite.services import activities, funnel
from crmlite.services.team import local_today

bp = Blueprint("main", __name__)


@bp.get("/")
def home() -> str:
    today = local_today(g.tz)
    return render_template(
        "main/home.html",
        today=today,
        stages=funnel.stage_summary(),
        my_stages=funnel.stage_summary(account_manager_id=current_user.id),
        stalled=funnel.stalled_count(today, account_manager_id=current_user.id),
        team_stalled=funnel.stalled_count(today),
        upcoming=activities.upcoming_for(current_user.id),
        overdue=activities.overdue_count(current_user.id, today),
    )
