"""Quota setup: each member's revenue (and optional margin) quota per month, set per year,
with "same every month" to fill a year at once; and each member's points quota month by
month (where each comes from, set or cleared one month at a time). Managers and admins only
(``quota.manage``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import Member
from crmlite.services import points, quotas
from crmlite.services.periods import MONTH_NAMES, Month
from crmlite.services.quotas import FIRST_QUOTA_YEAR, LAST_QUOTA_YEAR
from crmlite.services.team import get_team, local_today
from crmlite.web import BadQuery, get_or_404, is_htmx, whole_arg
from crmlite.web.quotas_forms import MonthlyQuotasForm, PointsMonthForm, SameEveryMonthForm

bp = Blueprint("quotas", __name__, url_prefix="/quotas")


def _year_from_args() -> tuple[int, str | None]:
    """The year asked for (``?year=``), this year when none; a bad one is reported."""
    this_year = local_today(g.tz).year
    try:
        year = whole_arg(request.args, "year", "The year", FIRST_QUOTA_YEAR, LAST_QUOTA_YEAR)
    except BadQuery as bad:
        return this_year, str(bad)
    return year or this_year, None


@bp.get("/")
def index() -> Any:
    year, error = _year_from_args()
    year_quotas = quotas.year_quotas(year)
    return render_template(
        "quotas/index.html",
        year=year,
        error=error,
        members=year_quotas,
        revenue_roll_up=quotas.roll_up(year_quotas),
        margin_roll_up=quotas.roll_up(year_quotas, margin=True),
        month_names=MONTH_NAMES,
    ), 400 if error else 200


def _member_and_year(member_id: int, year: int) -> Member:
    if not quotas.is_quota_year(year):
        abort(404)
    return get_or_404(Member, member_id)


def _fill(monthly: MonthlyQuotasForm, member: Member, year: int) -> None:
    current = quotas.member_year_quotas(member, year)
    for month, revenue, margin in monthly.months():
        revenue.data = current.revenue(month)
        margin.data = current.margin(month)


def _render_edit(
    member: Member, year: int, monthly: MonthlyQuotasForm, same: SameEveryMonthForm
) -> str:
    return render_template("quotas/edit.html", member=member, year=year, monthly=monthly, same=same)


@bp.route("/<int:year>/members/<int:member_id>", methods=["GET", "POST"])
def edit(year: int, member_id: int) -> str | Response:
    member = _member_and_year(member_id, year)
    monthly = MonthlyQuotasForm(prefix="month")
    same = SameEveryMonthForm(prefix="same")
    if request.method == "GET":
        _fill(monthly, member, year)
        return _render_edit(member, year, monthly, same)
    if not monthly.validate_on_submit():
        return _render_edit(member, year, monthly, same)
    quotas.set_year_quotas(
        member,
        year,
        {month: revenue.data for month, revenue, _ in monthly.months()},
        {month: margin.data for month, _, margin in monthly.months()},
        by=current_user,
    )
    db.session.commit()
    flash(f"{member.name}'s quotas for {year} saved.", "success")
    return redirect(url_for("quotas.index", year=year))


@bp.post("/<int:year>/members/<int:member_id>/same")
def same_every_month(year: int, member_id: int) -> str | Response:
    """ "Same every month": the year's twelve months get one revenue (and margin) quota."""
    member = _member_and_year(member_id, year)
    same = SameEveryMonthForm(prefix="same")
    valid = same.validate_on_submit()
    if valid and same.revenue.data is None and same.margin.data is None:
        same.revenue.errors = ["Enter the monthly revenue quota."]
        valid = False
    if not valid:
        monthly = MonthlyQuotasForm(prefix="month", formdata=None)
        _fill(monthly, member, year)
        return _render_edit(member, year, monthly, same)
    quotas.same_every_month(member, year, same.revenue.data, same.margin.data, by=current_user)
    db.session.commit()
    flash(f"{member.name}'s quotas for {year}: the same every month.", "success")
    return redirect(url_for("quotas.edit", year=year, member_id=member.id))


# -- points quotas, month by month ------------------------------------------------------------


def _points_form(month: int, **kwargs: Any) -> PointsMonthForm:
    return PointsMonthForm(prefix=f"points-{month}", **kwargs)


def _points_page(member: Member, year: int, forms: dict[int, PointsMonthForm]) -> str:
    months = points.year_quotas(member, year, team=get_team(), today=local_today(g.tz))
    return render_template(
        "quotas/points.html",
        member=member,
        year=year,
        months=months,
        forms={
            mq.month.month: forms.get(mq.month.month) or _points_form(mq.month.month, formdata=None)
            for mq in months
        },
    )


@bp.get("/<int:year>/members/<int:member_id>/points")
def points_quotas(year: int, member_id: int) -> str:
    """The member's points quota for each month of the year and where it comes from."""
    return _points_page(_member_and_year(member_id, year), year, {})


@bp.post("/<int:year>/members/<int:member_id>/points/<int:month>")
def points_month(year: int, member_id: int, month: int) -> str | Response:
    """Set (or, with "clear", clear) one month's points quota; htmx gets the month's row."""
    member = _member_and_year(member_id, year)
    if month not in quotas.MONTHS:
        abort(404)
    form = _points_form(month)
    clear = "clear" in request.form
    valid = form.validate_on_submit()
    if valid and not clear and form.quota.data is None:
        form.quota.errors = ["Enter the quota for the month, or clear it."]
        valid = False
    if valid:
        try:
            points.set_month_quota(
                member,
                Month(year, month),
                None if clear else form.quota.data,
                team=get_team(),
                today=local_today(g.tz),
                by=current_user,
            )
        except points.MonthQuotaRefused as refused:
            form.quota.errors = [str(refused)]
            valid = False
    if valid:
        db.session.commit()
        form = _points_form(month, formdata=None)
        if not is_htmx():
            flash(f"{member.name}'s points quota for {Month(year, month).label} saved.", "success")
            return redirect(url_for("quotas.points_quotas", year=year, member_id=member.id))
    if not is_htmx():
        return _points_page(member, year, {month: form})
    row = points.month_quota(member, Month(year, month), team=get_team(), today=local_today(g.tz))
    return render_template(
        "quotas/_points_month.html", member=member, year=year, mq=row, form=form, saved=valid
    )
