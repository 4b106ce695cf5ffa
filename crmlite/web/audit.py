"""The audit log page (admins): newest first, a page at a time, filtered by kind, member,
days (the team's) and words of the summary, the filters kept in the URL."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template, request

from crmlite.models import AuditKind
from crmlite.services import audit
from crmlite.services.audit import AuditFilters, BadFilter
from crmlite.services.pagination import page_number
from crmlite.web import is_htmx

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.get("/")
def index() -> Any:
    """The log; an htmx filter change asks for the entries alone. A filter that cannot be
    read is a 400 that says why, with the filter form to fix it (to htmx, which swaps no
    4xx, the message in place of the entries, with a 200)."""
    error = None
    try:
        filters = audit.read_filters(
            kind=request.args.get("kind"),
            member_id=request.args.get("member_id"),
            first_day=request.args.get("from"),
            last_day=request.args.get("to"),
            text=request.args.get("q"),
        )
    except BadFilter as bad:
        filters, error = AuditFilters(), str(bad)
    page = (
        audit.entries(filters, g.tz, page_number(request.args.get("page"))) if not error else None
    )
    results_only = is_htmx() and request.headers.get("HX-History-Restore-Request") != "true"
    context = {"filters": filters, "page": page, "error": error}
    if results_only:
        html = render_template("audit/_entries.html", **context)
    else:
        html = render_template(
            "audit/index.html",
            **context,
            kinds=list(AuditKind),
            members=audit.member_choices(),
            typed=request.args,
        )
    return html, 400 if error and not results_only else 200
