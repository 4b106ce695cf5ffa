"""Points: the team's leaderboard for a month, each member's summary by activity type, the
activities behind every figure, printouts (one member, or every member on their own page),
CSV exports and a PDF. Every figure comes from ``crmlite.services.points``.

Who sees what: everyone sees the leaderboard (points, quota, %, pace) and its CSV — the team
competes in the open. A member's summary, its activities, print, CSV and PDF: the member
themselves, managers and admins. "Print all members": managers and admins.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, render_template, request, url_for
from sqlalchemy import select
from werkzeug.security import safe_join
from werkzeug.wrappers import Response

from crmlite.extensions import db
from crmlite.models import ActivityType, Member, Paper
from crmlite.services import points
from crmlite.services.parsing import parse_id
from crmlite.services.periods import BadMonth, Month
from crmlite.services.team import get_team, local_today
from crmlite.web import get_or_404, may, offset_arg, require

bp = Blueprint("points", __name__, url_prefix="/points")

OPEN_SHOWN = 25  # open activities listed under a member's current month
BEHIND_PAGE = 200  # activities per page behind a figure


# -- helpers ---------------------------------------------------------------------------------


def _today() -> date:
    return local_today(g.tz)


def _month() -> Month:
    """The month asked for (``?month=YYYY-MM``), this month when none; BadMonth otherwise."""
    text = request.args.get("month", "").strip()
    return Month.parse(text) if text else Month.of(_today())


@bp.errorhandler(BadMonth)
def bad_month(error: BadMonth) -> tuple[str, int]:
    """A month that cannot be read: say so, and offer the picker again."""
    return render_template(
        "points/bad_month.html", message=str(error), month=Month.of(_today())
    ), 400


def _viewable(member_id: int) -> Member:
    """The member, if the signed-in member may see their points (``points.read``:
    themselves, or anyone for managers and admins)."""
    member = get_or_404(Member, member_id)
    require("points.read", member)
    return member


def _summary(member: Member, month: Month) -> points.MemberMonth:
    return points.member_month(member, month, tz=g.tz, team=get_team(), today=_today())


def _links(month: Month, endpoint: str, **values: Any) -> dict[str, str | None]:
    """Month picker links: previous, next, this month."""
    previous, following = month.previous(), month.next()
    return {
        "previous": url_for(endpoint, month=previous.key, **values) if previous else None,
        "next": url_for(endpoint, month=following.key, **values) if following else None,
        "current": url_for(endpoint, **values),
    }


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "member"


def _csv(rows: list[list[Any]], file_name: str) -> Response:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return Response(
        buffer.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{file_name}"'},
    )


def _sheet_context(month: Month) -> dict[str, Any]:
    """What a sheet's header shows. A closed month's sheet shows when it was frozen, not
    the time of printing, so printing it again gives the same page; its freezing (on the
    first read after the month closed) is kept."""
    frozen = points.frozen_at(month, _today())
    db.session.commit()
    return {
        "month": month,
        "this_month": Month.of(_today()),
        "team": get_team(),
        "generated_at": frozen or datetime.now(UTC),
        "frozen": frozen is not None,
    }


# -- the team --------------------------------------------------------------------------------


@bp.get("/")
def index() -> str:
    """The month's leaderboard: points, quota, % attained and pace for every member."""
    month = _month()
    today = _today()
    standings = points.team_standings(month, tz=g.tz, team=get_team(), today=today)
    members = db.session.scalars(
        select(Member).where(Member.id.in_([s.member_id for s in standings]))
    )
    return render_template(
        "points/index.html",
        month=month,
        this_month=Month.of(today),
        standings=standings,
        team_row=points.team_row(standings),
        # Whose summaries the viewer may open (points.read).
        readable={m.id for m in members if may("points.read", m)},
        links=_links(month, "points.index"),
    )


@bp.get("/team.csv")
def team_csv() -> Response:
    month = _month()
    standings = points.team_standings(month, tz=g.tz, team=get_team(), today=_today())
    rows: list[list[Any]] = [
        [
            "Month",
            "Rank",
            "Member",
            "Points",
            "Quota",
            "% attained",
            "Expected by today",
            "Ahead (+) or behind (-)",
            "Pace",
        ]
    ]
    rows += [
        [
            month.key,
            s.rank,
            s.name,
            s.points,
            s.quota,
            s.attained,
            s.expected,
            s.ahead_by,
            s.pace.value,
        ]
        for s in standings
    ]
    team = points.team_row(standings)
    rows.append(
        [
            month.key,
            "",
            "Team",
            team.points,
            team.quota,
            team.attained,
            team.expected,
            team.ahead_by,
            team.pace.value,
        ]
    )
    return _csv(rows, f"points-team-{month.key}.csv")


@bp.get("/print")
def print_all() -> str:
    """Every member's summary, each on its own printed page (month end, for signing)."""
    month = _month()
    today = _today()
    context = _sheet_context(month)
    summaries = points.month_summaries(month, tz=g.tz, team=get_team(), today=today)
    standings = points.team_standings(month, tz=g.tz, team=get_team(), today=today)
    return render_template(
        "points/print.html",
        summaries=summaries,
        standings=standings,
        team_row=points.team_row(standings),
        **context,
    )


# -- a member --------------------------------------------------------------------------------


@bp.get("/members/<int:member_id>")
def member(member_id: int) -> str:
    """A member's month by activity type; this month also lists what is still open, with
    Done buttons, and the summary refreshes itself when one closes."""
    person = _viewable(member_id)
    month = _month()
    context = _sheet_context(month)
    today = _today()
    is_current = month == Month.of(today)
    open_rows, open_total = (
        points.open_to_close(person.id, month, limit=OPEN_SHOWN) if is_current else ([], 0)
    )
    return render_template(
        "points/member.html",
        member=person,
        summary=_summary(person, month),
        is_current=is_current,
        open_activities=open_rows,
        open_total=open_total,
        today=today,
        links=_links(month, "points.member", member_id=person.id),
        **context,
    )


@bp.get("/members/<int:member_id>/summary")
def member_summary(member_id: int) -> str:
    """The summary section alone (htmx refreshes it when an activity closes)."""
    person = _viewable(member_id)
    month = _month()
    context = _sheet_context(month)
    return render_template(
        "points/_summary.html",
        member=person,
        summary=_summary(person, month),
        **context,
    )


@bp.get("/members/<int:member_id>/print")
def member_print(member_id: int) -> str:
    person = _viewable(member_id)
    month = _month()
    context = _sheet_context(month)
    return render_template("points/print.html", summaries=[_summary(person, month)], **context)


@bp.get("/members/<int:member_id>/summary.csv")
def member_csv(member_id: int) -> Response:
    person = _viewable(member_id)
    month = _month()
    summary = _summary(person, month)
    header = [
        "Member",
        "Month",
        "Group",
        "Code",
        "Activity",
        "Count done",
        "Points each",
        "Points earned",
        "Recommended count",
        "Gap",
    ]
    rows: list[list[Any]] = [header]
    who = [person.name, month.key]
    for group in summary.groups:
        for line in group.lines:
            each = line.points_each.replace("–", "-")
            rows.append(
                [
                    *who,
                    group.label,
                    line.code,
                    line.name,
                    line.count,
                    each,
                    line.points,
                    line.recommended,
                    line.gap,
                ]
            )
        rows.append(
            [
                *who,
                group.label,
                "",
                "Subtotal",
                group.count,
                "",
                group.points,
                group.recommended,
                group.gap,
            ]
        )
    rows.append(
        [*who, "", "", "Total", summary.count, "", summary.points, summary.recommended, summary.gap]
    )
    rows.append([*who, "", "", "Quota", "", "", summary.quota, "", ""])
    rows.append([*who, "", "", "% attained", "", "", summary.attained, "", ""])
    return _csv(rows, f"points-{month.key}-{_slug(person.name)}.csv")


@bp.get("/members/<int:member_id>/summary.pdf")
def member_pdf(member_id: int) -> Response:
    """The print page as a PDF, rendered here by WeasyPrint with the print stylesheet."""
    person = _viewable(member_id)
    month = _month()
    context = _sheet_context(month)
    html = render_template("points/print.html", summaries=[_summary(person, month)], **context)
    return Response(
        _pdf(html),
        content_type="application/pdf",
        headers={
            "Content-Disposition": (
                f'attachment; filename="points-{month.key}-{_slug(person.name)}.pdf"'
            )
        },
    )


@bp.get("/members/<int:member_id>/activities")
def member_activities(member_id: int) -> str:
    """The closed activities behind a summary line (one type, or the whole month)."""
    person = _viewable(member_id)
    month = _month()
    type_id = parse_id(request.args.get("type_id"))
    activity_type = get_or_404(ActivityType, type_id) if type_id is not None else None
    offset = offset_arg()
    rows, total, earned = points.activities_behind(
        person.id, month, tz=g.tz, type_id=type_id, limit=BEHIND_PAGE, offset=offset
    )
    return render_template(
        "points/activities.html",
        member=person,
        month=month,
        activity_type=activity_type,
        activities=rows,
        total=total,
        earned=earned,
        offset=offset,
        page_size=BEHIND_PAGE,
    )


# -- PDF -------------------------------------------------------------------------------------


def _pdf(html: str) -> bytes:
    # Imported here: WeasyPrint loads Pango on import, which only PDF requests need.
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    # app.css also holds screen rules WeasyPrint does not know (media queries by width,
    # `revert`...); its warning about each on every download would only be log noise.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)

    static_folder = Path(current_app.static_folder or "static")
    static_path = (current_app.static_url_path or "/static").rstrip("/") + "/"

    class StaticOnly(URLFetcher):
        """Serve our own static files from disk; fetch nothing else (no network)."""

        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            path = urlsplit(url).path
            if not path.startswith(static_path):
                raise ValueError(f"not fetched: {url}")
            file = safe_join(str(static_folder), path[len(static_path) :])
            if file is None or not Path(file).is_file():
                raise ValueError(f"no such static file: {url}")
            kind = "text/css" if file.endswith(".css") else "application/octet-stream"
            return URLFetcherResponse(url, Path(file).read_bytes(), {"Content-Type": kind})

    document = HTML(string=html, base_url=request.url_root, url_fetcher=StaticOnly())
    # The team's paper (A4 or Letter); the margins are print.css's. PDF/UA-1: tagged (the
    # headings, tables and lists a screen reader walks), the language and the <title>
    # (member and month) shown as the document's title.
    paper = CSS(string=f"@page {{ size: {Paper(get_team().paper).value} portrait; }}")
    return document.write_pdf(stylesheets=[paper], pdf_variant="pdf/ua-1")
