"""/api/v1 read-only figures: a member's points month (services/points.py) and the
dashboard's quota attainment (services/dashboard.py), by the same rules as their pages."""

from __future__ import annotations

from typing import Any

from flask import g, request
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import Member
from crmlite.services import dashboard as dashboard_service
from crmlite.services import permissions, points
from crmlite.services.attainment import Attainment
from crmlite.services.periods import BadMonth, Month, quarter_of
from crmlite.services.quotas import FIRST_QUOTA_YEAR, LAST_QUOTA_YEAR
from crmlite.services.team import get_team, local_today
from crmlite.services.wins import Basis
from crmlite.web import BadQuery, me, whole_arg
from crmlite.web.api.base import amount, bp, choice_arg, fail, invalid, json_response


@bp.get("/members/<int:member_id>/points")
def member_points(member_id: int) -> Response:
    """A member's points for a month (``?month=YYYY-MM``, this month by default): by
    activity type, against their quota, with the pace. Their own, or anyone's for managers."""
    member = db.session.get(Member, member_id)
    if member is None:
        fail(404, "There is no member with that id.")
    permissions.require(me(), "points.read", member)
    today = local_today(g.tz)
    text = request.args.get("month", "").strip()
    try:
        month = Month.parse(text) if text else Month.of(today)
    except BadMonth as error:
        invalid({"month": [str(error)]})
    summary = points.member_month(member, month, tz=g.tz, team=get_team(), today=today)
    return json_response(
        {
            "member_id": summary.member_id,
            "member_name": summary.member_name,
            "month": month.key,
            "points": summary.points,
            "quota": summary.quota,
            "attained_percent": summary.attained,
            "expected_by_today": summary.expected,
            "pace": summary.pace.value,
            "activities": summary.count,
            "types": [
                {
                    "type_id": line.type_id,
                    "code": line.code,
                    "name": line.name,
                    "group": group.group.value,
                    "count": line.count,
                    "points": line.points,
                    "recommended": line.recommended,
                }
                for group in summary.groups
                for line in group.lines
            ],
        }
    )


def _attainment(figure: Attainment) -> dict[str, Any]:
    return {
        "total": amount(figure.total),
        "quota": amount(figure.quota),
        "percent": figure.percent,
    }


def _whole(name: str, label: str, minimum: int, maximum: int, default: int) -> int:
    """A whole number from the query string, parsed as the pages parse it; 422 if not one."""
    try:
        value = whole_arg(request.args, name, label, minimum, maximum)
    except BadQuery as error:
        invalid({name: [str(error)]})
    return default if value is None else value


@bp.get("/dashboard")
def dashboard() -> Response:
    """Quota attainment of a quarter (``year``, ``quarter``, ``basis`` revenue|margin; the
    current quarter on revenue by default): by member per month, the quarter and year to
    date. The whole team for managers; a rep gets their own row."""
    member = me()
    permissions.require(member, "dashboard.read")
    today = local_today(g.tz)
    year = _whole("year", "The year", FIRST_QUOTA_YEAR, LAST_QUOTA_YEAR, today.year)
    quarter = _whole("quarter", "The quarter", 1, 4, quarter_of(today))
    basis_text = choice_arg("basis", [b.value for b in Basis]) or Basis.REVENUE.value
    scope = None if permissions.allows(member, "dashboard.team") else member.id
    data = dashboard_service.dashboard(
        year, quarter, today, g.tz, Basis(basis_text), member_id=scope
    )
    by_member = data.by_member
    return json_response(
        {
            "year": year,
            "quarter": quarter,
            "basis": basis_text,
            "months": by_member.months,
            "members": [
                {
                    "member_id": row.member_id,
                    "name": row.name,
                    "months": [_attainment(m) for m in row.months],
                    "quarter": _attainment(row.quarter),
                    "year_to_date": [_attainment(m) for m in row.ytd],
                }
                for row in by_member.members
            ],
            "monthly_totals": [_attainment(m) for m in by_member.monthly_totals],
            "quarter_total": _attainment(by_member.quarter_total),
            "year_to_date_totals": [_attainment(m) for m in by_member.ytd_totals],
        }
    )
