"""The sales dashboard: quota attainment by member, location and business unit, the
forecast against what is left to close, funnel health and hygiene; and the lists of deals
behind each figure.

Who sees what: managers and admins see the whole team; a rep sees only their own rows
(their attainment, forecast, funnel and hygiene; no location summary, which is the
team's) and only their own deals behind a figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, g, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import BusinessUnit, Location, Member
from crmlite.services import attainment, deal_lists, exports
from crmlite.services import dashboard as service
from crmlite.services.forecast import MemberForecast
from crmlite.services.funnel_health import Period, funnel_health, period_bounds, period_months
from crmlite.services.hygiene import HYGIENE_KINDS
from crmlite.services.money import format_amount, format_percent
from crmlite.services.parsing import parse_id
from crmlite.services.periods import Month, month_name, quarter_months, quarter_of
from crmlite.services.quotas import FIRST_QUOTA_YEAR, LAST_QUOTA_YEAR, NO_LOCATION, NO_UNIT
from crmlite.services.team import local_today
from crmlite.services.wins import NO_MANAGER, Basis
from crmlite.web import BadQuery, exporting, is_htmx, may, whole_arg
from crmlite.web.filters import datetime_label

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

NONE = "none"  # in a URL: "no account manager / location / business unit set"


@dataclass(frozen=True)
class Choice:
    """What the person picked: year, quarter, basis and the funnel's period."""

    year: int
    quarter: int
    basis: Basis = Basis.REVENUE
    period: Period = Period.QUARTER

    def query_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"year": self.year, "quarter": self.quarter}
        if self.basis is not Basis.REVENUE:
            args["basis"] = self.basis.value
        if self.period is not Period.QUARTER:
            args["period"] = self.period.value
        return args


def _enum(args: MultiDict[str, str], name: str, kind: type[Any], message: str) -> Any:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return kind(raw)
    except ValueError:
        raise BadQuery(message) from None


def choice_from(args: MultiDict[str, str], today: date) -> tuple[Choice, list[str]]:
    """The choice in the query string; what is missing is the current quarter on the
    revenue basis. Bad parts are reported and replaced by their defaults."""
    errors = []
    values: dict[str, Any] = {}
    readers = {
        "year": lambda: whole_arg(args, "year", "The year", FIRST_QUOTA_YEAR, LAST_QUOTA_YEAR),
        "quarter": lambda: whole_arg(args, "quarter", "The quarter", 1, 4),
        "basis": lambda: _enum(args, "basis", Basis, "The basis is either revenue or margin."),
        "period": lambda: _enum(
            args, "period", Period, "The funnel's period is either the quarter or the year."
        ),
    }
    for name, read in readers.items():
        try:
            values[name] = read()
        except BadQuery as bad:
            values[name] = None
            errors.append(str(bad))
    return (
        Choice(
            year=values["year"] or today.year,
            quarter=values["quarter"] or quarter_of(today),
            basis=values["basis"] or Basis.REVENUE,
            period=values["period"] or Period.QUARTER,
        ),
        errors,
    )


def _scope() -> int | None:
    """Whose figures: everyone's for managers and admins, their own for a rep."""
    return None if may("dashboard.team") else current_user.id


class FigureLinks:
    """URLs of the deals behind the figures, built from one url_for per response.

    A member, location or business unit of None leaves it unfiltered; 0 asks for the deals
    with none set (e.g. the row of wins without an account manager)."""

    def __init__(self, choice: Choice) -> None:
        self.choice = choice
        self._won = url_for("dashboard.won")
        self._open = url_for("dashboard.open_deals", kind="KIND")

    @staticmethod
    def _query(**params: int | str | None) -> str:
        # Ids, numbers and fixed words only: nothing to escape, and hundreds of links a
        # page are built faster than with urlencode.
        return "&".join(
            f"{name}={NONE if value == 0 else value}"
            for name, value in params.items()
            if value is not None
        )

    def _basis(self) -> str | None:
        return None if self.choice.basis is Basis.REVENUE else self.choice.basis.value

    def won(
        self,
        *,
        member: int | None = None,
        month: int | None = None,
        ytd: bool = False,
        location: int | None = None,
        unit: int | None = None,
        whole_year: bool = False,
    ) -> str:
        query = self._query(
            year=self.choice.year,
            quarter=None if month or whole_year else self.choice.quarter,
            month=month,
            ytd=1 if ytd else None,
            member_id=member,
            location_id=location,
            business_unit_id=unit,
            basis=self._basis(),
        )
        return f"{self._won}?{query}"

    def pipeline(self, year: int, month: int, member: int | None = None) -> str:
        query = self._query(year=year, month=month, member_id=member, basis=self._basis())
        return f"{self._open.replace('KIND', 'pipeline')}?{query}"

    def hygiene(self, kind: str, member: int | None) -> str:
        return f"{self._open.replace('KIND', kind)}?{self._query(member_id=member)}"

    @staticmethod
    def stalled(member: int | None) -> str:
        """The board, narrowed to the member's stalled opportunities."""
        if not member:
            return url_for("opportunities.stalled")
        return url_for("board.index", account_manager_id=member, stalled_only=1)


def amount(value: Decimal | None) -> str:
    """A dashboard figure: whole currency units (half up), thousands separated."""
    return format_amount(value, places=0)


def attainment_cells(att: attainment.Attainment, url: str, cell_id: str) -> Markup:
    """Total (linked to the won deals behind it), Quota and % of one attainment, three
    cells. The page has hundreds: written here, a third of the time a template macro
    takes."""
    cell = escape(cell_id)
    state = " on-quota" if att.on_quota else " below-quota" if att.percent is not None else ""
    return Markup(
        f'<td class="num figure-total" id="{cell}-total"><a href="{escape(url)}">'
        f"{escape(amount(att.total))}</a></td>"
        f'<td class="num figure-quota" id="{cell}-quota">{escape(amount(att.quota))}</td>'
        f'<td class="num figure-percent{state}" id="{cell}-percent">'
        f"{escape(format_percent(att.percent))}</td>"
    )


def member_rows(m: attainment.MemberQuarter, months: list[int], links: FigureLinks) -> Markup:
    """A member's two rows of the quarterly summary: the months and the quarter, then the
    year to date at each month's end (fifty members: 700 figures, written here)."""
    key = "none" if m.member_id is None else str(m.member_id)
    member = m.member_id or 0
    cells = [
        attainment_cells(m.months[i], links.won(member=member, month=month), f"m{key}-{month}")
        for i, month in enumerate(months)
    ]
    quarter = "".join([*cells, attainment_cells(m.quarter, links.won(member=member), f"m{key}-q")])
    ytd = "".join(
        attainment_cells(
            m.ytd[i], links.won(member=member, month=month, ytd=True), f"m{key}-ytd-{month}"
        )
        for i, month in enumerate(months)
    )
    return Markup(
        f'<tbody class="member-rows" id="member-{key}"><tr><th scope="row">{escape(m.name)}'
        f'</th>{quarter}</tr><tr class="ytd-row"><th scope="row" class="ytd-label">YTD</th>'
        f'{ytd}<td colspan="3"></td></tr></tbody>'
    )


def forecast_row(r: MemberForecast, links: FigureLinks) -> Markup:
    """A member's row of the forecast: pipeline and weighted per month, then the three
    months' weighted, quota left and what the weighted pipeline leaves uncovered."""
    member = r.member_id or 0
    months = "".join(
        f'<td class="num"><a href="{escape(links.pipeline(fm.year, fm.month, member))}">'
        f'{escape(amount(fm.pipeline))}</a></td><td class="num">{escape(amount(fm.weighted))}</td>'
        for fm in r.months
    )
    below = " below-quota" if r.shortfall else ""
    return Markup(
        f'<tr id="forecast-{"none" if r.member_id is None else r.member_id}">'
        f'<th scope="row">{escape(r.name)}</th>{months}'
        f'<td class="num">{escape(amount(r.weighted))}</td>'
        f'<td class="num">{escape(amount(r.gap))}</td>'
        f'<td class="num{below}">{escape(amount(r.shortfall))}</td></tr>'
    )


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {
        "month_name": month_name,
        "amount": amount,
        "attainment_cells": attainment_cells,
        "member_rows": member_rows,
        "forecast_row": forecast_row,
    }


@bp.get("/")
def index() -> Any:
    """The dashboard; with htmx (the switch), just its figures, and the URL follows."""
    today = local_today(g.tz)
    choice, errors = choice_from(request.args, today)
    context: dict[str, Any] = {
        "choice": choice,
        "errors": errors,
        "today": today,
        "whole_team": may("dashboard.team"),
        "links": FigureLinks(choice),
    }
    if not errors:
        context["data"] = service.dashboard(
            choice.year,
            choice.quarter,
            today,
            g.tz,
            choice.basis,
            member_id=_scope(),
            places_over_year=choice.period is Period.YEAR,
        )
    if is_htmx() and request.headers.get("HX-Target") == "dashboard":
        # htmx 2 swaps only 2xx answers: bad input is shown in place with a 200.
        url = url_for("dashboard.index", **(request.args if errors else choice.query_args()))
        return render_template("dashboard/_dashboard.html", **context), {"HX-Push-Url": url}
    return render_template("dashboard/page.html", **context), 400 if errors else 200


def css_string(text: str) -> str:
    """Text as a CSS string literal: backslashes and quotes escaped, line ends as spaces."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + " ".join(escaped.split()) + '"'


@bp.get("/print.css")
def print_css() -> Response:
    """The printed dashboard's running header and footer: title, period and basis, when it
    was generated, page n of N, on every page. CSS paged media's margin boxes hold only
    literal text and page counters in Chromium (no ``string()``), and the CSP allows no
    inline style: the dashboard links this sheet with its choice, and the text is written
    here."""
    today = local_today(g.tz)
    choice, errors = choice_from(request.args, today)
    if errors:
        # The dashboard links only a good choice; what was typed is not echoed into CSS.
        return Response("/* not a year, quarter, basis or period */", 400, mimetype="text/css")
    period = f"Q{choice.quarter} {choice.year}"
    if choice.period is Period.YEAR:
        period += f" (funnel and locations: {choice.year})"
    title = f"{g.team_name} · Sales dashboard · {period} · {choice.basis.value.title()}"
    generated = f"Generated {datetime_label(datetime.now(UTC))} ({g.tz.key})"
    css = render_template(
        "dashboard/print_header.css", title=css_string(title), generated=css_string(generated)
    )
    # Written at each print: never from a cache, or the time would be an old one.
    return Response(css, mimetype="text/css", headers={"Cache-Control": "no-store"})


@bp.get("/export/<table>.<fmt>")
def export(table: str, fmt: str) -> Response:
    """A summary table of the dashboard with the chosen year, quarter and basis, as CSV or
    XLSX: "members" (a rep: their own row only, as on the page), "forecast" and "hygiene"
    (a rep: their own), or "locations" (the team's: managers and admins, as on the page:
    over the quarter, or the year with period=year)."""
    if table not in ("members", "forecast", "hygiene", "locations"):
        abort(404)
    today = local_today(g.tz)
    choice, errors = choice_from(request.args, today)
    if errors:
        return Response(" ".join(errors), status=400, mimetype="text/plain")
    data = service.dashboard(
        choice.year,
        choice.quarter,
        today,
        g.tz,
        choice.basis,
        member_id=_scope(),
        places_over_year=choice.period is Period.YEAR,
    )
    if table == "members":
        return exporting.send(exports.dashboard_members(data.by_member), fmt)
    if table == "forecast":
        return exporting.send(exports.dashboard_forecast(data.forecast), fmt)
    if table == "hygiene":
        return exporting.send(exports.dashboard_hygiene(data.hygiene, today), fmt)
    if data.by_location is None:
        abort(403)
    return exporting.send(exports.dashboard_locations(data.by_location), fmt)


@bp.get("/places")
def places() -> Any:
    """The summary by location and business unit on a page of its own, to print on one
    sheet: the quarter, or the year with period=year (the team's: managers and admins)."""
    today = local_today(g.tz)
    choice, errors = choice_from(request.args, today)
    context: dict[str, Any] = {"choice": choice, "errors": errors, "print_view": True}
    if not errors:
        context["links"] = FigureLinks(choice)
        context["bl"] = attainment.summary_by_place(
            choice.year,
            None if choice.period is Period.YEAR else choice.quarter,
            g.tz,
            choice.basis,
        )
    return render_template("dashboard/places.html", **context), 400 if errors else 200


@bp.get("/funnel")
def funnel() -> Any:
    """Funnel health over the chosen period: the dashboard loads it in place (htmx);
    without htmx it is a page of its own."""
    today = local_today(g.tz)
    choice, errors = choice_from(request.args, today)
    context: dict[str, Any] = {
        "choice": choice,
        "errors": errors,
        "today": today,
        "whole_team": may("dashboard.team"),
    }
    if not errors:
        start, end = period_bounds(choice.year, choice.quarter, choice.period, g.tz)
        first_month, last_month = period_months(choice.quarter, choice.period)
        context.update(
            funnel=funnel_health(start, end, choice.basis, member_id=_scope()),
            first_day=date(choice.year, first_month, 1),
            last_day=Month(choice.year, last_month).last_day,
        )
    if is_htmx():
        if errors:
            return render_template("dashboard/_funnel_errors.html", **context)
        return render_template("dashboard/_funnel.html", **context)
    return render_template("dashboard/funnel.html", **context), 400 if errors else 200


# ------------------------------------------------------------------ the deals behind a figure


def _id_arg(args: MultiDict[str, str], name: str, label: str) -> int | None:
    """An id from the query string: None when absent, 0 for "none"."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if raw == NONE:
        return 0
    ident = parse_id(raw)
    if ident is None:
        raise BadQuery(f"{label} must be an id or “{NONE}”, not “{raw[:20]}”.")
    return ident


def _member_scope(requested: int | None) -> tuple[int | None, Member | None]:
    """Whose deals: a rep sees only theirs; an unknown member is a 404."""
    member = None
    if requested:
        member = db.session.get(Member, requested)
        if member is None:
            abort(404)
    if may("dashboard.team"):
        return requested, member
    if requested is not None and requested != current_user.id:
        abort(403)
    return current_user.id, current_user


def _bad_input(message: str, title: str) -> tuple[str, int]:
    return render_template("dashboard/deals.html", title=title, errors=[message]), 400


def _export_format(fmt: str | None) -> int | None:
    """The deals lists as a page (the first ``LIST_LIMIT``) or, at ``….csv`` / ``….xlsx``,
    as an export of all of them: the limit to ask for."""
    if fmt is None:
        return deal_lists.PAGE
    if fmt not in exporting.FORMATS:
        abort(404)
    return None


@bp.get("/won")
@bp.get("/won.<fmt>")
def won(fmt: str | None = None) -> Any:
    """The won opportunities behind a figure of the summaries (or all of them, exported)."""
    limit = _export_format(fmt)
    args = request.args
    today = local_today(g.tz)
    try:
        year = whole_arg(args, "year", "The year", FIRST_QUOTA_YEAR, LAST_QUOTA_YEAR) or today.year
        month = whole_arg(args, "month", "The month", 1, 12)
        quarter = whole_arg(args, "quarter", "The quarter", 1, 4)
        basis = _enum(args, "basis", Basis, "The basis is either revenue or margin.")
        member_id = _id_arg(args, "member_id", "The member")
        location_id = _id_arg(args, "location_id", "The location")
        unit_id = _id_arg(args, "business_unit_id", "The business unit")
    except BadQuery as bad:
        return _bad_input(str(bad), "Won opportunities")
    basis = basis or Basis.REVENUE
    member_id, member = _member_scope(member_id)
    location = db.session.get(Location, location_id) if location_id else None
    unit = db.session.get(BusinessUnit, unit_id) if unit_id else None
    if (location_id and location is None) or (unit_id and unit is None):
        abort(404)

    if month and args.get("ytd"):
        first, last = 1, month
        when = f"January to {month_name(month)} {year}"
    elif month:
        first = last = month
        when = f"{month_name(month)} {year}"
    elif quarter:
        first, *_, last = quarter_months(quarter)
        when = f"Q{quarter} {year} ({month_name(first, True)}–{month_name(last, True)})"
    else:
        first, last = 1, 12
        when = str(year)
    deals = deal_lists.won_deals(
        year,
        first,
        last,
        g.tz,
        basis,
        member_id=member_id,
        location_id=location_id,
        business_unit_id=unit_id,
        limit=limit,
    )
    if fmt is not None:
        return exporting.send(exports.deal_rows(f"won-{year}", deals, "won"), fmt)
    who = []
    if member_id is not None:
        who.append(member.name if member else NO_MANAGER)
    if location_id is not None:
        who.append(location.name if location else NO_LOCATION)
    if unit_id is not None:
        who.append(unit.name if unit else NO_UNIT)
    back = url_for(
        "dashboard.index",
        **Choice(year, quarter or quarter_of(date(year, first, 1)), basis).query_args(),
    )
    return render_template(
        "dashboard/deals.html",
        title="Won opportunities",
        subtitle=" · ".join([f"Won {when}", *who]),
        basis=basis,
        deals=deals,
        kind="won",
        back=back,
        errors=[],
    )


@bp.get("/open/<kind>")
@bp.get("/open/<kind>.<fmt>")
def open_deals(kind: str, fmt: str | None = None) -> Any:
    """Open opportunities behind a forecast or hygiene figure: expected to close in a month
    ("pipeline"), past their expected close date, or without revenue (or all of them,
    exported)."""
    titles = {"pipeline": "Open pipeline", **HYGIENE_KINDS}
    if kind not in titles:
        abort(404)
    limit = _export_format(fmt)
    args = request.args
    today = local_today(g.tz)
    try:
        member_id = _id_arg(args, "member_id", "The member")
        basis = _enum(args, "basis", Basis, "The basis is either revenue or margin.")
        year = month = None
        if kind == "pipeline":
            year = (
                whole_arg(args, "year", "The year", FIRST_QUOTA_YEAR, LAST_QUOTA_YEAR) or today.year
            )
            month = whole_arg(args, "month", "The month", 1, 12) or today.month
    except BadQuery as bad:
        return _bad_input(str(bad), titles[kind])
    basis = basis or Basis.REVENUE
    member_id, member = _member_scope(member_id)
    if kind == "pipeline":
        assert year is not None and month is not None
        deals = deal_lists.pipeline_deals(year, month, basis, member_id=member_id, limit=limit)
        when = f"Expected to close in {month_name(month)} {year}"
    else:
        deals = deal_lists.hygiene_deals(kind, today, member_id=member_id, limit=limit)
        when = f"Open, as of {today:%a %Y-%m-%d}"
    if fmt is not None:
        return exporting.send(exports.deal_rows(f"deals-{kind}", deals, kind), fmt)
    who = [] if member_id is None else [member.name if member else NO_MANAGER]
    return render_template(
        "dashboard/deals.html",
        title=titles[kind],
        subtitle=" · ".join([when, *who]),
        basis=basis,
        deals=deals,
        kind=kind,
        back=url_for("dashboard.index"),
        errors=[],
    )
